// What a conversation costs, where people look: the result, the state query, `show`, the per-turn line of `run`,
// and the AgentCostUsd search attribute behind `list --min-cost` and `--sort cost`. The built CLI as a child process,
// a real dev server and worker, and the fake Messages API with each reply's usage scripted, so costs are exact.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@temporalio/client';
import Long from 'long';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { AgentClient, type ConversationSummary } from '../src/client';
import { summaryLine } from '../src/cli/follow';
import { exampleTools } from '../src/examples/tools';
import { costOfUsage, formatUsd, priceOf, type BilledUsage } from '../src/pricing/cost';
import { AgentCostUsdKey, AgentPendingApprovalsKey, AgentStatusKey } from '../src/search-attributes';
import { reply, text, toolUse } from '../src/testing';
import type { NatsEventStore } from '../src/streaming/nats-event-store';
import { DEFAULT_MODEL, type ConversationOptions } from '../src/workflows/types';
import { connectTestEventStore, testEventsUrl } from './helpers/events';
import { startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';
import { createTestWorker, fakeAnthropic, uniqueTaskQueue } from './helpers/temporal';

const BIN = path.join(__dirname, '..', 'lib', 'cli', 'main.js');

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to its end, without an event store unless the arguments name one. */
function cli(args: string[]): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, DURABLE_CLAUDE_EVENTS: undefined };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  child.stdin.end('');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Calls `read` until `done` holds of what it returns (visibility is eventually consistent), for at most 30 s. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  let value = await read();
  for (let i = 0; i < 150 && !done(value); i++) {
    await sleep(200);
    value = await read();
  }
  return value;
}

let harness: Harness;
let store: NatsEventStore;
beforeAll(async () => {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: npm test builds it first (npm run build)`);
  harness = await startHarness();
  store = await connectTestEventStore();
});
afterAll(async () => {
  await store.close();
  await harness.close();
});

const tools = exampleTools();
const price = priceOf(DEFAULT_MODEL)!;
const costOf = (usage: BilledUsage) => costOfUsage(usage, price);

// A turn that read most of its prompt from the cache, and one that wrote more of it.
const TURN_1 = { input_tokens: 310, cache_read_input_tokens: 1_820, cache_creation_input_tokens: 95, output_tokens: 42 };
const TURN_2 = { input_tokens: 50, cache_read_input_tokens: 2_200, cache_creation_input_tokens: 400, output_tokens: 120 };
const TURN_1_LINE = `  · turn 1 · 310 input + 1,820 cache read + 95 cache write / 42 output tokens · ${formatUsd(costOf(TURN_1))}`;
const TURN_2_LINE = `  · turn 2 · 50 input + 2,200 cache read + 400 cache write / 120 output tokens · ${formatUsd(costOf(TURN_2))}`;

function weatherScript(prompt: string): void {
  harness.fake.addScript({
    match: prompt,
    steps: [
      { ...reply(text('Checking.'), toolUse('get_weather', { location: 'Paris' })), usage: TURN_1 },
      { ...reply(text('Sunny in Paris.')), usage: TURN_2 },
    ],
  });
}

describe('a priced conversation', () => {
  test('its result, state query and show carry the cost; run prints each turn with its cache reads and cost', async () => {
    const prompt = uniquePrompt('Weather in Paris, priced');
    weatherScript(prompt);
    const taskQueue = uniqueTaskQueue('cost');
    const id = `cost-run-${randomUUID()}`;
    const total = costOf(TURN_1) + costOf(TURN_2);
    await withWorker(harness, { tools, taskQueue }, async (agent) => {
      // No event store: the follower polls the transcript and prints each turn's line from its record.
      const run = await cli(['run', prompt, '--tools', 'get_weather', '--yes', '--id', id, '--address', harness.temporal.address, '--task-queue', taskQueue]);
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      const lines = run.stdout.split('\n');
      expect(lines).toEqual(expect.arrayContaining([TURN_1_LINE, TURN_2_LINE]));
      // Each turn's line follows its reply.
      expect(lines.indexOf(TURN_1_LINE)).toBeGreaterThan(lines.indexOf('claude › Checking.'));
      expect(lines.indexOf(TURN_2_LINE)).toBeGreaterThan(lines.indexOf('claude › Sunny in Paris.'));
      expect(run.stdout).toContain(
        `✔ completed · 2 turns · 360 input + 4,020 cache read + 495 cache write / 162 output tokens · ${formatUsd(total)} · `,
      );

      const handle = agent.getHandle(id);
      const result = await handle.result();
      expect(result.usage).toMatchObject({ inputTokens: 360, cacheReadInputTokens: 4_020, cacheCreationInputTokens: 495, outputTokens: 162 });
      expect(result.usage.costUsd).toBeCloseTo(total, 9);
      expect(result.transcript!.turns.map((t) => t.usage.costUsd)).toEqual([expect.closeTo(costOf(TURN_1), 9), expect.closeTo(costOf(TURN_2), 9)]);
      const state = await handle.state();
      expect(state.usage.costUsd).toBeCloseTo(total, 9);
      // The search attribute is the workflow's own (describe reads it from the run, not from visibility).
      expect((await handle.describe()).typedSearchAttributes.get(AgentCostUsdKey)).toBeCloseTo(total, 9);
    });

    // No worker now: a finished conversation is shown from its result.
    const shown = await cli(['show', id, '--address', harness.temporal.address]);
    expect(shown.code).toBe(0);
    expect(shown.stdout.split('\n')[0]).toBe(
      `conversation ${id} · completed · 2 turns · 360 input + 4,020 cache read + 495 cache write / 162 output tokens · ${formatUsd(total)}`,
    );
  });

  test('with live output, each turn_finished event prints the turn line', async () => {
    const prompt = uniquePrompt('Weather in Paris, priced and streamed');
    weatherScript(prompt);
    const taskQueue = uniqueTaskQueue('cost-live');
    await withWorker(harness, { tools, taskQueue, events: store }, async () => {
      const run = await cli(['run', prompt, '--tools', 'get_weather', '--yes', '--events', testEventsUrl(), '--address', harness.temporal.address, '--task-queue', taskQueue]);
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      const lines = run.stdout.split('\n');
      expect(lines).toEqual(expect.arrayContaining([TURN_1_LINE, TURN_2_LINE, 'claude › Sunny in Paris.']));
      expect(lines.indexOf(TURN_2_LINE)).toBeGreaterThan(lines.indexOf('claude › Sunny in Paris.'));
    });
  });
});

describe('the fake API\'s own prompt cache (usage not scripted)', () => {
  test('turn 2 reads the prefix turn 1 wrote: the turn lines, show and the cost carry the counts the API reported', async () => {
    const prompt = uniquePrompt('Weather in Paris, cached');
    // Over the 512-token minimum of claude-sonnet-5-5, so the automatic breakpoint caches the prefix.
    const system = `You answer questions about the weather. ${'Use the get_weather tool for current conditions and say where the figures came from. '.repeat(40)}`;
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('get_weather', { location: 'Paris' })), reply(text('Sunny in Paris.'))] });
    const taskQueue = uniqueTaskQueue('cost-cached');
    const id = `cost-cached-${randomUUID()}`;
    await withWorker(harness, { tools, taskQueue }, async () => {
      const run = await cli(['run', prompt, '--tools', 'get_weather', '--system', system, '--yes', '--id', id, '--address', harness.temporal.address, '--task-queue', taskQueue]);
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      const result = await new AgentClient({ client: harness.temporal.client, taskQueue }).getHandle(id).result();
      const [first, second] = result.transcript!.turns.map((turn) => turn.usage);
      expect(first!.cacheCreationInputTokens).toBeGreaterThan(0);
      expect(second!.cacheReadInputTokens).toBeGreaterThan(0);
      // Each turn's line, from the counts the API reported and the cost the worker recorded.
      for (const [index, usage] of [first!, second!].entries()) {
        const billed = { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens, cache_read_input_tokens: usage.cacheReadInputTokens, cache_creation_input_tokens: usage.cacheCreationInputTokens };
        expect(usage.costUsd).toBeCloseTo(costOf(billed), 9);
        const line = `  · turn ${index + 1} · ${usage.inputTokens.toLocaleString('en-US')} input + ${usage.cacheReadInputTokens.toLocaleString('en-US')} cache read + ${usage.cacheCreationInputTokens.toLocaleString('en-US')} cache write / ${usage.outputTokens.toLocaleString('en-US')} output tokens · ${formatUsd(usage.costUsd)}`;
        expect(run.stdout.split('\n')).toContain(line);
      }
      expect(result.usage.costUsd).toBeCloseTo(first!.costUsd! + second!.costUsd!, 9);
      const shown = await cli(['show', id, '--address', harness.temporal.address]);
      expect(shown.stdout.split('\n')[0]).toContain(` + ${result.usage.cacheReadInputTokens.toLocaleString('en-US')} cache read + `);
      expect(shown.stdout.split('\n')[0]).toMatch(new RegExp(`· \\${formatUsd(result.usage.costUsd)}$`));
    });
  });
});

describe('AgentCostUsd, list --min-cost and --sort cost', () => {
  test('the attribute follows what each conversation spent; --min-cost filters, --sort cost puts the dearest first', async () => {
    const taskQueue = uniqueTaskQueue('cost-list');
    const common = ['--address', harness.temporal.address, '--task-queue', taskQueue];
    const spend = {
      dear: { input_tokens: 50_000, output_tokens: 2_000 },
      cheap: { input_tokens: 100, output_tokens: 10 },
      mid: { input_tokens: 5_000, output_tokens: 500 },
    };
    const ids: Record<keyof typeof spend, string> = { dear: '', cheap: '', mid: '' };
    await withWorker(harness, { taskQueue }, async (agent) => {
      // Started dearest first, so Temporal's newest-first order is not the order by cost.
      for (const name of ['dear', 'cheap', 'mid'] as const) {
        const prompt = uniquePrompt(`A ${name} question`);
        harness.fake.addScript({ match: prompt, steps: [{ ...reply(text(`A ${name} answer.`)), usage: spend[name] }] });
        const handle = await agent.start({ prompt, conversationId: `cost-${name}-${randomUUID()}` });
        ids[name] = handle.conversationId;
        expect((await handle.result()).usage.costUsd).toBeCloseTo(costOf(spend[name]), 9);
      }
    });
    const expected = (row: ConversationSummary) => costOf(spend[(Object.keys(ids) as Array<keyof typeof ids>).find((name) => ids[name] === row.conversationId)!]);
    const agent = new AgentClient({ client: harness.temporal.client, taskQueue });
    const query = `TaskQueue = '${taskQueue}'`;
    // Visibility catches up with the runs: wait until every row carries its final cost.
    const rows = await eventually(
      () => agent.list(query),
      (found) => found.length === 3 && found.every((row) => row.status === 'completed' && row.costUsd !== undefined && Math.abs(row.costUsd - expected(row)) < 1e-9),
    );
    expect(rows.map((row) => [row.conversationId, row.costUsd])).toEqual(
      expect.arrayContaining((['dear', 'cheap', 'mid'] as const).map((name) => [ids[name], expect.closeTo(costOf(spend[name]), 9)])),
    );

    const byCost = await agent.list(query, 10, { sortBy: 'cost' });
    expect(byCost.map((row) => row.conversationId)).toEqual([ids.dear, ids.mid, ids.cheap]);
    // The limit applies after sorting: the dearest, not the newest.
    expect((await agent.list(query, 1, { sortBy: 'cost' })).map((row) => row.conversationId)).toEqual([ids.dear]);
    await expect(agent.list(query, 10, { sortBy: 'price' as never })).rejects.toThrow(/sortBy must be 'startTime' or 'cost'/);

    const threshold = (costOf(spend.cheap) + costOf(spend.mid)) / 2;
    const aboveCheap = await cli(['list', '--query', query, '--min-cost', threshold.toFixed(6), '--json', ...common]);
    expect(aboveCheap.code).toBe(0);
    const aboveCheapIds = (JSON.parse(aboveCheap.stdout) as ConversationSummary[]).map((row) => row.conversationId);
    expect(aboveCheapIds.sort()).toEqual([ids.dear, ids.mid].sort());
    const dearOnly = await cli(['list', '--query', query, '--min-cost', `$${((costOf(spend.mid) + costOf(spend.dear)) / 2).toFixed(4)}`, '--json', ...common]);
    expect((JSON.parse(dearOnly.stdout) as ConversationSummary[]).map((row) => row.conversationId)).toEqual([ids.dear]);

    const sorted = await cli(['list', '--query', query, '--sort', 'cost', ...common]);
    expect(sorted.code).toBe(0);
    const table = sorted.stdout.trim().split('\n');
    expect(table.map((line) => line.split(/\s+/).pop())).toEqual([ids.dear, ids.mid, ids.cheap]);
    // The cost column, as formatUsd writes dollars.
    expect(table[0]).toMatch(new RegExp(`completed +0 pending +\\${formatUsd(costOf(spend.dear))}  ${ids.dear}$`));
    expect(table[2]).toContain(`${formatUsd(costOf(spend.cheap))}  ${ids.cheap}`);

    for (const bad of [['--min-cost', 'lots'], ['--min-cost=-1'], ['--min-cost', '1e3'], ['--sort', 'price']]) {
      const refused = await cli(['list', ...bad, ...common]);
      expect([bad, refused.code]).toEqual([bad, 2]);
      expect(refused.stderr).toMatch(bad[0] === '--sort' ? /--sort must be start or cost/ : /--min-cost must be an amount of US dollars such as 0\.05, got '/);
    }
  });
});

describe('a model without a price', () => {
  test('its cost is unknown everywhere (null, "cost unknown"), never $0, and it has no AgentCostUsd', async () => {
    const prompt = uniquePrompt('A question for an unpriced model');
    harness.fake.addScript({ match: prompt, steps: [{ ...reply(text('An answer nobody priced.')), usage: { input_tokens: 200, output_tokens: 30 } }] });
    const taskQueue = uniqueTaskQueue('cost-unpriced');
    const id = `cost-unpriced-${randomUUID()}`;
    const model = 'claude-unpriced-test-model';
    expect(priceOf(model)).toBeUndefined();
    await withWorker(harness, { taskQueue }, async () => {
      const run = await cli(['run', prompt, '--tools', '', '--model', model, '--id', id, '--address', harness.temporal.address, '--task-queue', taskQueue]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('  · turn 1 · 200 input + 0 cache read + 0 cache write / 30 output tokens · cost unknown\n');
      expect(run.stdout).toMatch(/✔ completed · 1 turn · .* output tokens · cost unknown · /);
      expect(run.stdout).not.toContain('$0');
      const agent = new AgentClient({ client: harness.temporal.client, taskQueue });
      const handle = agent.getHandle(id);
      expect((await handle.result()).usage.costUsd).toBeNull();
      expect((await handle.state()).usage.costUsd).toBeNull();
      expect((await handle.describe()).typedSearchAttributes.get(AgentCostUsdKey)).toBeUndefined();
    });
    const shown = await cli(['show', id, '--address', harness.temporal.address]);
    expect(shown.stdout.split('\n')[0]).toBe(`conversation ${id} · completed · 1 turn · 200 input + 0 cache read + 0 cache write / 30 output tokens · cost unknown`);

    const agent = new AgentClient({ client: harness.temporal.client });
    const [row] = await eventually(
      () => agent.list(`WorkflowId = '${id}'`),
      (found) => found[0]?.status === 'completed',
    );
    expect(row).toMatchObject({ conversationId: id, status: 'completed' });
    expect(row!.costUsd).toBeUndefined();
    const listed = await cli(['list', '--query', `WorkflowId = '${id}'`, '--address', harness.temporal.address]);
    expect(listed.stdout).toMatch(new RegExp(`completed +0 pending +cost unknown  ${id}`));
    // An unknown cost is not "at least $0".
    expect((await cli(['list', '--query', `WorkflowId = '${id}'`, '--min-cost', '0', '--address', harness.temporal.address])).stdout).toBe('no conversations\n');
  });
});

describe('a budget', () => {
  test('budget_exceeded: show and the summary line say why, with the budget beside what was spent', async () => {
    const prompt = uniquePrompt('A question the budget cannot pay for');
    harness.fake.addScript({ match: prompt, steps: [reply(text('never sent'))] });
    const taskQueue = uniqueTaskQueue('cost-budget');
    // max_tokens of output alone could cost more than the budget, so the first call is not made.
    const options: ConversationOptions = { prompt, maxTokens: 1_000, limits: { budget: { usd: 0.001 } } };
    const id = `cost-budget-${randomUUID()}`;
    const result = await withWorker(harness, { taskQueue }, async (agent) => (await agent.start({ ...options, conversationId: id })).result());
    expect(result).toMatchObject({ status: 'budget_exceeded', turns: 0, budgetStop: { budgetUsd: 0.001, message: expect.any(String) } });

    const summary = summaryLine(result, id, 0);
    expect(summary).toContain(`■ budget_exceeded · 0 turns · `);
    expect(summary).toContain(`· $0 of ${formatUsd(0.001)} budget · `);
    expect(summary.split('\n')[1]).toBe(`  ■ stopped at the budget: ${result.budgetStop!.message}`);
    const shown = await cli(['show', id, '--address', harness.temporal.address]);
    expect(shown.code).toBe(0);
    const [header, reason] = shown.stdout.split('\n');
    expect(header).toMatch(new RegExp(`^conversation ${id} · budget_exceeded · 0 turns · .* · \\$0 of \\${formatUsd(0.001)} budget$`));
    expect(reason).toBe(`■ stopped at the budget: ${result.budgetStop!.message}`);
  });
});

describe('a namespace registered before AgentCostUsd', () => {
  test('keeps status indexing, gets no cost attribute, and its conversations run', async () => {
    const namespace = `cost-old-${randomUUID().slice(0, 8)}`;
    const { workflowService, operatorService } = harness.temporal.connection;
    await workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(86_400) } });
    const { INDEXED_VALUE_TYPE_KEYWORD, INDEXED_VALUE_TYPE_INT } = temporal.api.enums.v1.IndexedValueType;
    await operatorService.addSearchAttributes({
      namespace,
      searchAttributes: { [AgentStatusKey.name]: INDEXED_VALUE_TYPE_KEYWORD, [AgentPendingApprovalsKey.name]: INDEXED_VALUE_TYPE_INT },
    });
    const client = new Client({ connection: harness.temporal.connection, namespace });
    const taskQueue = uniqueTaskQueue('cost-old');
    const agent = new AgentClient({ client, taskQueue });
    expect(await agent.searchAttributesRegistered()).toBe(true);
    expect(await agent.costSearchAttributeRegistered()).toBe(false);

    const prompt = uniquePrompt('A question in an old namespace');
    harness.fake.addScript({ match: prompt, steps: [{ ...reply(text('Answered.')), usage: TURN_2 }] });
    const worker = await createTestWorker(harness.temporal, { namespace, taskQueue, tools: [], anthropic: fakeAnthropic(harness.fake.baseURL) });
    const { id, result } = await worker.runUntil(async () => {
      // The new namespace reaches every part of the server within a few seconds.
      const conversationId = `cost-old-${randomUUID()}`;
      const handle = await eventually(
        () => agent.start({ prompt, conversationId }).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))),
        (started) => !(started instanceof Error && /namespace/i.test(started.message)),
      );
      if (handle instanceof Error) throw handle;
      return { id: handle.conversationId, result: await handle.result() };
    });
    expect(result.status).toBe('completed');
    // Priced as usual; only the index is missing.
    expect(result.usage.costUsd).toBeCloseTo(costOf(TURN_2), 9);
    const started = (await client.workflow.getHandle(id).fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!;
    expect(defaultPayloadConverter.fromPayload<ConversationOptions>(started.input!.payloads![0]!)).toMatchObject({ searchAttributes: true, costSearchAttribute: false });
    const [row] = await eventually(
      () => agent.list(`WorkflowId = '${id}'`),
      (found) => found[0]?.status === 'completed',
    );
    expect(row).toMatchObject({ conversationId: id, status: 'completed', executionStatus: 'COMPLETED' });
    expect(row!.costUsd).toBeUndefined();
  });
});
