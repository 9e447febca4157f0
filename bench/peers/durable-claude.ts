// Peer: durable-claude — a worker and a client in one process, on the harness's dev server, with the workflow
// bundle the harness built once (so bundling is not timed). With EVENTS_URL (the harness's NATS server) a second
// worker publishes live output there, on its own task queue, for the streaming scenario; the first stays without.
import Anthropic from '@anthropic-ai/sdk';
import { temporal } from '@temporalio/proto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type WorkerOptions } from '@temporalio/worker';
import { AgentClient, createAgentWorker, defineTool, type ConversationHandle } from '../../src';
import { MarkClock, now } from '../lib/delta-marks';
import { errorMessage, servePeer } from '../lib/peer-loop';
import { BENCH_MODEL, type ConversationOutcome, type ConversationSpec } from '../lib/protocol';
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
  // BENCH_NATIVE_CLIENT: the client on the worker's NativeConnection (AgentClient then starts conversations eagerly).
  const client = process.env.BENCH_NATIVE_CLIENT ? new Client({ connection: nativeConnection }) : new Client({ connection });
  const agent = new AgentClient({ client, taskQueue });
  // Started by the first streaming conversation (a warm-up), so the other scenarios run beside no second worker.
  let live: ReturnType<typeof startLiveWorker> | undefined;
  const liveWorker = () => {
    if (!process.env.EVENTS_URL) throw new Error('no EVENTS_URL: the harness started no event server');
    return (live ??= startLiveWorker(process.env.EVENTS_URL));
  };

  /** Worker and client each with their own connection to the event server, as on two machines. */
  async function startLiveWorker(servers: string) {
    const { connectEventStore } = await import('../../src/streaming/nats-event-store');
    const workerEvents = await connectEventStore({ servers });
    const clientEvents = await connectEventStore({ servers });
    // As long as the other queue's name, so the history comparison sees live output only.
    const liveTaskQueue = taskQueue.replace('durable-claude', 'durable-events');
    const eventsWorker = await createAgentWorker({
      connection: nativeConnection,
      taskQueue: liveTaskQueue,
      tools: [work],
      anthropic: new Anthropic({ apiKey: 'sk-ant-bench', baseURL: process.env.FAKE_URL, maxRetries: 0 }),
      workflowBundle: { codePath: process.env.BUNDLE! },
      worker: workerOptions,
      events: workerEvents,
    });
    const liveRunning = eventsWorker.run();
    return {
      agent: new AgentClient({ client, taskQueue: liveTaskQueue, events: clientEvents }),
      async stop() {
        eventsWorker.shutdown();
        await liveRunning;
        await Promise.all([workerEvents.close(), clientEvents.close()]);
      },
    };
  }

  async function measureHistory(handle: ConversationHandle): Promise<Pick<ConversationOutcome, 'historyProtoBytes' | 'historyJsonBytes' | 'historySignals' | 'historyUpdates'>> {
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    return {
      historyProtoBytes: temporal.api.history.v1.History.encode(history).finish().length,
      historyJsonBytes: Buffer.byteLength(JSON.stringify(history)),
      historySignals: events.filter((event) => event.workflowExecutionSignaledEventAttributes).length,
      historyUpdates: events.filter((event) => event.workflowExecutionUpdateAcceptedEventAttributes).length,
    };
  }

  /**
   * The streaming scenario. on: the live worker, and handle.stream() read from the client's own event-store
   * connection, each text mark stamped as its event arrives; off: the same conversation on the worker without events.
   */
  async function runStreamingConversation(spec: ConversationSpec): Promise<ConversationOutcome> {
    const t0 = performance.now();
    let workflowId: string | undefined;
    try {
      const on = spec.stream?.mode === 'on';
      const handle = await (on ? (await liveWorker()).agent : agent).start({ prompt: spec.prompt, model: BENCH_MODEL, maxTokens: 1024, tools: [TOOL_NAME], limits: { maxIterations: spec.turns + 2 } });
      workflowId = handle.conversationId;
      const clock = new MarkClock();
      let eventsReceived = 0;
      let modelCalls = 0;
      const reading = on
        ? (async () => {
            for await (const event of handle.stream()) {
              const at = now();
              eventsReceived++;
              if (event.type === 'text_delta') clock.add(`${event.call}/${event.attempt}/${event.index}`, event.text, at);
              else if (event.type === 'model_call_started') modelCalls++;
            }
          })()
        : Promise.resolve();
      const result = await handle.result();
      await reading;
      const wallMs = performance.now() - t0;
      if (result.status !== 'completed') throw new Error(`finished with status ${result.status}`);
      return {
        prompt: spec.prompt,
        ok: true,
        wallMs,
        workflowId,
        modelCalls: on ? modelCalls : spec.turns + 1,
        ...(on ? { eventsReceived, deltaReceipts: clock.receipts() } : {}),
        ...(await measureHistory(handle)),
      };
    } catch (err) {
      return { prompt: spec.prompt, ok: false, wallMs: performance.now() - t0, ...(workflowId ? { workflowId } : {}), error: errorMessage(err) };
    }
  }

  await servePeer(
    async (spec, { historyBytes }) => {
      if (spec.stream) return runStreamingConversation(spec);
      const t0 = performance.now();
      let workflowId: string | undefined;
      try {
        const handle = await agent.start({
          prompt: spec.prompt,
          model: BENCH_MODEL,
          maxTokens: 1024,
          tools: [TOOL_NAME],
          limits: { maxIterations: spec.turns + 2 },
          ...(spec.system !== undefined ? { system: spec.system } : {}),
          ...(spec.threads !== undefined ? { threads: spec.threads } : {}),
        });
        workflowId = handle.conversationId;
        const result = await handle.result();
        const wallMs = performance.now() - t0;
        if (result.status !== 'completed') throw new Error(`finished with status ${result.status}`);
        if (!historyBytes) return { prompt: spec.prompt, ok: true, wallMs, workflowId };
        return { prompt: spec.prompt, ok: true, wallMs, workflowId, ...(await measureHistory(handle)) };
      } catch (err) {
        return { prompt: spec.prompt, ok: false, wallMs: performance.now() - t0, ...(workflowId ? { workflowId } : {}), error: errorMessage(err) };
      }
    },
    async () => {
      worker.shutdown();
      await running;
      await live?.then((started) => started.stop(), () => undefined);
      await connection.close();
      await nativeConnection.close();
    },
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
