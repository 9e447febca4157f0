// Makes sure this machine has a Temporal CLI, a nats-server and gofakes3 (building each once from the Go module proxy
// if need be): the tests, the demo and `durable-claude dev` run the first two; the tests of s3Storage run gofakes3.
import { findTemporalCli } from '../src/devserver';
import { findNatsServer } from '../src/event-server';
import { findS3Server } from '../src/storage/s3-server';
import { findOtelCollector } from '../src/otel-collector';

async function main(): Promise<void> {
  const cli = await findTemporalCli();
  console.log(`[temporal-cli] using ${cli.path} (${cli.source})`);
  const nats = await findNatsServer();
  console.log(`[nats-server] using ${nats.path} (${nats.source})`);
  const s3 = await findS3Server();
  console.log(`[s3-server] using ${s3.path} (${s3.source})`);
  const collector = await findOtelCollector();
  console.log(`[otel-collector] using ${collector.path} (${collector.source})`);
}

main().catch((err: unknown) => {
  console.error(`[ensure] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
