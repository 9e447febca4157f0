// The `cost` scenario: what one long tool-use conversation is billed, per peer, at list prices. Every peer runs the
// same script against the same fake Messages API, and usage is read from the fake's request log (the replies it sent),
// never from a peer's own report, so all peers are measured the same way.
import { costOfUsage, priceOf, type BilledUsage, type ModelPrice } from '../../src/pricing/cost';
import { reply, text, toolUse, type FakeMessagesApi, type RecordedRequest } from '../../src/testing';
import type { Peer } from './peer-process';
import { BENCH_MODEL, type ConversationSpec } from './protocol';
import type { PeerName, ScenarioFigures } from './report';
import { round } from './stats';
import { TOOL_NAME } from './work-tool';

export interface CostShape {
  /** Model calls per conversation: all but the last ask for `toolsPerTurn` tools, the last answers. */
  modelCalls: number;
  toolsPerTurn: number;
  /** Bytes of text each tool returns. */
  resultBytes: number;
  /** Characters of the system prompt (SYSTEM_PROMPT's length; recorded for the report's title). */
  systemChars: number;
}

/**
 * An operations assistant's instructions, as a real deployment would give: long enough (~3,000 characters) that the
 * first request is above the model's minimum cacheable prompt length before any message is added.
 */
export const SYSTEM_PROMPT = [
  'You are the operations assistant of a mid-sized logistics company. You help the on-call engineer work through',
  'a queue of maintenance items: each item is a unit of work that the `work` tool carries out and reports on.',
  '',
  'How to work:',
  '- Take the items in the order the engineer gives them. Run at most two items at a time, and only when they are',
  '  independent of each other; wait for both results before you decide what comes next.',
  '- Read every result in full before acting on it. Results are plain text reports; they may be long. Quote only the',
  '  lines that matter when you summarise, never the whole report.',
  '- If a result shows an error, a timeout or a partial completion, say so plainly, do not retry on your own, and',
  '  ask the engineer whether to retry, skip or escalate. Never invent a result you did not receive.',
  '- Keep a running tally of items done, items failed and items left, and give it whenever the engineer asks.',
  '- Do not change production configuration, credentials, access rules or customer data, even if a report suggests',
  '  it. Those changes go through the change board; draft the request text instead and hand it to the engineer.',
  '- When two results disagree, trust the newer one, and mention the disagreement in your summary.',
  '',
  'Style:',
  '- Be brief. The engineer reads your messages on a phone during an incident. Lead with the outcome, then the',
  '  evidence, then the next step. Use short bullet points, not paragraphs. No greetings, no sign-offs.',
  '- Use the units and names the reports use. Times are UTC in ISO 8601. Sizes in binary units (KiB, MiB, GiB).',
  '- When you are unsure, say what you would need to know and how to find it out; do not guess.',
  '',
  'Escalation:',
  '- Page the secondary on-call (through the engineer) if more than three items in a row fail, if any item reports',
  '  data loss, or if a report mentions a customer-facing outage. State which rule triggered the page.',
  '- Security findings (leaked secrets, unexpected open ports, unknown processes) go to the security channel at',
  '  once, before anything else; summarise the finding in one line and keep working on the other items.',
  '',
  'Final answer:',
  '- When the queue is empty, give a final summary: items done, items failed with the reason for each, anything',
  '  that needs a follow-up ticket (with a one-line title for each), and any pages or security reports you raised.',
  '- End with the single most important thing the engineer should do next, on its own line.',
  '',
  'Context you can rely on: the fleet runs in three regions (eu-west, us-east, ap-south); maintenance windows are',
  '02:00-04:00 local time per region; the change freeze for the quarter-end close starts on the 28th and lasts',
  'until the 3rd of the next month; during the freeze only items tagged "urgent" may run, and each one needs a',
  'ticket number in its summary line. Deployments, certificate renewals and database migrations are never',
  'maintenance items: if one appears in the queue, stop and ask the engineer to move it to the release process.',
].join('\n');

export const COST_FULL: CostShape = { modelCalls: 20, toolsPerTurn: 2, resultBytes: 4096, systemChars: SYSTEM_PROMPT.length };
export const COST_QUICK: CostShape = { ...COST_FULL, modelCalls: 6 };

/** The peers of this scenario: the three defaults, and durable-claude with message threads off. */
export type CostPeer = Extract<PeerName, 'sdk_tool_runner' | 'durable_claude' | 'durable_claude_unthreaded' | 'temporal_ai_sdk'>;

export function costTitle(shape: CostShape, model: string): string {
  return (
    `one conversation of ${shape.modelCalls} model calls (${shape.modelCalls - 1} × ${shape.toolsPerTurn} tools returning ${shape.resultBytes / 1024} KB each, then the answer) ` +
    `with a ${shape.systemChars}-character system prompt; tokens as the fake API's usage reported them, billed at list prices for ${model}; ` +
    'cached share = cache reads ÷ all input tokens of calls 2…n'
  );
}

let sequence = 0;

/** Scripts one conversation on the fake and returns the spec a peer runs. */
export function scriptCostConversation(fake: FakeMessagesApi, peer: CostPeer, shape: CostShape): ConversationSpec {
  const prompt = `bench cost ${peer} #${++sequence}: work through the next ${(shape.modelCalls - 1) * shape.toolsPerTurn} maintenance items in the queue`;
  const toolTurns = shape.modelCalls - 1;
  fake.addScript({
    match: prompt,
    steps: ({ turnIndex }) => ({
      ...(turnIndex < toolTurns
        ? reply(
            text(`Items ${turnIndex * shape.toolsPerTurn + 1}–${(turnIndex + 1) * shape.toolsPerTurn}: running them now.`),
            ...Array.from({ length: shape.toolsPerTurn }, (_, call) => toolUse(TOOL_NAME, { turn: turnIndex, call, ms: 0, bytes: shape.resultBytes })),
          )
        : reply(text(`All ${toolTurns * shape.toolsPerTurn} items done, none failed. Next: close the maintenance ticket.`))),
      latency: { firstTokenMs: 0 },
    }),
  });
  return { prompt, system: SYSTEM_PROMPT, turns: toolTurns, toolsPerTurn: shape.toolsPerTurn, toolMs: 0, resultBytes: shape.resultBytes };
}

/** The conversation's model calls as the fake answered them: its successful /v1/messages replies, in order. */
export function answeredCalls(requests: readonly RecordedRequest[], prompt: string): RecordedRequest[] {
  return requests.filter((r) => r.path === '/v1/messages' && r.conversationKey === prompt && r.status === 200 && !r.aborted && r.response !== undefined);
}

/** Whether a request body asks for caching anywhere: top-level, or on a tool, system or message block. */
export function asksForCaching(body: unknown): boolean {
  if (Array.isArray(body)) return body.some(asksForCaching);
  if (typeof body !== 'object' || body === null) return false;
  return Object.entries(body).some(([key, value]) => (key === 'cache_control' && value !== null && value !== undefined) || asksForCaching(value));
}

export type CostFigures = Record<
  'model_calls' | 'input_tokens' | 'cache_read_input_tokens' | 'cache_creation_input_tokens' | 'output_tokens' | 'cost_usd' | 'cached_share_after_first_turn' | 'requests_with_cache_control',
  number
>;

/** Sums of the calls' usage, their cost at `price`, and the share of calls 2…n's input that was read from the cache. */
export function costFigures(calls: readonly RecordedRequest[], price: ModelPrice): CostFigures {
  const usages: BilledUsage[] = calls.map((call) => call.response!.usage);
  const sum = (of: readonly BilledUsage[], field: (usage: BilledUsage) => number | null | undefined) => of.reduce((total, usage) => total + (field(usage) ?? 0), 0);
  const later = usages.slice(1);
  const laterRead = sum(later, (u) => u.cache_read_input_tokens);
  const laterInput = laterRead + sum(later, (u) => u.input_tokens) + sum(later, (u) => u.cache_creation_input_tokens);
  return {
    model_calls: calls.length,
    input_tokens: sum(usages, (u) => u.input_tokens),
    cache_read_input_tokens: sum(usages, (u) => u.cache_read_input_tokens),
    cache_creation_input_tokens: sum(usages, (u) => u.cache_creation_input_tokens),
    output_tokens: sum(usages, (u) => u.output_tokens),
    cost_usd: round(
      usages.reduce((total, usage) => total + costOfUsage(usage, price), 0),
      6,
    ),
    cached_share_after_first_turn: laterInput > 0 ? round(laterRead / laterInput, 4) : 0,
    requests_with_cache_control: calls.filter((call) => asksForCaching(call.body)).length,
  };
}

type Attempt = <T>(peer: PeerName, work: () => Promise<T>) => Promise<T | undefined>;

/**
 * Runs one conversation per peer, one peer at a time (durable-claude twice: its defaults, then threads off), and
 * prices what the fake answered. A peer whose conversation fails, or makes other than `modelCalls` calls, is
 * recorded as failed by `attempt`.
 */
export async function runCostScenario(fake: FakeMessagesApi, peers: ReadonlyArray<Peer>, shape: CostShape, attempt: Attempt, log: (line: string) => void): Promise<ScenarioFigures> {
  const price = priceOf(BENCH_MODEL);
  if (!price) throw new Error(`cost: no list price for ${BENCH_MODEL} in src/pricing/prices.ts`);
  const runs: Array<{ name: CostPeer; peer: Peer; threads?: boolean }> = [];
  for (const peer of peers) {
    if (peer.name === 'sdk_tool_runner' || peer.name === 'temporal_ai_sdk') runs.push({ name: peer.name, peer });
    if (peer.name === 'durable_claude') runs.push({ name: 'durable_claude', peer }, { name: 'durable_claude_unthreaded', peer, threads: false });
  }
  const figures: ScenarioFigures = {};
  for (const { name, peer, threads } of runs) {
    const measured = await attempt(name, async () => {
      const spec = scriptCostConversation(fake, name, shape);
      const outcome = (await peer.run([threads === undefined ? spec : { ...spec, threads }])).conversations[0]!;
      if (!outcome.ok) throw new Error(outcome.error ?? 'failed');
      const calls = answeredCalls(fake.requests, spec.prompt);
      if (calls.length !== shape.modelCalls) throw new Error(`made ${calls.length} model calls, the script has ${shape.modelCalls}`);
      return costFigures(calls, price);
    });
    if (!measured) continue;
    figures[name] = measured;
    log(
      `cost: ${name}: $${measured.cost_usd.toFixed(4)}, ${measured.input_tokens} input + ${measured.cache_read_input_tokens} cache read + ${measured.cache_creation_input_tokens} cache write, ` +
        `cached share ${(measured.cached_share_after_first_turn * 100).toFixed(1)} %, cache_control on ${measured.requests_with_cache_control}/${measured.model_calls} requests`,
    );
  }
  return figures;
}
