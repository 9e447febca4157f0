import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

/**
 * Finds (or builds, once per machine) the official NATS server, whose JetStream holds live output: the tests,
 * `durable-claude dev` and the demo run it on this machine; docker-compose runs the official image. Like the
 * Temporal CLI (devserver.ts), the last resort builds it from the Go module proxy, for machines without internet.
 */

export const NATS_SERVER_VERSION = '2.15.2';
const NATS_SERVER_PACKAGE = 'github.com/nats-io/nats-server/v2';
/** The Go module that pins the build (go.sum: every machine builds the same bytes). */
const NATS_SERVER_BUILD_MODULE = path.join(__dirname, '..', 'deploy', 'nats-server');

export type NatsServerSource = 'env' | 'path' | 'cache' | 'go-build';

export interface NatsServer {
  path: string;
  source: NatsServerSource;
}

export interface FindNatsServerOptions {
  /** Build from the Go module proxy when nothing else is found. Default true. */
  build?: boolean;
  /** Progress lines (the build takes about a minute). Default: stderr. */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** Where this machine keeps the server it built, next to the Temporal CLI (same cache root as devserver.ts). */
export function natsServerCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.DURABLE_CLAUDE_CACHE_DIR ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'durable-claude');
  return path.join(base, `nats-server-${NATS_SERVER_VERSION}`);
}

export function cachedNatsServerPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(natsServerCacheDir(env), 'bin', process.platform === 'win32' ? 'nats-server.exe' : 'nats-server');
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

/** Finds the server without building it: NATS_SERVER, then PATH, then this machine's cache. */
export function locateNatsServer(env: NodeJS.ProcessEnv = process.env): NatsServer | undefined {
  const fromEnv = env.NATS_SERVER;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`NATS_SERVER=${fromEnv} is not an executable file`);
    return { path: fromEnv, source: 'env' };
  }
  const fromPath = onPath(process.platform === 'win32' ? 'nats-server.exe' : 'nats-server', env);
  if (fromPath) return { path: fromPath, source: 'path' };
  const cached = cachedNatsServerPath(env);
  if (isExecutable(cached)) return { path: cached, source: 'cache' };
  return undefined;
}

export async function findNatsServer(options: FindNatsServerOptions = {}): Promise<NatsServer> {
  const env = options.env ?? process.env;
  const found = locateNatsServer(env);
  if (found) return found;
  if (options.build === false) {
    throw new Error('No nats-server found: set NATS_SERVER, put `nats-server` on PATH, or run `npm run temporal:ensure` to build it.');
  }
  return { path: await buildNatsServer(options), source: 'go-build' };
}

function goBinary(env: NodeJS.ProcessEnv): string {
  const candidates = [onPath('go', env), '/usr/local/go/bin/go', '/usr/lib/go/bin/go'].filter((c): c is string => !!c && isExecutable(c));
  if (!candidates[0]) {
    throw new Error(`Cannot build nats-server: no Go toolchain found. Install Go, or set NATS_SERVER to a nats-server binary (v${NATS_SERVER_VERSION} or newer).`);
  }
  return candidates[0];
}

const sleepMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `go build` of the official server (through deploy/nats-server) into this machine's cache. A lock directory keeps
 * two processes from building at once; the loser waits for the winner's binary.
 */
export async function buildNatsServer(options: FindNatsServerOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const target = cachedNatsServerPath(env);
  const cacheDir = natsServerCacheDir(env);
  fs.mkdirSync(cacheDir, { recursive: true });
  const lock = path.join(cacheDir, 'build.lock');
  const started = Date.now();
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      if (isExecutable(target)) return target;
      let age: number;
      try {
        age = Date.now() - fs.statSync(lock).mtimeMs;
      } catch {
        continue; // The other build just finished and removed its lock.
      }
      // A build that died leaves its lock behind; 20 minutes is far past any real build (about a minute here).
      if (age > 20 * 60_000) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > 25 * 60_000) throw new Error(`Timed out waiting for another nats-server build (${lock})`);
      log('[nats-server] another process is building nats-server; waiting…');
      await sleepMs(3_000);
    }
  }
  try {
    if (isExecutable(target)) return target;
    const go = goBinary(env);
    const staging = fs.mkdtempSync(path.join(cacheDir, 'staging-'));
    const built = path.join(staging, path.basename(target));
    log(`[nats-server] building ${NATS_SERVER_PACKAGE}@v${NATS_SERVER_VERSION} with ${go} (first time on this machine; takes a minute or two)`);
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(go, ['build', '-v', '-trimpath', '-ldflags', '-s -w', '-o', built, NATS_SERVER_PACKAGE], {
        cwd: NATS_SERVER_BUILD_MODULE,
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
        log(`[nats-server] still building: ${seconds}s, ${packages} packages compiled (last: ${lastLine.slice(0, 80)})`);
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
      throw new Error(`go build ${NATS_SERVER_PACKAGE} in ${NATS_SERVER_BUILD_MODULE} failed with exit code ${code}; see the output above`);
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.renameSync(built, target);
    fs.rmSync(staging, { recursive: true, force: true });
    const version = spawnSync(target, ['--version'], { encoding: 'utf8' }).stdout.trim();
    log(`[nats-server] built ${version} in ${Math.round((Date.now() - started) / 1000)}s → ${target}`);
    return target;
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

export interface EventServerOptions {
  /** Client port; default a free one (`durable-claude dev` passes NATS's usual 4222). */
  port?: number;
  host?: string;
  /** JetStream's store directory, kept across restarts. Default: a fresh temp directory removed on stop. */
  storeDir?: string;
  /** Where the server's own log goes; default discarded. */
  logFile?: string;
  /** Build progress lines, if the server has to be built. */
  log?: (line: string) => void;
}

export interface EventServer {
  /** nats://host:port, for connectEventStore({ servers }). */
  url: string;
  pid: number;
  /** SIGTERM, SIGKILL after a grace; resolves once the server has exited. */
  stop(): Promise<void>;
}

function freePort(host: string): Promise<number> {
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

/** A NATS client connects and JetStream answers: a listening socket alone does not mean JetStream is up. */
async function jetStreamAnswers(url: string): Promise<boolean> {
  try {
    const nc = await connect({ servers: url, timeout: 2_000, reconnect: false });
    try {
      await jetstreamManager(nc, { timeout: 2_000 });
      return true;
    } finally {
      await nc.close();
    }
  } catch {
    return false;
  }
}

/** `nats-server -js` on this machine; resolves once clients can connect and JetStream answers. */
export async function startEventServer(options: EventServerOptions = {}): Promise<EventServer> {
  const server = await findNatsServer(options.log ? { log: options.log } : {});
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort(host));
  const scratchDir = options.storeDir ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'durable-claude-events-'));
  const storeDir = options.storeDir ?? scratchDir!;
  fs.mkdirSync(storeDir, { recursive: true });
  const args = ['-js', '-a', host, '-p', String(port), '-sd', storeDir];
  const out = options.logFile ? fs.openSync(options.logFile, 'a') : 'ignore';
  const tied = await spawnTiedToThisProcess(server.path, args, out, scratchDir);
  if (typeof out === 'number') fs.closeSync(out);
  const { child } = tied;
  let exited: number | null | undefined;
  child.on('exit', (code) => {
    exited = code;
    if (scratchDir) fs.rmSync(scratchDir, { recursive: true, force: true });
  });
  const signalServer = (signal: NodeJS.Signals) => {
    try {
      process.kill(tied.pid, signal);
    } catch {
      // Already gone.
    }
  };
  const url = `nats://${host}:${port}`;
  const deadline = Date.now() + 30_000;
  while (!((await canConnect(host, port)) && (await jetStreamAnswers(url)))) {
    if (exited !== undefined) throw new Error(`nats-server exited with code ${exited}${options.logFile ? `; see ${options.logFile}` : ''}`);
    if (Date.now() > deadline) {
      signalServer('SIGKILL');
      throw new Error(`nats-server did not accept JetStream clients on ${host}:${port} within 30s`);
    }
    await sleepMs(50);
  }
  return {
    url,
    pid: tied.pid,
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
 * Runs the server under a small POSIX shell that stops it when this process ends, however it ends (even SIGKILL):
 * the shell holds the read end of a pipe whose only write end is ours, so `read` returns when we die. The same
 * scheme as devserver.ts uses for the Temporal dev server. Removes DURABLE_CLAUDE_SCRATCH_DIR once the server is gone.
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
  const child = spawn('/bin/sh', ['-c', SERVER_WATCHDOG, 'durable-claude-nats-server', command, ...args], {
    stdio: ['pipe', 'pipe', out],
    detached: true,
    env: { ...process.env, DURABLE_CLAUDE_SCRATCH_DIR: scratchDir ?? '' },
  });
  // Never written: the pipe exists to be closed by our death.
  child.stdin!.on('error', () => undefined);
  const pid = await new Promise<number>((resolve, reject) => {
    let printed = '';
    const onData = (chunk: Buffer) => {
      printed += chunk.toString();
      if (!printed.includes('\n')) return;
      child.stdout!.off('data', onData);
      const line = printed.split('\n')[0]!;
      const serverPid = Number(line.trim());
      if (Number.isInteger(serverPid) && serverPid > 0) resolve(serverPid);
      else reject(new Error(`the nats-server watchdog printed ${JSON.stringify(line)} instead of a pid`));
    };
    child.stdout!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the nats-server watchdog exited with code ${code} before starting the server`)));
  });
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  return { child, pid };
}
