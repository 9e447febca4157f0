import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildGoBinary, canConnect, freePort, locateLocalBinary, machineCacheDir, sleepMs, spawnTiedToThisProcess, type LocalBinary, type LocalBinarySource } from './local-servers';
import { devServerSearchAttributeArgs } from './search-attributes';
import { Connection } from '@temporalio/client';

/**
 * Finds (or builds, once per machine) the official Temporal CLI, whose `server start-dev` is the real Temporal
 * server the tests, the demo and `durable-claude dev` run on. Machines without internet cannot use the SDK's own
 * download, so the last resort builds the CLI from the Go module proxy.
 */

export const TEMPORAL_CLI_VERSION = '1.5.1';
const TEMPORAL_CLI_PACKAGE = 'github.com/temporalio/cli/cmd/temporal';
/**
 * The Go module that pins the build: the official CLI at TEMPORAL_CLI_VERSION with modernc.org/sqlite raised to
 * SQLITE_DRIVER_VERSION (why: deploy/temporal-cli/go.mod). Its go.sum makes every machine build the same bytes.
 */
const TEMPORAL_CLI_BUILD_MODULE = path.join(__dirname, '..', 'deploy', 'temporal-cli');
const SQLITE_DRIVER_VERSION = '1.44.3';

export type TemporalCliSource = LocalBinarySource;

export type TemporalCli = LocalBinary;

export interface FindTemporalCliOptions {
  /** Build from the Go module proxy when nothing else is found. Default true. */
  build?: boolean;
  /** Progress lines (the build takes minutes). Default: stderr. */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** Where this machine keeps the CLI it built: shared by every clone and CI run of the project. */
export function temporalCliCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(machineCacheDir(env), `temporal-cli-${TEMPORAL_CLI_VERSION}-sqlite-${SQLITE_DRIVER_VERSION}`);
}

export function cachedTemporalCliPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(temporalCliCacheDir(env), 'bin', process.platform === 'win32' ? 'temporal.exe' : 'temporal');
}

/**
 * Finds the CLI without building it: TEMPORAL_CLI, then PATH, then this machine's cache. Nothing in the temp
 * directory is run: anyone can put a file there, and this project never asks the SDK to download a server.
 */
export function locateTemporalCli(env: NodeJS.ProcessEnv = process.env): TemporalCli | undefined {
  return locateLocalBinary({ envVar: 'TEMPORAL_CLI', name: 'temporal', cached: cachedTemporalCliPath(env) }, env);
}

export async function findTemporalCli(options: FindTemporalCliOptions = {}): Promise<TemporalCli> {
  const env = options.env ?? process.env;
  const found = locateTemporalCli(env);
  if (found) return found;
  if (options.build === false) {
    throw new Error(
      'No Temporal CLI found: set TEMPORAL_CLI, put `temporal` on PATH, or run `npm run temporal:ensure` to build it.',
    );
  }
  return { path: await buildTemporalCli(options), source: 'go-build' };
}

/** `go build` of the official CLI (through deploy/temporal-cli) into this machine's cache, once. */
export async function buildTemporalCli(options: FindTemporalCliOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  return buildGoBinary({
    label: 'temporal-cli',
    what: 'the Temporal CLI',
    goPackage: TEMPORAL_CLI_PACKAGE,
    moduleDir: TEMPORAL_CLI_BUILD_MODULE,
    target: cachedTemporalCliPath(env),
    ldflags: `-s -w -X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION}`,
    withoutGo: `Install Go, or set TEMPORAL_CLI to a temporal binary (v${TEMPORAL_CLI_VERSION} or newer).`,
    startNote: `v${TEMPORAL_CLI_VERSION} with sqlite driver v${SQLITE_DRIVER_VERSION}, first time on this machine; takes a few minutes`,
    // 30 minutes is far past any real build.
    staleLockMs: 30 * 60_000,
    env,
    log: options.log ?? ((line: string) => process.stderr.write(`${line}\n`)),
  });
}

/**
 * Dynamic config for every dev server this project starts (tests, `durable-claude dev`, the bench).
 * - The dev server has one history shard, and a shard reads its transfer queue (which hands workflow and activity
 *   tasks to matching) at most 20 times a second by default: past a short burst, every hop of a conversation
 *   waited up to 50 ms. Measured: 3 parallel no-op activities per round went from 105 ms to 13 ms a round.
 * - Eager activities: a workflow task's response carries the activities it scheduled to the same worker, one
 *   dispatch less per model call and per tool (the compose stack sets the same).
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, string | number | boolean>> = {
  'history.transferProcessorMaxPollRPS': 1000,
  'system.enableActivityEagerExecution': true,
  'frontend.enableUpdateWorkflowExecution': true,
};

/** `--dynamic-config-value` flags for `temporal server start-dev`. */
export function devServerDynamicConfigArgs(config: Readonly<Record<string, string | number | boolean>> = DEV_SERVER_DYNAMIC_CONFIG): string[] {
  return Object.entries(config).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]);
}

export interface DevServerOptions {
  /**
   * Keep workflows in this SQLite file, so they survive restarts. Default: a scratch file (in /dev/shm where there
   * is one, so as fast as memory) removed on stop; see scratchDbFilename for why never SQLite's in-memory mode.
   */
  dbFilename?: string;
  ip?: string;
  /** gRPC port; default a free one. */
  port?: number;
  /** Web UI port (default port + 1000); `ui: false` runs headless. */
  uiPort?: number;
  ui?: boolean;
  /**
   * The Web UI's remote codec server (`--ui-codec-endpoint`), e.g. `durable-claude codec-server`'s URL: the browser
   * calls it to show encrypted payloads decoded. Its allowed origins must include this UI's (uiUrl).
   */
  uiCodecEndpoint?: string;
  namespace?: string;
  /** Where the server's own log goes; default discarded. */
  logFile?: string;
  /** Dynamic config on top of DEV_SERVER_DYNAMIC_CONFIG. */
  dynamicConfig?: Readonly<Record<string, string | number | boolean>>;
  log?: (line: string) => void;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  namespace: string;
  pid: number;
  stop(): Promise<void>;
  /** Kills the server at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
}

/**
 * A throwaway database file for a dev server. The server's SQLite driver drops a connection whose statement was
 * interrupted by a cancelled request (a client deadline, a killed worker); in SQLite's in-memory mode that loses the
 * whole database ("no such table"), while a file is simply reopened. tmpfs keeps it as fast as memory.
 */
export function scratchDbFilename(prefix = 'durable-claude-dev'): string {
  const shm = '/dev/shm';
  let base = os.tmpdir();
  try {
    fs.accessSync(shm, fs.constants.W_OK);
    base = shm;
  } catch {
    // No tmpfs here: the temp dir will do.
  }
  return path.join(fs.mkdtempSync(path.join(base, `${prefix}-`)), 'temporal.db');
}

/**
 * SQLite settings for a scratch database: write-ahead log, no fsync. Nothing in it has to survive the machine
 * crashing, and it brings a file on tmpfs back to in-memory speed (about 5 ms a turn on this 2-core machine).
 */
export function scratchDbPragmaArgs(): string[] {
  return ['--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=off'];
}

/** Removes a scratch database and SQLite's companion files (-wal, -shm, -journal). */
export function removeScratchDb(dbFilename: string): void {
  fs.rmSync(path.dirname(dbFilename), { recursive: true, force: true });
}

/** Why the server's frontend does not answer yet (undefined once GetSystemInfo succeeds). */
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

/** A free TCP port on this machine (the OS picks it). */
export { freePort };

/** `temporal server start-dev` with the agent search attributes registered; resolves once it accepts connections. */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const cli = await findTemporalCli(options.log ? { log: options.log } : {});
  const ip = options.ip ?? '127.0.0.1';
  const port = options.port ?? (await freePort(ip));
  const ui = options.ui ?? true;
  const uiPort = options.uiPort ?? (options.port === undefined ? await freePort(ip) : port + 1000);
  const namespace = options.namespace ?? 'default';
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--namespace', namespace, '--log-level', 'warn'];
  args.push(...devServerSearchAttributeArgs());
  args.push(...devServerDynamicConfigArgs({ ...DEV_SERVER_DYNAMIC_CONFIG, ...options.dynamicConfig }));
  if (ui) args.push('--ui-port', String(uiPort), ...(options.uiCodecEndpoint ? ['--ui-codec-endpoint', options.uiCodecEndpoint] : []));
  else args.push('--headless');
  const dbFilename = options.dbFilename ?? scratchDbFilename();
  const scratch = options.dbFilename ? undefined : dbFilename;
  fs.mkdirSync(path.dirname(path.resolve(dbFilename)), { recursive: true });
  args.push('--db-filename', dbFilename, ...(scratch ? scratchDbPragmaArgs() : []));
  const out = options.logFile ? fs.openSync(options.logFile, 'a') : 'ignore';
  const server = await spawnTiedToThisProcess('durable-claude-dev-server', cli.path, args, out, scratch ? path.dirname(scratch) : undefined);
  if (typeof out === 'number') fs.closeSync(out);
  const { child } = server;
  let exited: number | null | undefined;
  // However the server ends (stop, kill, a failed start), its scratch database goes with it.
  child.on('exit', (code) => {
    exited = code;
    if (scratch) removeScratchDb(scratch);
  });
  const signalServer = (signal: NodeJS.Signals) => {
    try {
      process.kill(server.pid, signal);
    } catch {
      // Already gone.
    }
  };
  const deadline = Date.now() + 60_000;
  while (!(await canConnect(ip, port))) {
    if (exited !== undefined) throw new Error(`temporal server start-dev exited with code ${exited}${options.logFile ? `; see ${options.logFile}` : ''}`);
    if (Date.now() > deadline) {
      signalServer('SIGKILL');
      throw new Error(`temporal server start-dev did not listen on ${ip}:${port} within 60s`);
    }
    await sleepMs(100);
  }
  // Listening is not serving: the frontend answers "Frontend is not healthy yet" for a moment after it listens.
  for (;;) {
    const problem = await frontendProblem(`${ip}:${port}`);
    if (problem === undefined) break;
    if (exited !== undefined) throw new Error(`temporal server start-dev exited with code ${exited}${options.logFile ? `; see ${options.logFile}` : ''}`);
    if (Date.now() > deadline) {
      signalServer('SIGKILL');
      throw new Error(`temporal server start-dev listened on ${ip}:${port} but did not answer within 60s: ${problem}`);
    }
    await sleepMs(100);
  }
  return {
    address: `${ip}:${port}`,
    ...(ui ? { uiUrl: `http://${ip}:${uiPort}` } : {}),
    namespace,
    pid: server.pid,
    async kill() {
      if (exited !== undefined) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      signalServer('SIGKILL');
      await done;
    },
    async stop() {
      if (exited !== undefined) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      signalServer('SIGTERM');
      const timer = setTimeout(() => signalServer('SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
    },
  };
}
