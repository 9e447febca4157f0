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
