// docker-compose.yml's topology, run without containers: Temporal's server 1.29.1 (built from the Go module proxy) on
// PostgreSQL (Debian's), schemas and namespace made by the compose stack's own setup scripts, the image's worker
// command and the CLI against it, and a conversation that waits for an approval across a crash of the server.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { parse } from 'yaml';
import { reply, text, toolUse, FakeMessagesApi } from '../src/testing';
import type { ConversationResult } from '../src/workflows/types';
import { toolResultsOf } from './helpers/harness';
import { startPostgresCluster, type PostgresCluster } from './helpers/postgres';
import { findTemporalServer, temporalServerOnPostgres, TEMPORAL_SERVER_VERSION, type TemporalServer } from './helpers/temporal-server';
import { stopWorkerProcess } from './helpers/worker-process';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'lib', 'cli', 'main.js');
interface ComposeService {
  image?: string;
  environment?: Record<string, string>;
}
const compose = parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService> };
const workerEnvironment = compose.services.worker!.environment!;
const TASK_QUEUE = workerEnvironment.DURABLE_CLAUDE_TASK_QUEUE!;
const NAMESPACE = 'default';
const POSTGRES_USER = compose.services.postgresql!.environment!.POSTGRES_USER!;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runScript(script: string, env: NodeJS.ProcessEnv): Run {
  const run = spawnSync('sh', [path.join(ROOT, script)], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

const cliChildren = new Set<ReturnType<typeof spawn>>();

/** The built CLI as a child process; `done` resolves with what it printed once it exits. */
function cliProcess(args: string[], timeoutMs = 120_000): { done: Promise<Run>; stdout: () => string } {
  const child = spawn(process.execPath, [BIN, ...args, '--address', stack.server.address, '--namespace', NAMESPACE, '--task-queue', TASK_QUEUE], {
    env: { ...process.env, DURABLE_CLAUDE_EVENTS: process.env.DURABLE_CLAUDE_TEST_EVENTS_URL },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  cliChildren.add(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      cliChildren.delete(child);
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { done, stdout: () => stdout };
}

const cli = (args: string[]) => cliProcess(args).done;

interface Stack {
  dir: string;
  postgres: PostgresCluster;
  server: TemporalServer;
  fake: FakeMessagesApi;
  worker: ReturnType<typeof spawn>;
  workerOutput: () => string;
  connection: Connection;
  client: Client;
  /** The compose stack's temporal-schema job, run again as on every start of the stack. */
  setUpSchema: () => Run;
}
let stack: Stack;
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: npm test builds it first (npm run build)`);
  // Built from the Go module proxy the first time on a machine (a few minutes, said on stderr), then cached.
  const binaries = await findTemporalServer();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-claude-production-stack-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const postgres = await startPostgresCluster({ user: POSTGRES_USER, password: `pw-${randomUUID()}` });
  cleanups.push(() => postgres.stop());

  // The compose stack's temporal-schema job: its script, with the tool on PATH as the admin-tools image has it.
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(binaries.sqlTool.path, path.join(bin, 'temporal-sql-tool'));
  fs.symlinkSync(process.env.TEMPORAL_TEST_CLI!, path.join(bin, 'temporal'));
  const withTools = { PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` };
  const setUpSchema = () =>
    runScript('deploy/temporal/setup-schema.sh', {
      ...withTools,
      POSTGRES_HOST: postgres.host,
      POSTGRES_PORT: String(postgres.port),
      POSTGRES_USER: postgres.user,
      POSTGRES_PASSWORD: postgres.password,
    });
  const schema = setUpSchema();
  expect([schema.code, schema.stdout.trim().split('\n').pop()]).toEqual([0, 'schemas ready']);

  const server = await temporalServerOnPostgres(binaries.server.path, dir, {
    postgres,
    dynamicConfigFile: path.join(ROOT, 'deploy', 'temporal', 'dynamicconfig', 'durable-claude.yaml'),
  });
  cleanups.push(() => server.stop());
  await server.start();

  // The temporal-setup job: namespace and search attributes, with the CLI as `temporal` on PATH.
  const setup = runScript('deploy/temporal/setup-namespace.sh', { ...withTools, TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: NAMESPACE });
  expect([setup.code, setup.stdout.trim().split('\n').pop()]).toEqual([0, `namespace ${NAMESPACE} ready with AgentStatus, AgentPendingApprovals and AgentCostUsd`]);

  const fake = await FakeMessagesApi.start();
  cleanups.push(() => fake.close());
  // The image's start command with the compose file's settings, Claude being the fake Messages API and live output
  // the test run's nats-server (compose: NATS with JetStream).
  const worker = spawn(process.execPath, [path.join(ROOT, 'lib', 'worker.js')], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: NAMESPACE,
      DURABLE_CLAUDE_TASK_QUEUE: TASK_QUEUE,
      DURABLE_CLAUDE_EVENTS: process.env.DURABLE_CLAUDE_TEST_EVENTS_URL,
      ANTHROPIC_API_KEY: 'sk-ant-production-stack-test',
      ANTHROPIC_BASE_URL: fake.baseURL,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let workerOutput = '';
  worker.stdout.on('data', (d: Buffer) => (workerOutput += d.toString()));
  worker.stderr.on('data', (d: Buffer) => (workerOutput += d.toString()));
  cleanups.push(() => stopWorkerProcess(worker, 'SIGTERM'));
  for (let i = 0; i < 600 && !workerOutput.includes('durable-claude worker:') && worker.exitCode === null; i++) await sleep(100);
  expect(workerOutput).toContain(`durable-claude worker: ${server.address}, namespace ${NAMESPACE}, task queue ${TASK_QUEUE}`);

  const connection = await Connection.connect({ address: server.address });
  cleanups.push(() => connection.close());
  stack = { dir, postgres, server, fake, worker, workerOutput: () => workerOutput, connection, client: new Client({ connection, namespace: NAMESPACE }), setUpSchema };
}, 20 * 60_000);

afterAll(async () => {
  // A CLI still running (a failed test's follower) first: it would keep this process alive.
  await Promise.all([...cliChildren].map((child) => stopWorkerProcess(child, 'SIGKILL')));
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
}, 60_000);

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

async function historyOf(workflowId: string): Promise<HistoryEvent[]> {
  const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
  return history.events ?? [];
}

/** The ActivityTaskScheduled events of tool runs. */
const toolRunsScheduled = (events: HistoryEvent[]) => events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runTool');

/** The ActivityTaskCompleted events of tool runs. */
function toolRunsCompleted(events: HistoryEvent[]): HistoryEvent[] {
  const scheduled = new Set(toolRunsScheduled(events).map((e) => Number(e.eventId)));
  return events.filter((e) => e.activityTaskCompletedEventAttributes && scheduled.has(Number(e.activityTaskCompletedEventAttributes.scheduledEventId)));
}

test('the server matches the compose file: temporalio/server and admin-tools at the version the test builds', () => {
  expect(compose.services.temporal!.image).toBe(`temporalio/server:${TEMPORAL_SERVER_VERSION}`);
  expect(compose.services['temporal-schema']!.image).toMatch(new RegExp(`^temporalio/admin-tools:${TEMPORAL_SERVER_VERSION.replace(/\./g, '\\.')}-`));
  expect(fs.readFileSync(path.join(ROOT, 'deploy', 'temporal-server', 'go.mod'), 'utf8')).toMatch(new RegExp(`^require go\\.temporal\\.io/server v${TEMPORAL_SERVER_VERSION.replace(/\./g, '\\.')}$`, 'm'));
});

test('on PostgreSQL: parallel tools and an approval across a crash (kill -9) of the Temporal server, decided from the CLI, with nothing lost', async () => {
  const id = `production-stack-${randomUUID().slice(0, 8)}`;
  const prompt = `Weather in Paris and Oslo, the time in Paris, and email the team [${id}]`;
  const email = { to: 'team@example.com', subject: 'Paris and Oslo', body: 'Sunny in Paris, cold in Oslo.' };
  stack.fake.addScript({
    match: prompt,
    steps: [
      reply(
        text('Checking both cities and emailing the team.'),
        toolUse('get_weather', { location: 'Paris' }),
        toolUse('get_weather', { location: 'Oslo' }),
        toolUse('get_time', { timezone: 'Europe/Paris' }),
        toolUse('send_email', email),
      ),
      reply(text('Emailed the team.')),
    ],
  });

  // The user's terminal: `run --wait` follows the conversation and leaves the decision to someone else.
  const running = cliProcess(['run', prompt, '--wait', '--id', id], 5 * 60_000);

  // The three ungated calls run in parallel and finish; send_email waits for its approval.
  let pending: Array<{ toolUseId: string; toolName: string; input: unknown }> = [];
  let before: HistoryEvent[] = [];
  for (let i = 0; i < 300 && (pending.length === 0 || toolRunsCompleted(before).length < 3); i++) {
    await sleep(200);
    const listed = await cli(['pending', id, '--json']);
    // 3 (not found) until the other process has started the conversation.
    if (listed.code === 3) continue;
    expect([listed.code, listed.stderr]).toEqual([0, '']);
    pending = JSON.parse(listed.stdout) as typeof pending;
    before = await historyOf(id);
  }
  expect(pending).toEqual([expect.objectContaining({ toolName: 'send_email', input: email })]);
  // Parallel: the three were scheduled by one workflow task, and all three completed before the crash.
  const scheduledBefore = toolRunsScheduled(before);
  expect(scheduledBefore).toHaveLength(3);
  expect(new Set(scheduledBefore.map((e) => Number(e.activityTaskScheduledEventAttributes!.workflowTaskCompletedEventId))).size).toBe(1);
  expect(toolRunsCompleted(before)).toHaveLength(3);
  expect(running.stdout()).toContain('send_email waits for approval');

  // A crash: no shutdown, no flush; then the stack starts again on the same database, its schema job first
  // (compose runs it on every start: databases and schemas exist, nothing to do).
  await stack.server.kill();
  const schemaAgain = stack.setUpSchema();
  expect([schemaAgain.code, schemaAgain.stdout.trim().split('\n').pop()]).toEqual([0, 'schemas ready']);
  await stack.server.start();

  // The worker and the CLI reconnect by themselves: the same call is still waiting, as recorded in PostgreSQL.
  let afterRestart: typeof pending = [];
  for (let i = 0; i < 300 && afterRestart.length === 0; i++) {
    const listed = await cli(['pending', id, '--json']);
    if (listed.code === 0) afterRestart = JSON.parse(listed.stdout) as typeof pending;
    else await sleep(500);
  }
  expect(afterRestart).toEqual(pending);

  const approved = await cli(['approve', id, pending[0]!.toolUseId, '--by', 'ops@example.com']);
  expect([approved.code, approved.stdout]).toEqual([0, expect.stringContaining('approved send_email')]);

  // The follower that lived through the crash sees the conversation to its end.
  const finished = await running.done;
  expect([finished.code, finished.stderr]).toEqual([0, '']);
  expect(finished.stdout).toContain('claude › Emailed the team.');
  expect(finished.stdout).toMatch(new RegExp(`✔ completed · 2 turns · .* · conversation ${id}`));

  // Every tool call has its result, and the audit trail says who approved.
  const result = await stack.client.workflow.getHandle(id).result() as ConversationResult;
  expect(result.status).toBe('completed');
  const toolUseIds = result.transcript!.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : [])).filter((b) => b.type === 'tool_use').map((b) => (b as { id: string }).id);
  const results = result.transcript!.messages.flatMap((m) => toolResultsOf(m.content));
  expect(toolUseIds).toHaveLength(4);
  expect(results.map((r) => r.tool_use_id).sort()).toEqual([...toolUseIds].sort());
  expect(results.filter((r) => r.is_error)).toEqual([]);
  expect(result.transcript!.approvals).toEqual([expect.objectContaining({ toolUseId: pending[0]!.toolUseId, toolName: 'send_email', decision: 'approved', by: 'ops@example.com' })]);
  // Two model calls in all: nothing was asked of the model again after the crash.
  expect(stack.fake.requestsFor(id)).toHaveLength(2);

  // The history: ids 1…N without a gap, what was recorded before the crash kept as it was, each tool run once.
  const after = await historyOf(id);
  expect(after.map((e) => Number(e.eventId))).toEqual(after.map((_, i) => i + 1));
  expect(after.slice(0, before.length).map((e) => [Number(e.eventId), e.eventType])).toEqual(before.map((e) => [Number(e.eventId), e.eventType]));
  expect(toolRunsScheduled(after)).toHaveLength(4);
  expect(toolRunsCompleted(after)).toHaveLength(4);
  expect(after.at(-1)!.workflowExecutionCompletedEventAttributes).toBeTruthy();

  // What the CLI shows, read back from the server on PostgreSQL (visibility with the agent's search attributes too).
  const shown = await cli(['show', id]);
  expect(shown.code).toBe(0);
  expect(shown.stdout).toMatch(/approval: .* approved send_email \(toolu_.*\) by ops@example.com via update/);
  let listed = await cli(['list', '--status', 'completed', '--query', `WorkflowId = '${id}'`]);
  for (let i = 0; i < 50 && !listed.stdout.includes(id); i++) {
    await sleep(200);
    listed = await cli(['list', '--status', 'completed', '--query', `WorkflowId = '${id}'`]);
  }
  expect(listed.stdout).toMatch(new RegExp(`completed +0 pending +\\$[\\d.]+  ${id}`));
  // The worker lived through the crash too.
  expect(stack.worker.exitCode).toBeNull();
}, 10 * 60_000);
