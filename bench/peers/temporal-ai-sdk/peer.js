// Peer: @temporalio/ai-sdk 1.23.0 — Temporal's own AI SDK integration — with @ai-sdk/anthropic pointed at the
// harness's fake Messages API. Runs on Node 22 (its requirement): a worker and a client in one process, speaking
// the harness's JSON-lines protocol (bench/lib/protocol.ts). Its tools run as activities, as its samples do.
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createAnthropic } from '@ai-sdk/anthropic';
import { AiSdkPlugin } from '@temporalio/ai-sdk';
import { Client, Connection } from '@temporalio/client';
import { WorkflowStreamClient } from '@temporalio/workflow-streams/client';
import proto from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';

const address = process.env.TEMPORAL_ADDRESS;
const taskQueue = `bench-temporal-ai-sdk-${process.pid}`;
Runtime.install({ logger: new DefaultLogger('ERROR') });

// The same tool as the other peers (bench/lib/work-tool.ts).
async function work({ ms, bytes, turn, call }) {
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  const head = `result of turn ${turn} call ${call}`;
  return bytes > head.length ? head + 'x'.repeat(bytes - head.length) : head;
}

const nativeConnection = await NativeConnection.connect({ address });
const worker = await Worker.create({
  connection: nativeConnection,
  taskQueue,
  workflowsPath: fileURLToPath(new URL('./workflows.js', import.meta.url)),
  activities: { work },
  plugins: [new AiSdkPlugin({ modelProvider: createAnthropic({ apiKey: 'sk-ant-bench', baseURL: `${process.env.FAKE_URL}/v1` }) })],
  // The same activity slots as durable-claude's worker, so neither queues tools the other runs.
  maxConcurrentActivityTaskExecutions: 200,
  ...(process.env.BENCH_WORKER_OPTIONS ? JSON.parse(process.env.BENCH_WORKER_OPTIONS) : {}),
});
const running = worker.run();
// A large receive limit, so the history of a long conversation can still be fetched and measured.
const connection = await Connection.connect({ address, channelArgs: { 'grpc.max_receive_message_length': 256 * 1024 * 1024 } });
const client = new Client({ connection });
let sequence = 0;

function innermostMessage(err) {
  let message = String(err);
  for (let current = err, depth = 0; current instanceof Error && depth < 10; current = current.cause, depth++) message = current.message || message;
  return message;
}

async function measureHistory(handle) {
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  return {
    historyProtoBytes: proto.temporal.api.history.v1.History.encode(history).finish().length,
    historyJsonBytes: Buffer.byteLength(JSON.stringify(history)),
    historySignals: events.filter((event) => event.workflowExecutionSignaledEventAttributes).length,
    historyUpdates: events.filter((event) => event.workflowExecutionUpdateAcceptedEventAttributes).length,
  };
}

const now = () => performance.timeOrigin + performance.now();
const textDecoder = new TextDecoder();

/**
 * When each marked text piece ("w00042 ", bench/lib/delta-marks.ts) arrived, however the text was cut into deltas:
 * pieces are assembled per stream part id and stamped when their last character arrives.
 */
class MarkClock {
  receipts = [];
  #pending = new Map();
  add(key, text, at) {
    const buffer = (this.#pending.get(key) ?? '') + text;
    const marks = /w\d{5} /g;
    let consumed = 0;
    for (let match = marks.exec(buffer); match; match = marks.exec(buffer)) {
      this.receipts.push([match[0].trimEnd(), at]);
      consumed = marks.lastIndex;
    }
    this.#pending.set(key, buffer.slice(consumed));
  }
}

/**
 * The streaming scenario: streamText on the Workflow Stream, and a client subscribed to its topic over this
 * process's client connection (not the worker's), reading until every model call's `finish` part has arrived.
 * `spec.stream.aiSdk` sets the two latency knobs (publish batch interval, poll cooldown); absent, the defaults.
 */
async function runStreamingConversation(spec, { historyBytes }) {
  const t0 = performance.now();
  const workflowId = `ai-sdk-stream-${process.pid}-${++sequence}`;
  const handle = client.workflow.getHandle(workflowId);
  const modelCalls = spec.turns + 1;
  const streamingTopic = 'model-stream';
  try {
    if (spec.stream.mode === 'off') {
      await client.workflow.start('aiSdkAgent', { taskQueue, workflowId, args: [{ prompt: spec.prompt, model: 'claude-sonnet-5-5', maxSteps: modelCalls + 1 }] });
      const result = await handle.result();
      if (result.steps !== modelCalls) throw new Error(`ran ${result.steps} steps, expected ${modelCalls}`);
      return { prompt: spec.prompt, ok: true, wallMs: performance.now() - t0, workflowId, modelCalls, ...(historyBytes ? await measureHistory(handle) : {}) };
    }
    await client.workflow.start('aiSdkStreamingAgent', {
      taskQueue,
      workflowId,
      args: [
        {
          prompt: spec.prompt,
          model: 'claude-sonnet-5-5',
          maxSteps: modelCalls + 1,
          streamingTopic,
          ...(spec.stream.aiSdk ? { streamingBatchInterval: spec.stream.aiSdk.batchIntervalMs } : {}),
        },
      ],
    });
    const subscribeOptions = spec.stream.aiSdk ? { pollCooldown: spec.stream.aiSdk.pollCooldownMs } : undefined;
    const clock = new MarkClock();
    let eventsReceived = 0;
    let finished = 0;
    for await (const item of WorkflowStreamClient.create(client, workflowId).subscribe(streamingTopic, 0, subscribeOptions)) {
      const at = now();
      eventsReceived++;
      const part = JSON.parse(textDecoder.decode(item.data.data));
      if (part.type === 'text-delta') clock.add(part.id, part.delta, at);
      if (part.type === 'finish' && ++finished === modelCalls) break;
    }
    await handle.signal('subscriberDone');
    const result = await handle.result();
    const wallMs = performance.now() - t0;
    if (result.steps !== modelCalls) throw new Error(`ran ${result.steps} steps, expected ${modelCalls}`);
    return {
      prompt: spec.prompt,
      ok: true,
      wallMs,
      workflowId,
      modelCalls,
      eventsReceived,
      deltaReceipts: clock.receipts,
      ...(historyBytes ? await measureHistory(handle) : {}),
    };
  } catch (err) {
    return { prompt: spec.prompt, ok: false, wallMs: performance.now() - t0, workflowId, error: innermostMessage(err) };
  }
}

async function runConversation(spec, { historyBytes }) {
  if (spec.stream) return runStreamingConversation(spec, { historyBytes });
  const t0 = performance.now();
  const workflowId = `ai-sdk-${process.pid}-${++sequence}`;
  const handle = client.workflow.getHandle(workflowId);
  try {
    await client.workflow.start('aiSdkAgent', {
      taskQueue,
      workflowId,
      args: [{ prompt: spec.prompt, model: 'claude-sonnet-5-5', maxSteps: spec.turns + 2, ...(spec.system !== undefined ? { system: spec.system } : {}) }],
    });
    const result = await handle.result();
    const wallMs = performance.now() - t0;
    if (result.steps !== spec.turns + 1) throw new Error(`ran ${result.steps} steps, expected ${spec.turns + 1}`);
    return { prompt: spec.prompt, ok: true, wallMs, workflowId, ...(historyBytes ? await measureHistory(handle) : {}) };
  } catch (err) {
    const wallMs = performance.now() - t0;
    // A run that failed still has a history; its size up to the failure is part of the story.
    const sizes = historyBytes ? await measureHistory(handle).catch(() => ({})) : {};
    return { prompt: spec.prompt, ok: false, wallMs, workflowId, error: innermostMessage(err), ...sizes };
  }
}

process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const request = JSON.parse(line);
  const started = performance.now();
  const conversations = await Promise.all(request.conversations.map((spec) => runConversation(spec, { historyBytes: request.historyBytes })));
  process.stdout.write(`${JSON.stringify({ id: request.id, totalMs: performance.now() - started, conversations, rssBytes: process.memoryUsage().rss, peerNow: now() })}\n`);
}
worker.shutdown();
await running;
await connection.close();
await nativeConnection.close();
process.exit(0);
