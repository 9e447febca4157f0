// The rest of Claude's tool-use surface in the fake, driven by the real SDK: thinking blocks the fake signs and
// checks when they come back, the thinking request rules, server tools with their result blocks, pause_turn after
// server tool calls, the code-execution container, tool betas and input_examples.
import Anthropic, { type APIError } from '@anthropic-ai/sdk';
import type { BetaContentBlock, BetaContentBlockParam, BetaMessage, BetaMessageParam, BetaToolUnion } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import {
  ADVANCED_TOOL_USE_BETA,
  CODE_EXECUTION_BETA,
  DISABLED_NOT_SUPPORTED,
  ENABLED_NOT_SUPPORTED,
  FORCED_TOOL_CHOICE_WITH_THINKING,
  FakeMessagesApi,
  MESSAGE_THREADS_BETA,
  WEB_FETCH_BETA,
  redactedThinking,
  reply,
  serverToolUse,
  text,
  thinking,
  toolUse,
} from '../../src/testing';

let fake: FakeMessagesApi;
let client: Anthropic;
beforeAll(async () => {
  fake = await FakeMessagesApi.start();
  client = new Anthropic({ apiKey: 'test-key', baseURL: fake.baseURL, maxRetries: 0 });
});
afterAll(() => fake.close());

let n = 0;
const unique = (label: string) => `${label} #${++n}`;
const model = 'claude-opus-5';
const weather = { name: 'get_weather', description: 'Weather', input_schema: { type: 'object' as const, properties: { location: { type: 'string' } }, required: ['location'] } };
const adaptive = { type: 'adaptive' as const };

function errorOf(promise: Promise<unknown>): Promise<APIError> {
  return promise.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (err: unknown) => err as APIError,
  );
}

/** The error's message as the API wrote it (the SDK's `message` holds the whole body as JSON). */
const apiMessage = (error: APIError) => (error.error as { error?: { message?: string } } | undefined)?.error?.message ?? error.message;

const asParams = (content: BetaContentBlock[]) => content as unknown as BetaContentBlockParam[];
const resultFor = (message: BetaMessage, output = 'sunny'): BetaMessageParam => {
  const use = message.content.find((b) => b.type === 'tool_use') as { id: string };
  return { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: output }] };
};

/** A first turn that thinks, then calls get_weather; the second answers. */
async function thinkingTurn(prompt: string, extra: Record<string, unknown> = {}) {
  fake.addScript({ match: prompt, steps: [reply(thinking('The user wants Oslo weather; call the tool.'), toolUse('get_weather', { location: 'Oslo' })), reply(text('Sunny.'))] });
  const first = await client.beta.messages.create({ model, max_tokens: 2048, tools: [weather], thinking: adaptive, messages: [{ role: 'user', content: prompt }], ...extra });
  return first;
}

describe('thinking blocks the fake signs', () => {
  test('a signed thinking block sent back unchanged is accepted (unthreaded)', async () => {
    const prompt = unique('signed');
    const first = await thinkingTurn(prompt);
    const block = first.content[0] as { type: string; thinking: string; signature: string };
    expect(block).toMatchObject({ type: 'thinking', thinking: 'The user wants Oslo weather; call the tool.' });
    expect(block.signature).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(block.signature.length).toBeGreaterThan(20);
    const second = await client.beta.messages.create({
      model,
      max_tokens: 2048,
      tools: [weather],
      thinking: adaptive,
      messages: [{ role: 'user', content: prompt }, { role: 'assistant', content: asParams(first.content) }, resultFor(first)],
    });
    expect(second.content).toEqual([{ type: 'text', text: 'Sunny.', citations: null }]);
  });

  test('a streamed thinking block comes back through a thread continue', async () => {
    const prompt = unique('signed threaded');
    fake.addScript({ match: prompt, steps: [reply(thinking('Think, then call.'), toolUse('get_weather', { location: 'Oslo' })), reply(text('Sunny.'))] });
    const betas = [MESSAGE_THREADS_BETA];
    const first = await client.beta.messages
      .stream({ model, max_tokens: 2048, tools: [weather], thinking: adaptive, betas, thread: { type: 'create' }, messages: [{ role: 'user', content: prompt }] })
      .finalMessage();
    expect(first.content[0]).toMatchObject({ type: 'thinking', thinking: 'Think, then call.' });
    const second = await client.beta.messages.create({ model, max_tokens: 2048, thinking: adaptive, betas, thread: { type: 'continue', previous_message_id: first.id }, messages: [resultFor(first)] });
    expect(second.stop_reason).toBe('end_turn');
  });

  test('changed thinking text or a changed signature: 400 invalid signature', async () => {
    const prompt = unique('altered');
    const first = await thinkingTurn(prompt);
    const block = first.content[0] as { type: 'thinking'; thinking: string; signature: string };
    for (const changed of [{ ...block, thinking: `${block.thinking} (edited)` }, { ...block, signature: `${block.signature.slice(0, -4)}AAA=` }]) {
      const error = await errorOf(
        client.beta.messages.create({
          model,
          max_tokens: 2048,
          tools: [weather],
          thinking: adaptive,
          messages: [{ role: 'user', content: prompt }, { role: 'assistant', content: asParams([changed, ...first.content.slice(1)]) }, resultFor(first)],
        }),
      );
      expect(error.status).toBe(400);
      expect(apiMessage(error)).toContain('messages.1.content.0: Invalid `signature` in `thinking` block');
    }
  });

  test('a thinking block sent to another model is refused', async () => {
    const prompt = unique('other model');
    const first = await thinkingTurn(prompt);
    const error = await errorOf(
      client.beta.messages.create({
        model: 'claude-sonnet-5',
        max_tokens: 2048,
        tools: [weather],
        thinking: adaptive,
        messages: [{ role: 'user', content: prompt }, { role: 'assistant', content: asParams(first.content) }, resultFor(first)],
      }),
    );
    expect(apiMessage(error)).toContain('Invalid `signature`');
  });

  test('with thinking on, dropping the thinking block before the tool_use: 400; with thinking off it is fine', async () => {
    const prompt = unique('dropped');
    const first = await thinkingTurn(prompt);
    const withoutThinking: BetaMessageParam[] = [{ role: 'user', content: prompt }, { role: 'assistant', content: asParams(first.content.slice(1)) }, resultFor(first)];
    const error = await errorOf(client.beta.messages.create({ model, max_tokens: 2048, tools: [weather], thinking: adaptive, messages: withoutThinking }));
    expect(error.status).toBe(400);
    expect(apiMessage(error)).toContain('messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`');
    expect(apiMessage(error)).toContain('To avoid this requirement, disable `thinking`.');
    const ok = await client.beta.messages.create({ model, max_tokens: 2048, tools: [weather], messages: withoutThinking });
    expect(ok.stop_reason).toBe('end_turn');
  });

  test('with thinking on, thinking blocks sent back in another order: 400', async () => {
    const prompt = unique('reordered');
    fake.addScript({ match: prompt, steps: [reply(thinking('First thought.'), thinking('Second thought.'), toolUse('get_weather', { location: 'Oslo' })), reply(text('Sunny.'))] });
    const first = await client.beta.messages.create({ model, max_tokens: 2048, tools: [weather], thinking: adaptive, messages: [{ role: 'user', content: prompt }] });
    const [one, two, use] = first.content;
    const send = (content: BetaContentBlock[]) =>
      client.beta.messages.create({ model, max_tokens: 2048, tools: [weather], thinking: adaptive, messages: [{ role: 'user', content: prompt }, { role: 'assistant', content: asParams(content) }, resultFor(first)] });
    const error = await errorOf(send([two!, one!, use!]));
    expect(apiMessage(error)).toContain('messages.1.content.2.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`');
    expect((await send([one!, two!, use!])).stop_reason).toBe('end_turn');
  });

  test('display omitted: the block goes out with empty thinking and a signature, billed as if shown; it comes back empty', async () => {
    const prompt = unique('omitted');
    const reasoning = 'x'.repeat(400);
    fake.addScript({ match: prompt, steps: [reply(thinking(reasoning), toolUse('get_weather', { location: 'Oslo' })), reply(text('Sunny.'))] });
    const events: string[] = [];
    const stream = client.beta.messages.stream({ model, max_tokens: 2048, tools: [weather], thinking: { type: 'adaptive', display: 'omitted' }, messages: [{ role: 'user', content: prompt }] });
    stream.on('streamEvent', (event) => {
      if (event.type === 'content_block_delta') events.push(event.delta.type);
    });
    const first = await stream.finalMessage();
    expect(first.content[0]).toMatchObject({ type: 'thinking', thinking: '' });
    expect((first.content[0] as { signature: string }).signature).not.toBe('');
    expect(events).not.toContain('thinking_delta');
    expect(events).toContain('signature_delta');
    expect(first.usage.output_tokens).toBeGreaterThanOrEqual(100);
    const history = (content: BetaContentBlock[]): BetaMessageParam[] => [{ role: 'user', content: prompt }, { role: 'assistant', content: asParams(content) }, resultFor(first)];
    const ok = await client.beta.messages.create({ model, max_tokens: 2048, tools: [weather], thinking: adaptive, messages: history(first.content) });
    expect(ok.stop_reason).toBe('end_turn');
    // The text the client never got does not verify: the signature is bound to what was sent.
    const withText = [{ ...(first.content[0] as { type: 'thinking'; signature: string }), thinking: reasoning }, ...first.content.slice(1)] as BetaContentBlock[];
    expect(apiMessage(await errorOf(client.beta.messages.create({ model, max_tokens: 2048, tools: [weather], thinking: adaptive, messages: history(withText) })))).toContain('Invalid `signature`');
  });

  test('redacted thinking: the fake fills in data, accepts it back, refuses changed data', async () => {
    const prompt = unique('redacted');
    fake.addScript({ match: prompt, steps: [reply(redactedThinking(), toolUse('get_weather', { location: 'Oslo' })), reply(text('Sunny.'))] });
    const first = await client.beta.messages.create({ model, max_tokens: 2048, tools: [weather], thinking: adaptive, messages: [{ role: 'user', content: prompt }] });
    const block = first.content[0] as { type: string; data: string };
    expect(block.type).toBe('redacted_thinking');
    expect(Buffer.from(block.data, 'base64').length).toBeGreaterThan(32);
    const history = (content: BetaContentBlock[]): BetaMessageParam[] => [{ role: 'user', content: prompt }, { role: 'assistant', content: asParams(content) }, resultFor(first)];
    expect((await client.beta.messages.create({ model, max_tokens: 2048, tools: [weather], thinking: adaptive, messages: history(first.content) })).stop_reason).toBe('end_turn');
    const changed = [{ type: 'redacted_thinking', data: `A${block.data.slice(1)}` }, ...first.content.slice(1)] as BetaContentBlock[];
    const error = await errorOf(client.beta.messages.create({ model, max_tokens: 2048, tools: [weather], thinking: adaptive, messages: history(changed) }));
    expect(apiMessage(error)).toContain('messages.1.content.0: Invalid `data` in `redacted_thinking` block');
  });

  test('a thinking block the fake never sent is refused; a script-given signature is accepted back', async () => {
    const prompt = unique('given signature');
    fake.addScript({ match: prompt, steps: [reply(thinking('Mine.', 'sig_given'), text('Done.')), reply(text('Again.'))] });
    const first = await client.beta.messages.create({ model, max_tokens: 256, messages: [{ role: 'user', content: prompt }] });
    expect(first.content[0]).toEqual({ type: 'thinking', thinking: 'Mine.', signature: 'sig_given' });
    const next = (content: BetaContentBlock[]) =>
      client.beta.messages.create({ model, max_tokens: 256, messages: [{ role: 'user', content: prompt }, { role: 'assistant', content: asParams(content) }, { role: 'user', content: 'more' }] });
    expect((await next(first.content)).content[0]).toMatchObject({ text: 'Again.' });
    const forged = [{ type: 'thinking', thinking: 'Mine.', signature: 'sig_forged' }] as BetaContentBlock[];
    expect(apiMessage(await errorOf(next(forged)))).toContain('Invalid `signature`');
  });
});

describe('thinking request rules', () => {
  const send = (params: Record<string, unknown>) =>
    client.beta.messages.create({ model, max_tokens: 4096, messages: [{ role: 'user', content: unique('rules') }], ...params } as Parameters<typeof client.beta.messages.create>[0] & { stream?: false });
  beforeAll(() => fake.addScript({ match: 'rules', steps: () => reply(text('ok')) }));

  test('forced tool_choice with thinking: 400', async () => {
    for (const tool_choice of [{ type: 'any' }, { type: 'tool', name: 'get_weather' }]) {
      const error = await errorOf(send({ tools: [weather], tool_choice, thinking: adaptive }));
      expect(error.status).toBe(400);
      expect(apiMessage(error)).toContain(FORCED_TOOL_CHOICE_WITH_THINKING);
    }
    expect((await send({ tools: [weather], tool_choice: { type: 'auto' }, thinking: adaptive })).stop_reason).toBe('end_turn');
  });

  test('enabled needs a budget of at least 1024 below max_tokens; the 5.5 models refuse enabled and disabled', async () => {
    expect((await send({ thinking: { type: 'enabled', budget_tokens: 2048 } })).stop_reason).toBe('end_turn');
    expect(apiMessage(await errorOf(send({ thinking: { type: 'enabled', budget_tokens: 512 } })))).toContain('greater than or equal to 1024');
    expect(apiMessage(await errorOf(send({ thinking: { type: 'enabled', budget_tokens: 4096 } })))).toContain('`max_tokens` must be greater than `thinking.budget_tokens`');
    expect(apiMessage(await errorOf(send({ model: 'claude-sonnet-5-5', thinking: { type: 'enabled', budget_tokens: 2048 } })))).toContain(ENABLED_NOT_SUPPORTED);
    expect(apiMessage(await errorOf(send({ model: 'claude-opus-5-5', thinking: { type: 'disabled' } })))).toContain(DISABLED_NOT_SUPPORTED);
    expect((await send({ model: 'claude-sonnet-5-5', thinking: { type: 'between_tools' }, output_config: { effort: 'high' } })).stop_reason).toBe('end_turn');
    expect(apiMessage(await errorOf(send({ thinking: { type: 'sometimes' } })))).toContain('thinking.type');
  });

  test('effort values, between_tools with xhigh, temperature with thinking', async () => {
    expect(apiMessage(await errorOf(send({ output_config: { effort: 'extreme' } })))).toContain('output_config.effort');
    expect(apiMessage(await errorOf(send({ thinking: { type: 'between_tools' }, output_config: { effort: 'xhigh' } })))).toContain('between_tools');
    expect((await send({ thinking: adaptive, output_config: { effort: 'max' } })).stop_reason).toBe('end_turn');
    expect(apiMessage(await errorOf(send({ thinking: adaptive, temperature: 0.5 })))).toContain('`temperature` may only be set to 1');
    expect((await send({ thinking: adaptive, temperature: 1 })).stop_reason).toBe('end_turn');
    expect((await send({ temperature: 0.5 })).stop_reason).toBe('end_turn');
  });

  test('thread refusing thinking only: threaded requests with thinking get thread_unsupported_request, others work', async () => {
    fake.setThreadUnsupportedFeatures(['thinking']);
    try {
      const betas = [MESSAGE_THREADS_BETA];
      const error = await errorOf(send({ betas, thread: { type: 'create' }, thinking: adaptive }));
      expect(error.status).toBe(400);
      expect(error.errorCode).toBe('thread_unsupported_request');
      expect(error.details).toMatchObject({ unsupported: ['thinking'] });
      expect((await send({ betas, thread: { type: 'create' } })).stop_reason).toBe('end_turn');
      expect((await send({ thinking: adaptive })).stop_reason).toBe('end_turn');
    } finally {
      fake.setThreadUnsupportedFeatures(null);
    }
  });
});

describe('server tools', () => {
  const webSearch = { type: 'web_search_20250305', name: 'web_search' } as unknown as BetaToolUnion;
  const searches = (prompt: string, pause?: number) =>
    fake.addScript({
      match: prompt,
      steps: [
        {
          ...reply(
            text('Let me search.'),
            serverToolUse('web_search', { query: 'oslo weather' }),
            serverToolUse('web_search', { query: 'oslo forecast' }),
            serverToolUse('web_search', { query: 'oslo rain' }),
            text('Now the live reading.'),
            toolUse('get_weather', { location: 'Oslo' }),
          ),
          ...(pause !== undefined ? { pauseAfterServerToolUses: pause } : {}),
        },
        reply(text('Sunny in Oslo.')),
      ],
    });

  test('a server tool call gets its result block, derived from the input; usage counts the search', async () => {
    const prompt = unique('one search');
    fake.addScript({ match: prompt, steps: [reply(serverToolUse('web_search', { query: 'claude shannon birth date' }), text('April 30, 1916.'))] });
    const params = { model, max_tokens: 1024, tools: [webSearch], messages: [{ role: 'user' as const, content: prompt }] };
    const message = await client.beta.messages.create(params);
    const [use, result] = message.content as unknown as Array<Record<string, unknown>>;
    expect(use).toMatchObject({ type: 'server_tool_use', name: 'web_search', input: { query: 'claude shannon birth date' } });
    expect(use!.id).toMatch(/^srvtoolu_/);
    expect(result).toMatchObject({ type: 'web_search_tool_result', tool_use_id: use!.id });
    const results = result!.content as Array<Record<string, unknown>>;
    expect(results).toHaveLength(3);
    for (const item of results) expect(item).toEqual({ type: 'web_search_result', url: expect.any(String), title: expect.any(String), encrypted_content: expect.any(String), page_age: expect.any(String) });
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.server_tool_use).toEqual({ web_search_requests: 1, web_fetch_requests: 0 });
    // Streamed, the SDK rebuilds the same blocks; the results are the same for the same query.
    const again = unique('one search');
    fake.addScript({ match: again, steps: [reply(serverToolUse('web_search', { query: 'claude shannon birth date' }), text('April 30, 1916.'))] });
    const streamed = await client.beta.messages.stream({ ...params, messages: [{ role: 'user', content: again }] }).finalMessage();
    expect(streamed.content[0]).toMatchObject({ type: 'server_tool_use', input: { query: 'claude shannon birth date' } });
    expect((streamed.content[1] as unknown as { content: unknown }).content).toEqual(results);
    expect(streamed.usage.server_tool_use).toEqual({ web_search_requests: 1, web_fetch_requests: 0 });
  });

  test('a search past the tool\'s max_uses gets the max_uses_exceeded error result', async () => {
    const prompt = unique('max uses');
    fake.addScript({ match: prompt, steps: [reply(serverToolUse('web_search', { query: 'a' }), serverToolUse('web_search', { query: 'b' }), text('Done.'))] });
    const message = await client.beta.messages.create({ model, max_tokens: 1024, tools: [{ ...webSearch, max_uses: 1 } as BetaToolUnion], messages: [{ role: 'user', content: prompt }] });
    expect(Array.isArray((message.content[1] as unknown as { content: unknown }).content)).toBe(true);
    expect(message.content[3]).toMatchObject({ type: 'web_search_tool_result', content: { type: 'web_search_tool_result_error', error_code: 'max_uses_exceeded' } });
  });

  test('a server tool the request does not declare: 400', async () => {
    const prompt = unique('undeclared');
    fake.addScript({ match: prompt, steps: [reply(serverToolUse('web_search', { query: 'x' }))] });
    const error = await errorOf(client.beta.messages.create({ model, max_tokens: 1024, tools: [weather], messages: [{ role: 'user', content: prompt }] }));
    expect(error.status).toBe(400);
    expect(apiMessage(error)).toContain('web_search');
  });

  test('pauseAfterServerToolUses 1, three searches and a tool call, unthreaded: two pause_turns, then tool_use; no extra script steps', async () => {
    const paused = await FakeMessagesApi.start({ pauseAfterServerToolUses: 1 });
    try {
      const pausedClient = new Anthropic({ apiKey: 'test-key', baseURL: paused.baseURL, maxRetries: 0 });
      const prompt = unique('three searches');
      paused.addScript({ match: prompt, steps: [reply(text('Let me search.'), serverToolUse('web_search', { query: 'a' }), serverToolUse('web_search', { query: 'b' }), serverToolUse('web_search', { query: 'c' }), toolUse('get_weather', { location: 'Oslo' })), reply(text('Sunny.'))] });
      const send = (messages: BetaMessageParam[]) => pausedClient.beta.messages.create({ model, max_tokens: 1024, tools: [webSearch, weather], messages });
      const user: BetaMessageParam = { role: 'user', content: prompt };
      const first = await send([user]);
      expect(first.stop_reason).toBe('pause_turn');
      expect(first.content.map((b) => b.type)).toEqual(['text', 'server_tool_use', 'web_search_tool_result']);
      // Resumed with the paused reply as the last assistant message.
      const second = await send([user, { role: 'assistant', content: asParams(first.content) }]);
      expect(second.stop_reason).toBe('pause_turn');
      expect(second.content.map((b) => b.type)).toEqual(['server_tool_use', 'web_search_tool_result']);
      // The client may also join the parts into one assistant message.
      const joined = [...first.content, ...second.content];
      const third = await send([user, { role: 'assistant', content: asParams(joined) }]);
      expect(third.stop_reason).toBe('tool_use');
      expect(third.content.map((b) => b.type)).toEqual(['server_tool_use', 'web_search_tool_result', 'tool_use']);
      const whole = [...joined, ...third.content];
      const answer = await send([user, { role: 'assistant', content: asParams(whole) }, resultFor(third)]);
      expect(answer.content).toEqual([{ type: 'text', text: 'Sunny.', citations: null }]);
      expect(paused.requestsFor(prompt).map((r) => [r.turnIndex, r.serverToolPart?.part])).toEqual([
        [0, 0],
        [0, 1],
        [0, 2],
        [1, undefined],
      ]);
    } finally {
      await paused.close();
    }
  });

  test('a resume whose paused content was changed: 400', async () => {
    const prompt = unique('changed resume');
    searches(prompt, 1);
    const user: BetaMessageParam = { role: 'user', content: prompt };
    const send = (messages: BetaMessageParam[]) => client.beta.messages.create({ model, max_tokens: 1024, tools: [webSearch, weather], messages });
    const first = await send([user]);
    expect(first.stop_reason).toBe('pause_turn');
    const changed = [{ type: 'text', text: 'Something else.' }, ...first.content.slice(1)] as BetaContentBlock[];
    const error = await errorOf(send([user, { role: 'assistant', content: asParams(changed) }]));
    expect(error.status).toBe(400);
    expect(apiMessage(error)).toContain('pause_turn');
  });

  test('threaded: each pause is resumed by an empty continue, then the tool result goes on the thread (per-step pause, streamed)', async () => {
    const prompt = unique('threaded searches');
    searches(prompt, 1);
    const betas = [MESSAGE_THREADS_BETA];
    const first = await client.beta.messages.stream({ model, max_tokens: 1024, tools: [webSearch, weather], betas, thread: { type: 'create' }, messages: [{ role: 'user', content: prompt }] }).finalMessage();
    expect(first.stop_reason).toBe('pause_turn');
    expect(first.content.map((b) => b.type)).toEqual(['text', 'server_tool_use', 'web_search_tool_result']);
    const resume = (previous: string) => client.beta.messages.stream({ model, max_tokens: 1024, betas, thread: { type: 'continue', previous_message_id: previous }, messages: [] }).finalMessage();
    const second = await resume(first.id);
    expect(second.stop_reason).toBe('pause_turn');
    const third = await resume(second.id);
    expect(third.stop_reason).toBe('tool_use');
    expect(third.content.map((b) => b.type)).toEqual(['server_tool_use', 'web_search_tool_result', 'text', 'tool_use']);
    const answer = await client.beta.messages.create({ model, max_tokens: 1024, betas, thread: { type: 'continue', previous_message_id: third.id }, messages: [resultFor(third)] });
    expect(answer.content).toEqual([{ type: 'text', text: 'Sunny in Oslo.', citations: null }]);
    expect(fake.requestsFor(prompt).map((r) => [r.threadKind, r.turnIndex])).toEqual([
      ['create', 0],
      ['continue', 0],
      ['continue', 0],
      ['continue', 1],
    ]);
  });

  test('without a pause limit the whole turn goes out in one reply', async () => {
    const prompt = unique('no pause');
    searches(prompt);
    const message = await client.beta.messages.create({ model, max_tokens: 1024, tools: [webSearch, weather], messages: [{ role: 'user', content: prompt }] });
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content.filter((b) => b.type === 'web_search_tool_result')).toHaveLength(3);
  });
});

describe('code execution and its container', () => {
  const codeExecution = { type: 'code_execution_20250825', name: 'code_execution' } as unknown as BetaToolUnion;
  const betas = [CODE_EXECUTION_BETA];

  test('the first reply opens a container; the next request must send it back (missing: 400, given: 200, same container)', async () => {
    const prompt = unique('container');
    fake.addScript({ match: prompt, steps: [reply(serverToolUse('bash_code_execution', { command: 'echo hi' }), text('It printed hi.')), reply(text('Again.'))] });
    const user: BetaMessageParam = { role: 'user', content: prompt };
    const first = await client.beta.messages.stream({ model, max_tokens: 1024, tools: [codeExecution], betas, messages: [user] }).finalMessage();
    expect(first.container).toMatchObject({ id: expect.stringMatching(/^container_/) });
    const expiresIn = Date.parse(first.container!.expires_at) - Date.now();
    expect(expiresIn).toBeGreaterThan(55 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(60 * 60_000);
    expect(first.content[1]).toMatchObject({ type: 'bash_code_execution_tool_result', content: { type: 'bash_code_execution_result', stdout: 'hi\n', stderr: '', return_code: 0 } });
    const history: BetaMessageParam[] = [user, { role: 'assistant', content: asParams(first.content) }, { role: 'user', content: 'Run it again.' }];
    const missing = await errorOf(client.beta.messages.create({ model, max_tokens: 1024, tools: [codeExecution], betas, messages: history }));
    expect(missing.status).toBe(400);
    expect(apiMessage(missing)).toBe(`container: the code execution container ${first.container!.id} used earlier in this conversation must be sent back (container_id is required)`);
    const second = await client.beta.messages.create({ model, max_tokens: 1024, tools: [codeExecution], betas, container: first.container!.id, messages: history });
    expect(second.content).toEqual([{ type: 'text', text: 'Again.', citations: null }]);
    expect(second.container?.id).toBe(first.container!.id);
  });

  test('a turn paused between code runs: the resume must name the container; the next part runs in it', async () => {
    const prompt = unique('paused container');
    fake.addScript({
      match: prompt,
      steps: [
        {
          ...reply(thinking('Run two commands, then report.'), serverToolUse('bash_code_execution', { command: 'echo one' }), serverToolUse('bash_code_execution', { command: 'echo two' }), toolUse('get_weather', { location: 'Oslo' })),
          pauseAfterServerToolUses: 1,
        },
        reply(text('Reported.')),
      ],
    });
    const user: BetaMessageParam = { role: 'user', content: prompt };
    const send = (messages: BetaMessageParam[], container?: string) =>
      client.beta.messages.create({ model, max_tokens: 2048, tools: [codeExecution, weather], betas, thinking: adaptive, messages, ...(container !== undefined ? { container } : {}) });
    const first = await send([user]);
    expect(first.stop_reason).toBe('pause_turn');
    const id = first.container!.id;
    const resumed: BetaMessageParam[] = [user, { role: 'assistant', content: asParams(first.content) }];
    expect(apiMessage(await errorOf(send(resumed)))).toContain(`container ${id} used earlier`);
    const second = await send(resumed, id);
    expect(second.stop_reason).toBe('tool_use');
    expect(second.container?.id).toBe(id);
    expect(second.content[1]).toMatchObject({ content: { stdout: 'two\n' } });
    // The thinking block of the first part precedes the tool call in the joined turn, so the tool result is accepted.
    const answer = await send([user, { role: 'assistant', content: asParams([...first.content, ...second.content]) }, resultFor(second)], id);
    expect(answer.content).toEqual([{ type: 'text', text: 'Reported.', citations: null }]);
  });

  test('code_execution_20250825 needs its beta', async () => {
    const prompt = unique('no beta');
    fake.addScript({ match: prompt, steps: [reply(text('ok'))] });
    const error = await errorOf(client.beta.messages.create({ model, max_tokens: 1024, tools: [codeExecution], messages: [{ role: 'user', content: prompt }] }));
    expect(error.status).toBe(400);
    expect(apiMessage(error)).toContain(CODE_EXECUTION_BETA);
  });
});

describe('tool definitions', () => {
  const send = (prompt: string, tools: unknown[], extraBetas: string[] = []) =>
    client.beta.messages.create({ model, max_tokens: 1024, tools: tools as BetaToolUnion[], betas: extraBetas, messages: [{ role: 'user', content: prompt }] });

  test('web_fetch_20250910 needs its beta; with it, a fetch gets a web_fetch_tool_result', async () => {
    const prompt = unique('fetch');
    fake.addScript({ match: prompt, steps: () => reply(serverToolUse('web_fetch', { url: 'https://example.com/page' }), text('Fetched.')) });
    const webFetch = { type: 'web_fetch_20250910', name: 'web_fetch' };
    const error = await errorOf(send(prompt, [webFetch]));
    expect(apiMessage(error)).toContain(WEB_FETCH_BETA);
    const message = await send(prompt, [webFetch], [WEB_FETCH_BETA]);
    expect(message.content[1]).toMatchObject({ type: 'web_fetch_tool_result', content: { type: 'web_fetch_result', url: 'https://example.com/page' } });
    expect(message.usage.server_tool_use).toEqual({ web_search_requests: 0, web_fetch_requests: 1 });
  });

  test('input_examples need the advanced-tool-use beta and must match the input_schema', async () => {
    const prompt = unique('examples');
    fake.addScript({ match: prompt, steps: () => reply(text('ok')) });
    const withExamples = (examples: unknown[]) => ({ ...weather, input_examples: examples });
    expect((await send(prompt, [withExamples([{ location: 'Oslo' }])], [ADVANCED_TOOL_USE_BETA])).stop_reason).toBe('end_turn');
    expect(apiMessage(await errorOf(send(prompt, [withExamples([{ location: 'Oslo' }])])))).toContain(ADVANCED_TOOL_USE_BETA);
    const invalid = await errorOf(send(prompt, [withExamples([{ location: 'Oslo' }, { location: 42 }])], [ADVANCED_TOOL_USE_BETA]));
    expect(invalid.status).toBe(400);
    expect(apiMessage(invalid)).toContain('tools.0.custom.input_examples.1');
  });

  test('a custom tool needs an input_schema; an unknown tool type is refused', async () => {
    const prompt = unique('schema');
    fake.addScript({ match: prompt, steps: () => reply(text('ok')) });
    expect(apiMessage(await errorOf(send(prompt, [{ name: 'no_schema' }])))).toContain('tools.0.custom.input_schema: Field required');
    expect(apiMessage(await errorOf(send(prompt, [{ type: 'telepathy', name: 'x' }])))).toContain("Input tag 'telepathy'");
  });

  test('the bash_20250124 client tool: declared by type and name, its tool_use works like any client tool', async () => {
    const prompt = unique('bash');
    fake.addScript({ match: prompt, steps: [reply(toolUse('bash', { command: 'ls' })), reply(text('Listed.'))] });
    const bash = { type: 'bash_20250124', name: 'bash' };
    const first = await send(prompt, [bash]);
    expect(first.content[0]).toMatchObject({ type: 'tool_use', name: 'bash', input: { command: 'ls' } });
    const second = await client.beta.messages.create({
      model,
      max_tokens: 1024,
      tools: [bash as BetaToolUnion],
      messages: [{ role: 'user', content: prompt }, { role: 'assistant', content: asParams(first.content) }, resultFor(first, 'a.txt')],
    });
    expect(second.content).toEqual([{ type: 'text', text: 'Listed.', citations: null }]);
    expect(apiMessage(await errorOf(send(unique('bash'), [{ type: 'bash_20250124', name: 'shell' }])))).toContain("Input should be 'bash'");
  });
});
