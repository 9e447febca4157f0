// Peer: bare_temporal — the floor under every durable Temporal tool loop. A worker (worker.ts) and a client in one
// process, on the harness's dev server, with the default data converter; its workflow (workflows.ts) has a
// conversation's activity shape only.
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type WorkerOptions } from '@temporalio/worker';
import { errorMessage, servePeer } from '../../lib/peer-loop';
import { createBareWorker } from './worker';
import type { bareConversation } from './workflows';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const address = process.env.TEMPORAL_ADDRESS!;
  const taskQueue = `bench-bare-temporal-${process.pid}`;
  const overrides = process.env.BENCH_WORKER_OPTIONS ? (JSON.parse(process.env.BENCH_WORKER_OPTIONS) as Partial<WorkerOptions>) : {};
  const nativeConnection = await NativeConnection.connect({ address });
  // Bundled before the peer says it is ready, as the harness bundles durable-claude's: bundling is not timed.
  const worker = await createBareWorker({ connection: nativeConnection, taskQueue, fakeURL: process.env.FAKE_URL!, overrides });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const client = process.env.BENCH_NATIVE_CLIENT ? new Client({ connection: nativeConnection }) : new Client({ connection });
  let sequence = 0;

  await servePeer(
    async (spec) => {
      const t0 = performance.now();
      const workflowId = `bare-${process.pid}-${++sequence}`;
      try {
        const handle = await client.workflow.start<typeof bareConversation>('bareConversation', {
          taskQueue,
          workflowId,
          args: [{ prompt: spec.prompt, maxModelCalls: spec.turns + 2 }],
          ...(process.env.BENCH_NATIVE_CLIENT ? { requestEagerStart: true } : {}),
        });
        const result = await handle.result();
        const wallMs = performance.now() - t0;
        // The same conversation as the others', or its figures compare nothing.
        if (result.modelCalls !== spec.turns + 1 || result.stopReason !== 'end_turn') {
          throw new Error(`made ${result.modelCalls} model calls ending with ${result.stopReason}; the script has ${spec.turns + 1} ending with end_turn`);
        }
        return { prompt: spec.prompt, ok: true, wallMs, workflowId };
      } catch (err) {
        return { prompt: spec.prompt, ok: false, wallMs: performance.now() - t0, workflowId, error: errorMessage(err) };
      }
    },
    async () => {
      worker.shutdown();
      await running;
      await connection.close();
      await nativeConnection.close();
    },
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
