// Context management in the fake, through the real SDK over HTTP: the explicit compaction request and the block it
// returns, automatic compaction, clearing old tool uses, their errors, threads, and the context window. What each
// test expects is what /work/notes/compaction-reference.md documents (the SDK 1.13 types are the authority).
import Anthropic, { BadRequestError } from '@anthropic-ai/sdk';
import {
  CompactionBlockAmbiguousError,
  CompactionBlockMisplacedError,
  CompactionContentMismatchError,
  CompactionIncompleteTurnError,
  CompactionSignatureInvalidError,
  CompactionToolChangesMismatchError,
  CompactionUnavailableError,
  ThreadUnsupportedRequestError,
} from '@anthropic-ai/sdk/resources/messages';
import type { BetaContentBlock, BetaMessage, BetaMessageParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { FakeMessagesApi, MESSAGE_THREADS_BETA, reply, text, toolUse } from '../../src/testing';
import {
  CLEARED_TOOL_RESULT_TEXT,
  COMPACTION_BETA,
  COMPACT_EDIT_BETA,
  CONTEXT_MANAGEMENT_BETA,
} from '../../src/testing/fake-messages-api/compaction';

let fake: FakeMessagesApi;
let client: Anthropic;
beforeAll(async () => {
  fake = await FakeMessagesApi.start();
  client = new Anthropic({ apiKey: 'test-key', baseURL: fake.baseURL, maxRetries: 0 });
});
afterAll(() => fake.close());
afterEach(() => fake.setCompactionRefusal(null));

let n = 0;
const unique = (label: string) => `${label} #${++n}`;
const model = 'claude-sonnet-5-5';
const tools = [{ name: 'read_file', description: 'Read a file', input_schema: { type: 'object' as const, properties: { path: { type: 'string' } } } }];

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the request to fail');
}

/** A finished two-turn conversation: the question, a tool call, its result, the answer. */
function finishedConversation(prompt: string): BetaMessageParam[] {
  return [
    { role: 'user', content: prompt },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'read_file', input: { path: 'notes.txt' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'The meeting moved to Thursday.' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'The meeting is on Thursday now.' }] },
  ];
}

function compactionBlockOf(message: BetaMessage): Extract<BetaContentBlock, { type: 'compaction' }> {
  const block = message.content[0];
  if (block?.type !== 'compaction') throw new Error(`expected a compaction block, got ${JSON.stringify(message.content)}`);
  return block;
}

async function compact(messages: BetaMessageParam[], extra: Record<string, unknown> = {}): Promise<BetaMessage> {
  return client.beta.messages.create({ model, max_tokens: 1024, tools, messages, compaction: { type: 'summarize' }, betas: [COMPACTION_BETA], ...extra });
}

describe('the explicit compaction request (compaction: {type: "summarize"}, beta compact-2026-09-04)', () => {
  test('returns only a signed compaction block with stop_reason compaction; the next request sends it first, in place of what it summarized', async () => {
    const prompt = unique('When is the meeting?');
    fake.addScript({ match: prompt, steps: [reply(toolUse('read_file', { path: 'notes.txt' })), reply(text('Thursday.')), reply(text('At 10:00, in Aurora.'))] });
    const compacted = await compact(finishedConversation(prompt));
    expect(compacted.stop_reason).toBe('compaction');
    expect(compacted.content).toHaveLength(1);
    const block = compactionBlockOf(compacted);
    expect(block.content).toContain(prompt);
    expect(typeof block.encrypted_content).toBe('string');
    expect(typeof block.signature).toBe('string');
    expect(block.tool_changes).toEqual([]);
    // The compaction's own usage is an iteration of type compaction, and its tokens are not in the top-level counts.
    expect(compacted.usage.iterations).toEqual([expect.objectContaining({ type: 'compaction', input_tokens: expect.any(Number), output_tokens: expect.any(Number) })]);
    expect(compacted.usage.iterations![0]!.input_tokens).toBeGreaterThan(20);
    expect(compacted.usage).toMatchObject({ input_tokens: 0, output_tokens: 0 });
    const compactionRequest = fake.requests.at(-1)!;
    expect(compactionRequest.context?.compaction).toMatchObject({ kind: 'request', summarizedMessages: 4 });
    // Not a turn of the conversation: no script step was used.
    expect(compactionRequest.attempt).toBeUndefined();

    const next = await client.beta.messages.create({
      model,
      max_tokens: 1024,
      tools,
      betas: [COMPACTION_BETA],
      messages: [{ role: 'assistant', content: compacted.content }, { role: 'user', content: 'And at what time?' }],
    });
    expect(next.content).toEqual([{ type: 'text', text: 'At 10:00, in Aurora.', citations: null }]);
    // Still the same conversation, and its third model reply.
    expect(fake.requests.at(-1)).toMatchObject({ conversationKey: prompt, turnIndex: 2, status: 200 });
  });

  test('the summary follows the instructions, which replace the default prompt; streamed, the block arrives whole with its signature', async () => {
    const prompt = unique('Plan the offsite');
    const stream = client.beta.messages.stream({
      model,
      max_tokens: 1024,
      messages: finishedConversation(prompt),
      compaction: { type: 'summarize', instructions: 'Keep every date.' },
      betas: [COMPACTION_BETA],
    });
    const summaries: string[] = [];
    stream.on('compaction', (summary) => summaries.push(summary));
    const message = await stream.finalMessage();
    const block = compactionBlockOf(message);
    expect(message.stop_reason).toBe('compaction');
    expect(block.content).toContain('Keep every date.');
    expect(summaries).toEqual([block.content]);
    expect(block.signature).toMatch(/^fakesig\./);
    expect(fake.requests.at(-1)!.response!.content[0]).toEqual(block);
  });

  test('is refused without its beta, together with context_management, or with fields that only shape a reply', async () => {
    const messages = finishedConversation(unique('refusals'));
    const noBeta = await errorOf(client.beta.messages.create({ model, max_tokens: 1024, messages, compaction: { type: 'summarize' } }));
    expect(noBeta).toBeInstanceOf(BadRequestError);
    expect((noBeta as BadRequestError).message).toContain(COMPACTION_BETA);
    const withEdits = await errorOf(
      compact(messages, { betas: [COMPACTION_BETA, CONTEXT_MANAGEMENT_BETA], context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] } }),
    );
    expect((withEdits as BadRequestError).message).toContain('cannot be combined with context_management');
    const withStops = await errorOf(compact(messages, { stop_sequences: ['END'] }));
    expect((withStops as BadRequestError).message).toContain('stop_sequences');
    const forced = await errorOf(compact(messages, { tool_choice: { type: 'any' } }));
    expect((forced as BadRequestError).message).toContain('tool_choice');
  });

  test('a conversation that ends on an unanswered tool call cannot be compacted (compaction_incomplete_turn)', async () => {
    const messages = finishedConversation(unique('mid-turn')).slice(0, 2);
    const error = await errorOf(compact(messages));
    expect(error).toBeInstanceOf(CompactionIncompleteTurnError);
    expect((error as CompactionIncompleteTurnError).errorCode).toBe('compaction_incomplete_turn');
  });

  test('the block must come back verbatim, alone and first: each change is refused with its own error class', async () => {
    const prompt = unique('verbatim');
    fake.addScript({ match: prompt, steps: [reply(toolUse('read_file', { path: 'a' })), reply(text('one')), reply(text('two'))] });
    const block = compactionBlockOf(await compact(finishedConversation(prompt)));
    const send = (content: unknown[], before: BetaMessageParam[] = []) =>
      client.beta.messages.create({
        model,
        max_tokens: 64,
        tools,
        betas: [COMPACTION_BETA],
        messages: [...before, { role: 'assistant', content: content as BetaContentBlock[] }, { role: 'user', content: 'go on' }],
      });
    expect(await errorOf(send([{ ...block, content: `${block.content} (edited)` }]))).toBeInstanceOf(CompactionContentMismatchError);
    expect(await errorOf(send([{ ...block, signature: 'fakesig.forged.x.y' }]))).toBeInstanceOf(CompactionSignatureInvalidError);
    expect(await errorOf(send([{ ...block, tool_changes: [{ type: 'tool_removal', tool: { type: 'tool_reference', name: 'read_file' } }] }]))).toBeInstanceOf(
      CompactionToolChangesMismatchError,
    );
    expect(await errorOf(send([block], [{ role: 'user', content: prompt }]))).toBeInstanceOf(CompactionBlockMisplacedError);
    expect(await errorOf(send([block, { ...block }]))).toBeInstanceOf(CompactionBlockAmbiguousError);
    // Verbatim, it is accepted.
    expect((await send([block])).content).toEqual([{ type: 'text', text: 'two', citations: null }]);
  });

  test('a block with null content is a failed compaction: the server treats it as a no-op', async () => {
    const prompt = unique('null summary');
    fake.addScript({ match: prompt, steps: [reply(text('Hello.')), reply(text('Still here.'))] });
    const messages: BetaMessageParam[] = [
      { role: 'user', content: prompt },
      { role: 'assistant', content: [{ type: 'compaction', content: null, encrypted_content: null }, { type: 'text', text: 'Hello.' }] },
      { role: 'user', content: 'again' },
    ];
    const answer = await client.beta.messages.create({ model, max_tokens: 64, betas: [COMPACTION_BETA], messages });
    expect(answer.content).toEqual([{ type: 'text', text: 'Still here.', citations: null }]);
    expect(fake.requests.at(-1)).toMatchObject({ turnIndex: 1 });
  });

  test('a server that cannot compact answers 529 compaction_unavailable (retryable) or a 400 the client must not repeat', async () => {
    const messages = finishedConversation(unique('refused'));
    fake.setCompactionRefusal('compaction_unavailable');
    const unavailable = await errorOf(compact(messages));
    expect(unavailable).toBeInstanceOf(CompactionUnavailableError);
    expect((unavailable as CompactionUnavailableError).status).toBe(529);
    fake.setCompactionRefusal('compaction_too_many_tool_references');
    const refused = await errorOf(compact(messages));
    expect(refused).toBeInstanceOf(BadRequestError);
    expect((refused as BadRequestError).errorCode).toBe('compaction_too_many_tool_references');
  });

  test('on a message thread: the compaction request may go out as a create (as the SDK forks it), but context_management may not', async () => {
    const prompt = unique('threaded compaction');
    const betas = [COMPACTION_BETA, MESSAGE_THREADS_BETA];
    const compacted = await compact(finishedConversation(prompt), { betas, thread: { type: 'create' } });
    expect(compacted.stop_reason).toBe('compaction');
    expect(fake.requests.at(-1)).toMatchObject({ threadKind: 'create', status: 200 });

    const refused = await errorOf(
      client.beta.messages.create({
        model,
        max_tokens: 64,
        betas: [CONTEXT_MANAGEMENT_BETA, MESSAGE_THREADS_BETA],
        thread: { type: 'create' },
        context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] },
        messages: [{ role: 'user', content: prompt }],
      }),
    );
    expect(refused).toBeInstanceOf(ThreadUnsupportedRequestError);
    expect((refused as ThreadUnsupportedRequestError).details).toEqual({ error_code: 'thread_unsupported_request', unsupported: ['context_management'] });
  });
});

describe('clear_tool_uses_20250919 (beta context-management-2025-06-27)', () => {
  /** A conversation of `count` tool calls whose results are `resultChars` long, ending on a new question. */
  function toolHeavyConversation(prompt: string, count: number, resultChars: number, names: (i: number) => string = () => 'read_file'): BetaMessageParam[] {
    const messages: BetaMessageParam[] = [{ role: 'user', content: prompt }];
    for (let i = 1; i <= count; i++) {
      messages.push({ role: 'assistant', content: [{ type: 'tool_use', id: `toolu_${i}`, name: names(i), input: { path: `file-${i}.txt` } }] });
      messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: `toolu_${i}`, content: `${i}:`.padEnd(resultChars, 'x') }] });
    }
    return messages;
  }

  const sent = () => fake.requests.at(-1)!;
  const resultText = (message: BetaMessageParam | undefined) => {
    const block = (message!.content as Array<{ type: string; content?: unknown }>).find((b) => b.type === 'tool_result')!;
    return JSON.stringify(block.content);
  };

  test("the docs' configuration: past the trigger the oldest results get a placeholder, the newest `keep` stay, and the response reports it", async () => {
    const prompt = unique('Summarize the files');
    fake.addScript({ match: prompt, steps: () => reply(text('Here is the summary.')) });
    const messages = toolHeavyConversation(prompt, 5, 8_000);
    const answer = await client.beta.messages.create({
      model,
      max_tokens: 256,
      tools: [...tools, { name: 'web_search', input_schema: { type: 'object' } }],
      betas: [CONTEXT_MANAGEMENT_BETA],
      messages,
      context_management: {
        edits: [
          {
            type: 'clear_tool_uses_20250919',
            trigger: { type: 'input_tokens', value: 5_000 },
            keep: { type: 'tool_uses', value: 3 },
            clear_at_least: { type: 'input_tokens', value: 1_000 },
            exclude_tools: ['web_search'],
          },
        ],
      },
    });
    expect(answer.context_management?.applied_edits).toEqual([{ type: 'clear_tool_uses_20250919', cleared_tool_uses: 2, cleared_input_tokens: expect.any(Number) }]);
    expect(answer.context_management!.applied_edits[0]!.cleared_input_tokens).toBeGreaterThan(3_000);
    const seen = sent().context!.modelMessages!;
    expect(resultText(seen[2])).toContain(CLEARED_TOOL_RESULT_TEXT);
    expect(resultText(seen[4])).toContain(CLEARED_TOOL_RESULT_TEXT);
    expect(resultText(seen[6])).toContain('3:x');
    expect(resultText(seen[10])).toContain('5:x');
    // The tool_use blocks and their pairing stay; the client's own history is untouched (it resends it whole).
    expect(seen.filter((m) => m.role === 'assistant')).toHaveLength(5);
    expect(resultText((sent().body as { messages: BetaMessageParam[] }).messages[2])).toContain('1:x');
  });

  test('below the trigger nothing is cleared (applied_edits is empty); clear_at_least not met clears nothing either', async () => {
    const prompt = unique('small');
    fake.addScript({ match: prompt, steps: () => reply(text('ok')) });
    const messages = toolHeavyConversation(prompt, 5, 400);
    const send = (edit: Record<string, unknown>) =>
      client.beta.messages.create({ model, max_tokens: 64, tools, betas: [CONTEXT_MANAGEMENT_BETA], messages, context_management: { edits: [{ type: 'clear_tool_uses_20250919', ...edit }] } });
    expect((await send({})).context_management).toEqual({ applied_edits: [] });
    expect(sent().context!.modelMessages).toBeUndefined();
    const notWorthIt = await send({ trigger: { type: 'tool_uses', value: 4 }, keep: { type: 'tool_uses', value: 1 }, clear_at_least: { type: 'input_tokens', value: 50_000 } });
    expect(notWorthIt.context_management).toEqual({ applied_edits: [] });
    const worthIt = await send({ trigger: { type: 'tool_uses', value: 4 }, keep: { type: 'tool_uses', value: 1 }, clear_tool_inputs: true });
    expect(worthIt.context_management!.applied_edits).toEqual([expect.objectContaining({ cleared_tool_uses: 4 })]);
    const seen = sent().context!.modelMessages!;
    expect((seen[1]!.content as Array<{ input?: unknown }>)[0]!.input).toEqual({});
    expect((seen[9]!.content as Array<{ input?: unknown }>)[0]!.input).toEqual({ path: 'file-5.txt' });
  });

  test('excluded tools are never cleared', async () => {
    const prompt = unique('excluded');
    fake.addScript({ match: prompt, steps: () => reply(text('ok')) });
    const messages = toolHeavyConversation(prompt, 4, 400, (i) => (i % 2 === 1 ? 'memory' : 'read_file'));
    const answer = await client.beta.messages.create({
      model,
      max_tokens: 64,
      tools: [...tools, { name: 'memory', input_schema: { type: 'object' } }],
      betas: [CONTEXT_MANAGEMENT_BETA],
      messages,
      context_management: { edits: [{ type: 'clear_tool_uses_20250919', trigger: { type: 'tool_uses', value: 1 }, keep: { type: 'tool_uses', value: 1 }, exclude_tools: ['memory'] }] },
    });
    expect(answer.context_management!.applied_edits).toEqual([expect.objectContaining({ cleared_tool_uses: 1 })]);
    const seen = sent().context!.modelMessages!;
    expect(resultText(seen[2])).toContain('1:x');
    expect(resultText(seen[4])).toContain(CLEARED_TOOL_RESULT_TEXT);
    expect(resultText(seen[8])).toContain('4:x');
  });

  test('needs its beta; count_tokens counts the edited prompt and reports the original', async () => {
    const prompt = unique('count');
    const messages = toolHeavyConversation(prompt, 5, 4_000);
    const edit = { type: 'clear_tool_uses_20250919' as const, trigger: { type: 'input_tokens' as const, value: 1_000 }, keep: { type: 'tool_uses' as const, value: 1 } };
    const noBeta = await errorOf(client.beta.messages.create({ model, max_tokens: 64, messages, context_management: { edits: [edit] } }));
    expect((noBeta as BadRequestError).message).toContain(CONTEXT_MANAGEMENT_BETA);
    const counted = await client.beta.messages.countTokens({ model, messages, betas: [CONTEXT_MANAGEMENT_BETA], context_management: { edits: [edit] } });
    expect(counted.context_management!.original_input_tokens).toBeGreaterThan(counted.input_tokens + 3_000);
  });
});

describe('compact_20260112 (automatic compaction, beta compact-2026-01-12)', () => {
  const betas = [CONTEXT_MANAGEMENT_BETA, COMPACT_EDIT_BETA];
  /** Over 50,000 tokens of the fake's estimate (4 characters a token). */
  const longHistory = (prompt: string): BetaMessageParam[] => [
    { role: 'user', content: `${prompt} ${'background '.repeat(20_000)}` },
    { role: 'assistant', content: [{ type: 'text', text: 'Noted.' }] },
    { role: 'user', content: 'What should we do first?' },
  ];

  test('past the trigger the reply starts with the compaction block, and its usage reports the compaction as an iteration', async () => {
    const prompt = unique('auto compaction');
    fake.addScript({ match: prompt, steps: [reply(text('Noted.')), reply(text('Start with the budget.')), reply(text('Then the venue.'))] });
    const answer = await client.beta.messages.create({
      model,
      max_tokens: 256,
      betas,
      messages: longHistory(prompt),
      context_management: { edits: [{ type: 'compact_20260112', trigger: { type: 'input_tokens', value: 50_000 } }] },
    });
    expect(answer.stop_reason).toBe('end_turn');
    expect(answer.content.map((b) => b.type)).toEqual(['compaction', 'text']);
    expect(answer.usage.iterations!.map((i) => i.type)).toEqual(['compaction', 'message']);
    const [compactionUsage] = answer.usage.iterations!;
    expect(compactionUsage!.input_tokens).toBeGreaterThan(50_000);
    // The top-level usage is the answer's, from the summary, not the compacted context's.
    expect(answer.usage.input_tokens).toBeLessThan(1_000);

    // Appending the reply as usual: the API drops every block before the compaction block.
    const next = await client.beta.messages.create({
      model,
      max_tokens: 256,
      betas,
      messages: [...longHistory(prompt), { role: 'assistant', content: answer.content }, { role: 'user', content: 'And then?' }],
      context_management: { edits: [{ type: 'compact_20260112', trigger: { type: 'input_tokens', value: 50_000 } }] },
    });
    expect(next.content).toEqual([{ type: 'text', text: 'Then the venue.', citations: null }]);
    const request = fake.requests.at(-1)!;
    expect(request).toMatchObject({ conversationKey: expect.stringContaining(prompt), turnIndex: 2 });
    expect(request.context!.modelMessages![0]!.role).toBe('assistant');
    expect(request.context!.inputTokens).toBeLessThan(1_000);
  });

  test('pause_after_compaction: the reply is the block alone (stop_reason compaction); resending with it appended resumes the turn', async () => {
    const prompt = unique('paused compaction');
    fake.addScript({ match: prompt, steps: [reply(text('Noted.')), reply(text('Start with the budget.'))] });
    const edits = [{ type: 'compact_20260112' as const, trigger: { type: 'input_tokens' as const, value: 50_000 }, pause_after_compaction: true }];
    const paused = await client.beta.messages.create({ model, max_tokens: 256, betas, messages: longHistory(prompt), context_management: { edits } });
    expect(paused.stop_reason).toBe('compaction');
    expect(paused.content.map((b) => b.type)).toEqual(['compaction']);
    const resumed = await client.beta.messages.create({
      model,
      max_tokens: 256,
      betas,
      messages: [...longHistory(prompt), { role: 'assistant', content: paused.content }],
      context_management: { edits },
    });
    expect(resumed.content).toEqual([{ type: 'text', text: 'Start with the budget.', citations: null }]);
  });

  test('a trigger under 50,000 tokens is refused', async () => {
    const error = await errorOf(
      client.beta.messages.create({
        model,
        max_tokens: 64,
        betas,
        messages: [{ role: 'user', content: unique('low trigger') }],
        context_management: { edits: [{ type: 'compact_20260112', trigger: { type: 'input_tokens', value: 10_000 } }] },
      }),
    );
    expect((error as BadRequestError).message).toContain('50000');
  });
});

describe('the context window (contextWindowTokens)', () => {
  let small: FakeMessagesApi;
  let smallClient: Anthropic;
  beforeAll(async () => {
    small = await FakeMessagesApi.start({ contextWindowTokens: { 'claude-sonnet-5': 2_000 } });
    smallClient = new Anthropic({ apiKey: 'test-key', baseURL: small.baseURL, maxRetries: 0 });
  });
  afterAll(() => small.close());

  test('a prompt over the window is a 400 "prompt is too long" with no error_code', async () => {
    const prompt = unique('too long');
    small.addScript({ match: prompt, steps: () => reply(text('never')) });
    const error = await errorOf(smallClient.beta.messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content: `${prompt} ${'word '.repeat(2_000)}` }] }));
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).message).toMatch(/prompt is too long: \d+ tokens > 2000 maximum/);
    expect((error as BadRequestError).errorCode).toBeNull();
  });

  test('a reply that would run past the window stops where it is full, with model_context_window_exceeded', async () => {
    const prompt = unique('fills the window');
    small.addScript({ match: prompt, steps: () => reply(text('long answer '.repeat(1_000))) });
    const message = await smallClient.beta.messages.create({ model, max_tokens: 8_000, messages: [{ role: 'user', content: `${prompt} ${'word '.repeat(1_200)}` }] });
    expect(message.stop_reason).toBe('model_context_window_exceeded');
    const request = small.requests.at(-1)!;
    expect(request.context).toMatchObject({ windowExceeded: true });
    expect(message.usage.output_tokens).toBe(2_000 - request.context!.inputTokens);
    // Another model has no window set: the same request is answered in full.
    const other = await smallClient.beta.messages.create({ model: 'claude-opus-5-5', max_tokens: 8_000, messages: [{ role: 'user', content: `${prompt} ${'word '.repeat(1_200)}` }] });
    expect(other.stop_reason).toBe('end_turn');
  });

  test('a conversation too long for the window gets an answer once it is compacted', async () => {
    const prompt = unique('recover by compaction');
    small.addScript({ match: prompt, steps: [reply(text('Read it.')), reply(text('Short answer.'))] });
    // About 1,500 tokens of history, then a question of about 600: together over the 2,000-token window.
    const history: BetaMessageParam[] = [
      { role: 'user', content: `${prompt} ${'detail '.repeat(850)}` },
      { role: 'assistant', content: [{ type: 'text', text: 'Read it.' }] },
      { role: 'user', content: `So what now? ${'context '.repeat(300)}` },
    ];
    const tooLong = await errorOf(smallClient.beta.messages.create({ model, max_tokens: 64, messages: history }));
    expect((tooLong as BadRequestError).message).toContain('prompt is too long');
    // The compaction request reads the conversation up to the last finished turn, which fits.
    const compacted = await smallClient.beta.messages.create({ model, max_tokens: 64, betas: [COMPACTION_BETA], compaction: { type: 'summarize' }, messages: history.slice(0, 2) });
    const answer = await smallClient.beta.messages.create({ model, max_tokens: 64, messages: [{ role: 'assistant', content: compacted.content }, history[2]!] });
    expect(answer.content).toEqual([{ type: 'text', text: 'Short answer.', citations: null }]);
  });
});
