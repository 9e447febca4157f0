// The `streaming` scenario: how long a text delta takes from the fake Messages API writing it to a subscribed client
// receiving it, for the in-process SDK stream (the floor), durable-claude and @temporalio/ai-sdk; plus history bytes
// per model turn with live output on and off, and events per model call.
import Anthropic from '@anthropic-ai/sdk';
import type { MessageParam, Tool } from '@anthropic-ai/sdk/resources/messages';
import { z } from 'zod';
import { reply, text, toolUse, type FakeMessagesApi, type StreamWrite } from '../../src/testing';
import { deltaLatencies, MarkClock, MarkSequence, marksOf, now, MARK_CHARS } from './delta-marks';
import type { Peer } from './peer-process';
import { BENCH_MODEL, type AiSdkStreamTuning, type ConversationOutcome, type ConversationSpec } from './protocol';
import type { PeerName, ScenarioFigures } from './report';
import { median, percentile, round } from './stats';
import { TOOL_DESCRIPTION, TOOL_NAME, workInput, workResult } from './work-tool';

export interface StreamingShape {
  /** Measured conversations per peer (after one small warm-up). */
  conversations: number;
  /** Tool turns per conversation; each model call streams text first, and one more call answers: turns + 1 calls. */
  turns: number;
  /** Text deltas per model call. */
  deltasPerCall: number;
  /** The fake's pause before each streamed event. */
  chunkMs: number;
}

export const STREAMING_FULL: StreamingShape = { conversations: 3, turns: 2, deltasPerCall: 150, chunkMs: 15 };
export const STREAMING_QUICK: StreamingShape = { conversations: 1, turns: 1, deltasPerCall: 30, chunkMs: 15 };

/**
 * @temporalio/ai-sdk's two latency knobs: the streaming activity's publish batch (the provider's
 * `streamingBatchInterval`, default 100 ms) and the subscriber's pause between polls (`subscribe`'s `pollCooldown`,
 * default 100 ms). temporal_ai_sdk runs the defaults, temporal_ai_sdk_tuned these.
 */
export const AI_SDK_TUNED: AiSdkStreamTuning = { batchIntervalMs: 10, pollCooldownMs: 0 };

export function streamingTitle(shape: StreamingShape): string {
  return (
    `time from the fake API writing a ${MARK_CHARS}-char text delta (one every ${shape.chunkMs} ms) to a subscribed client receiving it; ` +
    `${shape.conversations} conversation(s) × ${shape.turns + 1} model calls × ${shape.deltasPerCall} deltas per peer; history bytes per model turn with live output on and off`
  );
}

/** The scenario's view of the fake's writes: every mark, stamped when its last character went out. */
export class WrittenMarks {
  readonly #clock = new MarkClock();
  /** Only while the streaming scenario runs: the other scenarios' fake does no extra work. */
  recording = false;

  /** FakeMessagesApiOptions.onStreamWrite. */
  record(write: StreamWrite): void {
    if (this.recording && write.kind === 'text') this.#clock.add(`${write.requestId}/${write.index}`, write.piece, write.writtenAt);
  }

  get stamps(): ReadonlyMap<string, number> {
    return this.#clock.stamps;
  }
}

interface ScriptedConversation {
  spec: ConversationSpec;
  /** Every mark the conversation's model calls stream, in order. */
  marks: () => string[];
}

type Log = (line: string) => void;

export class StreamingScenario {
  readonly #marks = new MarkSequence();
  #sequence = 0;

  constructor(
    private readonly fake: FakeMessagesApi,
    private readonly written: WrittenMarks,
    private readonly log: Log,
  ) {}

  /** Scripts one conversation: each call streams `deltasPerCall` marks, then asks for the tool (until the last). */
  #script(peer: PeerName, shape: StreamingShape, mode: 'on' | 'off', aiSdk?: AiSdkStreamTuning): ScriptedConversation {
    // Prompts of one length whatever the mode and number: the history comparison should see live output only.
    const prompt = `bench streaming ${peer} #${String(++this.#sequence).padStart(4, '0')} live:${mode === 'on' ? 1 : 0}`;
    const textOfCall = new Map<number, string>();
    const textOf = (turnIndex: number) => {
      if (!textOfCall.has(turnIndex)) textOfCall.set(turnIndex, this.#marks.text(shape.deltasPerCall));
      return textOfCall.get(turnIndex)!;
    };
    this.fake.addScript({
      match: prompt,
      steps: ({ turnIndex }) => ({
        ...(turnIndex < shape.turns
          ? reply(text(textOf(turnIndex)), toolUse(TOOL_NAME, { turn: turnIndex, call: 0, ms: 0, bytes: 0 }))
          : reply(text(textOf(turnIndex)))),
        latency: { firstTokenMs: 0, chunkMs: shape.chunkMs },
        textChunkChars: MARK_CHARS,
      }),
    });
    return {
      spec: { prompt, turns: shape.turns, toolsPerTurn: 1, toolMs: 0, resultBytes: 0, stream: { mode, ...(aiSdk ? { aiSdk } : {}) } },
      marks: () => [...textOfCall.keys()].sort((a, b) => a - b).flatMap((turn) => marksOf(textOfCall.get(turn)!)),
    };
  }

  /** The in-process floor: the SDK's own `messages.stream` in this (the fake's) process, its `text` event stamped. */
  async #runSdkStream(spec: ConversationSpec): Promise<ConversationOutcome> {
    const anthropic = new Anthropic({ apiKey: 'sk-ant-bench', baseURL: this.fake.baseURL, maxRetries: 0 });
    const tool: Tool = { name: TOOL_NAME, description: TOOL_DESCRIPTION, input_schema: z.toJSONSchema(workInput) as Tool.InputSchema };
    const messages: MessageParam[] = [{ role: 'user', content: spec.prompt }];
    const clock = new MarkClock();
    const t0 = performance.now();
    let eventsReceived = 0;
    let modelCalls = 0;
    try {
      for (;;) {
        const call = modelCalls++;
        const stream = anthropic.messages.stream({ model: BENCH_MODEL, max_tokens: 1024, messages, tools: [tool] });
        stream.on('streamEvent', () => eventsReceived++);
        stream.on('text', (delta) => clock.add(String(call), delta, now()));
        const message = await stream.finalMessage();
        if (message.stop_reason !== 'tool_use') break;
        messages.push({ role: 'assistant', content: message.content });
        messages.push({
          role: 'user',
          content: message.content.flatMap((block) =>
            block.type === 'tool_use' ? [{ type: 'tool_result' as const, tool_use_id: block.id, content: workResult(workInput.parse(block.input)) }] : [],
          ),
        });
      }
      return { prompt: spec.prompt, ok: true, wallMs: performance.now() - t0, modelCalls, eventsReceived, deltaReceipts: clock.receipts() };
    } catch (err) {
      return { prompt: spec.prompt, ok: false, wallMs: performance.now() - t0, error: err instanceof Error ? err.message : String(err) };
    }
  }

  async #runOne(process: Peer | undefined, spec: ConversationSpec): Promise<ConversationOutcome> {
    const outcome = process ? (await process.run([spec], true)).conversations[0]! : await this.#runSdkStream(spec);
    if (!outcome.ok) throw new Error(outcome.error ?? 'failed');
    return outcome;
  }

  /** History bytes per model turn of the same conversation without live output. */
  async #historyPerTurnOff(peer: PeerName, process: Peer, shape: StreamingShape): Promise<number> {
    // Without live output the text's pace leaves no trace in history, so it need not be waited for.
    const off = await this.#runOne(process, this.#script(peer, { ...shape, chunkMs: 0 }, 'off').spec);
    return (off.historyProtoBytes ?? Number.NaN) / (off.modelCalls ?? shape.turns + 1);
  }

  /**
   * Runs the scenario for one peer: a warm-up, the measured conversations with live output on, and (for the
   * Temporal peers, unless `historyOff` is given) one conversation with it off, for the history comparison.
   * `process` undefined: sdk_stream, here.
   */
  async measure(
    peer: PeerName,
    process: Peer | undefined,
    shape: StreamingShape,
    options: { aiSdk?: AiSdkStreamTuning; historyOff?: number } = {},
  ): Promise<Record<string, number>> {
    const started = performance.now();
    await this.#runOne(process, this.#script(peer, { ...shape, turns: 0, deltasPerCall: 10, chunkMs: 0 }, 'on', options.aiSdk).spec);
    const latencies: number[] = [];
    const historyOn: number[] = [];
    let signals = 0;
    let updates = 0;
    let missing = 0;
    let events = 0;
    let calls = 0;
    for (let i = 0; i < shape.conversations; i++) {
      const conversation = this.#script(peer, shape, 'on', options.aiSdk);
      const outcome = await this.#runOne(process, conversation.spec);
      const joined = deltaLatencies(this.written.stamps, outcome.deltaReceipts ?? [], conversation.marks());
      latencies.push(...joined.latencies);
      missing += joined.missing;
      events += outcome.eventsReceived ?? 0;
      calls += outcome.modelCalls ?? 0;
      if (outcome.historyProtoBytes !== undefined) historyOn.push(outcome.historyProtoBytes / (outcome.modelCalls ?? shape.turns + 1));
      signals += outcome.historySignals ?? 0;
      updates += outcome.historyUpdates ?? 0;
    }
    const figures: Record<string, number> = {
      delta_latency_ms_p50: round(percentile(latencies, 50)),
      delta_latency_ms_p95: round(percentile(latencies, 95)),
      delta_latency_ms_p99: round(percentile(latencies, 99)),
      delta_latency_ms_max: round(Math.max(...latencies)),
      deltas_measured: latencies.length,
      deltas_missing: missing,
      events_per_model_call: round(events / Math.max(1, calls)),
    };
    // Receipts are stamped by the peer's clock and writes by ours: how far apart the two are bounds the figures.
    if (process) {
      const clock = await process.clockOffset();
      figures.clock_offset_ms = round(clock.offsetMs, 2);
      figures.clock_offset_uncertainty_ms = round(clock.uncertaintyMs, 2);
    }
    if (process) {
      const offPerTurn = options.historyOff ?? (await this.#historyPerTurnOff(peer, process, shape));
      figures.history_bytes_per_turn_on = Math.round(median(historyOn));
      figures.history_bytes_per_turn_off = Math.round(offPerTurn);
      figures.history_ratio_on_to_off = round(median(historyOn) / offPerTurn, 3);
      figures.history_signals_per_model_call = round(signals / Math.max(1, calls));
      figures.history_updates_per_model_call = round(updates / Math.max(1, calls));
    }
    this.log(`streaming: ${peer}: p50 ${figures.delta_latency_ms_p50} ms, p95 ${figures.delta_latency_ms_p95} ms over ${latencies.length} deltas (${missing} missing), ${Math.round((performance.now() - started) / 100) / 10} s`);
    return figures;
  }
}

/** Runs every available peer in turn; a peer that fails is recorded and the others go on. */
export async function runStreamingScenario(
  fake: FakeMessagesApi,
  written: WrittenMarks,
  peers: ReadonlyArray<Peer>,
  shape: StreamingShape,
  attempt: <T>(peer: PeerName, work: () => Promise<T>) => Promise<T | undefined>,
  log: Log,
): Promise<ScenarioFigures> {
  const scenario = new StreamingScenario(fake, written, log);
  const figures: ScenarioFigures = {};
  written.recording = true;
  try {
    const floor = await attempt('sdk_stream', () => scenario.measure('sdk_stream', undefined, shape));
    if (floor) figures.sdk_stream = floor;
    for (const peer of peers.filter((p) => p.name === 'durable_claude' || p.name === 'temporal_ai_sdk')) {
      const measured = await attempt(peer.name, () => scenario.measure(peer.name, peer, shape));
      if (measured) figures[peer.name] = measured;
      if (peer.name !== 'temporal_ai_sdk') continue;
      // What Workflow Streams costs without its batching: the same peer with the knobs at their floor.
      const off = measured?.history_bytes_per_turn_off;
      const tuned = await attempt('temporal_ai_sdk_tuned', () =>
        scenario.measure('temporal_ai_sdk_tuned', peer, shape, { aiSdk: AI_SDK_TUNED, ...(off !== undefined ? { historyOff: off } : {}) }),
      );
      if (tuned) figures.temporal_ai_sdk_tuned = tuned;
    }
  } finally {
    written.recording = false;
  }
  return figures;
}
