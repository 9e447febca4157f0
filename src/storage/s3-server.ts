// An S3-compatible server on this machine, for the tests of s3Storage: gofakes3 (MIT), built once from the Go module
// proxy like the Temporal CLI and nats-server (deploy/s3-server pins it). docker-compose runs MinIO instead; MinIO is
// AGPL-licensed, so this MIT project builds no copy of it.
import path from 'node:path';
import { buildGoBinary, canConnect, freePort, locateLocalBinary, sleepMs, spawnTiedToThisProcess, machineCacheDir, type LocalBinary } from '../local-servers';

export const S3_SERVER_VERSION = '1.2.0';
const S3_SERVER_PACKAGE = 'github.com/johannesboyne/gofakes3/cmd/gofakes3';
const S3_SERVER_BUILD_MODULE = path.join(__dirname, '..', '..', 'deploy', 's3-server');

export function cachedS3ServerPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(machineCacheDir(env), `gofakes3-${S3_SERVER_VERSION}`, 'bin', process.platform === 'win32' ? 'gofakes3.exe' : 'gofakes3');
}

/** GOFAKES3 (a path), then `gofakes3` on PATH, then this machine's cache; built from the Go module proxy if none. */
export async function findS3Server(options: { build?: boolean; log?: (line: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<LocalBinary> {
  const env = options.env ?? process.env;
  const found = locateLocalBinary({ envVar: 'GOFAKES3', name: 'gofakes3', cached: cachedS3ServerPath(env) }, env);
  if (found) return found;
  if (options.build === false) throw new Error('No gofakes3 found: set GOFAKES3, put `gofakes3` on PATH, or run `npm run temporal:ensure` to build it.');
  const built = await buildGoBinary({
    label: 's3-server',
    what: 'gofakes3 (an S3-compatible server)',
    goPackage: S3_SERVER_PACKAGE,
    moduleDir: S3_SERVER_BUILD_MODULE,
    target: cachedS3ServerPath(env),
    ldflags: '-s -w',
    withoutGo: 'Install Go, or set GOFAKES3 to a gofakes3 binary.',
    startNote: `v${S3_SERVER_VERSION}, first time on this machine; takes about a minute`,
    staleLockMs: 20 * 60_000,
    env,
    log: options.log ?? ((line: string) => process.stderr.write(`${line}\n`)),
  });
  return { path: built, source: 'go-build' };
}

export interface S3Server {
  /** http://host:port, for s3Storage({ endpoint, forcePathStyle: true }). */
  endpoint: string;
  stop(): Promise<void>;
}

/** gofakes3 with its objects in memory; resolves once it accepts connections. */
export async function startS3Server(options: { port?: number; host?: string; log?: (line: string) => void } = {}): Promise<S3Server> {
  const server = await findS3Server(options.log ? { log: options.log } : {});
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort(host));
  const tied = await spawnTiedToThisProcess('durable-claude-s3-server', server.path, ['-backend', 'memory', '-host', `${host}:${port}`, '-quiet'], 'ignore', undefined);
  let exited: number | null | undefined;
  tied.child.on('exit', (code) => {
    exited = code;
  });
  const deadline = Date.now() + 30_000;
  while (!(await canConnect(host, port))) {
    if (exited !== undefined) throw new Error(`gofakes3 exited with code ${exited}`);
    if (Date.now() > deadline) throw new Error(`gofakes3 did not listen on ${host}:${port} within 30s`);
    await sleepMs(50);
  }
  return {
    endpoint: `http://${host}:${port}`,
    async stop() {
      if (exited !== undefined) return;
      const done = new Promise<void>((resolve) => tied.child.once('exit', () => resolve()));
      try {
        process.kill(tied.pid, 'SIGTERM');
      } catch {
        return;
      }
      await done;
    },
  };
}
