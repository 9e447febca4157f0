// Whole conversations through the workflow for what the fake Messages API can now script: pause_turn and compaction
// followed by a tool call (threaded and not), the max_tokens ladder running out or climbing past a reply the fake
// really cut, and tool input streamed as truly partial input_json_delta pieces.
import { z } from 'zod';
import type { BetaMessageParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { defineTool } from '../src/tools/define-tool';
import { reply, text, toolUse, type RecordedRequest } from '../src/testing';
import { compaction } from '../src/testing/fake-messages-api/builders';
import { startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

const lookups: unknown[] = [];
const lookup = defineTool({
  name: 'lookup',
  description: 'Look something up',
  input: z.object({ query: z.string() }).passthrough(),
  run: (input) => {
    lookups.push(input);
    return `result for ${input.query}`;
  },
});

async function converse(prompt: string, options: Record<string, unknown> = {}) {
  return withWorker(harness, { tools: [lookup] }, async (agent) => (await agent.start({ prompt, tools: ['lookup'], ...options })).result());
}

const messagesSent = (request: RecordedRequest) => (request.body as { messages: BetaMessageParam[] }).messages;
const blockTypes = (message: BetaMessageParam | undefined) => (Array.isArray(message?.content) ? message.content.map((b) => b.type) : []);

describe('pause_turn, then a tool call', () => {
  const script = (prompt: string) =>
    harness.fake.addScript({
      match: prompt,
      steps: [
        { content: [text('Searching… ')], stop_reason: 'pause_turn' },
        reply(text('Found a lead.'), toolUse('lookup', { query: `lead for ${prompt}` })),
        reply(text('Here is the answer.')),
      ],
    });

  test('on a thread: the empty continue resumes the turn, the tool runs once, its result continues the thread', async () => {
    const prompt = uniquePrompt('Research at length, then look it up');
    script(prompt);
    const result = await converse(prompt);
    expect(result.status).toBe('completed');
    expect(lookups).toContainEqual({ query: `lead for ${prompt}` });
    expect(lookups.filter((input) => (input as { query: string }).query === `lead for ${prompt}`)).toHaveLength(1);
    // The resumed reply joins the paused one: one assistant turn, then the tool result, then the answer.
    const messages = result.transcript!.messages;
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(blockTypes(messages[1])).toEqual(['text', 'text', 'tool_use']);
    const requests = harness.fake.requestsFor(prompt);
    expect(requests.map((r) => `${r.threadKind}:${r.status}`)).toEqual(['create:200', 'continue:200', 'continue:200']);
    expect(messagesSent(requests[1]!)).toEqual([]);
    expect(blockTypes(messagesSent(requests[2]!)[0])).toEqual(['tool_result']);
    expect(result.text).toContain('Here is the answer.');
  });

  test('without threads: each request resends the history, the paused and resumed replies as one assistant message', async () => {
    const prompt = uniquePrompt('Research at length unthreaded, then look it up');
    script(prompt);
    const result = await converse(prompt, { threads: false });
    expect(result.status).toBe('completed');
    expect(lookups).toContainEqual({ query: `lead for ${prompt}` });
    const requests = harness.fake.requestsFor(prompt);
    expect(requests.map((r) => `${r.threadKind}:${r.status}`)).toEqual(['unthreaded:200', 'unthreaded:200', 'unthreaded:200']);
    expect(messagesSent(requests[1]!).map((m) => m.role)).toEqual(['user', 'assistant']);
    const third = messagesSent(requests[2]!);
    expect(third.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(blockTypes(third[1])).toEqual(['text', 'text', 'tool_use']);
    expect(requests.map((r) => r.turnIndex)).toEqual([0, 1, 2]);
  });
});

describe('compaction', () => {
  const summary = 'Earlier turns: the user wants the population of Oslo.';
  const script = (prompt: string) =>
    harness.fake.addScript({
      match: prompt,
      steps: [
        { content: [compaction(summary, 'enc_opaque_42')], stop_reason: 'compaction' },
        reply(toolUse('lookup', { query: `population after compaction ${prompt}` })),
        reply(text('About 700,000.')),
      ],
    });

  test('on a thread: the conversation resumes after the compaction block with an empty continue and runs the tool', async () => {
    const prompt = uniquePrompt('A long conversation that gets compacted');
    script(prompt);
    const result = await converse(prompt);
    expect(result.status).toBe('completed');
    expect(result.text).toContain('About 700,000.');
    expect(lookups).toContainEqual({ query: `population after compaction ${prompt}` });
    const messages = result.transcript!.messages;
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    // The compaction block is kept first in the assistant turn, verbatim, as the API requires it back.
    expect((messages[1]!.content as unknown[])[0]).toEqual({ type: 'compaction', content: summary, encrypted_content: 'enc_opaque_42' });
    expect(result.transcript!.turns.map((t) => t.stopReason)).toEqual(['compaction', 'tool_use', 'end_turn']);
    const requests = harness.fake.requestsFor(prompt);
    expect(requests.map((r) => `${r.threadKind}:${r.status}`)).toEqual(['create:200', 'continue:200', 'continue:200']);
    expect(messagesSent(requests[1]!)).toEqual([]);
  });

  test('without threads: the next request sends the compaction block back verbatim', async () => {
    const prompt = uniquePrompt('A long unthreaded conversation that gets compacted');
    script(prompt);
    const result = await converse(prompt, { threads: false });
    expect(result.status).toBe('completed');
    const second = messagesSent(harness.fake.requestsFor(prompt)[1]!);
    expect(second[1]).toEqual({ role: 'assistant', content: [{ type: 'compaction', content: summary, encrypted_content: 'enc_opaque_42' }] });
  });
});

describe('the max_tokens ladder running out', () => {
  test('every rung cuts the tool_use off: the conversation ends truncated and the cut-off tool never runs', async () => {
    const prompt = uniquePrompt('Look up something enormous');
    const query = `cut off ${prompt}`;
    harness.fake.addScript({
      match: prompt,
      steps: () => ({ content: [text('Looking that up.'), toolUse('lookup', { query })], stop_reason: 'max_tokens' }),
    });
    const result = await converse(prompt, { maxTokens: 1000 });
    expect(result.status).toBe('truncated');
    expect(result.stopReason).toBe('max_tokens');
    expect(lookups).not.toContainEqual({ query });
    const sent = harness.fake.requestsFor(prompt).map((r) => (r.body as { max_tokens: number }).max_tokens);
    expect(sent).toEqual([1000, 2000, 4000]);
    expect(result.transcript!.turns).toHaveLength(1);
    expect(result.transcript!.turns[0]).toMatchObject({ maxTokensTried: [1000, 2000, 4000], stopReason: 'max_tokens', toolCalls: [] });
    // What was whole (the text) is kept; the unusable call is not in the transcript, so nothing awaits a result.
    const messages = result.transcript!.messages;
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(blockTypes(messages[1])).toEqual(['text']);
    expect(result.text).toBe('Looking that up.');
  });

  test('a reply that is only a cut-off tool_use leaves no assistant message behind', async () => {
    const prompt = uniquePrompt('Call a tool with a huge input');
    const query = `only a cut call ${prompt}`;
    harness.fake.addScript({ match: prompt, steps: () => ({ content: [toolUse('lookup', { query })], stop_reason: 'max_tokens' }) });
    const result = await converse(prompt, { maxTokens: 1000, maxTokensLadder: [3000] });
    expect(result.status).toBe('truncated');
    expect(lookups).not.toContainEqual({ query });
    expect(harness.fake.requestsFor(prompt).map((r) => (r.body as { max_tokens: number }).max_tokens)).toEqual([1000, 3000]);
    expect(result.transcript!.messages.map((m) => m.role)).toEqual(['user']);
  });
});

describe('the max_tokens ladder on a reply the fake really cuts (cutAtMaxTokens)', () => {
  // About 1,500 tokens of input at the fake's 4 characters a token: cut at 1,000, whole at 3,000.
  const bigInput = (prompt: string) => ({ query: `big ${prompt}`, notes: 'n'.repeat(6000) });

  test.each([
    ['a buffered', 'buffered'],
    ['an eager', 'eager'],
  ] as const)('%s tool input cut mid-JSON is repeated with a higher max_tokens and runs once, whole', async (_name, toolInputStreaming) => {
    const prompt = uniquePrompt(`Look up a big ${toolInputStreaming} input`);
    const input = bigInput(prompt);
    harness.fake.addScript({
      match: prompt,
      steps: [{ ...reply(text('Looking that up.'), toolUse('lookup', input)), cutAtMaxTokens: true, toolInputStreaming }, reply(text('Done.'))],
    });
    const result = await converse(prompt, { maxTokens: 1000, maxTokensLadder: [3000] });
    expect(result.status).toBe('completed');
    expect(lookups.filter((seen) => (seen as { query: string }).query === input.query)).toEqual([input]);
    const [cut, whole] = harness.fake.requestsFor(prompt);
    expect(cut!.maxTokensCut).toMatchObject({ index: 1 });
    expect(cut!.response!.stop_reason).toBe('max_tokens');
    expect(whole!.maxTokensCut).toBeUndefined();
    expect(result.transcript!.turns[0]).toMatchObject({ maxTokensTried: [1000, 3000], stopReason: 'tool_use' });
  });

  test('a cut on a later turn, continuing a thread, is repeated the same way', async () => {
    const prompt = uniquePrompt('Look up twice, the second time big');
    const input = bigInput(prompt);
    harness.fake.addScript({
      match: prompt,
      steps: [
        reply(toolUse('lookup', { query: `small ${prompt}` })),
        { ...reply(toolUse('lookup', input)), cutAtMaxTokens: true },
        reply(text('Done.')),
      ],
    });
    const result = await converse(prompt, { maxTokens: 1000, maxTokensLadder: [3000] });
    expect(result.status).toBe('completed');
    expect(lookups.filter((seen) => (seen as { query: string }).query === input.query)).toEqual([input]);
    expect(harness.fake.requestsFor(prompt).map((r) => `${r.turnIndex}:${r.status}:${r.maxTokensCut ? 'cut' : 'whole'}`)).toEqual([
      '0:200:whole',
      '1:200:cut',
      '1:200:whole',
      '2:200:whole',
    ]);
  });
});

describe('tool input streamed as partial JSON', () => {
  test('the workflow gets the exact input from small pieces cut mid-token, and the tool runs with it', async () => {
    const prompt = uniquePrompt('Look up a tricky input');
    const input = {
      query: `tricky ${prompt}`,
      quoted: 'she said "no" \\ twice\nthen left\ttabbed',
      unicode: 'Zürich ☃ 🌍 日本',
      numbers: [0, -1.5, 12345678.9, 1e-7],
      nested: { deeper: { flags: [true, false, null], empty: {} } },
    };
    harness.fake.addScript({
      match: prompt,
      steps: [{ ...reply(toolUse('lookup', input)), toolInputStreaming: 'eager', inputJsonChunkChars: 3 }, reply(text('Looked up.'))],
    });
    const result = await converse(prompt);
    expect(result.status).toBe('completed');
    expect(lookups).toContainEqual(input);
    const [first] = harness.fake.requestsFor(prompt);
    const pieces = first!.inputJsonDeltas![0]!;
    expect(pieces.join('')).toBe(JSON.stringify(input));
    expect(pieces.length).toBeGreaterThan(50);
    expect(pieces.every((piece) => Array.from(piece).length <= 3)).toBe(true);
    // The tool_use recorded in the transcript holds the same value the tool ran with.
    const call = (result.transcript!.messages[1]!.content as Array<{ type: string; input?: unknown }>).find((b) => b.type === 'tool_use');
    expect(call!.input).toEqual(input);
  });
});
