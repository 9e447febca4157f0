// A worker SIGKILLed while the model is streaming: Temporal retries the call on another worker, subscribers get an
// explicit reset of the dead attempt, and the text a UI shows — and the transcript — hold the reply whole, once.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AgentClient } from '../../src/client';
import type { NatsEventStore } from '../../src/streaming/nats-event-store';
import type { ConversationEvent } from '../../src/streaming/events';
import { FakeMessagesApi, reply, text } from '../../src/testing';
import { connectTestEventStore, testEventsUrl } from '../helpers/events';
import { connectTestTemporal, uniqueTaskQueue, type TestTemporal } from '../helpers/temporal';

const API_KEY = 'sk-ant-stream-crash-key-never-in-history';
const ANSWER = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ') + '.';

let temporal: TestTemporal;
let fake: FakeMessagesApi;
let store: NatsEventStore;
beforeAll(async () => {
  temporal = await connectTestTemporal();
  fake = await FakeMessagesApi.start();
  store = await connectTestEventStore();
});
afterAll(async () => {
  await store.close();
  await fake.close();
  await temporal.close();
});

function startWorker(taskQueue: string, ledger: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'worker-process.ts')], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: temporal.address,
      TASK_QUEUE: taskQueue,
      ANTHROPIC_API_KEY: API_KEY,
      FAKE_URL: fake.baseURL,
      BUNDLE: process.env.DURABLE_CLAUDE_TEST_BUNDLE!,
      LEDGER: ledger,
      EVENTS_URL: testEventsUrl(),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve(child));
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
  });
}

async function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

test('worker SIGKILL mid-stream: the attempt is reset for subscribers and the final text is whole and once', async () => {
  const taskQueue = uniqueTaskQueue('stream-crash');
  const ledger = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stream-crash-')), 'ledger.jsonl');
  const prompt = `Tell me a long story [${taskQueue}]`;
  // ~80 deltas of 4 characters, 40 ms apart: about 3 s of streaming, long enough to be killed in the middle.
  fake.addScript({ match: prompt, steps: [{ ...reply(text(ANSWER)), textChunkChars: 4, latency: { chunkMs: 40 } }] });
  const agent = new AgentClient({ client: temporal.client, taskQueue, events: store });
  let worker = await startWorker(taskQueue, ledger);
  try {
    const handle = await agent.start({ prompt, modelHeartbeatTimeout: '2s' });
    const events: ConversationEvent[] = [];
    let killed = false;
    for await (const event of handle.stream()) {
      events.push(event);
      if (!killed && events.filter((e) => e.type === 'text_delta').length === 10) {
        killed = true;
        await kill(worker, 'SIGKILL');
        worker = await startWorker(taskQueue, ledger);
      }
    }
    const result = await handle.result();
    // On a failure, the events other than deltas say what arrived.
    const outline = events.filter((e) => !e.type.endsWith('delta')).map((e) => `${e.offset} ${e.type} ${'attempt' in e ? e.attempt : ''}`);
    expect(killed).toBe(true);
    expect(result.status).toBe('completed');
    expect(result.text).toBe(ANSWER);
    const assistant = result.transcript!.messages.filter((m) => m.role === 'assistant');
    expect(assistant).toHaveLength(1);

    const starts = events.filter((e) => e.type === 'model_call_started');
    expect(starts.map((s) => s.type === 'model_call_started' && [s.call, s.attempt])).toEqual([
      [starts[0]!.type === 'model_call_started' ? starts[0]!.call : '', 1],
      [starts[0]!.type === 'model_call_started' ? starts[0]!.call : '', 2],
    ]);
    const call = starts[0]!.type === 'model_call_started' ? starts[0]!.call : '';
    const reset = events.findIndex((e) => e.type === 'model_call_reset' && e.call === call && e.attempt === 1);
    expect(reset).toBeGreaterThan(-1);
    const secondStart = events.indexOf(starts[1]!);
    expect(reset).toBeLessThan(secondStart);
    const deltasOf = (attempt: number) => events.flatMap((e) => (e.type === 'text_delta' && e.attempt === attempt ? [e.text] : []));
    // The dead attempt streamed part of the reply; the retried one all of it.
    expect(deltasOf(1).length).toBeGreaterThanOrEqual(10);
    expect(ANSWER.startsWith(deltasOf(1).join(''))).toBe(true);
    expect(deltasOf(1).join('')).not.toBe(ANSWER);
    expect(deltasOf(2).join('')).toBe(ANSWER);
    expect({ outline, turnFinished: events.filter((e) => e.type === 'turn_finished') }).toEqual({ outline, turnFinished: [expect.objectContaining({ text: ANSWER })] });
    expect(fake.requestsFor(prompt).length).toBe(2);
  } finally {
    await kill(worker, 'SIGTERM');
  }
});
