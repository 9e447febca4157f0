// What the model sees of the conversation. The transcript keeps every message; once the API has compacted the
// older ones, the model-facing history is the compaction block followed by the messages after what it summarized.
// When the server will not compact, the model calls clear old tool results themselves (the client-side fallback).
import { ActivityFailure, isCancellation, log, proxyActivities } from '@temporalio/workflow';
import type { AgentActivities, CallModelResult, ClientContextFallback, CompactConversationResult } from '../activities/types';
import type { LiveEvents } from './live-events';
import { modelRetryPolicy, type ResolvedOptions } from './options';
import type { CompactionRecord, Continuation, MessageParam, UsageTotals } from './types';
import type { ArchivedCounts } from './transcript-pages';
import { addUsage, usageOf } from './usage';

export const DEFAULT_COMPACT_AT_INPUT_TOKENS = 150_000;
export const DEFAULT_FALLBACK_KEEP_TOOL_RESULTS = 2;

export interface ContextWindowContext {
  readonly options: ResolvedOptions;
  /** The anthropic-beta values the conversation's requests need (its tools are in the compaction request too). */
  betas?(): string[];
  /** The code-execution container the messages' results belong to: the API wants it with them. */
  container?(): string | undefined;
  readonly messages: MessageParam[];
  /** Messages of the transcript's start this run does not hold (archived): `messages` starts after them. */
  readonly archived: ArchivedCounts;
  readonly usage: UsageTotals;
  readonly events: LiveEvents;
  setDetails(details: string): void;
  /** The thread's copy no longer matches what the model sees: the next call creates. */
  resetThread(): void;
  sampleHistory(): void;
  /** The worker's model-call task queue (rate-limited), when it has one; absent: the conversation's own. */
  modelTaskQueue?(): string | undefined;
}

export class ContextWindow {
  /** The compaction block's message, sent first in place of the messages it summarized. */
  #replacement: MessageParam | null = null;
  /** Index in `messages` (this run's part of the transcript) of the first message after the summarized ones. */
  #from = 0;
  #fallback: ClientContextFallback | undefined;
  /** The last call's prompt passed the threshold: compact before the next call. */
  #due = false;
  /** After a compaction that did not shrink the prompt (refused, failed, no summary): its size then, to wait for growth. */
  #failedAtPrompt: number | undefined;
  #lastPrompt = 0;
  readonly records: CompactionRecord[] = [];

  constructor(private readonly context: ContextWindowContext) {}

  get enabled(): boolean {
    return this.context.options.compaction !== null;
  }

  get due(): boolean {
    return this.#due;
  }

  /** The client-side fallback the model calls apply, once the server refused to compact. */
  get fallback(): ClientContextFallback | undefined {
    return this.#fallback;
  }

  /** The messages the model sees, in order. */
  view(): MessageParam[] {
    const { messages } = this.context;
    return this.#replacement ? [this.#replacement, ...messages.slice(this.#from)] : messages;
  }

  /** How many of this run's messages the model no longer sees (a compaction summarized them): they may be archived. */
  archivableMessages(): number {
    return this.#replacement ? this.#from : 0;
  }

  /** An index of `messages` as an index of view(); meaningful for messages after the summarized ones. */
  viewIndexOf(transcriptIndex: number): number {
    return this.#replacement ? transcriptIndex - this.#from + 1 : transcriptIndex;
  }

  /** After each model call: did its prompt reach the threshold? */
  noteCall(result: CallModelResult): void {
    const policy = this.context.options.compaction;
    if (!policy) return;
    const { usage } = result.reply;
    const prompt = usage.input_tokens + (usage.cache_read_input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0);
    this.#lastPrompt = prompt;
    // After a failed try, not every turn again: once the prompt has grown by a quarter.
    const waitFor = this.#failedAtPrompt !== undefined ? this.#failedAtPrompt * 1.25 : 0;
    if (prompt >= (policy.atInputTokens ?? DEFAULT_COMPACT_AT_INPUT_TOKENS) && prompt >= waitFor) this.#due = true;
  }

  /**
   * Compacts the model-facing history at a point where no tool call is unanswered. True when what the model sees
   * changed (compacted, or the fallback newly on), so a call refused as too long is worth repeating.
   */
  async compact(turn: number, reason: CompactionRecord['reason']): Promise<boolean> {
    const policy = this.context.options.compaction;
    if (!policy) return false;
    this.#due = false;
    const options = this.context.options;
    this.context.setDetails(`turn ${turn}: compacting the conversation`);
    const { compactConversation } = proxyActivities<Pick<AgentActivities, 'compactConversation'>>({
      startToCloseTimeout: options.modelTimeoutMs,
      heartbeatTimeout: options.modelHeartbeatTimeoutMs,
      retry: modelRetryPolicy(options),
      ...(this.context.modelTaskQueue?.() !== undefined ? { taskQueue: this.context.modelTaskQueue()! } : {}),
      summary: `compact before turn ${turn}`,
    });
    const view = this.view();
    const at = new Date(Date.now()).toISOString();
    let result: CompactConversationResult;
    try {
      result = await compactConversation({
        turn,
        model: options.model,
        maxTokens: options.maxTokens,
        transcriptLength: view.length,
        ...(policy.instructions !== undefined ? { instructions: policy.instructions } : {}),
        ...(options.cacheTtl ? { cache: { ttl: options.cacheTtl } } : {}),
        ...(options.prices ? { prices: options.prices } : {}),
        maxRetryIntervalMs: options.modelRetry.maximumIntervalMs,
        ...(this.context.betas && this.context.betas().length > 0 ? { betas: this.context.betas() } : {}),
        ...(this.context.container?.() !== undefined ? { container: this.context.container()! } : {}),
      });
      this.context.sampleHistory();
    } catch (err) {
      this.context.sampleHistory();
      if (!(err instanceof ActivityFailure) || isCancellation(err)) throw err;
      // Retries ran out: the conversation goes on with the fallback rather than fail for want of a summary.
      log.warn('Compaction failed; clearing old tool results instead', { turn, error: err.cause?.message ?? err.message });
      return this.#useFallback({ turn, at, reason, outcome: 'failed', detail: err.cause?.message ?? err.message });
    }
    if (result.outcome === 'refused') {
      return this.#useFallback({ turn, at, reason, outcome: 'refused', detail: `${result.refusal.status} ${result.refusal.errorCode ?? ''} ${result.refusal.message}`.trim() });
    }
    const usage = usageOf({ reply: { usage: result.usage } as CallModelResult['reply'], costUsd: result.costUsd });
    addUsage(this.context.usage, usage);
    if (result.outcome === 'no_summary') {
      return this.#useFallback({ turn, at, reason, outcome: 'no_summary', summarizedMessages: result.summarizedMessages, usage });
    }
    // The new view: the block, then what came after the summarized messages (a view index maps back to the transcript).
    const keptFromMessage = this.#replacement ? this.#from + result.summarizedMessages - 1 : result.summarizedMessages;
    this.#replacement = result.replacement;
    this.#from = keptFromMessage;
    // Compacted: the real history goes to the model again (and thread continues are possible again).
    this.#fallback = undefined;
    this.#failedAtPrompt = undefined;
    this.context.resetThread();
    // Records count in the whole transcript's indexes (archived messages too).
    const keptFromTranscriptMessage = this.context.archived.messages + keptFromMessage;
    this.records.push({ turn, at, reason, outcome: 'compacted', summarizedMessages: result.summarizedMessages, keptFromMessage: keptFromTranscriptMessage, usage });
    log.info('Compacted the conversation', { turn, summarizedMessages: result.summarizedMessages, keptFromMessage: keptFromTranscriptMessage });
    return true;
  }

  #useFallback(record: CompactionRecord): boolean {
    this.records.push(record);
    this.#failedAtPrompt = this.#lastPrompt;
    if (this.#fallback) return false;
    const policy = this.context.options.compaction;
    this.#fallback = { keepToolResults: (policy && policy.keepToolResults) ?? DEFAULT_FALLBACK_KEEP_TOOL_RESULTS };
    this.context.resetThread();
    return true;
  }

  /** `archived`: how many of this run's first messages leave with the hand-over (the carried ones start after them). */
  carry(archived = 0): NonNullable<Continuation['context']> {
    return {
      replacement: this.#replacement,
      from: this.#from - archived,
      ...(this.#fallback ? { fallback: this.#fallback } : {}),
      records: this.records,
      due: this.#due,
      ...(this.#failedAtPrompt !== undefined ? { failedAtPrompt: this.#failedAtPrompt } : {}),
    };
  }

  restore(carried: NonNullable<Continuation['context']>): void {
    this.#replacement = carried.replacement;
    this.#from = carried.from;
    this.#fallback = carried.fallback;
    this.#due = carried.due;
    this.#failedAtPrompt = carried.failedAtPrompt;
    this.records.push(...carried.records);
  }
}
