// Peer: durable-claude — a worker and a client in one process, on the harness's dev server, with the workflow
// bundle the harness built once (so bundling is not timed).
import Anthropic from '@anthropic-ai/sdk';
import { temporal } from '@temporalio/proto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type WorkerOptions } from '@temporalio/worker';
import { AgentClient, createAgentWorker, defineTool } from '../../src';
import { errorMessage, servePeer } from '../lib/peer-loop';
import { BENCH_MODEL } from '../lib/protocol';
import { doWork, TOOL_DESCRIPTION, TOOL_NAME, workInput } from '../lib/work-tool';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const address = process.env.TEMPORAL_ADDRESS!;
  const taskQueue = `bench-durable-claude-${process.pid}`;
  const work = defineTool({ name: TOOL_NAME, description: TOOL_DESCRIPTION, input: workInput, run: doWork });
  const nativeConnection = await NativeConnection.connect({ address });
  const workerOptions = process.env.BENCH_WORKER_OPTIONS ? (JSON.parse(process.env.BENCH_WORKER_OPTIONS) as Partial<WorkerOptions>) : {};
  const worker = await createAgentWorker({
    connection: nativeConnection,
    taskQueue,
    tools: [work],
    anthropic: new Anthropic({ apiKey: 'sk-ant-bench', baseURL: process.env.FAKE_URL, maxRetries: 0 }),
    workflowBundle: { codePath: process.env.BUNDLE! },
    worker: workerOptions,
  });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const agent = new AgentClient({ client, taskQueue });

  await servePeer(
    async (spec, { historyBytes }) => {
      const t0 = performance.now();
      let workflowId: string | undefined;
      try {
        const handle = await agent.start({
          prompt: spec.prompt,
          model: BENCH_MODEL,
          maxTokens: 1024,
          tools: [TOOL_NAME],
          limits: { maxIterations: spec.turns + 2 },
        });
        workflowId = handle.conversationId;
        const result = await handle.result();
        const wallMs = performance.now() - t0;
        if (result.status !== 'completed') throw new Error(`finished with status ${result.status}`);
        if (!historyBytes) return { prompt: spec.prompt, ok: true, wallMs, workflowId };
        const history = await handle.fetchHistory();
        return {
          prompt: spec.prompt,
          ok: true,
          wallMs,
          workflowId,
          historyProtoBytes: temporal.api.history.v1.History.encode(history).finish().length,
          historyJsonBytes: Buffer.byteLength(JSON.stringify(history)),
        };
      } catch (err) {
        return { prompt: spec.prompt, ok: false, wallMs: performance.now() - t0, ...(workflowId ? { workflowId } : {}), error: errorMessage(err) };
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
