// The fake Messages API through the real SDK over HTTP: the shapes, faults and rules a runtime depends on.
import Anthropic, { APIConnectionError, APIError, AuthenticationError, BadRequestError, InternalServerError, RateLimitError } from '@anthropic-ai/sdk';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { FakeMessagesApi, reply, text, toolUse, type FaultKind, type FullRequest } from '../../src/testing';
import { compaction } from '../../src/testing/fake-messages-api/builders';

let fake: FakeMessagesApi;
let client: Anthropic;
beforeAll(async () => {
  fake = await FakeMessagesApi.start();
  client = new Anthropic({ apiKey: 'test-key', baseURL: fake.baseURL, maxRetries: 0 });
});
afterAll(() => fake.close());

let n = 0;
const unique = (label: string) => `${label} #${++n}`;
const model = 'claude-sonnet-5-5';

describe('responses', () => {
  test('JSON: text and tool_use content come back exactly as scripted, with usage', async () => {
    const prompt = unique('weather');
    fake.addScript({ match: prompt, steps: [reply(text('Checking.'), toolUse('get_weather', { location: 'Paris', unit: 'celsius' }, 'toolu_fixed'))] });
    const message = await client.messages.create({
      model,
      max_tokens: 1024,
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { location: { type: 'string' } } } }],
      messages: [{ role: 'user', content: prompt }],
    });
    expect(message).toMatchObject({
      type: 'message',
      role: 'assistant',
      model,
      stop_reason: 'tool_use',
      content: [
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'toolu_fixed', name: 'get_weather', input: { location: 'Paris', unit: 'celsius' } },
      ],
    });
    expect(message.id).toMatch(/^msg_/);
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  test('streaming: the SDK sees the event sequence and rebuilds the same message from deltas', async () => {
    const prompt = unique('stream');
    const input = { location: 'San Francisco, CA', details: { wind: true, hours: [1, 2, 3] } };
    fake.addScript({ match: prompt, steps: [reply(text('Let me look that up for you.'), toolUse('get_weather', input))] });
    const stream = client.messages.stream({ model, max_tokens: 1024, messages: [{ role: 'user', content: prompt }] });
    const events: string[] = [];
    const jsonDeltas: string[] = [];
    const textDeltas: string[] = [];
    stream.on('streamEvent', (event) => {
      events.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') jsonDeltas.push(event.delta.partial_json);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') textDeltas.push(event.delta.text);
    });
    const message = await stream.finalMessage();
    expect(message.content).toEqual([
      { type: 'text', text: 'Let me look that up for you.', citations: null },
      { type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'get_weather', input },
    ]);
    expect(events[0]).toBe('message_start');
    expect(events.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(events.filter((e) => e === 'content_block_start')).toHaveLength(2);
    expect(events.filter((e) => e === 'content_block_stop')).toHaveLength(2);
    expect(jsonDeltas.length).toBeGreaterThan(1);
    expect(textDeltas.length).toBeGreaterThan(1);
    expect(message.stop_reason).toBe('tool_use');
  });

  test('the raw SSE has the exact event sequence of the real API, ping included', async () => {
    const prompt = unique('raw sse');
    fake.addScript({ match: prompt, steps: [reply(text('hi'), toolUse('noop', {}))] });
    const response = await fetch(`${fake.baseURL}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'test-key', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model, max_tokens: 64, stream: true, messages: [{ role: 'user', content: prompt }] }),
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = [...(await response.text()).matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    const collapsed = events.filter((e, i) => e !== events[i - 1]);
    expect(collapsed).toEqual([
      'message_start',
      'ping',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
  });

  test('concurrent conversations each follow their own script, never a shared queue', async () => {
    const prompts = Array.from({ length: 6 }, (_, i) => unique(`parallel conversation ${i}`));
    for (const [i, prompt] of prompts.entries()) fake.addScript({ match: prompt, steps: [reply(text(`answer ${i}`))] });
    const answers = await Promise.all(
      prompts.map((prompt) => client.messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content: prompt }] })),
    );
    expect(answers.map((a) => (a.content[0] as { text: string }).text)).toEqual(prompts.map((_, i) => `answer ${i}`));
  });

  test('a retried request gets the same step: the step depends on the conversation, not on a counter', async () => {
    const prompt = unique('retry');
    fake.addScript({ match: prompt, steps: ({ attempt }) => reply(text(`turn 0, attempt ${attempt}`)) });
    const body = { model, max_tokens: 64, messages: [{ role: 'user' as const, content: prompt }] };
    const first = await client.messages.create(body);
    const second = await client.messages.create(body);
    expect((first.content[0] as { text: string }).text).toBe('turn 0, attempt 1');
    expect((second.content[0] as { text: string }).text).toBe('turn 0, attempt 2');
    expect(fake.requestsFor(prompt).map((r) => r.turnIndex)).toEqual([0, 0]);
  });

  test('a request no script matches gets a clear 500 naming the conversation', async () => {
    const error = await client.messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content: 'nobody scripted this' }] }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(InternalServerError);
    expect((error as APIError).apiMessage).toMatch(/no script matches the conversation starting "nobody scripted this"/);
  });
});

describe('faults', () => {
  async function send(fault: FaultKind, extra: Record<string, unknown> = {}, stream = false) {
    const prompt = unique(`fault ${fault}`);
    fake.addScript({ match: prompt, steps: [{ fault, ...extra, then: reply(text('recovered')) }] });
    const body = { model, max_tokens: 64, messages: [{ role: 'user' as const, content: prompt }] };
    // A stream that stalls after its headers outlives the SDK's request timeout; an abort signal ends it.
    const signal = AbortSignal.timeout(1500);
    const attempt = stream ? client.messages.stream(body, { signal }).finalMessage() : client.messages.create(body, { signal });
    const error = await attempt.then(() => undefined, (err: unknown) => err);
    const retried = await client.messages.create(body);
    return { error, retried, prompt };
  }

  test('429 is a RateLimitError carrying retry-after', async () => {
    const { error, retried } = await send('429', { retryAfterSeconds: 7 });
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).headers.get('retry-after')).toBe('7');
    expect((error as RateLimitError).type).toBe('rate_limit_error');
    expect(retried.content).toEqual([{ type: 'text', text: 'recovered', citations: null }]);
  });

  test('429 can carry retry-after-ms', async () => {
    const { error } = await send('429', { retryAfterMs: 250 });
    expect((error as RateLimitError).headers.get('retry-after-ms')).toBe('250');
  });

  test('500 is an InternalServerError (api_error)', async () => {
    const { error } = await send('500');
    expect(error).toBeInstanceOf(InternalServerError);
    expect((error as APIError).type).toBe('api_error');
  });

  test('529 is an overloaded_error with status 529', async () => {
    const { error } = await send('529');
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(529);
    expect((error as APIError).type).toBe('overloaded_error');
  });

  test('400 is a BadRequestError (invalid_request_error)', async () => {
    const { error } = await send('400');
    expect(error).toBeInstanceOf(BadRequestError);
  });

  test('401 is an AuthenticationError', async () => {
    const { error } = await send('401');
    expect(error).toBeInstanceOf(AuthenticationError);
  });

  test('a connection reset is an APIConnectionError', async () => {
    const { error } = await send('connection-reset');
    expect(error).toBeInstanceOf(APIConnectionError);
  });

  test('an error event in the middle of a stream throws from the stream', async () => {
    const { error, prompt } = await send('stream-error', {}, true);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).type).toBe('overloaded_error');
    expect(fake.requestsFor(prompt)[0]!.fault).toBe('stream-error');
  });

  test('a stalled stream never finishes; the client gives up on its own timeout', async () => {
    const { error, prompt } = await send('stall', {}, true);
    expect(error).toBeInstanceOf(APIError);
    expect(fake.requestsFor(prompt)[0]!.aborted).toBe(true);
  });

  test('random faults are deterministic for a seed and capped per turn, so every conversation can finish', async () => {
    const run = async () => {
      fake.setFaults({ rate: 0.6, kinds: ['500', '529', '429'], seed: 42, maxConsecutivePerTurn: 2, retryAfterSeconds: 0 });
      const outcomes: string[] = [];
      const prompt = unique('random faults');
      fake.addScript({ match: prompt, steps: [reply(text('ok'))] });
      for (let i = 0; i < 12; i++) {
        try {
          await client.messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content: prompt }] });
          outcomes.push('ok');
        } catch (err) {
          outcomes.push(String((err as APIError).status));
        }
      }
      fake.setFaults(null);
      return outcomes;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(first).toContain('ok');
    expect(first.some((o) => o !== 'ok')).toBe(true);
    // Never three faults in a row for one turn.
    expect(first.join(',')).not.toMatch(/(\d{3},){2}\d{3}/);
  });
});

describe('request rules (400 invalid_request_error, as the real API)', () => {
  const cases: Array<[string, MessageParam[], RegExp]> = [
    [
      'a tool_use without a tool_result in the next user message',
      [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} }] },
        { role: 'user', content: 'what happened?' },
      ],
      /messages\.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1/,
    ],
    [
      'tool_result blocks after text in the user message',
      [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} }] },
        { role: 'user', content: [{ type: 'text', text: 'here you go' }, { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] },
      ],
      /messages\.2\.content\.1: tool_result blocks must come first/,
    ],
    [
      'a tool_result with no matching tool_use',
      [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_missing', content: 'x' }] },
      ],
      /unexpected `tool_use_id` found in `tool_result` blocks: toolu_missing/,
    ],
    [
      'text before a tool_result once consecutive user messages are combined into one turn',
      [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} }] },
        { role: 'user', content: 'first this' },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] },
      ],
      /messages\.2\.content\.1: tool_result blocks must come first/,
    ],
    ['an empty content list', [{ role: 'user', content: [] }], /non-empty content/],
    ['an empty string', [{ role: 'user', content: '' }], /non-empty content/],
    ['a conversation that starts with the assistant', [{ role: 'assistant', content: 'hi' }], /first message must use the "user" role/],
  ];

  test.each(cases)('rejects %s', async (_name, messages, rule) => {
    const error = await client.messages.create({ model, max_tokens: 64, messages }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).type).toBe('invalid_request_error');
    expect((error as BadRequestError).apiMessage).toMatch(rule);
  });

  test('rejects an empty messages list and tool_choice naming an undefined tool', async () => {
    await expect(client.messages.create({ model, max_tokens: 64, messages: [] })).rejects.toBeInstanceOf(BadRequestError);
    await expect(
      client.messages.create({ model, max_tokens: 64, tool_choice: { type: 'tool', name: 'nope' }, tools: [{ name: 'yes', input_schema: { type: 'object' } }], messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toThrow(/tool_choice\.name/);
  });

  test('accepts a well-formed parallel tool round trip', async () => {
    const prompt = unique('round trip');
    fake.addScript({ match: prompt, steps: [reply(text('a')), reply(text('b'))] });
    const answer = await client.messages.create({
      model,
      max_tokens: 64,
      messages: [
        { role: 'user', content: prompt },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_a', name: 'x', input: {} }, { type: 'tool_use', id: 'toolu_b', name: 'y', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_a', content: '1' }, { type: 'tool_result', tool_use_id: 'toolu_b', content: '2' }, { type: 'text', text: 'and?' }] },
      ],
    });
    expect(answer.content[0]).toMatchObject({ text: 'b' });
  });
});

describe('consecutive same-role turns (combined into one turn, as the real API does)', () => {
  test('two user messages in a row are one turn: accepted, and the model sees them as one message', async () => {
    const prompt = unique('two user messages');
    const seen: FullRequest[] = [];
    fake.addScript({ match: prompt, steps: ({ request }) => (seen.push(request), reply(text('Both read.'))) });
    const answer = await client.messages.create({
      model,
      max_tokens: 64,
      messages: [
        { role: 'user', content: prompt },
        { role: 'user', content: [{ type: 'text', text: 'and one more thing' }] },
      ],
    });
    expect(answer.content[0]).toMatchObject({ text: 'Both read.' });
    expect(seen[0]!.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: prompt }, { type: 'text', text: 'and one more thing' }] },
    ]);
  });

  test('a paused reply and its resumption sent as two assistant messages or as one are the same turn', async () => {
    const prompt = unique('paused then resumed');
    const turns: number[] = [];
    fake.addScript({
      match: prompt,
      steps: ({ turnIndex }) => {
        turns.push(turnIndex);
        if (turnIndex === 0) return { content: [text('Searching… ')], stop_reason: 'pause_turn' };
        if (turnIndex === 1) return reply(text('Found a lead.'), toolUse('get_weather', { location: 'Oslo' }));
        return reply(text('Sunny in Oslo.'));
      },
    });
    const user: MessageParam = { role: 'user', content: prompt };
    const paused = await client.messages.create({ model, max_tokens: 64, messages: [user] });
    expect(paused.stop_reason).toBe('pause_turn');
    const resumed = await client.messages.create({ model, max_tokens: 64, messages: [user, { role: 'assistant', content: paused.content }] });
    const toolUseId = (resumed.content[1] as { id: string }).id;
    const results: MessageParam = { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUseId, content: 'sunny' }] };

    // As the SDK keeps them (one entry per reply) and as a client that merges the resumption into the paused reply.
    const separate = await client.messages.create({
      model,
      max_tokens: 64,
      messages: [user, { role: 'assistant', content: paused.content }, { role: 'assistant', content: resumed.content }, results],
    });
    const merged = await client.messages.create({
      model,
      max_tokens: 64,
      messages: [user, { role: 'assistant', content: [...paused.content, ...resumed.content] }, results],
    });
    expect(separate.content[0]).toMatchObject({ text: 'Sunny in Oslo.' });
    expect(merged.content[0]).toMatchObject({ text: 'Sunny in Oslo.' });
    // Both count two replies before the answer: the fake tells replies apart inside one combined message.
    expect(turns).toEqual([0, 1, 2, 2]);
    expect(fake.requestsFor(prompt).map((r) => r.attempt)).toEqual([1, 1, 1, 2]);
  });

  test('a tool_use answered only after a second assistant message is still a tool_use without its result', async () => {
    const error = await client.messages
      .create({
        model,
        max_tokens: 64,
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_9', name: 'get_weather', input: {} }] },
          { role: 'assistant', content: 'and then I said more' },
          { role: 'user', content: 'what happened?' },
        ],
      })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).apiMessage).toMatch(/messages\.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_9/);
  });
});

describe('eager tool input streamed as partial JSON', () => {
  // Escapes, non-ASCII, an emoji (a surrogate pair), nesting, numbers: every kind of token a cut can fall inside.
  const input = {
    query: 'say "hi" \\ then\nleave',
    city: 'Zürich ☃ 🌍',
    limits: { max: 12345.678, min: -0.5, flags: [true, false, null] },
    empty: {},
  };

  // A tool that asks for eager input streaming gets small unbuffered pieces.
  const eagerLookup = [{ name: 'lookup', input_schema: { type: 'object' as const }, eager_input_streaming: true }];

  async function streamToolUse(prompt: string) {
    const stream = client.messages.stream({ model, max_tokens: 256, tools: eagerLookup, messages: [{ role: 'user', content: prompt }] });
    const pieces: string[] = [];
    const snapshots: unknown[] = [];
    stream.on('streamEvent', (event) => {
      if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') pieces.push(event.delta.partial_json);
    });
    stream.on('inputJson', (_piece, snapshot) => snapshots.push(snapshot));
    const message = await stream.finalMessage();
    return { message, pieces, snapshots };
  }

  test('by default the JSON goes out 8 characters at a time, cut mid-token; the SDK rebuilds the exact input', async () => {
    const prompt = unique('partial json');
    fake.addScript({ match: prompt, steps: [reply(toolUse('lookup', input))] });
    const { message, pieces, snapshots } = await streamToolUse(prompt);
    const json = JSON.stringify(input);
    expect(pieces.join('')).toBe(json);
    expect(pieces.length).toBe(Math.ceil(Array.from(json).length / 8));
    expect(pieces.every((piece) => Array.from(piece).length <= 8)).toBe(true);
    // Truly partial: most pieces are not JSON on their own, and some cut a string or an escape in two.
    const parses = (piece: string) => {
      try {
        JSON.parse(piece);
        return true;
      } catch {
        return false;
      }
    };
    expect(pieces.filter(parses).length).toBeLessThan(pieces.length / 4);
    const cutsAWordOrNumber = pieces.slice(0, -1).some((piece, i) => /\w$/.test(piece) && /^\w/.test(pieces[i + 1]!));
    expect(cutsAWordOrNumber).toBe(true);
    // Never half a surrogate pair: each piece is whole code points, as valid UTF-8 on the wire would be.
    expect(pieces.every((piece) => !/[\ud800-\udbff]$/.test(piece))).toBe(true);
    expect(message.content).toEqual([{ type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'lookup', input }]);
    expect(message.stop_reason).toBe('tool_use');
    // The SDK's partial-JSON parser saw the input grow piece by piece and end at the exact value.
    expect(snapshots.length).toBe(pieces.length);
    expect(snapshots[snapshots.length - 1]).toEqual(input);
    expect(fake.requestsFor(prompt)[0]!.inputJsonDeltas).toEqual([pieces]);
  });

  test('the piece size is configurable per server and per reply, down to one character', async () => {
    const prompt = unique('one char at a time');
    fake.addScript({ match: prompt, steps: [{ ...reply(toolUse('lookup', input), toolUse('lookup', { q: 1 })), inputJsonChunkChars: 1 }] });
    const { message, pieces } = await streamToolUse(prompt);
    const json = JSON.stringify(input);
    expect(pieces.length).toBe(Array.from(json).length + '{"q":1}'.length);
    // An escape sequence arrives as a lone backslash, then what it escapes.
    expect(pieces).toContain('\\');
    expect((message.content[0] as { input: unknown }).input).toEqual(input);
    expect((message.content[1] as { input: unknown }).input).toEqual({ q: 1 });

    const coarse = await FakeMessagesApi.start({ inputJsonChunkChars: 1000 });
    try {
      const coarseClient = new Anthropic({ apiKey: 'test-key', baseURL: coarse.baseURL, maxRetries: 0 });
      coarse.addScript({ match: prompt, steps: [reply(toolUse('lookup', input))] });
      const whole: string[] = [];
      const stream = coarseClient.messages.stream({ model, max_tokens: 256, tools: eagerLookup, messages: [{ role: 'user', content: prompt }] });
      stream.on('streamEvent', (event) => {
        if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') whole.push(event.delta.partial_json);
      });
      expect(((await stream.finalMessage()).content[0] as { input: unknown }).input).toEqual(input);
      expect(whole).toEqual([json]);
    } finally {
      await coarse.close();
    }
  });
});

describe('compaction', () => {
  test('a compaction reply streams as an empty compaction block plus one compaction_delta; the SDK rebuilds the block', async () => {
    const prompt = unique('compacted context');
    fake.addScript({ match: prompt, steps: [{ content: [compaction('The user asked about Oslo weather.', 'enc_abc')], stop_reason: 'compaction' }] });
    const deltas: string[] = [];
    const stream = client.beta.messages.stream({ model, max_tokens: 256, messages: [{ role: 'user', content: prompt }] });
    stream.on('streamEvent', (event) => {
      if (event.type === 'content_block_delta') deltas.push(event.delta.type);
    });
    const message = await stream.finalMessage();
    expect(message.stop_reason).toBe('compaction');
    expect(message.content).toEqual([{ type: 'compaction', content: 'The user asked about Oslo weather.', encrypted_content: 'enc_abc' }]);
    expect(deltas).toEqual(['compaction_delta']);
    const json = await client.beta.messages.create({ model, max_tokens: 256, messages: [{ role: 'user', content: prompt }] });
    expect(json.content).toEqual(message.content);
  });
});
