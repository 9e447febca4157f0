// Peer: durable-claude for the scenarios of conversations without end (long_chat, large_results) — a worker and a
// client in one process, as bench/peers/durable-claude.ts, configured as a long-running deployment would be:
// external storage on a directory (STORAGE_DIR) for worker and client, continue-as-new and the tool result cap at
// their defaults. One scenario per process, so the RSS it reports belongs to that scenario's worker alone.
// Protocol: `{"ready":true}`, then per request line ({ id, ... }) progress lines and one `{ id, result }` or `{ id, error }`.
import Anthropic from '@anthropic-ai/sdk';
import { Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import readline from 'node:readline';
import { AgentClient, createAgentWorker, defineTool } from '../../src';
import { fileSystemStorage } from '../../src/storage';
import { driveLongChat } from '../lib/long-chat-scenario';
import { driveLargeResults } from '../lib/large-results-scenario';
import type { LongPeerRequest } from '../lib/long-peer';
import { doWork, TOOL_DESCRIPTION, TOOL_NAME, workInput } from '../lib/work-tool';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const address = process.env.TEMPORAL_ADDRESS!;
  const taskQueue = `bench-durable-claude-long-${process.pid}`;
  const externalStorage = fileSystemStorage({ directory: process.env.STORAGE_DIR! });
  const work = defineTool({ name: TOOL_NAME, description: TOOL_DESCRIPTION, input: workInput, run: doWork });
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await createAgentWorker({
    connection: nativeConnection,
    taskQueue,
    tools: [work],
    anthropic: new Anthropic({ apiKey: 'sk-ant-bench', baseURL: process.env.FAKE_URL, maxRetries: 0 }),
    workflowBundle: { codePath: process.env.BUNDLE! },
    externalStorage,
  });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const agent = new AgentClient({ connection, taskQueue, externalStorage });
  const write = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);

  write({ ready: true });
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const request = JSON.parse(line) as LongPeerRequest;
    try {
      if (request.scenario === 'long_chat') {
        // Often enough that the harness can tell a slow chat from a hung one (it waits 5 minutes for a line).
        const every = Math.max(1, Math.min(250, Math.floor(request.shape.turns / 10)));
        const result = await driveLongChat(agent, request.shape, request.marker, (turn, turnMs) => {
          if (turn % every === 0) write({ id: request.id, progress: `turn ${turn}: ${turnMs.toFixed(1)} ms, RSS ${Math.round(process.memoryUsage().rss / 1024 / 1024)} MB` });
        });
        write({ id: request.id, result });
      } else {
        write({ id: request.id, result: await driveLargeResults(agent, request.spec) });
      }
    } catch (err) {
      write({ id: request.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  }
  worker.shutdown();
  await running;
  await connection.close();
  await nativeConnection.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
