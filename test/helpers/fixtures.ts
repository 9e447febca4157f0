// Recorded histories of every scenario, replayed by test/replay.test.ts against the current workflow code on every
// run: a change that would break running conversations fails CI. A fixture is written when it is missing, or for
// all scenarios with DURABLE_CLAUDE_RECORD_FIXTURES=1 (only when a change is meant to be incompatible, with patched()).
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const FIXTURES_DIR = path.join(__dirname, '..', 'fixtures', 'histories');

export async function recordHistoryFixture(client: Client, name: string, workflowId: string): Promise<void> {
  const file = path.join(FIXTURES_DIR, `${name}.json`);
  if (fs.existsSync(file) && !process.env.DURABLE_CLAUDE_RECORD_FIXTURES) return;
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  fs.mkdirSync(FIXTURES_DIR, { recursive: true });
  // Proto3 JSON, the format of `temporal workflow show --output json`.
  fs.writeFileSync(file, `${historyToJSON(history)}\n`);
}
