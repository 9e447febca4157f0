// One model turn: the callModel activity, repeated up the max_tokens ladder while a tool_use comes back cut off,
// and the message-thread hint that lets the next call send only its own new messages.
import { ActivityFailure, ApplicationFailure, isCancellation, log, proxyActivities } from '@temporalio/workflow';
import type { BetaContentBlock, BetaToolChoice } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import type { AgentActivities, CacheTtl, CallModelInput, CallModelResult, ModelCallEstimate, ModelRequestContext, ThreadHint } from '../activities/types';
import { FailureRetries, FailureTypes } from './failure-retries';
import { jsonByteLength } from './json';
import type { ContextWindow } from './context-window';
import type { LiveEvents } from './live-events';
import { modelCallTimeoutMs, modelRetryPolicy, toolChoiceForTurn, type ResolvedOptions } from './options';
import type { BudgetStop, ContainerRef, ContentBlockParam, MessageParam, ServerToolCallRecord, TurnRecord, UsageTotals } from './types';
import { addUsage, emptyUsage, usageOf } from './usage';
import type { ArchivedCounts } from './transcript-pages';

/**
 * A continued thread's new messages ride in the model call's input up to this size (UTF-8 bytes of their JSON):
 * that saves the activity a query per turn, at the price of recording them twice (a tool's result, then the model
 * call's input) — no more than the ~3 KB of event metadata a turn records anyway. Larger ones are read by query, so
 * big tool results are recorded once.
 */
const MAX_INLINE_NEW_MESSAGES_BYTES = 2_048;
/**
 * A call that must send everything (a conversation's first, or one after its thread was dropped) carries the request
 * context in its input up to this size: the activity then reads nothing back from the workflow, whose query is a
 * round trip through the server and a workflow task on the worker (about 10 ms of each conversation's first call on
 * the bench machine). Recorded once per conversation in the usual case; larger contexts are read by query.
 */
const MAX_INLINE_CONTEXT_BYTES = 4_096;
/**
 * Whether a request context's JSON stays within `limit` bytes, measured part by part: a long transcript (a create
 * after its thread was dropped) stops being measured as soon as it is over, instead of being serialized whole.
 */
function contextFits(context: ModelRequestContext, limit: number): boolean {
  let bytes = jsonByteLength(context.system ?? null) + jsonByteLength(context.tools);
  for (const message of context.messages) {
    if (bytes > limit) return false;
    bytes += jsonByteLength(message);
  }
  return bytes <= limit;
}

/** The model activity's failure type for a prompt over the model's context window (a 400). */
const CONTEXT_WINDOW_EXCEEDED = 'ContextWindowExceeded';

export interface ModelTurnOutcome {
  result: CallModelResult;
  record: TurnRecord;
  /** The ladder ran out with a tool_use still cut off by max_tokens (or the budget stopped it: `budgetStop`). */
  cutToolUse: boolean;
  /** The ladder's next rung was not called: it could have cost more than the budget has left. */
  budgetStop?: BudgetStop;
}

/** The call was not made: it could have cost more than the budget has left. */
export interface BudgetStopOutcome {
  budgetStop: BudgetStop;
}

const usd = (value: number) => `$${value.toFixed(4)}`;

/** A budget stop without a call estimate: what was spent already reached the budget (or is unknown). */
export function budgetSpent(budgetUsd: number, spentUsd: number | null): BudgetStop | undefined {
  if (spentUsd !== null && spentUsd < budgetUsd) return undefined;
  return {
    budgetUsd,
    spentUsd: spentUsd ?? budgetUsd,
    message:
      spentUsd === null
        ? `the budget of ${usd(budgetUsd)} cannot be checked: a call's model has no price`
        : `the budget of ${usd(budgetUsd)} is spent (${usd(spentUsd)})`,
  };
}

/** What the model turn reads and writes of the conversation. */
export interface TurnContext {
  readonly options: ResolvedOptions;
  readonly messages: MessageParam[];
  readonly turns: TurnRecord[];
  /** Messages and turn records of the transcript's start this run does not hold (archived). */
  readonly archived: ArchivedCounts;
  readonly usage: UsageTotals;
  readonly retries: FailureRetries;
  readonly events: LiveEvents;
  hasTools(): boolean;
  /** The anthropic-beta values every call needs (server tools, input examples, the betas option). */
  betas(): string[];
  /** The TTLs of the user's breakpoints on tools and system prompt, tools first (empty when there are none). */
  fixedBreakpointTtls(): CacheTtl[];
  setDetails(details: string): void;
  /** An activity's result was just delivered: the moment to read the history's size (continue-as-new). */
  sampleHistory(): void;
  /** What the model sees (the transcript, or a compaction block and what came after it). */
  readonly window: ContextWindow;
  /** The worker's model-call task queue (rate-limited), when it has one; absent: the conversation's own. */
  modelTaskQueue(): string | undefined;
  /** What a create sends (system, tools, the messages the model sees), as the modelRequest query answers it. */
  requestContext(): ModelRequestContext;
}

/** The call was refused: the prompt is longer than the model's context window (and compaction may help). */
export interface ContextExceededOutcome {
  contextExceeded: true;
  message: string;
}

/** The server tool calls of a reply, each with its result block's type (and error code) when the reply holds it. */
export function serverToolCallsOf(content: readonly BetaContentBlock[]): ServerToolCallRecord[] {
  const calls: ServerToolCallRecord[] = [];
  for (const block of content) {
    if (block.type === 'server_tool_use') calls.push({ id: block.id, name: block.name });
    else if ('tool_use_id' in block && typeof block.tool_use_id === 'string' && block.type.endsWith('_tool_result')) {
      const call = calls.find((c) => c.id === block.tool_use_id);
      if (!call) continue;
      call.resultType = block.type;
      const inner: unknown = (block as { content?: unknown }).content;
      const code = typeof inner === 'object' && inner !== null && 'error_code' in inner ? (inner as { error_code: unknown }).error_code : undefined;
      if (typeof code === 'string') call.errorCode = code;
    }
  }
  return calls;
}

export class ModelTurns {
  /** Message threads stay on until the API says this organisation cannot use them. */
  #threadsEnabled: boolean;
  /** Where the server's copy of the conversation ends, when the last reply was stored as a thread. */
  #threadHint: ThreadHint | null = null;
  /** The code-execution container the last reply named: every later call sends it back, as the API requires. */
  #container: ContainerRef | undefined;

  constructor(private readonly context: TurnContext) {
    this.#threadsEnabled = context.options.threads;
    if (context.options.container !== undefined) this.#container = { id: context.options.container };
  }

  /** The thread state the next run continues with (continue-as-new): its first call can still be a continue. */
  carry(): { thread: ThreadHint | null; threadsEnabled: boolean; container?: ContainerRef } {
    return { thread: this.#threadHint, threadsEnabled: this.#threadsEnabled, ...(this.#container ? { container: this.#container } : {}) };
  }

  /** Model calls go to the worker's model-call queue when it has one (its server-side rate limit applies there). */
  #onModelQueue(): { taskQueue?: string } {
    const taskQueue = this.context.modelTaskQueue();
    return taskQueue !== undefined ? { taskQueue } : {};
  }

  /** The code-execution container the next request sends back, if a reply named one. */
  containerId(): string | undefined {
    return this.#container?.id;
  }

  /** Of those, what a token count takes. */
  #countedExtras(): Pick<CallModelInput, 'thinking' | 'betas'> {
    const { thinking, betas } = this.#requestExtras();
    return { ...(thinking ? { thinking } : {}), ...(betas ? { betas } : {}) };
  }

  /** What every request of this conversation carries besides its messages: thinking, effort, container, betas. */
  #requestExtras(): Pick<CallModelInput, 'thinking' | 'effort' | 'container' | 'betas'> {
    const { thinking } = this.context.options;
    const betas = this.context.betas();
    return {
      ...(thinking ? { thinking: thinking.config } : {}),
      ...(thinking?.effort ? { effort: thinking.effort } : {}),
      ...(this.#container ? { container: this.#container.id } : {}),
      ...(betas.length > 0 ? { betas } : {}),
    };
  }

  /** What the model sees was rewritten (compacted, or tool results cleared): the next call creates a thread. */
  resetThread(): void {
    this.#threadHint = null;
  }

  restore(carried: { thread: ThreadHint | null; threadsEnabled: boolean; container?: ContainerRef }): void {
    this.#threadHint = carried.thread;
    this.#threadsEnabled = carried.threadsEnabled;
    this.#container = carried.container;
  }

  /**
   * With a budget: the call's worst case (the API's token count at the dearest input rate, plus max_tokens of output)
   * must fit in what is left, or the call is not made.
   */
  async #checkBudget(turn: number, maxTokens: number, toolChoice: BetaToolChoice | undefined): Promise<BudgetStop | undefined> {
    const { options, window } = this.context;
    const budgetUsd = options.budgetUsd;
    if (budgetUsd === undefined) return undefined;
    const spentUsd = this.context.usage.costUsd;
    const spent = budgetSpent(budgetUsd, spentUsd);
    if (spent) return spent;
    this.context.setDetails(`turn ${turn}: counting tokens for the budget`);
    // The count goes to the same API as the call, so it is retried as the call would be, and a failure for good is
    // the model call's failure (retry() repeats it).
    const { estimateModelCall } = proxyActivities<Pick<AgentActivities, 'estimateModelCall'>>({
      startToCloseTimeout: '1m',
      retry: modelRetryPolicy(options),
      ...this.#onModelQueue(),
      summary: `count turn ${turn}'s tokens for the budget`,
    });
    let estimate: ModelCallEstimate;
    for (;;) {
      try {
        estimate = await estimateModelCall({
          turn,
          model: options.model,
          maxTokens,
          ...(toolChoice && this.context.hasTools() ? { toolChoice } : {}),
          transcriptLength: window.view().length,
          ...(options.cacheTtl ? { cacheTtl: options.cacheTtl } : {}),
          ...(options.prices ? { prices: options.prices } : {}),
          ...this.#countedExtras(),
        });
        break;
      } catch (err) {
        if (err instanceof ActivityFailure && !isCancellation(err)) {
          if (await this.context.retries.take({ kind: 'model_call', turn })) continue;
          throw FailureRetries.failure(
            `The budget check before turn ${turn} failed: ${err.cause?.message ?? err.message}`,
            FailureTypes.modelCallFailed,
            { kind: 'model_call', turn },
            err,
          );
        }
        throw err;
      }
    }
    if (spentUsd! + estimate.maxCostUsd <= budgetUsd) return undefined;
    return {
      budgetUsd,
      spentUsd: spentUsd!,
      nextCallMaxUsd: estimate.maxCostUsd,
      nextCallInputTokens: estimate.inputTokens,
      message:
        `turn ${turn} was not sent: it could cost up to ${usd(estimate.maxCostUsd)} (${estimate.inputTokens} input tokens, ` +
        `max_tokens ${maxTokens}) and ${usd(budgetUsd - spentUsd!)} of the ${usd(budgetUsd)} budget is left`,
    };
  }

  /** One model turn; repeats with a higher max_tokens (the ladder) while a tool_use comes back cut off. */
  async call(iteration: number): Promise<ModelTurnOutcome | BudgetStopOutcome | ContextExceededOutcome> {
    const { options, window } = this.context;
    const messages = window.view();
    const turn = this.context.archived.turns + this.context.turns.length + 1;
    const model = options.model;
    const ladder = [options.maxTokens, ...options.maxTokensLadder];
    const usage = emptyUsage();
    let durationMs = 0;
    const toolChoice = toolChoiceForTurn(options, iteration);
    const budgetStop = await this.#checkBudget(turn, ladder[0]!, toolChoice);
    if (budgetStop) return { budgetStop };
    this.context.events.emit({ type: 'turn_started', turn, model });
    const fixedBreakpointTtls = this.context.fixedBreakpointTtls();
    let result: CallModelResult | undefined;
    for (let rung = 0; ; ) {
      const maxTokens = ladder[rung]!;
      const rungStop = rung > 0 ? await this.#checkBudget(turn, maxTokens, toolChoice) : undefined;
      if (rungStop) return { ...this.#record(turn, result!, usage, durationMs, ladder.slice(0, rung)), cutToolUse: true, budgetStop: rungStop };
      this.context.setDetails(`turn ${turn}: calling ${model}`);
      const activities = proxyActivities<Pick<AgentActivities, 'callModel'>>({
        startToCloseTimeout: modelCallTimeoutMs(options, maxTokens),
        heartbeatTimeout: options.modelHeartbeatTimeoutMs,
        retry: modelRetryPolicy(options),
        ...this.#onModelQueue(),
        summary: `model ${model} · turn ${turn}`,
      });
      // A continue sends only what came after the thread's last reply: this turn's own messages.
      const hint = this.#threadsEnabled ? this.#threadHint : null;
      const pending = hint && rung === 0 ? messages.slice(hint.replyIndex + 1) : undefined;
      const newMessages = pending && jsonByteLength(pending) <= MAX_INLINE_NEW_MESSAGES_BYTES ? pending : undefined;
      // No thread to continue: the call creates one and sends the whole context (unthreaded, only the first call
      // carries it, or every turn would record the transcript again).
      const creates = !hint && !window.fallback && (this.#threadsEnabled || !messages.some((message) => message.role === 'assistant'));
      const whole = creates ? this.context.requestContext() : undefined;
      const inlineContext = whole && contextFits(whole, MAX_INLINE_CONTEXT_BYTES) ? whole : undefined;
      try {
        result = await activities.callModel({
          turn,
          model,
          maxTokens,
          ...(toolChoice && this.context.hasTools() ? { toolChoice } : {}),
          transcriptLength: messages.length,
          threads: this.#threadsEnabled,
          thread: hint,
          ...(newMessages ? { newMessages } : {}),
          ...(inlineContext ? { context: inlineContext } : {}),
          ...(rung > 0 ? { forceCreate: true } : {}),
          ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
          ...(options.stopSequences ? { stopSequences: options.stopSequences } : {}),
          maxRetryIntervalMs: options.modelRetry.maximumIntervalMs,
          ...(options.cacheTtl ? { cache: { ttl: options.cacheTtl } } : {}),
          ...(options.prices ? { prices: options.prices } : {}),
          ...(fixedBreakpointTtls.length > 0 ? { fixedBreakpointTtls } : {}),
          ...(window.fallback ? { contextFallback: window.fallback } : {}),
          ...(options.compaction?.clearToolUses ? { clearToolUses: options.compaction.clearToolUses } : {}),
          ...this.#requestExtras(),
        });
        this.context.sampleHistory();
      } catch (err) {
        if (err instanceof ActivityFailure && !isCancellation(err)) {
          // Too long for the model: the conversation compacts and calls again, rather than fail.
          if (window.enabled && err.cause instanceof ApplicationFailure && err.cause.type === CONTEXT_WINDOW_EXCEEDED && rung === 0) {
            return { contextExceeded: true, message: err.cause.message };
          }
          if (await this.context.retries.take({ kind: 'model_call', turn })) continue;
          throw FailureRetries.failure(
            `Model call failed on turn ${turn}: ${err.cause?.message ?? err.message}`,
            FailureTypes.modelCallFailed,
            { kind: 'model_call', turn },
            err,
          );
        }
        throw err;
      }
      if (result.threadsUnsupported) this.#threadsEnabled = false;
      const replyUsage = usageOf(result);
      addUsage(usage, replyUsage);
      addUsage(this.context.usage, replyUsage);
      durationMs += result.durationMs;
      const last = result.reply.content[result.reply.content.length - 1];
      // A call cut off by max_tokens cannot run: a client tool's input is incomplete, a server tool's call unanswered.
      const cutToolUse = result.reply.stopReason === 'max_tokens' && (last?.type === 'tool_use' || last?.type === 'server_tool_use');
      if (cutToolUse && rung + 1 < ladder.length) {
        log.info('A tool_use was cut off by max_tokens; repeating the call with a higher max_tokens', { turn, maxTokens: ladder[rung + 1] });
        rung++;
        continue;
      }
      return { ...this.#record(turn, result, usage, durationMs, ladder.slice(0, rung + 1)), cutToolUse };
    }
  }

  #record(turn: number, result: CallModelResult, usage: UsageTotals, durationMs: number, maxTokensTried: number[]): Pick<ModelTurnOutcome, 'result' | 'record'> {
    const content = result.reply.content;
    const serverToolCalls = serverToolCallsOf(content);
    const thinkingBlocks = content.filter((block) => block.type === 'thinking' || block.type === 'redacted_thinking').length;
    if (result.container) this.#container = result.container;
    if (serverToolCalls.length > 0) {
      const names = [...new Set(serverToolCalls.map((call) => call.name))].map((name) => `${name} ×${serverToolCalls.filter((c) => c.name === name).length}`);
      this.context.setDetails(`turn ${turn}: ${names.join(', ')} ran on Anthropic's side`);
    }
    const record: TurnRecord = {
      turn,
      model: result.reply.model || this.context.options.model,
      stopReason: result.reply.stopReason,
      requestKind: result.requestKind,
      maxTokensTried,
      messageIndex: -1,
      usage,
      durationMs,
      toolCalls: [],
      ...(serverToolCalls.length > 0 ? { serverToolCalls } : {}),
      ...(thinkingBlocks > 0 ? { thinkingBlocks } : {}),
      ...(result.container ? { container: result.container.id } : {}),
    };
    this.context.turns.push(record);
    return { result, record };
  }

  /** Appends the reply; a reply that resumes a paused turn joins the paused message (the API combines same-role turns anyway). */
  appendReply(result: CallModelResult, content: BetaContentBlock[]): void {
    const { messages, turns, window } = this.context;
    const last = messages[messages.length - 1];
    if (last?.role === 'assistant' && Array.isArray(last.content)) {
      last.content = [...last.content, ...(content as ContentBlockParam[])];
    } else {
      messages.push({ role: 'assistant', content: content as ContentBlockParam[] });
    }
    const replyIndex = messages.length - 1;
    const record = turns[turns.length - 1]!;
    record.messageIndex = this.context.archived.messages + replyIndex;
    const text = content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
    this.context.events.emit({ type: 'turn_finished', turn: record.turn, stopReason: record.stopReason, usage: { ...record.usage }, text });
    // The thread's indexes are the model's: positions in what it sees.
    this.#threadHint = result.thread && content === result.reply.content ? { ...result.thread, replyIndex: window.viewIndexOf(replyIndex) } : null;
  }

  /** The turn's reply is not recorded (nothing in it was whole): the server's copy no longer matches, so the next call creates. */
  dropReply(): void {
    this.#threadHint = null;
    const record = this.context.turns[this.context.turns.length - 1]!;
    this.context.events.emit({ type: 'turn_finished', turn: record.turn, stopReason: record.stopReason, usage: { ...record.usage }, text: '' });
  }
}
