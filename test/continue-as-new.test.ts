// Continue-as-new: a conversation hands its state to a new run of the same workflow id when its history grows
// past a threshold, at a point where nothing runs, and nothing a person or a client is waiting on is lost.
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { ConversationHandle } from '../src/client';
import { defineTool } from '../src/tools/define-tool';
import { reply, text, toolUse } from '../src/testing';
import { startHarness, storedHistory, toolResultsOf, uniquePrompt, withWorker, type Harness } from './helpers/harness';
import { recordChainFixtures } from './helpers/fixtures';
import { replayHistory } from '../src/replay';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

const lookups: string[] = [];
const lookup = defineTool({
  name: 'lookup',
  description: 'Look something up',
  input: z.object({ query: z.string() }),
  run: ({ query }) => {
    lookups.push(query);
    return `found ${query}`;
  },
});
const transfers: Array<{ amount: number; key: string }> = [];
const transfer = defineTool({
  name: 'transfer',
  description: 'Move money; a person approves every transfer',
  input: z.object({ amount: z.number().positive() }),
  needsApproval: true,
  run: ({ amount }, { idempotencyKey }) => {
    transfers.push({ amount, key: idempotencyKey });
    return `moved ${amount}`;
  },
});
const tools = [lookup, transfer];

/**
 * Every run of the chain, oldest first. Visibility lists them and is eventually consistent, so this waits for all
 * `expected` runs to be listed, then reads each run's status from its own record, which is current.
 */
async function runsOf(conversationId: string, expected: number): Promise<Array<{ runId: string; status: string }>> {
  const listed = await waitFor(
    async () => {
      const runs: Array<{ runId: string; startTime: Date }> = [];
      for await (const execution of harness.temporal.client.workflow.list({ query: `WorkflowId = '${conversationId}'` })) {
        runs.push({ runId: execution.runId, startTime: execution.startTime });
      }
      return runs;
    },
    (runs) => runs.length >= expected,
  );
  const ordered = listed.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
  return Promise.all(
    ordered.map(async ({ runId }) => ({ runId, status: (await harness.temporal.client.workflow.getHandle(conversationId, runId).describe()).status.name })),
  );
}

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    await sleep(100);
  }
}

async function currentRunId(handle: ConversationHandle): Promise<string> {
  return (await handle.describe()).runId;
}

describe('continue-as-new', () => {
  test('a chat hands over to new runs as its history grows; every message is answered and the transcript is whole', async () => {
    const prompt = uniquePrompt('Long chat');
    const turns = 8;
    const steps = [];
    for (let i = 1; i <= turns; i++) steps.push(reply(toolUse('lookup', { query: `q${i}` })), reply(text(`answer ${i}`)));
    harness.fake.addScript({ match: prompt, steps });
    const result = await withWorker(harness, { tools }, async (agent) => {
      const { handle, reply: first } = await agent.startChat({ message: prompt, tools: ['lookup'], continueAsNew: { afterEvents: 50 } });
      expect(first.text).toBe('answer 1');
      for (let i = 2; i <= turns; i++) {
        const answer = await handle.sendMessage(`message ${i}`);
        expect(answer).toMatchObject({ text: `answer ${i}`, status: 'completed' });
        expect(answer.continuedAsNew).toBeUndefined();
      }
      const state = await handle.state();
      expect(state.runs).toBeGreaterThan(1);
      // Read in small pages, messages and turn records alike, the transcript is the same as read whole.
      const paged = await handle.transcript({ pageBytes: 600 });
      const whole = await handle.transcriptPage({ fromMessage: 0, maxBytes: 3_000_000 });
      expect(whole.page!.nextTurn).toBeNull();
      expect(paged.messages).toEqual(whole.messages);
      expect(paged.turns).toEqual(whole.turns);
      expect(paged.turns).toHaveLength(turns * 2);
      const firstSlice = await handle.transcriptPage({ fromMessage: 0, maxBytes: 600 });
      expect(firstSlice.turns.length).toBeLessThan(turns * 2);
      expect(firstSlice.page!.nextTurn).toBe(firstSlice.turns.length);
      await handle.end('tester');
      const result = await handle.result();
      const runs = await runsOf(handle.conversationId, state.runs!);
      expect(runs.length).toBe(state.runs);
      expect(runs.slice(0, -1).every((run) => run.status === 'CONTINUED_AS_NEW')).toBe(true);
      expect(runs[runs.length - 1]!.status).toBe('COMPLETED');
      // Each run's history stays small: it holds its own turns, not the whole conversation's events.
      for (const run of runs) {
        const history = await storedHistory(harness, handle.conversationId, run.runId);
        expect(history.events!.length).toBeLessThan(100);
      }
      // A replay fixture of every run of the chain.
      expect(await recordChainFixtures(harness.temporal.client, 'continue-as-new-chat', handle.conversationId)).toBe(runs.length);
      return result;
    });
    expect(result).toMatchObject({ status: 'completed', endedBy: 'user', turns: turns * 2 });
    expect(result.runs).toBeGreaterThan(1);
    // The transcript carried across runs: every user message, tool round and answer, in order, once.
    const messages = result.transcript!.messages;
    expect(messages).toHaveLength(turns * 4);
    expect(messages.filter((m) => m.role === 'user' && typeof m.content !== 'string' && m.content[0]?.type === 'text').length).toBe(turns);
    expect(lookups.filter((q) => /^q\d+$/.test(q)).slice(-turns)).toEqual(Array.from({ length: turns }, (_, i) => `q${i + 1}`));
    // The thread went on across runs: no run's first call had to replay the transcript.
    const kinds = harness.fake.requestsFor(prompt).map((r) => r.threadKind);
    expect(kinds[0]).toBe('create');
    expect(kinds.slice(1).every((kind) => kind === 'continue')).toBe(true);
  });

  test('an approval that waits across continue-as-new: the decision sent to the new run runs the tool once, with the audit trail carried', async () => {
    const prompt = uniquePrompt('Transfer across runs');
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('lookup', { query: 'balance' }), toolUse('transfer', { amount: 70 })), reply(text('Moved 70.'))] });
    transfers.length = 0;
    const result = await withWorker(harness, { tools }, async (agent) => {
      // A low threshold: the first run's history passes it while the transfer waits for a person.
      const handle = await agent.start({ prompt, tools: ['lookup', 'transfer'], continueAsNew: { afterEvents: 20 }, approvals: { timeout: '10m' } });
      const firstRun = await currentRunId(handle);
      const [pending] = await waitFor(
        () => handle.pending(),
        (list) => list.length === 1,
      );
      // Signals that add history (a decision for a call not seen yet is held) push the run over its threshold.
      for (let i = 0; i < 6; i++) await handle.signalDecision({ toolUseId: `toolu_unknown_${i}`, by: 'noise', decision: 'approve' });
      await waitFor(
        () => currentRunId(handle),
        (runId) => runId !== firstRun,
      );
      const state = await handle.state();
      expect(state.runs).toBe(2);
      expect(state.status).toBe('awaiting_approval');
      expect(state.heldDecisions.map((d) => d.toolUseId)).toEqual(Array.from({ length: 6 }, (_, i) => `toolu_unknown_${i}`));
      const [carried] = await handle.pending();
      // The wait is the same one: same request time, same expiry.
      expect(carried).toEqual(pending);
      expect(transfers).toEqual([]);
      const decision = await handle.approve(pending!.toolUseId, { by: 'ops@example.com', reason: 'ok' });
      expect(decision.decision).toBe('approved');
      return handle.result();
    });
    expect(result.status).toBe('completed');
    // The threshold is low enough that the runs after the approval hand over again.
    expect(result.runs).toBeGreaterThanOrEqual(2);
    expect(transfers).toHaveLength(1);
    const results = toolResultsOf(result.transcript!.messages[2]!.content);
    expect(results.map((r) => r.content)).toEqual(['found balance', 'moved 70']);
    expect(result.transcript!.approvals).toEqual([expect.objectContaining({ toolName: 'transfer', decision: 'approved', by: 'ops@example.com', via: 'update' })]);
  });

  test('a sendMessage waiting when the run hands over gets its answer from the next run', async () => {
    const prompt = uniquePrompt('Chat with a pending transfer');
    harness.fake.addScript({
      match: prompt,
      steps: [reply(text('Hello.')), reply(toolUse('transfer', { amount: 5 })), reply(text('Sent 5.'))],
    });
    transfers.length = 0;
    await withWorker(harness, { tools }, async (agent) => {
      const { handle } = await agent.startChat({ message: prompt, tools: ['transfer'], continueAsNew: { afterEvents: 20 } });
      const firstRun = await currentRunId(handle);
      // The answer waits on the approval; meanwhile the run passes its threshold and hands over.
      const answer = handle.sendMessage('Send 5 to Ada');
      const [pending] = await waitFor(
        () => handle.pending(),
        (list) => list.length === 1,
      );
      for (let i = 0; i < 6; i++) await handle.signalDecision({ toolUseId: `toolu_noise_${i}`, by: 'noise', decision: 'reject' });
      await waitFor(
        () => currentRunId(handle),
        (runId) => runId !== firstRun,
      );
      await handle.approve(pending!.toolUseId, { by: 'ada' });
      expect(await answer).toMatchObject({ status: 'completed', text: 'Sent 5.', turns: 3 });
      expect(transfers).toHaveLength(1);
      await handle.end();
      expect((await handle.result()).runs).toBeGreaterThanOrEqual(2);
      await recordChainFixtures(harness.temporal.client, 'continue-as-new-waiting-message', handle.conversationId);
    });
  });

  test('continueAsNew options are checked at start', async () => {
    await withWorker(harness, {}, async (agent) => {
      await expect(agent.start({ prompt: 'x', continueAsNew: { afterEvents: 5 } })).rejects.toThrow(/continueAsNew.afterEvents must be at least 20/);
      await expect(agent.start({ prompt: 'x', continueAsNew: { afterTurns: 5 } as never })).rejects.toThrow(/unknown option 'continueAsNew.afterTurns'/);
    });
  });
});

// Opt-in (DURABLE_CLAUDE_REPLAY_STRESS=<runs>): the hand-over above, many times, with a client polling state()
// through it; every run of each chain is replayed. A run that resumes a tool round starts with the
// describePayloadStorage local activity; while the round's patch was decided after it, a query answered in between
// could put the marker one task later than replay looks for it, and CI saw such a query fail with
// "Non-deprecated patch marker encountered for change tools-wait-for-cancellation". Run this after touching where
// patches are decided.
const stressRuns = Number(process.env.DURABLE_CLAUDE_REPLAY_STRESS ?? 0);
(stressRuns > 0 ? describe : describe.skip)('replay stress: an approval wait handed over while a client polls', () => {
  test.each(Array.from({ length: stressRuns }, (_, i) => [i]))('run %i', async (i) => {
    const prompt = uniquePrompt(`Stress hand-over ${i}`);
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('lookup', { query: 'balance' }), toolUse('transfer', { amount: 1 })), reply(text('Moved.'))] });
    const pollErrors: string[] = [];
    const id = await withWorker(harness, { tools }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['lookup', 'transfer'], continueAsNew: { afterEvents: 20 }, approvals: { timeout: '10m' } });
      const firstRun = await currentRunId(handle);
      const [pending] = await waitFor(
        () => handle.pending(),
        (list) => list.length === 1,
      );
      let polling = true;
      const poller = (async () => {
        while (polling) await handle.state().catch((err: Error) => pollErrors.push(err.message));
      })();
      for (let n = 0; n < 6; n++) await handle.signalDecision({ toolUseId: `toolu_unknown_${n}`, by: 'noise', decision: 'approve' });
      await waitFor(
        () => currentRunId(handle),
        (runId) => runId !== firstRun,
      );
      await sleep(300);
      await handle.approve(pending!.toolUseId, { by: 'stress' });
      await handle.result();
      polling = false;
      await poller;
      return handle.conversationId;
    });
    expect(pollErrors).toEqual([]);
    for (const { runId } of await runsOf(id, 2)) {
      const history = await harness.temporal.client.workflow.getHandle(id, runId).fetchHistory();
      const outcome = await replayHistory(history, { workflowBundle: { codePath: process.env.DURABLE_CLAUDE_TEST_BUNDLE! } });
      expect(outcome.error).toBeUndefined();
    }
  });
});
