// Live output end to end: the real SDK streams from the fake API, the model activity and the workflow publish to the
// real nats-server, and clients read through handle.stream(). What is checked is order, completeness and structure.
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { AgentClient, ConversationNotFoundError, InvalidOffsetError, LiveOutputUnavailableError, type ConversationHandle } from '../src/client';
import type { NatsEventStore } from '../src/streaming/nats-event-store';
import type { ConversationEvent, TextDeltaEvent, ToolInputDeltaEvent } from '../src/streaming/events';
import { defineTool } from '../src/tools/define-tool';
import { reply, text, toolUse } from '../src/testing';
import { connectTestEventStore } from './helpers/events';
import { recordHistoryFixture } from './helpers/fixtures';
import { historyBytes, startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';

let harness: Harness;
let store: NatsEventStore;
beforeAll(async () => {
  harness = await startHarness();
  store = await connectTestEventStore();
});
afterAll(async () => {
  await store.close();
  await harness.close();
});

const LONG_ANSWER =
  'Paris is sunny and 18°C; the local time is 14:05. Both answers came from tools that ran at the same time, ' +
  'and this sentence is long enough to arrive in many small pieces while it is being written.';

const weather = defineTool({
  name: 'get_weather',
  description: 'Get the current weather in a given location',
  input: z.object({ location: z.string().min(1) }),
  run: ({ location }) => ({ location, temperature: 18, conditions: 'sunny' }),
});
const clock = defineTool({
  name: 'get_time',
  description: 'Get the current time in a time zone',
  input: z.object({ timezone: z.string() }),
  run: ({ timezone }) => `It is 14:05 in ${timezone}`,
});
const sendEmail = defineTool({
  name: 'send_email',
  description: 'Send an email',
  input: z.object({ to: z.string(), body: z.string() }),
  needsApproval: true,
  run: ({ to }) => ({ status: 'sent', to }),
});
let reportRuns: unknown[] = [];
const saveReport = defineTool({
  name: 'save_report',
  description: 'Save a long report',
  input: z.object({ title: z.string(), body: z.string() }),
  streamInput: true,
  run: (input) => {
    reportRuns.push(input);
    return 'saved';
  },
});

async function collect(handle: ConversationHandle, fromOffset = 0, signal?: AbortSignal): Promise<ConversationEvent[]> {
  const events: ConversationEvent[] = [];
  for await (const event of handle.stream({ fromOffset, ...(signal ? { signal } : {}) })) events.push(event);
  return events;
}

/** The text a UI shows: deltas per attempt, an attempt's text dropped on its reset, a turn's latest call kept. */
function shownText(events: ConversationEvent[]): string {
  const byAttempt = new Map<string, { turn: number; text: string }>();
  const latestCallOfTurn = new Map<number, string>();
  for (const event of events) {
    if (event.type === 'model_call_started') {
      latestCallOfTurn.set(event.turn, `${event.call}#${event.attempt}`);
      byAttempt.set(`${event.call}#${event.attempt}`, { turn: event.turn, text: '' });
    } else if (event.type === 'model_call_reset') {
      // What the attempt streamed so far is void; what it streams after (a thread replay) starts over.
      const entry = byAttempt.get(`${event.call}#${event.attempt}`);
      if (entry) entry.text = '';
    }
    else if (event.type === 'text_delta') {
      const entry = byAttempt.get(`${event.call}#${event.attempt}`);
      if (entry) entry.text += event.text;
    }
  }
  return [...latestCallOfTurn.values()].map((key) => byAttempt.get(key)?.text ?? '').join('\n');
}

function withStore<T>(setup: Parameters<typeof withWorker>[1], fn: (agent: AgentClient) => Promise<T>): Promise<T> {
  return withWorker(harness, { ...setup, events: store }, fn);
}

describe('live output', () => {
  test('a subscriber from the start and a late one from offset 0 see every event once, in the same order', async () => {
    const prompt = uniquePrompt('Weather and time in Paris?');
    harness.fake.addScript({
      match: prompt,
      steps: [
        { ...reply(text('Checking both at once.'), toolUse('get_weather', { location: 'Paris' }), toolUse('get_time', { timezone: 'Europe/Paris' })), textChunkChars: 4 },
        { ...reply(text(LONG_ANSWER)), textChunkChars: 5, latency: { chunkMs: 3 } },
      ],
    });
    const { early, late, result, replayed } = await withStore({ tools: [weather, clock] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['get_weather', 'get_time'] });
      const earlyEvents = collect(handle);
      const result = await handle.result();
      const replayed = await handle.workflowEvents({ workflowBundle: { codePath: process.env.DURABLE_CLAUDE_TEST_BUNDLE! } });
      return { early: await earlyEvents, late: await collect(agent.getHandle(handle.conversationId), 0), result, replayed };
    });
    // The workflow's events are durable: replaying the history regenerates exactly what was published.
    const published = early.filter((e) => !('call' in e));
    expect(replayed.map(({ offset: _o, ...rest }) => rest)).toEqual(published.map(({ offset: _o, ...rest }) => rest));
    expect(replayed.map((e) => e.offset)).toEqual(replayed.map((_, i) => i + 1));
    expect(result.status).toBe('completed');
    expect(late.map((e) => e.offset)).toEqual(early.map((e) => e.offset));
    expect(late).toEqual(early);
    const offsets = early.map((e) => e.offset);
    expect([...offsets].sort((a, b) => a - b)).toEqual(offsets);
    expect(new Set(offsets).size).toBe(offsets.length);

    const types = early.map((e) => e.type);
    for (const type of ['turn_started', 'model_call_started', 'text_delta', 'tool_use_started', 'tool_input_delta', 'content_block_finished', 'message_finished', 'turn_finished', 'tool_started', 'tool_finished'] as const) {
      expect(types).toContain(type);
    }
    expect(types[types.length - 1]).toBe('conversation_finished');
    // The text arrived in many pieces and adds up to what the transcript records, turn by turn.
    const deltas = early.filter((e): e is TextDeltaEvent => e.type === 'text_delta');
    expect(deltas.length).toBeGreaterThan(LONG_ANSWER.length / 5 - 1);
    expect(shownText(early)).toBe(`Checking both at once.\n${LONG_ANSWER}`);
    expect(result.text).toBe(LONG_ANSWER);
    // Each tool's input pieces join to the input the tool ran with.
    for (const started of early.filter((e) => e.type === 'tool_use_started')) {
      const pieces = early.filter((e): e is ToolInputDeltaEvent => e.type === 'tool_input_delta' && e.toolUseId === started.toolUseId);
      const ran = early.find((e) => e.type === 'tool_started' && e.toolUseId === started.toolUseId);
      expect(ran).toBeDefined();
      expect(JSON.parse(pieces.map((p) => p.partialJson).join(''))).toEqual(ran!.type === 'tool_started' ? ran!.input : undefined);
    }
    // Both tools started before either finished: they ran concurrently, and the stream shows it.
    const firstFinished = types.indexOf('tool_finished');
    expect(types.slice(0, firstFinished).filter((t) => t === 'tool_started')).toHaveLength(2);
    // Workflow and model events carry the conversation, its run and the turn.
    const id = early[0]!.conversationId;
    expect(early.every((e) => e.conversationId === id && e.runId === early[0]!.runId && e.turn >= 1)).toBe(true);
  });

  test('streaming adds nothing to history: the same conversation records the same events with and without a store', async () => {
    const run = async (events: boolean) => {
      const prompt = uniquePrompt('Weather in Paris?');
      harness.fake.addScript({ match: prompt, steps: [reply(toolUse('get_weather', { location: 'Paris' })), { ...reply(text(LONG_ANSWER)), textChunkChars: 4 }] });
      return withWorker(harness, { tools: [weather], ...(events ? { events: store } : {}) }, async (agent) => {
        const handle = await agent.start({ prompt, tools: ['get_weather'], threads: false });
        await handle.result();
        const history = await handle.fetchHistory();
        return { types: (history.events ?? []).map((e) => e.eventType), bytes: await historyBytes(harness, handle.conversationId) };
      });
    };
    const off = await run(false);
    const on = await run(true);
    expect(on.types).toEqual(off.types);
    // Ids and timestamps differ by a few bytes; a delta in history would add hundreds.
    expect(Math.abs(on.bytes.proto - off.bytes.proto)).toBeLessThan(200);
  });

  test('approvals in the stream: 20 subscribers attached, the approval Update is still answered and all see it', async () => {
    const prompt = uniquePrompt('Email the team');
    harness.fake.addScript({
      match: prompt,
      steps: [reply(text('Sending it.'), toolUse('send_email', { to: 'team@example.com', body: 'hi' })), reply(text('Sent.'))],
    });
    const { streams, decision, result, handleId } = await withStore({ tools: [sendEmail] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['send_email'] });
      const streams = Array.from({ length: 20 }, () => collect(agent.getHandle(handle.conversationId)));
      let requested: ConversationEvent | undefined;
      for await (const event of handle.stream()) {
        if (event.type === 'approval_requested') {
          requested = event;
          break;
        }
      }
      expect(requested).toBeDefined();
      const decision = await handle.approve(requested!.type === 'approval_requested' ? requested!.toolUseId : '', { by: 'alice' }, { timeoutMs: 30_000 });
      const result = await handle.result();
      await recordHistoryFixture(harness.temporal.client, 'live-output-approval', handle.conversationId);
      return { streams: await Promise.all(streams), decision, result, handleId: handle.conversationId };
    });
    expect(decision.decision).toBe('approved');
    expect(result.status).toBe('completed');
    for (const events of streams) {
      const requested = events.find((e) => e.type === 'approval_requested');
      const decided = events.find((e) => e.type === 'approval_decided');
      expect(requested).toMatchObject({ conversationId: handleId, name: 'send_email', input: { to: 'team@example.com', body: 'hi' } });
      expect(decided).toMatchObject({ decision: 'approved', by: 'alice', name: 'send_email' });
      expect(events.indexOf(requested!)).toBeLessThan(events.indexOf(decided!));
      expect(events.find((e) => e.type === 'tool_finished')).toMatchObject({ name: 'send_email', isError: false, outcome: 'ok' });
      expect(events[events.length - 1]).toMatchObject({ type: 'conversation_finished', status: 'completed', text: 'Sent.' });
    }
    expect(streams.every((events) => JSON.stringify(events) === JSON.stringify(streams[0]))).toBe(true);
  });

  test('fine-grained tool streaming: eager input pieces, a call cut at max_tokens, the ladder, and one run with the whole input', async () => {
    reportRuns = [];
    const prompt = uniquePrompt('Write and save the report');
    const report = { title: 'Quarterly report', body: 'Revenue grew in every region. '.repeat(12).trim() };
    harness.fake.addScript({ match: prompt, steps: [{ ...reply(text('Saving.'), toolUse('save_report', report)), cutAtMaxTokens: true }, reply(text('Saved.'))] });
    const { events, result } = await withStore({ tools: [saveReport] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['save_report'], maxTokens: 60, maxTokensLadder: [400] });
      const events = collect(handle);
      return { result: await handle.result(), events: await events };
    });
    expect(result.status).toBe('completed');
    expect(reportRuns).toEqual([report]);
    // The tool was sent with eager input streaming.
    const first = harness.fake.requestsFor(prompt)[0]!;
    const tools = (first.body as { tools: Array<{ name: string; eager_input_streaming?: boolean }> }).tools;
    expect(tools.find((t) => t.name === 'save_report')?.eager_input_streaming).toBe(true);

    const calls = events.filter((e) => e.type === 'model_call_started');
    expect(calls.map((c) => c.type === 'model_call_started' && c.maxTokens)).toEqual([60, 400, 60]);
    const piecesOf = (call: string) => events.filter((e): e is ToolInputDeltaEvent => e.type === 'tool_input_delta' && e.call === call);
    const cut = piecesOf(calls[0]!.type === 'model_call_started' ? calls[0]!.call : '');
    const whole = piecesOf(calls[1]!.type === 'model_call_started' ? calls[1]!.call : '');
    // Eager: many small pieces, forwarded unvalidated; the cut call's JSON never closes.
    expect(cut.length).toBeGreaterThan(3);
    expect(() => JSON.parse(cut.map((p) => p.partialJson).join(''))).toThrow();
    expect(events.find((e) => e.type === 'message_finished' && e.call === calls[0]!.call)).toMatchObject({ stopReason: 'max_tokens' });
    expect(JSON.parse(whole.map((p) => p.partialJson).join(''))).toEqual(report);
    // Only the whole reply is recorded: one turn_finished for the turn, after the ladder's second call.
    const turnOne = events.filter((e) => e.type === 'turn_finished' && e.turn === 1);
    expect(turnOne).toHaveLength(1);
    expect(events.indexOf(turnOne[0]!)).toBeGreaterThan(events.indexOf(calls[1]!));
  });

  test('bad input: unknown conversation, bad offsets, no store; an offset beyond the end waits', async () => {
    const prompt = uniquePrompt('Say hi slowly');
    harness.fake.addScript({ match: prompt, steps: [{ ...reply(text('Hi there, slowly.')), latency: { firstTokenMs: 1_500 } }] });
    await withStore({}, async (agent) => {
      await expect(collect(agent.getHandle('no-such-conversation-live'))).rejects.toBeInstanceOf(ConversationNotFoundError);
      const handle = await agent.start({ prompt });
      for (const bad of [-1, 1.5, Number.NaN, '3' as unknown as number]) {
        expect(() => handle.stream({ fromOffset: bad })).toThrow(InvalidOffsetError);
      }
      const beyond = new AbortController();
      const waited = collect(handle, (await store.lastOffset(handle.conversationId)) + 1_000_000, beyond.signal);
      await sleep(300);
      beyond.abort();
      expect(await waited).toEqual([]);
      await handle.result();
    });
    const plain = new AgentClient({ client: harness.temporal.client });
    expect(() => plain.getHandle('anything').stream()).toThrow(LiveOutputUnavailableError);
  });
});
