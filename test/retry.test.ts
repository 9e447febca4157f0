// retry() after each way a run can end badly: it goes back to just before the failure that ended the run, and a
// ledger of side effects shows that no tool whose result is recorded runs again.
import { setTimeout as sleep } from 'node:timers/promises';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';
import { ConversationCancelledError, ConversationFailedError, RetryWouldRerunToolsError, type AgentClient, type ConversationHandle } from '../src/client';
import { defineTool, ToolFatalError } from '../src/tools/define-tool';
import { reply, text, toolUse } from '../src/testing';
import { recordHistoryFixture } from './helpers/fixtures';
import { startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';

const EventType = temporal.api.enums.v1.EventType;

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

/** Side effects that must happen once: each entry is `tool:idempotencyKey`, written when the effect is applied. */
const ledger: string[] = [];
const applied = (tool: string) => ledger.filter((entry) => entry.startsWith(`${tool}:`));

const charge = defineTool({
  name: 'charge_card',
  description: 'Charge a card',
  input: z.object({ cents: z.number().int() }),
  run: ({ cents }, { idempotencyKey }) => {
    ledger.push(`charge_card:${idempotencyKey}`);
    return `charged ${cents}`;
  },
});

let ledgerBroken = true;
const postLedger = defineTool({
  name: 'post_ledger',
  description: 'Post to the ledger; fails fatally while the ledger service is broken',
  input: z.object({}),
  run: async (_input, { idempotencyKey }) => {
    await sleep(400); // the fast sibling finishes first, so its result is recorded before this fails
    if (ledgerBroken) throw new ToolFatalError('ledger service rejected the credentials');
    ledger.push(`post_ledger:${idempotencyKey}`);
    return 'posted';
  },
});

/** A slow side effect that honours cancellation: what it saw is kept per call. */
const slowWrites: Array<{ key: string; aborted: boolean; returnedAt: number }> = [];
const slowWrite = defineTool({
  name: 'slow_write',
  description: 'A write that takes 5 seconds',
  input: z.object({}),
  run: async (_input, { idempotencyKey, signal }) => {
    const aborted = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 5_000);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    slowWrites.push({ key: idempotencyKey, aborted, returnedAt: Date.now() });
    if (aborted) throw new Error('cancelled before the write');
    ledger.push(`slow_write:${idempotencyKey}`);
    return 'written';
  },
});

const sendEmail = defineTool({
  name: 'send_email',
  description: 'Send an email (a person approves)',
  input: z.object({ to: z.string() }),
  needsApproval: true,
  run: ({ to }, { idempotencyKey }) => {
    ledger.push(`send_email:${idempotencyKey}`);
    return `sent to ${to}`;
  },
});

const hang = defineTool({
  name: 'hang',
  description: 'Never answers in time',
  input: z.object({}),
  timeout: '1s',
  retry: { maximumAttempts: 1 },
  run: async (_input, { idempotencyKey, signal }) => {
    ledger.push(`hang:${idempotencyKey}`);
    await new Promise((resolve) => signal.addEventListener('abort', resolve));
    return 'late';
  },
});

/** A write that ignores cancellation: its result is recorded after the cancel request. */
const stubbornWrite = defineTool({
  name: 'stubborn_write',
  description: 'A write that finishes whatever happens',
  input: z.object({}),
  run: async (_input, { idempotencyKey }) => {
    await sleep(1_500);
    ledger.push(`stubborn_write:${idempotencyKey}`);
    return 'written anyway';
  },
});

const tools = [charge, postLedger, slowWrite, sendEmail, hang, stubbornWrite];

async function failureOf(handle: ConversationHandle): Promise<Error> {
  return handle.result().then(
    () => {
      throw new Error('expected the conversation to fail');
    },
    (err: unknown) => err as Error,
  );
}

async function approveWhenPending(handle: ConversationHandle, by: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const [call] = await handle.pending();
    if (call) {
      await handle.approve(call.toolUseId, { by });
      return;
    }
    await sleep(50);
  }
  throw new Error('no call waited for approval');
}

async function eventTypes(agent: AgentClient, conversationId: string): Promise<number[]> {
  const history = await agent.getHandle(conversationId).fetchHistory();
  return (history.events ?? []).map((event) => Number(event.eventType));
}

test('a model call that failed (401) is repeated, and the tools of earlier turns do not run again', async () => {
  const prompt = uniquePrompt('Charge twice then confirm');
  let keyRevoked = true;
  harness.fake.addScript({
    match: prompt,
    steps: ({ turnIndex }) => {
      if (turnIndex === 0) return reply(toolUse('charge_card', { cents: 100 }), toolUse('charge_card', { cents: 200 }));
      return keyRevoked ? { fault: '401', then: { fault: '401' } } : reply(text('Both charged.'));
    },
  });
  await withWorker(harness, { tools }, async (agent) => {
    const handle = await agent.start({ prompt, tools: ['charge_card'] });
    expect(await failureOf(handle)).toBeInstanceOf(ConversationFailedError);
    const before = applied('charge_card').length;
    keyRevoked = false;
    const outcome = await handle.retry({ by: 'ops@example.com' });
    expect(outcome.repeats).toEqual({ kind: 'model_call', turn: 2 });
    const result = await outcome.handle.result();
    expect(result).toMatchObject({ status: 'completed', text: 'Both charged.', turns: 2 });
    expect(applied('charge_card').filter((e) => e.includes(handle.conversationId))).toHaveLength(2);
    expect(applied('charge_card').length).toBe(before);
    expect(result.transcript?.retries).toEqual([expect.objectContaining({ failure: { kind: 'model_call', turn: 2 }, by: 'ops@example.com' })]);
  });
});

test('a fatal tool error: siblings are cancelled and awaited; the retry runs only what has no recorded result', async () => {
  const prompt = uniquePrompt('Charge, post and write');
  ledgerBroken = true;
  harness.fake.addScript({
    match: prompt,
    steps: ({ turnIndex }) =>
      turnIndex === 0 ? reply(toolUse('charge_card', { cents: 300 }), toolUse('post_ledger', {}), toolUse('slow_write', {})) : reply(text('All done.')),
  });
  await withWorker(harness, { tools }, async (agent) => {
    const handle = await agent.start({ prompt, tools: ['charge_card', 'post_ledger', 'slow_write'] });
    const failure = await failureOf(handle);
    expect(failure).toBeInstanceOf(ConversationFailedError);
    expect((failure as ConversationFailedError).failureType).toBe('ToolFatalError');
    const mine = (entries: string[]) => entries.filter((e) => e.includes(handle.conversationId));
    expect(mine(applied('charge_card'))).toHaveLength(1);
    // The slow sibling saw the cancellation and returned before the workflow ended.
    const cancelled = slowWrites.filter((w) => w.key.startsWith(handle.conversationId));
    expect(cancelled).toEqual([expect.objectContaining({ aborted: true })]);
    const types = await eventTypes(agent, handle.conversationId);
    expect(types.indexOf(EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED)).toBeGreaterThan(-1);
    expect(types.indexOf(EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED)).toBeLessThan(types.indexOf(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED));

    ledgerBroken = false;
    const outcome = await handle.retry();
    expect(outcome.repeats).toMatchObject({ kind: 'tool' });
    const result = await outcome.handle.result();
    expect(result).toMatchObject({ status: 'completed', text: 'All done.' });
    expect(mine(applied('charge_card'))).toHaveLength(1);
    expect(mine(applied('post_ledger'))).toHaveLength(1);
    expect(mine(applied('slow_write'))).toHaveLength(1);
    await recordHistoryFixture(harness.temporal.client, 'retry-fatal-tool-with-siblings', handle.conversationId);
    // One user message answers all three calls, in block order.
    const results = result.transcript!.messages[2]!.content as Array<{ type: string; content: string }>;
    expect(results.map((b) => b.content)).toEqual(['charged 300', 'posted', 'written']);
  });
});

test('an approval timeout with onTimeout fail: the retry waits for the approval again and runs nothing twice', async () => {
  const prompt = uniquePrompt('Charge and email');
  harness.fake.addScript({
    match: prompt,
    steps: ({ turnIndex }) =>
      turnIndex === 0 ? reply(toolUse('charge_card', { cents: 400 }), toolUse('send_email', { to: 'a@example.com' })) : reply(text('Charged and emailed.')),
  });
  await withWorker(harness, { tools }, async (agent) => {
    const handle = await agent.start({ prompt, tools: ['charge_card', 'send_email'], approvals: { timeout: '2s', onTimeout: 'fail' } });
    const failure = await failureOf(handle);
    expect((failure as ConversationFailedError).failureType).toBe('ApprovalTimeout');
    const outcome = await handle.retry();
    expect(outcome.repeats).toMatchObject({ kind: 'approval' });
    await approveWhenPending(outcome.handle, 'alice');
    const result = await outcome.handle.result();
    expect(result.status).toBe('completed');
    const mine = (entries: string[]) => entries.filter((e) => e.includes(handle.conversationId));
    expect(mine(applied('charge_card'))).toHaveLength(1);
    expect(mine(applied('send_email'))).toHaveLength(1);
    // The audit keeps the expiry of the first run and the approval of the second.
    expect(result.transcript!.approvals.map((a) => a.decision)).toEqual(['expired', 'approved']);
    await recordHistoryFixture(harness.temporal.client, 'retry-approval-timeout', handle.conversationId);
  });
});

test('an earlier tool timeout does not decide the reset point: only the failing approval wait repeats', async () => {
  const prompt = uniquePrompt('Hang, then email');
  harness.fake.addScript({
    match: prompt,
    steps: ({ turnIndex }) => {
      if (turnIndex === 0) return reply(toolUse('hang', {}));
      if (turnIndex === 1) return reply(toolUse('charge_card', { cents: 500 }), toolUse('send_email', { to: 'b@example.com' }));
      return reply(text('Done despite the hang.'));
    },
  });
  await withWorker(harness, { tools }, async (agent) => {
    const handle = await agent.start({ prompt, tools: ['hang', 'charge_card', 'send_email'], approvals: { timeout: '2s', onTimeout: 'fail' } });
    expect(((await failureOf(handle)) as ConversationFailedError).failureType).toBe('ApprovalTimeout');
    const outcome = await handle.retry();
    await approveWhenPending(outcome.handle, 'bob');
    const result = await outcome.handle.result();
    expect(result).toMatchObject({ status: 'completed', turns: 3 });
    const mine = (entries: string[]) => entries.filter((e) => e.includes(handle.conversationId));
    expect(mine(applied('hang'))).toHaveLength(1);
    expect(mine(applied('charge_card'))).toHaveLength(1);
    expect(mine(applied('send_email'))).toHaveLength(1);
  });
});

test('cancelling during a 5 s tool: the tool sees its signal, the workflow ends after it returned; retry carries on', async () => {
  const prompt = uniquePrompt('Charge then write slowly');
  harness.fake.addScript({
    match: prompt,
    steps: ({ turnIndex }) => {
      if (turnIndex === 0) return reply(toolUse('charge_card', { cents: 600 }));
      if (turnIndex === 1) return reply(toolUse('slow_write', {}));
      return reply(text('Charged and written.'));
    },
  });
  await withWorker(harness, { tools }, async (agent) => {
    const handle = await agent.start({ prompt, tools: ['charge_card', 'slow_write'] });
    for (let i = 0; i < 200 && !(await handle.transcript()).turns.some((t) => t.turn === 2); i++) await sleep(50);
    await sleep(500);
    await handle.cancel();
    expect(await failureOf(handle)).toBeInstanceOf(ConversationCancelledError);
    const description = await handle.describe();
    const write = slowWrites.find((w) => w.key.startsWith(handle.conversationId));
    expect(write?.aborted).toBe(true);
    expect(write!.returnedAt).toBeLessThanOrEqual(description.closeTime!.getTime());
    const types = await eventTypes(agent, handle.conversationId);
    expect(types).toContain(EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED);
    expect(types.indexOf(EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED)).toBeLessThan(types.indexOf(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED));

    await recordHistoryFixture(harness.temporal.client, 'cancelled-during-tool', handle.conversationId);
    const outcome = await handle.retry();
    expect(outcome.rerunToolUseIds).toEqual([]);
    const result = await outcome.handle.result();
    expect(result).toMatchObject({ status: 'completed', text: 'Charged and written.' });
    const mine = (entries: string[]) => entries.filter((e) => e.includes(handle.conversationId));
    expect(mine(applied('charge_card'))).toHaveLength(1);
    expect(mine(applied('slow_write'))).toHaveLength(1);
  });
});

test('two approvals expiring together (onTimeout fail): the retry waits for both again', async () => {
  const prompt = uniquePrompt('Two emails');
  harness.fake.addScript({
    match: prompt,
    steps: ({ turnIndex }) =>
      turnIndex === 0 ? reply(toolUse('send_email', { to: 'c@example.com' }), toolUse('send_email', { to: 'd@example.com' })) : reply(text('Both sent.')),
  });
  await withWorker(harness, { tools }, async (agent) => {
    const handle = await agent.start({ prompt, tools: ['send_email'], approvals: { timeout: '2s', onTimeout: 'fail' } });
    expect(((await failureOf(handle)) as ConversationFailedError).failureType).toBe('ApprovalTimeout');
    const outcome = await handle.retry();
    await approveWhenPending(outcome.handle, 'carol');
    await approveWhenPending(outcome.handle, 'carol');
    const result = await outcome.handle.result();
    expect(result).toMatchObject({ status: 'completed', text: 'Both sent.' });
    expect(applied('send_email').filter((e) => e.includes(handle.conversationId))).toHaveLength(2);
    expect((await outcome.handle.state()).pendingApprovals).toBe(0);
  });
});

test('a tool result recorded after the cancel request: retry refuses to run it again unless allowed', async () => {
  const prompt = uniquePrompt('Stubborn write');
  harness.fake.addScript({
    match: prompt,
    steps: ({ turnIndex }) => (turnIndex === 0 ? reply(toolUse('stubborn_write', {})) : reply(text('Written.'))),
  });
  await withWorker(harness, { tools }, async (agent) => {
    const handle = await agent.start({ prompt, tools: ['stubborn_write'] });
    for (let i = 0; i < 200 && (await handle.transcript()).turns.length < 1; i++) await sleep(50);
    await sleep(300);
    await handle.cancel();
    expect(await failureOf(handle)).toBeInstanceOf(ConversationCancelledError);
    const mine = () => applied('stubborn_write').filter((e) => e.includes(handle.conversationId));
    expect(mine()).toHaveLength(1);
    const refused = await handle.retry().catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(RetryWouldRerunToolsError);
    const [toolUse] = (await handle.transcript()).messages[1]!.content as Array<{ id: string }>;
    expect((refused as RetryWouldRerunToolsError).toolUseIds).toEqual([toolUse!.id]);
    const outcome = await handle.retry({ allowToolReruns: true });
    expect(outcome.rerunToolUseIds).toEqual((refused as RetryWouldRerunToolsError).toolUseIds);
    expect((await outcome.handle.result()).status).toBe('completed');
    expect(mine()).toHaveLength(2);
  });
});
