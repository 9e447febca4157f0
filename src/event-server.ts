import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { buildGoBinary, canConnect, freePort, locateLocalBinary, machineCacheDir, sleepMs, spawnTiedToThisProcess, type LocalBinary, type LocalBinarySource } from './local-servers';

/**
 * Finds (or builds, once per machine) the official NATS server, whose JetStream holds live output: the tests,
 * `durable-claude dev` and the demo run it on this machine; docker-compose runs the official image. Like the
 * Temporal CLI (devserver.ts), the last resort builds it from the Go module proxy, for machines without internet.
 */

export const NATS_SERVER_VERSION = '2.15.2';
const NATS_SERVER_PACKAGE = 'github.com/nats-io/nats-server/v2';
/** The Go module that pins the build (go.sum: every machine builds the same bytes). */
const NATS_SERVER_BUILD_MODULE = path.join(__dirname, '..', 'deploy', 'nats-server');

export type NatsServerSource = LocalBinarySource;

export type NatsServer = LocalBinary;

export interface FindNatsServerOptions {
  /** Build from the Go module proxy when nothing else is found. Default true. */
  build?: boolean;
  /** Progress lines (the build takes about a minute). Default: stderr. */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** Where this machine keeps the server it built, next to the Temporal CLI (same cache root as devserver.ts). */
export function natsServerCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(machineCacheDir(env), `nats-server-${NATS_SERVER_VERSION}`);
}

export function cachedNatsServerPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(natsServerCacheDir(env), 'bin', process.platform === 'win32' ? 'nats-server.exe' : 'nats-server');
}

/** Finds the server without building it: NATS_SERVER, then PATH, then this machine's cache. */
export function locateNatsServer(env: NodeJS.ProcessEnv = process.env): NatsServer | undefined {
  return locateLocalBinary({ envVar: 'NATS_SERVER', name: 'nats-server', cached: cachedNatsServerPath(env) }, env);
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

/** `go build` of the official server (through deploy/nats-server) into this machine's cache, once. */
export async function buildNatsServer(options: FindNatsServerOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  return buildGoBinary({
    label: 'nats-server',
    what: 'nats-server',
    goPackage: NATS_SERVER_PACKAGE,
    moduleDir: NATS_SERVER_BUILD_MODULE,
    target: cachedNatsServerPath(env),
    ldflags: '-s -w',
    withoutGo: `Install Go, or set NATS_SERVER to a nats-server binary (v${NATS_SERVER_VERSION} or newer).`,
    startNote: `v${NATS_SERVER_VERSION}, first time on this machine; takes a minute or two`,
    // 20 minutes is far past any real build (about a minute here).
    staleLockMs: 20 * 60_000,
    env,
    log: options.log ?? ((line: string) => process.stderr.write(`${line}\n`)),
  });
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
  const tied = await spawnTiedToThisProcess('durable-claude-nats-server', server.path, args, out, scratchDir);
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
