// The long_chat bench scenario (bench/lib/long-chat-scenario.ts) at a small size: a 60-turn chat on a worker of the
// test harness, continuing as new past a low event threshold, measured with the bench's own code — its chain of runs
// read from the server, its per-turn times against the fake's request log, the report's keys and targets. The
// figures themselves come from `npm run bench`; here only their shapes and what the chain must be.
import { text, type RecordedRequest } from '../src/testing';
import { defineTool } from '../src/tools/define-tool';
import { LARGE_RESULTS_FULL } from '../bench/lib/large-results-scenario';
import { driveLongChat, longChatDetail, longChatFigures, LONG_CHAT_FULL, scriptLongChat, turnTimes, type LongChatShape } from '../bench/lib/long-chat-scenario';
import { BENCH_MODEL } from '../bench/lib/protocol';
import { checkTargets, renderMarkdown, type BenchResults, type ScenarioFigures } from '../bench/lib/report';
import { doWork, TOOL_DESCRIPTION, TOOL_NAME, workInput } from '../bench/lib/work-tool';
import { startHarness, withWorker, type Harness } from './helpers/harness';

const SMALL: LongChatShape = { turns: 60, toolsPerTurn: 2, resultBytes: 1024, rssAt: [20, 40, 60], window: 10, continueAsNew: { afterEvents: 300 } };
const work = defineTool({ name: TOOL_NAME, description: TOOL_DESCRIPTION, input: workInput, run: doWork });

describe('bench long_chat: a small chat, measured as the bench measures it', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(async () => {
    await harness.close();
  });

  test('60 turns over several runs: every key of the issue, the chain read from the server', async () => {
    const marker = `bench long_chat test ${Math.random().toString(36).slice(2, 10)}`;
    scriptLongChat(harness.fake, SMALL, marker);
    const run = await withWorker(harness, { tools: [work] }, (agent) => driveLongChat(agent, SMALL, marker));

    expect(run).toMatchObject({ turnsCompleted: 60, status: 'completed' });
    expect(run.error).toBeUndefined();
    // Each turn made two model calls (the tools, then the answer); this file's fake served no other conversation.
    const calls = harness.fake.requests.filter((r) => r.path === '/v1/messages' && r.status === 200);
    expect(calls.length).toBeGreaterThanOrEqual(2 * SMALL.turns);

    // The chain: every run but the last continued as new, each after passing the threshold, none far past it.
    expect(run.runs.length).toBeGreaterThan(1);
    expect(run.reportedRuns).toBe(run.runs.length);
    expect(run.runs.slice(0, -1).map((r) => r.status)).toEqual(run.runs.slice(0, -1).map(() => 'CONTINUED_AS_NEW'));
    expect(run.runs[run.runs.length - 1]!.status).toBe('COMPLETED');
    for (const continued of run.runs.slice(0, -1)) {
      expect(continued.historyEvents).toBeGreaterThanOrEqual(SMALL.continueAsNew!.afterEvents!);
      // At the next safe point: within one turn (~30 events) of the threshold, never a whole run later.
      expect(continued.historyEvents).toBeLessThan(2 * SMALL.continueAsNew!.afterEvents!);
    }
    expect(new Set(run.runs.map((r) => r.runId)).size).toBe(run.runs.length);

    const figures = longChatFigures(run, SMALL, harness.fake.requests);
    expect(Object.keys(figures).sort()).toEqual(
      [
        'turns_completed',
        'runs',
        'max_run_history_bytes',
        'max_run_history_events',
        'rss_mb_at_20',
        'rss_mb_at_40',
        'rss_mb_at_60',
        'overhead_ms_first_10',
        'overhead_ms_last_10',
      ].sort(),
    );
    expect(figures).toMatchObject({ turns_completed: 60, runs: run.runs.length });
    expect(figures.max_run_history_events).toBe(Math.max(...run.runs.map((r) => r.historyEvents)));
    expect(figures.max_run_history_bytes).toBe(Math.max(...run.runs.map((r) => r.historyBytes)));
    for (const key of ['max_run_history_bytes', 'rss_mb_at_20', 'rss_mb_at_40', 'rss_mb_at_60', 'overhead_ms_first_10', 'overhead_ms_last_10']) {
      expect(typeof figures[key]).toBe('number');
      expect(figures[key] as number).toBeGreaterThan(0);
    }
    const detail = longChatDetail(run, SMALL, harness.fake.requests);
    expect(detail).toMatchObject({ status: 'completed', reported_runs: run.runs.length });
    expect((detail.runs as unknown[]).length).toBe(run.runs.length);
  });
});

describe('bench long_chat: per-turn time without the fake', () => {
  const served = (receivedAt: number, endedAt: number, path = '/v1/messages'): RecordedRequest => ({
    id: 'req',
    receivedAt,
    endedAt,
    path,
    headers: {},
    body: {},
    stream: true,
    threadKind: 'continue',
    status: 200,
  });

  it("takes from each turn the time the fake spent on the requests it received during that turn, and only those", () => {
    const spans: Array<[number, number]> = [
      [1000.4, 1030.2],
      [1040, 1100],
    ];
    const requests = [served(1001, 1006), served(1010, 1012), served(1020, 1021, '/v1/messages/count_tokens'), served(1041, 1061), served(1070, 1071), served(1200, 1300)];
    expect(turnTimes(spans, requests).map((t) => ({ wall: Math.round(t.wallMs * 10) / 10, overhead: Math.round(t.overheadMs * 10) / 10 }))).toEqual([
      { wall: 29.8, overhead: 22.8 },
      { wall: 60, overhead: 39 },
    ]);
  });
});

describe('bench long_chat and large_results: report', () => {
  const results = (scenarios: BenchResults['scenarios'], longChat = LONG_CHAT_FULL): BenchResults => ({
    meta: { quick: false, date: '2026-12-02T00:00:00.000Z', cpus: 2, node: 'v20', model: BENCH_MODEL, runs: 1, unavailable: {}, long_chat: longChat, large_results: LARGE_RESULTS_FULL },
    scenarios,
  });
  const chat = (rss5000: number, overheadLast: number): ScenarioFigures => ({
    durable_claude: {
      turns_completed: 5000,
      runs: 38,
      max_run_history_bytes: 1_200_000,
      max_run_history_events: 4110,
      rss_mb_at_500: 300,
      rss_mb_at_2500: 310,
      rss_mb_at_5000: rss5000,
      overhead_ms_first_100: 200,
      overhead_ms_last_100: overheadLast,
    },
  });

  it('checks completion, flat RSS and flat overhead (within 20 %) for the full chat', () => {
    const flat = checkTargets(results({ long_chat: chat(350, 230) }));
    expect(flat.map((check) => [check.target, check.met])).toEqual([
      ['long_chat: a chat of 5000 turns completes', true],
      ['long_chat: worker RSS flat within 20 %', true],
      ['long_chat: per-turn overhead flat within 20 %', true],
    ]);
    expect(checkTargets(results({ long_chat: chat(361, 241) })).map((check) => check.met)).toEqual([true, false, false]);
  });

  it('reports a shorter chat (the quick run) without judging it', () => {
    const quick: LongChatShape = { ...SMALL, continueAsNew: { afterEvents: 400 } };
    const figures: ScenarioFigures = { durable_claude: { turns_completed: 60, runs: 4, rss_mb_at_20: 200, rss_mb_at_60: 400, overhead_ms_first_10: 100, overhead_ms_last_10: 100 } };
    const checks = checkTargets(results({ long_chat: figures }, quick));
    expect(checks.map((check) => check.met)).toEqual([undefined, undefined, undefined]);
    expect(checks[1]!.detail).toBe('200 MB after turn 20 → 400 MB after turn 60; the target is for 5000 turns (the full run)');
  });

  it("checks that durable_claude completes 40 × 1 MB with every run under 1 MB, and renders both peers' outcomes", () => {
    const large: ScenarioFigures = {
      durable_claude: { completed: true, max_run_history_bytes: 84_000, outcome: 'completed in 1 run(s); 40/40 results reached the model whole' },
      temporal_ai_sdk: { completed: false, max_run_history_bytes: 3_100_000, outcome: 'failed after 2/40 results reached the model: input | exceeds size limit' },
    };
    expect(checkTargets(results({ large_results: large })).map((check) => [check.target, check.met, check.detail])).toEqual([
      ["large_results: durable_claude completes with every run's history under 1 MB", true, 'completed, largest run 84000 bytes'],
    ]);
    const tooBig = { ...large, durable_claude: { ...large.durable_claude!, max_run_history_bytes: 1_100_000 } };
    expect(checkTargets(results({ large_results: tooBig }))[0]!.met).toBe(false);
    const markdown = renderMarkdown(results({ large_results: large, long_chat: chat(320, 210) }));
    expect(markdown).toContain('| peer | completed | max_run_history_bytes | outcome |');
    expect(markdown).toContain('| temporal_ai_sdk | false | 3100000 | failed after 2/40 results reached the model: input \\| exceeds size limit |');
    expect(markdown).toContain('| durable_claude | 5000 | 38 | 1200000 | 4110 | 300 | 310 | 320 | 200 | 210 |');
  });
});

// The fake's replies of the scenario, with no worker: what each kind of request gets.
describe('bench long_chat: the scripted model', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(async () => {
    await harness.close();
  });

  it('asks for the tools on a user message and answers their results, from the request alone', async () => {
    const marker = 'bench long_chat script check';
    scriptLongChat(harness.fake, { toolsPerTurn: 2, resultBytes: 1024 }, marker);
    const ask = async (messages: unknown[]) => {
      const response = await fetch(`${harness.fake.baseURL}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: BENCH_MODEL, max_tokens: 1024, system: marker, messages }),
      });
      return (await response.json()) as { content: Array<{ type: string; id?: string; input?: unknown; text?: string }> };
    };
    const first = await ask([{ role: 'user', content: 'turn 7: run the next 2 maintenance items' }]);
    const uses = first.content.filter((block) => block.type === 'tool_use');
    expect(uses.map((block) => block.input)).toEqual([
      { turn: 7, call: 0, ms: 0, bytes: 1024 },
      { turn: 7, call: 1, ms: 0, bytes: 1024 },
    ]);
    const answer = await ask([
      { role: 'user', content: 'turn 7: run the next 2 maintenance items' },
      { role: 'assistant', content: first.content },
      { role: 'user', content: uses.map((block) => ({ type: 'tool_result', tool_use_id: block.id, content: 'done' })) },
    ]);
    expect(answer.content).toEqual([expect.objectContaining(text('Turn 7: 2 items done.'))]);
  });
});
