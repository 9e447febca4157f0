// Approvals under an approver policy, attacked the way anyone who can signal the namespace would: every forged,
// stale, misbound or misused credential is refused, nothing runs, and the refusal is recorded; a valid credential
// runs the tool exactly once, and the workflow keeps who was verified, never the token.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';
import type { ConversationHandle } from '../src/client';
import { createDecisionVerifier, decisionInputHash, mintDecisionToken } from '../src/security/credentials';
import type { DecisionBinding } from '../src/security/types';
import { reply, text, toolUse } from '../src/testing';
import { defineTool } from '../src/tools/define-tool';
import { approveSignal, decideUpdate, rejectSignal } from '../src/workflows/definitions';
import type { ConversationState, PendingApproval, RefusedDecision } from '../src/workflows/types';
import { recordHistoryFixture } from './helpers/fixtures';
import { testStorageDir, uniqueTaskQueue } from './helpers/temporal';
import { startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';
import { decisionSenders } from '../src/client/decision-senders';
import { parseHistories, replayHistories } from '../src/replay';

const run = promisify(execFile);
const BIN = path.join(__dirname, '..', 'lib', 'cli', 'main.js');

/** `durable-claude show` as a user runs it (the built CLI). */
async function showOf(conversationId: string): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, 'show', conversationId, '--address', harness.temporal.address], { env: { ...process.env, DURABLE_CLAUDE_STORAGE_DIR: testStorageDir() } });
  return stdout;
}

const KEY = 'decision-key-for-tests-0123456789abcdef';
const OTHER_KEY = 'another-key-nobody-configured-0123456789';
const verifier = createDecisionVerifier({ hmacKeys: { default: KEY } });

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

const ran: Array<{ tool: string; input: unknown }> = [];
const refund = defineTool({
  name: 'refund',
  description: 'Refund an order',
  input: z.object({ order: z.string(), amount: z.number().positive() }),
  approvers: { roles: ['finance'] },
  run: (input) => {
    ran.push({ tool: 'refund', input });
    return `refunded ${input.amount} on ${input.order}`;
  },
});
const wire = defineTool({
  name: 'wire_transfer',
  description: 'Send money to an account',
  input: z.object({ account: z.string(), amount: z.number().positive() }),
  approvers: { groups: ['treasury'] },
  requiredApprovals: 2,
  run: (input) => {
    ran.push({ tool: 'wire_transfer', input });
    return `wired ${input.amount}`;
  },
});
const tools = [refund, wire];

async function waitForPending(handle: ConversationHandle): Promise<PendingApproval> {
  for (;;) {
    const pending = await handle.pending();
    if (pending.length > 0) return pending[0]!;
    await sleep(100);
  }
}

async function state(handle: ConversationHandle): Promise<ConversationState> {
  return handle.workflow.query<ConversationState>('state');
}

/** Waits until the state shows `count` refused attempts, and returns them. */
async function refusedAfter(handle: ConversationHandle, count: number): Promise<RefusedDecision[]> {
  for (;;) {
    const refused = (await state(handle)).refusedDecisions ?? [];
    if (refused.length >= count) return refused;
    await sleep(100);
  }
}

interface TokenOptions {
  subject?: string;
  email?: string;
  roles?: string[];
  groups?: string[];
  key?: string;
  binding?: Partial<DecisionBinding>;
  issuedAt?: Date;
  ttlSeconds?: number;
}

function tokenFor(handle: ConversationHandle, call: PendingApproval, options: TokenOptions = {}): Promise<string> {
  const binding: DecisionBinding = {
    conversationId: handle.conversationId,
    toolUseId: call.toolUseId,
    decision: 'approve',
    inputSha256: decisionInputHash(call.input),
    ...options.binding,
  };
  return mintDecisionToken({
    key: options.key ?? KEY,
    subject: options.subject ?? 'fiona',
    email: options.email ?? `${options.subject ?? 'fiona'}@example.com`,
    roles: options.roles ?? ['finance'],
    ...(options.groups ? { groups: options.groups } : {}),
    binding,
    ...(options.issuedAt ? { issuedAt: options.issuedAt } : {}),
    ...(options.ttlSeconds ? { ttlSeconds: options.ttlSeconds } : {}),
  });
}

/** The history's bytes with every payload's data decoded, so a string inside a payload is found. */
async function historyEvents(handle: ConversationHandle): Promise<temporal.api.history.v1.IHistoryEvent[]> {
  const history = await handle.workflow.fetchHistory();
  return history.events ?? [];
}

function eventText(event: temporal.api.history.v1.IHistoryEvent): string {
  return Buffer.from(temporal.api.history.v1.HistoryEvent.encode(event).finish()).toString('latin1');
}

test('forged, stale, misbound and misused credentials are refused and recorded; a valid one runs the tool once', async () => {
  const prompt = uniquePrompt('Refund order A-17');
  harness.fake.addScript({
    match: prompt,
    steps: [reply(text('Refunding.'), toolUse('refund', { order: 'A-17', amount: 120 })), reply(text('Refunded.'))],
  });
  ran.length = 0;
  await withWorker(harness, { tools, decisionVerifier: verifier }, async (agent) => {
    const handle = await agent.start({ prompt, tools: ['refund'], approvals: { requestedBy: 'rita@example.com' } });
    const call = await waitForPending(handle);
    expect(call.policy).toEqual({ description: 'role finance', requiredApprovals: 1 });

    // Each attack as a signal: logged, ignored, and recorded as a refused attempt in the state.
    const attacks: Array<[string, Record<string, unknown>, RegExp]> = [
      ['unsigned', { toolUseId: call.toolUseId, by: 'ops@example.com' }, /need a signed credential/],
      ['wrong key', { toolUseId: call.toolUseId, token: await tokenFor(handle, call, { key: OTHER_KEY }) }, /signature/],
      ['expired', { toolUseId: call.toolUseId, token: await tokenFor(handle, call, { issuedAt: new Date(Date.now() - 600_000), ttlSeconds: 120 }) }, /expired/],
      ['another conversation', { toolUseId: call.toolUseId, token: await tokenFor(handle, call, { binding: { conversationId: `${handle.conversationId}-other` } }) }, /conversation/],
      ['another call', { toolUseId: call.toolUseId, token: await tokenFor(handle, call, { binding: { toolUseId: 'toolu_someone_else' } }) }, /tool call/],
      ['another input', { toolUseId: call.toolUseId, token: await tokenFor(handle, call, { binding: { inputSha256: decisionInputHash({ order: 'A-17', amount: 9999 }) } }) }, /another input/],
      [
        'an edit the credential does not cover',
        { toolUseId: call.toolUseId, input: { order: 'A-17', amount: 9999 }, token: await tokenFor(handle, call) },
        /another input/,
      ],
      ['a reject credential used to approve', { toolUseId: call.toolUseId, token: await tokenFor(handle, call, { binding: { decision: 'reject' } }) }, /bound to reject, not approve|to reject, not to approve/],
      ['a role the policy does not allow', { toolUseId: call.toolUseId, token: await tokenFor(handle, call, { subject: 'sam', roles: ['support'] }) }, /may not decide refund calls: .*no role of finance/],
      ['the requester', { toolUseId: call.toolUseId, token: await tokenFor(handle, call, { subject: 'rita', email: 'rita@example.com' }) }, /asked for this conversation and may not approve/],
    ];
    for (const [i, [, request, reason]] of attacks.entries()) {
      await handle.workflow.signal(approveSignal, request as never);
      const refused = await refusedAfter(handle, i + 1);
      expect(refused[i]).toMatchObject({ toolUseId: call.toolUseId, decision: 'approve', via: 'signal' });
      expect(refused[i]!.reason).toMatch(reason);
    }
    // The same attacks through the decide Update are rejected to the sender.
    await expect(handle.workflow.executeUpdate(decideUpdate, { args: [{ toolUseId: call.toolUseId, decision: 'approve', by: 'ops@example.com' }] })).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/need a signed credential/) },
    });
    const wrongKey = await tokenFor(handle, call, { key: OTHER_KEY });
    const refusedUpdate = handle.workflow.executeUpdate(decideUpdate, { args: [{ toolUseId: call.toolUseId, decision: 'approve', token: wrongKey }] });
    await expect(refusedUpdate).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await expect(refusedUpdate).rejects.toMatchObject({ cause: { type: 'DecisionRefused', message: expect.stringMatching(/signature/) } });
    expect(ran).toEqual([]);
    expect(await handle.pending()).toHaveLength(1);

    // A valid credential: the tool runs once, with who was verified in the audit.
    const valid = await tokenFor(handle, call);
    const decision = await handle.workflow.executeUpdate(decideUpdate, { args: [{ toolUseId: call.toolUseId, decision: 'approve', token: valid, reason: 'customer called' }] });
    expect(decision).toMatchObject({ decision: 'approved', by: 'fiona@example.com', via: 'update' });
    // Sent again (a replay of the token read from history): refused.
    await handle.workflow.signal(approveSignal, { toolUseId: call.toolUseId, token: valid });
    const refused = await refusedAfter(handle, attacks.length + 2);
    expect(refused.at(-2)!).toMatchObject({ via: 'update' });
    expect(refused.at(-1)!.reason).toMatch(/already approved/);
    const result = await handle.result();
    expect(result.status).toBe('completed');
    await recordHistoryFixture(harness.temporal.client, 'approval-verified-refusals', handle.conversationId);
    expect(ran).toEqual([{ tool: 'refund', input: { order: 'A-17', amount: 120 } }]);
    const audit = (await handle.transcript()).approvals;
    expect(audit).toHaveLength(1);
    expect(audit[0]!.approvers).toEqual([
      expect.objectContaining({ subject: 'fiona', issuer: 'durable-claude', email: 'fiona@example.com', matched: ['role finance'], method: 'hmac' }),
    ]);

    // Who sent each decision, as Temporal recorded it, in the audit `show` prints with the refused attempts.
    const senders = await decisionSenders(handle);
    const identity = harness.temporal.client.options.identity;
    expect(senders.filter((sender) => sender.via === 'signal')).toHaveLength(attacks.length + 1);
    expect(senders.every((sender) => sender.identity === identity && sender.toolUseId === call.toolUseId)).toBe(true);
    const shown = await showOf(handle.conversationId);
    expect(shown).toContain(`approved refund (${call.toolUseId}) by fiona@example.com via update: customer called`);
    expect(shown).toContain(`[verified: fiona (fiona@example.com, issuer durable-claude, role finance)] [sent by ${identity}]`);
    expect(shown.split('\n').filter((line) => line.startsWith('refused: '))).toHaveLength(attacks.length + 2);
    expect(shown).toContain('via signal claiming to be ops@example.com: refund decisions need a signed credential');
    expect(shown).toMatch(/approve .* via signal by sam \(verified\): sam may not decide refund calls/);

    // An export (a bug report) holds no token, and still replays.
    const exported = JSON.stringify(await handle.export());
    const sentTokens = parseHistories(exported)
      .flatMap((history) => history.events ?? [])
      .flatMap((event) => [event.workflowExecutionSignaledEventAttributes?.input?.payloads?.[0], event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args?.payloads?.[0]])
      .map((payload) => (payload?.data ? (JSON.parse(Buffer.from(payload.data).toString('utf8')) as { token?: string }).token : undefined))
      .filter((token): token is string => token !== undefined);
    expect(sentTokens.length).toBeGreaterThan(5);
    expect(sentTokens.every((token) => token === '[redacted: a decision credential]')).toBe(true);
    const replayed = await replayHistories(parseHistories(exported), { workflowBundle: { codePath: process.env.DURABLE_CLAUDE_TEST_BUNDLE! } });
    expect(replayed.every((outcome) => outcome.ok)).toBe(true);

    // Store only what was verified: no token in the state, the transcript, the result; in history, a token is only
    // in the signal or Update that carried it (encrypt payloads to hide that too).
    const tokens = [valid, wrongKey, ...attacks.map(([, request]) => request.token).filter((t): t is string => typeof t === 'string')];
    const kept = JSON.stringify([await state(handle), await handle.transcript(), result]);
    for (const token of tokens) expect(kept).not.toContain(token);
    for (const event of await historyEvents(handle)) {
      const carrier =
        event.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED ||
        event.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED;
      if (carrier) continue;
      const body = eventText(event);
      for (const token of tokens) expect(body).not.toContain(token);
      expect(body).not.toContain(KEY);
    }
  });
});

test('two distinct people must approve: the same person twice and a reused credential are refused; a rejection decides', async () => {
  const prompt = uniquePrompt('Wire 5000 to the supplier, then another 10');
  harness.fake.addScript({
    match: prompt,
    steps: [
      reply(toolUse('wire_transfer', { account: 'DE-1', amount: 5000 })),
      reply(toolUse('wire_transfer', { account: 'DE-1', amount: 10 })),
      reply(text('Both handled.')),
    ],
  });
  ran.length = 0;
  await withWorker(harness, { tools, decisionVerifier: verifier }, async (agent) => {
    const handle = await agent.start({ prompt, tools: ['wire_transfer'] });
    const call = await waitForPending(handle);
    expect(call.policy?.requiredApprovals).toBe(2);
    const treasury = { groups: ['treasury'], roles: [] };
    const ann = await tokenFor(handle, call, { subject: 'ann', ...treasury });
    const first = await handle.workflow.executeUpdate(decideUpdate, { args: [{ toolUseId: call.toolUseId, decision: 'approve', token: ann }] });
    expect(first).toMatchObject({ decision: 'approval_recorded', requiredApprovals: 2, approvers: [expect.objectContaining({ subject: 'ann' })] });
    expect((await handle.pending())[0]!.approvals).toHaveLength(1);

    await handle.workflow.signal(approveSignal, { toolUseId: call.toolUseId, token: ann });
    expect((await refusedAfter(handle, 1))[0]!.reason).toMatch(/already used/);
    await handle.workflow.signal(approveSignal, { toolUseId: call.toolUseId, token: await tokenFor(handle, call, { subject: 'ann', ...treasury }) });
    expect((await refusedAfter(handle, 2))[1]!.reason).toMatch(/ann already approved this call; it needs 2 distinct approvers/);
    await handle.workflow.signal(approveSignal, { toolUseId: call.toolUseId, token: await tokenFor(handle, call, { subject: 'bob', groups: ['sales'], roles: [] }) });
    expect((await refusedAfter(handle, 3))[2]!.reason).toMatch(/no group of treasury/);
    expect(ran).toEqual([]);

    const bob = await tokenFor(handle, call, { subject: 'bob', ...treasury });
    const decided = await handle.workflow.executeUpdate(decideUpdate, { args: [{ toolUseId: call.toolUseId, decision: 'approve', token: bob }] });
    expect(decided).toMatchObject({ decision: 'approved', approvers: [expect.objectContaining({ subject: 'ann' }), expect.objectContaining({ subject: 'bob' })] });

    // The second call: one authorised rejection decides it.
    let second = await waitForPending(handle);
    while (second.toolUseId === call.toolUseId) second = await waitForPending(handle);
    const no = await tokenFor(handle, second, { subject: 'cy', ...treasury, binding: { decision: 'reject' } });
    await handle.workflow.signal(rejectSignal, { toolUseId: second.toolUseId, token: no, reason: 'too small to bother' });
    const result = await handle.result();
    expect(result.status).toBe('completed');
    await recordHistoryFixture(harness.temporal.client, 'approval-verified-two-approvers', handle.conversationId);
    expect(ran).toEqual([{ tool: 'wire_transfer', input: { account: 'DE-1', amount: 5000 } }]);
    const audit = (await handle.transcript()).approvals;
    expect(audit.map((d) => [d.decision, d.approvers?.map((a) => a.subject)])).toEqual([
      ['approved', ['ann', 'bob']],
      ['rejected', ['cy']],
    ]);
  });
});

test('a worker refuses to start with governed tools and no verifier; trusted-namespace tools decide as before', async () => {
  await expect(withWorker(harness, { tools }, async () => undefined)).rejects.toThrow(/have approvers, so their decisions need verified credentials/);
  expect(() => defineTool({ name: 'x', input: z.object({}), requiredApprovals: 2, run: () => 'x' })).toThrow(/needs approvers/);
  expect(() => defineTool({ name: 'x', input: z.object({}), approvers: { roles: [] }, run: () => 'x' })).toThrow(/non-empty list/);
});

test("a worker's own rule is the authority when a deploy adds or drops approvers mid-conversation", async () => {
  // The same tool, as three deploys define it: gated without a rule, with a rule, and gated again without one.
  const plainRefund = defineTool({ name: 'refund', description: 'Refund an order', input: z.object({ order: z.string(), amount: z.number().positive() }), needsApproval: true, run: refund.run });
  const before = uniquePrompt('Refund order B-2, before the policy');
  const after = uniquePrompt('Refund order B-3, after the policy');
  for (const [prompt, order] of [
    [before, 'B-2'],
    [after, 'B-3'],
  ] as const) {
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('refund', { order, amount: 50 })), reply(text('Done.'))] });
  }
  ran.length = 0;
  const taskQueue = uniqueTaskQueue('deploys');
  // Started before the rule existed: the conversation recorded no policy, so an unsigned approval is taken…
  const { first, second } = await withWorker(harness, { taskQueue, tools: [plainRefund] }, async (agent) => {
    const handle = await agent.start({ prompt: before, tools: ['refund'] });
    return { first: { handle, call: await waitForPending(handle) }, second: undefined };
  }).then(async ({ first }) =>
    withWorker(harness, { taskQueue, tools, decisionVerifier: verifier }, async (agent) => {
      // …but the worker that now runs the tool has a rule, and an approval without verified approvers does not run it.
      await first.handle.approve(first.call.toolUseId, { by: 'mallory' });
      const result = await first.handle.result();
      const handle = await agent.start({ prompt: after, tools: ['refund'] });
      return { first: { ...first, result }, second: { handle, call: await waitForPending(handle) } };
    }),
  );
  expect(first.result.status).toBe('completed');
  const results = first.result.transcript!.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : [])).filter((b) => b.type === 'tool_result');
  expect(JSON.stringify(results)).toMatch(/Not run: refund needs 1 verified approver \(signed decisions\), and this call was approved by mallory without a verified credential/);
  expect(ran).toEqual([]);

  // Started under the rule, decided on a worker whose copy of the tool lost it: a verified person is still refused.
  await withWorker(harness, { taskQueue, tools: [plainRefund], decisionVerifier: verifier }, async () => {
    await second!.handle.workflow.signal(approveSignal, { toolUseId: second!.call.toolUseId, token: await tokenFor(second!.handle, second!.call, { subject: 'sam', roles: ['support'] }) });
    const [refused] = await refusedAfter(second!.handle, 1);
    expect(refused!.reason).toMatch(/this worker has no approver rule for refund, which the conversation requires \(role finance\)/);
    await second!.handle.cancel();
  });
  expect(ran).toEqual([]);
});
