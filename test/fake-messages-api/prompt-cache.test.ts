// Prompt caching and token counting in the fake Messages API, driven by the real SDK over HTTP: breakpoints (block
// level and automatic), the 20-position lookback, minimum lengths, TTLs on an injected clock, the usage split, threads,
// faults, streaming, and /v1/messages/count_tokens.
import Anthropic, { BadRequestError } from '@anthropic-ai/sdk';
import type { BetaMessageParam, BetaTextBlockParam, BetaUsage } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { FakeMessagesApi, MESSAGE_THREADS_BETA, reply, text, toolUse, type RecordedRequest } from '../../src/testing';
import { estimateBlockTokens } from '../../src/testing/fake-messages-api/prompt-cache';

let clock = Date.parse('2026-12-01T12:00:00Z');
let fake: FakeMessagesApi;
let client: Anthropic;
beforeAll(async () => {
  fake = await FakeMessagesApi.start({ now: () => clock });
  client = new Anthropic({ apiKey: 'test-key', baseURL: fake.baseURL, maxRetries: 0 });
});
afterAll(() => fake.close());

let n = 0;
const unique = (label: string) => `${label} #${++n}`;
/** Minimum cacheable length 1024 (the page's table). */
const model = 'claude-opus-4-8';
const minutes = (m: number) => m * 60_000;
const ephemeral = { type: 'ephemeral' as const };
const oneHour = { type: 'ephemeral' as const, ttl: '1h' as const };

/** A text whose text block the fake counts as exactly `tokens` tokens (its JSON, `{"type":"text","text":"…"}`, is 4 × tokens long). */
function textOfTokens(tokens: number, tag: string): string {
  const length = tokens * 4 - '{"type":"text","text":""}'.length;
  if (tag.length + 1 > length) throw new Error(`${tokens} tokens is too short for the tag ${tag}`);
  return `${tag} `.padEnd(length, 'x');
}

function block(tokens: number, tag: string, cacheControl?: typeof ephemeral | typeof oneHour): BetaTextBlockParam {
  return { type: 'text', text: textOfTokens(tokens, tag), ...(cacheControl ? { cache_control: cacheControl } : {}) };
}

const lastRequest = (): RecordedRequest => fake.requests[fake.requests.length - 1]!;
const totalOf = (usage: BetaUsage) => usage.input_tokens + (usage.cache_read_input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0);
const split = (usage: BetaUsage) => ({
  read: usage.cache_read_input_tokens,
  written: usage.cache_creation_input_tokens,
  input: usage.input_tokens,
  written5m: usage.cache_creation?.ephemeral_5m_input_tokens,
  written1h: usage.cache_creation?.ephemeral_1h_input_tokens,
});

/** Answers every turn with one short text. */
function answerAlways(prompt: string, answer = 'Noted.') {
  fake.addScript({ match: prompt, steps: () => reply(text(answer)) });
}

describe('the documentation’s worked examples', () => {
  test('multi-turn automatic caching: each request reads the previous prefix and writes its new turns', async () => {
    const prompt = unique('multi-turn');
    answerAlways(prompt, 'Answer.');
    const system = textOfTokens(1100, prompt);
    const messages: BetaMessageParam[] = [{ role: 'user', content: textOfTokens(20, `${prompt} user 1`) }];
    const send = () => client.beta.messages.create({ model, max_tokens: 64, system, cache_control: ephemeral, messages });

    // Request 1: System + User(1) ◀ — everything written.
    const first = await send();
    expect(split(first.usage)).toEqual({ read: 0, written: 1120, input: 0, written5m: 1120, written1h: 0 });
    expect(lastRequest().cache).toEqual({ breakpoints: 1, readTokens: 0, writeTokens: 1120, write1hTokens: 0, uncachedTokens: 0, written: true });

    // Request 2: … + Asst(1) + User(2) ◀ — System..User(1) read, Asst(1) + User(2) written.
    messages.push({ role: 'assistant', content: first.content }, { role: 'user', content: textOfTokens(30, `${prompt} user 2`) });
    const assistantTokens = estimateBlockTokens(first.content[0]);
    const second = await send();
    expect(split(second.usage)).toEqual({ read: 1120, written: assistantTokens + 30, input: 0, written5m: assistantTokens + 30, written1h: 0 });
    expect(lastRequest().cache?.hitAt).toBe(1);

    // Request 3: … + Asst(2) + User(3) ◀ — System..User(2) read, Asst(2) + User(3) written.
    messages.push({ role: 'assistant', content: second.content }, { role: 'user', content: textOfTokens(40, `${prompt} user 3`) });
    const third = await send();
    expect(split(third.usage)).toEqual({ read: 1120 + assistantTokens + 30, written: assistantTokens + 40, input: 0, written5m: assistantTokens + 40, written1h: 0 });
    expect(lastRequest().cache?.hitAt).toBe(3);
    expect(totalOf(third.usage)).toBe(totalOf(second.usage) + assistantTokens + 40);
  });

  test('mixed TTLs: read 1800, 1h write 100, 5m write 148, input 2048 (the page’s 1-hour example)', async () => {
    const prompt = unique('mixed ttl');
    answerAlways(prompt);
    const cached = block(1800, `${prompt} document`, oneHour);
    await client.beta.messages.create({ model, max_tokens: 64, system: [cached], messages: [{ role: 'user', content: prompt }] });
    const message = await client.beta.messages.create({
      model,
      max_tokens: 64,
      system: [cached, block(100, 'instructions', oneHour)],
      messages: [{ role: 'user', content: [block(148, `${prompt} context`, ephemeral), block(2048, 'question')] }],
    });
    expect(split(message.usage)).toEqual({ read: 1800, written: 248, input: 2048, written5m: 148, written1h: 100 });
    expect(lastRequest().cache).toMatchObject({ breakpoints: 3, readTokens: 1800, writeTokens: 248, write1hTokens: 100, uncachedTokens: 2048, hitAt: 0 });
  });

  test('a cached document read again: the second call reads what the first wrote, the question stays input', async () => {
    const prompt = unique('book');
    answerAlways(prompt);
    const system: BetaTextBlockParam[] = [{ type: 'text', text: 'You analyse novels.' }, block(5000, `${prompt} the whole book`, ephemeral)];
    const question = `${prompt}: what are the major themes?`;
    const ask = () => client.beta.messages.create({ model, max_tokens: 64, system, messages: [{ role: 'user', content: question }] });
    const first = await ask();
    const second = await ask();
    const questionTokens = estimateBlockTokens({ type: 'text', text: question });
    expect(first.usage.cache_creation_input_tokens).toBe(second.usage.cache_read_input_tokens);
    expect(split(first.usage)).toMatchObject({ read: 0, input: questionTokens });
    expect(split(second.usage)).toMatchObject({ written: 0, input: questionTokens });
  });

  test('pre-warming with max_tokens 0: input 8, written 5120, an empty reply; the next request reads it', async () => {
    const prompt = unique('pre-warm');
    const system = [block(5120, `${prompt} system`, ephemeral)];
    // No script: a pre-warm generates nothing.
    for (const stream of [false, true]) {
      fake.clearPromptCache();
      const params = { model, max_tokens: 0, system, messages: [{ role: 'user' as const, content: 'Warm up' }] };
      const warm = stream ? await client.beta.messages.stream(params).finalMessage() : await client.beta.messages.create(params);
      expect(warm).toMatchObject({ content: [], stop_reason: 'max_tokens' });
      expect(split(warm.usage)).toEqual({ read: 0, written: 5120, input: 8, written5m: 5120, written1h: 0 });
      expect(warm.usage.output_tokens).toBe(0);
      expect(lastRequest().attempt).toBeUndefined();
    }
    answerAlways(prompt);
    const asked = await client.beta.messages.create({ model, max_tokens: 64, system, messages: [{ role: 'user', content: `${prompt}: the question` }] });
    expect(asked.usage.cache_read_input_tokens).toBe(5120);
  });

  test('lookback: 20 positions per breakpoint; a hit 21 blocks back misses unless a second breakpoint reaches it', async () => {
    // Blocks 1..k of one user message; block 1 alone is long enough to cache.
    const blocksUpTo = (tag: string, count: number, breakpointsAt: number[]): BetaTextBlockParam[] =>
      Array.from({ length: count }, (_, i) => ({
        type: 'text' as const,
        text: i === 0 ? textOfTokens(1100, tag) : `${tag} block ${i + 1}`,
        ...(breakpointsAt.includes(i + 1) ? { cache_control: ephemeral } : {}),
      }));
    const sendBlocks = (content: BetaTextBlockParam[]) => client.beta.messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content }] });

    const tag = unique('lookback');
    answerAlways(tag);
    await sendBlocks(blocksUpTo(tag, 10, [10]));
    expect(lastRequest().cache).toMatchObject({ readTokens: 0, written: true });
    // T2: 15 blocks, breakpoint on 15 → hit at 10, blocks 11–15 written.
    const t2 = await sendBlocks(blocksUpTo(tag, 15, [15]));
    expect(lastRequest().cache?.hitAt).toBe(9);
    expect(t2.usage.cache_read_input_tokens).toBeGreaterThan(1100);
    expect(t2.usage.cache_creation_input_tokens).toBeGreaterThan(0);
    // T3: 35 blocks, breakpoint on 35 → checks 35..16; the entry at 15 is one outside the window: a miss.
    const t3 = await sendBlocks(blocksUpTo(tag, 35, [35]));
    expect(lastRequest().cache?.hitAt).toBeUndefined();
    expect(t3.usage.cache_read_input_tokens).toBe(0);
    expect(t3.usage.cache_creation_input_tokens).toBe(totalOf(t3.usage));

    const other = unique('lookback');
    answerAlways(other);
    await sendBlocks(blocksUpTo(other, 10, [10]));
    await sendBlocks(blocksUpTo(other, 15, [15]));
    // The same T3 with a second breakpoint on block 15 finds the entry there.
    const withSecond = await sendBlocks(blocksUpTo(other, 35, [15, 35]));
    expect(lastRequest().cache).toMatchObject({ breakpoints: 2, hitAt: 14 });
    expect(withSecond.usage.cache_read_input_tokens).toBe(t2.usage.cache_read_input_tokens! + t2.usage.cache_creation_input_tokens!);
  });
});

describe('breakpoints', () => {
  const bigTool = (tag: string) => ({
    name: 'search_archive',
    description: textOfTokens(1100, `${tag} archive search`),
    input_schema: { type: 'object' as const, properties: { query: { type: 'string' } } },
  });

  test('explicit breakpoints on tools and system: a new system keeps the tools cache, a new question keeps both', async () => {
    const prompt = unique('tools and system');
    answerAlways(prompt);
    const weather = { name: 'get_weather', input_schema: { type: 'object' as const, properties: { location: { type: 'string' } } } };
    const tools = [weather, { ...bigTool(prompt), cache_control: ephemeral }];
    const toolTokens = estimateBlockTokens(tools[0]) + estimateBlockTokens(tools[1]);
    const system = (tag: string): BetaTextBlockParam[] => [block(200, `${tag} rules`, ephemeral)];
    const ask = (systemTag: string, question: string) =>
      client.beta.messages.create({ model, max_tokens: 64, tools, system: system(systemTag), messages: [{ role: 'user', content: [block(30, `${prompt} ${question}`)] }] });

    const first = await ask('v1', 'first');
    expect(split(first.usage)).toEqual({ read: 0, written: toolTokens + 200, input: 30, written5m: toolTokens + 200, written1h: 0 });
    expect(lastRequest().cache?.breakpoints).toBe(2);

    const second = await ask('v1', 'second');
    expect(split(second.usage)).toMatchObject({ read: toolTokens + 200, written: 0, input: 30 });
    expect(lastRequest().cache?.hitAt).toBe(2);

    // A different system prompt: the tools prefix still hits, the system is written again.
    const third = await ask('v2', 'third');
    expect(split(third.usage)).toMatchObject({ read: toolTokens, written: 200, input: 30 });
    expect(lastRequest().cache?.hitAt).toBe(1);
  });

  test('a different byte, or the same keys in another order, in an earlier block misses', async () => {
    const prompt = unique('one byte');
    answerAlways(prompt);
    const system = textOfTokens(1100, `${prompt} system`);
    const tool = bigTool(prompt);
    const send = (firstUser: string, tools = [tool]) =>
      client.beta.messages.create({ model, max_tokens: 64, tools, system, cache_control: ephemeral, messages: [{ role: 'user', content: firstUser }] });
    await send(`${prompt} question`);
    const same = await send(`${prompt} question`);
    expect(same.usage.cache_creation_input_tokens).toBe(0);
    expect(same.usage.cache_read_input_tokens).toBe(totalOf(same.usage));

    const oneByte = await send(`${prompt} questioN`);
    expect(oneByte.usage.cache_read_input_tokens).toBe(0);
    expect(lastRequest().cache?.hitAt).toBeUndefined();

    const reordered = { input_schema: tool.input_schema, name: tool.name, description: tool.description };
    const keysMoved = await send(`${prompt} question`, [reordered]);
    expect(keysMoved.usage.cache_read_input_tokens).toBe(0);
    // Same tokens either way: only the bytes differ.
    expect(totalOf(keysMoved.usage)).toBe(totalOf(same.usage));
  });

  test('a prompt below the model’s minimum caches nothing, without an error; the same prompt caches on a model with a lower minimum', async () => {
    const prompt = unique('short');
    answerAlways(prompt);
    const system = textOfTokens(700, prompt);
    const send = (onModel: string) => client.beta.messages.create({ model: onModel, max_tokens: 64, system, cache_control: ephemeral, messages: [{ role: 'user', content: prompt }] });
    const entriesBefore = fake.promptCacheEntries().length;
    for (let i = 0; i < 2; i++) {
      const message = await send(model);
      expect(split(message.usage)).toMatchObject({ read: 0, written: 0, input: totalOf(message.usage) });
    }
    expect(fake.promptCacheEntries().length).toBe(entriesBefore);
    // claude-opus-5: 512 tokens.
    const cached = await send('claude-opus-5');
    expect(cached.usage.cache_creation_input_tokens).toBe(totalOf(cached.usage));
    expect(fake.promptCacheEntries().some((entry) => entry.model === 'claude-opus-5' && entry.tokens === totalOf(cached.usage))).toBe(true);
  });

  test('minCacheableTokens overrides the table', async () => {
    const small = await FakeMessagesApi.start({ now: () => clock, minCacheableTokens: { 'claude-opus-4-8': 10 } });
    try {
      const smallClient = new Anthropic({ apiKey: 'test-key', baseURL: small.baseURL, maxRetries: 0 });
      small.addScript({ match: 'tiny', steps: () => reply(text('ok')) });
      const send = (onModel: string) => smallClient.messages.create({ model: onModel, max_tokens: 64, cache_control: ephemeral, messages: [{ role: 'user', content: textOfTokens(20, 'tiny') }] });
      expect((await send(model)).usage.cache_creation_input_tokens).toBe(20);
      expect((await send(model)).usage.cache_read_input_tokens).toBe(20);
      // Models the override does not name keep the table's minimum.
      expect((await send('claude-sonnet-5')).usage.cache_creation_input_tokens).toBe(0);
    } finally {
      await small.close();
    }
  });

  test('more than 4 breakpoints is a 400, the automatic one counted', async () => {
    const prompt = unique('five');
    answerAlways(prompt);
    const four = [1, 2, 3, 4].map((i) => block(20, `${prompt} ${i}`, ephemeral));
    const fourOk = await client.beta.messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content: four }] });
    expect(fourOk.stop_reason).toBe('end_turn');
    expect(lastRequest().cache?.breakpoints).toBe(4);

    const five = client.beta.messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content: [...four, block(20, 'fifth', ephemeral)] }] });
    await expect(five).rejects.toBeInstanceOf(BadRequestError);
    await expect(five).rejects.toMatchObject({ status: 400, type: 'invalid_request_error' });
    const fiveError = await five.then(() => undefined, (err: unknown) => err as BadRequestError);
    expect(fiveError?.message).toContain('A maximum of 4 blocks with cache_control may be provided. Found 5.');

    const withAutomatic = await client.beta.messages.create({ model, max_tokens: 64, cache_control: ephemeral, messages: [{ role: 'user', content: [...four, block(20, 'plain')] }] }).catch((err: unknown) => err);
    expect(withAutomatic).toBeInstanceOf(BadRequestError);
    expect((withAutomatic as BadRequestError).message).toContain('Found 5.');
    expect(lastRequest()).toMatchObject({ status: 400, errorType: 'invalid_request_error' });
    expect(lastRequest().cache).toBeUndefined();

    // The automatic breakpoint landing on a block that already has the same marker is no extra breakpoint.
    await client.beta.messages.create({ model, max_tokens: 64, cache_control: ephemeral, messages: [{ role: 'user', content: four }] });
    expect(lastRequest().cache?.breakpoints).toBe(4);
  });

  test('markers the API refuses: on an empty text block, a 1h breakpoint after a 5m one, a TTL it does not know', async () => {
    const prompt = unique('refused');
    answerAlways(prompt);
    const refused = (content: BetaTextBlockParam[], extra: Record<string, unknown> = {}) =>
      client.beta.messages.create({ model, max_tokens: 64, ...extra, messages: [{ role: 'user', content }] }).then(
        () => 'accepted',
        (err: BadRequestError) => err.message,
      );
    expect(await refused([block(20, prompt), { type: 'text', text: '', cache_control: ephemeral }])).toContain('cache_control cannot be set for empty text blocks');
    expect(await refused([block(20, prompt, ephemeral), block(20, 'later', oneHour)])).toContain("ttl='1h'");
    expect(await refused([block(20, prompt, { type: 'ephemeral', ttl: '10m' } as never)])).toContain("messages.0.content.0.cache_control.ttl: Input should be '5m' or '1h'");
    expect(await refused([block(20, prompt, ephemeral)], { cache_control: oneHour })).toContain('conflicts');
  });
});

describe('TTLs on the injected clock', () => {
  const conversation = (prompt: string, cacheControl: typeof ephemeral | typeof oneHour = ephemeral) => {
    answerAlways(prompt);
    const system = textOfTokens(1100, prompt);
    return () => client.beta.messages.create({ model, max_tokens: 64, system, cache_control: cacheControl, messages: [{ role: 'user', content: `${prompt} again` }] });
  };

  test('a 5-minute entry expires 5 minutes after its last use; a hit at 4 minutes keeps it alive at 8', async () => {
    const send = conversation(unique('ttl'));
    const written = await send();
    const total = totalOf(written.usage);
    expect(written.usage.cache_creation_input_tokens).toBe(total);
    clock += minutes(4);
    expect((await send()).usage.cache_read_input_tokens).toBe(total);
    clock += minutes(4); // 8 minutes after the write, 4 after the hit
    expect((await send()).usage.cache_read_input_tokens).toBe(total);
    clock += minutes(5) + 1;
    const expired = await send();
    expect(split(expired.usage)).toMatchObject({ read: 0, written: total });
  });

  test('a 1-hour breakpoint reports its writes in ephemeral_1h_input_tokens and outlives 5 minutes', async () => {
    const send = conversation(unique('one hour'), oneHour);
    const written = await send();
    const total = totalOf(written.usage);
    expect(split(written.usage)).toEqual({ read: 0, written: total, input: 0, written5m: 0, written1h: total });
    expect(lastRequest().cache).toMatchObject({ writeTokens: total, write1hTokens: total });
    expect(fake.promptCacheEntries().find((entry) => entry.tokens === total && entry.ttl === '1h')).toMatchObject({ expiresAt: clock + minutes(60) });
    clock += minutes(59);
    expect((await send()).usage.cache_read_input_tokens).toBe(total);
    clock += minutes(61);
    expect((await send()).usage.cache_read_input_tokens).toBe(0);
  });

  test('clearPromptCache() and reset() empty the cache', async () => {
    const send = conversation(unique('cleared'));
    await send();
    expect(fake.promptCacheEntries().length).toBeGreaterThan(0);
    fake.clearPromptCache();
    expect(fake.promptCacheEntries()).toEqual([]);
    expect((await send()).usage.cache_read_input_tokens).toBe(0);
    expect(fake.promptCacheEntries().length).toBeGreaterThan(0);
    fake.reset();
    expect(fake.promptCacheEntries()).toEqual([]);
  });
});

describe('when the cache is written', () => {
  test('status-code faults write nothing; a stream that broke after message_start wrote its breakpoints', async () => {
    const prompt = unique('faults');
    fake.addScript({ match: prompt, steps: () => ({ faults: ['429', '500', 'stream-error'], then: reply(text('Done.')) }) });
    const system = textOfTokens(1100, prompt);
    const send = () => client.beta.messages.stream({ model, max_tokens: 64, system, cache_control: ephemeral, messages: [{ role: 'user', content: prompt }] }).finalMessage();
    await expect(send()).rejects.toMatchObject({ status: 429 });
    await expect(send()).rejects.toMatchObject({ status: 500 });
    expect(fake.requestsFor(prompt).map((r) => r.cache?.written)).toEqual([false, false]);
    await expect(send()).rejects.toThrow(/Overloaded/);
    const broken = lastRequest();
    expect(broken).toMatchObject({ fault: 'stream-error', cache: { written: true, readTokens: 0 } });
    const answered = await send();
    expect(answered.usage.cache_read_input_tokens).toBe(broken.cache!.writeTokens);
  });

  test('a stalled reply (message_start sent, then nothing) wrote its breakpoints', async () => {
    const prompt = unique('stall');
    fake.addScript({ match: prompt, steps: () => ({ fault: 'stall', then: reply(text('Back.')) }) });
    const params = { model, max_tokens: 64, system: textOfTokens(1100, prompt), cache_control: ephemeral, messages: [{ role: 'user' as const, content: prompt }] };
    const stalled = client.beta.messages.stream(params);
    stalled.on('streamEvent', (event) => {
      if (event.type === 'message_start') stalled.abort();
    });
    await expect(stalled.finalMessage()).rejects.toThrow();
    expect(lastRequest()).toMatchObject({ fault: 'stall', cache: { written: true } });
    const written = lastRequest().cache!.writeTokens;
    const answered = await client.beta.messages.create(params);
    expect(split(answered.usage)).toMatchObject({ read: written, written: 0 });
  });

  test('a thread continue reads the cache its create wrote; without cache_control it caches nothing', async () => {
    const prompt = unique('thread');
    fake.addScript({ match: prompt, steps: [reply(toolUse('get_weather', { location: 'Oslo' })), reply(text('Sunny.')), reply(text('Still sunny.'))] });
    const betas = [MESSAGE_THREADS_BETA];
    const tools = [{ name: 'get_weather', description: textOfTokens(1100, prompt), input_schema: { type: 'object' as const, properties: { location: { type: 'string' } } } }];
    // The create caches through a marker on its user block.
    const created = await client.beta.messages.create({ model, max_tokens: 64, tools, betas, thread: { type: 'create' }, messages: [{ role: 'user', content: [{ type: 'text', text: prompt, cache_control: ephemeral }] }] });
    const createTotal = totalOf(created.usage);
    expect(created.usage.cache_creation_input_tokens).toBe(createTotal);
    const toolUseId = (created.content[0] as { id: string }).id;
    const result: BetaMessageParam = { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUseId, content: 'sunny' }] };
    const continued = await client.beta.messages.create({ model, max_tokens: 64, betas, cache_control: ephemeral, thread: { type: 'continue', previous_message_id: created.id }, messages: [result] });
    expect(lastRequest()).toMatchObject({ threadKind: 'continue', cache: { breakpoints: 1, hitAt: 1, readTokens: createTotal } });
    const replyAndResult = estimateBlockTokens(created.content[0]) + estimateBlockTokens((result.content as unknown[])[0]);
    expect(split(continued.usage)).toMatchObject({ read: createTotal, written: replyAndResult, input: 0 });

    // A thread caches nothing by itself: a continue without cache_control places no breakpoint (the marker the create
    // sent on its user block was for that request, as the SDK's replay of a thread strips it).
    const uncached = await client.beta.messages.create({ model, max_tokens: 64, betas, thread: { type: 'continue', previous_message_id: continued.id }, messages: [{ role: 'user', content: 'And tomorrow?' }] });
    expect(lastRequest().cache).toMatchObject({ breakpoints: 0, readTokens: 0, writeTokens: 0 });
    expect(uncached.usage.input_tokens).toBe(totalOf(uncached.usage));
  });

  test('a scripted usage wins field by field; the cache still reads and writes', async () => {
    const prompt = unique('scripted usage');
    fake.addScript({ match: prompt, steps: () => ({ content: [text('ok')], usage: { input_tokens: 600, output_tokens: 100 } }) });
    const message = await client.beta.messages.create({ model, max_tokens: 64, system: textOfTokens(1100, prompt), cache_control: ephemeral, messages: [{ role: 'user', content: prompt }] });
    expect(message.usage).toMatchObject({ input_tokens: 600, output_tokens: 100, cache_read_input_tokens: 0, cache_creation_input_tokens: lastRequest().cache!.writeTokens });
    expect(lastRequest().cache?.writeTokens).toBeGreaterThan(1100);
  });
});

test('streamed and JSON replies report the same usage, message_start included', async () => {
  const prompt = unique('same usage');
  answerAlways(prompt, 'The same answer either way.');
  const params = { model, max_tokens: 64, system: textOfTokens(1100, prompt), cache_control: ephemeral, messages: [{ role: 'user' as const, content: prompt }] };
  const usages = async (stream: boolean) => {
    fake.clearPromptCache();
    const seen: BetaUsage[] = [];
    for (let i = 0; i < 2; i++) {
      if (!stream) {
        seen.push((await client.beta.messages.create(params)).usage);
        continue;
      }
      const streamed = client.beta.messages.stream(params);
      let started: BetaUsage | undefined;
      streamed.on('streamEvent', (event) => {
        if (event.type === 'message_start') started = event.message.usage;
      });
      const final = await streamed.finalMessage();
      expect(started).toMatchObject({ cache_read_input_tokens: final.usage.cache_read_input_tokens, cache_creation_input_tokens: final.usage.cache_creation_input_tokens, input_tokens: final.usage.input_tokens });
      seen.push(final.usage);
    }
    return seen.map(split);
  };
  const json = await usages(false);
  expect(json[0]!.written).toBeGreaterThan(0);
  expect(json[1]!.read).toBe(json[0]!.written);
  expect(await usages(true)).toEqual(json);
});

describe('POST /v1/messages/count_tokens', () => {
  test('answers the total input tokens the same request has (read + written + input), through both SDK methods', async () => {
    const prompt = unique('count');
    answerAlways(prompt);
    const tools = [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object' as const, properties: { location: { type: 'string' } } } }];
    const request = {
      model,
      tools,
      system: [block(1100, `${prompt} system`, ephemeral)],
      tool_choice: { type: 'auto' as const },
      messages: [{ role: 'user' as const, content: `${prompt} how warm is it?` }],
    };
    await client.beta.messages.create({ ...request, max_tokens: 64 });
    const message = await client.beta.messages.create({ ...request, max_tokens: 64 });
    expect(message.usage.cache_read_input_tokens).toBeGreaterThan(0);
    const requestsBefore = fake.requestsFor(prompt).length;

    const counted = await client.beta.messages.countTokens(request);
    expect(counted).toEqual({ input_tokens: totalOf(message.usage) });
    expect(await client.messages.countTokens(request)).toEqual({ input_tokens: totalOf(message.usage) });
    const countRequest = lastRequest();
    expect(countRequest).toMatchObject({ path: '/v1/messages/count_tokens', status: 200, threadKind: 'unthreaded' });
    expect(countRequest.turnIndex).toBeUndefined();
    expect(countRequest.attempt).toBeUndefined();
    expect(countRequest.cache).toBeUndefined();
    // Counting is no turn and touches no cache: the next create is the same turn's next attempt and still hits.
    expect(fake.requestsFor(prompt).length).toBe(requestsBefore);
    const after = await client.beta.messages.create({ ...request, max_tokens: 64 });
    expect(lastRequest().attempt).toBe(3);
    expect(split(after.usage)).toEqual(split(message.usage));
  });

  test('validates like a Messages request, and refuses a thread', async () => {
    const invalid = await client.messages.countTokens({ model, messages: [{ role: 'assistant', content: 'hi' }] }).catch((err: unknown) => err);
    expect(invalid).toBeInstanceOf(BadRequestError);
    expect((invalid as BadRequestError).message).toContain('the first message must use the');
    const threaded = await client.beta.messages
      .countTokens({ model, messages: [{ role: 'user', content: 'hi' }], thread: { type: 'create' } } as never)
      .catch((err: unknown) => err);
    expect(threaded).toBeInstanceOf(BadRequestError);
    expect((threaded as BadRequestError).message).toContain('thread');
  });
});
