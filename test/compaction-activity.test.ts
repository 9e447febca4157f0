// The compaction activity and the context options of callModel, driven directly: a real chat (real Temporal dev
// server, real worker) holds the conversation, the activities read it by query as they do in production, and send
// their requests through the real SDK to the fake Messages API, which implements compaction as the docs describe.
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { BetaMessageParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { z } from 'zod';
import {
  CLEARED_TOOL_RESULT_PLACEHOLDER,
  COMPACTION_BETA,
  CONTEXT_MANAGEMENT_BETA,
  clearOldToolResults,
  createModelActivities,
  defaultCompactionCut,
} from '../src/activities/model';
import type { CallModelInput, CallModelResult, CompactConversationInput, CompactConversationResult } from '../src/activities/types';
import { defineTool } from '../src/tools/define-tool';
import { FakeMessagesApi, reply, text, toolUse } from '../src/testing';
import type { RecordedRequest } from '../src/testing';
import { modelRequestQuery } from '../src/workflows/definitions';
import { DEFAULT_MODEL } from '../src/workflows/types';
import type { ConversationHandle } from '../src/client';
import { fakeAnthropic } from './helpers/temporal';
import { startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());
afterEach(() => harness.fake.setCompactionRefusal(null));

const lookup = defineTool({
  name: 'lookup',
  description: 'Look something up',
  input: z.object({ query: z.string() }),
  run: ({ query }) => `Everything about ${query}: ${'detail '.repeat(50)}`,
});

/** A chat after its first exchange (a tool call, its result, the answer), waiting for the next message. */
async function withChat(prompt: string, fn: (chat: { handle: ConversationHandle; env: MockActivityEnvironment; transcriptLength: number }) => Promise<void>): Promise<void> {
  harness.fake.addScript({
    match: prompt,
    steps: ({ turnIndex }) => (turnIndex === 0 ? reply(text('Let me look.'), toolUse('lookup', { query: 'the fjords' })) : reply(text(`Answer ${turnIndex}.`))),
  });
  await withWorker(harness, { tools: [lookup] }, async (agent) => {
    const { handle } = await agent.startChat({ message: prompt, tools: ['lookup'], threads: false });
    try {
      const { runId } = await handle.describe();
      const context = await harness.temporal.client.workflow.getHandle(handle.conversationId, runId).query(modelRequestQuery);
      const env = new MockActivityEnvironment({ workflowExecution: { workflowId: handle.conversationId, runId } }, { client: harness.temporal.client });
      await fn({ handle, env, transcriptLength: context.messages.length });
    } finally {
      await handle.end('test');
    }
  });
}

const lastRequest = (): RecordedRequest => harness.fake.requests.at(-1)!;
const sentMessages = (request: RecordedRequest) => (request.body as { messages: BetaMessageParam[] }).messages;

function callInput(transcriptLength: number, extra: Partial<CallModelInput> = {}): CallModelInput {
  return { turn: 3, model: DEFAULT_MODEL, maxTokens: 1024, transcriptLength, threads: false, thread: null, ...extra };
}

describe('compactConversation', () => {
  test('summarizes the history into one signed block the next request sends first, in place of what it summarized', async () => {
    const prompt = uniquePrompt('Tell me about the fjords');
    await withChat(prompt, async ({ env, transcriptLength }) => {
      expect(transcriptLength).toBe(4);
      const activities = createModelActivities({ anthropic: fakeAnthropic(harness.fake.baseURL) });
      const input: CompactConversationInput = { turn: 3, model: DEFAULT_MODEL, maxTokens: 1024, transcriptLength, cache: { ttl: '5m' } };
      const result: CompactConversationResult = await env.run(activities.compactConversation, input);
      if (result.outcome !== 'compacted') throw new Error(`expected a compaction, got ${JSON.stringify(result)}`);
      expect(result.summarizedMessages).toBe(4);
      expect(result.summary).toContain(prompt);
      expect(result.replacement.role).toBe('assistant');
      expect(result.replacement.content).toEqual([expect.objectContaining({ type: 'compaction', content: result.summary, signature: expect.any(String) })]);
      // The compaction's tokens are in its usage iterations; they are what it costs.
      expect(result.usage.input_tokens).toBeGreaterThan(0);
      expect(result.costUsd).toBeGreaterThan(0);

      const request = lastRequest();
      expect(request.body).toMatchObject({ compaction: { type: 'summarize' }, model: DEFAULT_MODEL });
      expect((request.body as { thread?: unknown }).thread).toBeUndefined();
      expect(request.headers['anthropic-beta']).toContain(COMPACTION_BETA);
      expect(request.context?.compaction).toMatchObject({ kind: 'request', summarizedMessages: 4 });

      // What the workflow would send next: the replacement, then the new message. The server takes it as the same
      // conversation's third reply.
      const next = await fakeAnthropic(harness.fake.baseURL).beta.messages.create({
        model: DEFAULT_MODEL,
        max_tokens: 256,
        betas: [COMPACTION_BETA],
        messages: [result.replacement, { role: 'user', content: 'And the glaciers?' }],
      });
      expect(next.content).toEqual([{ type: 'text', text: 'Answer 2.', citations: null }]);
    });
  });

  test('a refusal (400) is an answer for the fallback; compaction_unavailable (529) is thrown for Temporal to retry', async () => {
    const prompt = uniquePrompt('Refuse to compact me');
    await withChat(prompt, async ({ env, transcriptLength }) => {
      const activities = createModelActivities({ anthropic: fakeAnthropic(harness.fake.baseURL) });
      const input = { turn: 3, model: DEFAULT_MODEL, maxTokens: 1024, transcriptLength };
      harness.fake.setCompactionRefusal('compaction_too_many_tool_references');
      const refused: CompactConversationResult = await env.run(activities.compactConversation, input);
      expect(refused).toMatchObject({ outcome: 'refused', refusal: { status: 400, errorCode: 'compaction_too_many_tool_references' } });

      harness.fake.setCompactionRefusal('compaction_unavailable');
      const error = await env.run(activities.compactConversation, input).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect(error).toMatchObject({ nonRetryable: false, type: 'Anthropic:overloaded_error' });
    });
  });

  test('the default cut keeps the trailing turn whole', () => {
    const user = (content: string): BetaMessageParam => ({ role: 'user', content });
    const answer: BetaMessageParam = { role: 'assistant', content: [{ type: 'text', text: 'ok' }] };
    const call: BetaMessageParam = { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: {} }] };
    const results: BetaMessageParam = { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'r' }] };
    // Between exchanges: everything.
    expect(defaultCompactionCut([user('q'), answer])).toBe(2);
    // A new question after an answer: the answer is summarized, the question stays.
    expect(defaultCompactionCut([user('q'), answer, user('next')])).toBe(2);
    // Tool results waiting for the model: the tool_use message and its results stay, so the pairing holds.
    expect(defaultCompactionCut([user('q'), answer, user('next'), call, results])).toBe(3);
    // A tool call not answered yet stays too (the API refuses to compact an unfinished turn).
    expect(defaultCompactionCut([user('q'), answer, user('next'), call])).toBe(3);
    // Only the first question: nothing before the trailing turn.
    expect(defaultCompactionCut([user('q')])).toBe(0);
  });
});

describe('callModel context options', () => {
  test('contextFallback: old tool results are sent as a placeholder, with their tool_use blocks and ids intact', async () => {
    const prompt = uniquePrompt('Fall back for me');
    await withChat(prompt, async ({ env, transcriptLength }) => {
      const activities = createModelActivities({ anthropic: fakeAnthropic(harness.fake.baseURL) });
      const result: CallModelResult = await env.run(activities.callModel, callInput(transcriptLength, { contextFallback: { keepToolResults: 0, clearToolInputs: true } }));
      expect(result.requestKind).toBe('unthreaded');
      const messages = sentMessages(lastRequest());
      expect(messages[1]!.content).toEqual([expect.objectContaining({ type: 'text' }), expect.objectContaining({ type: 'tool_use', input: {} })]);
      expect(messages[2]!.content).toEqual([expect.objectContaining({ type: 'tool_result', content: [{ type: 'text', text: CLEARED_TOOL_RESULT_PLACEHOLDER }] })]);
      const useId = (messages[1]!.content as Array<{ id?: string }>)[1]!.id;
      expect((messages[2]!.content as Array<{ tool_use_id: string }>)[0]!.tool_use_id).toBe(useId);
    });
  });

  test('clearToolUses is sent as context_management (with its beta) on an unthreaded request, never on a threaded one', async () => {
    const prompt = uniquePrompt('Clear my tool uses');
    await withChat(prompt, async ({ env, transcriptLength }) => {
      const activities = createModelActivities({ anthropic: fakeAnthropic(harness.fake.baseURL) });
      const clearToolUses = { triggerInputTokens: 1, keepToolUses: 0, excludeTools: ['memory'] };
      const unthreaded: CallModelResult = await env.run(activities.callModel, callInput(transcriptLength, { clearToolUses }));
      const request = lastRequest();
      expect(request.body).toMatchObject({
        context_management: { edits: [{ type: 'clear_tool_uses_20250919', trigger: { type: 'input_tokens', value: 1 }, keep: { type: 'tool_uses', value: 0 }, exclude_tools: ['memory'] }] },
      });
      expect(request.headers['anthropic-beta']).toContain(CONTEXT_MANAGEMENT_BETA);
      expect(unthreaded.contextEdits).toEqual([expect.objectContaining({ type: 'clear_tool_uses_20250919', clearedToolUses: 1 })]);

      const threaded: CallModelResult = await env.run(activities.callModel, callInput(transcriptLength, { clearToolUses, threads: true }));
      expect(threaded.requestKind).toBe('create');
      expect((lastRequest().body as { context_management?: unknown }).context_management).toBeUndefined();
    });
  });

  test('a prompt over the window fails as ContextWindowExceeded (non-retryable), for the workflow to compact and repeat', async () => {
    const small = await FakeMessagesApi.start({ contextWindowTokens: 50 });
    try {
      const prompt = uniquePrompt('Too long for a tiny window');
      await withChat(prompt, async ({ env, transcriptLength }) => {
        const activities = createModelActivities({ anthropic: fakeAnthropic(small.baseURL) });
        const error = await env.run(activities.callModel, callInput(transcriptLength)).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(error).toBeInstanceOf(ApplicationFailure);
        expect(error).toMatchObject({ type: 'ContextWindowExceeded', nonRetryable: true });
        expect((error as ApplicationFailure).message).toMatch(/prompt is too long: \d+ tokens > 50 maximum/);
      });
    } finally {
      await small.close();
    }
  });
});

describe('clearOldToolResults', () => {
  test('keeps the newest results whole and never drops a block', () => {
    const messages: BetaMessageParam[] = [{ role: 'user', content: 'q' }];
    for (const id of ['a', 'b', 'c']) {
      messages.push({ role: 'assistant', content: [{ type: 'tool_use', id, name: 'lookup', input: { query: id } }] });
      messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: `result ${id}`, is_error: id === 'a' }] });
    }
    const cleared = clearOldToolResults(messages, { keepToolResults: 1 });
    expect(cleared.map((m) => (Array.isArray(m.content) ? m.content.length : 1))).toEqual(messages.map((m) => (Array.isArray(m.content) ? m.content.length : 1)));
    expect(cleared[2]!.content).toEqual([{ type: 'tool_result', tool_use_id: 'a', is_error: true, content: [{ type: 'text', text: CLEARED_TOOL_RESULT_PLACEHOLDER }] }]);
    expect(cleared[4]!.content).toEqual([{ type: 'tool_result', tool_use_id: 'b', content: [{ type: 'text', text: CLEARED_TOOL_RESULT_PLACEHOLDER }], is_error: false }]);
    expect(cleared[6]).toBe(messages[6]);
    // The inputs stay unless asked, and the messages given are not changed.
    expect(cleared[1]).toBe(messages[1]);
    expect((messages[2]!.content as Array<{ content: unknown }>)[0]!.content).toBe('result a');
  });
});
