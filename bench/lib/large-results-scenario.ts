// The `large_results` scenario: one conversation whose tool returns 1 MB, `toolResults` times over as many model
// calls (the measurement Temporal's Python Claude Agent SDK plugin published: 40 × 1 MB). durable_claude runs with
// external storage (bench/peers/durable-claude-long.ts), temporal_ai_sdk as it ships (its own peer); for each, did
// the conversation complete, how big did the history of its largest run get, and how did it end.
import type { Client } from '@temporalio/client';
import type { AgentClient } from '../../src/client';
import { reply, text, toolUse, type FakeMessagesApi, type FullRequest, type RecordedRequest } from '../../src/testing';
import type { Peer } from './peer-process';
import { BENCH_MODEL, type ConversationSpec } from './protocol';
import type { PeerName, ScenarioFigures } from './report';
import { contextFigures } from './long-chat-scenario';
import { chainOf, largestRun, type RunOfChain } from './run-chain';
import { round } from './stats';
import { TOOL_NAME } from './work-tool';

export interface LargeResultsShape {
  /** Model calls that ask for the tool; one more answers. */
  toolResults: number;
  /** Bytes each tool result has. */
  resultBytes: number;
}

export const LARGE_RESULTS_FULL: LargeResultsShape = { toolResults: 40, resultBytes: 1024 * 1024 };
/** CI's quick run: enough 1 MB results that the whole prompt passes Temporal's 2 MB payload limit. */
export const LARGE_RESULTS_QUICK: LargeResultsShape = { toolResults: 4, resultBytes: 1024 * 1024 };

export function largeResultsTitle(shape: LargeResultsShape): string {
  return (
    `one conversation of ${shape.toolResults} tool results of ${round(shape.resultBytes / 1024 / 1024)} MB each (one per model call, then the answer); ` +
    'durable_claude with external storage (filesystem driver), temporal_ai_sdk as it ships; the largest history of any run as Temporal counts it'
  );
}

export interface LargeResultsSpec {
  prompt: string;
  toolResults: number;
  resultBytes: number;
}

/** The turn a tool result answered, from its text ("result of turn N call 0…", bench/lib/work-tool.ts). */
function answeredTurn(request: FullRequest): number | undefined {
  const last = request.messages[request.messages.length - 1];
  if (!last || last.role !== 'user' || typeof last.content === 'string') return undefined;
  for (const block of last.content) {
    if (block.type !== 'tool_result') continue;
    const head = typeof block.content === 'string' ? block.content : Array.isArray(block.content) ? block.content.map((part) => ('text' in part ? part.text : '')).join('') : '';
    const turn = /result of turn (\d+) call/.exec(head.slice(0, 200))?.[1];
    if (turn !== undefined) return Number(turn);
  }
  return undefined;
}

let sequence = 0;

/**
 * Scripts the conversation: the model asks for one 1 MB result per call until it has `toolResults`, then answers.
 * It reads which result came last from the request itself, so a conversation that continued as new, compacted or
 * cleared older tool results is answered the same.
 */
export function scriptLargeResults(fake: FakeMessagesApi, peer: PeerName, shape: LargeResultsShape): LargeResultsSpec {
  const prompt = `bench large_results ${peer} #${++sequence}: read the next ${shape.toolResults} reports, one at a time`;
  fake.addScript({
    match: prompt,
    steps: ({ request }) => {
      const answered = answeredTurn(request);
      const turn = answered === undefined ? 0 : answered + 1;
      if (turn >= shape.toolResults) return { ...reply(text(`All ${shape.toolResults} reports read.`)), latency: { firstTokenMs: 0 } };
      return { ...reply(text(`Report ${turn + 1}.`), toolUse(TOOL_NAME, { turn, call: 0, ms: 0, bytes: shape.resultBytes })), latency: { firstTokenMs: 0 } };
    },
  });
  return { prompt, toolResults: shape.toolResults, resultBytes: shape.resultBytes };
}

const ofConversation = (requests: readonly RecordedRequest[], prompt: string) => requests.filter((r) => r.conversationKey === prompt);

/** How many tool results reached the model whole: tool_result blocks of at least `resultBytes` in the requests sent. */
export function resultsDelivered(requests: readonly RecordedRequest[], prompt: string, resultBytes: number): number {
  const seen = new Set<string>();
  for (const request of requests) {
    if (request.path !== '/v1/messages' || request.conversationKey !== prompt || request.status !== 200) continue;
    const messages = (request.body as { messages?: Array<{ content?: unknown }> } | undefined)?.messages ?? [];
    for (const message of messages) {
      if (!Array.isArray(message.content)) continue;
      for (const block of message.content as Array<{ type?: string; tool_use_id?: string; content?: unknown }>) {
        if (block.type !== 'tool_result' || block.tool_use_id === undefined) continue;
        const length = typeof block.content === 'string' ? block.content.length : JSON.stringify(block.content ?? '').length;
        if (length >= resultBytes) seen.add(block.tool_use_id);
      }
    }
  }
  return seen.size;
}

/** What durable-claude's peer reports. */
export interface LargeResultsRun {
  conversationId: string;
  completed: boolean;
  status: string;
  error?: string;
  runs: RunOfChain[];
  seconds: number;
}

/** durable-claude's side, in its peer process: the conversation, its result, and its chain of runs. */
export async function driveLargeResults(agent: AgentClient, spec: LargeResultsSpec): Promise<LargeResultsRun> {
  const started = performance.now();
  const handle = await agent.start({ prompt: spec.prompt, model: BENCH_MODEL, maxTokens: 1024, tools: [TOOL_NAME], limits: { maxIterations: spec.toolResults + 2 } });
  let status: string;
  let error: string | undefined;
  try {
    status = (await handle.result()).status;
  } catch (err) {
    status = 'failed';
    error = innermost(err);
  }
  return {
    conversationId: handle.conversationId,
    completed: status === 'completed',
    status,
    ...(error !== undefined ? { error } : {}),
    runs: await chainOf(agent.client, handle.conversationId),
    seconds: round((performance.now() - started) / 1000),
  };
}

function innermost(err: unknown): string {
  let message = String(err);
  for (let current = err, depth = 0; current instanceof Error && depth < 10; current = (current as { cause?: unknown }).cause, depth++) message = current.message || message;
  return message;
}

type Attempt = <T>(peer: PeerName, work: () => Promise<T>) => Promise<T | undefined>;

export interface LargeResultsPeers {
  /** durable_claude: a fresh durable-claude-long process (external storage), its request sent by the harness. */
  durableClaude?: (spec: LargeResultsSpec) => Promise<LargeResultsRun>;
  /** temporal_ai_sdk: its ordinary peer, running the spec as a tool conversation. */
  aiSdk?: Peer;
}

/**
 * Runs the conversation on each peer and reads each history from the server (`client`): every run of
 * durable_claude's chain, temporal_ai_sdk's one run however it ended.
 */
export async function runLargeResultsScenario(
  fake: FakeMessagesApi,
  client: Client,
  peers: LargeResultsPeers,
  shape: LargeResultsShape,
  attempt: Attempt,
  log: (line: string) => void,
): Promise<{ figures: ScenarioFigures; detail: Record<string, unknown> }> {
  const figures: ScenarioFigures = {};
  const detail: Record<string, unknown> = {};
  if (peers.durableClaude) {
    const run = peers.durableClaude;
    await attempt('durable_claude', async () => {
      const spec = scriptLargeResults(fake, 'durable_claude', shape);
      const outcome = await run(spec);
      const delivered = resultsDelivered(fake.requests, spec.prompt, shape.resultBytes);
      const largest = largestRun(outcome.runs);
      figures.durable_claude = {
        completed: outcome.completed,
        max_run_history_bytes: largest.bytes,
        outcome: outcome.completed
          ? `completed in ${outcome.runs.length} run(s); ${delivered}/${shape.toolResults} results reached the model whole`
          : `${outcome.status}: ${(outcome.error ?? '').slice(0, 300)}`,
      };
      detail.durable_claude = { seconds: outcome.seconds, results_delivered_whole: delivered, ...contextFigures(ofConversation(fake.requests, spec.prompt)), runs: outcome.runs.map((r) => ({ status: r.status, history_bytes: r.historyBytes, history_events: r.historyEvents })) };
      log(`large_results: durable_claude: ${figures.durable_claude.outcome}; largest run ${largest.bytes} bytes (${outcome.seconds} s)`);
    });
  }
  if (peers.aiSdk) {
    const peer = peers.aiSdk;
    await attempt('temporal_ai_sdk', async () => {
      const spec = scriptLargeResults(fake, 'temporal_ai_sdk', shape);
      const conversation: ConversationSpec = { prompt: spec.prompt, turns: shape.toolResults, toolsPerTurn: 1, toolMs: 0, resultBytes: shape.resultBytes };
      const started = performance.now();
      const outcome = (await peer.run([conversation])).conversations[0]!;
      const seconds = round((performance.now() - started) / 1000);
      const runs = outcome.workflowId ? await chainOf(client, outcome.workflowId) : [];
      const delivered = resultsDelivered(fake.requests, spec.prompt, shape.resultBytes);
      figures.temporal_ai_sdk = {
        completed: outcome.ok,
        max_run_history_bytes: largestRun(runs).bytes,
        outcome: outcome.ok
          ? `completed in ${runs.length} run(s); ${delivered}/${shape.toolResults} results reached the model whole`
          : `${runs[runs.length - 1]?.status.toLowerCase() ?? 'failed'} after ${delivered}/${shape.toolResults} results reached the model: ${(outcome.error ?? '').slice(0, 300)}`,
      };
      detail.temporal_ai_sdk = { seconds, results_delivered_whole: delivered, ...contextFigures(ofConversation(fake.requests, spec.prompt)), runs: runs.map((r) => ({ status: r.status, history_bytes: r.historyBytes, history_events: r.historyEvents })) };
      log(`large_results: temporal_ai_sdk: ${figures.temporal_ai_sdk.outcome} (${seconds} s)`);
    });
  }
  return { figures, detail };
}
