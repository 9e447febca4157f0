// Worker crashes: the worker runs in its own process and is SIGKILLed at random moments while conversations with
// parallel tools and approval-gated side effects run. Every conversation must complete, every approved side effect
// must apply exactly once, and no transcript may lose or repeat a message.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BetaContentBlockParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { AgentClient, type ConversationHandle } from '../../src/client';
import { FakeMessagesApi, reply, text, toolUse } from '../../src/testing';
import { approveSignal } from '../../src/workflows/definitions';
import type { ConversationResult } from '../../src/workflows/types';
import { connectTestTemporal, uniqueTaskQueue, type TestTemporal } from '../helpers/temporal';
import { writeFigures } from './figures';
import type { LedgerLine } from './worker-process';

const SOAK = !!process.env.DURABLE_CLAUDE_SOAK;
const CONVERSATIONS = SOAK ? 100 : 30;
const KILLS = SOAK ? 40 : 10;
const API_KEY = 'sk-ant-crash-test-key-never-in-history';

let temporal: TestTemporal;
let fake: FakeMessagesApi;
beforeAll(async () => {
  temporal = await connectTestTemporal();
  fake = await FakeMessagesApi.start({ latency: { firstTokenMs: 150, chunkMs: 10 } });
});
afterAll(async () => {
  await fake.close();
  await temporal.close();
});

class WorkerSupervisor {
  #child: ChildProcess | undefined;
  kills = 0;
  starts = 0;

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  async start(): Promise<void> {
    // node itself with tsx as a loader (not the tsx CLI, which would run the worker in a grandchild that a
    // SIGKILL of its parent leaves alive).
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'worker-process.ts')], {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.#child = child;
    this.starts += 1;
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
    });
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    this.kills += 1;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

function script(prompt: string, index: number) {
  fake.addScript({
    match: prompt,
    steps: [
      reply(text('Looking both up.'), toolUse('lookup', { query: `a${index}` }), toolUse('lookup', { query: `b${index}` })),
      reply(toolUse('apply_change', { account: `acct-${index}`, cents: 100 + index }), toolUse('lookup', { query: `c${index}` })),
      reply(text(`Done with account ${index}.`)),
    ],
  });
}

/** The transcript has every expected message once, in order: nothing lost, nothing repeated. */
function checkTranscript(result: ConversationResult): string[] {
  const problems: string[] = [];
  const messages = result.transcript!.messages;
  if (messages.length !== 6) problems.push(`expected 6 messages, got ${messages.length}`);
  messages.forEach((m, i) => m.role !== (i % 2 === 0 ? 'user' : 'assistant') && problems.push(`message ${i} has role ${m.role}`));
  const uses: string[] = [];
  const results: string[] = [];
  for (const m of messages) {
    if (typeof m.content === 'string') continue;
    for (const block of m.content as BetaContentBlockParam[]) {
      if (block.type === 'tool_use') uses.push(block.id);
      if (block.type === 'tool_result') results.push(block.tool_use_id);
    }
  }
  if (new Set(uses).size !== uses.length) problems.push('a tool_use id repeats');
  if (uses.length !== 4 || JSON.stringify(uses) !== JSON.stringify(results)) problems.push(`tool calls ${uses.join(',')} answered by ${results.join(',')}`);
  if (result.transcript!.approvals.length !== 1) problems.push(`expected one approval, got ${result.transcript!.approvals.length}`);
  return problems;
}

test(
  `worker crashes: ${CONVERSATIONS} conversations survive ${KILLS} SIGKILLs of the worker`,
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crash-'));
    const ledger = path.join(dir, 'ledger.jsonl');
    const taskQueue = uniqueTaskQueue('crash');
    const supervisor = new WorkerSupervisor({
      TEMPORAL_ADDRESS: temporal.address,
      TASK_QUEUE: taskQueue,
      FAKE_URL: fake.baseURL,
      LEDGER: ledger,
      BUNDLE: process.env.DURABLE_CLAUDE_TEST_BUNDLE!,
      ANTHROPIC_API_KEY: API_KEY,
    });
    const agent = new AgentClient({ client: temporal.client, taskQueue });
    const handles: ConversationHandle[] = [];
    const results = new Map<string, ConversationResult | Error>();
    const approved = new Set<string>();
    const started = Date.now();
    const perWave = Math.ceil(CONVERSATIONS / KILLS);

    await supervisor.start();
    const startWave = async () => {
      for (let i = 0; i < perWave && handles.length < CONVERSATIONS; i++) {
        const index = handles.length;
        const prompt = `Crash test conversation ${index} ${taskQueue}`;
        script(prompt, index);
        const handle = await agent.start({
          prompt,
          tools: ['lookup', 'apply_change'],
          conversationId: `${taskQueue}-${index}`,
          modelHeartbeatTimeout: '3s',
          modelRetry: { initialInterval: '200ms', maximumInterval: '1s', maximumAttempts: 20 },
        });
        handles.push(handle);
        handle.result().then(
          (r) => results.set(handle.conversationId, r),
          (e: Error) => results.set(handle.conversationId, e),
        );
      }
    };

    // The approver decides through signals, which Temporal stores even while no worker runs.
    let approving = true;
    const approver = (async () => {
      while (approving) {
        for (const handle of handles) {
          if (results.has(handle.conversationId)) continue;
          // Bounded: while the worker is down nobody answers, and the server would hold the query for 30 s.
          const pending = await handle.pending({ timeoutMs: 2000 }).catch(() => []);
          for (const call of pending) {
            if (approved.has(call.toolUseId)) continue;
            await handle.workflow.signal(approveSignal, { toolUseId: call.toolUseId, by: 'crash-test-approver' });
            approved.add(call.toolUseId);
          }
        }
        await sleep(200);
      }
    })();

    await startWave();
    while (supervisor.kills < KILLS) {
      await sleep(400 + Math.floor(Math.random() * 1200));
      await supervisor.kill();
      await sleep(Math.floor(Math.random() * 300));
      await startWave();
      await supervisor.start();
    }
    while (results.size < CONVERSATIONS) {
      if (Date.now() - started > 600_000) throw new Error(`only ${results.size} of ${CONVERSATIONS} conversations finished`);
      await sleep(250);
    }
    approving = false;
    await approver;
    await supervisor.stop();

    const failures = [...results.entries()].filter(([, r]) => r instanceof Error);
    expect(failures.map(([id, e]) => `${id}: ${(e as Error).message}`)).toEqual([]);
    const transcriptProblems = [...results.entries()].flatMap(([id, r]) => checkTranscript(r as ConversationResult).map((p) => `${id}: ${p}`));
    expect(transcriptProblems).toEqual([]);

    const lines = fs.readFileSync(ledger, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LedgerLine);
    const applied = lines.filter((l) => l.event === 'applied');
    const expectedKeys = [...results.entries()].map(([id, r]) => `${id}:${(r as ConversationResult).transcript!.approvals[0]!.toolUseId}`);
    // Every approved change applied exactly once; retried attempts found the key and were dropped.
    expect(applied.map((l) => l.key).sort()).toEqual(expectedKeys.sort());
    const duplicates = lines.filter((l) => l.event === 'duplicate').length;
    const modelRequests = fake.requests.filter((r) => r.conversationKey?.includes(taskQueue)).length;

    writeFigures('worker-crash', {
      conversations: CONVERSATIONS,
      workerKills: supervisor.kills,
      workerStarts: supervisor.starts,
      completed: results.size - failures.length,
      approvedSideEffects: expectedKeys.length,
      appliedOnce: applied.length,
      duplicatesDropped: duplicates,
      lostOrRepeatedMessages: transcriptProblems.length,
      modelRequests,
      seconds: Math.round((Date.now() - started) / 1000),
    });
    expect(supervisor.kills).toBeGreaterThanOrEqual(KILLS);
  },
  SOAK ? 3_600_000 : 600_000,
);
