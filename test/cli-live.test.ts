// The CLI's live output: the built `durable-claude` as a child process with an event store (--events), against the
// real dev server, nats-server and a worker that publishes to it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { exampleTools } from '../src/examples/tools';
import type { NatsEventStore } from '../src/streaming/nats-event-store';
import { reply, text, toolUse } from '../src/testing';
import { connectTestEventStore, testEventsUrl } from './helpers/events';
import { startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';
import { uniqueTaskQueue } from './helpers/temporal';

const BIN = path.join(__dirname, '..', 'lib', 'cli', 'main.js');

function cliProcess(args: string[], env: NodeJS.ProcessEnv = {}, input = '') {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, DURABLE_CLAUDE_EVENTS: undefined, ...env } as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  child.stdin.end(input);
  return { done, stdout: () => stdout };
}

let harness: Harness;
let store: NatsEventStore;
let taskQueue: string;
let common: string[];
beforeAll(async () => {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: npm test builds it first (npm run build)`);
  harness = await startHarness();
  store = await connectTestEventStore();
  taskQueue = uniqueTaskQueue('cli-live');
  common = ['--address', harness.temporal.address, '--task-queue', taskQueue];
});
afterAll(async () => {
  await store.close();
  await harness.close();
});

const SLOW_ANSWER = Array.from({ length: 30 }, (_, i) => `part${i}`).join(' ');

/** What the terminal showed at a moment when SLOW_ANSWER was on it in part only; '' if never seen so. */
async function partialAnswerOnScreen(stdout: () => string): Promise<string> {
  for (let i = 0; i < 400; i++) {
    const out = stdout();
    if (out.includes('part3 ') && !out.includes('part29')) return out;
    if (out.includes('part29')) return '';
    await sleep(25);
  }
  return '';
}

test('run prints the text as it streams, tools and the approval as they happen; watch --from-start replays it', async () => {
  const prompt = uniquePrompt('Weather in Paris, then email the team');
  harness.fake.addScript({
    match: prompt,
    steps: [
      reply(text('Checking.'), toolUse('get_weather', { location: 'Paris' })),
      reply(toolUse('send_email', { to: 'team@example.com', subject: 'Paris', body: 'Sunny.' })),
      { ...reply(text(SLOW_ANSWER)), textChunkChars: 6, latency: { chunkMs: 60 } },
    ],
  });
  await withWorker(harness, { tools: exampleTools(), taskQueue, events: store }, async () => {
    const run = cliProcess(['run', prompt, '--tools', 'get_weather,send_email', '--yes', '--id', `live-${taskQueue}`, '--events', testEventsUrl(), ...common]);
    // Part of the last answer is on screen while the rest is still being written: it streams, not turn by turn.
    const partial = await partialAnswerOnScreen(run.stdout);
    const { code, stdout, stderr } = await run.done;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(partial).not.toBe('');
    expect(stdout).toContain('  → get_weather {"location":"Paris"}');
    expect(stdout).toContain('  ⚙ get_weather running');
    expect(stdout).toContain('  ⏸ send_email waits for approval');
    expect(stdout).toMatch(/✔ approved send_email by \S+: approved with --yes/);
    expect(stdout).toContain(`claude › ${SLOW_ANSWER}\n`);
    expect(stdout).toMatch(/✔ completed · 3 turns/);

    const watched = await cliProcess(['watch', `live-${taskQueue}`, '--from-start', ...common], { DURABLE_CLAUDE_EVENTS: testEventsUrl() }).done;
    expect(watched.code).toBe(0);
    expect(watched.stdout).toContain(`claude › ${SLOW_ANSWER}\n`);
    expect(watched.stdout).toContain('  ⏸ send_email waits for approval');
    const json = await cliProcess(['watch', `live-${taskQueue}`, '--from-start', '--json', ...common], { DURABLE_CLAUDE_EVENTS: testEventsUrl() }).done;
    const events = json.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; offset: number });
    expect(events[events.length - 1]!.type).toBe('conversation_finished');
    expect(events.map((e) => e.offset)).toEqual([...events.map((e) => e.offset)].sort((a, b) => a - b));
  });
});

test('chat streams each reply from the events, once, and ends on /end', async () => {
  const first = uniquePrompt('Hello there');
  harness.fake.addScript({
    match: first,
    steps: [
      { ...reply(text(SLOW_ANSWER)), textChunkChars: 6, latency: { chunkMs: 40 } },
      { ...reply(text('Second answer, streamed too.')), textChunkChars: 4 },
    ],
  });
  await withWorker(harness, { tools: exampleTools(), taskQueue, events: store }, async () => {
    const chat = cliProcess(['chat', '--yes', '--id', `chat-${taskQueue}`, '--events', testEventsUrl(), ...common], {}, `${first}\nAnd then?\n/end\n`);
    const partial = await partialAnswerOnScreen(chat.stdout);
    const { code, stdout, stderr } = await chat.done;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(partial).not.toBe('');
    expect(stdout.split(`claude › ${SLOW_ANSWER}\n`)).toHaveLength(2);
    expect(stdout.split('claude › Second answer, streamed too.\n')).toHaveLength(2);
    expect(stdout).toMatch(/completed · 2 turns/);
  });
});

test('watch --from-start of a conversation the store never saw: its workflow events, replayed from history', async () => {
  const prompt = uniquePrompt('Weather in Oslo');
  harness.fake.addScript({ match: prompt, steps: [reply(toolUse('get_weather', { location: 'Oslo' })), reply(text('Oslo is windy.'))] });
  const id = `unseen-${taskQueue}`;
  // A worker without an event store: nothing is published.
  await withWorker(harness, { tools: exampleTools(), taskQueue }, async (agent) => {
    await (await agent.start({ prompt, tools: ['get_weather'], conversationId: id })).result();
  });
  const watched = await cliProcess(['watch', id, '--from-start', '--events', testEventsUrl(), ...common]).done;
  expect(watched.code).toBe(0);
  expect(watched.stderr).toContain('replayed from history');
  expect(watched.stdout).toContain('  ⚙ get_weather running');
  expect(watched.stdout).toContain('claude › Oslo is windy.');
});

test('watch: unknown conversation exits 3, no event store or a bad offset exits 2', async () => {
  const unknown = await cliProcess(['watch', 'no-such-conversation-watch', '--events', testEventsUrl(), ...common]).done;
  expect(unknown.code).toBe(3);
  expect(unknown.stderr).toContain('No conversation with id no-such-conversation-watch');
  const noStore = await cliProcess(['watch', 'anything', ...common]).done;
  expect(noStore.code).toBe(2);
  expect(noStore.stderr).toContain('needs an event store');
  const badOffset = await cliProcess(['watch', 'anything', '--from', '-3', '--events', testEventsUrl(), ...common]).done;
  expect(badOffset.code).toBe(2);
  const badUrl = await cliProcess(['watch', 'anything', '--events', 'http://nope', ...common]).done;
  expect(badUrl.code).toBe(2);
  expect(badUrl.stderr).toContain('must be a nats:// URL');
});
