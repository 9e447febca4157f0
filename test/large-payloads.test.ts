// Tool results bigger than Temporal's payload limit, through the tests' external storage (a filesystem store): the
// model gets them whole, history holds references, and every reader (the client, queries, a replay) resolves them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { StorageDriverClaim } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { FileSystemStorageDriver } from '../src/storage';
import { defineTool } from '../src/tools/define-tool';
import { replayHistory } from '../src/replay';
import { reply, text, toolUse } from '../src/testing';
import { transcriptQuery } from '../src/workflows/definitions';
import type { Worker } from '@temporalio/worker';
import { AgentClient } from '../src/client';
import { runToEnd } from './helpers/process';
import { startHarness, storedHistory, toolResultsOf, uniquePrompt, withWorker, type Harness } from './helpers/harness';
import { createTestWorker, fakeAnthropic, testStorage, testStorageDir, uniqueTaskQueue } from './helpers/temporal';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

const FIVE_MB = 5_000_000;
/** 5 MB of text that is not one repeated line, so a cut or a mix-up of two results would show. */
function bigText(bytes: number, seed: string): string {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `${seed} line ${i}: ${'x'.repeat(i % 97)}\n`;
    lines.push(line);
    size += line.length;
  }
  return lines.join('').slice(0, bytes);
}

const REFERENCE_TYPE = 'temporal.api.sdk.v1.ExternalStorageReference';
function isReference(payload: temporal.api.common.v1.IPayload | null | undefined): boolean {
  const messageType = payload?.metadata?.messageType;
  return messageType !== undefined && messageType !== null && Buffer.from(messageType).toString() === REFERENCE_TYPE;
}

test('a 5 MB tool result: the model receives all of it, history holds a reference, the client reads it whole', async () => {
  const content = bigText(FIVE_MB, 'report');
  const tools = [defineTool({ name: 'read_report', description: 'Read the whole report', input: z.object({}), run: () => content })];
  const prompt = uniquePrompt('Read the report');
  harness.fake.addScript({ match: prompt, steps: [reply(toolUse('read_report', {})), reply(text('Read all of it.'))] });
  const { result, transcript, history } = await withWorker(harness, { tools }, async (agent) => {
    const handle = await agent.start({ prompt, tools: ['read_report'] });
    const result = await handle.result();
    return { result, transcript: await handle.transcript(), history: await storedHistory(harness, handle.conversationId) };
  });
  expect(result.status).toBe('completed');

  // The model's second request carries the result, every byte of it.
  const [, second] = harness.fake.requestsFor(prompt);
  const sent = (second!.body as { messages: Array<{ content: unknown }> }).messages.flatMap((m) => toolResultsOf(m.content));
  expect(sent).toHaveLength(1);
  expect(sent[0]!.content).toBe(content);

  // History: the activity's result is a reference, and the whole history stays small.
  const completed = (history.events ?? []).map((e) => e.activityTaskCompletedEventAttributes).filter((a) => a?.result?.payloads?.length);
  const references = completed.filter((a) => isReference(a!.result!.payloads![0]));
  expect(references.length).toBeGreaterThanOrEqual(1);
  expect(temporal.api.history.v1.History.encode(history).finish().length).toBeLessThan(100_000);
  // …and the store holds the bytes (named by their sha256).
  expect(fs.readdirSync(path.join(testStorageDir(), 'sha256')).length).toBeGreaterThan(0);

  // The client's transcript (paged queries; a page over the threshold comes back by reference) is whole.
  const [toolResult] = toolResultsOf(transcript.messages[2]!.content);
  expect(toolResult!.content).toBe(content);
  expect(transcript.messages).toHaveLength(4);
});

test('a query answer over gRPC’s 4 MB limit comes back through the store, and a replay resolves the references', async () => {
  const content = bigText(FIVE_MB, 'dump');
  const tools = [defineTool({ name: 'dump', description: 'Dump everything', input: z.object({}), run: () => content })];
  const prompt = uniquePrompt('Dump everything');
  harness.fake.addScript({ match: prompt, steps: [reply(toolUse('dump', {})), reply(text('Dumped.'))] });
  const { whole, history } = await withWorker(harness, { tools }, async (agent) => {
    const handle = await agent.start({ prompt, tools: ['dump'] });
    await handle.result();
    // The whole transcript in one answer (no page): over 5 MB, past what gRPC carries inline.
    const whole = await harness.temporal.client.workflow.getHandle(handle.conversationId).query(transcriptQuery);
    return { whole, history: await storedHistory(harness, handle.conversationId) };
  });
  expect(toolResultsOf(whole.messages[2]!.content)[0]!.content).toBe(content);

  // The history as the server keeps it (references, as `temporal workflow show` prints it) replays with the store…
  const replayed = await replayHistory(history, { dataConverter: { externalStorage: testStorage() } });
  expect(replayed).toMatchObject({ ok: true });
  // …and without it the replay says what is missing instead of running on a reference.
  const blind = await replayHistory(history);
  expect(blind.ok).toBe(false);
  expect(blind.error).toMatch(/external storage/i);
});

describe('the CLI and `temporal workflow show` on a conversation with a 3 MB tool result', () => {
  const BIN = path.join(__dirname, '..', 'lib', 'cli', 'main.js');
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-claude-large-cli-'));
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
  // Not spawnSync: the worker answering the CLI's queries runs in this process. From a directory without a dev
  // store, so only --storage-dir (or its absence) decides.
  const run = (command: string, args: string[]) => runToEnd(command, args, { cwd: scratch, env: { ...process.env, DURABLE_CLAUDE_STORAGE_DIR: '' } });
  const content = bigText(3_000_000, 'page');
  const tools = [defineTool({ name: 'fetch_page', description: 'Fetch a page', input: z.object({}), run: () => content })];
  const taskQueue = uniqueTaskQueue('large-cli');
  let conversationId: string;
  let common: string[];
  // `show` asks the conversation by query, so a worker serves it while the CLI runs.
  let worker: Worker;
  let running: Promise<void>;

  beforeAll(async () => {
    if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: npm test builds it first (npm run build)`);
    worker = await createTestWorker(harness.temporal, { taskQueue, tools, anthropic: fakeAnthropic(harness.fake.baseURL) });
    running = worker.run();
    const prompt = uniquePrompt('Fetch the page');
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('fetch_page', {})), reply(text('Fetched.'))] });
    const handle = await new AgentClient({ client: harness.temporal.client, taskQueue }).start({ prompt, tools: ['fetch_page'] });
    await handle.result();
    conversationId = handle.conversationId;
    common = ['--address', harness.temporal.address, '--task-queue', taskQueue];
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
  });

  test('show and export resolve the references with --storage-dir; without the store they say what is missing', async () => {
    const shown = await run(process.execPath, [BIN, 'show', conversationId, ...common, '--storage-dir', testStorageDir()]);
    expect([shown.code, shown.stderr]).toEqual([0, '']);
    expect(shown.stdout).toContain('fetch_page');

    const out = path.join(scratch, 'export.json');
    const exported = await run(process.execPath, [BIN, 'export', conversationId, ...common, '--storage-dir', testStorageDir(), '--out', out]);
    expect(exported.code).toBe(0);
    const file = JSON.parse(fs.readFileSync(out, 'utf8')) as { transcript: { messages: Array<{ content: unknown }> } };
    expect(toolResultsOf(file.transcript.messages[2]!.content)[0]!.content).toBe(content);

    const blind = await run(process.execPath, [BIN, 'show', conversationId, ...common, '--storage-dir', 'off']);
    expect(blind.code).not.toBe(0);
    expect(blind.stderr).toMatch(/external storage is not configured/i);
  });

  test('`temporal workflow show` prints the reference; replay --file resolves it through the store', async () => {
    const temporalCli = process.env.TEMPORAL_TEST_CLI!;
    const shown = await run(temporalCli, ['workflow', 'show', '--address', harness.temporal.address, '--workflow-id', conversationId, '--output', 'json']);
    expect(shown.code).toBe(0);
    // The reference, not the 3 MB: Temporal's CLI has no store to read it from.
    expect(shown.stdout.length).toBeLessThan(200_000);
    // In the JSON output payload fields are base64: find the tool's result and decode it.
    const printed = JSON.parse(shown.stdout) as { events: Array<{ activityTaskCompletedEventAttributes?: { result?: { payloads?: Array<{ metadata: Record<string, string>; data: string }> } } }> };
    const results = printed.events.flatMap((e) => e.activityTaskCompletedEventAttributes?.result?.payloads ?? []);
    const reference = results.find((p) => Buffer.from(p.metadata.messageType ?? '', 'base64').toString() === REFERENCE_TYPE);
    expect(JSON.parse(Buffer.from(reference!.data, 'base64').toString())).toEqual({ driverName: 'durable-claude.fs', claimData: { hashAlgorithm: 'sha256', hashValue: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    const file = path.join(scratch, 'history.json');
    fs.writeFileSync(file, shown.stdout);

    const replayed = await run(process.execPath, [BIN, 'replay', '--file', file, '--storage-dir', testStorageDir()]);
    expect([replayed.code, replayed.stdout]).toEqual([0, expect.stringContaining('replays cleanly')]);
    const blind = await run(process.execPath, [BIN, 'replay', '--file', file, '--storage-dir', 'off']);
    expect(blind.code).not.toBe(0);
    expect(`${blind.stdout}${blind.stderr}`).toMatch(/external storage is not configured/i);
  });
});

describe('fileSystemStorage', () => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-claude-fs-store-'));
  afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));
  const driver = new FileSystemStorageDriver(directory);
  const payload = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify('y'.repeat(300_000))) };
  const filesIn = (dir: string): string[] => fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);

  test('a retried store names the same file and writes it once, whole (no temporary file left)', async () => {
    const [first] = await driver.store({}, [payload]);
    const [again] = await driver.store({}, [payload]);
    expect(again!.claimData).toEqual(first!.claimData);
    expect(filesIn(directory)).toEqual([first!.claimData.hashValue]);
    const [back] = await driver.retrieve({}, [first!]);
    expect(Buffer.from(back!.data!).equals(payload.data)).toBe(true);
  });

  test('a file whose bytes are not the referenced ones, a missing file and a claim that is not a hash are refused', async () => {
    const [claim] = await driver.store({}, [{ ...payload, data: Buffer.from('"changed later"') }]);
    const file = path.join(directory, 'sha256', claim!.claimData.hashValue!.slice(0, 2), claim!.claimData.hashValue!);
    fs.writeFileSync(file, 'tampered');
    await expect(driver.retrieve({}, [claim!])).rejects.toThrow(/different bytes than its reference names/);
    fs.rmSync(file);
    await expect(driver.retrieve({}, [claim!])).rejects.toThrow(/is not in .*is this the directory the worker stores to/);
    await expect(driver.retrieve({}, [new StorageDriverClaim({ hashAlgorithm: 'sha256', hashValue: '../../etc/passwd' })])).rejects.toThrow(/names no sha256 content hash/);
  });
});
