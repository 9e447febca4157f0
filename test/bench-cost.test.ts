// The cost bench's bookkeeping (bench/lib/cost-scenario.ts): a conversation's usage read from the fake API's request
// log — its own successful replies only — priced at list prices, and the report's keys, table and targets. The real
// SDK talks to the real fake over HTTP; the peers' figures themselves come from `npm run bench`, never asserted here.
import Anthropic from '@anthropic-ai/sdk';
import { betaZodTool } from '@anthropic-ai/sdk/helpers/beta/zod';
import type { BetaUsage } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { answeredCalls, asksForCaching, COST_FULL, costFigures, scriptCostConversation, SYSTEM_PROMPT, type CostShape } from '../bench/lib/cost-scenario';
import { BENCH_MODEL } from '../bench/lib/protocol';
import { checkTargets, renderMarkdown, type BenchResults } from '../bench/lib/report';
import { doWork, TOOL_DESCRIPTION, TOOL_NAME, workInput } from '../bench/lib/work-tool';
import { costOfUsage, priceOf, type ModelPrice } from '../src/pricing/cost';
import { FakeMessagesApi, type FakeMessage, type RecordedRequest } from '../src/testing';

const SMALL: CostShape = { modelCalls: 3, toolsPerTurn: 2, resultBytes: 4096, systemChars: SYSTEM_PROMPT.length };
/** Sonnet 5.5's minimum cacheable prompt length (notes/prompt-caching-reference.md §5). */
const MIN_CACHEABLE_TOKENS = 512;

describe('bench cost: usage from the fake API log', () => {
  let fake: FakeMessagesApi;
  beforeAll(async () => {
    fake = await FakeMessagesApi.start();
  });
  afterAll(async () => {
    await fake.close();
  });

  it("counts only the conversation's own successful replies, the same usage the client received", async () => {
    const ours = scriptCostConversation(fake, 'sdk_tool_runner', SMALL);
    const other = scriptCostConversation(fake, 'temporal_ai_sdk', SMALL);
    // The first attempt of every turn gets a 500: the retried requests are in the log but were never billed.
    fake.setFaults({ rate: 1, kinds: ['500'], maxConsecutivePerTurn: 1 });
    const anthropic = new Anthropic({ apiKey: 'sk-ant-test', baseURL: fake.baseURL, maxRetries: 2 });
    const work = betaZodTool({ name: TOOL_NAME, description: TOOL_DESCRIPTION, inputSchema: workInput, run: doWork });
    const received: BetaUsage[] = [];
    const run = async (spec: typeof ours, seen?: BetaUsage[]) => {
      const runner = anthropic.beta.messages.toolRunner({
        model: BENCH_MODEL,
        max_tokens: 1024,
        system: spec.system!,
        messages: [{ role: 'user', content: spec.prompt }],
        tools: [work],
        max_iterations: spec.turns + 2,
      });
      for await (const message of runner) seen?.push(message.usage);
    };
    await Promise.all([run(ours, received), run(other)]);
    fake.setFaults(null);

    const calls = answeredCalls(fake.requests, ours.prompt);
    expect(calls).toHaveLength(SMALL.modelCalls);
    expect(fake.requests.filter((r) => r.conversationKey === ours.prompt).length).toBeGreaterThan(SMALL.modelCalls);
    expect(calls.map((call) => call.response!.usage)).toEqual(received);

    const price = priceOf(BENCH_MODEL)!;
    const figures = costFigures(calls, price);
    const sum = (field: 'input_tokens' | 'output_tokens') => received.reduce((total, usage) => total + usage[field], 0);
    expect(figures).toMatchObject({ model_calls: 3, input_tokens: sum('input_tokens'), output_tokens: sum('output_tokens'), requests_with_cache_control: 0 });
    expect(figures.cost_usd).toBeCloseTo(
      received.reduce((total, usage) => total + costOfUsage(usage, price), 0),
      6,
    );
    // The first request alone is above the model's minimum cacheable length: the system prompt sees to that.
    const first = calls[0]!.response!.usage;
    expect(first.input_tokens + (first.cache_read_input_tokens ?? 0) + (first.cache_creation_input_tokens ?? 0)).toBeGreaterThanOrEqual(MIN_CACHEABLE_TOKENS);
  });
});

describe('bench cost: figures', () => {
  const price: ModelPrice = { input: 3, output: 15, cacheWrite5m: 3.75, cacheWrite1h: 6, cacheRead: 0.3 };
  const answered = (usage: Partial<BetaUsage>, body: unknown = {}): RecordedRequest => ({
    id: 'req',
    receivedAt: 0,
    path: '/v1/messages',
    headers: {},
    body,
    stream: false,
    threadKind: 'unthreaded',
    status: 200,
    conversationKey: 'c',
    response: { usage: { output_tokens: 10, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, ...usage } } as FakeMessage,
  });

  it('sums the calls, prices each, and takes the cached share of calls 2…n only', () => {
    const calls = [
      answered({ input_tokens: 20, cache_creation_input_tokens: 1000 }, { cache_control: { type: 'ephemeral' } }),
      answered({ input_tokens: 50, cache_read_input_tokens: 1000, cache_creation_input_tokens: 100 }, { cache_control: { type: 'ephemeral' } }),
      answered({ input_tokens: 50, cache_read_input_tokens: 1100, cache_creation_input_tokens: 100 }),
    ];
    const figures = costFigures(calls, price);
    expect(figures).toEqual({
      model_calls: 3,
      input_tokens: 120,
      cache_read_input_tokens: 2100,
      cache_creation_input_tokens: 1200,
      output_tokens: 30,
      // (120 × 3 + 30 × 15 + 2100 × 0.3 + 1200 × 3.75) / 1e6
      cost_usd: 0.00594,
      // calls 2 and 3: 2100 read of 100 + 2100 + 200
      cached_share_after_first_turn: 0.875,
      requests_with_cache_control: 2,
    });
  });

  it('finds cache_control at the top level and on any block, and not where it is null', () => {
    expect(asksForCaching({ cache_control: { type: 'ephemeral' } })).toBe(true);
    expect(asksForCaching({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x', cache_control: { type: 'ephemeral', ttl: '1h' } }] }] })).toBe(true);
    expect(asksForCaching({ cache_control: null, system: [{ type: 'text', text: 'x' }] })).toBe(false);
  });
});

describe('bench cost: report', () => {
  const results = (cost: NonNullable<BenchResults['scenarios']['cost']>, shape = COST_FULL): BenchResults => ({
    meta: { quick: shape !== COST_FULL, date: '2026-12-01T00:00:00.000Z', cpus: 2, node: 'v20', model: BENCH_MODEL, runs: 1, unavailable: {}, cost: shape },
    scenarios: { cost },
  });
  const peer = (cost_usd: number, cached_share_after_first_turn: number) => ({
    input_tokens: 1000,
    cache_read_input_tokens: 9000,
    cache_creation_input_tokens: 500,
    output_tokens: 100,
    cost_usd,
    cached_share_after_first_turn,
  });

  it('checks the targets from scenarios.cost.<peer> keys', () => {
    const checks = checkTargets(
      results({ sdk_tool_runner: peer(0.9, 0), durable_claude: peer(0.2, 0.9), durable_claude_unthreaded: peer(0.23, 0.9), temporal_ai_sdk: peer(0.8, 0) }),
    );
    expect(checks.map((check) => [check.target, check.met])).toEqual([
      ["cost: after the first turn ≥ 85 % of durable_claude's input tokens are cache reads", true],
      ['cost: durable_claude bill the lowest of the three', true],
      ['cost: unthreaded within 10 % of threaded', false],
    ]);
    const tie = checkTargets(results({ sdk_tool_runner: peer(0.2, 0), durable_claude: peer(0.2, 0.5), temporal_ai_sdk: peer(0.3, 0) }));
    expect(tie.map((check) => check.met)).toEqual([false, false, undefined]);
  });

  it('leaves the cached-share target undecided on a conversation shorter than the full run', () => {
    const [share] = checkTargets(results({ durable_claude: peer(0.2, 0.7) }, SMALL));
    expect(share).toMatchObject({ met: undefined, detail: '70 % over 3 calls; the target is for 20 (the full run)' });
  });

  it("renders the cost table with the issue's columns and the targets line", () => {
    const markdown = renderMarkdown(results({ durable_claude: peer(0.2, 0.9), durable_claude_unthreaded: peer(0.21, 0.9) }));
    expect(markdown).toContain('**cost**');
    expect(markdown).toContain('| peer | input | cache read | cache write | output | cost | cached share |');
    expect(markdown).toContain('| durable_claude | 1000 | 9000 | 500 | 100 | $0.2000 | 90 % |');
    expect(markdown).toContain(
      "Targets: after the first turn ≥ 85 % of durable_claude's input tokens are cache reads; its bill is the lowest of the three; unthreaded within 10 % of threaded — ✅ 90 % · … a peer is missing · ✅",
    );
  });
});
