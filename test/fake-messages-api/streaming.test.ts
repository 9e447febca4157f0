// How the fake streams content through the real SDK over HTTP, as the real API does: tool input buffered into whole
// key/value pairs or eager (fine-grained) pieces, replies cut where max_tokens runs out, text at a set rate,
// thinking blocks, and the write hook the bench times deltas with.
import Anthropic from '@anthropic-ai/sdk';
import type { BetaMessage, BetaRawMessageStreamEvent, BetaToolUnion } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import {
  CHARS_PER_OUTPUT_TOKEN,
  FINE_GRAINED_TOOL_STREAMING_BETA,
  FakeMessagesApi,
  reply,
  text,
  thinking,
  toolUse,
  type ResponseStep,
  type StreamWrite,
} from '../../src/testing';

const writes: StreamWrite[] = [];
let fake: FakeMessagesApi;
let client: Anthropic;
beforeAll(async () => {
  fake = await FakeMessagesApi.start({ onStreamWrite: (write) => writes.push(write) });
  client = new Anthropic({ apiKey: 'test-key', baseURL: fake.baseURL, maxRetries: 0 });
});
afterAll(() => fake.close());

let n = 0;
const unique = (label: string) => `${label} #${++n}`;
const model = 'claude-sonnet-5-5';

// Every kind of token a cut can fall inside, nested values and a surrogate pair.
const article = {
  title: 'Quantum "entangled" parsers',
  abstract: 'A framework that uses entanglement \\ to parse\nJSON — fast 🌍.',
  meta: { word_count: 4500, review: 'Interesting, though limited.', tags: ['qc', 'nlp'], score: -0.25 },
  published: true,
  doi: null,
};
const articleJson = JSON.stringify(article);

const tool = (name: string, eager?: boolean): BetaToolUnion => ({
  name,
  input_schema: { type: 'object' },
  ...(eager !== undefined ? { eager_input_streaming: eager } : {}),
});

function parses(json: string): boolean {
  try {
    JSON.parse(json);
    return true;
  } catch {
    return false;
  }
}

interface Streamed {
  events: BetaRawMessageStreamEvent[];
  /** input_json_delta pieces per content block index. */
  pieces: Map<number, string[]>;
  textPieces: string[];
  message: BetaMessage;
}

/** Streams one request through the SDK's beta stream (what the model activity uses), collecting what it saw. */
async function streamBeta(prompt: string, step: ResponseStep, request: { tools?: BetaToolUnion[]; betas?: string[]; max_tokens?: number } = {}): Promise<Streamed> {
  fake.addScript({ match: prompt, steps: [step] });
  const stream = client.beta.messages.stream({
    model,
    max_tokens: request.max_tokens ?? 1024,
    ...(request.tools ? { tools: request.tools } : {}),
    ...(request.betas ? { betas: request.betas } : {}),
    messages: [{ role: 'user', content: prompt }],
  });
  const events: BetaRawMessageStreamEvent[] = [];
  const pieces = new Map<number, string[]>();
  const textPieces: string[] = [];
  stream.on('streamEvent', (event) => {
    events.push(event);
    if (event.type !== 'content_block_delta') return;
    if (event.delta.type === 'input_json_delta') pieces.set(event.index, [...(pieces.get(event.index) ?? []), event.delta.partial_json]);
    if (event.delta.type === 'text_delta') textPieces.push(event.delta.text);
  });
  const message = await stream.finalMessage();
  return { events, pieces, textPieces, message };
}

/** Buffered pieces: each one, appended, leaves a prefix that ends right after a whole top-level pair. */
function expectWholePairs(pieces: string[], input: Record<string, unknown>): void {
  const keys = Object.keys(input);
  expect(pieces).toHaveLength(keys.length);
  let prefix = '';
  for (const [i, piece] of pieces.entries()) {
    prefix += piece;
    const closed = i === pieces.length - 1 ? prefix : `${prefix}}`;
    expect(parses(closed)).toBe(true);
    expect(JSON.parse(closed)).toEqual(Object.fromEntries(keys.slice(0, i + 1).map((key) => [key, input[key]])));
  }
}

describe('tool input: buffered by default, eager when the tool or the beta asks', () => {
  test('a tool without eager streaming gets whole key/value pairs, one per delta; the SDK rebuilds the exact input', async () => {
    const prompt = unique('buffered article');
    const { pieces, message } = await streamBeta(prompt, reply(toolUse('save_article', article)), { tools: [tool('save_article')] });
    expectWholePairs(pieces.get(0)!, article);
    expect(pieces.get(0)!.join('')).toBe(articleJson);
    expect(message.content).toEqual([{ type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'save_article', input: article }]);
    expect(fake.requestsFor(prompt)[0]!.inputJsonDeltas).toEqual([pieces.get(0)]);
  });

  test('the non-beta stream sees the same whole pairs, and a tool the request does not define is buffered too', async () => {
    const prompt = unique('buffered undefined tool');
    fake.addScript({ match: prompt, steps: [reply(text('Saving.'), toolUse('save_article', article))] });
    const stream = client.messages.stream({ model, max_tokens: 1024, messages: [{ role: 'user', content: prompt }] });
    const pieces: string[] = [];
    stream.on('inputJson', (piece) => pieces.push(piece));
    const message = await stream.finalMessage();
    expectWholePairs(pieces, article);
    expect(message.content[1]).toMatchObject({ type: 'tool_use', input: article });
  });

  test('an empty input goes out as one "{}" delta', async () => {
    const prompt = unique('buffered empty');
    const { pieces, message } = await streamBeta(prompt, reply(toolUse('noop', {})), { tools: [tool('noop')] });
    expect(pieces.get(0)).toEqual(['{}']);
    expect(message.content[0]).toMatchObject({ input: {} });
  });

  test('eager_input_streaming: true on one tool: its input comes in small pieces cut anywhere, the other tool stays buffered', async () => {
    const prompt = unique('eager and buffered');
    const { pieces, message } = await streamBeta(prompt, reply(toolUse('save_article', article), toolUse('save_summary', article)), {
      tools: [tool('save_article', true), tool('save_summary')],
    });
    const eager = pieces.get(0)!;
    expect(eager.join('')).toBe(articleJson);
    expect(eager.length).toBe(Math.ceil(Array.from(articleJson).length / 8));
    expect(eager.every((piece) => Array.from(piece).length <= 8)).toBe(true);
    // Cut inside words and numbers: most pieces are not JSON, and most prefixes do not end at a pair boundary.
    expect(eager.filter(parses).length).toBeLessThan(eager.length / 4);
    expect(eager.slice(0, -1).some((piece, i) => /\w$/.test(piece) && /^\w/.test(eager[i + 1]!))).toBe(true);
    expectWholePairs(pieces.get(1)!, article);
    expect(message.content.map((block) => (block as { input: unknown }).input)).toEqual([article, article]);
    expect(fake.requestsFor(prompt)[0]!.inputJsonDeltas).toEqual([eager, pieces.get(1)]);
  });

  test('the fine-grained-tool-streaming beta header makes every tool eager, except one that sets eager_input_streaming: false', async () => {
    const prompt = unique('fine-grained beta');
    const { pieces, message } = await streamBeta(prompt, reply(toolUse('save_article', article), toolUse('save_summary', article), toolUse('undeclared', { q: 'x'.repeat(30) })), {
      tools: [tool('save_article'), tool('save_summary', false)],
      betas: [FINE_GRAINED_TOOL_STREAMING_BETA],
    });
    expect(pieces.get(0)!.length).toBe(Math.ceil(Array.from(articleJson).length / 8));
    expectWholePairs(pieces.get(1)!, article);
    expect(pieces.get(2)!.length).toBeGreaterThan(1);
    expect(message.content.map((block) => (block as { input: unknown }).input)).toEqual([article, article, { q: 'x'.repeat(30) }]);
    expect(fake.requestsFor(prompt)[0]!.headers['anthropic-beta']).toContain(FINE_GRAINED_TOOL_STREAMING_BETA);
  });

  test('a step can force either way, whatever the request says', async () => {
    const eagerPrompt = unique('forced eager');
    const forcedEager = await streamBeta(eagerPrompt, { ...reply(toolUse('save_article', article)), toolInputStreaming: 'eager', inputJsonChunkChars: 2 }, { tools: [tool('save_article')] });
    expect(forcedEager.pieces.get(0)!.length).toBe(Math.ceil(Array.from(articleJson).length / 2));
    const bufferedPrompt = unique('forced buffered');
    const forcedBuffered = await streamBeta(bufferedPrompt, { ...reply(toolUse('save_article', article)), toolInputStreaming: 'buffered' }, { tools: [tool('save_article', true)] });
    expectWholePairs(forcedBuffered.pieces.get(0)!, article);
  });
});

describe('a reply cut off where max_tokens runs out (cutAtMaxTokens)', () => {
  const preamble = 'Let me save that.';

  test('an eager tool input is cut mid-JSON: stop_reason max_tokens, output_tokens = max_tokens, the pieces are not valid JSON', async () => {
    const prompt = unique('cut eager');
    const maxTokens = 20;
    const { pieces, message, events } = await streamBeta(prompt, { ...reply(text(preamble), toolUse('save_article', article)), cutAtMaxTokens: true }, {
      tools: [tool('save_article', true)],
      max_tokens: maxTokens,
    });
    const sentJson = Array.from(articleJson)
      .slice(0, maxTokens * CHARS_PER_OUTPUT_TOKEN - preamble.length)
      .join('');
    expect(pieces.get(1)!.join('')).toBe(sentJson);
    expect(parses(sentJson)).toBe(false);
    expect(message.stop_reason).toBe('max_tokens');
    expect(message.usage.output_tokens).toBe(maxTokens);
    expect(events.filter((e) => e.type === 'content_block_stop')).toHaveLength(2);
    expect(message.content[0]).toEqual({ type: 'text', text: preamble, citations: null });
    // The SDK partial-parses the cut JSON: finalMessage() resolves, and the input holds only the values that were
    // whole (the string cut in the middle is dropped).
    expect(sentJson).toBe('{"title":"Quantum \\"entangled\\" parsers","abstract":"A framewor');
    expect(message.content[1]).toEqual({ type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'save_article', input: { title: article.title } });
    const [record] = fake.requestsFor(prompt);
    expect(record!.maxTokensCut).toEqual({ index: 1, sent: sentJson });
    expect(record!.inputJsonDeltas).toEqual([pieces.get(1)]);
    expect(record!.response!.stop_reason).toBe('max_tokens');
    expect(record!.response!.content[1]).toMatchObject({ type: 'tool_use', input: { title: article.title } });
  });

  test('a buffered tool input stops after its last whole pair, without the closing brace', async () => {
    const prompt = unique('cut buffered');
    const maxTokens = 34;
    const { pieces, message } = await streamBeta(prompt, { ...reply(text(preamble), toolUse('save_article', article)), cutAtMaxTokens: true }, {
      tools: [tool('save_article')],
      max_tokens: maxTokens,
    });
    const sent = pieces.get(1)!;
    // 136 characters of budget: the preamble (17) and the first two pairs (116) fit, the third (101) does not.
    expect(sent).toHaveLength(2);
    expect(parses(sent.join(''))).toBe(false);
    expect(parses(`${sent.join('')}}`)).toBe(true);
    expect(message.stop_reason).toBe('max_tokens');
    expect(message.usage.output_tokens).toBe(maxTokens);
    expect(message.content[1]).toMatchObject({ type: 'tool_use', input: { title: article.title, abstract: article.abstract } });
    expect(fake.requestsFor(prompt)[0]!.maxTokensCut).toEqual({ index: 1, sent: sent.join('') });
  });

  test('a tool input with no pair sent: the block starts and stops empty, and the SDK gives input {}', async () => {
    const prompt = unique('cut before the first pair');
    const { pieces, message } = await streamBeta(prompt, { ...reply(text(preamble), toolUse('save_article', article)), cutAtMaxTokens: true }, {
      tools: [tool('save_article')],
      max_tokens: 6,
    });
    expect(pieces.get(1)).toBeUndefined();
    expect(message.content[1]).toMatchObject({ type: 'tool_use', name: 'save_article', input: {} });
    expect(message.stop_reason).toBe('max_tokens');
  });

  test('text is cut mid-block and later blocks are not sent; a budget that ends on a block boundary sends no next block', async () => {
    const prompt = unique('cut text');
    const long = 'abcdefghij'.repeat(10);
    const cutText = await streamBeta(prompt, { ...reply(text(long), toolUse('save_article', article)), cutAtMaxTokens: true }, { max_tokens: 5 });
    expect(cutText.message.content).toEqual([{ type: 'text', text: long.slice(0, 20), citations: null }]);
    expect(cutText.textPieces.join('')).toBe(long.slice(0, 20));
    expect(cutText.message.stop_reason).toBe('max_tokens');

    const boundary = unique('cut at a boundary');
    const exact = await streamBeta(boundary, { ...reply(text('x'.repeat(40)), toolUse('save_article', article)), cutAtMaxTokens: true }, { max_tokens: 10 });
    expect(exact.message.content).toEqual([{ type: 'text', text: 'x'.repeat(40), citations: null }]);
    expect(exact.message.stop_reason).toBe('max_tokens');
    expect(fake.requestsFor(boundary)[0]!.maxTokensCut).toEqual({ index: 1, sent: '' });
  });

  test('a reply that fits is not cut: its own stop reason, output_tokens estimated at 4 characters a token', async () => {
    const prompt = unique('fits');
    const { message } = await streamBeta(prompt, { ...reply(text(preamble), toolUse('save_article', article)), cutAtMaxTokens: true }, { max_tokens: 1024 });
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content[1]).toMatchObject({ input: article });
    expect(message.usage.output_tokens).toBe(Math.ceil((preamble.length + Array.from(articleJson).length) / CHARS_PER_OUTPUT_TOKEN));
    expect(fake.requestsFor(prompt)[0]!.maxTokensCut).toBeUndefined();
  });

  test('without cutAtMaxTokens a reply is sent whole whatever max_tokens says', async () => {
    const prompt = unique('not cut');
    const { message } = await streamBeta(prompt, reply(text(preamble), toolUse('save_article', article)), { max_tokens: 5 });
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content[1]).toMatchObject({ input: article });
  });

  test('a JSON (non-streamed) reply is cut the same way, its tool input holding the whole pairs', async () => {
    const prompt = unique('cut json reply');
    fake.addScript({ match: prompt, steps: [{ ...reply(text(preamble), toolUse('save_article', article)), cutAtMaxTokens: true }] });
    const message = await client.beta.messages.create({ model, max_tokens: 20, tools: [tool('save_article', true)], messages: [{ role: 'user', content: prompt }] });
    expect(message.stop_reason).toBe('max_tokens');
    expect(message.usage.output_tokens).toBe(20);
    expect(message.content[1]).toMatchObject({ type: 'tool_use', input: { title: article.title } });
  });

  test('a thinking block cut short gets no signature', async () => {
    const prompt = unique('cut thinking');
    const { message } = await streamBeta(prompt, { ...reply(thinking('t'.repeat(50), 'sig_1'), text('answer')), cutAtMaxTokens: true }, { max_tokens: 5 });
    expect(message.content).toEqual([{ type: 'thinking', thinking: 't'.repeat(20), signature: '' }]);
    expect(message.stop_reason).toBe('max_tokens');
  });
});

describe('text at a configurable rate', () => {
  test('textChunkChars per step cuts text_delta pieces of that many code points, never inside a surrogate pair', async () => {
    const prompt = unique('four chars');
    const value = 'Hello 🌍 world, Zürich ☃ and more.';
    const { textPieces, message } = await streamBeta(prompt, { ...reply(text(value)), textChunkChars: 4 });
    expect(textPieces.join('')).toBe(value);
    expect(textPieces.slice(0, -1).every((piece) => Array.from(piece).length === 4)).toBe(true);
    expect(textPieces).toHaveLength(Math.ceil(Array.from(value).length / 4));
    expect(textPieces.every((piece) => !/[\ud800-\udbff]$/.test(piece))).toBe(true);
    expect(message.content).toEqual([{ type: 'text', text: value, citations: null }]);
  });

  test('textChunkChars on the server applies to every reply; without it a text block goes out in about three pieces', async () => {
    const value = 'x'.repeat(30);
    const prompt = unique('default chunks');
    expect((await streamBeta(prompt, reply(text(value)))).textPieces).toEqual(['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(10)]);

    const single = await FakeMessagesApi.start({ textChunkChars: 1, latency: { chunkMs: 1 } });
    try {
      const singleClient = new Anthropic({ apiKey: 'test-key', baseURL: single.baseURL, maxRetries: 0 });
      single.addScript({ match: prompt, steps: [reply(text(value))] });
      const pieces: string[] = [];
      const stream = singleClient.messages.stream({ model, max_tokens: 64, messages: [{ role: 'user', content: prompt }] });
      stream.on('text', (piece) => pieces.push(piece));
      await stream.finalMessage();
      expect(pieces).toEqual(Array.from(value));
    } finally {
      await single.close();
    }
  });
});

describe('thinking blocks', () => {
  test('stream as thinking_delta pieces, then one signature_delta; the SDK rebuilds the block', async () => {
    const prompt = unique('thinking');
    const reasoning = 'First, consider the weather in Oslo. Then the time.';
    const { events, message } = await streamBeta(prompt, { ...reply(thinking(reasoning, 'sig_abc'), text('Sunny.')), textChunkChars: 10 });
    const deltas = events.flatMap((e) => (e.type === 'content_block_delta' && e.index === 0 ? [e.delta] : []));
    expect(deltas.map((d) => d.type)).toEqual([...Array.from({ length: Math.ceil(reasoning.length / 10) }, () => 'thinking_delta'), 'signature_delta']);
    expect(events.find((e) => e.type === 'content_block_start' && e.index === 0)).toMatchObject({ content_block: { type: 'thinking', thinking: '', signature: '' } });
    expect(message.content).toEqual([
      { type: 'thinking', thinking: reasoning, signature: 'sig_abc' },
      { type: 'text', text: 'Sunny.', citations: null },
    ]);
  });
});

describe('onStreamWrite', () => {
  test('is called once per content delta, in order, with what it carried and when it was written', async () => {
    const prompt = unique('timed writes');
    const timed = await FakeMessagesApi.start({ latency: { chunkMs: 2 }, textChunkChars: 5, onStreamWrite: (write) => writes.push(write) });
    try {
      const timedClient = new Anthropic({ apiKey: 'test-key', baseURL: timed.baseURL, maxRetries: 0 });
      timed.addScript({ match: prompt, steps: [reply(thinking('Think it through.'), text('Checking the weather.'), toolUse('get_weather', { location: 'Oslo', unit: 'celsius' }))] });
      const before = Date.now();
      const seen: Array<{ index: number; kind: string; piece: string }> = [];
      const stream = timedClient.beta.messages.stream({ model, max_tokens: 256, messages: [{ role: 'user', content: prompt }] });
      stream.on('streamEvent', (event) => {
        if (event.type !== 'content_block_delta') return;
        const { delta, index } = event;
        if (delta.type === 'text_delta') seen.push({ index, kind: 'text', piece: delta.text });
        if (delta.type === 'thinking_delta') seen.push({ index, kind: 'thinking', piece: delta.thinking });
        if (delta.type === 'input_json_delta') seen.push({ index, kind: 'input_json', piece: delta.partial_json });
      });
      const message = await stream.finalMessage();
      const [record] = timed.requestsFor(prompt);
      const mine = writes.filter((write) => write.requestId === record!.id);
      expect(mine.map(({ index, kind, piece }) => ({ index, kind, piece }))).toEqual(seen);
      expect(new Set(mine.map((write) => write.kind))).toEqual(new Set(['thinking', 'text', 'input_json']));
      expect(mine.every((write) => write.responseId === message.id && write.conversationKey === prompt)).toBe(true);
      const times = mine.map((write) => write.writtenAt);
      expect(times.every((time, i) => i === 0 || time > times[i - 1]!)).toBe(true);
      // Epoch milliseconds (not since process start), so another process on the machine can compare its own reading.
      expect(Math.abs(times[0]! - before)).toBeLessThan(60_000);
    } finally {
      await timed.close();
    }
  });

  test('is not called for a JSON reply', async () => {
    const prompt = unique('json reply, no writes');
    fake.addScript({ match: prompt, steps: [reply(text('hello there'))] });
    const before = writes.length;
    await client.messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content: prompt }] });
    expect(writes.length).toBe(before);
  });
});
