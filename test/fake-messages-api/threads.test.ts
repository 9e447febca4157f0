// Message threads (beta message-threads-2026-08-12) in the fake, driven by the real SDK: explicit requests, the
// SDK's thread helper, and its tool runner, which threads by default.
import Anthropic, { type APIError } from '@anthropic-ai/sdk';
import { betaZodTool } from '@anthropic-ai/sdk/helpers/beta/zod';
import type { BetaMessageParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { z } from 'zod';
import { FakeMessagesApi, MESSAGE_THREADS_BETA, reply, text, toolUse } from '../../src/testing';
import { compaction } from '../../src/testing/fake-messages-api/builders';

let clock = Date.now();
let fake: FakeMessagesApi;
let client: Anthropic;
beforeAll(async () => {
  fake = await FakeMessagesApi.start({ now: () => clock, threadTtlMs: 5 * 60_000 });
  client = new Anthropic({ apiKey: 'test-key', baseURL: fake.baseURL, maxRetries: 0 });
});
afterAll(() => fake.close());

let n = 0;
const unique = (label: string) => `${label} #${++n}`;
const model = 'claude-sonnet-5-5';
const betas = [MESSAGE_THREADS_BETA];
const tools = [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object' as const, properties: { location: { type: 'string' } } } }];

async function createThread(prompt: string) {
  fake.addScript({ match: prompt, steps: [reply(toolUse('get_weather', { location: 'Oslo' })), reply(text('Sunny.')), reply(text('Still sunny.'))] });
  const first = await client.beta.messages.create({ model, max_tokens: 256, tools, betas, thread: { type: 'create' }, messages: [{ role: 'user', content: prompt }] });
  const toolUseId = (first.content[0] as { id: string }).id;
  const results: BetaMessageParam = { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUseId, content: 'sunny' }] };
  return { first, results };
}

function errorOf(promise: Promise<unknown>): Promise<APIError> {
  return promise.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (err: unknown) => err as APIError,
  );
}

describe('message threads', () => {
  test('create, then continue with only the new messages; the fake rebuilds the whole conversation', async () => {
    const prompt = unique('continue');
    const { first, results } = await createThread(prompt);
    const second = await client.beta.messages.create({ model, max_tokens: 256, betas, thread: { type: 'continue', previous_message_id: first.id }, messages: [results] });
    expect(second.content).toEqual([{ type: 'text', text: 'Sunny.', citations: null }]);
    const [create, cont] = fake.requestsFor(prompt);
    expect(create).toMatchObject({ threadKind: 'create', turnIndex: 0 });
    expect(cont).toMatchObject({ threadKind: 'continue', previousMessageId: first.id, turnIndex: 1 });
    expect((cont!.body as { messages: unknown[] }).messages).toEqual([results]);
    // Responses carry no thread fields.
    expect(Object.keys(second)).not.toContain('thread');
  });

  test('the SDK thread helper sends a create, then continues that carry only the new messages', async () => {
    const prompt = unique('helper');
    fake.addScript({ match: prompt, steps: [reply(text('Hello!')), reply(text('Fine, thanks.'))] });
    const thread = client.beta.messages.thread({ model, max_tokens: 256, system: 'Be brief.' });
    await thread.send({ role: 'user', content: prompt });
    const answer = await thread.send({ role: 'user', content: 'How are you?' });
    expect(answer.content).toEqual([{ type: 'text', text: 'Fine, thanks.', citations: null }]);
    const requests = fake.requestsFor(prompt);
    expect(requests.map((r) => r.threadKind)).toEqual(['create', 'continue']);
    const continueBody = requests[1]!.body as { messages: unknown[]; system?: unknown };
    expect(continueBody.messages).toEqual([{ role: 'user', content: 'How are you?' }]);
    expect(continueBody.system).toBeUndefined();
  });

  test('thread_not_found (404) for an evicted thread', async () => {
    const { first, results } = await createThread(unique('evicted'));
    fake.evictThread(first.id);
    const error = await errorOf(client.beta.messages.create({ model, max_tokens: 256, betas, thread: { type: 'continue', previous_message_id: first.id }, messages: [results] }));
    expect(error.status).toBe(404);
    expect(error.type).toBe('not_found_error');
    expect(error.errorCode).toBe('thread_not_found');
  });

  test('thread_not_found once the thread is older than its expiry (injected clock)', async () => {
    const { first, results } = await createThread(unique('expired'));
    clock += 5 * 60_000 + 1;
    const error = await errorOf(client.beta.messages.create({ model, max_tokens: 256, betas, thread: { type: 'continue', previous_message_id: first.id }, messages: [results] }));
    expect(error.errorCode).toBe('thread_not_found');
  });

  test('thread_already_continued (400) for a second continue from the same reply', async () => {
    const { first, results } = await createThread(unique('twice'));
    const body = { model, max_tokens: 256, betas, thread: { type: 'continue' as const, previous_message_id: first.id }, messages: [results] };
    await client.beta.messages.create(body);
    const error = await errorOf(client.beta.messages.create(body));
    expect(error.status).toBe(400);
    expect(error.errorCode).toBe('thread_already_continued');
  });

  test('thread_continue_in_flight (400) while another continue is running', async () => {
    const { first, results } = await createThread(unique('in flight'));
    fake.forceContinueInFlight(first.id);
    const error = await errorOf(client.beta.messages.create({ model, max_tokens: 256, betas, thread: { type: 'continue', previous_message_id: first.id }, messages: [results] }));
    expect(error.status).toBe(400);
    expect(error.errorCode).toBe('thread_continue_in_flight');
  });

  test('thread_unsupported_request (400) with details.unsupported', async () => {
    fake.setUnsupported(['hipaa']);
    try {
      const prompt = unique('unsupported');
      fake.addScript({ match: prompt, steps: [reply(text('x'))] });
      const error = await errorOf(client.beta.messages.create({ model, max_tokens: 256, betas, thread: { type: 'create' }, messages: [{ role: 'user', content: prompt }] }));
      expect(error.errorCode).toBe('thread_unsupported_request');
      expect(error.details).toMatchObject({ unsupported: ['hipaa'] });
    } finally {
      fake.setUnsupported(null);
    }
  });

  test('create-only fields (system, tools) are refused on a continue', async () => {
    const { first, results } = await createThread(unique('create only'));
    const error = await errorOf(
      client.beta.messages.create({ model, max_tokens: 256, betas, tools, thread: { type: 'continue', previous_message_id: first.id }, messages: [results] }),
    );
    expect(error.status).toBe(400);
    expect(error.apiMessage).toMatch(/tools: cannot be set when continuing a thread/);
  });

  test('a thread needs the beta header', async () => {
    const prompt = unique('no beta');
    fake.addScript({ match: prompt, steps: [reply(text('x'))] });
    const error = await errorOf(
      fetch(`${fake.baseURL}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'k' },
        body: JSON.stringify({ model, max_tokens: 64, thread: { type: 'create' }, messages: [{ role: 'user', content: prompt }] }),
      }).then(async (r) => {
        if (r.ok) return r;
        throw Object.assign(new Error(await r.text()), { status: r.status });
      }) as Promise<unknown>,
    );
    expect(error.status).toBe(400);
    expect(error.message).toContain(MESSAGE_THREADS_BETA);
  });

  test('pause_turn is resumed by a continue with messages: []', async () => {
    const prompt = unique('pause');
    fake.addScript({ match: prompt, steps: [{ content: [text('Searching… ')], stop_reason: 'pause_turn' }, reply(text('Found it.'))] });
    const paused = await client.beta.messages.create({ model, max_tokens: 256, betas, thread: { type: 'create' }, messages: [{ role: 'user', content: prompt }] });
    expect(paused.stop_reason).toBe('pause_turn');
    const resumed = await client.beta.messages.create({ model, max_tokens: 256, betas, thread: { type: 'continue', previous_message_id: paused.id }, messages: [] });
    expect(resumed.content).toEqual([{ type: 'text', text: 'Found it.', citations: null }]);
    // An empty continue after a finished turn is refused.
    const error = await errorOf(client.beta.messages.create({ model, max_tokens: 256, betas, thread: { type: 'continue', previous_message_id: resumed.id }, messages: [] }));
    expect(error.status).toBe(400);
  });
});

describe('unfinished turns on a thread: pause_turn and compaction, then a tool call', () => {
  const continueFrom = (id: string, messages: BetaMessageParam[]) =>
    client.beta.messages.create({ model, max_tokens: 256, betas, thread: { type: 'continue', previous_message_id: id }, messages });

  test('pause_turn, an empty continue that returns a tool_use, then a continue with its result', async () => {
    const prompt = unique('pause then tool');
    fake.addScript({
      match: prompt,
      steps: [
        { content: [text('Searching… ')], stop_reason: 'pause_turn' },
        reply(text('Found a lead.'), toolUse('get_weather', { location: 'Oslo' })),
        reply(text('Sunny in Oslo.')),
      ],
    });
    const paused = await client.beta.messages.create({ model, max_tokens: 256, tools, betas, thread: { type: 'create' }, messages: [{ role: 'user', content: prompt }] });
    const resumed = await continueFrom(paused.id, []);
    expect(resumed.stop_reason).toBe('tool_use');
    const toolUseId = (resumed.content[1] as { id: string }).id;
    // The thread holds the paused reply and its resumption as one assistant turn, so this continue is well formed.
    const answer = await continueFrom(resumed.id, [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUseId, content: 'sunny' }] }]);
    expect(answer.content).toEqual([{ type: 'text', text: 'Sunny in Oslo.', citations: null }]);
    const requests = fake.requestsFor(prompt);
    expect(requests.map((r) => `${r.threadKind}:${r.status}:${r.turnIndex}`)).toEqual(['create:200:0', 'continue:200:1', 'continue:200:2']);
  });

  test('the SDK thread helper, which keeps the paused reply and its resumption apart, gets the same answers', async () => {
    const prompt = unique('helper pause then tool');
    fake.addScript({
      match: prompt,
      steps: [
        { content: [text('Searching… ')], stop_reason: 'pause_turn' },
        reply(toolUse('get_weather', { location: 'Bergen' })),
        reply(text('Rain in Bergen.')),
      ],
    });
    const thread = client.beta.messages.thread({ model, max_tokens: 256, tools });
    const paused = await thread.send({ role: 'user', content: prompt });
    expect(paused.stop_reason).toBe('pause_turn');
    const resumed = await thread.send();
    const toolUseId = (resumed.content[0] as { id: string }).id;
    const answer = await thread.send({ role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUseId, content: 'rain' }] });
    expect(answer.content).toEqual([{ type: 'text', text: 'Rain in Bergen.', citations: null }]);
    expect(fake.requestsFor(prompt).map((r) => `${r.threadKind}:${r.status}`)).toEqual(['create:200', 'continue:200', 'continue:200']);
    // A replay of the history before the answer, as the SDK keeps it (two assistant messages in a row), is the same turn.
    const history = thread.params.messages.slice(0, -1);
    expect(history.map((m) => m.role)).toEqual(['user', 'assistant', 'assistant', 'user']);
    fake.evictAllThreads();
    const replayed = await client.beta.messages.create({ model, max_tokens: 256, tools, betas, thread: { type: 'create' }, messages: history });
    expect(replayed.content).toEqual([{ type: 'text', text: 'Rain in Bergen.', citations: null }]);
    expect(fake.requestsFor(prompt).at(-1)).toMatchObject({ threadKind: 'create', turnIndex: 2, attempt: 2 });
  });

  test('compaction: the empty continue resumes after the compaction block, and a tool call follows', async () => {
    const prompt = unique('compact then tool');
    fake.addScript({
      match: prompt,
      steps: [
        { content: [compaction('Earlier: the user wants Oslo weather.', 'enc_1')], stop_reason: 'compaction' },
        reply(toolUse('get_weather', { location: 'Oslo' })),
        reply(text('Sunny.')),
      ],
    });
    const compacted = await client.beta.messages.create({ model, max_tokens: 256, tools, betas, thread: { type: 'create' }, messages: [{ role: 'user', content: prompt }] });
    expect(compacted).toMatchObject({ stop_reason: 'compaction', content: [{ type: 'compaction', content: 'Earlier: the user wants Oslo weather.', encrypted_content: 'enc_1' }] });
    const resumed = await continueFrom(compacted.id, []);
    const toolUseId = (resumed.content[0] as { id: string }).id;
    const answer = await continueFrom(resumed.id, [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUseId, content: 'sunny' }] }]);
    expect(answer.content).toEqual([{ type: 'text', text: 'Sunny.', citations: null }]);
  });
});

describe("the SDK's tool runner over a thread", () => {
  const calls: string[] = [];
  const weather = betaZodTool({
    name: 'get_weather',
    description: 'Get the weather in a city',
    inputSchema: z.object({ location: z.string() }),
    run: ({ location }) => {
      calls.push(`weather:${location}`);
      return `sunny in ${location}`;
    },
  });
  const time = betaZodTool({
    name: 'get_time',
    description: 'Get the time in a time zone',
    inputSchema: z.object({ timezone: z.string() }),
    run: ({ timezone }) => {
      calls.push(`time:${timezone}`);
      return `14:05 in ${timezone}`;
    },
  });

  function script(prompt: string, onSecondTurn?: () => void) {
    fake.addScript({
      match: prompt,
      steps: ({ turnIndex }) => {
        if (turnIndex === 0) return reply(text('Checking both.'), toolUse('get_weather', { location: 'San Francisco' }), toolUse('get_time', { timezone: 'America/Los_Angeles' }));
        onSecondTurn?.();
        return reply(text('Sunny, and it is 2:05 PM.'));
      },
    });
  }

  test('completes a parallel-tool conversation, sending only the tool results after the first turn', async () => {
    const prompt = unique('runner');
    script(prompt);
    calls.length = 0;
    const final = await client.beta.messages.toolRunner({ model, max_tokens: 512, tools: [weather, time], messages: [{ role: 'user', content: prompt }] });
    expect(final.content).toEqual([{ type: 'text', text: 'Sunny, and it is 2:05 PM.', citations: null }]);
    expect(calls.sort()).toEqual(['time:America/Los_Angeles', 'weather:San Francisco']);
    const requests = fake.requestsFor(prompt);
    expect(requests.map((r) => r.threadKind)).toEqual(['create', 'continue']);
    const delta = (requests[1]!.body as { messages: Array<{ role: string; content: Array<{ type: string }> }> }).messages;
    expect(delta).toHaveLength(1);
    expect(delta[0]!.content.map((b) => b.type)).toEqual(['tool_result', 'tool_result']);
  });

  test('replays the full history under a new thread when the server has lost it', async () => {
    const prompt = unique('runner replay');
    // The thread expires while the tools run: the continue gets 404 thread_not_found.
    fake.addScript({
      match: prompt,
      steps: ({ turnIndex }) =>
        turnIndex === 0
          ? reply(toolUse('get_weather', { location: 'Oslo' }), toolUse('get_time', { timezone: 'Europe/Oslo' }))
          : reply(text('Done.')),
    });
    const runner = client.beta.messages.toolRunner({ model, max_tokens: 512, tools: [weather, time], messages: [{ role: 'user', content: prompt }] });
    let turns = 0;
    for await (const _message of runner) {
      if (++turns === 1) fake.evictAllThreads();
    }
    const requests = fake.requestsFor(prompt);
    expect(requests.map((r) => `${r.threadKind}:${r.status}`)).toEqual(['create:200', 'continue:404', 'create:200']);
    expect((requests[2]!.body as { messages: unknown[] }).messages).toHaveLength(3);
  });
});
