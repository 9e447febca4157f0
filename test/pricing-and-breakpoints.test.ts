// The pure parts of caching and cost: where breakpoints go on a request, and what a reply's usage costs.
import type { MessageCreateParamsBase } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { withPromptCaching } from '../src/activities/prompt-cache';
import { costOfUsage, formatUsd, maxCostOfRequest, priceOf, priceTableProblems } from '../src/pricing/cost';
import { LIST_PRICES } from '../src/pricing/prices';

const mark = { type: 'ephemeral' as const };
const hour = { type: 'ephemeral' as const, ttl: '1h' as const };

function request(parts: Partial<MessageCreateParamsBase>): MessageCreateParamsBase {
  return { model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], ...parts };
}

/** The cache_control markers of a request in prefix order: tools, system, messages (block by block). */
function markers(params: MessageCreateParamsBase): Array<string | undefined> {
  const of = (blocks: unknown) => (Array.isArray(blocks) ? blocks.map((b) => (b as { cache_control?: { ttl?: string } }).cache_control) : []);
  return [...of(params.tools), ...of(params.system), ...params.messages.flatMap((m) => of(m.content))].map((m) => (m ? (m.ttl ?? '5m') : undefined));
}

describe('withPromptCaching', () => {
  test('adds the automatic breakpoint at the TTL asked for ("5m" is the default and goes without a ttl)', () => {
    expect(withPromptCaching(request({}), { ttl: '5m', answeredThrough: -1 }).cache_control).toEqual({ type: 'ephemeral' });
    expect(withPromptCaching(request({}), { ttl: '1h', answeredThrough: -1 }).cache_control).toEqual({ type: 'ephemeral', ttl: '1h' });
    expect(withPromptCaching(request({}), { ttl: null, answeredThrough: -1 }).cache_control).toBeUndefined();
  });

  test('drops the breakpoints of answered messages and keeps those of new ones, without touching the input', () => {
    const messages: MessageCreateParamsBase['messages'] = [
      { role: 'user', content: [{ type: 'text', text: 'a', cache_control: mark }] },
      { role: 'assistant', content: [{ type: 'text', text: 'b', cache_control: mark }] },
      { role: 'user', content: [{ type: 'text', text: 'c', cache_control: mark }, { type: 'text', text: 'd' }] },
    ];
    const before = JSON.stringify(messages);
    const sent = withPromptCaching(request({ messages }), { ttl: '5m', answeredThrough: 1 });
    expect(markers(sent)).toEqual([undefined, undefined, '5m', undefined]);
    expect(JSON.stringify(messages)).toBe(before);
    // Content is never changed, only markers: the same prefix bytes whatever the kind of request.
    const strip = (value: unknown) => JSON.stringify(value, (key, v: unknown) => (key === 'cache_control' ? undefined : v));
    expect(strip(sent.messages)).toBe(strip(messages));
  });

  test('keeps at most 4 in all: system and tool breakpoints first, then the newest message breakpoints', () => {
    const sent = withPromptCaching(
      request({
        tools: [{ name: 't', input_schema: { type: 'object' }, cache_control: mark }],
        system: [{ type: 'text', text: 's', cache_control: mark }],
        messages: [{ role: 'user', content: [1, 2, 3].map((n) => ({ type: 'text' as const, text: `m${n}`, cache_control: mark })) }],
      }),
      { ttl: '5m', answeredThrough: -1 },
    );
    expect(markers(sent)).toEqual(['5m', '5m', undefined, undefined, '5m']);
    const withoutAutomatic = withPromptCaching(
      request({ messages: [{ role: 'user', content: [1, 2, 3, 4, 5].map((n) => ({ type: 'text' as const, text: `m${n}`, cache_control: mark })) }] }),
      { ttl: null, answeredThrough: -1 },
    );
    expect(markers(withoutAutomatic)).toEqual([undefined, '5m', '5m', '5m', '5m']);
  });

  test('puts TTLs in the order the API requires: 1-hour entries before 5-minute ones', () => {
    const blocks = (...ttls: Array<'5m' | '1h'>) => ttls.map((ttl, i) => ({ type: 'text' as const, text: `s${i}`, cache_control: ttl === '1h' ? hour : mark }));
    // A 1-hour automatic breakpoint comes last: every breakpoint before it becomes 1-hour.
    expect(markers(withPromptCaching(request({ system: blocks('5m', '1h') }), { ttl: '1h', answeredThrough: -1 }))).toEqual(['1h', '1h', undefined]);
    // After a 5-minute breakpoint no 1-hour one may follow.
    expect(markers(withPromptCaching(request({ system: blocks('1h', '5m', '1h') }), { ttl: '5m', answeredThrough: -1 }))).toEqual(['1h', '5m', '5m', undefined]);
  });

  test('a marker on the last block with another TTL than the automatic one is dropped (the API refuses the pair)', () => {
    const sent = withPromptCaching(request({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x', cache_control: hour }] }] }), { ttl: '5m', answeredThrough: -1 });
    expect(markers(sent)).toEqual([undefined]);
  });
});

describe('prices and cost', () => {
  test("the documentation's 1-hour example, priced at Opus 4.8's list price", () => {
    const usage = {
      input_tokens: 2048,
      cache_read_input_tokens: 1800,
      cache_creation_input_tokens: 248,
      output_tokens: 503,
      cache_creation: { ephemeral_5m_input_tokens: 148, ephemeral_1h_input_tokens: 100 },
    };
    // 2048×$5 + 1800×$0.50 + 148×$6.25 + 100×$10 + 503×$25, per million tokens.
    expect(costOfUsage(usage, priceOf('claude-opus-4-8')!)).toBeCloseTo(0.02564, 10);
  });

  test('writes the API does not split by TTL are priced at the TTL the request asked for', () => {
    const price = priceOf('claude-sonnet-4-5')!;
    const usage = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 1_000_000 };
    expect(costOfUsage(usage, price)).toBeCloseTo(3.75, 10);
    expect(costOfUsage(usage, price, '1h')).toBeCloseTo(6, 10);
  });

  test('a dated model id is priced as its alias; the user table wins; an unknown model has no price', () => {
    expect(priceOf('claude-haiku-4-5-20251001')).toEqual(LIST_PRICES.models['claude-haiku-4-5']);
    const mine = { input: 1, output: 2, cacheWrite5m: 3, cacheWrite1h: 4, cacheRead: 0.5 };
    expect(priceOf('claude-sonnet-5-5', { 'claude-sonnet-5-5': mine })).toBe(mine);
    expect(priceOf('claude-unlisted-9')).toBeUndefined();
  });

  test('every listed price has all five rates, and the list says when and where it was read', () => {
    expect(priceTableProblems(LIST_PRICES.models)).toEqual([]);
    expect(LIST_PRICES.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(LIST_PRICES.sources.length).toBeGreaterThan(0);
  });

  test('a price table with missing, negative or unknown fields is refused, naming each', () => {
    expect(priceTableProblems({ m: { input: 1, output: -2, cacheWrite5m: 1, cacheWrite1h: 1, cachRead: 1 } })).toEqual([
      "prices['m'].output must be a number ≥ 0, got -2",
      "prices['m'].cacheRead is missing (US dollars per million tokens)",
      "prices['m'] has an unknown field 'cachRead' (known: input, output, cacheWrite5m, cacheWrite1h, cacheRead)",
    ]);
    expect(priceTableProblems([])).toEqual(['prices must be an object of model name → price']);
  });

  test("a request's worst case: every input token at the dearest input rate, plus max_tokens of output", () => {
    const price = priceOf('claude-sonnet-5-5')!; // $2 in, $2.50 5-minute write, $4 1-hour write, $10 out
    expect(maxCostOfRequest(1_000_000, 0, price, '5m')).toBeCloseTo(2.5, 10);
    expect(maxCostOfRequest(1_000_000, 0, price, '1h')).toBeCloseTo(4, 10);
    expect(maxCostOfRequest(1_000_000, 100_000, price, null)).toBeCloseTo(3, 10);
  });

  test('formatUsd: unknown is said, never $0', () => {
    expect(formatUsd(null)).toBe('cost unknown');
    expect(formatUsd(0.0046887)).toBe('$0.0047');
    expect(formatUsd(12.345)).toBe('$12.35');
  });
});
