// Fleet-wide rate limits: with `modelCalls`, model calls run on a task queue of their own that Temporal's server
// rate-limits for every worker together, and tools stay on the worker's queue. Against a fake API that answers 429
// above its rate, the limit keeps every request under it.
import { z } from 'zod';
import type { AgentClient } from '../src/client';
import { reply, text, toolUse } from '../src/testing';
import { defineTool } from '../src/tools/define-tool';
import { startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';
import { uniqueTaskQueue } from './helpers/temporal';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

const lookup = defineTool({
  name: 'lookup',
  description: 'Look something up',
  input: z.object({ key: z.string() }),
  run: ({ key }) => `value of ${key}`,
});

/** Each scheduled activity of a conversation: its type and the task queue it was scheduled on. */
async function scheduledActivities(conversationId: string): Promise<Array<{ activity: string; taskQueue: string }>> {
  const history = await harness.temporal.client.workflow.getHandle(conversationId).fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    const scheduled = event.activityTaskScheduledEventAttributes;
    return scheduled ? [{ activity: scheduled.activityType!.name!, taskQueue: scheduled.taskQueue!.name! }] : [];
  });
}

/** `count` one-turn conversations started at once; resolves when all have completed. */
async function burstOfConversations(agent: AgentClient, count: number, label: string): Promise<string[]> {
  const prompts = Array.from({ length: count }, (_, i) => uniquePrompt(`${label} ${i}`));
  for (const prompt of prompts) harness.fake.addScript({ match: prompt, steps: [reply(text('Done.'))] });
  const handles = await Promise.all(prompts.map((prompt) => agent.start({ prompt })));
  const results = await Promise.all(handles.map((handle) => handle.result()));
  expect(results.map((result) => result.status)).toEqual(prompts.map(() => 'completed'));
  return prompts;
}

describe("the fake API's rate limit", () => {
  test('above its rate it answers 429 rate_limit_error with retry-after, as the API does, and counts it', async () => {
    harness.fake.setRateLimit({ requestsPerMinute: 60, burst: 1 });
    try {
      const prompt = uniquePrompt('Rate limited');
      harness.fake.addScript({ match: prompt, steps: [reply(text('First.')), reply(text('Second.'))] });
      const send = () =>
        fetch(`${harness.fake.baseURL}/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01' },
          body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: prompt }] }),
        });
      const before = harness.fake.rateLimitedResponses;
      expect((await send()).status).toBe(200);
      const refused = await send();
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(refused.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0');
      expect(await refused.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', message: expect.stringContaining('60 requests per minute') } });
      expect(harness.fake.rateLimitedResponses - before).toBe(1);
    } finally {
      harness.fake.setRateLimit(null);
    }
  });
});

describe('model calls on their own task queue', () => {
  test('model calls are scheduled on the model-call queue and tool runs on the worker queue', async () => {
    const taskQueue = uniqueTaskQueue('rate');
    const prompt = uniquePrompt('Look up the answer');
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('lookup', { key: 'answer' })), reply(text('It is 42.'))] });
    const toolless = uniquePrompt('Say hello');
    harness.fake.addScript({ match: toolless, steps: [reply(text('Hello.'))] });
    const { withTools, withoutTools } = await withWorker(harness, { taskQueue, tools: [lookup], modelCalls: {} }, async (agent) => {
      const first = await agent.start({ prompt, tools: ['lookup'] });
      const second = await agent.start({ prompt: toolless });
      expect((await first.result()).status).toBe('completed');
      expect((await second.result()).status).toBe('completed');
      return { withTools: await scheduledActivities(first.conversationId), withoutTools: await scheduledActivities(second.conversationId) };
    });
    const modelQueue = `${taskQueue}-model-calls`;
    expect(withTools).toEqual([
      { activity: 'callModel', taskQueue: modelQueue },
      { activity: 'runTool', taskQueue },
      { activity: 'callModel', taskQueue: modelQueue },
    ]);
    // A conversation without tools learns the queue too.
    expect(withoutTools).toEqual([{ activity: 'callModel', taskQueue: modelQueue }]);
  });

  test('a chat that continues as new keeps its model calls on the model-call queue in every run', async () => {
    const taskQueue = uniqueTaskQueue('rate-chain');
    const prompt = uniquePrompt('Long chat on the model queue');
    const turns = 4;
    const steps = [];
    for (let i = 1; i <= turns; i++) steps.push(reply(toolUse('lookup', { key: `k${i}` })), reply(text(`answer ${i}`)));
    harness.fake.addScript({ match: prompt, steps });
    const queuesByRun = await withWorker(harness, { taskQueue, tools: [lookup], modelCalls: {} }, async (agent) => {
      const { handle } = await agent.startChat({ message: prompt, tools: ['lookup'], continueAsNew: { afterEvents: 20 } });
      for (let i = 2; i <= turns; i++) await handle.sendMessage(`message ${i}`);
      expect((await handle.state()).runs).toBeGreaterThan(1);
      await handle.end('tester');
      await handle.result();
      const queues: string[][] = [];
      for await (const execution of harness.temporal.client.workflow.list({ query: `WorkflowId = '${handle.conversationId}'` })) {
        const history = await harness.temporal.client.workflow.getHandle(handle.conversationId, execution.runId).fetchHistory();
        queues.push(
          (history.events ?? []).flatMap((event) => {
            const scheduled = event.activityTaskScheduledEventAttributes;
            return scheduled?.activityType?.name === 'callModel' ? [scheduled.taskQueue!.name!] : [];
          }),
        );
      }
      return queues;
    });
    // Runs after the first never ask the worker again: the queue came with the carried state.
    const modelCalls = queuesByRun.flat();
    expect(modelCalls).toHaveLength(turns * 2);
    expect(new Set(modelCalls)).toEqual(new Set([`${taskQueue}-model-calls`]));
  });

  test('without modelCalls, model calls stay on the worker queue', async () => {
    const taskQueue = uniqueTaskQueue('rate-off');
    const prompt = uniquePrompt('Look up the question');
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('lookup', { key: 'question' })), reply(text('Unknown.'))] });
    const scheduled = await withWorker(harness, { taskQueue, tools: [lookup] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['lookup'] });
      await handle.result();
      return scheduledActivities(handle.conversationId);
    });
    expect(scheduled.map((s) => s.taskQueue)).toEqual([taskQueue, taskQueue, taskQueue]);
  });

  test('a burst of conversations gets 429s from a rate-limited API without the limit, and none with maxPerSecond under it', async () => {
    // The organisation's limit: 4 requests a second, at most 4 at once.
    harness.fake.setRateLimit({ requestsPerSecond: 4 });
    try {
      const before = harness.fake.rateLimitedResponses;
      await withWorker(harness, { tools: [] }, (agent) => burstOfConversations(agent, 12, 'Unlimited burst'));
      const withoutLimit = harness.fake.rateLimitedResponses - before;
      expect(withoutLimit).toBeGreaterThan(0);

      // The same limit, its bucket full again, for the second burst.
      harness.fake.setRateLimit({ requestsPerSecond: 4 });
      const beforeLimited = harness.fake.rateLimitedResponses;
      const prompts = await withWorker(harness, { tools: [], modelCalls: { maxPerSecond: 2 } }, (agent) => burstOfConversations(agent, 12, 'Limited burst'));
      expect(harness.fake.rateLimitedResponses - beforeLimited).toBe(0);
      // Every conversation's one model call went out once: nothing was refused and retried.
      expect(prompts.map((prompt) => harness.fake.requestsFor(prompt).length)).toEqual(prompts.map(() => 1));
    } finally {
      harness.fake.setRateLimit(null);
    }
  });
});
