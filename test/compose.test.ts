// docker-compose.yml cannot run here (no image can be pulled: docs/container-engine.md), so it is checked as data:
// every reference resolves, images are pinned to the versions the tests run on, config files parse and name each
// other consistently, and the worker image's steps run outside Docker. test/production-stack.test.ts runs its
// Temporal-on-PostgreSQL topology for real.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import Long from 'long';
import { parse } from 'yaml';
import { codecServerCommands } from '../src/cli/codec-server-command';
import { freePort } from '../src/devserver';
import { AGENT_SEARCH_ATTRIBUTES, AgentPendingApprovalsKey, AgentStatusKey } from '../src/search-attributes';
import { EncryptionCodec, generateEncryptionKey, staticKeyProvider } from '../src/security/encryption';

const ROOT = path.join(__dirname, '..');
const compose = parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
interface Service {
  image?: string;
  profiles?: string[];
  build?: { context: string; dockerfile?: string };
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  entrypoint?: string[];
  command?: string[];
  restart?: string;
}
const services = compose.services;

// Skipped (and reported as skipped) only when the client demonstrably has no compose: docker is not installed, or it
// does not know the command. A compose that is there but fails its probe is a failure, not a reason to skip.
const composeProbe = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
const composeMissing =
  (composeProbe.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ||
  (composeProbe.status !== 0 && /unknown command|is not a docker command/.test(composeProbe.stderr ?? ''));

(composeMissing ? test.skip : test)('docker compose config accepts the file, where the client has compose', () => {
  // The probe's stderr is in the diff when it failed for another reason.
  expect([composeProbe.status, composeProbe.stderr]).toEqual([0, expect.any(String)]);
  const config = spawnSync('docker', ['compose', '-f', path.join(ROOT, 'docker-compose.yml'), 'config', '-q'], {
    encoding: 'utf8',
    env: { ...process.env, ANTHROPIC_API_KEY: 'sk-ant-placeholder' },
  });
  expect(config.stderr).toBe('');
  expect(config.status).toBe(0);
});

test('the stack: PostgreSQL, the Temporal server, the Web UI, schema and namespace setup, NATS for live output, MinIO for large payloads, the worker, its collector, trace viewer and Prometheus, and (opt in) the codec server', () => {
  expect(Object.keys(services).sort()).toEqual([
    'codec-server', 'jaeger', 'minio', 'minio-setup', 'nats', 'otel-collector', 'postgresql', 'prometheus', 'temporal', 'temporal-schema', 'temporal-setup', 'temporal-ui', 'worker',
  ]);
  expect(services.postgresql!.image).toMatch(/^postgres:\d+(\.\d+)?$/);
  expect(services.temporal!.image).toBe('temporalio/server:1.29.1');
  expect(services['temporal-schema']!.image).toBe('temporalio/admin-tools:1.29.1-tctl-1.18.4-cli-1.5.0');
  expect(services['temporal-setup']!.image).toBe('temporalio/admin-tools:1.29.1-tctl-1.18.4-cli-1.5.0');
  expect(services['temporal-ui']!.image).toBe('temporalio/ui:2.42.1');
});

test('images are pinned: no latest, no missing tags', () => {
  for (const [name, service] of Object.entries(services)) {
    if (service.build) continue;
    // A version number (Prometheus writes v3.13.1), or MinIO's dated release names (RELEASE.2025-09-07T16-13-09Z).
    expect([name, service.image]).toEqual([name, expect.stringMatching(/^[\w./-]+:(v?\d[\w.-]*|RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ)$/)]);
  }
});

test('start order: every depends_on names a service, with a condition that service can meet', () => {
  for (const [name, service] of Object.entries(services)) {
    for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
      const target = services[dependency];
      expect([name, dependency, !!target]).toEqual([name, dependency, true]);
      if (condition === 'service_healthy') expect([dependency, !!target!.healthcheck]).toEqual([dependency, true]);
      else if (condition === 'service_completed_successfully') expect([dependency, target!.restart]).toEqual([dependency, expect.stringMatching(/^(no|on-failure(:\d+)?)$/)]);
      else expect(condition).toBe('service_started');
    }
  }
  // The worker starts only once the namespace and search attributes exist, and JetStream answers; its telemetry has
  // somewhere to go (the collector has no healthcheck: see the observability tests below).
  expect(services.worker!.depends_on).toEqual({
    'temporal-setup': { condition: 'service_completed_successfully' },
    nats: { condition: 'service_healthy' },
    'minio-setup': { condition: 'service_completed_successfully' },
    'otel-collector': { condition: 'service_started' },
  });
});

test('volumes: named volumes are declared, bind mounts exist in the repository', () => {
  const declared = Object.keys(compose.volumes ?? {});
  for (const service of Object.values(services)) {
    for (const volume of service.volumes ?? []) {
      const [source] = volume.split(':');
      if (source!.startsWith('.') || source!.startsWith('/')) expect([volume, fs.existsSync(path.join(ROOT, source!))]).toEqual([volume, true]);
      else expect(declared).toContain(source);
    }
  }
  // PostgreSQL and JetStream keep their data in named volumes, so nothing is lost on restart.
  expect(services.postgresql!.volumes).toEqual(['temporal-postgres-data:/var/lib/postgresql/data']);
  expect(services.nats!.volumes).toEqual(['nats-data:/data']);
  expect(services.minio!.volumes).toEqual(['minio-data:/data']);
});

/** A port mapping's parts: `[host-ip:]host-port:container-port`. */
function portMapping(mapping: string): { ip?: string; host: number; container: number } {
  const parts = mapping.split(':');
  const container = Number(parts.pop());
  const host = Number(parts.pop());
  return { ...(parts.length > 0 ? { ip: parts.join(':') } : {}), host, container };
}

test('ports are valid and not published twice', () => {
  const published = Object.values(services).flatMap((s) => s.ports ?? []).map((p) => portMapping(p).host);
  for (const port of published) expect(Number.isInteger(port) && port > 0 && port < 65536).toBe(true);
  expect(new Set(published).size).toBe(published.length);
  expect(published.sort((a, b) => a - b)).toEqual([4222, 4317, 4318, 7233, 8080, 8888, 9000, 9090, 16686]);
});

test('the worker gets its key from the environment and reaches Temporal by service name', () => {
  const env = services.worker!.environment!;
  expect(env.ANTHROPIC_API_KEY).toMatch(/^\$\{ANTHROPIC_API_KEY:\?/);
  expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
  expect(services['temporal-ui']!.environment!.TEMPORAL_ADDRESS).toBe('temporal:7233');
  expect(env.DURABLE_CLAUDE_EVENTS).toBe('nats://nats:4222');
  // Large payloads in MinIO, in the bucket the one-shot job creates, with MinIO's credentials.
  expect(env.DURABLE_CLAUDE_S3_ENDPOINT).toBe('http://minio:9000');
  expect(env.DURABLE_CLAUDE_S3_BUCKET).toBe(services['minio-setup']!.environment!.PAYLOAD_BUCKET);
  expect(env.AWS_ACCESS_KEY_ID).toBe(services.minio!.environment!.MINIO_ROOT_USER);
  expect(env.AWS_SECRET_ACCESS_KEY).toBe(services.minio!.environment!.MINIO_ROOT_PASSWORD);
  expect(fs.existsSync(path.join(ROOT, services.worker!.build!.context, services.worker!.build!.dockerfile ?? 'Dockerfile'))).toBe(true);
});

test('the setup job registers the search attributes conversations publish', () => {
  const script = fs.readFileSync(path.join(ROOT, 'deploy/temporal/setup-namespace.sh'), 'utf8');
  for (const key of AGENT_SEARCH_ATTRIBUTES) expect(script).toContain(key.name);
  expect(script).toContain('AgentStatus:Keyword');
  expect(script).toContain('AgentPendingApprovals:Int');
  expect(script).toContain('AgentCostUsd:Double');
});

test('the setup script, run against a real server: a new namespace gets every attribute, an older one the missing AgentCostUsd', async () => {
  // The script calls `temporal` as the admin-tools image has it: the test run's CLI under that name.
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'setup-namespace-'));
  fs.symlinkSync(process.env.TEMPORAL_TEST_CLI!, path.join(bin, 'temporal'));
  const address = process.env.TEMPORAL_TEST_ADDRESS!;
  const setUp = (namespace: string) =>
    spawnSync('sh', [path.join(ROOT, 'deploy/temporal/setup-namespace.sh')], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace },
    });
  const connection = await Connection.connect({ address });
  const { IndexedValueType } = temporal.api.enums.v1;
  const registered = async (namespace: string) => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    return Object.fromEntries(AGENT_SEARCH_ATTRIBUTES.map((key) => [key.name, customAttributes?.[key.name]]));
  };
  const all = { AgentStatus: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, AgentPendingApprovals: IndexedValueType.INDEXED_VALUE_TYPE_INT, AgentCostUsd: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE };
  try {
    const fresh = `setup-new-${randomUUID().slice(0, 8)}`;
    const first = setUp(fresh);
    expect([first.status, first.stderr]).toEqual([0, '']);
    expect(first.stdout).toContain(`namespace ${fresh} ready with AgentStatus, AgentPendingApprovals and AgentCostUsd`);
    expect(await registered(fresh)).toEqual(all);
    // Run again (every start of the stack): nothing to add, no error.
    expect(setUp(fresh).status).toBe(0);

    // A namespace set up before AgentCostUsd existed.
    const older = `setup-old-${randomUUID().slice(0, 8)}`;
    await connection.workflowService.registerNamespace({ namespace: older, workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(86_400) } });
    await connection.operatorService.addSearchAttributes({
      namespace: older,
      searchAttributes: { [AgentStatusKey.name]: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, [AgentPendingApprovalsKey.name]: IndexedValueType.INDEXED_VALUE_TYPE_INT },
    });
    const upgraded = setUp(older);
    expect([upgraded.status, upgraded.stderr]).toEqual([0, '']);
    expect(await registered(older)).toEqual(all);
  } finally {
    await connection.close();
    fs.rmSync(bin, { recursive: true, force: true });
  }
}, 120_000);

test('NATS runs with JetStream on a stored directory, its official image pinned, healthy once JetStream answers', () => {
  const nats = services.nats!;
  expect(nats.image).toMatch(/^nats:\d+\.\d+\.\d+-alpine[\d.]*$/);
  const command = nats.command ?? [];
  expect(command).toContain('-js');
  expect(command[command.indexOf('-sd') + 1]).toBe(nats.volumes![0]!.split(':')[1]);
  expect(nats.healthcheck!.test.join(' ')).toContain('/healthz?js-enabled-only=true');
  expect(command[command.indexOf('-m') + 1]).toBe('8222');
});

test("the Dockerfile's steps are the project's own: npm ci, npm run build, node lib/worker.js", () => {
  const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  expect(dockerfile).toMatch(/^RUN npm ci\b/m);
  expect(dockerfile).toMatch(/^RUN npm run build\b/m);
  expect(dockerfile).toMatch(/^CMD \["node", "lib\/worker\.js"\]$/m);
  const scripts = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  expect(scripts.build).toBeDefined();
  for (const copied of [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(' '))) {
    expect([copied, fs.existsSync(path.join(ROOT, copied))]).toEqual([copied, true]);
  }
});

test("the image's start command runs outside Docker: the worker connects, serves, and stops cleanly on SIGTERM", async () => {
  const worker = spawn(process.execPath, [path.join(ROOT, 'lib', 'worker.js')], {
    env: { ...process.env, TEMPORAL_ADDRESS: process.env.TEMPORAL_TEST_ADDRESS, TEMPORAL_NAMESPACE: 'default', ANTHROPIC_API_KEY: 'sk-ant-placeholder', DURABLE_CLAUDE_TASK_QUEUE: 'compose-smoke', DURABLE_CLAUDE_EVENTS: process.env.DURABLE_CLAUDE_TEST_EVENTS_URL },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  worker.stdout.on('data', (d: Buffer) => (output += d.toString()));
  worker.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
  for (let i = 0; i < 300 && !output.includes('durable-claude worker:'); i++) await new Promise((r) => setTimeout(r, 100));
  expect(output).toMatch(/durable-claude worker: .*namespace default, task queue compose-smoke, tools: get_weather, get_time, send_email/);
  worker.kill('SIGTERM');
  expect(await exited).toBe(0);
}, 60_000);

describe('payload encryption: the codec server and the Web UI', () => {
  const codec = services['codec-server']!;
  const command = codec.command ?? [];
  const flag = (name: string) => command[command.indexOf(name) + 1];
  const ui = services['temporal-ui']!;
  const uiOrigin = `http://localhost:${portMapping(ui.ports![0]!).host}`;
  const compose = fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');

  test("the codec server is the worker's image running `durable-claude codec-server`, opt in by profile", () => {
    expect(codec.build).toEqual(services.worker!.build);
    expect(codec.profiles).toEqual(['encryption']);
    expect(command.slice(0, 3)).toEqual(['node', 'lib/cli/main.js', 'codec-server']);
    // The built CLI is where the image has it (the Dockerfile copies lib/).
    expect(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).toContain('"durable-claude": "lib/cli/main.js"');
    // Every flag is one the command takes.
    expect(() => parseArgs({ args: command.slice(3), options: codecServerCommands['codec-server']!.options, strict: true })).not.toThrow();
    // Without keys it stops (exit 2) rather than restarting forever.
    expect(codec.restart).toMatch(/^on-failure:\d+$/);
    expect(codec.healthcheck!.test.join(' ')).toContain(`http://127.0.0.1:${flag('--port')}/health`);
  });

  test("worker and codec server share the keys; the browser reaches the codec server on the host's loopback, from the UI's origin only", () => {
    expect(services.worker!.environment!.DURABLE_CLAUDE_ENCRYPTION_KEYS).toBe('${DURABLE_CLAUDE_ENCRYPTION_KEYS:-}');
    expect(codec.environment!.DURABLE_CLAUDE_ENCRYPTION_KEYS).toBe(services.worker!.environment!.DURABLE_CLAUDE_ENCRYPTION_KEYS);
    // Listening on every interface of its container, published on the host's loopback only (it answers without auth).
    expect(flag('--host')).toBe('0.0.0.0');
    expect(codec.ports).toHaveLength(1);
    const published = portMapping(codec.ports![0]!);
    expect(published).toEqual({ ip: '127.0.0.1', host: 8888, container: Number(flag('--port')) });
    expect(command).toContain('--no-auth');
    // The only browser origin it allows is the UI's, as published and as the UI itself allows.
    expect(command.filter((arg) => arg === '--allow-origin')).toHaveLength(1);
    expect(flag('--allow-origin')).toBe(uiOrigin);
    expect(ui.environment!.TEMPORAL_CORS_ORIGINS).toBe(uiOrigin);
    // The UI's endpoint is set where encryption is turned on; the value the file documents is the published one.
    expect(ui.environment!.TEMPORAL_CODEC_ENDPOINT).toBe('${TEMPORAL_CODEC_ENDPOINT:-}');
    expect(compose).toContain(`TEMPORAL_CODEC_ENDPOINT=http://localhost:${published.host}`);
    expect(compose).toContain('COMPOSE_PROFILES=encryption');
  });

  test("the codec server's start command runs outside Docker: it decrypts what an encrypting worker wrote, for the UI's origin, and stops on SIGTERM", async () => {
    const key = generateEncryptionKey();
    const codecOfWorker = new EncryptionCodec(staticKeyProvider({ current: 'k1', keys: { k1: key } }));
    // The image's command, on this machine's loopback and a free port.
    const port = await freePort();
    const args = command.slice(1).map((arg, i, all) => (all[i - 1] === '--port' ? String(port) : all[i - 1] === '--host' ? '127.0.0.1' : arg));
    const server = spawn(process.execPath, [path.join(ROOT, args[0]!), ...args.slice(1)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, DURABLE_CLAUDE_ENCRYPTION_KEYS: `k1:${key}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    server.stdout.on('data', (d: Buffer) => (output += d.toString()));
    server.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    for (let i = 0; i < 300 && !output.includes('codec server ') && server.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
    expect(output).toContain(`codec server         http://127.0.0.1:${port}`);
    const [encrypted] = await codecOfWorker.encode([{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"a prompt"') }]);
    const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
    const response = await fetch(`http://127.0.0.1:${port}/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', Origin: uiOrigin },
      body: JSON.stringify({ payloads: [{ metadata: Object.fromEntries(Object.entries(encrypted!.metadata!).map(([k, v]) => [k, b64(v!)])), data: b64(encrypted!.data!) }] }),
    });
    expect([response.status, response.headers.get('access-control-allow-origin')]).toEqual([200, uiOrigin]);
    expect(await response.json()).toEqual({ payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('"a prompt"').toString('base64') }] });
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});

describe('observability: the OpenTelemetry Collector, Jaeger and Prometheus, wired to the worker', () => {
  const collector = services['otel-collector']!;
  const jaeger = services.jaeger!;
  const prometheus = services.prometheus!;
  const workerEnv = services.worker!.environment!;

  /** The repository file a service mounts at `target`, read and parsed as YAML. */
  function mountedConfig<T>(service: Service, target: string): { file: string; config: T } {
    const mount = (service.volumes ?? []).map((v) => v.split(':')).find(([, inside]) => inside === target);
    expect([target, mount?.[2]]).toEqual([target, 'ro']);
    const file = path.join(ROOT, mount![0]!);
    return { file, config: parse(fs.readFileSync(file, 'utf8')) as T };
  }
  /** host and port of `scheme://host:port` or `host:port`. */
  function hostPort(address: string): { host: string; port: number } {
    const match = /^(?:\w+:\/\/)?([^:/]+):(\d+)\/?$/.exec(address);
    expect([address, !!match]).toEqual([address, true]);
    return { host: match![1]!, port: Number(match![2]) };
  }

  interface CollectorConfig {
    receivers: { otlp: { protocols: { grpc: { endpoint: string }; http: { endpoint: string } } } } & Record<string, unknown>;
    processors?: Record<string, unknown>;
    exporters: Record<string, { endpoint: string; tls?: { insecure?: boolean } }>;
    extensions?: Record<string, { endpoint?: string }>;
    service: { extensions?: string[]; pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }> };
  }
  const configPath = (collector.command ?? []).find((arg) => arg.startsWith('--config='))?.slice('--config='.length);
  const { file: collectorFile, config: collectorConfig } = mountedConfig<CollectorConfig>(collector, configPath ?? '(no --config)');
  interface PrometheusConfig {
    global?: { scrape_interval?: string };
    scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
  }
  // The image's default command reads this path; the compose file gives no command of its own.
  const { file: prometheusFile, config: prometheusConfig } = mountedConfig<PrometheusConfig>(prometheus, '/etc/prometheus/prometheus.yml');

  test('official images, pinned: the collector (contrib), Jaeger v2 and Prometheus', () => {
    expect(collector.image).toMatch(/^otel\/opentelemetry-collector-contrib:\d+\.\d+\.\d+$/);
    expect(jaeger.image).toMatch(/^jaegertracing\/jaeger:2\.\d+\.\d+$/);
    expect(prometheus.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(prometheus.command).toBeUndefined();
    expect(path.relative(ROOT, collectorFile)).toBe(path.join('deploy', 'otel', 'collector.yaml'));
    expect(path.relative(ROOT, prometheusFile)).toBe(path.join('deploy', 'prometheus', 'prometheus.yml'));
  });

  test('healthchecks where the image can run one: Jaeger and Prometheus answer on the ports they publish; the collector has none', () => {
    // Both images have busybox wget (Jaeger's is alpine, Prometheus's busybox); the collector's has nothing but itself.
    expect(jaeger.healthcheck!.test).toEqual(['CMD', 'wget', '-q', '-O', '/dev/null', `http://localhost:${portMapping(jaeger.ports![0]!).container}/`]);
    expect(prometheus.healthcheck!.test).toEqual(['CMD', 'wget', '-q', '-O', '/dev/null', `http://localhost:${portMapping(prometheus.ports![0]!).container}/-/ready`]);
    expect(collector.healthcheck).toBeUndefined();
    expect(collector.depends_on).toEqual({ jaeger: { condition: 'service_healthy' } });
    // On the host: Jaeger's UI on 16686, Prometheus on 9090, OTLP (gRPC and HTTP) for a backend on the host.
    expect(jaeger.ports!.map(portMapping)).toEqual([{ host: 16686, container: 16686 }]);
    expect(prometheus.ports!.map(portMapping)).toEqual([{ host: 9090, container: 9090 }]);
    const receivers = collectorConfig.receivers.otlp.protocols;
    expect(collector.ports!.map(portMapping)).toEqual([
      { host: 4317, container: hostPort(receivers.grpc.endpoint).port },
      { host: 4318, container: hostPort(receivers.http.endpoint).port },
    ]);
  });

  test("the worker sends OTLP/HTTP to the collector's receiver, by service name, as durable-claude-worker", () => {
    const receivers = collectorConfig.receivers.otlp.protocols;
    for (const protocol of [receivers.grpc, receivers.http]) expect(hostPort(protocol.endpoint).host).toBe('0.0.0.0');
    expect(workerEnv.OTEL_EXPORTER_OTLP_ENDPOINT).toBe(`http://otel-collector:${hostPort(receivers.http.endpoint).port}`);
    expect(hostPort(workerEnv.OTEL_EXPORTER_OTLP_ENDPOINT!).host).toBe(Object.keys(services).find((name) => services[name] === collector));
    expect(workerEnv.OTEL_SERVICE_NAME).toBe('durable-claude-worker');
    expect(workerEnv.DURABLE_CLAUDE_TEMPORAL_PROMETHEUS_ADDRESS).toBe('0.0.0.0:9464');
  });

  test('the collector config: every pipeline component is defined; traces go to Jaeger over OTLP, metrics to a Prometheus endpoint', () => {
    const { pipelines, extensions = [] } = collectorConfig.service;
    expect(Object.keys(pipelines).sort()).toEqual(['metrics', 'traces']);
    for (const [name, pipeline] of Object.entries(pipelines)) {
      for (const receiver of pipeline.receivers) expect([name, receiver, receiver in collectorConfig.receivers]).toEqual([name, receiver, true]);
      for (const processor of pipeline.processors ?? []) expect([name, processor, processor in (collectorConfig.processors ?? {})]).toEqual([name, processor, true]);
      for (const exporter of pipeline.exporters) expect([name, exporter, exporter in collectorConfig.exporters]).toEqual([name, exporter, true]);
      expect(pipeline.receivers).toEqual(['otlp']);
    }
    for (const extension of extensions) expect([extension, extension in (collectorConfig.extensions ?? {})]).toEqual([extension, true]);
    // Traces: an OTLP (gRPC) exporter to the jaeger service's OTLP gRPC port, plaintext inside the compose network.
    const [traceExporter] = pipelines.traces!.exporters;
    expect(pipelines.traces!.exporters).toHaveLength(1);
    expect(traceExporter!.split('/')[0]).toBe('otlp');
    const toJaeger = collectorConfig.exporters[traceExporter!]!;
    expect(hostPort(toJaeger.endpoint)).toEqual({ host: 'jaeger', port: 4317 });
    expect(services[hostPort(toJaeger.endpoint).host]).toBe(jaeger);
    expect(toJaeger.tls?.insecure).toBe(true);
    // Metrics: the prometheus exporter, on every interface of the collector's container.
    expect(pipelines.metrics!.exporters).toEqual(['prometheus']);
    expect(hostPort(collectorConfig.exporters.prometheus!.endpoint).host).toBe('0.0.0.0');
  });

  test("Prometheus scrapes the collector's exporter, the worker's SDK metrics endpoint and the Temporal server, by service name and port", () => {
    const targets = Object.fromEntries(prometheusConfig.scrape_configs.map((job) => [job.job_name, job.static_configs.flatMap((c) => c.targets)]));
    expect(targets).toEqual({
      'otel-collector': [`otel-collector:${hostPort(collectorConfig.exporters.prometheus!.endpoint).port}`],
      'durable-claude-worker': [`worker:${hostPort(workerEnv.DURABLE_CLAUDE_TEMPORAL_PROMETHEUS_ADDRESS!).port}`],
      temporal: [`temporal:${hostPort(services.temporal!.environment!.PROMETHEUS_ENDPOINT!).port}`],
    });
    for (const target of Object.values(targets).flat()) expect([target, !!services[hostPort(target).host]]).toEqual([target, true]);
    expect(prometheusConfig.global?.scrape_interval).toMatch(/^\d+s$/);
  });
});
