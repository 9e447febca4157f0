// The client and the CLI across a chain of runs: a chat that continues as new every few turns is still one
// conversation to every operation — sendMessage, stream, transcript (in pages), list, show, export, replay, fork,
// retry and the workflow events regenerated from history.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ConversationFailedError } from '../src/client';
import { followConversation } from '../src/cli/follow';
import { main } from '../src/cli/main';
import { parseHistories, replayHistories } from '../src/replay';
import type { ConversationEvent } from '../src/streaming/events';
import type { NatsEventStore } from '../src/streaming/nats-event-store';
import { defineTool } from '../src/tools/define-tool';
import { reply, text, toolUse } from '../src/testing';
import { transcriptQuery } from '../src/workflows/definitions';
import type { ConversationOptions, MessageParam } from '../src/workflows/types';
import { connectTestEventStore } from './helpers/events';
import { startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';

const bundle = { codePath: process.env.DURABLE_CLAUDE_TEST_BUNDLE! };

let harness: Harness;
let events: NatsEventStore;
beforeAll(async () => {
  harness = await startHarness();
  events = await connectTestEventStore();
});
afterAll(async () => {
  await events.close();
  await harness.close();
});

const echo = defineTool({ name: 'echo', description: 'Echo', input: z.object({ text: z.string() }), run: ({ text: t }) => `echo ${t}` });

/** Text of a message (string content or its text blocks). */
function textOf(message: MessageParam | undefined): string {
  if (!message) return '';
  if (typeof message.content === 'string') return message.content;
  return (message.content ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('');
}

/** Each user message gets a tool call, then an answer naming the message: two model turns per exchange. */
function toolThenAnswer(prompt: string, failing: () => boolean = () => false): void {
  harness.fake.addScript({
    match: prompt,
    steps: ({ turnIndex, request }) => {
      if (failing()) return { fault: '401', then: { fault: '401' } };
      if (turnIndex % 2 === 0) return reply(toolUse('echo', { text: `t${turnIndex}` }));
      // The user message this exchange answers: the last one with text.
      const asked = [...request.messages].reverse().find((m) => m.role === 'user' && textOf(m as MessageParam).trim() !== '');
      return reply(text(`answer to ${textOf(asked as MessageParam).slice(0, 40)}`));
    },
  });
}

/** Everything the CLI prints for one command, run in this process against the test server. */
async function cli(args: string[], taskQueue: string): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    const code = await main([...args, '--address', harness.temporal.address, '--task-queue', taskQueue, '--events', 'off']);
    return { code, stdout };
  } finally {
    process.stdout.write = write;
  }
}

async function drain(stream: AsyncGenerator<ConversationEvent, void, undefined>): Promise<ConversationEvent[]> {
  const seen: ConversationEvent[] = [];
  for await (const event of stream) seen.push(event);
  return seen;
}

/** Visibility is eventually consistent: asks until `ok` holds (bounded by a count, not a clock). */
async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  let value = await read();
  for (let i = 0; i < 50 && !ok(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    value = await read();
  }
  return value;
}

describe('a chat that continues as new every few turns is one conversation', () => {
  test('sendMessage, stream, paged transcript, list, show, export, replay, workflow events and fork follow the chain', async () => {
    const prompt = uniquePrompt('Chain chat');
    toolThenAnswer(prompt);
    await withWorker(harness, { tools: [echo], events }, async (agent) => {
      const { handle, reply: first } = await agent.startChat({ message: prompt, tools: ['echo'], continueAsNew: { afterEvents: 40 } });
      const answered = await handle.followReply(first);
      expect(answered.text).toBe(`answer to ${prompt.slice(0, 40)}`);
      // A subscriber attached while the first run runs reads on through every later run.
      const streamed = drain(handle.stream());

      const messages = ['one', 'two', 'three', 'four', 'five', 'six', 'seven'].map((m) => `message ${m}`);
      for (const message of messages) {
        const answer = await handle.sendMessage(message);
        // The caller sees only the answer, never a hand-over ticket, however many runs the message waited through.
        expect(answer.continuedAsNew).toBeUndefined();
        expect(answer.text).toBe(`answer to ${message}`);
      }
      const state = await handle.state();
      expect(state.runs).toBeGreaterThanOrEqual(3);
      const runs = state.runs!;

      // Paged reads assemble the same transcript the unpaged query gives.
      const whole = await handle.workflow.query(transcriptQuery);
      const firstPage = await handle.transcriptPage({ fromMessage: 0, maxBytes: 300 });
      expect(firstPage.page?.nextMessage).not.toBeNull();
      const paged = await handle.transcript({ pageBytes: 300 });
      expect(paged).toEqual(whole);
      expect(paged.messages).toHaveLength(4 * (messages.length + 1));
      expect(paged.turns.map((t) => t.turn)).toEqual(Array.from({ length: 2 * (messages.length + 1) }, (_, i) => i + 1));

      // One row per conversation: the runs that continued as new are not listed.
      const rows = await eventually(
        () => agent.list(`WorkflowId = '${handle.conversationId}'`),
        (found) => found.length === 1 && found[0]!.executionStatus === 'RUNNING',
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]!.runId).toBe((await handle.describe()).runId);

      await handle.end('tester');
      const result = await handle.result();
      expect(result).toMatchObject({ status: 'completed', endedBy: 'user', runs });

      // The stream ended with the conversation (not with the run it was attached to), each event once.
      const seen = await streamed;
      const offsets = seen.map((e) => e.offset);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      expect(new Set(offsets).size).toBe(offsets.length);
      expect(new Set(seen.map((e) => e.runId)).size).toBe(runs);
      const finished = seen.filter((e) => e.type === 'conversation_finished');
      expect(finished).toHaveLength(1);
      expect(seen[seen.length - 1]!.type).toBe('conversation_finished');
      const turnsStreamed = seen.filter((e) => e.type === 'turn_finished').map((e) => e.turn);
      // From offset 0: every turn, once, in order, whichever run recorded it.
      expect(turnsStreamed).toEqual(Array.from({ length: 2 * (messages.length + 1) }, (_, i) => i + 1));

      // Every run's history, oldest first; all but the last continued as new.
      const histories = await handle.histories();
      expect(histories).toHaveLength(runs);
      expect(histories[histories.length - 1]!.runId).toBe((await handle.describe()).runId);
      for (const { history } of histories.slice(0, -1)) {
        expect(history.events?.[history.events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
      }
      // Some message waited through a hand-over: its answer was collected from a later run with awaitReply.
      const updateNames = histories.flatMap(({ history }) =>
        (history.events ?? []).flatMap((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name ?? []),
      );
      expect(updateNames).toContain('awaitReply');

      // Export: the transcript and every run's history; the file replays run by run.
      const exported = await handle.export();
      expect(exported.runIds).toEqual(histories.map((h) => h.runId));
      expect(exported.previousHistories).toHaveLength(runs - 1);
      expect(exported.transcript?.messages).toHaveLength(paged.messages.length);
      const fromFile = parseHistories(JSON.parse(JSON.stringify(exported)));
      expect(fromFile).toHaveLength(runs);
      const outcomes = await replayHistories(fromFile, { workflowBundle: bundle, dataConverter: { externalStorage: harness.temporal.client.options.loadedDataConverter.externalStorage! } });
      expect(outcomes.map((o) => o.error)).toEqual(outcomes.map(() => undefined));

      // The workflow's events, regenerated from every run's history: offsets count on across runs.
      const regenerated = await handle.workflowEvents({ workflowBundle: bundle });
      expect(regenerated.map((e) => e.offset)).toEqual(regenerated.map((_, i) => i + 1));
      expect(regenerated.filter((e) => e.type === 'turn_finished').map((e) => e.turn)).toEqual(paged.turns.map((t) => t.turn));
      expect(regenerated.filter((e) => e.type === 'conversation_finished')).toHaveLength(1);

      // Fork from a turn of the first run: the new conversation gets the transcript through it, not the carried state.
      const fork = await agent.fork(handle.conversationId, { turn: 2, prompt: 'a different question' });
      const forkInput = (await fork.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes?.input;
      const decoded = harness.temporal.client.options.loadedDataConverter.payloadConverter.fromPayload<ConversationOptions>(forkInput!.payloads![0]!);
      expect(decoded.continuation).toBeUndefined();
      expect(decoded.continueAsNew).toEqual({ afterEvents: 40 });
      expect(decoded.messages?.slice(0, 4)).toEqual(paged.messages.slice(0, 4));
      expect(textOf(decoded.messages?.[4])).toBe('a different question');
      // Its first exchange (two turns of its own) answers the new question; then the chat ends.
      await fork.end();
      expect(await fork.result()).toMatchObject({ status: 'completed', turns: 2, text: 'answer to a different question' });
    });
  });

  test('the CLI: show counts the runs, list has one row, export writes every run, replay replays every run', async () => {
    const prompt = uniquePrompt('Chain CLI');
    toolThenAnswer(prompt);
    await withWorker(harness, { tools: [echo] }, async (agent) => {
      const { handle } = await agent.startChat({ message: prompt, tools: ['echo'], continueAsNew: { afterEvents: 40 } });
      for (const message of ['alpha', 'beta', 'gamma', 'delta']) await handle.sendMessage(message);
      const runs = (await handle.state()).runs!;
      expect(runs).toBeGreaterThanOrEqual(2);
      const taskQueue = agent.taskQueue;

      const show = await cli(['show', handle.conversationId], taskQueue);
      expect(show.code).toBe(0);
      expect(show.stdout).toContain(`· ${runs} runs ·`);
      expect(show.stdout).toContain('claude › answer to delta');

      const list = await eventually(
        async () => JSON.parse((await cli(['list', '--query', `WorkflowId = '${handle.conversationId}'`, '--json'], taskQueue)).stdout) as unknown[],
        (rows) => rows.length === 1,
      );
      expect(list).toHaveLength(1);

      const out = path.join(os.tmpdir(), `${handle.conversationId}.durable-claude.json`);
      const exported = await cli(['export', handle.conversationId, '--out', out], taskQueue);
      expect(exported.code).toBe(0);
      expect(exported.stdout).toContain(`and histories of ${runs} runs (`);
      const file = JSON.parse(fs.readFileSync(out, 'utf8')) as { runIds: string[]; previousHistories: unknown[] };
      fs.rmSync(out);
      expect(file.runIds).toHaveLength(runs);
      expect(file.previousHistories).toHaveLength(runs - 1);

      const replay = await cli(['replay', handle.conversationId], taskQueue);
      expect(replay.stdout).toContain(`replays cleanly against the current workflow code (${runs} runs,`);
      expect(replay.code).toBe(0);
      await handle.end();
      await handle.result();
    });
  });

  test('a completed chain whose result omitted the transcript still shows it, read by query in pages', async () => {
    const prompt = uniquePrompt('Chain omitted');
    toolThenAnswer(prompt);
    await withWorker(harness, { tools: [echo] }, async (agent) => {
      const { handle } = await agent.startChat({ message: prompt, tools: ['echo'], continueAsNew: { afterEvents: 40 }, includeTranscriptInResult: false });
      for (const message of ['uno', 'dos', 'tres']) await handle.sendMessage(message);
      await handle.end();
      const result = await handle.result();
      expect(result.transcript).toBeUndefined();
      const { transcript, state } = await handle.snapshot({ timeoutMs: 10_000 });
      expect(transcript.messages).toHaveLength(4 * 4);
      expect(textOf(transcript.messages[transcript.messages.length - 1])).toBe('answer to tres');
      expect(state.runs).toBe(result.runs);
    });
  });
});

describe('following a conversation without live output', () => {
  test('the CLI follower prints each message and turn of every run once, reading only what is new', async () => {
    const prompt = uniquePrompt('Chain follow');
    harness.fake.addScript({
      match: prompt,
      steps: ({ turnIndex }) => (turnIndex < 6 ? reply(toolUse('echo', { text: `step ${turnIndex}` })) : reply(text('all steps done'))),
    });
    await withWorker(harness, { tools: [echo] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['echo'], continueAsNew: { afterEvents: 20 } });
      expect(handle.hasLiveOutput).toBe(false);
      const lines: string[] = [];
      const result = await followConversation(handle, { approvals: 'yes', by: 'tester', write: (line) => lines.push(line), pollMs: 50, queryTimeoutMs: 10_000 });
      expect(result).toMatchObject({ status: 'completed', turns: 7, text: 'all steps done' });
      expect(result.runs).toBeGreaterThanOrEqual(2);
      for (let step = 0; step < 6; step++) expect(lines.filter((l) => l === `  → echo {"text":"step ${step}"}`)).toHaveLength(1);
      expect(lines.filter((l) => l === 'claude › all steps done')).toHaveLength(1);
      expect(lines.filter((l) => l.startsWith('  · turn ')).map((l) => Number(/turn (\d+)/.exec(l)![1]))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    });
  });
});

describe('approvals across runs', () => {
  test('a call that waits for approval when the run continues as new is listed once, and approved in the next run', async () => {
    const prompt = uniquePrompt('Chain approval');
    const ran: string[] = [];
    const transfer = defineTool({
      name: 'transfer',
      description: 'Move money (needs a person)',
      input: z.object({ cents: z.number().int() }),
      needsApproval: true,
      run: ({ cents }) => {
        ran.push(String(cents));
        return `moved ${cents}`;
      },
    });
    harness.fake.addScript({
      match: prompt,
      steps: ({ request }) => {
        const last = request.messages[request.messages.length - 1] as MessageParam;
        if (last.role === 'user' && textOf(last) === 'now transfer') return reply(toolUse('transfer', { cents: 700 }));
        if (last.role === 'user' && Array.isArray(last.content) && last.content.some((b) => b.type === 'tool_result')) return reply(text('transferred'));
        return reply(text(`noted ${textOf(last).slice(0, 30)}`));
      },
    });
    await withWorker(harness, { tools: [transfer] }, async (agent) => {
      const { handle } = await agent.startChat({ message: prompt, tools: ['transfer'], continueAsNew: { afterEvents: 40 } });
      // Grow the run's history so the hand-over falls due while the call waits for a person.
      for (let length = (await handle.describe()).historyLength; length < 30; length = (await handle.describe()).historyLength) {
        await handle.sendMessage(`filler at ${length}`);
      }
      const runsBefore = (await handle.state()).runs ?? 1;
      const answer = handle.sendMessage('now transfer');
      const followed = handle.approvals({ pollIntervalMs: 100 });
      const first = await followed.next();
      expect(first.value).toMatchObject({ toolName: 'transfer', input: { cents: 700 } });
      // The run hands over while the call waits; the call is pending in the next run, under the same id.
      const moved = await eventually(
        () => handle.state(),
        (s) => (s.runs ?? 1) > runsBefore && s.pendingApprovals === 1,
      );
      expect(moved.runs).toBeGreaterThan(runsBefore);
      const pending = await handle.pending();
      expect(pending.map((p) => p.toolUseId)).toEqual([first.value!.toolUseId]);
      const listed = await eventually(
        () => agent.listPendingApprovals(),
        (found) => found.some((c) => c.conversationId === handle.conversationId && c.approvals?.length === 1),
      );
      expect(listed.filter((c) => c.conversationId === handle.conversationId)).toHaveLength(1);
      const decision = await handle.approve(first.value!.toolUseId, { by: 'tester' });
      expect(decision.decision).toBe('approved');
      expect((await answer).text).toBe('transferred');
      // The approvals follower never offered the same call twice, and the tool ran once.
      await handle.end();
      expect((await followed.next()).done).toBe(true);
      expect(ran).toEqual(['700']);
      await handle.result();
    });
  });
});

describe('a conversation whose failure is in its third run', () => {
  test('retry resets the latest run and carries on; fork starts from its whole transcript', async () => {
    const prompt = uniquePrompt('Chain failure');
    let failing = false;
    toolThenAnswer(prompt, () => failing);
    await withWorker(harness, { tools: [echo] }, async (agent) => {
      const { handle } = await agent.startChat({ message: prompt, tools: ['echo'], continueAsNew: { afterEvents: 40 } });
      let sent = 0;
      while (((await handle.state()).runs ?? 1) < 3) await handle.sendMessage(`before ${++sent}`);
      failing = true;
      await handle.sendMessage('this one fails').catch(() => undefined);
      const failure = await handle.result().catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(ConversationFailedError);
      failing = false;
      const failedRun = (await handle.describe()).runId;
      const chain = await handle.histories();
      expect(chain.length).toBeGreaterThanOrEqual(3);
      expect(chain[chain.length - 1]!.runId).toBe(failedRun);

      // Fork the failed conversation at its second turn (first run): the transcript comes across runs.
      const fork = await agent.fork(handle.conversationId, { turn: 2, prompt: 'start over from here' });
      const forkInput = (await fork.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes?.input;
      const decoded = harness.temporal.client.options.loadedDataConverter.payloadConverter.fromPayload<ConversationOptions>(forkInput!.payloads![0]!);
      expect(decoded.continuation).toBeUndefined();
      expect(textOf(decoded.messages?.[0])).toBe(prompt);
      expect(textOf(decoded.messages?.[4])).toBe('start over from here');
      await fork.end();
      expect(await fork.result()).toMatchObject({ status: 'completed', turns: 2, text: 'answer to start over from here' });

      const outcome = await handle.retry({ by: 'tester' });
      expect(outcome.failedRunId).toBe(failedRun);
      expect(outcome.runId).not.toBe(failedRun);
      const after = await handle.sendMessage('after the retry');
      expect(after.text).toBe('answer to after the retry');
      await handle.end();
      const result = await handle.result();
      expect(result.status).toBe('completed');
      expect(result.transcript?.retries?.length).toBe(1);
      // The retried run is still one conversation: its chain leads back through the runs before the failed one.
      const retried = await handle.histories();
      expect(retried.slice(0, chain.length - 1).map((h) => h.runId)).toEqual(chain.slice(0, -1).map((h) => h.runId));
      expect(retried[chain.length - 1]!.runId).toBe(outcome.runId);
      expect(result.runs).toBe(retried.length);
    });
  });
});
