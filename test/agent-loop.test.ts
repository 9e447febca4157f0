import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ConversationFailedError } from '../src/client';
import { defineTool, ToolError, ToolFatalError } from '../src/tools/define-tool';
import { reply, text, toolUse } from '../src/testing';
import { startHarness, uniquePrompt, withWorker, type Harness, toolResultsOf } from './helpers/harness';
import { historyEventsOf, recordHistoryFixture, toolActivitiesOf } from './helpers/fixtures';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

const runs: string[] = [];
const weather = defineTool({
  name: 'get_weather',
  description: 'Get the current weather in a given location',
  input: z.object({ location: z.string().min(1), unit: z.enum(['celsius', 'fahrenheit']).optional() }),
  run: async ({ location }) => {
    runs.push(`get_weather:${location}`);
    await sleep(300);
    return { location, temperature: 18, conditions: 'sunny' };
  },
});
const flaky = defineTool({
  name: 'lookup_order',
  description: 'Look up an order by id',
  input: z.object({ orderId: z.string() }),
  retry: { maximumAttempts: 2, initialInterval: '50ms' },
  run: () => {
    runs.push('lookup_order');
    throw new Error('upstream returned 503');
  },
});

/**
 * get_weather and get_time for the parallel test: each, once running, waits for the other to start, and records
 * whether it did. Both can say so only if the two ran at the same time; run one after the other, the first waits in vain.
 */
const started = new Set<string>();
const metPartner = new Map<string, boolean>();
async function meet(self: string, partner: string): Promise<void> {
  started.add(self);
  // A bound so that a serial run ends the test instead of hanging it; not a measure of anything.
  for (let i = 0; i < 500 && !started.has(partner); i++) await sleep(20);
  metPartner.set(self, started.has(partner));
}
const meetingWeather = defineTool({
  name: 'get_weather',
  description: 'Get the current weather in a given location',
  input: z.object({ location: z.string().min(1), unit: z.enum(['celsius', 'fahrenheit']).optional() }),
  run: async ({ location }) => {
    await meet('get_weather', 'get_time');
    return { location, temperature: 18, conditions: 'sunny' };
  },
});
const meetingTime = defineTool({
  name: 'get_time',
  description: 'Get the current time in a given time zone',
  input: z.object({ timezone: z.string() }),
  run: async ({ timezone }) => {
    await meet('get_time', 'get_weather');
    return `It is 14:05 in ${timezone}`;
  },
});

describe('the durable agent loop', () => {
  test('a single tool call: the model asks, the tool runs as an activity, the model answers', async () => {
    const prompt = uniquePrompt('What is the weather in Paris?');
    harness.fake.addScript({
      match: prompt,
      steps: [reply(toolUse('get_weather', { location: 'Paris' })), reply(text('It is sunny and 18°C in Paris.'))],
    });
    const result = await withWorker(harness, { tools: [weather] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['get_weather'] });
      return handle.result();
    });
    expect(result.status).toBe('completed');
    expect(result.text).toBe('It is sunny and 18°C in Paris.');
    expect(result.turns).toBe(2);
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokens).toBeGreaterThan(0);
    const messages = result.transcript!.messages;
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    const [toolResult] = toolResultsOf(messages[2]!.content);
    expect(toolResult!.is_error).toBeUndefined();
    expect(JSON.parse(toolResult!.content as string)).toEqual({ location: 'Paris', temperature: 18, conditions: 'sunny' });
  });

  test('parallel tool calls run concurrently and their results go back in one user message, in block order', async () => {
    const prompt = uniquePrompt("What's the weather like in San Francisco? Also, what time is it there?");
    harness.fake.addScript({
      match: prompt,
      steps: [
        reply(
          text("I'll check the current weather and time in San Francisco for you."),
          toolUse('get_weather', { location: 'San Francisco, CA' }),
          toolUse('get_time', { timezone: 'America/Los_Angeles' }),
        ),
        reply(text("It's 18°C and sunny in San Francisco, and it's 2:05 PM.")),
      ],
    });
    const { result, id } = await withWorker(harness, { tools: [meetingWeather, meetingTime] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['get_weather', 'get_time'] });
      const result = await handle.result();
      await recordHistoryFixture(harness.temporal.client, 'parallel-tools', handle.conversationId);
      return { result, id: handle.conversationId };
    });
    expect(result.status).toBe('completed');
    const messages = result.transcript!.messages;
    const toolUses = (messages[1]!.content as Array<{ type: string; id?: string }>).filter((b) => b.type === 'tool_use');
    const results = toolResultsOf(messages[2]!.content);
    expect(results.map((r) => r.tool_use_id)).toEqual(toolUses.map((b) => b.id));
    expect((messages[2]!.content as unknown[]).length).toBe(2);

    // The workflow issued both calls in one workflow task (it did not wait for one result to ask for the other),
    // and both results were in before it asked the model again.
    const events = await historyEventsOf(harness.temporal.client, id);
    const calls = toolActivitiesOf(events);
    expect(calls.map((c) => c.input.toolName)).toEqual(['get_weather', 'get_time']);
    expect(calls[0]!.scheduledByWorkflowTask).toBe(calls[1]!.scheduledByWorkflowTask);
    const secondModelCall = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'callModel')[1]!;
    for (const call of calls) expect(call.completedEventId!).toBeLessThan(Number(secondModelCall.eventId));
    // And the worker ran them at the same time: each was still running when the other started.
    expect(Object.fromEntries(metPartner)).toEqual({ get_weather: true, get_time: true });
    // Temporal's record agrees: the server handed out both tasks before either completed. By the events' times, not
    // their positions: the started event of an activity with a retry policy is written together with its completion.
    const lastStart = Math.max(...calls.map((c) => c.startedEventTimeMs!));
    const firstEnd = Math.min(...calls.map((c) => c.completedEventTimeMs!));
    expect(lastStart).toBeLessThan(firstEnd);

    // The API received both results in one user message.
    const [, second] = harness.fake.requestsFor(prompt);
    const sent = (second!.body as { messages: Array<{ role: string; content: unknown }> }).messages;
    expect(sent).toHaveLength(1);
    expect(toolResultsOf(sent[0]!.content).map((r) => r.tool_use_id)).toEqual(toolUses.map((b) => b.id));
  });

  test('a tool error outliving its retries goes back as is_error and the model recovers', async () => {
    const prompt = uniquePrompt('Where is order 42?');
    runs.length = 0;
    harness.fake.addScript({
      match: prompt,
      steps: [reply(toolUse('lookup_order', { orderId: '42' })), reply(text('The order system is down right now; please try again later.'))],
    });
    const result = await withWorker(harness, { tools: [flaky] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['lookup_order'] });
      const result = await handle.result();
      await recordHistoryFixture(harness.temporal.client, 'tool-error-recovered', handle.conversationId);
      return result;
    });
    expect(result.status).toBe('completed');
    expect(runs.filter((r) => r === 'lookup_order')).toHaveLength(2);
    const [toolResult] = toolResultsOf(result.transcript!.messages[2]!.content);
    expect(toolResult).toMatchObject({ is_error: true, content: 'Error: upstream returned 503' });
    expect(result.transcript!.turns[0]!.toolCalls[0]!.outcome).toBe('error');
    expect(result.text).toContain('down');
  });

  test('a ToolError goes back to the model as is_error with its own content, without retries', async () => {
    const prompt = uniquePrompt('Find customer 9');
    let attempts = 0;
    const find = defineTool({
      name: 'find_customer',
      description: 'Find a customer',
      inputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
      run: () => {
        attempts += 1;
        throw new ToolError('no such customer', [{ type: 'text', text: 'No customer has id 9. Ask the user to check it.' }]);
      },
    });
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('find_customer', { id: '9' })), reply(text('Please check the id.'))] });
    const result = await withWorker(harness, { tools: [find] }, async (agent) => (await agent.start({ prompt, tools: ['find_customer'] })).result());
    expect(attempts).toBe(1);
    expect(toolResultsOf(result.transcript!.messages[2]!.content)[0]).toMatchObject({
      is_error: true,
      content: [{ type: 'text', text: 'No customer has id 9. Ask the user to check it.' }],
    });
  });

  test('a ToolFatalError fails the whole conversation instead of going back to the model', async () => {
    const prompt = uniquePrompt('Use the revoked credentials');
    const revoked = defineTool({
      name: 'call_crm',
      description: 'Call the CRM',
      input: z.object({}),
      run: () => {
        throw new ToolFatalError('CRM credentials were revoked');
      },
    });
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('call_crm', {})), reply(text('never'))] });
    const error = await withWorker(harness, { tools: [revoked] }, async (agent) =>
      (await agent.start({ prompt, tools: ['call_crm'] })).result().catch((err: unknown) => err),
    );
    expect(error).toBeInstanceOf(ConversationFailedError);
    expect((error as ConversationFailedError).failureType).toBe('ToolFatalError');
    expect((error as Error).message).toMatch(/Tool call_crm failed fatally: CRM credentials were revoked/);
  });

  test('input that fails the schema is answered with is_error and the tool never runs', async () => {
    const prompt = uniquePrompt('Weather for nowhere');
    runs.length = 0;
    harness.fake.addScript({
      match: prompt,
      steps: [reply(toolUse('get_weather', { location: 42 })), reply(text('I need a valid city.'))],
    });
    const result = await withWorker(harness, { tools: [weather] }, async (agent) => (await agent.start({ prompt, tools: ['get_weather'] })).result());
    const [toolResult] = toolResultsOf(result.transcript!.messages[2]!.content);
    expect(toolResult!.is_error).toBe(true);
    expect(toolResult!.content).toMatch(/^Error: invalid input for get_weather: .*location/);
    expect(runs).toEqual([]);
  });

  test('a call to a tool that does not exist is answered with is_error naming the available tools', async () => {
    const prompt = uniquePrompt('Launch the rockets');
    harness.fake.addScript({
      match: prompt,
      steps: [reply(toolUse('launch_rockets', { count: 3 })), reply(text('I cannot do that.'))],
    });
    const result = await withWorker(harness, { tools: [weather] }, async (agent) => (await agent.start({ prompt, tools: ['get_weather'] })).result());
    const [toolResult] = toolResultsOf(result.transcript!.messages[2]!.content);
    expect(toolResult).toMatchObject({ is_error: true, content: "Error: unknown tool 'launch_rockets'. Available tools: get_weather." });
    expect(result.transcript!.turns[0]!.toolCalls[0]!.outcome).toBe('unknown_tool');
    expect(result.status).toBe('completed');
  });

  test('requests after the first carry only the new messages and the previous reply id', async () => {
    const prompt = uniquePrompt('Weather in Oslo, then Bergen');
    harness.fake.addScript({
      match: prompt,
      steps: [
        reply(toolUse('get_weather', { location: 'Oslo' })),
        reply(toolUse('get_weather', { location: 'Bergen' })),
        reply(text('Both are sunny.')),
      ],
    });
    await withWorker(harness, { tools: [weather] }, async (agent) => (await agent.start({ prompt, tools: ['get_weather'] })).result());
    const requests = harness.fake.requestsFor(prompt);
    expect(requests.map((r) => r.threadKind)).toEqual(['create', 'continue', 'continue']);
    for (const request of requests.slice(1)) {
      const body = request.body as { messages: Array<{ role: string; content: unknown }>; system?: unknown; tools?: unknown };
      expect(body.messages).toHaveLength(1);
      expect(body.messages[0]!.role).toBe('user');
      expect(toolResultsOf(body.messages[0]!.content)).toHaveLength(1);
      expect(body.tools).toBeUndefined();
      expect(request.previousMessageId).toMatch(/^msg_/);
    }
  });
});
