// Makes sure this machine has a Temporal CLI (building it once from the Go module proxy if need be).
import { findTemporalCli } from '../src/devserver';

findTemporalCli()
  .then((cli) => console.log(`[temporal-cli] using ${cli.path} (${cli.source})`))
  .catch((err: unknown) => {
    console.error(`[temporal-cli] ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
