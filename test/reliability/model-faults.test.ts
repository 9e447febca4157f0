// Model faults on 30% of calls: 429 with retry-after, 500, 529, connection resets, mid-stream error events and
// stalled streams. Every conversation completes, within the retry budget, with one layer of retries (Temporal's).
import { z } from 'zod';
import { defineTool } from '../../src/tools/define-tool';
import { reply, text, toolUse } from '../../src/testing';
import { startHarness, withWorker, type Harness } from '../helpers/harness';
import { uniqueTaskQueue } from '../helpers/temporal';
import { writeFigures } from './figures';

const CONVERSATIONS = process.env.DURABLE_CLAUDE_SOAK ? 100 : 20;
const MAX_CONSECUTIVE_FAULTS = 2;
const MAXIMUM_ATTEMPTS = 4;

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ latency: { firstTokenMs: 20, chunkMs: 2 } });
});
afterAll(() => harness.close());

const echo = defineTool({ name: 'echo', description: 'Echo', input: z.object({ text: z.string() }), run: ({ text: t }) => t });

test(`model faults on 30% of calls: ${CONVERSATIONS} conversations complete within the retry budget`, async () => {
  const tag = uniqueTaskQueue('faults');
  harness.fake.setFaults({
    rate: 0.3,
    kinds: ['429', '500', '529', 'connection-reset', 'stream-error', 'stall'],
    seed: 7,
    maxConsecutivePerTurn: MAX_CONSECUTIVE_FAULTS,
    retryAfterSeconds: 1,
  });
  try {
    // The idle watchdog ends a stalled stream; at 3 s a loaded machine's delays rarely trip it on a healthy stream.
    const results = await withWorker(harness, { tools: [echo], model: { streamIdleTimeoutMs: 3000 } }, async (agent) => {
      const handles = [];
      for (let i = 0; i < CONVERSATIONS; i++) {
        const prompt = `Fault test ${i} ${tag}`;
        harness.fake.addScript({
          match: prompt,
          steps: [reply(toolUse('echo', { text: `a${i}` }), toolUse('echo', { text: `b${i}` })), reply(toolUse('echo', { text: `c${i}` })), reply(text(`done ${i}`))],
        });
        handles.push(
          await agent.start({
            prompt,
            tools: ['echo'],
            modelRetry: { maximumAttempts: MAXIMUM_ATTEMPTS, initialInterval: '100ms', maximumInterval: '1s' },
          }),
        );
      }
      return Promise.all(handles.map((h) => h.result()));
    });
    expect(results.map((r) => r.status)).toEqual(Array(CONVERSATIONS).fill('completed'));

    const sent = harness.fake.requests.filter((r) => r.conversationKey?.includes(tag));
    // A retry that continues the thread an abandoned attempt had already continued (the fake sent that reply whole) or
    // is still continuing is refused for the thread, and the worker replays the transcript unthreaded in the same
    // attempt: such a refusal belongs to no turn. Every other request is one attempt at one turn.
    const threadRefusals = sent.filter((r) => r.turnIndex === undefined);
    for (const r of threadRefusals) expect(['thread_already_continued', 'thread_continue_in_flight']).toContain(r.errorCode);
    const requests = sent.filter((r) => r.turnIndex !== undefined);
    const faults = requests.filter((r) => r.fault !== undefined);
    const byKind = Object.fromEntries(['429', '500', '529', 'connection-reset', 'stream-error', 'stall'].map((k) => [k, faults.filter((f) => f.fault === k).length]));
    // Every kind was injected, on roughly 30% of calls.
    for (const count of Object.values(byKind)) expect(count).toBeGreaterThan(0);
    expect(faults.length / requests.length).toBeGreaterThan(0.15);

    // Each model call's attempts, in order. Every call ends with a success. Every earlier attempt is a fault the
    // server sent, or a reply the worker gave up on (its idle watchdog, when a loaded machine delays events past it): the fake
    // sees the abort, or, when it had already sent the whole reply, a success that was not the call's last attempt.
    const byCall = new Map<string, typeof requests>();
    for (const r of requests) byCall.set(`${r.conversationKey}#${r.turnIndex}`, [...(byCall.get(`${r.conversationKey}#${r.turnIndex}`) ?? []), r]);
    expect(byCall.size).toBe(CONVERSATIONS * 3);
    const succeeded = (r: (typeof requests)[number]) => r.fault === undefined && r.aborted !== true;
    for (const attempts of byCall.values()) expect(succeeded(attempts[attempts.length - 1]!)).toBe(true);
    const abandoned = requests.filter((r) => r.fault === undefined && r.aborted === true);
    const givenUpAfterSent = [...byCall.values()].flatMap((attempts) => attempts.slice(0, -1).filter(succeeded));
    expect(requests.length).toBe(CONVERSATIONS * 3 + faults.length + abandoned.length + givenUpAfterSent.length);
    // The retry budget: never more attempts than the activity's maximumAttempts, and where the worker gave up on no
    // reply, at most the faults the server sent in a row plus the one success.
    const attemptCounts = [...byCall.values()].map((attempts) => attempts.length);
    expect(Math.max(...attemptCounts)).toBeLessThanOrEqual(MAXIMUM_ATTEMPTS);
    const onlyFaultsBefore = [...byCall.values()].filter((attempts) => attempts.slice(0, -1).every((r) => r.fault !== undefined));
    for (const attempts of onlyFaultsBefore) expect(attempts.length).toBeLessThanOrEqual(MAX_CONSECUTIVE_FAULTS + 1);
    // A refusal follows a reply the worker gave up on: one still streaming (in flight) or one sent whole (continued).
    // A stall or other fault never holds a thread, so it is no cause.
    expect(threadRefusals.length).toBeLessThanOrEqual(abandoned.length + givenUpAfterSent.length);
    // One layer of retries: the SDK never retried on its own (its retry counter header stays 0).
    expect(requests.every((r) => r.headers['x-stainless-retry-count'] === '0')).toBe(true);

    writeFigures('model-faults', {
      conversations: CONVERSATIONS,
      completed: results.length,
      modelRequests: requests.length,
      faultsInjected: faults.length,
      ...Object.fromEntries(Object.entries(byKind).map(([k, v]) => [`faults_${k}`, v])),
      maxAttemptsPerCall: Math.max(...attemptCounts),
      sdkRetries: requests.filter((r) => r.headers['x-stainless-retry-count'] !== '0').length,
      repliesGivenUpAfterSent: givenUpAfterSent.length,
      threadRefusals: threadRefusals.length,
    });
  } finally {
    harness.fake.setFaults(null);
  }
}, 300_000);
