// What the Temporal dev server (devserver.ts) and the live-output event store (event-server.ts) share: finding a
// binary, building it once per machine from the Go module proxy, and running it tied to this process.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Where this machine keeps the binaries the project built: shared by every clone and CI run. */
export function machineCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DURABLE_CLAUDE_CACHE_DIR ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'durable-claude');
}

export function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export type LocalBinarySource = 'env' | 'path' | 'cache' | 'go-build';

export interface LocalBinary {
  path: string;
  source: LocalBinarySource;
}

/**
 * Finds a binary without building it: the environment variable that names it, then PATH, then this machine's cache.
 * Nothing in the temp directory is run: anyone can put a file there.
 */
export function locateLocalBinary(spec: { envVar: string; name: string; cached: string }, env: NodeJS.ProcessEnv): LocalBinary | undefined {
  const fromEnv = env[spec.envVar];
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`${spec.envVar}=${fromEnv} is not an executable file`);
    return { path: fromEnv, source: 'env' };
  }
  const fromPath = onPath(process.platform === 'win32' ? `${spec.name}.exe` : spec.name, env);
  if (fromPath) return { path: fromPath, source: 'path' };
  if (isExecutable(spec.cached)) return { path: spec.cached, source: 'cache' };
  return undefined;
}

export const sleepMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

export function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface GoBuild {
  /** Prefix of progress lines, e.g. 'temporal-cli'. */
  label: string;
  /** What is built, for messages, e.g. 'the Temporal CLI'. */
  what: string;
  goPackage: string;
  /** The Go module (go.mod, go.sum) that pins the build: every machine builds the same bytes. */
  moduleDir: string;
  /** Where the binary goes in this machine's cache. */
  target: string;
  ldflags: string;
  /** How to do without Go, for the error when there is none. */
  withoutGo: string;
  /** Said when the build starts, e.g. 'v1.5.1, first time on this machine; takes a few minutes'. */
  startNote: string;
  /** A lock older than this belongs to a build that died. */
  staleLockMs: number;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

function goBinary(build: GoBuild): string {
  const candidates = [onPath('go', build.env), '/usr/local/go/bin/go', '/usr/lib/go/bin/go'].filter((c): c is string => !!c && isExecutable(c));
  if (!candidates[0]) throw new Error(`Cannot build ${build.what}: no Go toolchain found. ${build.withoutGo}`);
  return candidates[0];
}

/** Runs `go build`, reporting progress every 15 s; the exit code. */
function runGoBuild(go: string, build: GoBuild, output: string, started: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const child = spawn(go, ['build', '-v', '-trimpath', '-ldflags', build.ldflags, '-o', output, build.goPackage], {
      cwd: build.moduleDir,
      env: { ...build.env, CGO_ENABLED: '0', GOFLAGS: '-mod=readonly', GOWORK: 'off' },
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
      build.log(`[${build.label}] still building: ${seconds}s, ${packages} packages compiled (last: ${lastLine.slice(0, 80)})`);
    }, 15_000);
    child.on('error', (err) => {
      clearInterval(ticker);
      reject(err);
    });
    child.on('close', (status) => {
      clearInterval(ticker);
      if (status !== 0) build.log(tail.join('\n'));
      resolve(status ?? 1);
    });
  });
}

/**
 * `go build` into this machine's cache, once. A lock directory keeps two processes (two jest runs, a CI run and a
 * demo) from building at once; the loser waits for the winner's binary.
 */
export async function buildGoBinary(build: GoBuild): Promise<string> {
  const { target, log } = build;
  const cacheDir = path.dirname(path.dirname(target));
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
      if (age > build.staleLockMs) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > build.staleLockMs + 5 * 60_000) throw new Error(`Timed out waiting for another build of ${build.what} (${lock})`);
      log(`[${build.label}] another process is building ${build.what}; waiting…`);
      await sleepMs(3_000);
    }
  }
  try {
    if (isExecutable(target)) return target;
    const go = goBinary(build);
    const staging = fs.mkdtempSync(path.join(cacheDir, 'staging-'));
    const built = path.join(staging, path.basename(target));
    log(`[${build.label}] building ${build.goPackage} with ${go}: ${build.startNote}`);
    const code = await runGoBuild(go, build, built, started);
    if (code !== 0 || !isExecutable(built)) {
      throw new Error(`go build ${build.goPackage} in ${build.moduleDir} failed with exit code ${code}; see the output above`);
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.renameSync(built, target);
    fs.rmSync(staging, { recursive: true, force: true });
    const version = spawnSync(target, ['--version'], { encoding: 'utf8' }).stdout.trim();
    log(`[${build.label}] built ${version} in ${Math.round((Date.now() - started) / 1000)}s → ${target}`);
    return target;
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Runs a server under a small POSIX shell that ends it when this process ends, however it ends: a normal exit,
 * an uncaught exception, a signal, even SIGKILL. The shell holds the read end of a pipe whose only write end is
 * ours; the kernel closes it when we die, `read` returns, and the shell stops the server (SIGTERM, SIGKILL after
 * 10 s) and removes its scratch directory. In its own session, so a terminal's Ctrl+C reaches only this process,
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

export interface TiedServer {
  /** The watchdog shell (or, on Windows, the server itself): it exits once the server has. */
  child: ChildProcess;
  /** The server's own pid. */
  pid: number;
}

/** Starts `command args` under the watchdog; `name` labels the shell in `ps` and in errors. */
export async function spawnTiedToThisProcess(
  name: string,
  command: string,
  args: string[],
  out: number | 'ignore',
  scratchDir: string | undefined,
): Promise<TiedServer> {
  if (process.platform === 'win32') {
    const child = spawn(command, args, { stdio: ['ignore', out, out] });
    return { child, pid: child.pid! };
  }
  const child = spawn('/bin/sh', ['-c', SERVER_WATCHDOG, name, command, ...args], {
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
      if (!printed.includes('\n')) return;
      child.stdout!.off('data', onData);
      const line = printed.split('\n')[0]!;
      const serverPid = Number(line.trim());
      if (Number.isInteger(serverPid) && serverPid > 0) resolve(serverPid);
      else reject(new Error(`the ${name} watchdog printed ${JSON.stringify(line)} instead of a pid`));
    };
    child.stdout!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the ${name} watchdog exited with code ${code} before starting the server`)));
  });
  // Only the child process itself keeps this process alive, as a plain spawn would.
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  return { child, pid };
}
