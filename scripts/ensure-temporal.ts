// Makes sure this machine has a Temporal CLI and a nats-server (building each once from the Go module proxy if need
// be): the tests, the demo and `durable-claude dev` run both.
import { findTemporalCli } from '../src/devserver';
import { findNatsServer } from '../src/event-server';

async function main(): Promise<void> {
  const cli = await findTemporalCli();
  console.log(`[temporal-cli] using ${cli.path} (${cli.source})`);
  const nats = await findNatsServer();
  console.log(`[nats-server] using ${nats.path} (${nats.source})`);
}

main().catch((err: unknown) => {
  console.error(`[ensure] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
