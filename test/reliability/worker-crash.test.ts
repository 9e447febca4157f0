// Worker crashes: the worker runs in its own process and is SIGKILLed at random moments while conversations with
// parallel tools and approval-gated side effects run. Every conversation must complete, every approved side effect
// must apply exactly once, and no transcript may lose or repeat a message.
// The kill schedule and the tools' delays come from one seed, printed in the test's name; DURABLE_CLAUDE_CRASH_SEED=<n>
// runs the same schedule again (process timing still varies, so a seed makes a failure likely to recur, not certain).
import type { ChildProcess } from 'node:child_process';
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
import { spawnWorkerProcess, stopWorkerProcess } from '../helpers/worker-process';
import { writeFigures } from './figures';
import type { LedgerLine } from './worker-process';

const SOAK = !!process.env.DURABLE_CLAUDE_SOAK;
const CONVERSATIONS = SOAK ? 100 : 30;
const KILLS = SOAK ? 40 : 10;
const API_KEY = 'sk-ant-crash-test-key-never-in-history';

function crashSeed(): number {
  const given = process.env.DURABLE_CLAUDE_CRASH_SEED;
  if (given === undefined || given === '') return Math.floor(Math.random() * 2 ** 32);
  const seed = Number(given);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new Error(`DURABLE_CLAUDE_CRASH_SEED must be an integer from 0 to 2^32-1; got ${given}`);
  return seed;
}
const SEED = crashSeed();

/** Numbers in [0, 1) from a seed: Marsaglia's xorshift32, enough to vary delays reproducibly. */
function seededRandom(seed: number): () => number {
  let state = (seed ^ 0x9e3779b9) >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
  for (let i = 0; i < 8; i++) next(); // nearby seeds start far apart
  return next;
}
// Two streams, so the tools' delays do not shift when the kill loop draws once more or less.
const killSchedule = seededRandom(SEED);
const toolDelays = seededRandom(SEED ^ 0x5bd1e995);
const between = (random: () => number, min: number, max: number) => min + Math.floor(random() * (max - min));

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
    this.#child = await spawnWorkerProcess(path.join(__dirname, 'worker-process.ts'), this.env);
    this.starts += 1;
  }

  async kill(): Promise<void> {
    if (await stopWorkerProcess(this.#child, 'SIGKILL')) this.kills += 1;
  }

  async stop(): Promise<void> {
    await stopWorkerProcess(this.#child, 'SIGTERM');
  }
}

/** The worker's tools take their delays from their input, so the seed decides them. */
function script(prompt: string, index: number) {
  const lookup = (query: string) => toolUse('lookup', { query, delayMs: between(toolDelays, 50, 300) });
  const change = { account: `acct-${index}`, cents: 100 + index, delayMs: between(toolDelays, 50, 250), settleMs: between(toolDelays, 0, 100) };
  fake.addScript({
    match: prompt,
    steps: [
      reply(text('Looking both up.'), lookup(`a${index}`), lookup(`b${index}`)),
      reply(toolUse('apply_change', change), lookup(`c${index}`)),
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
  `worker crashes (seed ${SEED}): ${CONVERSATIONS} conversations survive ${KILLS} SIGKILLs of the worker`,
  async () => {
    console.log(`[reliability] worker-crash seed ${SEED}; to repeat this run: DURABLE_CLAUDE_CRASH_SEED=${SEED}`);
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
      await sleep(between(killSchedule, 400, 1600));
      await supervisor.kill();
      await sleep(between(killSchedule, 0, 300));
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
      seed: SEED,
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
