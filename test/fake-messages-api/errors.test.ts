// Every 400 the fake answers has the real API's error body: {type: 'error', error: {type: 'invalid_request_error',
// message}, request_id}, so the SDK raises a typed BadRequestError and a runtime can classify it.
import Anthropic, { BadRequestError } from '@anthropic-ai/sdk';
import { FakeMessagesApi, MESSAGE_THREADS_BETA, reply, text, toolUse } from '../../src/testing';

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

async function post(body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${fake.baseURL}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'test-key', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, requestId: response.headers.get('request-id'), body: (await response.json()) as unknown };
}

const threaded = { 'anthropic-beta': MESSAGE_THREADS_BETA };

/** A thread whose first reply asked for a tool; returns that reply's id. */
async function threadAwaitingToolResult(prompt: string): Promise<{ id: string; toolUseId: string }> {
  fake.addScript({ match: prompt, steps: [reply(toolUse('get_weather', { location: 'Oslo' })), reply(text('Sunny.'))] });
  const created = await post(
    {
      model,
      max_tokens: 64,
      tools: [{ name: 'get_weather', input_schema: { type: 'object' } }],
      thread: { type: 'create' },
      messages: [{ role: 'user', content: prompt }],
    },
    threaded,
  );
  const message = created.body as { id: string; content: Array<{ id: string }> };
  return { id: message.id, toolUseId: message.content[0]!.id };
}

type Case = [name: string, send: () => Promise<{ status: number; requestId: string | null; body: unknown }>];

const cases: Case[] = [
  ['a body that is not JSON', () => post('{"model":')],
  ['a request rule (no messages)', () => post({ model, max_tokens: 64, messages: [] })],
  ['a thread without the beta header', () => post({ model, max_tokens: 64, thread: { type: 'create' }, messages: [{ role: 'user', content: 'x' }] })],
  ['a malformed thread field', () => post({ model, max_tokens: 64, thread: { type: 'resume' }, messages: [{ role: 'user', content: 'x' }] }, threaded)],
  [
    'system on a continue',
    async () => {
      const { id, toolUseId } = await threadAwaitingToolResult(unique('system on continue'));
      const results = [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUseId, content: 'sunny' }] }];
      return post({ model, max_tokens: 64, system: 'x', thread: { type: 'continue', previous_message_id: id }, messages: results }, threaded);
    },
  ],
  [
    'an empty continue after a finished turn',
    async () => {
      const { id } = await threadAwaitingToolResult(unique('empty continue'));
      return post({ model, max_tokens: 64, thread: { type: 'continue', previous_message_id: id }, messages: [] }, threaded);
    },
  ],
  [
    'a continue whose messages break a rule',
    async () => {
      const { id } = await threadAwaitingToolResult(unique('continue without results'));
      return post({ model, max_tokens: 64, thread: { type: 'continue', previous_message_id: id }, messages: [{ role: 'user', content: 'what now?' }] }, threaded);
    },
  ],
  [
    'thread_already_continued',
    async () => {
      const { id, toolUseId } = await threadAwaitingToolResult(unique('continued twice'));
      const body = { model, max_tokens: 64, thread: { type: 'continue', previous_message_id: id }, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUseId, content: 'sunny' }] }] };
      await post(body, threaded);
      return post(body, threaded);
    },
  ],
  [
    'thread_continue_in_flight',
    async () => {
      const { id, toolUseId } = await threadAwaitingToolResult(unique('in flight'));
      fake.forceContinueInFlight(id);
      return post({ model, max_tokens: 64, thread: { type: 'continue', previous_message_id: id }, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUseId, content: 'sunny' }] }] }, threaded);
    },
  ],
  [
    'thread_fingerprint_mismatch',
    async () => {
      const { id, toolUseId } = await threadAwaitingToolResult(unique('other model'));
      return post({ model: 'claude-opus-5-5', max_tokens: 64, thread: { type: 'continue', previous_message_id: id }, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUseId, content: 'sunny' }] }] }, threaded);
    },
  ],
  [
    'thread_unsupported_request',
    async () => {
      fake.setUnsupported(['hipaa']);
      try {
        return await post({ model, max_tokens: 64, thread: { type: 'create' }, messages: [{ role: 'user', content: unique('unsupported') }] }, threaded);
      } finally {
        fake.setUnsupported(null);
      }
    },
  ],
  [
    'an injected 400 fault',
    async () => {
      const prompt = unique('injected 400');
      fake.addScript({ match: prompt, steps: [{ fault: '400' }] });
      return post({ model, max_tokens: 64, messages: [{ role: 'user', content: prompt }] });
    },
  ],
];

describe('every 400 carries the API error body', () => {
  test.each(cases)('%s', async (_name, send) => {
    const { status, requestId, body } = await send();
    expect(status).toBe(400);
    expect(body).toEqual({
      type: 'error',
      error: expect.objectContaining({ type: 'invalid_request_error', message: expect.any(String) }),
      request_id: requestId,
    });
    expect(requestId).toMatch(/^req_/);
    const { error } = body as { error: { message: string; details?: { error_code?: unknown } } };
    expect(error.message.length).toBeGreaterThan(0);
    // Where the API names the failure with a code, it is a string at error.details.error_code.
    if (error.details !== undefined) expect(typeof error.details.error_code).toBe('string');
  });

  test('the SDK raises them as BadRequestError with type invalid_request_error', async () => {
    const error = await client.messages.create({ model, max_tokens: 64, messages: [{ role: 'assistant', content: 'hi' }] }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).type).toBe('invalid_request_error');
    expect((error as BadRequestError).requestID).toMatch(/^req_/);
  });
});
