// Context management end to end: a conversation whose prompt grows past its threshold is compacted by the API's
// explicit compaction request, a prompt the API refuses as too long is compacted and sent again, and a server that
// will not compact leaves the conversation on the client-side fallback. The transcript always keeps everything.
import { z } from 'zod';
import type { BetaMessageParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { defineTool } from '../src/tools/define-tool';
import { reply, text, toolUse } from '../src/testing';
import { startHarness, toolResultsOf, uniquePrompt, withWorker, type Harness } from './helpers/harness';
import { recordHistoryFixture } from './helpers/fixtures';

/** About 1,250 tokens as the fake counts them (JSON length / 4). */
const PAGE = 'lorem ipsum dolor sit amet '.repeat(185);
const readPage = defineTool({
  name: 'read_page',
  description: 'Read one page of a long document',
  input: z.object({ page: z.number().int() }),
  run: ({ page }) => `page ${page}: ${PAGE}`,
});

function pagesScript(harness: Harness, prompt: string, pages: number): void {
  const steps = [];
  for (let page = 1; page <= pages; page++) steps.push(reply(toolUse('read_page', { page })));
  steps.push(reply(text('The document is about lorem ipsum.')));
  harness.fake.addScript({ match: prompt, steps });
}

const bodyOf = (request: { body: unknown }) => request.body as { messages: BetaMessageParam[]; compaction?: unknown; thread?: unknown };
const firstBlockType = (messages: BetaMessageParam[]) => {
  const content = messages[0]?.content;
  return typeof content === 'string' ? 'text' : content?.[0]?.type;
};

describe('compaction with a threshold', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(() => harness.close());

  test('past atInputTokens the history is compacted before the next call; the model sees the block, the transcript keeps everything', async () => {
    const prompt = uniquePrompt('Summarize the long document');
    pagesScript(harness, prompt, 4);
    const result = await withWorker(harness, { tools: [readPage] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['read_page'], compaction: { atInputTokens: 2_000 } });
      const result = await handle.result();
      await recordHistoryFixture(harness.temporal.client, 'compaction-threshold', handle.conversationId);
      return result;
    });
    expect(result.status).toBe('completed');
    expect(result.text).toBe('The document is about lorem ipsum.');
    // Every message is in the transcript, whatever the model was sent.
    expect(result.transcript!.messages).toHaveLength(10);
    expect(toolResultsOf(result.transcript!.messages[2]!.content)[0]!.content).toContain('page 1: lorem');
    const compactions = result.transcript!.compactions ?? [];
    expect(compactions.length).toBeGreaterThanOrEqual(1);
    expect(compactions[0]).toMatchObject({ reason: 'threshold', outcome: 'compacted' });
    const requests = harness.fake.requestsFor(prompt);
    const compactionRequests = requests.filter((r) => bodyOf(r).compaction !== undefined);
    expect(compactionRequests.length).toBe(compactions.filter((c) => c.outcome === 'compacted').length);
    // A compaction request is sent without a thread; the call after it is a create that starts with the block.
    expect(bodyOf(compactionRequests[0]!).thread).toBeUndefined();
    const after = requests[requests.indexOf(compactionRequests[0]!) + 1]!;
    expect(after.threadKind).toBe('create');
    expect(firstBlockType(bodyOf(after).messages)).toBe('compaction');
    // The compaction's tokens are paid for: the usage counts more than the model calls' own.
    expect(compactions[0]!.usage!.outputTokens).toBeGreaterThan(0);
  });
});

describe('compaction when the prompt is too long for the model', () => {
  let harness: Harness;
  beforeAll(async () => {
    // A small window: the fourth call's prompt (four pages) does not fit.
    harness = await startHarness({ contextWindowTokens: 4_500 });
  });
  afterAll(() => harness.close());
  afterEach(() => harness.fake.setCompactionRefusal(null));

  test('a call refused as too long is compacted and sent again, and the conversation completes', async () => {
    const prompt = uniquePrompt('Read every page');
    pagesScript(harness, prompt, 4);
    const result = await withWorker(harness, { tools: [readPage] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['read_page'] });
      const result = await handle.result();
      await recordHistoryFixture(harness.temporal.client, 'compaction-context-window-exceeded', handle.conversationId);
      return result;
    });
    expect(result.status).toBe('completed');
    expect(result.transcript!.compactions).toEqual([expect.objectContaining({ reason: 'context_window', outcome: 'compacted' })]);
    const requests = harness.fake.requestsFor(prompt);
    expect(requests.some((r) => r.status === 400 && r.errorType === 'invalid_request_error')).toBe(true);
    expect(requests[requests.length - 1]!.status).toBe(200);
  });

  test('when the server will not compact, old tool results are cleared for the model and the call goes through', async () => {
    const prompt = uniquePrompt('Read every page again');
    pagesScript(harness, prompt, 4);
    harness.fake.setCompactionRefusal('compaction_nothing_to_summarize');
    const result = await withWorker(harness, { tools: [readPage] }, async (agent) =>
      (await agent.start({ prompt, tools: ['read_page'], compaction: { keepToolResults: 1 } })).result(),
    );
    expect(result.status).toBe('completed');
    expect(result.transcript!.compactions).toEqual([expect.objectContaining({ reason: 'context_window', outcome: 'refused' })]);
    const last = harness.fake.requestsFor(prompt).filter((r) => r.status === 200).pop()!;
    const sentResults = bodyOf(last).messages.flatMap((m) => (m.role === 'user' ? toolResultsOf(m.content) : []));
    // The newest result whole, the older ones cleared; every tool_use still has its answer.
    expect(sentResults).toHaveLength(4);
    const textOf = (content: unknown) => (typeof content === 'string' ? content : JSON.stringify(content));
    expect(sentResults.slice(0, 3).map((r) => textOf(r.content))).toEqual(Array(3).fill(expect.stringContaining('cleared')));
    expect(textOf(sentResults[3]!.content)).toContain('page 4: lorem');
    // The transcript keeps the real results.
    expect(toolResultsOf(result.transcript!.messages[2]!.content)[0]!.content).toContain('page 1: lorem');
  });

  test('with compaction off, a prompt too long for the model ends the exchange as context_window_exceeded', async () => {
    const prompt = uniquePrompt('Read every page, no compaction');
    pagesScript(harness, prompt, 4);
    const result = await withWorker(harness, { tools: [readPage] }, async (agent) =>
      (await agent.start({ prompt, tools: ['read_page'], compaction: false })).result().catch((err: unknown) => err),
    );
    expect(result).toBeInstanceOf(Error);
    expect((result as Error).message).toMatch(/too long|context/i);
  });
});
