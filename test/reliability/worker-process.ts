// A worker in its own process, so the crash test can SIGKILL it. Its side-effecting tool keeps a ledger file: an
// approved change is applied once per idempotency key, and a retried duplicate is recorded and dropped. The tools'
// delays come in their input (drawn by the test from its seed), so this process has no randomness of its own.
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import Anthropic from '@anthropic-ai/sdk';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { z } from 'zod';
import { connectEventStore } from '../../src/streaming/nats-event-store';
import { defineTool } from '../../src/tools/define-tool';
import { createAgentWorker } from '../../src/worker';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

export interface LedgerLine {
  key: string;
  event: 'applied' | 'duplicate';
  pid: number;
  at: number;
}

function appliedKeys(ledger: string): Set<string> {
  if (!fs.existsSync(ledger)) return new Set();
  return new Set(
    fs
      .readFileSync(ledger, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as LedgerLine)
      .filter((line) => line.event === 'applied')
      .map((line) => line.key),
  );
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const ledger = env('LEDGER');
  const tools = [
    defineTool({
      name: 'lookup',
      description: 'Look something up',
      input: z.object({ query: z.string(), delayMs: z.number().int().nonnegative() }),
      timeout: '5s',
      run: async ({ query, delayMs }) => {
        await sleep(delayMs);
        return `found ${query}`;
      },
    }),
    defineTool({
      name: 'apply_change',
      description: 'Apply a change to the account (side effect)',
      input: z.object({ account: z.string(), cents: z.number().int(), delayMs: z.number().int().nonnegative(), settleMs: z.number().int().nonnegative() }),
      needsApproval: true,
      timeout: '5s',
      run: async ({ account, cents, delayMs, settleMs }, { idempotencyKey }) => {
        await sleep(delayMs);
        const event: LedgerLine['event'] = appliedKeys(ledger).has(idempotencyKey) ? 'duplicate' : 'applied';
        fs.appendFileSync(ledger, `${JSON.stringify({ key: idempotencyKey, event, pid: process.pid, at: Date.now() })}\n`);
        // A crash here, after the side effect and before the result is recorded, is what the ledger must survive.
        await sleep(settleMs);
        return event === 'applied' ? `applied ${cents} to ${account}` : `already applied to ${account}`;
      },
    }),
  ];
  const connection = await NativeConnection.connect({ address: env('TEMPORAL_ADDRESS') });
  // Live output, when the test asks for it: the crash test of a model stream reads what this worker publishes.
  const events = process.env.EVENTS_URL ? await connectEventStore({ servers: process.env.EVENTS_URL, name: `crash-worker-${process.pid}` }) : undefined;
  const worker = await createAgentWorker({
    connection,
    taskQueue: env('TASK_QUEUE'),
    tools,
    anthropic: new Anthropic({ apiKey: env('ANTHROPIC_API_KEY'), baseURL: env('FAKE_URL'), maxRetries: 0 }),
    workflowBundle: { codePath: env('BUNDLE') },
    ...(events ? { events } : {}),
    model: { heartbeatIntervalMs: 300 },
    // A killed worker's sticky queue holds workflow tasks until this passes; then any worker takes them.
    worker: { stickyQueueScheduleToStartTimeout: '1s', shutdownGraceTime: '1s' },
  });
  process.stdout.write('ready\n');
  await worker.run();
  await events?.close();
  await connection.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
