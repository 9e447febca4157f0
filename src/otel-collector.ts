// An OpenTelemetry Collector on this machine (OTLP receiver, file and debug exporters), for the tests of traces and
// metrics: built once from the Go module proxy like nats-server (deploy/otel-collector pins it). docker-compose runs
// the official collector image instead.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildGoBinary, canConnect, freePort, locateLocalBinary, machineCacheDir, sleepMs, spawnTiedToThisProcess, type LocalBinary } from './local-servers';

export const OTEL_COLLECTOR_VERSION = '0.161.0';
const OTEL_COLLECTOR_PACKAGE = 'durable-claude.local/otel-collector';
const OTEL_COLLECTOR_BUILD_MODULE = path.join(__dirname, '..', 'deploy', 'otel-collector');

export function cachedOtelCollectorPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(machineCacheDir(env), `otel-collector-${OTEL_COLLECTOR_VERSION}`, 'bin', process.platform === 'win32' ? 'otelcol.exe' : 'otelcol');
}

/** OTEL_COLLECTOR (a path), then this machine's cache; built from the Go module proxy if neither. */
export async function findOtelCollector(options: { build?: boolean; log?: (line: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<LocalBinary> {
  const env = options.env ?? process.env;
  // Not looked up on PATH: an `otelcol` there may lack the file exporter this build has.
  const found = locateLocalBinary({ envVar: 'OTEL_COLLECTOR', name: 'durable-claude-otelcol', cached: cachedOtelCollectorPath(env) }, env);
  if (found) return found;
  if (options.build === false) throw new Error('No OpenTelemetry Collector found: set OTEL_COLLECTOR, or run `npm run temporal:ensure` to build it.');
  const built = await buildGoBinary({
    label: 'otel-collector',
    what: 'an OpenTelemetry Collector (OTLP receiver, file exporter)',
    goPackage: OTEL_COLLECTOR_PACKAGE,
    moduleDir: OTEL_COLLECTOR_BUILD_MODULE,
    target: cachedOtelCollectorPath(env),
    ldflags: '-s -w',
    withoutGo: 'Install Go, or set OTEL_COLLECTOR to a collector binary with the otlp receiver and the file exporter.',
    startNote: `v${OTEL_COLLECTOR_VERSION}, first time on this machine; takes a few minutes`,
    staleLockMs: 30 * 60_000,
    env,
    log: options.log ?? ((line: string) => process.stderr.write(`${line}\n`)),
  });
  return { path: built, source: 'go-build' };
}

export interface OtelCollector {
  /** http://host:port, the OTLP/HTTP receiver (send to /v1/traces, /v1/metrics). */
  otlpHttpEndpoint: string;
  /** Where the file exporter writes: one JSON object (OTLP JSON) per line. */
  tracesFile: string;
  metricsFile: string;
  stop(): Promise<void>;
}

/** A collector whose OTLP/HTTP receiver writes what it gets to files, flushed as each batch arrives. */
export async function startOtelCollector(options: { host?: string; log?: (line: string) => void } = {}): Promise<OtelCollector> {
  const collector = await findOtelCollector(options.log ? { log: options.log } : {});
  const host = options.host ?? '127.0.0.1';
  const port = await freePort(host);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-claude-otelcol-'));
  const tracesFile = path.join(dir, 'traces.jsonl');
  const metricsFile = path.join(dir, 'metrics.jsonl');
  const config = [
    'receivers:',
    '  otlp:',
    '    protocols:',
    '      http:',
    `        endpoint: ${host}:${port}`,
    'exporters:',
    '  file/traces:',
    `    path: ${JSON.stringify(tracesFile)}`,
    '    flush_interval: 100ms',
    '  file/metrics:',
    `    path: ${JSON.stringify(metricsFile)}`,
    '    flush_interval: 100ms',
    'service:',
    '  telemetry:',
    '    metrics:',
    '      level: none',
    '  pipelines:',
    '    traces:',
    '      receivers: [otlp]',
    '      exporters: [file/traces]',
    '    metrics:',
    '      receivers: [otlp]',
    '      exporters: [file/metrics]',
    '',
  ].join('\n');
  const configFile = path.join(dir, 'config.yaml');
  fs.writeFileSync(configFile, config);
  const logFile = fs.openSync(path.join(dir, 'collector.log'), 'a');
  const tied = await spawnTiedToThisProcess('durable-claude-otelcol', collector.path, ['--config', `file:${configFile}`], logFile, undefined);
  fs.closeSync(logFile);
  let exited: number | null | undefined;
  tied.child.on('exit', (code) => {
    exited = code;
  });
  const deadline = Date.now() + 30_000;
  while (!(await canConnect(host, port))) {
    if (exited !== undefined) throw new Error(`the OpenTelemetry Collector exited with code ${exited}; see ${path.join(dir, 'collector.log')}`);
    if (Date.now() > deadline) throw new Error(`the OpenTelemetry Collector did not listen on ${host}:${port} within 30s`);
    await sleepMs(50);
  }
  return {
    otlpHttpEndpoint: `http://${host}:${port}`,
    tracesFile,
    metricsFile,
    async stop() {
      if (exited === undefined) {
        const done = new Promise<void>((resolve) => tied.child.once('exit', () => resolve()));
        try {
          process.kill(tied.pid, 'SIGTERM');
          await done;
        } catch {
          // Already gone.
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
