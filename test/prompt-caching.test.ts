// Prompt caching end to end: every model call asks for the API's automatic caching, and the calls durability adds —
// a retried attempt, a thread replayed after it lapsed, a fork, an unthreaded conversation — send the same prefix
// bytes as the calls before them, so the fake (which models caching as documented) reports cache reads for them.
// Then cost: priced per call, summed, capped by a budget.
import type { BetaMessageParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { z } from 'zod';
import { ConversationFinishedError, InvalidConversationOptionsError } from '../src/client';
import { costOfUsage, priceOf, type ModelPrice } from '../src/pricing/cost';
import { defineTool } from '../src/tools/define-tool';
import { reply, text, toolUse, type RecordedRequest } from '../src/testing';
import { recordHistoryFixture } from './helpers/fixtures';
import { startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

const fastRetry = { maximumAttempts: 5, initialInterval: '100ms', maximumInterval: '1s' };

/** A system prompt well over the default model's minimum cacheable length (512 tokens for claude-sonnet-5-5). */
const SYSTEM = Array.from(
  { length: 40 },
  (_, i) => `Rule ${i + 1}: look the order up before you answer, quote the order number, and never promise a refund date you cannot see.`,
).join('\n');

const lookups: string[] = [];
const lookup = defineTool({
  name: 'lookup',
  description: 'Look an order up by its number',
  input: z.object({ order: z.string() }),
  run: ({ order }) => {
    lookups.push(order);
    return `Order ${order}: shipped, two parcels, ${'tracking history line. '.repeat(40)}`;
  },
});

let refundsRun = 0;
const refund = defineTool({
  name: 'refund',
  description: 'Refund an order',
  input: z.object({ order: z.string(), usd: z.number() }),
  needsApproval: true,
  run: () => {
    refundsRun++;
    return 'refunded';
  },
});

/** The conversation's Messages API calls that got an answer, in order (not count_tokens, not faults). */
function answered(prompt: string): RecordedRequest[] {
  return harness.fake.requestsFor(prompt).filter((r) => r.path === '/v1/messages' && r.response !== undefined);
}

function usageOf(request: RecordedRequest) {
  return request.response!.usage;
}

type Body = { cache_control?: unknown; system?: unknown; messages: BetaMessageParam[]; tools?: unknown[] };

/** Every cache_control breakpoint a request carries: the top-level one, and those on tools, system and message blocks. */
function breakpointsOf(body: Body): number {
  const marked = (blocks: unknown) => (Array.isArray(blocks) ? blocks.filter((b) => (b as { cache_control?: unknown }).cache_control).length : 0);
  return (body.cache_control ? 1 : 0) + marked(body.tools) + marked(body.system) + body.messages.reduce((n, m) => n + marked(m.content), 0);
}

/** Three turns: two lookups, then the answer; a fork whose new message has `forkAnswer`'s key gets its answer. */
function threeTurns(prompt: string, forkAnswer?: { after: string; text: string }): void {
  const steps = [reply(toolUse('lookup', { order: 'A-1' })), reply(toolUse('lookup', { order: 'A-2' })), reply(text('Both orders shipped.'))];
  harness.fake.addScript({
    match: prompt,
    steps: ({ turnIndex, request }) =>
      forkAnswer && JSON.stringify(request.messages).includes(forkAnswer.after) ? reply(text(forkAnswer.text)) : steps[turnIndex]!,
  });
}

describe('prompt caching is on by default', () => {
  test('every call asks for automatic caching; after the first, each reads the prefix the one before wrote', async () => {
    const prompt = uniquePrompt('Where are my orders?');
    threeTurns(prompt);
    const result = await withWorker(harness, { tools: [lookup] }, async (agent) => {
      const handle = await agent.start({ prompt, system: SYSTEM, tools: ['lookup'] });
      const result = await handle.result();
      await recordHistoryFixture(harness.temporal.client, 'prompt-caching-cost', handle.conversationId);
      return result;
    });
    expect(result.status).toBe('completed');
    const calls = answered(prompt);
    expect(calls).toHaveLength(3);
    for (const call of calls) expect((call.body as Body).cache_control).toEqual({ type: 'ephemeral' });
    expect(usageOf(calls[0]!).cache_read_input_tokens).toBe(0);
    expect(usageOf(calls[0]!).cache_creation_input_tokens).toBeGreaterThan(0);
    for (let i = 1; i < calls.length; i++) {
      const previous = usageOf(calls[i - 1]!);
      // Everything the previous call read or wrote is read now.
      expect(usageOf(calls[i]!).cache_read_input_tokens).toBe((previous.cache_read_input_tokens ?? 0) + (previous.cache_creation_input_tokens ?? 0));
    }
    // The conversation's usage is the sum of what the API reported, and its cost the list price of it.
    const price = priceOf('claude-sonnet-5-5')!;
    const reads = calls.reduce((n, c) => n + (usageOf(c).cache_read_input_tokens ?? 0), 0);
    expect(result.usage.cacheReadInputTokens).toBe(reads);
    const cost = calls.reduce((usd, c) => usd + costOfUsage(usageOf(c), price), 0);
    expect(result.usage.costUsd).toBeCloseTo(cost, 10);
    expect(result.transcript!.turns.map((t) => t.usage.costUsd)).toEqual(calls.map((c) => expect.closeTo(costOfUsage(usageOf(c), price), 10)));
  });

  test("cache: '1h' asks for the 1-hour TTL, and its writes are reported and priced as 1-hour writes", async () => {
    const prompt = uniquePrompt('Where are my orders, an hour from now?');
    threeTurns(prompt);
    const result = await withWorker(harness, { tools: [lookup] }, async (agent) =>
      (await agent.start({ prompt, system: SYSTEM, tools: ['lookup'], cache: '1h' })).result(),
    );
    const calls = answered(prompt);
    for (const call of calls) expect((call.body as Body).cache_control).toEqual({ type: 'ephemeral', ttl: '1h' });
    expect(result.usage.cacheCreation1hInputTokens).toBe(result.usage.cacheCreationInputTokens);
    expect(result.usage.cacheCreation1hInputTokens).toBeGreaterThan(0);
    const price = priceOf('claude-sonnet-5-5')!;
    expect(result.usage.costUsd).toBeCloseTo(calls.reduce((usd, c) => usd + costOfUsage(usageOf(c), price, '1h'), 0), 10);
  });

  test("cache: 'off' sends no cache_control and reads nothing", async () => {
    const prompt = uniquePrompt('Where are my orders, uncached?');
    threeTurns(prompt);
    const result = await withWorker(harness, { tools: [lookup] }, async (agent) =>
      (await agent.start({ prompt, system: SYSTEM, tools: ['lookup'], cache: 'off' })).result(),
    );
    expect(result.status).toBe('completed');
    for (const call of answered(prompt)) expect((call.body as Body).cache_control).toBeUndefined();
    expect(result.usage.cacheReadInputTokens).toBe(0);
    expect(result.usage.cacheCreationInputTokens).toBe(0);
  });

  test("the user's breakpoints on system and messages go out within the API's limit of 4, answered messages' dropped", async () => {
    const prompt = uniquePrompt('Breakpoints everywhere');
    const marker = { type: 'ephemeral' as const };
    // The conversation starts with one reply in it (turn index 1).
    harness.fake.addScript({ match: prompt, steps: [reply(text('unused')), reply(toolUse('lookup', { order: 'B-1' })), reply(text('Done.'))] });
    const result = await withWorker(harness, { tools: [lookup] }, async (agent) =>
      (
        await agent.start({
          system: [
            { type: 'text', text: SYSTEM, cache_control: marker },
            { type: 'text', text: 'Be brief.', cache_control: marker },
          ],
          messages: [
            { role: 'user', content: [{ type: 'text', text: prompt, cache_control: marker }] },
            { role: 'assistant', content: [{ type: 'text', text: 'Which order?', cache_control: marker }] },
            { role: 'user', content: [{ type: 'text', text: 'B-1, please.', cache_control: marker }] },
          ],
          tools: ['lookup'],
        })
      ).result(),
    );
    expect(result.status).toBe('completed');
    const calls = answered(prompt);
    expect(calls).toHaveLength(2);
    for (const call of calls) expect(breakpointsOf(call.body as Body)).toBeLessThanOrEqual(4);
    // The first call keeps both system breakpoints and the unanswered message's; the answered ones are dropped.
    const first = calls[0]!.body as Body;
    expect(breakpointsOf(first)).toBe(4);
    expect((first.messages[2]!.content as Array<{ cache_control?: unknown }>)[0]!.cache_control).toEqual(marker);
    expect((first.messages[0]!.content as Array<{ cache_control?: unknown }>)[0]!.cache_control).toBeUndefined();
    expect(usageOf(calls[1]!).cache_read_input_tokens).toBeGreaterThan(0);
  });

  test("a budgeted chat's breakpoints stay within 4 on thread continues too, where the thread's system breakpoints still count", async () => {
    const prompt = uniquePrompt('Chat with breakpoints');
    const marker = { type: 'ephemeral' as const };
    const marked = (...texts: string[]) => texts.map((t) => ({ type: 'text' as const, text: t, cache_control: marker }));
    harness.fake.addScript({ match: prompt, steps: [reply(text('First answer.')), reply(text('Second answer.'))] });
    const { result, second } = await withWorker(harness, {}, async (agent) => {
      const { handle } = await agent.startChat({
        message: marked(prompt, 'more context'),
        system: marked(SYSTEM, 'Be brief.'),
        limits: { budget: { usd: 10 } },
      });
      const second = await handle.sendMessage(marked('A follow-up', 'with two breakpoints'));
      await handle.end('test');
      return { result: await handle.result(), second };
    });
    expect(second.text).toBe('Second answer.');
    const calls = answered(prompt);
    expect(calls.map((c) => c.threadKind)).toEqual(['create', 'continue']);
    // The continue sends the automatic breakpoint and one of its two; the thread's two system breakpoints make four.
    expect(breakpointsOf(calls[1]!.body as Body)).toBe(2);
    expect(usageOf(calls[1]!).cache_read_input_tokens).toBeGreaterThan(0);
    // Each call's token count went out with its breakpoints placed the same way, and was accepted.
    const counts = harness.fake.requests.filter((r) => r.path === '/v1/messages/count_tokens' && JSON.stringify(r.body).includes(prompt));
    expect(counts.map((r) => r.status)).toEqual([200, 200]);
    expect(result.usage.costUsd).toBeGreaterThan(0);
  });

  test('more system breakpoints than a request can carry are refused at start', async () => {
    const marker = { type: 'ephemeral' as const };
    await withWorker(harness, {}, async (agent) => {
      const system = Array.from({ length: 4 }, (_, i) => ({ type: 'text' as const, text: `part ${i}`, cache_control: marker }));
      await expect(agent.start({ prompt: 'hi', system })).rejects.toThrow(/system has 4 cache_control breakpoints; a request may carry 4, one of them the automatic breakpoint/);
      // With caching off, the fourth slot is free.
      await expect(agent.start({ prompt: uniquePrompt('four'), system, cache: 'off' })).resolves.toBeDefined();
    });
  });
});

describe('durability reads the cache instead of writing it again', () => {
  test('a retried model call reads what its failed attempt wrote', async () => {
    const prompt = uniquePrompt('Retry me');
    harness.fake.addScript({
      match: prompt,
      steps: [reply(toolUse('lookup', { order: 'C-1' })), { faults: ['stream-error'], then: reply(text('Shipped.')) }],
    });
    const result = await withWorker(harness, { tools: [lookup] }, async (agent) =>
      (await agent.start({ prompt, system: SYSTEM, tools: ['lookup'], modelRetry: fastRetry })).result(),
    );
    expect(result.status).toBe('completed');
    const turn2 = harness.fake.requestsFor(prompt).filter((r) => r.path === '/v1/messages' && r.turnIndex === 1);
    expect(turn2.map((r) => r.fault ?? 'answered')).toEqual(['stream-error', 'answered']);
    // The failed attempt processed the prompt (it began streaming), so it wrote its breakpoint; the retry reads it all.
    const failed = turn2[0]!.cache!;
    const retried = usageOf(turn2[1]!);
    expect(failed.writeTokens).toBeGreaterThan(0);
    expect(retried.cache_read_input_tokens).toBe(failed.readTokens + failed.writeTokens);
    expect(retried.cache_creation_input_tokens).toBe(0);
  });

  test('a thread replayed after it lapsed (e.g. an approval wait) reads the prefix its create wrote', async () => {
    const prompt = uniquePrompt('Refund after a wait');
    harness.fake.addScript({
      match: prompt,
      steps: [reply(toolUse('refund', { order: 'D-1', usd: 12 })), reply(text('Refunded.'))],
    });
    const result = await withWorker(harness, { tools: [refund] }, async (agent) => {
      const handle = await agent.start({ prompt, system: SYSTEM, tools: ['refund'] });
      const { value: pending } = await handle.approvals().next();
      // The person took longer than the thread lives: the server has forgotten it (the cache has a TTL of its own).
      harness.fake.evictAllThreads();
      await handle.approve(pending!.toolUseId, { by: 'ops@example.com' });
      return handle.result();
    });
    expect(result.status).toBe('completed');
    expect(result.transcript!.turns.map((t) => t.requestKind)).toEqual(['create', 'replay']);
    const [create, , replay] = harness.fake.requestsFor(prompt).filter((r) => r.path === '/v1/messages');
    expect(replay!.threadKind).toBe('create');
    const created = usageOf(create!);
    expect(usageOf(replay!).cache_read_input_tokens).toBe((created.cache_read_input_tokens ?? 0) + (created.cache_creation_input_tokens ?? 0));
  });

  test('a repeat up the max_tokens ladder reads the prefix the cut-off call wrote', async () => {
    const prompt = uniquePrompt('Look up a long order number');
    harness.fake.addScript({
      match: prompt,
      steps: [{ ...reply(toolUse('lookup', { order: `Z-${'9'.repeat(240)}` })), cutAtMaxTokens: true }, reply(text('Found it.'))],
    });
    const result = await withWorker(harness, { tools: [lookup] }, async (agent) =>
      (await agent.start({ prompt, system: SYSTEM, tools: ['lookup'], maxTokens: 40, maxTokensLadder: [200] })).result(),
    );
    expect(result.status).toBe('completed');
    expect(result.transcript!.turns[0]!.maxTokensTried).toEqual([40, 200]);
    const [cut, repeated] = answered(prompt);
    expect(cut!.response!.stop_reason).toBe('max_tokens');
    // The system prompt and tools may be cached already by other conversations (the cache is the organisation's).
    const written = usageOf(cut!);
    expect(usageOf(repeated!).cache_read_input_tokens).toBe((written.cache_read_input_tokens ?? 0) + (written.cache_creation_input_tokens ?? 0));
    expect(usageOf(repeated!).cache_creation_input_tokens).toBe(0);
  });

  test('a fork from turn 1 reads the prefix the source conversation wrote', async () => {
    const prompt = uniquePrompt('Fork me');
    threeTurns(prompt, { after: 'And the other order?', text: 'It shipped too.' });
    await withWorker(harness, { tools: [lookup] }, async (agent) => {
      const source = await agent.start({ prompt, system: SYSTEM, tools: ['lookup'] });
      await source.result();
      const sourceCalls = answered(prompt);
      const fork = await agent.fork(source.conversationId, { turn: 1, prompt: 'And the other order?' });
      const forked = await fork.result();
      expect(forked.status).toBe('completed');
      const forkCall = answered(prompt).find((r) => !sourceCalls.includes(r))!;
      // Turn 2 of the source sent the same prefix through turn 1's tool result, and wrote it.
      const sourceTurn2 = usageOf(sourceCalls[1]!);
      expect(usageOf(forkCall).cache_read_input_tokens).toBe((sourceTurn2.cache_read_input_tokens ?? 0) + (sourceTurn2.cache_creation_input_tokens ?? 0));
    });
  });

  test('without threads (zero data retention) the full transcript is re-sent each turn, and read from the cache', async () => {
    const prompt = uniquePrompt('Unthreaded orders');
    threeTurns(prompt);
    const result = await withWorker(harness, { tools: [lookup] }, async (agent) =>
      (await agent.start({ prompt, system: SYSTEM, tools: ['lookup'], threads: false })).result(),
    );
    expect(result.status).toBe('completed');
    const calls = answered(prompt);
    expect(calls.map((c) => c.threadKind)).toEqual(['unthreaded', 'unthreaded', 'unthreaded']);
    for (let i = 1; i < calls.length; i++) {
      const previous = usageOf(calls[i - 1]!);
      expect(usageOf(calls[i]!).cache_read_input_tokens).toBe((previous.cache_read_input_tokens ?? 0) + (previous.cache_creation_input_tokens ?? 0));
    }
  });
});

describe('cost and budget', () => {
  test('a model without a price has an unknown cost, never zero', async () => {
    const prompt = uniquePrompt('An unpriced model');
    harness.fake.addScript({ match: prompt, steps: [reply(text('Hello.'))] });
    const result = await withWorker(harness, {}, async (agent) => (await agent.start({ prompt, model: 'claude-unlisted-9' })).result());
    expect(result.status).toBe('completed');
    expect(result.usage.costUsd).toBeNull();
    expect(result.transcript!.turns[0]!.usage.costUsd).toBeNull();
  });

  test("a conversation's prices win over the list, and the worker's over the list too", async () => {
    const custom: ModelPrice = { input: 1, output: 1, cacheWrite5m: 1, cacheWrite1h: 1, cacheRead: 1 };
    const prompt = uniquePrompt('Negotiated prices');
    harness.fake.addScript({ match: prompt, steps: [reply(text('Hello.'))] });
    const viaConversation = await withWorker(harness, {}, async (agent) =>
      (await agent.start({ prompt, model: 'claude-unlisted-9', prices: { 'claude-unlisted-9': custom } })).result(),
    );
    const usage = usageOf(answered(prompt)[0]!);
    expect(viaConversation.usage.costUsd).toBeCloseTo(costOfUsage(usage, custom), 12);

    const prompt2 = uniquePrompt('Worker prices');
    harness.fake.addScript({ match: prompt2, steps: [reply(text('Hello.'))] });
    const viaWorker = await withWorker(harness, { prices: { 'claude-unlisted-9': { ...custom, output: 2 } } }, async (agent) =>
      (await agent.start({ prompt: prompt2, model: 'claude-unlisted-9' })).result(),
    );
    expect(viaWorker.usage.costUsd).toBeCloseTo(costOfUsage(usageOf(answered(prompt2)[0]!), { ...custom, output: 2 }), 12);
  });

  test('bad budgets, TTLs and price tables are refused at start with every problem named', async () => {
    await withWorker(harness, {}, async (agent) => {
      for (const [options, message] of [
        [{ limits: { budget: { usd: -1 } } }, /limits.budget must be \{usd: a positive number of US dollars\}/],
        [{ limits: { budget: { usd: 0 } } }, /limits.budget must be/],
        [{ limits: { budget: { usd: '5' } } }, /limits.budget must be/],
        [{ limits: { budget: 5 } }, /limits.budget must be/],
        [{ cache: '10m' }, /cache must be '5m' \(the default\), '1h' or 'off'; got "10m"/],
        [{ prices: { 'my-model': { input: 1, output: 2 } } }, /prices\['my-model'\].cacheWrite5m is missing/],
        [{ prices: { 'my-model': { input: -1, output: 2, cacheWrite5m: 1, cacheWrite1h: 1, cacheRead: 1 } } }, /prices\['my-model'\].input must be a number ≥ 0/],
      ] as const) {
        const started = agent.start({ prompt: 'hi', ...(options as object) });
        await expect(started).rejects.toBeInstanceOf(InvalidConversationOptionsError);
        await expect(started).rejects.toThrow(message);
      }
    });
    await expect(withWorker(harness, { prices: { x: { input: 1 } as ModelPrice } }, async () => undefined)).rejects.toThrow(/Invalid worker prices: prices\['x'\].output is missing/);
  });

  /** $1 per input token, output free: a call's worst case is its input token count in dollars. */
  const dollarPerInputToken: ModelPrice = { input: 1_000_000, output: 0, cacheWrite5m: 1_000_000, cacheWrite1h: 1_000_000, cacheRead: 1_000_000 };
  const model = 'claude-budget-test';
  const pricedPrompt = (label: string) => `${label} [${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}]`;

  /** The input tokens of the first call of a conversation like the budgeted ones (same lengths, so the same count). */
  async function firstCallTokens(tools: string[]): Promise<number> {
    const prompt = pricedPrompt('Refund my order');
    harness.fake.addScript({ match: prompt, steps: [reply(text('Probe.'))] });
    await withWorker(harness, { tools: [refund] }, async (agent) => (await agent.start({ prompt, model, tools, prices: { [model]: dollarPerInputToken } })).result());
    const usage = usageOf(answered(prompt)[0]!);
    return usage.input_tokens + (usage.cache_read_input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0);
  }

  test('a call that could cost more than the budget has left is not made: status budget_exceeded, and why', async () => {
    const tokens = await firstCallTokens(['refund']);
    const prompt = pricedPrompt('Refund my order');
    harness.fake.addScript({ match: prompt, steps: [reply(text('Never sent.'))] });
    const result = await withWorker(harness, { tools: [refund] }, async (agent) => {
      const handle = await agent.start({ prompt, model, tools: ['refund'], prices: { [model]: dollarPerInputToken }, limits: { budget: { usd: tokens - 1 } } });
      const result = await handle.result();
      await recordHistoryFixture(harness.temporal.client, 'budget-exceeded-before-call', handle.conversationId);
      return result;
    });
    expect(result.status).toBe('budget_exceeded');
    expect(result.turns).toBe(0);
    expect(result.budgetStop).toMatchObject({ budgetUsd: tokens - 1, spentUsd: 0, nextCallInputTokens: tokens, nextCallMaxUsd: tokens });
    expect(result.budgetStop!.message).toMatch(/turn 1 was not sent: it could cost up to/);
    const requests = harness.fake.requestsFor(prompt);
    expect(requests.some((r) => r.path === '/v1/messages')).toBe(false);
  });

  test('a reply whose tools the budget cannot pay to answer: no approval asked, no tool run, no model call after, status says why', async () => {
    const tokens = await firstCallTokens(['refund']);
    const prompt = pricedPrompt('Refund my order');
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('refund', { order: 'E-1', usd: 10_000 })), reply(text('Never sent.'))] });
    const before = refundsRun;
    const { result, pending } = await withWorker(harness, { tools: [refund] }, async (agent) => {
      const handle = await agent.start({ prompt, model, tools: ['refund'], prices: { [model]: dollarPerInputToken }, limits: { budget: { usd: tokens * 1.5 } } });
      const result = await handle.result();
      await recordHistoryFixture(harness.temporal.client, 'budget-exceeded-before-tools', handle.conversationId);
      // A person who comes to approve it learns the conversation is over, rather than waiting on nothing.
      const [call] = result.transcript!.turns[0]!.toolCalls;
      await expect(handle.approve(call!.toolUseId, { by: 'ops@example.com' })).rejects.toBeInstanceOf(ConversationFinishedError);
      return { result, pending: await handle.pending() };
    });
    expect(result.status).toBe('budget_exceeded');
    expect(result.budgetStop!.message).toMatch(/the reply's tool calls were not run/);
    expect(pending).toEqual([]);
    expect(refundsRun).toBe(before);
    expect(result.transcript!.approvals).toEqual([]);
    expect(result.transcript!.turns[0]!.toolCalls).toEqual([expect.objectContaining({ toolName: 'refund', outcome: 'over_budget' })]);
    const last = result.transcript!.messages[result.transcript!.messages.length - 1]!;
    expect(last.content).toEqual([expect.objectContaining({ type: 'tool_result', is_error: true, content: expect.stringMatching(/Not run: the conversation's budget is exhausted/) })]);
    expect(answered(prompt)).toHaveLength(1);
    expect(result.usage.costUsd).toBeLessThanOrEqual(tokens * 1.5);
  });

  test("a fork has its own budget: what the source spent is not counted again", async () => {
    // At $1 per input token, the source's three calls cost more than the fork's one: a budget the size of the
    // source's spending lets the fork run only if it starts from nothing.
    const prompt = uniquePrompt('Budgeted fork');
    threeTurns(prompt, { after: 'Once more?', text: 'Again: shipped.' });
    await withWorker(harness, { tools: [lookup] }, async (agent) => {
      const source = await agent.start({ prompt, model, system: SYSTEM, tools: ['lookup'], prices: { [model]: dollarPerInputToken }, limits: { budget: { usd: 1_000_000 } } });
      const sourceResult = await source.result();
      const spent = sourceResult.usage.costUsd!;
      expect(spent).toBeGreaterThan(0);
      const fork = await agent.fork(source.conversationId, { turn: 1, prompt: 'Once more?', limits: { budget: { usd: spent } } });
      const forked = await fork.result();
      expect(forked.status).toBe('completed');
      expect((await fork.state()).budgetUsd).toBe(spent);
      expect(forked.turns).toBe(1);
      expect(forked.usage.costUsd).toBe(forked.transcript!.turns[0]!.usage.costUsd);
      expect(forked.usage.costUsd!).toBeLessThan(spent);
    });
  });
});
