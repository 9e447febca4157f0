// A throwaway PostgreSQL cluster for the tests that run Temporal's server on it (test/production-stack.test.ts):
// Debian's postgresql server binaries, initdb into a temp directory, a free port on loopback, its socket in /tmp.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canConnect, freePort, isExecutable, onPath, sleepMs, spawnTiedToThisProcess } from '../../src/local-servers';

/** Where the server binaries are: POSTGRES_BIN_DIR, else Debian's newest /usr/lib/postgresql/N/bin, else initdb on PATH. */
export function findPostgresBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const candidates: string[] = [];
  if (env.POSTGRES_BIN_DIR) candidates.push(env.POSTGRES_BIN_DIR);
  const debian = '/usr/lib/postgresql';
  if (fs.existsSync(debian)) {
    const versions = fs.readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => path.join(debian, v, 'bin')));
  }
  const initdbOnPath = onPath('initdb', env);
  if (initdbOnPath) candidates.push(path.dirname(fs.realpathSync(initdbOnPath)));
  const found = candidates.find((dir) => isExecutable(path.join(dir, 'initdb')) && isExecutable(path.join(dir, 'postgres')));
  if (!found) {
    throw new Error(
      "PostgreSQL's server is not installed: `apt-get install -y postgresql` (Debian; this kind of machine has it in its base image), or set POSTGRES_BIN_DIR to the directory of initdb and postgres.",
    );
  }
  return found;
}

/**
 * PostgreSQL refuses to run as root. As root, the cluster's files belong to, and its processes run as, this
 * unprivileged account (Debian's package creates `postgres`); as anyone else, as that user.
 */
function clusterOwner(): { uid: number; gid: number; name: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const entry = spawnSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).stdout.trim();
  const [name, , uid, gid] = entry.split(':');
  if (!name || !uid || !gid) throw new Error('Running as root, and there is no `postgres` account to run PostgreSQL as (Debian\'s postgresql package creates it).');
  return { name, uid: Number(uid), gid: Number(gid) };
}

export interface PostgresCluster {
  host: string;
  port: number;
  /** The superuser the cluster was created with, and its password (TCP connections need it). */
  user: string;
  password: string;
  binDir: string;
  stop(): Promise<void>;
}

export interface PostgresClusterOptions {
  user: string;
  password: string;
  log?: (line: string) => void;
}

/** initdb, then `postgres` on 127.0.0.1 and a free port; resolves once it accepts connections. Stop removes everything. */
export async function startPostgresCluster(options: PostgresClusterOptions): Promise<PostgresCluster> {
  const binDir = findPostgresBinDir();
  const owner = clusterOwner();
  const asOwner = (command: string, args: string[]): [string, string[]] =>
    owner ? ['setpriv', ['--reuid', String(owner.uid), '--regid', String(owner.gid), '--clear-groups', command, ...args]] : [command, args];
  // Data and the unix socket in /tmp: the socket path must stay under 108 bytes, and the owner must reach both.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-claude-pg-'));
  const dataDir = path.join(root, 'data');
  const socketDir = path.join(root, 'socket');
  fs.mkdirSync(socketDir);
  const passwordFile = path.join(root, 'password');
  fs.writeFileSync(passwordFile, `${options.password}\n`, { mode: 0o600 });
  if (owner) for (const entry of [root, socketDir, passwordFile]) fs.chownSync(entry, owner.uid, owner.gid);
  const cleanUp = () => fs.rmSync(root, { recursive: true, force: true });
  try {
    // The superuser is the one Temporal connects as, like the compose file's POSTGRES_USER; passwords over TCP.
    const [initdb, initdbArgs] = asOwner(path.join(binDir, 'initdb'), [
      '-D', dataDir, '-U', options.user, `--pwfile=${passwordFile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-sync',
    ]);
    const init = spawnSync(initdb, initdbArgs, { encoding: 'utf8', cwd: root });
    if (init.status !== 0) throw new Error(`initdb failed (exit ${init.status}): ${init.stderr || init.stdout}`);
  } catch (err) {
    cleanUp();
    throw err;
  }
  const host = '127.0.0.1';
  const port = await freePort(host);
  const logFile = path.join(root, 'postgres.log');
  const out = fs.openSync(logFile, 'a');
  // fsync off: the cluster lives as long as the test; the server restarts in the tests are Temporal's, not this one's.
  const [postgres, postgresArgs] = asOwner(path.join(binDir, 'postgres'), [
    '-D', dataDir, '-p', String(port), '-k', socketDir, '-c', `listen_addresses=${host}`, '-c', 'fsync=off', '-c', 'max_connections=200',
  ]);
  // The watchdog removes the whole directory once the server has exited, however this process ends.
  const tied = await spawnTiedToThisProcess('durable-claude-postgres', postgres, postgresArgs, out, root);
  fs.closeSync(out);
  let exited: number | null | undefined;
  tied.child.on('exit', (code) => (exited = code));
  const deadline = Date.now() + 60_000;
  while (!(await canConnect(host, port))) {
    if (exited !== undefined || Date.now() > deadline) {
      const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
      throw new Error(`PostgreSQL ${exited !== undefined ? `exited with code ${exited}` : 'did not listen within 60 s'}: ${log.slice(-2000)}`);
    }
    await sleepMs(100);
  }
  options.log?.(`[postgres] ${binDir}/postgres on ${host}:${port}${owner ? ` as ${owner.name}` : ''}, data in ${dataDir}`);
  return {
    host,
    port,
    user: options.user,
    password: options.password,
    binDir,
    async stop() {
      if (exited !== undefined) return;
      const done = new Promise<void>((resolve) => tied.child.once('exit', () => resolve()));
      try {
        // SIGINT: PostgreSQL's fast shutdown (ends sessions, no waiting for clients).
        process.kill(tied.pid, 'SIGINT');
      } catch {
        return;
      }
      await done;
      cleanUp();
    },
  };
}
