// Makes sure this machine has a Temporal CLI, a nats-server and gofakes3 (building each once from the Go module proxy
// if need be): the tests, the demo and `durable-claude dev` run the first two; the tests of s3Storage run gofakes3.
// The production-stack test runs Temporal's server on PostgreSQL: Debian's server binaries (in this machine kind's
// base image), installed from Debian's registry here when they are missing, so `npm test` alone is enough.
import { spawnSync } from 'node:child_process';
import { findTemporalCli } from '../src/devserver';
import { findNatsServer } from '../src/event-server';
import { findS3Server } from '../src/storage/s3-server';
import { findOtelCollector } from '../src/otel-collector';
import { findPostgresBinDir } from '../test/helpers/postgres';

async function main(): Promise<void> {
  const cli = await findTemporalCli();
  console.log(`[temporal-cli] using ${cli.path} (${cli.source})`);
  const nats = await findNatsServer();
  console.log(`[nats-server] using ${nats.path} (${nats.source})`);
  const s3 = await findS3Server();
  console.log(`[s3-server] using ${s3.path} (${s3.source})`);
  const collector = await findOtelCollector();
  console.log(`[otel-collector] using ${collector.path} (${collector.source})`);
  console.log(`[postgresql] using ${ensurePostgres()}`);
}

/** Debian's PostgreSQL server binaries, installed with apt-get (as root, where there is apt-get) when none are found. */
function ensurePostgres(): string {
  try {
    return findPostgresBinDir();
  } catch (missing) {
    if (process.getuid?.() !== 0 || spawnSync('sh', ['-c', 'command -v apt-get']).status !== 0) throw missing;
    console.log("[postgresql] server binaries missing: installing Debian's postgresql");
    const install = (...args: string[]) => spawnSync('apt-get', [...args], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
    const args = ['install', '-y', '--no-install-recommends', 'postgresql'];
    if (!install(...args) && !(install('update') && install(...args))) throw new Error('apt-get install postgresql failed (see above)', { cause: missing });
    return findPostgresBinDir();
  }
}

main().catch((err: unknown) => {
  console.error(`[ensure] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
