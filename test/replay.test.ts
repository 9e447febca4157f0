import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { z } from 'zod';
import { ConversationFailedError } from '../src/client';
import { parseHistory, replayHistory } from '../src/replay';
import { defineTool } from '../src/tools/define-tool';
import { reply, text, toolUse } from '../src/testing';
import { FIXTURES_DIR } from './helpers/fixtures';
import { startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';

const fixtures = fs.existsSync(FIXTURES_DIR) ? fs.readdirSync(FIXTURES_DIR).filter((f) => f.endsWith('.json')).sort() : [];
const loadFixture = (file: string) => parseHistory(fs.readFileSync(path.join(FIXTURES_DIR, file), 'utf8'));
const bundle = { codePath: process.env.DURABLE_CLAUDE_TEST_BUNDLE! };

/** The scenarios whose tests record a history (recordHistoryFixture); each fixture must stay, and replay. */
const RECORDED_SCENARIOS = [
  'compaction-threshold',
  'compaction-context-window-exceeded',
  'continue-as-new-chat-run1',
  'continue-as-new-chat-run2',
  'continue-as-new-chat-run6',
  'continue-as-new-waiting-message-run1',
  'continue-as-new-waiting-message-run2',
  'transcript-archive-chat-run1',
  'transcript-archive-chat-run2',
  'transcript-archive-chat-run8',
  'approval-approved',
  'approval-duplicate-decisions',
  'approval-early-decision',
  'approval-edited',
  'approval-mixed-turn',
  'approval-rejected',
  'approval-timeout',
  'approval-verified-refusals',
  'approval-verified-two-approvers',
  'budget-exceeded-before-call',
  'budget-exceeded-before-tools',
  'cancelled-during-tool',
  'chat-multi-turn',
  'chat-refused-blocks',
  'held-decision-expired',
  'inline-new-messages',
  'limit-max-iterations',
  'live-output-approval',
  'limit-token-budget',
  'limit-tool-calls-per-turn',
  'max-tokens-ladder',
  'model-failed-400',
  'model-failed-401',
  'model-retried-429',
  'model-retried-500',
  'model-retried-529',
  'model-retried-connection-reset',
  'model-retried-stream-error',
  'parallel-tools',
  'pause-turn',
  'prompt-caching-cost',
  'refusal',
  'retry-approval-timeout',
  'retry-fatal-tool-with-siblings',
  'structured-output',
  'thread-replayed',
  'tool-choice-schedule',
  'tool-error-recovered',
  'bash-session',
  'thinking-tool-round',
  'server-tools-pause-turn',
  'code-execution-container',
  'mcp-two-servers',
];

describe('the replay suite: every recorded scenario replays against the current workflow code', () => {
  test('every scenario that records a history has its fixture', () => {
    expect(fixtures).toEqual(expect.arrayContaining(RECORDED_SCENARIOS.map((name) => `${name}.json`)));
  });

  test.each(fixtures)('%s', async (file) => {
    const outcome = await replayHistory(loadFixture(file), { workflowBundle: bundle });
    expect(outcome.error).toBeUndefined();
    expect(outcome.ok).toBe(true);
  });
});

describe('a non-deterministic change', () => {
  test('is caught by replay, with the event where it diverges', async () => {
    const changed = await bundleWorkflowCode({
      workflowsPath: require.resolve('./fixtures/nondeterministic-workflow'),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never,
    });
    const file = fixtures.find((f) => f.startsWith('parallel-tools')) ?? fixtures[0]!;
    const outcome = await replayHistory(loadFixture(file), { workflowBundle: changed });
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toMatch(/DeterminismViolationError|[Nn]ondeterminism/);
    expect(outcome.divergedAtEventId).toBeGreaterThan(0);
  });
});

describe('recovery of failed runs', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(() => harness.close());

  const ran: string[] = [];
  const charge = defineTool({
    name: 'charge_card',
    description: 'Charge a card (a side effect that must not repeat)',
    input: z.object({ cents: z.number().int() }),
    run: ({ cents }, { idempotencyKey }) => {
      ran.push(idempotencyKey);
      return `charged ${cents}`;
    },
  });

  test('retry: a conversation that failed on a 401 carries on after the fault is fixed, without re-running its tools', async () => {
    const prompt = uniquePrompt('Charge then confirm');
    let keyRevoked = true;
    harness.fake.addScript({
      match: prompt,
      steps: ({ turnIndex }) => {
        if (turnIndex === 0) return reply(toolUse('charge_card', { cents: 1299 }));
        return keyRevoked ? { fault: '401', then: { fault: '401' } } : reply(text('Charged $12.99.'));
      },
    });
    await withWorker(harness, { tools: [charge] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['charge_card'] });
      const failure = await handle.result().catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(ConversationFailedError);
      expect((failure as Error).message).toMatch(/Model call failed on turn 2: 401 authentication_error/);
      expect(ran).toHaveLength(1);

      keyRevoked = false;
      const outcome = await handle.retry();
      expect(outcome.runId).not.toBe(outcome.failedRunId);
      const result = await outcome.handle.result();
      expect(result).toMatchObject({ status: 'completed', text: 'Charged $12.99.', turns: 2 });
      // The tool ran once: its result came from the history the reset kept.
      expect(ran).toEqual([`${handle.conversationId}:${(result.transcript!.messages[1]!.content as Array<{ id: string }>)[0]!.id}`]);
    });
  });

  test('fork: a new conversation starts from the transcript through turn N', async () => {
    const prompt = uniquePrompt('Three charges');
    harness.fake.addScript({
      match: prompt,
      steps: ({ turnIndex, request }) => {
        const last = request.messages[request.messages.length - 1]!;
        const said = typeof last.content === 'string' ? last.content : (last.content ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('');
        if (said.includes('Instead, stop')) return reply(text('Stopping after one charge.'));
        return turnIndex < 2 ? reply(toolUse('charge_card', { cents: 100 * (turnIndex + 1) })) : reply(text('Charged twice.'));
      },
    });
    await withWorker(harness, { tools: [charge] }, async (agent) => {
      const source = await agent.start({ prompt, tools: ['charge_card'] });
      const original = await source.result();
      expect(original.turns).toBe(3);
      const before = ran.length;
      const fork = await agent.fork(source.conversationId, { turn: 1, prompt: 'Instead, stop here.' });
      const result = await fork.result();
      expect(result.text).toBe('Stopping after one charge.');
      const messages = result.transcript!.messages;
      // Turn 1's reply and tool result came along; the fork's first model call saw them plus the new prompt.
      expect(messages.slice(0, 3)).toEqual(original.transcript!.messages.slice(0, 3).map((m, i) => (i === 2 ? { ...m, content: expect.any(Array) } : m)));
      expect(JSON.stringify(messages[2]!.content)).toContain('Instead, stop here.');
      expect(ran.length).toBe(before);
      await expect(agent.fork(source.conversationId, { turn: 3 })).rejects.toThrow(/turn 3 ended the exchange with an answer; give a prompt/);
      await expect(agent.fork(source.conversationId, { turn: 9, prompt: 'x' })).rejects.toThrow(/turn must be one of the source's turns \(1 to 3\)/);
    });
  });

  test('export: one file with the readable transcript and the history, which replays', async () => {
    const prompt = uniquePrompt('Export me');
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('charge_card', { cents: 5 })), reply(text('ok'))] });
    const exported = await withWorker(harness, { tools: [charge] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['charge_card'] });
      await handle.result();
      return handle.export();
    });
    expect(exported.status).toBe('completed');
    expect(exported.readable).toEqual(expect.arrayContaining([expect.stringContaining('→ charge_card {"cents":5}'), 'claude › ok']));
    const outcome = await replayHistory(parseHistory(JSON.parse(JSON.stringify(exported))), { workflowBundle: bundle });
    expect(outcome.ok).toBe(true);
  });
});
