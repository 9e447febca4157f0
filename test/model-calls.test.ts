import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ConversationCancelledError, ConversationFailedError } from '../src/client';
import { classifyModelError } from '../src/activities/model';
import { defineTool } from '../src/tools/define-tool';
import { FakeMessagesApi, reply, text, toolUse } from '../src/testing';
import { fakeAnthropic } from './helpers/temporal';
import { historyBytes, modelCallInputs, startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';
import { recordHistoryFixture } from './helpers/fixtures';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

const fastRetry = { maximumAttempts: 5, initialInterval: '100ms', maximumInterval: '1s' };
const echo = defineTool({
  name: 'echo',
  description: 'Echo the text back',
  input: z.object({ text: z.string() }),
  run: ({ text: value }) => value,
});

describe('model errors', () => {
  test.each([['429'], ['529'], ['500'], ['connection-reset'], ['stream-error']] as const)(
    'a %s is retried by Temporal until the conversation completes',
    async (fault) => {
      const prompt = uniquePrompt(`Survive a ${fault}`);
      harness.fake.addScript({
        match: prompt,
        steps: [{ faults: [fault, fault], then: reply(toolUse('echo', { text: 'hi' })) }, reply(text('done'))],
      });
      const result = await withWorker(harness, { tools: [echo] }, async (agent) => {
        const handle = await agent.start({ prompt, tools: ['echo'], modelRetry: fastRetry });
        const result = await handle.result();
        await recordHistoryFixture(harness.temporal.client, `model-retried-${fault}`, handle.conversationId);
        return result;
      });
      expect(result.status).toBe('completed');
      const requests = harness.fake.requestsFor(prompt);
      expect(requests.filter((r) => r.fault === fault)).toHaveLength(2);
      expect(requests.filter((r) => r.fault === undefined && r.responseId !== undefined)).toHaveLength(2);
    },
  );

  test("a 429's retry-after sets the next attempt's delay", async () => {
    const prompt = uniquePrompt('Rate limited');
    harness.fake.addScript({ match: prompt, steps: [{ fault: '429', retryAfterSeconds: 1, then: reply(text('ok')) }] });
    const result = await withWorker(harness, {}, async (agent) => (await agent.start({ prompt, modelRetry: fastRetry })).result());
    expect(result.status).toBe('completed');
    const [limited, retried] = harness.fake.requestsFor(prompt);
    // The retry waited for the server's retry-after (1s), not the 100ms backoff.
    expect(retried!.receivedAt - limited!.receivedAt).toBeGreaterThanOrEqual(900);
  });

  test("classifying a 429: the server's retry-after becomes the next retry's delay, cut to the policy's maximum interval", async () => {
    const prompt = uniquePrompt('Classify a day-long rate limit');
    harness.fake.addScript({ match: prompt, steps: [{ fault: '429', retryAfterSeconds: 86_400, then: reply(text('ok')) }] });
    const error = await fakeAnthropic(harness.fake.baseURL)
      .messages.create({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: prompt }] })
      .catch((err: unknown) => err);
    expect(classifyModelError(error)).toMatchObject({ nonRetryable: false, nextRetryDelay: 86_400_000 });
    expect(classifyModelError(error, { maxRetryDelayMs: 2_000 })).toMatchObject({ nonRetryable: false, nextRetryDelay: 2_000 });
    expect(classifyModelError(error, { maxRetryDelayMs: 100_000_000 })).toMatchObject({ nextRetryDelay: 86_400_000 });
  });

  test("a retry-after longer than the retry policy's maximum interval is cut to that interval", async () => {
    const prompt = uniquePrompt('Rate limited for a day');
    harness.fake.addScript({ match: prompt, steps: [{ fault: '429', retryAfterSeconds: 86_400, then: reply(text('ok')) }] });
    const result = await withWorker(harness, {}, async (agent) => {
      const handle = await agent.start({ prompt, modelRetry: { maximumAttempts: 3, initialInterval: '100ms', maximumInterval: '2s' } });
      // Between the attempts the pending model call holds the failure, with the delay the server will wait.
      const delay = await waitForValue(async () => {
        const { raw } = await harness.temporal.client.workflow.getHandle(handle.conversationId).describe();
        return raw.pendingActivities?.[0]?.lastFailure?.applicationFailureInfo?.nextRetryDelay ?? undefined;
      });
      expect(Number(delay.seconds ?? 0) + (delay.nanos ?? 0) / 1e9).toBe(2);
      return handle.result();
    });
    expect(result.status).toBe('completed');
    expect(harness.fake.requestsFor(prompt).map((r) => r.status)).toEqual([429, 200]);
  });

  test.each([
    ['400', /invalid_request_error/],
    ['401', /authentication_error/],
  ] as const)('a %s fails the conversation after one attempt, with the API message', async (fault, type) => {
    const prompt = uniquePrompt(`Fail on ${fault}`);
    harness.fake.addScript({ match: prompt, steps: [{ faults: [fault, fault, fault], then: reply(text('never')) }] });
    const error = await withWorker(harness, {}, async (agent) => {
      const handle = await agent.start({ prompt, modelRetry: fastRetry });
      const error = await handle.result().catch((err: unknown) => err);
      await recordHistoryFixture(harness.temporal.client, `model-failed-${fault}`, handle.conversationId);
      return error;
    });
    expect(error).toBeInstanceOf(ConversationFailedError);
    expect((error as Error).message).toMatch(type);
    expect((error as Error).message).toMatch(/Model call failed on turn 1/);
    expect(harness.fake.requestsFor(prompt)).toHaveLength(1);
  });
});

describe('cancellation', () => {
  test('cancelling a conversation cancels its in-flight model call', async () => {
    const prompt = uniquePrompt('A slow answer');
    harness.fake.addScript({ match: prompt, steps: [{ ...reply(text('slow')), latency: { firstTokenMs: 60_000 } }] });
    const outcome = await withWorker(harness, {}, async (agent) => {
      const handle = await agent.start({ prompt });
      await waitFor(() => harness.fake.requestsFor(prompt).length === 1);
      await handle.cancel();
      return handle.result().catch((err: unknown) => err);
    });
    expect(outcome).toBeInstanceOf(ConversationCancelledError);
    // The worker aborted the HTTP request instead of waiting a minute for the first token.
    await waitFor(() => harness.fake.requestsFor(prompt)[0]!.endedAt !== undefined);
  });

  test('cancelling a conversation cancels its running tools', async () => {
    const prompt = uniquePrompt('Run a long tool');
    const seen: string[] = [];
    const slow = defineTool({
      name: 'slow_job',
      description: 'A long job that heartbeats',
      input: z.object({}),
      heartbeatTimeout: '2s',
      run: async (_input, { signal, heartbeat }) => {
        seen.push('started');
        while (!signal.aborted) {
          heartbeat();
          await sleep(100);
        }
        seen.push('aborted');
        throw new Error('aborted');
      },
    });
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('slow_job', {})), reply(text('done'))] });
    await withWorker(harness, { tools: [slow] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['slow_job'] });
      await waitFor(() => seen.includes('started'));
      await handle.cancel();
      await handle.result().catch(() => undefined);
      await waitFor(() => seen.includes('aborted'));
    });
    expect(seen).toEqual(['started', 'aborted']);
  });
});

describe('message threads', () => {
  test('a thread that expires mid-run is replayed from the transcript and the conversation completes', async () => {
    const prompt = uniquePrompt('Two lookups with a lost thread');
    // The server loses the thread while the second turn's tool runs (eviction, or the 5-minute expiry).
    const evicting = defineTool({
      name: 'echo',
      description: 'Echo the text back',
      input: z.object({ text: z.string() }),
      run: ({ text: value }) => {
        if (value === 't1') harness.fake.evictAllThreads();
        return value;
      },
    });
    harness.fake.addScript({
      match: prompt,
      steps: ({ turnIndex }) => (turnIndex < 2 ? reply(toolUse('echo', { text: `t${turnIndex}` })) : reply(text('finished'))),
    });
    const result = await withWorker(harness, { tools: [evicting] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['echo'] });
      const result = await handle.result();
      await recordHistoryFixture(harness.temporal.client, 'thread-replayed', handle.conversationId);
      return result;
    });
    expect(result.status).toBe('completed');
    const requests = harness.fake.requestsFor(prompt);
    expect(requests.map((r) => `${r.threadKind}:${r.status}`)).toEqual(['create:200', 'continue:200', 'continue:404', 'create:200']);
    expect(requests[2]!.errorCode).toBe('thread_not_found');
    const replay = requests[3]!.body as { messages: unknown[]; tools?: unknown[] };
    expect(replay.messages).toHaveLength(5);
    expect(replay.tools).toHaveLength(1);
    expect(result.transcript!.turns.map((t) => t.requestKind)).toEqual(['create', 'continue', 'replay']);
  });

  test('with a short server-side expiry every continue finds its thread gone, replays, and the conversation completes', async () => {
    const shortLived = await FakeMessagesApi.start({ threadTtlMs: 1 });
    try {
      const prompt = uniquePrompt('Threads expire at once');
      shortLived.addScript({ match: prompt, steps: [reply(toolUse('echo', { text: 'a' })), { ...reply(toolUse('echo', { text: 'b' })), latency: { firstTokenMs: 20 } }, reply(text('done'))] });
      const result = await withWorker(harness, { tools: [echo], anthropic: fakeAnthropic(shortLived.baseURL) }, async (agent) =>
        (await agent.start({ prompt, tools: ['echo'] })).result(),
      );
      expect(result.status).toBe('completed');
      const kinds = shortLived.requestsFor(prompt).map((r) => `${r.threadKind}:${r.status}`);
      expect(kinds).toEqual(['create:200', 'continue:404', 'create:200', 'continue:404', 'create:200']);
      expect(result.transcript!.turns.map((t) => t.requestKind)).toEqual(['create', 'replay', 'replay']);
    } finally {
      await shortLived.close();
    }
  });

  test('a thread older than the expiry window is not continued: the full transcript goes as a create', async () => {
    const prompt = uniquePrompt('Slow turns');
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('echo', { text: 'a' })), reply(text('done'))] });
    await withWorker(harness, { tools: [echo], model: { threadMaxAgeMs: 1 } }, async (agent) => (await agent.start({ prompt, tools: ['echo'] })).result());
    expect(harness.fake.requestsFor(prompt).map((r) => r.threadKind)).toEqual(['create', 'create']);
  });

  test('threads: false sends the full transcript every turn, without the beta', async () => {
    const prompt = uniquePrompt('No threads please');
    harness.fake.addScript({
      match: prompt,
      steps: [reply(toolUse('echo', { text: 'a' })), reply(toolUse('echo', { text: 'b' })), reply(text('done'))],
    });
    const result = await withWorker(harness, { tools: [echo] }, async (agent) =>
      (await agent.start({ prompt, tools: ['echo'], threads: false })).result(),
    );
    expect(result.status).toBe('completed');
    const requests = harness.fake.requestsFor(prompt);
    expect(requests.map((r) => r.threadKind)).toEqual(['unthreaded', 'unthreaded', 'unthreaded']);
    expect(requests.map((r) => (r.body as { messages: unknown[] }).messages.length)).toEqual([1, 3, 5]);
    expect(requests.every((r) => !String(r.headers['anthropic-beta'] ?? '').includes('message-threads'))).toBe(true);
  });

  // Tool results of 4 KB, as in the benchmark's history_growth scenario: with tiny messages the fixed ~2.9 KB of
  // event metadata per turn (two activities, two workflow tasks) would dominate any ratio. Results this large are
  // read by query, so each is recorded once (the tool's result); the transcript is recorded once more in the
  // workflow's result.
  test('history grows linearly: a 40-turn conversation records under 3× its transcript bytes', async () => {
    const prompt = uniquePrompt('Forty turns');
    const payload = 'x'.repeat(4096);
    const bulky = defineTool({
      name: 'fetch_page',
      description: 'Fetch a page',
      input: z.object({ page: z.number() }),
      run: ({ page }) => `page ${page}: ${payload}`,
    });
    harness.fake.addScript({
      match: prompt,
      steps: ({ turnIndex }) => (turnIndex < 39 ? reply(text(`Reading page ${turnIndex}.`), toolUse('fetch_page', { page: turnIndex })) : reply(text('All read.'))),
    });
    const { id, result } = await withWorker(harness, { tools: [bulky] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['fetch_page'], limits: { maxIterations: 50 } });
      return { id: handle.conversationId, result: await handle.result() };
    });
    expect(result.turns).toBe(40);
    const transcriptBytes = Buffer.byteLength(JSON.stringify(result.transcript!.messages));
    const bytes = await historyBytes(harness, id);
    const ratio = bytes.proto / transcriptBytes;
    console.log(
      `40 turns: history ${bytes.proto} B (protobuf; ${bytes.json} B as JSON) / transcript ${transcriptBytes} B = ${ratio.toFixed(2)}× ` +
        `(${(bytes.json / transcriptBytes).toFixed(2)}× as JSON)`,
    );
    expect(ratio).toBeLessThan(3);
    expect(harness.fake.requestsFor(prompt).map((r) => r.threadKind)).toEqual(['create', ...Array.from({ length: 39 }, () => 'continue')]);
    // Every continue read its 4 KB tool result by query: none rode in a model call's input.
    expect((await modelCallInputs(harness, id)).filter((input) => input.newMessages !== undefined)).toEqual([]);
  });

  test('small new messages ride in the model call input; the continue sends exactly them', async () => {
    const prompt = uniquePrompt('Small results inline');
    const echo = defineTool({ name: 'echo', description: 'Echo', input: z.object({ text: z.string() }), run: ({ text }) => text });
    const big = 'y'.repeat(3000);
    harness.fake.addScript({
      match: prompt,
      steps: [reply(toolUse('echo', { text: 'a' }), toolUse('echo', { text: 'b' })), reply(toolUse('echo', { text: big })), reply(text('done'))],
    });
    const { id, result } = await withWorker(harness, { tools: [echo] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['echo'] });
      return { id: handle.conversationId, result: await handle.result() };
    });
    expect(result.status).toBe('completed');
    const inputs = await modelCallInputs(harness, id);
    // Turn 1 creates the thread (nothing to continue); turn 2 carries the two small results; turn 3's 3 KB result
    // is over the inline limit and is read by query instead.
    expect(inputs.map((input) => input.newMessages?.length)).toEqual([undefined, 1, undefined]);
    const requests = harness.fake.requestsFor(prompt);
    expect(requests.map((r) => r.threadKind)).toEqual(['create', 'continue', 'continue']);
    expect((requests[1]!.body as { messages: unknown[] }).messages).toEqual(inputs[1]!.newMessages);
    expect(JSON.stringify((requests[2]!.body as { messages: unknown[] }).messages)).toContain(big);
    await recordHistoryFixture(harness.temporal.client, 'inline-new-messages', id);
  });

  test("a create's small request context rides in the model call input (no query); a large one is read by query", async () => {
    const small = uniquePrompt('Small context inline');
    const large = uniquePrompt('Large context by query');
    for (const prompt of [small, large]) harness.fake.addScript({ match: prompt, steps: [reply(toolUse('echo', { text: 'a' })), reply(text('done'))] });
    const system = 'You answer briefly. '.repeat(250); // about 5 KB: over the inline limit
    const runs = await withWorker(harness, { tools: [echo] }, async (agent) => {
      const ids: string[] = [];
      for (const options of [{ prompt: small }, { prompt: large, system }]) {
        const handle = await agent.start({ ...options, tools: ['echo'] });
        expect((await handle.result()).status).toBe('completed');
        ids.push(handle.conversationId);
      }
      return ids;
    });
    const [smallInputs, largeInputs] = await Promise.all(runs.map((id) => modelCallInputs(harness, id)));
    // Only the create carries it; the continue after it carries its new messages instead.
    expect(smallInputs!.map((input) => input.context !== undefined)).toEqual([true, false]);
    const sent = harness.fake.requestsFor(small)[0]!.body as { messages: unknown[]; tools: Array<{ name: string }> };
    expect(sent.messages).toEqual(smallInputs![0]!.context!.messages);
    expect(sent.tools.map((tool) => tool.name)).toEqual(smallInputs![0]!.context!.tools.map((tool) => (tool as { name: string }).name));
    expect(largeInputs!.map((input) => input.context !== undefined)).toEqual([false, false]);
    const sentLarge = harness.fake.requestsFor(large)[0]!.body as { system: unknown };
    expect(JSON.stringify(sentLarge.system)).toContain('You answer briefly.');
    expect(harness.fake.requestsFor(large).map((r) => r.threadKind)).toEqual(['create', 'continue']);
  });
});

async function waitFor(predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

async function waitForValue<T>(read: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('value not seen in time');
    await sleep(50);
  }
}
