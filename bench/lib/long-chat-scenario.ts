// The `long_chat` scenario: one chat of thousands of turns on durable-claude — zero latency, every user message
// answered by a reply asking for `toolsPerTurn` tools (1 KB results each), then a text — with continue-as-new and
// external storage as a long-running deployment would configure them. It measures whether a chat can go on without
// end: how many runs the chain took, the largest history of any run, the worker's RSS as the chat goes on, and the
// per-turn overhead at its start and at its end (after a short warm-up chat on its own conversation). The chat is driven in the worker's own process (durable-claude-long
// peer), so the RSS is the worker's; the fake Messages API runs in the harness.
import type { AgentClient } from '../../src/client';
import { reply, text, toolUse, type FakeMessagesApi, type FullRequest, type RecordedRequest } from '../../src/testing';
import type { ContinueAsNewOptions } from '../../src/workflows/types';
import { BENCH_MODEL } from './protocol';
import { chainOf, largestRun, type RunOfChain } from './run-chain';
import { median, round } from './stats';
import { TOOL_NAME } from './work-tool';

export interface LongChatShape {
  /** User messages, each one turn: a reply asking for the tools, their results, the answer. */
  turns: number;
  toolsPerTurn: number;
  /** Bytes of text each tool returns. */
  resultBytes: number;
  /** After these turns the worker's process RSS is read. */
  rssAt: number[];
  /** Turns at each end of the chat over which the per-turn overhead is averaged. */
  window: number;
  /** The conversation's continueAsNew option; absent, its default (when Temporal suggests it). */
  continueAsNew?: ContinueAsNewOptions;
}

export const LONG_CHAT_FULL: LongChatShape = { turns: 5000, toolsPerTurn: 2, resultBytes: 1024, rssAt: [500, 2500, 5000], window: 100 };
/** CI's quick run: a short chat that still continues as new a few times (a low event threshold). */
export const LONG_CHAT_QUICK: LongChatShape = { turns: 60, toolsPerTurn: 2, resultBytes: 1024, rssAt: [20, 40, 60], window: 10, continueAsNew: { afterEvents: 400 } };

export function longChatTitle(shape: LongChatShape): string {
  return (
    `one chat of ${shape.turns} turns (each: a reply asking for ${shape.toolsPerTurn} tools returning ${shape.resultBytes / 1024} KB, then the answer; zero model latency) ` +
    `with continue-as-new (${shape.continueAsNew ? JSON.stringify(shape.continueAsNew) : "Temporal's suggestion"}) and external storage; ` +
    `history per run as Temporal counts it; RSS of the worker's process (worker and client in one; median over the 10 turns up to each point); overhead = a turn's wall time at the caller ` +
    `minus the time the fake API spent answering its requests, averaged over the first and last ${shape.window} turns (after a ${WARM_UP_TURNS}-turn warm-up chat)`
  );
}

/** The text of a request's system prompt, however it was given. */
function systemText(system: unknown): string {
  if (typeof system === 'string') return system;
  if (Array.isArray(system)) return system.map((block: { text?: unknown }) => (typeof block?.text === 'string' ? block.text : '')).join('\n');
  return '';
}

function blocks(content: unknown): Array<Record<string, unknown>> {
  return Array.isArray(content) ? (content as Array<Record<string, unknown>>) : typeof content === 'string' ? [{ type: 'text', text: content }] : [];
}

/**
 * The chat's model, on the fake: a user message gets a reply asking for the tools; their results get the answer.
 * It decides from the request's last messages only (never from turn counts), so it answers the same however the
 * workflow continued as new or compacted what came before. Every reply is unique (its turn in it): the fake tells
 * replies apart by content.
 */
export function scriptLongChat(fake: FakeMessagesApi, shape: Pick<LongChatShape, 'toolsPerTurn' | 'resultBytes'>, marker: string): void {
  fake.addScript({
    match: (request: FullRequest) => systemText(request.system).includes(marker),
    steps: ({ request }) => {
      const last = request.messages[request.messages.length - 1];
      const results = blocks(last?.content).filter((block) => block.type === 'tool_result');
      if (results.length > 0) {
        const asked = blocks(request.messages[request.messages.length - 2]?.content).find((block) => block.type === 'tool_use');
        const turn = (asked?.input as { turn?: number } | undefined)?.turn ?? -1;
        return { ...reply(text(`Turn ${turn}: ${results.length} items done.`)), latency: { firstTokenMs: 0 } };
      }
      const message = blocks(last?.content).find((block) => block.type === 'text');
      const turn = Number(/turn (\d+)/.exec(String(message?.text ?? ''))?.[1] ?? -1);
      return {
        ...reply(
          text(`Turn ${turn}: running ${shape.toolsPerTurn} items.`),
          ...Array.from({ length: shape.toolsPerTurn }, (_, call) => toolUse(TOOL_NAME, { turn, call, ms: 0, bytes: shape.resultBytes })),
        ),
        latency: { firstTokenMs: 0 },
      };
    },
  });
}

/** What the driver measured, in the worker's process. */
export interface LongChatRun {
  conversationId: string;
  turnsCompleted: number;
  /** Each turn as the caller of sendMessage saw it: [start, end], epoch ms (the fake's clock). */
  turnSpans: Array<[number, number]>;
  /** [turn, RSS bytes of this process: the median after each of the ten turns up to it]. */
  rss: Array<[number, number]>;
  /** The chain of runs, read from the server once the chat ended. */
  runs: RunOfChain[];
  /** The conversation's own count (ConversationResult.runs), to check against the chain. */
  reportedRuns?: number;
  /** The conversation's final status, or why the chat stopped early. */
  status: string;
  error?: string;
  seconds: number;
}

/** Epoch ms with sub-ms resolution, on the same clock as the fake's Date.now(). */
const epochNow = () => performance.timeOrigin + performance.now();

function messageOf(err: unknown): string {
  let message = String(err);
  for (let current = err, depth = 0; current instanceof Error && depth < 10; current = (current as { cause?: unknown }).cause, depth++) message = current.message || message;
  return message;
}

/**
 * Runs the chat: starts it empty, sends `shape.turns` messages one after another (each waits for its answer), reads
 * the RSS after the turns in `rssAt`, ends it, and reads its chain of runs from the server.
 */
export async function driveLongChat(
  agent: AgentClient,
  shape: LongChatShape,
  marker: string,
  onProgress: (turn: number, turnMs: number) => void = () => undefined,
): Promise<LongChatRun> {
  const started = performance.now();
  // A fresh worker's first turns load the workflow bundle and warm the JIT: a short chat of its own takes that cost,
  // so the first turns measured are the chat's own, comparable with its last.
  await warmUp(agent, shape, marker);
  const handle = await agent.start({
    system: `${marker}: you run maintenance items with the work tool, as many as each message asks.`,
    model: BENCH_MODEL,
    maxTokens: 1024,
    tools: [TOOL_NAME],
    chat: { idleTimeout: '1h' },
    ...(shape.continueAsNew ? { continueAsNew: shape.continueAsNew } : {}),
  });
  const turnSpans: Array<[number, number]> = [];
  const rss: Array<[number, number]> = [];
  // RSS moves with the garbage collector's timing: each figure is the median over the ten turns up to its turn.
  const samples = new Map<number, number[]>();
  const samplingFor = (turn: number) => shape.rssAt.find((at) => turn <= at && turn > at - 10);
  let status = 'completed';
  let error: string | undefined;
  for (let turn = 1; turn <= shape.turns; turn++) {
    const t0 = epochNow();
    try {
      const answer = await handle.sendMessage(`turn ${turn}: run the next ${shape.toolsPerTurn} maintenance items`);
      if (answer.status !== 'completed') {
        status = answer.status;
        error = `turn ${turn} answered with status ${answer.status}`;
        break;
      }
    } catch (err) {
      status = 'failed';
      error = `turn ${turn}: ${messageOf(err)}`;
      break;
    }
    const t1 = epochNow();
    turnSpans.push([t0, t1]);
    const at = samplingFor(turn);
    if (at !== undefined) {
      const taken = [...(samples.get(at) ?? []), process.memoryUsage().rss];
      samples.set(at, taken);
      if (turn === at) rss.push([at, median(taken)]);
    }
    onProgress(turn, t1 - t0);
  }
  let reportedRuns: number | undefined;
  if (!error) {
    await handle.end('bench');
    const result = await handle.result().catch((err: unknown) => {
      error = `after the last turn: ${messageOf(err)}`;
      return undefined;
    });
    if (result) {
      status = result.status;
      reportedRuns = result.runs;
    }
  } else {
    await handle.cancel().catch(() => undefined);
  }
  const runs = await chainOf(agent.client, handle.conversationId);
  return {
    conversationId: handle.conversationId,
    turnsCompleted: turnSpans.length,
    turnSpans,
    rss,
    runs,
    ...(reportedRuns !== undefined ? { reportedRuns } : {}),
    status,
    ...(error !== undefined ? { error } : {}),
    seconds: round((performance.now() - started) / 1000),
  };
}

/** Turns of the chat run before the measured one, on a conversation of its own. */
export const WARM_UP_TURNS = 20;

async function warmUp(agent: AgentClient, shape: LongChatShape, marker: string): Promise<void> {
  const handle = await agent.start({
    system: `${marker}: you run maintenance items with the work tool, as many as each message asks (warm-up).`,
    model: BENCH_MODEL,
    maxTokens: 1024,
    tools: [TOOL_NAME],
    chat: { idleTimeout: '1h' },
  });
  for (let turn = 1; turn <= Math.min(WARM_UP_TURNS, shape.turns); turn++) await handle.sendMessage(`turn ${turn}: run the next ${shape.toolsPerTurn} maintenance items`);
  await handle.end('warm-up done');
  await handle.result();
}

/** Per turn: its wall time, and that minus the time the fake spent on the requests it received during the turn. */
export function turnTimes(spans: ReadonlyArray<[number, number]>, requests: readonly RecordedRequest[]): Array<{ wallMs: number; overheadMs: number }> {
  const served = requests
    .filter((r) => r.path === '/v1/messages' && r.endedAt !== undefined)
    .map((r) => [r.receivedAt, r.endedAt! - r.receivedAt] as const)
    .sort((a, b) => a[0] - b[0]);
  let next = 0;
  return spans.map(([start, end]) => {
    while (next < served.length && served[next]![0] < Math.floor(start)) next++;
    let fakeMs = 0;
    for (let i = next; i < served.length && served[i]![0] <= end; i++) fakeMs += served[i]![1];
    return { wallMs: end - start, overheadMs: Math.max(0, end - start - fakeMs) };
  });
}

const mean = (values: readonly number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN);
const mb = (bytes: number) => round(bytes / 1024 / 1024);

export type LongChatFigures = Record<string, number | string>;

/** The keys: turns_completed, runs, max_run_history_bytes/_events, rss_mb_at_<turn>, overhead_ms_first/last_<window>. */
export function longChatFigures(run: LongChatRun, shape: LongChatShape, requests: readonly RecordedRequest[]): LongChatFigures {
  const times = turnTimes(run.turnSpans, requests);
  const largest = largestRun(run.runs);
  const figures: LongChatFigures = {
    turns_completed: run.turnsCompleted,
    runs: run.runs.length,
    max_run_history_bytes: largest.bytes,
    max_run_history_events: largest.events,
  };
  for (const turn of shape.rssAt) {
    const sample = run.rss.find(([at]) => at === turn);
    figures[`rss_mb_at_${turn}`] = sample ? mb(sample[1]) : 'not reached';
  }
  const window = Math.min(shape.window, times.length);
  figures[`overhead_ms_first_${shape.window}`] = window ? round(mean(times.slice(0, window).map((t) => t.overheadMs)), 2) : 'not reached';
  figures[`overhead_ms_last_${shape.window}`] = window ? round(mean(times.slice(-window).map((t) => t.overheadMs)), 2) : 'not reached';
  if (run.error) figures.failed = run.error.slice(0, 200);
  return figures;
}

/** What the model saw: the largest prompt (the fake's tokens) and how many compactions the fake performed. */
export function contextFigures(requests: readonly RecordedRequest[]): { max_input_tokens: number; compactions: number } {
  const answered = requests.filter((r) => r.path === '/v1/messages' && r.context !== undefined);
  return {
    max_input_tokens: Math.max(0, ...answered.map((r) => r.context!.inputTokens)),
    compactions: answered.filter((r) => r.context!.compaction !== undefined).length,
  };
}

/** What the report keeps beside the keys: raw wall times, the per-run histories, what the model saw. */
export function longChatDetail(run: LongChatRun, shape: LongChatShape, requests: readonly RecordedRequest[]): Record<string, unknown> {
  const times = turnTimes(run.turnSpans, requests);
  const window = Math.min(shape.window, times.length);
  const [from, to] = [run.turnSpans[0]?.[0] ?? 0, run.turnSpans[run.turnSpans.length - 1]?.[1] ?? 0];
  const duringChat = requests.filter((r) => r.receivedAt >= Math.floor(from) && r.receivedAt <= to);
  return {
    seconds: run.seconds,
    status: run.status,
    reported_runs: run.reportedRuns ?? null,
    wall_ms_first: window ? round(mean(times.slice(0, window).map((t) => t.wallMs)), 2) : null,
    wall_ms_last: window ? round(mean(times.slice(-window).map((t) => t.wallMs)), 2) : null,
    overhead_ms_median_first: window ? round(median(times.slice(0, window).map((t) => t.overheadMs)), 2) : null,
    overhead_ms_median_last: window ? round(median(times.slice(-window).map((t) => t.overheadMs)), 2) : null,
    // The mean overhead of each stretch of `window` turns, in order: whether it drifts as the chat goes on.
    overhead_ms_by_window: Array.from({ length: Math.ceil(times.length / Math.max(1, window)) }, (_, i) =>
      round(mean(times.slice(i * window, (i + 1) * window).map((t) => t.overheadMs)), 1),
    ),
    ...contextFigures(duringChat),
    runs: run.runs.map((r) => ({ status: r.status, history_bytes: r.historyBytes, history_events: r.historyEvents })),
  };
}
