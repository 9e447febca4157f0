// Temporal's server and its SQL schema tool at the version docker-compose.yml runs, built once per machine from the
// Go module proxy (deploy/temporal-server pins the build), and run on PostgreSQL as the compose stack runs them.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { buildGoBinary, freePort, locateLocalBinary, machineCacheDir, sleepMs, spawnTiedToThisProcess, type LocalBinary } from '../../src/local-servers';

/** The compose file's `temporalio/server:1.29.1` (test/compose.test.ts checks the two agree). */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
const BUILD_MODULE = path.join(__dirname, '..', '..', 'deploy', 'temporal-server');

export function temporalServerCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(machineCacheDir(env), `temporal-server-${TEMPORAL_SERVER_VERSION}`);
}

export interface TemporalServerBinaries {
  server: LocalBinary;
  sqlTool: LocalBinary;
}

export interface FindTemporalServerOptions {
  /** Progress lines (the first build takes minutes). Default: stderr. */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/**
 * TEMPORAL_SERVER / TEMPORAL_SQL_TOOL (paths), then `temporal-server` / `temporal-sql-tool` on PATH, then this
 * machine's cache; what is missing is built from the Go module proxy, once per machine, saying so while it builds.
 */
export async function findTemporalServer(options: FindTemporalServerOptions = {}): Promise<TemporalServerBinaries> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const find = async (spec: { envVar: string; name: string; goPackage: string; what: string; startNote: string }): Promise<LocalBinary> => {
    const cached = path.join(temporalServerCacheDir(env), 'bin', spec.name);
    const found = locateLocalBinary({ envVar: spec.envVar, name: spec.name, cached }, env);
    if (found) return found;
    const built = await buildGoBinary({
      label: spec.name,
      what: spec.what,
      goPackage: spec.goPackage,
      moduleDir: BUILD_MODULE,
      target: cached,
      ldflags: '-s -w',
      withoutGo: `Install Go, or set ${spec.envVar} to a ${spec.name} binary (v${TEMPORAL_SERVER_VERSION}).`,
      startNote: spec.startNote,
      staleLockMs: 30 * 60_000,
      env,
      log,
    });
    return { path: built, source: 'go-build' };
  };
  const server = await find({
    envVar: 'TEMPORAL_SERVER',
    name: 'temporal-server',
    goPackage: 'go.temporal.io/server/cmd/server',
    what: "Temporal's server",
    startNote: `v${TEMPORAL_SERVER_VERSION}, first time on this machine; takes about 3 minutes`,
  });
  const sqlTool = await find({
    envVar: 'TEMPORAL_SQL_TOOL',
    name: 'temporal-sql-tool',
    goPackage: 'go.temporal.io/server/cmd/tools/sql',
    what: "Temporal's SQL schema tool",
    startNote: `v${TEMPORAL_SERVER_VERSION}, first time on this machine; shares most of the server's build`,
  });
  return { server, sqlTool };
}

export interface PostgresPersistence {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface TemporalServerConfigOptions {
  postgres: PostgresPersistence;
  /** The dynamic config file the server polls (the compose stack's deploy/temporal/dynamicconfig/durable-claude.yaml). */
  dynamicConfigFile: string;
  /** History shards; the server image's default is 4. Fixed for the life of a database. */
  numHistoryShards?: number;
}

/**
 * A free port below 32768: the server stores each member's membership port in a PostgreSQL smallint column
 * (cluster_membership.rpc_port), and the OS hands out ephemeral ports above that ("out of range for type smallint").
 */
async function freeMembershipPort(host: string): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, host, () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port between 20000 and 32000 on ${host}`);
}

interface ServicePorts {
  grpcPort: number;
  membershipPort: number;
  httpPort?: number;
}

/**
 * A server config in the shape of the server's own development-postgres12.yaml: persistence and visibility on
 * PostgreSQL through the postgres12 plugin, every service in one process on loopback, free ports. JSON is YAML.
 */
async function serverConfig(options: TemporalServerConfigOptions): Promise<{ config: unknown; frontendPort: number }> {
  const host = '127.0.0.1';
  const service = async (http = false): Promise<ServicePorts> => ({
    grpcPort: await freePort(host),
    membershipPort: await freeMembershipPort(host),
    ...(http ? { httpPort: await freePort(host) } : {}),
  });
  const frontend = await service(true);
  const datastore = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${options.postgres.host}:${options.postgres.port}`,
      connectProtocol: 'tcp',
      user: options.postgres.user,
      password: options.postgres.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (ports: ServicePorts) => ({ rpc: { ...ports, bindOnLocalHost: true } });
  const config = {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: options.numHistoryShards ?? 4,
      datastores: { 'postgres-default': datastore('temporal', 20), 'postgres-visibility': datastore('temporal_visibility', 10) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: host } },
    services: { frontend: rpc(frontend), history: rpc(await service()), matching: rpc(await service()), worker: rpc(await service()) },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `${host}:${frontend.grpcPort}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: options.dynamicConfigFile, pollInterval: '10s' },
  };
  return { config, frontendPort: frontend.grpcPort };
}

export interface TemporalServer {
  address: string;
  /** The server's own log (warnings and errors), for a failure's message. */
  logFile: string;
  /** Starts the server (again) with the same config, on the same database and ports; resolves once it answers. */
  start(): Promise<void>;
  /** SIGKILL, as a crash would: no shutdown of any kind. */
  kill(): Promise<void>;
  /** SIGTERM, then waits for it to exit. */
  stop(): Promise<void>;
}

/** Why the frontend does not answer yet (undefined once GetSystemInfo succeeds). */
async function frontendProblem(address: string): Promise<string | undefined> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 2_000 });
    await connection.workflowService.getSystemInfo({});
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

/**
 * Writes the config into `dir` and returns a server that is not started yet. The schemas must exist already
 * (deploy/temporal/setup-schema.sh with the built temporal-sql-tool).
 */
export async function temporalServerOnPostgres(binary: string, dir: string, options: TemporalServerConfigOptions): Promise<TemporalServer> {
  const { config, frontendPort } = await serverConfig(options);
  const configDir = path.join(dir, 'config');
  fs.mkdirSync(configDir, { recursive: true });
  fs.writeFileSync(path.join(configDir, 'production-stack.yaml'), JSON.stringify(config, null, 2));
  const address = `127.0.0.1:${frontendPort}`;
  const logFile = path.join(dir, 'temporal-server.log');
  interface Running {
    pid: number;
    exited: Promise<void>;
    /** Set once it has exited. */
    exitCode?: number | null;
  }
  const state: { running?: Running } = {};
  const logTail = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-3000) : '');
  const signal = async (name: 'SIGKILL' | 'SIGTERM') => {
    const current = state.running;
    if (!current) return;
    try {
      process.kill(current.pid, name);
    } catch {
      // Gone already.
    }
    await current.exited;
    delete state.running;
  };
  return {
    address,
    logFile,
    async start() {
      if (state.running) throw new Error('the Temporal server is running already');
      const out = fs.openSync(logFile, 'a');
      const args = ['--root', dir, '--config', 'config', '--env', 'production-stack', '--allow-no-auth', 'start'];
      const tied = await spawnTiedToThisProcess('durable-claude-temporal-server', binary, args, out, undefined);
      fs.closeSync(out);
      const current: Running = { pid: tied.pid, exited: new Promise<void>((resolve) => tied.child.once('exit', () => resolve())) };
      tied.child.once('exit', (code) => (current.exitCode = code));
      state.running = current;
      const deadline = Date.now() + 120_000;
      for (;;) {
        const problem = await frontendProblem(address);
        if (problem === undefined) return;
        if (current.exitCode !== undefined) throw new Error(`the Temporal server exited with code ${current.exitCode}:\n${logTail()}`);
        if (Date.now() > deadline) throw new Error(`the Temporal server did not answer within 120 s (${problem}):\n${logTail()}`);
        await sleepMs(250);
      }
    },
    kill: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
  };
}
