// Decision credentials from the command line: `durable-claude token`, and `approve`/`reject` with --token or --sign,
// as the built binary runs them, against the real dev server and a worker that verifies with the same key.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { ConversationHandle } from '../src/client';
import { exampleTools } from '../src/examples/tools';
import { createDecisionVerifier, decisionInputHash, mintDecisionToken } from '../src/security/credentials';
import { ensureDevDecisionKey } from '../src/security/dev-key';
import { cliDecisionVerifier } from '../src/cli/decision-options';
import { reply, text, toolUse } from '../src/testing';
import { defineTool } from '../src/tools/define-tool';
import type { PendingApproval } from '../src/workflows/types';
import { startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';
import { uniqueTaskQueue } from './helpers/temporal';

// DURABLE_CLAUDE_CLI_BIN: a build elsewhere (the checkout's lib/ is what `npm test` builds).
const BIN = process.env.DURABLE_CLAUDE_CLI_BIN ?? path.join(__dirname, '..', 'lib', 'cli', 'main.js');
const KEY = 'cli-token-test-shared-secret-0123456789';
const OTHER_KEY = 'some-other-secret-that-is-long-enough';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to its end, with only the decision settings this test gives. */
function cli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, DURABLE_CLAUDE_DECISION_KEY: undefined, DURABLE_CLAUDE_DECISION_JWKS_URL: undefined, DURABLE_CLAUDE_DECISION_ISSUER: undefined, DURABLE_CLAUDE_DECISION_AUDIENCE: undefined, ...options.env };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  const child = spawn(process.execPath, [BIN, ...args], { env, cwd: options.cwd ?? emptyDir, stdio: [options.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  if (options.input !== undefined) child.stdin!.end(options.input);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const withKey = { env: { DURABLE_CLAUDE_DECISION_KEY: KEY } };
const verifier = createDecisionVerifier({ hmacKeys: { default: KEY } });
/** A directory with no dev key: the CLI finds only what the test gives it. */
let emptyDir: string;
let harness: Harness;
let taskQueue: string;
let common: string[];

beforeAll(async () => {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: npm test builds it first (npm run build)`);
  emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-token-'));
  harness = await startHarness();
  taskQueue = uniqueTaskQueue('cli-token');
  common = ['--address', harness.temporal.address, '--task-queue', taskQueue];
});
afterAll(async () => {
  await harness.close();
  fs.rmSync(emptyDir, { recursive: true, force: true });
});

describe('durable-claude token', () => {
  test('prints a token the workers verify with the same key, bound as asked', async () => {
    const input = { to: 'ada@example.com', subject: 'Hi', body: 'Hello.' };
    const approve = await cli(['token', 'conv-1', 'toolu_1', '--decision', 'approve', '--subject', 'alice', '--roles', 'finance, ops', '--groups', 'eu', '--email', 'alice@example.com', '--input', JSON.stringify(input), '--ttl', '10m'], withKey);
    expect(approve.stderr).toBe('');
    expect(approve.code).toBe(0);
    const token = approve.stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    const approver = await verifier.verify(token, { conversationId: 'conv-1', toolUseId: 'toolu_1', decision: 'approve', inputSha256: decisionInputHash(input) });
    expect(approver).toMatchObject({ subject: 'alice', email: 'alice@example.com', roles: ['finance', 'ops'], groups: ['eu'], issuer: 'durable-claude', method: 'hmac' });
    expect(Date.parse(approver.expiresAt) - Date.parse(approver.issuedAt!)).toBe(600_000);

    const reject = await cli(['token', 'conv-1', 'toolu_1', '--decision', 'reject', '--subject', 'bob'], withKey);
    expect(reject.code).toBe(0);
    await expect(verifier.verify(reject.stdout.trim())).resolves.toMatchObject({ subject: 'bob', binding: { conversationId: 'conv-1', toolUseId: 'toolu_1', decision: 'reject' } });
  });

  test('signs with the first of several keys, under its kid, and with the configured issuer and audience', async () => {
    const out = await cli(['token', 'c', 't', '--decision', 'reject', '--subject', 'alice'], {
      env: { DURABLE_CLAUDE_DECISION_KEY: `next:${OTHER_KEY},prev:${KEY}`, DURABLE_CLAUDE_DECISION_ISSUER: 'approvals.example.com', DURABLE_CLAUDE_DECISION_AUDIENCE: 'payments' },
    });
    expect(out.code).toBe(0);
    const rotating = createDecisionVerifier({ hmacKeys: { next: OTHER_KEY, prev: KEY }, issuer: 'approvals.example.com', audience: 'payments' });
    await expect(rotating.verify(out.stdout.trim())).resolves.toMatchObject({ keyId: 'next', issuer: 'approvals.example.com' });
  });

  test('signs with the dev key in the directory `durable-claude dev` made it in', async () => {
    const project = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-token-dev-'));
    try {
      const made = ensureDevDecisionKey(project);
      expect(made.created).toBe(true);
      expect(fs.statSync(made.file).mode & 0o777).toBe(0o600);
      expect(ensureDevDecisionKey(project)).toMatchObject({ created: false, secret: made.secret });
      const out = await cli(['token', 'c', 't', '--decision', 'reject', '--subject', 'dev-user'], { cwd: project });
      expect(out.code).toBe(0);
      // The verifier the CLI's workers get in that directory.
      const workers = cliDecisionVerifier({}, project)!;
      expect(workers.description).toMatch(/^the dev key \.temporal\/decision-key/);
      await expect(workers.verifier.verify(out.stdout.trim())).resolves.toMatchObject({ subject: 'dev-user' });
      await expect(verifier.verify(out.stdout.trim())).rejects.toThrow('signature does not verify');
    } finally {
      fs.rmSync(project, { recursive: true, force: true });
    }
  });

  test('bad arguments exit 2 and say what is wrong', async () => {
    const cases: Array<[string[], RegExp, { env?: NodeJS.ProcessEnv }?]> = [
      [['token', 'c'], /give the conversation id and the tool_use id/],
      [['token', 'c', 't', '--subject', 'a'], /--decision must be approve or reject/],
      [['token', 'c', 't', '--decision', 'maybe', '--subject', 'a'], /--decision must be approve or reject, got 'maybe'/],
      [['token', 'c', 't', '--decision', 'reject'], /--subject is required/],
      [['token', 'c', 't', '--decision', 'reject', '--subject', 'a', '--ttl', 'soon'], /--ttl must be/],
      [['token', 'c', 't', '--decision', 'reject', '--subject', 'a', '--ttl', '2h'], /longer than the 60 minutes a worker accepts/],
      [['token', 'c', 't', '--decision', 'reject', '--subject', 'a', '--input', '{}'], /--input goes with --decision approve/],
      [['token', 'c', 't', '--decision', 'approve', '--subject', 'a', '--input', '{nope'], /--input is not valid JSON/],
      [['token', 'c', 't', '--decision', 'reject', '--subject', 'a', '--roles', ' , '], /--roles needs at least one name/],
      [['token', 'c', 't', '--decision', 'reject', '--subject', 'a', '--colour', 'red'], /Unknown option '--colour'/],
      [['token', 'c', 't', '--decision', 'reject', '--subject', 'a'], /no key to sign with: set DURABLE_CLAUDE_DECISION_KEY .* run `durable-claude dev`/, { env: {} }],
      [['token', 'c', 't', '--decision', 'reject', '--subject', 'a'], /DURABLE_CLAUDE_DECISION_KEY must be at least 32 characters/, { env: { DURABLE_CLAUDE_DECISION_KEY: 'short' } }],
      [['approve', 'c', 't', '--token', 'x', '--sign'], /give --token or --sign, not both/],
      [['approve', 'c', 't', '--roles', 'finance'], /--roles goes with --sign/],
      [['reject', 'c', 't', '--reason', 'no', '--sign'], /no key to sign with/, { env: {} }],
    ];
    for (const [args, message, options] of cases) {
      const out = await cli(args, options ?? withKey);
      expect({ args, code: out.code, stderr: out.stderr }).toEqual({ args, code: 2, stderr: expect.stringMatching(message) });
      expect(out.stdout).toBe('');
    }
  });
});

const payInvoice = defineTool({
  name: 'pay_invoice',
  description: 'Pay an invoice',
  input: z.object({ invoice: z.string(), amount: z.number().positive() }),
  approvers: { roles: ['finance'] },
  run: ({ invoice }) => `paid ${invoice}`,
});
const tools = [...exampleTools(), payInvoice];

async function waitForPending(handle: ConversationHandle): Promise<PendingApproval> {
  for (let i = 0; i < 200; i++) {
    const [first] = await handle.pending();
    if (first) return first;
    await sleep(50);
  }
  throw new Error('no pending approval appeared');
}

describe('approve and reject with decision credentials', () => {
  test('a token for the pending input, refusals that exit 6 with the reason, --sign, and reject --sign', async () => {
    const payPrompt = uniquePrompt('Pay invoice 42');
    harness.fake.addScript({ match: payPrompt, steps: [reply(toolUse('pay_invoice', { invoice: 'INV-42', amount: 120 })), reply(text('Paid.'))] });
    const emailPrompt = uniquePrompt('Email the team');
    harness.fake.addScript({ match: emailPrompt, steps: [reply(toolUse('send_email', { to: 'team@example.com', subject: 'Hi', body: 'Hello.' })), reply(text('Not sent.'))] });

    const signalPrompt = uniquePrompt('Email the board');
    harness.fake.addScript({ match: signalPrompt, steps: [reply(toolUse('send_email', { to: 'board@example.com', subject: 'Q4', body: 'Draft.' })), reply(text('Sent.'))] });

    await withWorker(harness, { tools, taskQueue, decisionVerifier: verifier }, async (agent) => {
      const pay = await agent.start({ prompt: payPrompt, tools: ['pay_invoice'], conversationId: `cli-token-pay-${Date.now()}` });
      const call = await waitForPending(pay);
      const id = pay.conversationId;

      // The token command reads the pending call's input to bind it.
      const minted = await cli(['token', id, call.toolUseId, '--decision', 'approve', '--subject', 'alice', '--roles', 'finance', ...common], withKey);
      expect(minted.stderr).toBe('');
      expect(minted.code).toBe(0);
      const token = minted.stdout.trim();
      await expect(verifier.verify(token, { conversationId: id, toolUseId: call.toolUseId, decision: 'approve', inputSha256: decisionInputHash(call.input) })).resolves.toMatchObject({ subject: 'alice' });
      const notPending = await cli(['token', id, 'toolu_nope', '--decision', 'approve', '--subject', 'alice', ...common], withKey);
      expect(notPending.code).toBe(2);
      expect(notPending.stderr).toMatch(new RegExp(`tool call toolu_nope is not waiting for approval in ${id} \\(waiting: ${call.toolUseId}\\)`));

      // Refused: a token under another key; a signed approval without the role the tool's rule asks for.
      const binding = { conversationId: id, toolUseId: call.toolUseId, decision: 'approve' as const, inputSha256: decisionInputHash(call.input) };
      const forged = await mintDecisionToken({ key: OTHER_KEY, subject: 'mallory', roles: ['finance'], binding });
      const refusedForged = await cli(['approve', id, call.toolUseId, '--token', forged, ...common], withKey);
      expect(refusedForged.code).toBe(6);
      expect(refusedForged.stderr).toMatch(/signature does not verify/);
      expect(refusedForged.stderr).not.toContain(forged);
      const refusedRole = await cli(['approve', id, call.toolUseId, '--sign', '--by', 'bob', ...common], withKey);
      expect(refusedRole.code).toBe(6);
      expect(refusedRole.stderr).toMatch(/bob may not decide pay_invoice calls: bob has no role of finance/);

      // The token decides: who decided is its subject, with no --by. Read from stdin (`--token -`), it stays out of `ps`.
      const approved = await cli(['approve', id, call.toolUseId, '--token', '-', ...common], { ...withKey, input: `${token}\n` });
      expect(approved.stderr).toBe('');
      expect(approved.code).toBe(0);
      expect(approved.stdout.trim()).toBe(`approved pay_invoice (${call.toolUseId}) by alice`);
      expect(await pay.result()).toMatchObject({ status: 'completed' });

      const email = await agent.start({ prompt: emailPrompt, tools: ['send_email'], conversationId: `cli-token-email-${Date.now()}` });
      const emailCall = await waitForPending(email);
      const rejected = await cli(['reject', email.conversationId, emailCall.toolUseId, '--sign', '--by', 'carol@example.com', '--reason', 'not today', ...common], withKey);
      expect(rejected.stderr).toBe('');
      expect(rejected.code).toBe(0);
      expect(rejected.stdout.trim()).toBe(`rejected send_email (${emailCall.toolUseId}) by carol@example.com`);
      const emailResult = await email.result();
      expect(emailResult.status).toBe('completed');
      // What the audit keeps of a signed decision: the verified person, never the token.
      expect(emailResult.transcript?.approvals[0]).toMatchObject({ decision: 'rejected', by: 'carol@example.com', approvers: [{ subject: 'carol@example.com', issuer: 'durable-claude', method: 'hmac' }] });
      expect(JSON.stringify(emailResult)).not.toMatch(/eyJ[\w-]+\.eyJ/);
      // Signed, edited and sent as a signal: the token binds the edited input, and the workflow verifies it as it would an Update.
      const board = await agent.start({ prompt: signalPrompt, tools: ['send_email'], conversationId: `cli-token-signal-${Date.now()}` });
      const boardCall = await waitForPending(board);
      const edited = { to: 'board@example.com', subject: 'Q4', body: 'Final.' };
      const signalled = await cli(['approve', board.conversationId, boardCall.toolUseId, '--sign', '--by', 'dave@example.com', '--input', JSON.stringify(edited), '--signal', ...common], withKey);
      expect(signalled.stderr).toBe('');
      expect(signalled.code).toBe(0);
      expect(signalled.stdout).toMatch(/^sent approve of \S+ by dave@example.com as a signal/);
      const boardResult = await board.result();
      expect(boardResult.transcript?.approvals[0]).toMatchObject({ decision: 'approved', via: 'signal', edited: true, approvedInput: edited, approvers: [{ subject: 'dave@example.com' }] });

      // The refusals are on record with their reasons.
      const refused = (await pay.state()).refusedDecisions ?? [];
      expect(refused.map((r) => r.reason).slice(0, 2)).toEqual([expect.stringMatching(/signature does not verify/), expect.stringMatching(/no role of finance/)]);
    });
  });
});
