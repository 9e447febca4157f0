// Versioned deploys with Temporal's Worker Deployment Versioning: two worker versions of one deployment side by side
// on one task queue, switched with the Temporal CLI's own `worker deployment` commands (the ones docs/versioning.md
// gives), on a dev server of this file's own whose drainage checks run every second instead of every 3 minutes.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import type { VersioningBehavior } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, NativeConnection, type Worker } from '@temporalio/worker';
import { z } from 'zod';
import { AgentClient, NoWorkerAnsweredError, type ConversationHandle } from '../src/client';
import { findTemporalCli, startDevServer, type DevServer } from '../src/devserver';
import { replayHistory } from '../src/replay';
import { FakeMessagesApi, reply, text, toolUse } from '../src/testing';
import { defineTool } from '../src/tools/define-tool';
import { createAgentWorker } from '../src/worker';
import { runToEnd } from './helpers/process';
import { fakeAnthropic, testStorage } from './helpers/temporal';
import { uniquePrompt } from './helpers/harness';

type History = temporal.api.history.v1.IHistory;
const { VersioningBehavior: BehaviorEnum } = temporal.api.enums.v1;

let server: DevServer;
let connection: Connection;
let nativeConnection: NativeConnection;
let client: Client;
let fake: FakeMessagesApi;
let cliPath: string;
let bundleDir: string;
/** The project's conversation workflow as shipped (global-setup's bundle of src/workflows). */
const v1Bundle = (): string => process.env.DURABLE_CLAUDE_TEST_BUNDLE!;

beforeAll(async () => {
  cliPath = (await findTemporalCli({ build: false })).path;
  server = await startDevServer({
    ui: false,
    dynamicConfig: {
      // A version that stopped being current is checked for open pinned workflows every second, not every 3 min.
      'matching.wv.VersionDrainageStatusVisibilityGracePeriod': '1s',
      'matching.wv.VersionDrainageStatusRefreshInterval': '1s',
    },
  });
  connection = await Connection.connect({ address: server.address });
  nativeConnection = await NativeConnection.connect({ address: server.address });
  client = new Client({ connection, namespace: 'default', dataConverter: { externalStorage: testStorage() } });
  fake = await FakeMessagesApi.start();
  bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-claude-versioning-'));
});

afterAll(async () => {
  await fake?.close();
  await connection?.close();
  await nativeConnection?.close();
  await server?.stop();
  if (bundleDir) fs.rmSync(bundleDir, { recursive: true, force: true });
});

const sendEmail = defineTool({
  name: 'send_email',
  description: 'Send an email',
  input: z.object({ to: z.email() }),
  needsApproval: true,
  run: ({ to }) => `sent to ${to}`,
});

function emailScript(prompt: string): void {
  fake.addScript({ match: prompt, steps: [reply(text('Sending.'), toolUse('send_email', { to: 'ada@example.com' })), reply(text('Sent.'))] });
}

const fixtureBundles = new Map<string, Promise<string>>();
/** A bundle of test/fixtures/versioning/<entry>.ts (built once per file run), as a path a worker loads. */
function fixtureBundle(entry: string): Promise<string> {
  let bundle = fixtureBundles.get(entry);
  if (!bundle) {
    const quiet = { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} } as never;
    bundle = bundleWorkflowCode({ workflowsPath: require.resolve(`./fixtures/versioning/${entry}`), logger: quiet }).then(({ code }) => {
      const file = path.join(bundleDir, `${entry}.js`);
      fs.writeFileSync(file, code);
      return file;
    });
    fixtureBundles.set(entry, bundle);
  }
  return bundle;
}

interface RunningWorker {
  stop(): Promise<void>;
}

/** A worker of `deploymentName` at `buildId`, running until stopped. */
async function startVersionedWorker(options: {
  deploymentName: string;
  buildId: string;
  taskQueue: string;
  behavior: VersioningBehavior;
  bundlePath: string;
}): Promise<RunningWorker> {
  const worker: Worker = await createAgentWorker({
    connection: nativeConnection,
    taskQueue: options.taskQueue,
    tools: [sendEmail],
    anthropic: fakeAnthropic(fake.baseURL),
    externalStorage: testStorage(),
    workflowBundle: { codePath: options.bundlePath },
    model: { heartbeatIntervalMs: 1_000 },
    worker: {
      identity: `worker-${options.buildId}`,
      workerDeploymentOptions: {
        version: { deploymentName: options.deploymentName, buildId: options.buildId },
        useWorkerVersioning: true,
        defaultVersioningBehavior: options.behavior,
      },
    },
  });
  const running = worker.run();
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        worker.shutdown();
        await running;
      })();
      return stopped;
    },
  };
}

async function temporalCli(args: string[]): Promise<string> {
  const run = await runToEnd(cliPath, [...args, '--address', server.address]);
  if (run.code !== 0) throw new Error(`temporal ${args.join(' ')} exited ${run.code}: ${run.stderr || run.stdout}`);
  return run.stdout;
}

/** `temporal worker deployment set-current-version`, asked again until the version's workers have polled. */
async function setCurrentVersion(deploymentName: string, buildId: string): Promise<void> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await temporalCli(['worker', 'deployment', 'set-current-version', '--deployment-name', deploymentName, '--build-id', buildId, '--yes']);
      return;
    } catch (err) {
      lastError = err;
      await sleep(200);
    }
  }
  throw lastError;
}

/**
 * `temporal worker deployment describe-version --output json`. The server's record of a version is a workflow that
 * continues as new whenever its state changes; a describe that lands in between says "not found", and is asked again.
 */
async function describeVersion(deploymentName: string, buildId: string): Promise<Record<string, unknown>> {
  const args = ['worker', 'deployment', 'describe-version', '--deployment-name', deploymentName, '--build-id', buildId, '--output', 'json'];
  for (let attempt = 1; ; attempt++) {
    try {
      return JSON.parse(await temporalCli(args)) as Record<string, unknown>;
    } catch (err) {
      if (attempt >= 20 || !/Worker Deployment Version not found/.test(String(err))) throw err;
      await sleep(100);
    }
  }
}

async function waitForPending(handle: ConversationHandle): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if ((await handle.pending()).length > 0) return;
    await sleep(50);
  }
  throw new Error(`${handle.conversationId} never asked for an approval`);
}

/** Who completed each workflow task of a history: the deployment version and the behaviour it declared. */
function workflowTaskVersions(history: History): Array<{ buildId: string | undefined; behavior: string }> {
  return (history.events ?? []).flatMap((event) => {
    const completed = event.workflowTaskCompletedEventAttributes;
    if (!completed) return [];
    return [{ buildId: completed.deploymentVersion?.buildId ?? undefined, behavior: BehaviorEnum[completed.versioningBehavior ?? 0]! }];
  });
}

const fetchHistory = (conversationId: string): Promise<History> => client.workflow.getHandle(conversationId).fetchHistory();

/** The versions a conversation's workflow tasks were completed by, in order, as the server recorded them. */
const completedBy = (history: History): string[] => workflowTaskVersions(history).map(({ buildId, behavior }) => `${buildId} ${behavior}`);

/** Which worker ran the send_email tool: the identity in its ActivityTaskStarted event. */
function toolRunBy(history: History): string | undefined {
  const events = history.events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runTool');
  const started = events.find((e) => Number(e.activityTaskStartedEventAttributes?.scheduledEventId ?? -1) === Number(scheduled?.eventId));
  return started?.activityTaskStartedEventAttributes?.identity ?? undefined;
}

/** `drainageInfo` as `describe-version --output json` prints it. */
interface DrainageInfo {
  drainageStatus: 'draining' | 'drained';
  lastChangedTime: string;
  lastCheckedTime: string;
}

/** Polls `describe-version` until its drainage status is `status`; a bound against hanging, not a measure. */
async function drainageStatusBecomes(deploymentName: string, buildId: string, status: 'draining' | 'drained'): Promise<void> {
  let seen: DrainageInfo | null = null;
  for (let i = 0; i < 150; i++) {
    seen = (await describeVersion(deploymentName, buildId)).drainageInfo as DrainageInfo | null;
    if (seen?.drainageStatus === status) return;
    await sleep(200);
  }
  throw new Error(`${deploymentName}.${buildId} never became ${status}; last drainage info ${JSON.stringify(seen)}`);
}

/** The drainage info of a version once the server has checked it again after its status last changed. */
async function drainageAfterACheck(deploymentName: string, buildId: string): Promise<DrainageInfo> {
  let seen: DrainageInfo | null = null;
  for (let i = 0; i < 150; i++) {
    seen = (await describeVersion(deploymentName, buildId)).drainageInfo as DrainageInfo | null;
    if (seen && Date.parse(seen.lastCheckedTime) > Date.parse(seen.lastChangedTime)) return seen;
    await sleep(200);
  }
  throw new Error(`${deploymentName}.${buildId} was never checked for draining; last drainage info ${JSON.stringify(seen)}`);
}

async function approveFirstPending(handle: ConversationHandle): Promise<void> {
  const [pending] = await handle.pending();
  await handle.approve(pending!.toolUseId, { by: 'alice@example.com' });
}

describe('versioned deploys: two worker versions of one deployment on one task queue', () => {
  test('pinned: a conversation waiting for approval on v1 finishes on v1 after v2 becomes current, new ones start on v2, and v1 stops once drained', async () => {
    const deploymentName = `agents-${randomUUID()}`;
    const taskQueue = `versioning-${randomUUID()}`;
    const agent = new AgentClient({ client, taskQueue });
    const v1 = await startVersionedWorker({ deploymentName, buildId: 'v1', taskQueue, behavior: 'PINNED', bundlePath: v1Bundle() });
    let v2: RunningWorker | undefined;
    try {
      await setCurrentVersion(deploymentName, 'v1');
      const prompt = uniquePrompt('Email Ada');
      emailScript(prompt);
      const waiting = await agent.start({ prompt, tools: ['send_email'] });
      await waitForPending(waiting);
      const tasksBeforeApproval = workflowTaskVersions(await fetchHistory(waiting.conversationId)).length;

      v2 = await startVersionedWorker({ deploymentName, buildId: 'v2', taskQueue, behavior: 'PINNED', bundlePath: await fixtureBundle('workflows-v2') });
      await setCurrentVersion(deploymentName, 'v2');
      // v1 is no longer current, and the server's check of it found the open conversation pinned to it.
      expect(await drainageAfterACheck(deploymentName, 'v1')).toMatchObject({ drainageStatus: 'draining' });

      const hello = uniquePrompt('Hello');
      fake.addScript({ match: hello, steps: [reply(text('Hi.'))] });
      const fresh = await agent.start({ prompt: hello, tools: [] });
      expect((await fresh.result()).status).toBe('completed');
      expect(new Set(completedBy(await fetchHistory(fresh.conversationId)))).toEqual(new Set(['v2 VERSIONING_BEHAVIOR_PINNED']));
      expect((await fresh.describe()).memo).toEqual({ startedBy: 'v2', finishedBy: 'v2' });

      await approveFirstPending(waiting);
      const result = await waiting.result();
      expect(result.status).toBe('completed');
      expect(result.transcript!.turns[0]!.toolCalls[0]).toMatchObject({ toolName: 'send_email', gated: true, outcome: 'ok' });
      const history = await fetchHistory(waiting.conversationId);
      // The approval, the tool run and the last model turn all came after v2 became current, and all ran on v1.
      expect(workflowTaskVersions(history).length).toBeGreaterThan(tasksBeforeApproval);
      expect(new Set(completedBy(history))).toEqual(new Set(['v1 VERSIONING_BEHAVIOR_PINNED']));
      expect(toolRunBy(history)).toBe('worker-v1');
      // v2's code, which writes a memo, never ran it.
      expect((await waiting.describe()).memo ?? {}).toEqual({});
      expect((await waiting.describe()).raw.workflowExecutionInfo?.versioningInfo).toMatchObject({
        behavior: BehaviorEnum.VERSIONING_BEHAVIOR_PINNED,
        deploymentVersion: { deploymentName, buildId: 'v1' },
      });

      // What docs/versioning.md says to check before stopping a version's workers.
      await drainageStatusBecomes(deploymentName, 'v1', 'drained');
      await v1.stop();
      // The result is in history; queries on a closed conversation still go to the version it was pinned to.
      expect((await waiting.result()).status).toBe('completed');
      await expect(waiting.state({ timeoutMs: 2_000 })).rejects.toThrow(NoWorkerAnsweredError);
    } finally {
      await v1.stop();
      await v2?.stop();
    }
  });

  test('auto-upgrade: a conversation waiting on v1 moves to v2 when v2 becomes current, and replays there through patched()', async () => {
    const v2BundlePath = await fixtureBundle('workflows-v2');
    const v2Code = fs.readFileSync(v2BundlePath, 'utf8');
    const unguardedCode = fs.readFileSync(await fixtureBundle('workflows-v2-unguarded'), 'utf8');
    const deploymentName = `agents-${randomUUID()}`;
    const taskQueue = `versioning-${randomUUID()}`;
    const agent = new AgentClient({ client, taskQueue });
    const v1 = await startVersionedWorker({ deploymentName, buildId: 'v1', taskQueue, behavior: 'AUTO_UPGRADE', bundlePath: v1Bundle() });
    let v2: RunningWorker | undefined;
    try {
      await setCurrentVersion(deploymentName, 'v1');
      const prompt = uniquePrompt('Email Ada');
      emailScript(prompt);
      const waiting = await agent.start({ prompt, tools: ['send_email'] });
      await waitForPending(waiting);
      const historyOnV1 = await fetchHistory(waiting.conversationId);

      v2 = await startVersionedWorker({ deploymentName, buildId: 'v2', taskQueue, behavior: 'AUTO_UPGRADE', bundlePath: v2BundlePath });
      await setCurrentVersion(deploymentName, 'v2');
      // Nothing is pinned to v1: it drains at once, and its workers can stop while the conversation still waits.
      await drainageStatusBecomes(deploymentName, 'v1', 'drained');
      await v1.stop();

      const hello = uniquePrompt('Hello');
      fake.addScript({ match: hello, steps: [reply(text('Hi.'))] });
      const fresh = await agent.start({ prompt: hello, tools: [] });
      expect((await fresh.result()).status).toBe('completed');
      expect((await fresh.describe()).memo).toEqual({ startedBy: 'v2', finishedBy: 'v2' });

      await approveFirstPending(waiting);
      const result = await waiting.result();
      expect(result.status).toBe('completed');
      expect(result.transcript!.turns[0]!.toolCalls[0]).toMatchObject({ toolName: 'send_email', gated: true, outcome: 'ok' });
      const history = await fetchHistory(waiting.conversationId);
      const onV1 = completedBy(historyOnV1);
      const after = completedBy(history).slice(onV1.length);
      expect(new Set(onV1)).toEqual(new Set(['v1 VERSIONING_BEHAVIOR_AUTO_UPGRADE']));
      expect(after.length).toBeGreaterThan(0);
      expect(new Set(after)).toEqual(new Set(['v2 VERSIONING_BEHAVIOR_AUTO_UPGRADE']));
      expect(toolRunBy(history)).toBe('worker-v2');
      // v2 replayed v1's start without the memo (no marker there), and wrote the one at the end.
      expect((await waiting.describe()).memo).toEqual({ finishedBy: 'v2' });

      // The history v1 left replays on v1 and on v2; without patched(), v2 could not have taken it over.
      expect(await replayHistory(historyOnV1, { workflowBundle: { codePath: v1Bundle() } })).toMatchObject({ ok: true });
      expect(await replayHistory(historyOnV1, { workflowBundle: { code: v2Code } })).toMatchObject({ ok: true });
      const unguarded = await replayHistory(historyOnV1, { workflowBundle: { code: unguardedCode } });
      expect(unguarded.ok).toBe(false);
      expect(unguarded.error).toMatch(/nondetermin/i);
      // The finished history replays on v2; v1 cannot replay what v2 added, so rolling v1 back as current would
      // break such conversations (docs/versioning.md).
      expect(await replayHistory(history, { workflowBundle: { code: v2Code } })).toMatchObject({ ok: true });
      const onV1Code = await replayHistory(history, { workflowBundle: { codePath: v1Bundle() } });
      expect(onV1Code.ok).toBe(false);
      expect(onV1Code.error).toMatch(/patch marker encountered for change versioning-test-code-version-memo/);
    } finally {
      await v1.stop();
      await v2?.stop();
    }
  });

  test('pinned: conversations still waiting on v1 move to v2 in one batch once their histories replay on v2, and v1 retires while they wait', async () => {
    const v2BundlePath = await fixtureBundle('workflows-v2');
    const deploymentName = `agents-${randomUUID()}`;
    const taskQueue = `versioning-${randomUUID()}`;
    const agent = new AgentClient({ client, taskQueue });
    const v1 = await startVersionedWorker({ deploymentName, buildId: 'v1', taskQueue, behavior: 'PINNED', bundlePath: v1Bundle() });
    let v2: RunningWorker | undefined;
    try {
      await setCurrentVersion(deploymentName, 'v1');
      const prompt = uniquePrompt('Email Ada');
      emailScript(prompt);
      const waiting = await agent.start({ prompt, tools: ['send_email'] });
      await waitForPending(waiting);
      const historyOnV1 = await fetchHistory(waiting.conversationId);

      v2 = await startVersionedWorker({ deploymentName, buildId: 'v2', taskQueue, behavior: 'PINNED', bundlePath: v2BundlePath });
      await setCurrentVersion(deploymentName, 'v2');
      // What `durable-claude replay <id>` checks, run from v2's build: v2's code takes this history over.
      expect(await replayHistory(historyOnV1, { workflowBundle: { codePath: v2BundlePath } })).toMatchObject({ ok: true });
      await temporalCli([
        'workflow', 'update-options',
        '--query', `TemporalWorkerDeploymentVersion = '${deploymentName}:v1' AND ExecutionStatus = 'Running'`,
        '--versioning-override-behavior', 'pinned',
        '--versioning-override-deployment-name', deploymentName,
        '--versioning-override-build-id', 'v2',
        '--yes',
      ]);
      // The batch runs on the server: v1 drains once it has moved the conversation (still waiting) to v2.
      await drainageStatusBecomes(deploymentName, 'v1', 'drained');
      expect((await waiting.describe()).raw.workflowExecutionInfo?.versioningInfo?.versioningOverride).toMatchObject({
        pinned: { version: { deploymentName, buildId: 'v2' } },
      });
      expect(await waiting.pending()).toHaveLength(1);
      await v1.stop();

      await approveFirstPending(waiting);
      const result = await waiting.result();
      expect(result.status).toBe('completed');
      expect(result.transcript!.turns[0]!.toolCalls[0]).toMatchObject({ toolName: 'send_email', gated: true, outcome: 'ok' });
      const history = await fetchHistory(waiting.conversationId);
      const onV1 = completedBy(historyOnV1);
      expect(new Set(onV1)).toEqual(new Set(['v1 VERSIONING_BEHAVIOR_PINNED']));
      expect(new Set(completedBy(history).slice(onV1.length))).toEqual(new Set(['v2 VERSIONING_BEHAVIOR_PINNED']));
      expect(toolRunBy(history)).toBe('worker-v2');
      expect((await waiting.describe()).memo).toEqual({ finishedBy: 'v2' });
    } finally {
      await v1.stop();
      await v2?.stop();
    }
  });

  test("a workflows module can pin conversations whatever the worker's default: setWorkflowOptions wins over defaultVersioningBehavior", async () => {
    const deploymentName = `agents-${randomUUID()}`;
    const taskQueue = `versioning-${randomUUID()}`;
    const agent = new AgentClient({ client, taskQueue });
    const worker = await startVersionedWorker({ deploymentName, buildId: 'v1', taskQueue, behavior: 'AUTO_UPGRADE', bundlePath: await fixtureBundle('workflows-pinned') });
    try {
      await setCurrentVersion(deploymentName, 'v1');
      const hello = uniquePrompt('Hello');
      fake.addScript({ match: hello, steps: [reply(text('Hi.'))] });
      const conversation = await agent.start({ prompt: hello, tools: [] });
      expect((await conversation.result()).status).toBe('completed');
      expect(new Set(completedBy(await fetchHistory(conversation.conversationId)))).toEqual(new Set(['v1 VERSIONING_BEHAVIOR_PINNED']));
      expect((await conversation.describe()).raw.workflowExecutionInfo?.versioningInfo?.behavior).toBe(BehaviorEnum.VERSIONING_BEHAVIOR_PINNED);
    } finally {
      await worker.stop();
    }
  });
});
