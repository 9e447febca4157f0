import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { devServerSearchAttributeArgs } from './search-attributes';

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

export type TemporalCliSource = 'env' | 'path' | 'cache' | 'go-build';

export interface TemporalCli {
  path: string;
  source: TemporalCliSource;
}

export interface FindTemporalCliOptions {
  /** Build from the Go module proxy when nothing else is found. Default true. */
  build?: boolean;
  /** Progress lines (the build takes minutes). Default: stderr. */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** Where this machine keeps the CLI it built: shared by every clone and CI run of the project. */
export function temporalCliCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.DURABLE_CLAUDE_CACHE_DIR ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'durable-claude');
  return path.join(base, `temporal-cli-${TEMPORAL_CLI_VERSION}-sqlite-${SQLITE_DRIVER_VERSION}`);
}

export function cachedTemporalCliPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(temporalCliCacheDir(env), 'bin', process.platform === 'win32' ? 'temporal.exe' : 'temporal');
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Finds the CLI without building it: TEMPORAL_CLI, then PATH, then this machine's cache. Nothing in the temp
 * directory is run: anyone can put a file there, and this project never asks the SDK to download a server.
 */
export function locateTemporalCli(env: NodeJS.ProcessEnv = process.env): TemporalCli | undefined {
  const fromEnv = env.TEMPORAL_CLI;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`TEMPORAL_CLI=${fromEnv} is not an executable file`);
    return { path: fromEnv, source: 'env' };
  }
  const fromPath = onPath('temporal', env);
  if (fromPath) return { path: fromPath, source: 'path' };
  const cached = cachedTemporalCliPath(env);
  if (isExecutable(cached)) return { path: cached, source: 'cache' };
  return undefined;
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

function goBinary(env: NodeJS.ProcessEnv): string {
  const candidates = [onPath('go', env), '/usr/local/go/bin/go', '/usr/lib/go/bin/go'].filter(
    (c): c is string => !!c && isExecutable(c),
  );
  if (!candidates[0]) {
    throw new Error(
      `Cannot build the Temporal CLI: no Go toolchain found. Install Go, or set TEMPORAL_CLI to a temporal binary (v${TEMPORAL_CLI_VERSION} or newer).`,
    );
  }
  return candidates[0];
}

const sleepMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `go build` of the official CLI (through deploy/temporal-cli) into this machine's cache. A lock directory keeps two processes (two jest runs,
 * a CI run and a demo) from building at once; the loser waits for the winner's binary.
 */
export async function buildTemporalCli(options: FindTemporalCliOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const target = cachedTemporalCliPath(env);
  const cacheDir = temporalCliCacheDir(env);
  fs.mkdirSync(cacheDir, { recursive: true });
  const lock = path.join(cacheDir, 'build.lock');
  const started = Date.now();
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      if (isExecutable(target)) return target;
      const age = Date.now() - fs.statSync(lock).mtimeMs;
      // A build that died leaves its lock behind; 30 minutes is far past any real build.
      if (age > 30 * 60_000) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > 35 * 60_000) throw new Error(`Timed out waiting for another Temporal CLI build (${lock})`);
      log('[temporal-cli] another process is building the Temporal CLI; waiting…');
      await sleepMs(5_000);
    }
  }
  try {
    if (isExecutable(target)) return target;
    const go = goBinary(env);
    const staging = fs.mkdtempSync(path.join(cacheDir, 'staging-'));
    const built = path.join(staging, path.basename(target));
    log(
      `[temporal-cli] building ${TEMPORAL_CLI_PACKAGE}@v${TEMPORAL_CLI_VERSION} (sqlite driver v${SQLITE_DRIVER_VERSION}) with ${go} ` +
        '(first time on this machine; takes a few minutes)',
    );
    const code = await new Promise<number>((resolve, reject) => {
      const ldflags = `-s -w -X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION}`;
      const child = spawn(go, ['build', '-v', '-trimpath', '-ldflags', ldflags, '-o', built, TEMPORAL_CLI_PACKAGE], {
        cwd: TEMPORAL_CLI_BUILD_MODULE,
        env: { ...env, CGO_ENABLED: '0', GOFLAGS: '-mod=readonly', GOWORK: 'off' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let packages = 0;
      let lastLine = '';
      const tail: string[] = [];
      const onOutput = (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          tail.push(line);
          if (tail.length > 40) tail.shift();
          if (!line.startsWith('go: downloading')) packages += 1;
          lastLine = line;
        }
      };
      child.stdout.on('data', onOutput);
      child.stderr.on('data', onOutput);
      const ticker = setInterval(() => {
        const seconds = Math.round((Date.now() - started) / 1000);
        log(`[temporal-cli] still building: ${seconds}s, ${packages} packages compiled (last: ${lastLine.slice(0, 80)})`);
      }, 15_000);
      child.on('error', (err) => {
        clearInterval(ticker);
        reject(err);
      });
      child.on('close', (status) => {
        clearInterval(ticker);
        if (status !== 0) log(tail.join('\n'));
        resolve(status ?? 1);
      });
    });
    if (code !== 0 || !isExecutable(built)) {
      throw new Error(`go build ${TEMPORAL_CLI_PACKAGE} in ${TEMPORAL_CLI_BUILD_MODULE} failed with exit code ${code}; see the output above`);
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.renameSync(built, target);
    fs.rmSync(staging, { recursive: true, force: true });
    const version = spawnSync(target, ['--version'], { encoding: 'utf8' }).stdout.trim();
    log(`[temporal-cli] built ${version} in ${Math.round((Date.now() - started) / 1000)}s → ${target}`);
    return target;
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
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

/** A free TCP port on this machine (the OS picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

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
  if (ui) args.push('--ui-port', String(uiPort));
  else args.push('--headless');
  const dbFilename = options.dbFilename ?? scratchDbFilename();
  const scratch = options.dbFilename ? undefined : dbFilename;
  fs.mkdirSync(path.dirname(path.resolve(dbFilename)), { recursive: true });
  args.push('--db-filename', dbFilename, ...(scratch ? scratchDbPragmaArgs() : []));
  const out = options.logFile ? fs.openSync(options.logFile, 'a') : 'ignore';
  const server = await spawnTiedToThisProcess(cli.path, args, out, scratch ? path.dirname(scratch) : undefined);
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

/**
 * Runs the server under a small POSIX shell that ends it when this process ends, however it ends: a normal exit,
 * an uncaught exception, a signal, even SIGKILL. The shell holds the read end of a pipe whose only write end is
 * ours; the kernel closes it when we die, `read` returns, and the shell stops the server (SIGTERM, SIGKILL after
 * 10 s) and removes its scratch database. In its own session, so a terminal's Ctrl+C reaches only this process,
 * which decides how the server stops. Arguments: the server's command line; DURABLE_CLAUDE_SCRATCH_DIR in the environment.
 */
const SERVER_WATCHDOG = `
exec 3<&0 </dev/null
"$@" >&2 3<&- &
server=$!
echo "$server"
(
  read -r _ <&3
  kill -TERM "$server" 2>/dev/null
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$server" 2>/dev/null || break; sleep 1; done
  kill -KILL "$server" 2>/dev/null
) &
watcher=$!
exec 3<&-
wait "$server"
code=$?
kill "$watcher" 2>/dev/null
if [ -n "$DURABLE_CLAUDE_SCRATCH_DIR" ]; then rm -rf "$DURABLE_CLAUDE_SCRATCH_DIR"; fi
exit "$code"
`;

interface TiedServer {
  /** The watchdog shell (or, on Windows, the server itself): it exits once the server has. */
  child: ChildProcess;
  /** The server's own pid. */
  pid: number;
}

async function spawnTiedToThisProcess(command: string, args: string[], out: number | 'ignore', scratchDir: string | undefined): Promise<TiedServer> {
  if (process.platform === 'win32') {
    const child = spawn(command, args, { stdio: ['ignore', out, out] });
    return { child, pid: child.pid! };
  }
  const child = spawn('/bin/sh', ['-c', SERVER_WATCHDOG, 'durable-claude-dev-server', command, ...args], {
    stdio: ['pipe', 'pipe', out],
    detached: true,
    env: { ...process.env, DURABLE_CLAUDE_SCRATCH_DIR: scratchDir ?? '' },
  });
  // Never written: the pipe exists to be closed by our death. An EPIPE after the shell ended is of no interest.
  child.stdin!.on('error', () => undefined);
  const pid = await new Promise<number>((resolve, reject) => {
    let printed = '';
    const onData = (chunk: Buffer) => {
      printed += chunk.toString();
      const line = printed.split('\n')[0]!;
      if (printed.includes('\n')) {
        child.stdout!.off('data', onData);
        const serverPid = Number(line.trim());
        if (Number.isInteger(serverPid) && serverPid > 0) resolve(serverPid);
        else reject(new Error(`the dev server's watchdog printed ${JSON.stringify(line)} instead of a pid`));
      }
    };
    child.stdout!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the dev server's watchdog exited with code ${code} before starting the server`)));
  });
  // Only the child process itself keeps this process alive, as a plain spawn would.
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  return { child, pid };
}
