// The model-call activity: one Messages API request through the real SDK, streamed so it can heartbeat and be
// cancelled, with Temporal (not the SDK) owning retries. While a thread lives it sends only the new messages: small
// ones come in its input, otherwise it reads the conversation from the workflow by query (queries are not
// recorded), as it does to create or replay a thread — so history never records the transcript again per turn.
import { createHash } from 'node:crypto';
import { APIError, APIUserAbortError, type Anthropic } from '@anthropic-ai/sdk';
import type {
  BetaClearToolUses20250919Edit,
  BetaContentBlockParam,
  BetaMessage,
  BetaMessageParam,
  BetaToolResultBlockParam,
  MessageCreateParamsBase,
} from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { ApplicationFailure, CancelledFailure, Context, log } from '@temporalio/activity';
import { modelRequestQuery } from '../workflows/definitions';
import type { EventPublisher } from '../streaming/event-store';
import { workflowOf } from './context';
import { AttemptEvents } from './model-events';
import type {
  AppliedContextEdit,
  CallModelInput,
  CallModelResult,
  ClearToolUsesOptions,
  ClientContextFallback,
  CompactConversationInput,
  CompactConversationResult,
  EstimateModelCallInput,
  ModelCallEstimate,
  ModelReply,
  ModelRequestContext,
  ModelRequestKind,
} from './types';
import { MESSAGE_THREADS_BETA } from '../message-threads';
import { markFirstToken } from '../observability/activities';
import { costOfUsage, maxCostOfRequest, priceOf, type ModelPrice, type PriceTable } from '../pricing/cost';
import { breakpointTtlsOf, withPromptCaching } from './prompt-cache';


export interface ModelActivityOptions {
  /** The SDK client. The API key lives here, in the worker; it never enters workflow input or history. */
  anthropic: Anthropic;
  /** Abort and retry a stream that sends nothing for this long. Default 60s. */
  streamIdleTimeoutMs?: number;
  /** Continue a thread only while its last reply is younger than this (the server keeps it 5 minutes). Default 4.5 min. */
  threadMaxAgeMs?: number;
  /** Heartbeat at least this often while waiting for tokens. Default 5s. */
  heartbeatIntervalMs?: number;
  /** Live output: each attempt's stream events go here as they arrive (see src/streaming/events.ts). */
  events?: EventPublisher;
  /** Prices (US dollars per million tokens) ahead of the list in src/pricing/prices.ts; a conversation's own win. */
  prices?: PriceTable;
}

/** The longest a model call waits for its live-output events to be stored before it returns its reply. */
const FLUSH_BEFORE_REPLY_MS = 1_000;
/** Pages of the transcript query stay well under the gRPC message limit (4 MB by default) with their envelope. */
const MODEL_REQUEST_PAGE_BYTES = 1_000_000;

const REPLAY_ERROR_CODES = new Set(['thread_not_found', 'thread_already_continued', 'thread_continue_in_flight', 'thread_fingerprint_mismatch']);
const RETRYABLE_STATUSES = new Set([408, 409, 429]);
const RETRYABLE_STREAM_ERRORS = new Set(['overloaded_error', 'api_error', 'rate_limit_error', 'timeout_error']);

// Context management (see /work/notes/compaction-reference.md): the explicit compaction request's beta, and the
// context-editing beta that `clear_tool_uses_20250919` needs.
export const COMPACTION_BETA = 'compact-2026-09-04';
export const CONTEXT_MANAGEMENT_BETA = 'context-management-2025-06-27';
/** What an old tool result's content becomes under the client-side fallback. */
export const CLEARED_TOOL_RESULT_PLACEHOLDER = '[tool result cleared to fit the context window]';
/** The API's answer to a prompt larger than the model's window (400 invalid_request_error, no error_code). */
const PROMPT_TOO_LONG = /prompt is too long|exceed context limit/i;
/** A compaction request the server refused for good: the conversation falls back to clearing tool results itself. */
const COMPACTION_REFUSED_STATUSES = new Set([400, 413]);

/**
 * The client-side fallback when the server will not compact: every tool result but the newest `keepToolResults`
 * gets the placeholder as its content (and, with `clearToolInputs`, its tool_use the input {}). No block is removed
 * and no id changes, so each tool_result still answers the tool_use before it; other blocks are untouched. Pure: a
 * retry or a replay sends the same bytes, and the transcript (the record) keeps the real results.
 */
export function clearOldToolResults(messages: readonly BetaMessageParam[], fallback: ClientContextFallback): BetaMessageParam[] {
  const results: Array<{ message: number; block: number }> = [];
  messages.forEach((message, i) => {
    if (message.role !== 'user' || !Array.isArray(message.content)) return;
    message.content.forEach((block, j) => {
      if (block.type === 'tool_result') results.push({ message: i, block: j });
    });
  });
  const cleared = results.slice(0, Math.max(0, results.length - Math.max(0, fallback.keepToolResults)));
  const out = [...messages];
  const clearedUses = new Set<string>();
  for (const site of cleared) {
    const message = out[site.message]!;
    const content = [...(message.content as BetaContentBlockParam[])];
    const result = content[site.block] as BetaToolResultBlockParam;
    content[site.block] = { ...result, content: [{ type: 'text', text: CLEARED_TOOL_RESULT_PLACEHOLDER }] };
    clearedUses.add(result.tool_use_id);
    out[site.message] = { ...message, content } as BetaMessageParam;
  }
  if (!fallback.clearToolInputs || clearedUses.size === 0) return out;
  return out.map((message) => {
    if (message.role !== 'assistant' || !Array.isArray(message.content)) return message;
    if (!message.content.some((b) => b.type === 'tool_use' && clearedUses.has(b.id))) return message;
    return { ...message, content: message.content.map((b) => (b.type === 'tool_use' && clearedUses.has(b.id) ? { ...b, input: {} } : b)) } as BetaMessageParam;
  });
}

/** The `clear_tool_uses_20250919` edit for these options; what they leave out takes the API's default. */
function clearToolUsesEdit(options: ClearToolUsesOptions): BetaClearToolUses20250919Edit {
  return {
    type: 'clear_tool_uses_20250919',
    ...(options.triggerInputTokens !== undefined ? { trigger: { type: 'input_tokens' as const, value: options.triggerInputTokens } } : {}),
    ...(options.keepToolUses !== undefined ? { keep: { type: 'tool_uses' as const, value: options.keepToolUses } } : {}),
    ...(options.clearAtLeastTokens !== undefined ? { clear_at_least: { type: 'input_tokens' as const, value: options.clearAtLeastTokens } } : {}),
    ...(options.clearToolInputs !== undefined ? { clear_tool_inputs: options.clearToolInputs } : {}),
    ...(options.excludeTools ? { exclude_tools: options.excludeTools } : {}),
  };
}

function appliedEditsOf(message: BetaMessage): AppliedContextEdit[] {
  return (message.context_management?.applied_edits ?? []).map((edit) => ({
    type: edit.type,
    clearedInputTokens: edit.cleared_input_tokens,
    ...('cleared_tool_uses' in edit ? { clearedToolUses: edit.cleared_tool_uses } : {}),
    ...('cleared_thinking_turns' in edit ? { clearedThinkingTurns: edit.cleared_thinking_turns } : {}),
  }));
}

/**
 * How many leading messages a compaction summarizes by default: all when the history ends with an assistant message
 * that calls no tool; otherwise the trailing turn stays whole — from the tool_use message (answered by trailing
 * results or not yet: the API refuses to compact an unfinished turn), or, after a reply without tool calls, the new
 * user messages.
 */
export function defaultCompactionCut(messages: readonly BetaMessageParam[]): number {
  const callsTools = (message: BetaMessageParam) => Array.isArray(message.content) && message.content.some((b) => b.type === 'tool_use');
  let last = messages.length - 1;
  if (last < 0) return 0;
  if (messages[last]!.role === 'assistant') return callsTools(messages[last]!) ? last : messages.length;
  while (last >= 0 && messages[last]!.role !== 'assistant') last--;
  if (last < 0) return 0;
  return callsTools(messages[last]!) ? last : last + 1;
}

/** Hash of what a thread fixes at create time: a change means a continue would be refused. */
function threadFingerprint(context: ModelRequestContext, model: string): string {
  return createHash('sha256').update(JSON.stringify([model, context.system ?? null, context.tools])).digest('hex').slice(0, 16);
}

function lastAssistantIndex(messages: BetaMessageParam[]): number {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role === 'assistant') return i;
  return -1;
}

/** The server's retry hint: retry-after-ms, then retry-after in seconds or as an HTTP date. */
export function retryDelayMs(headers: Headers | undefined): number | undefined {
  if (!headers) return undefined;
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.get('retry-after-ms') !== null && Number.isFinite(ms) && ms >= 0) return ms;
  const after = headers.get('retry-after');
  if (after === null) return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export interface ClassifyModelErrorOptions {
  /**
   * The retry policy's maximum interval: a server's retry hint above it is cut to it. Temporal takes a failure's
   * nextRetryDelay as given, so without the cap one `retry-after: 86400` would park the conversation for a day.
   */
  maxRetryDelayMs?: number;
}

/**
 * Maps an SDK error to the failure Temporal acts on: retryable (with the server's delay) for what a retry can fix,
 * non-retryable with the API's own message for what it cannot.
 */
export function classifyModelError(err: unknown, options: ClassifyModelErrorOptions = {}): ApplicationFailure {
  if (err instanceof APIError) {
    const status = err.status;
    const apiType = err.type ?? (status === undefined ? 'connection_error' : 'api_error');
    const message = `${status ?? 'stream'} ${apiType}: ${err.apiMessage ?? err.message}`;
    // A prompt over the model's window: its own type, so the workflow can compact and repeat the call.
    if (status === 400 && PROMPT_TOO_LONG.test(err.apiMessage ?? err.message)) {
      return ApplicationFailure.create({ message, type: 'ContextWindowExceeded', nonRetryable: true, details: [{ status, requestId: err.requestID ?? null }] });
    }
    const type = `Anthropic:${apiType}`;
    const shouldRetry = err.headers?.get('x-should-retry');
    let retryable: boolean;
    if (shouldRetry === 'true') retryable = true;
    else if (shouldRetry === 'false') retryable = false;
    else if (status === undefined) retryable = err.type === null || RETRYABLE_STREAM_ERRORS.has(err.type);
    else retryable = RETRYABLE_STATUSES.has(status) || status >= 500;
    if (!retryable) return ApplicationFailure.create({ message, type, nonRetryable: true, details: [{ status, requestId: err.requestID ?? null }] });
    const hinted = retryDelayMs(err.headers);
    const nextRetryDelay = hinted !== undefined && options.maxRetryDelayMs !== undefined ? Math.min(hinted, options.maxRetryDelayMs) : hinted;
    return ApplicationFailure.create({
      message,
      type,
      nonRetryable: false,
      ...(nextRetryDelay !== undefined ? { nextRetryDelay } : {}),
      details: [{ status, requestId: err.requestID ?? null }],
    });
  }
  const error = err instanceof Error ? err : new Error(String(err));
  return ApplicationFailure.create({ message: error.message, type: error.name, nonRetryable: false });
}

/**
 * The price of a call: its reply's model's. The requested model's only when the reply names the same model (or a
 * dated id of it): a fallback model with no price has an unknown cost, not the requested model's.
 */
function priceOfCall(replyModel: string | undefined, requestedModel: string, table: PriceTable): ModelPrice | undefined {
  if (!replyModel) return priceOf(requestedModel, table);
  const sameModel = replyModel === requestedModel || replyModel.replace(/-\d{8}$/, '') === requestedModel.replace(/-\d{8}$/, '');
  return priceOf(replyModel, table) ?? (sameModel ? priceOf(requestedModel, table) : undefined);
}

function replyOf(message: BetaMessage): ModelReply {
  const split = message.usage.cache_creation;
  return {
    id: message.id,
    model: message.model,
    content: message.content,
    stopReason: message.stop_reason,
    stopSequence: message.stop_sequence ?? null,
    usage: {
      input_tokens: message.usage.input_tokens,
      output_tokens: message.usage.output_tokens,
      cache_read_input_tokens: message.usage.cache_read_input_tokens ?? 0,
      cache_creation_input_tokens: message.usage.cache_creation_input_tokens ?? 0,
      ...(split
        ? { cache_creation: { ephemeral_5m_input_tokens: split.ephemeral_5m_input_tokens ?? 0, ephemeral_1h_input_tokens: split.ephemeral_1h_input_tokens ?? 0 } }
        : {}),
    },
  };
}

/** A fallback model's reply is not stored as a thread. */
function isFallbackReply(message: BetaMessage): boolean {
  const iterations = (message.usage as { iterations?: Array<{ type?: string }> | null }).iterations;
  return Array.isArray(iterations) && iterations.some((i) => i?.type === 'fallback_message');
}

/**
 * What a compaction response bills: its top-level usage plus its `compaction` iterations, whose tokens the API leaves
 * out of the top-level counts (SDK `BetaIterationsUsage`).
 */
function compactionUsageOf(message: BetaMessage): ModelReply['usage'] {
  const parts = [replyOf(message).usage, ...(message.usage.iterations ?? []).filter((i) => i.type === 'compaction')];
  let split: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number } | undefined;
  const usage = { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
  for (const part of parts) {
    usage.input_tokens += part.input_tokens;
    usage.output_tokens += part.output_tokens;
    usage.cache_read_input_tokens += part.cache_read_input_tokens ?? 0;
    usage.cache_creation_input_tokens += part.cache_creation_input_tokens ?? 0;
    if (part.cache_creation) {
      split ??= { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 };
      split.ephemeral_5m_input_tokens += part.cache_creation.ephemeral_5m_input_tokens ?? 0;
      split.ephemeral_1h_input_tokens += part.cache_creation.ephemeral_1h_input_tokens ?? 0;
    }
  }
  return { ...usage, ...(split ? { cache_creation: split } : {}) };
}

/** What the conversation sets on every request it sends: thinking, effort and the code-execution container. */
function conversationFields(input: Pick<CallModelInput, 'thinking' | 'effort' | 'container'>): Partial<MessageCreateParamsBase> {
  return {
    ...(input.thinking ? { thinking: input.thinking } : {}),
    ...(input.effort ? { output_config: { effort: input.effort } } : {}),
    ...(input.container ? { container: input.container } : {}),
  };
}

/** The request with the conversation's betas added to its own (a thread's, context management's). */
function withBetas<Params extends { betas?: string[] }>(params: Params, extra: readonly string[] | undefined): Params {
  if (!extra || extra.length === 0) return params;
  return { ...params, betas: [...new Set([...(params.betas ?? []), ...extra])] };
}

export function createModelActivities(options: ModelActivityOptions) {
  // Temporal owns retries: a second layer inside the SDK would multiply attempts and hide them from history.
  const anthropic = options.anthropic.withOptions({ maxRetries: 0 });
  const idleTimeoutMs = options.streamIdleTimeoutMs ?? 60_000;
  const threadMaxAgeMs = options.threadMaxAgeMs ?? 270_000;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 5_000;
  const pricesOf = (input: { prices?: Record<string, ModelPrice> }): PriceTable => ({ ...options.prices, ...input.prices });

  /** The whole request context, read from the workflow by query (not recorded), checked against the call's length. */
  /**
   * The request context from message `start` on (a continue needs only the thread's last reply and what follows),
   * read in pages: a query's answer has a size limit, and a long conversation's transcript would pass it.
   */
  async function readRequestContext(ctx: Context, transcriptLength: number, start = 0): Promise<ModelRequestContext> {
    const { workflowId, runId } = workflowOf(ctx);
    const workflow = ctx.client.workflow.getHandle(workflowId, runId);
    let messages: ModelRequestContext['messages'] = [];
    let first: ModelRequestContext | undefined;
    let paged = true;
    for (let fromMessage: number | null = start; fromMessage !== null; ) {
      const read: ModelRequestContext = await workflow.query(modelRequestQuery, { fromMessage, maxBytes: MODEL_REQUEST_PAGE_BYTES });
      first ??= read;
      messages.push(...read.messages);
      // A workflow recorded before paged reads answers with everything at once.
      paged = read.page !== undefined;
      fromMessage = read.page ? read.page.nextMessage : null;
    }
    if (!paged) messages = messages.slice(start);
    if (start + messages.length !== transcriptLength) {
      throw ApplicationFailure.nonRetryable(`The workflow holds ${start + messages.length} messages but this call was scheduled for ${transcriptLength}`, 'TranscriptMismatch');
    }
    const { page: _page, ...context } = first!;
    return { ...context, messages };
  }

  /** Streams one request; heartbeats on an interval while it runs and aborts a stream that goes quiet. */
  async function stream(params: MessageCreateParamsBase, live: AttemptEvents | undefined): Promise<BetaMessage> {
    const ctx = Context.current();
    const abort = new AbortController();
    let stalled = false;
    let lastEventAt = Date.now();
    const onCancel = () => abort.abort();
    ctx.cancellationSignal.addEventListener('abort', onCancel);
    const watchdog = setInterval(() => {
      ctx.heartbeat();
      if (Date.now() - lastEventAt > idleTimeoutMs) {
        stalled = true;
        abort.abort();
      }
    }, Math.min(heartbeatIntervalMs, idleTimeoutMs));
    try {
      const messageStream = anthropic.beta.messages.stream(params, { signal: abort.signal });
      for await (const event of messageStream) {
        // No heartbeat per event: the watchdog above heartbeats on its interval, which is all liveness needs.
        lastEventAt = Date.now();
        if (event.type === 'content_block_delta') markFirstToken();
        live?.onStreamEvent(event);
      }
      return await messageStream.finalMessage();
    } catch (err) {
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('Model call cancelled');
      if (stalled || err instanceof APIUserAbortError) {
        throw ApplicationFailure.retryable(`The model stream sent nothing for ${Math.round(idleTimeoutMs / 1000)}s`, 'ModelStreamStalled');
      }
      throw err;
    } finally {
      clearInterval(watchdog);
      ctx.cancellationSignal.removeEventListener('abort', onCancel);
    }
  }

  async function callModel(input: CallModelInput): Promise<CallModelResult> {
    const ctx = Context.current();
    const started = Date.now();
    const { workflowId, runId } = workflowOf(ctx);
    const live = options.events
      ? new AttemptEvents({ publisher: options.events, conversationId: workflowId, runId, turn: input.turn, tag: { call: ctx.info.activityId, attempt: ctx.info.attempt } })
      : undefined;
    live?.started(input.model, input.maxTokens);
    // The workflow says what its policy's maximum interval is; the worker is told the policy only by some servers.
    const policyMaxInterval = ctx.info.retryPolicy?.maximumInterval;
    const maxRetryDelayMs = input.maxRetryIntervalMs ?? (typeof policyMaxInterval === 'number' ? policyMaxInterval : undefined);
    let context: ModelRequestContext | undefined;
    /** The whole request context: the input's (a small create), or read from the workflow (once) when a create or a replay needs it. */
    const inlineContext = input.context?.messages.length === input.transcriptLength ? input.context : undefined;
    const readContext = async (): Promise<ModelRequestContext> => (context ??= inlineContext ?? (await readRequestContext(ctx, input.transcriptLength)));
    const cacheTtl = input.cache?.ttl ?? null;
    const base: MessageCreateParamsBase = {
      model: input.model,
      max_tokens: input.maxTokens,
      messages: [],
      ...(input.temperature !== undefined ? { temperature: input.temperature } : {}),
      ...(input.stopSequences ? { stop_sequences: input.stopSequences } : {}),
      ...conversationFields(input),
    };
    // The workflow sends a tool_choice only when the conversation has tools; a context read says so too.
    const toolChoice = (request: ModelRequestContext | undefined) =>
      input.toolChoice && (request === undefined || request.tools.length > 0) ? { tool_choice: input.toolChoice } : {};
    // Every kind of request carries the same caching: breakpoints change markers only, so the prefix bytes a
    // create, a replay, a retry or an unthreaded call send are the same, and each reads what the last one wrote.
    const full = (request: ModelRequestContext, threaded: boolean): MessageCreateParamsBase =>
      withPromptCaching(
        {
          ...base,
          ...toolChoice(request),
          ...(request.system !== undefined ? { system: request.system } : {}),
          ...(request.tools.length > 0 ? { tools: request.tools } : {}),
          messages: input.contextFallback ? clearOldToolResults(request.messages, input.contextFallback) : request.messages,
          ...(threaded ? { thread: { type: 'create' as const }, betas: [MESSAGE_THREADS_BETA] } : {}),
          // context_management cannot go with a thread (thread_unsupported_request), so only unthreaded requests clear.
          ...(!threaded && input.clearToolUses ? { context_management: { edits: [clearToolUsesEdit(input.clearToolUses)] }, betas: [CONTEXT_MANAGEMENT_BETA] } : {}),
        },
        { ttl: cacheTtl, answeredThrough: lastAssistantIndex(request.messages) },
      );

    const hint = input.thread;
    // The fallback rewrites old messages, which a thread holds as they were: such a call never continues one.
    const fresh = input.threads && hint !== null && !input.forceCreate && !input.contextFallback && Date.now() - hint.storedAt < threadMaxAgeMs;
    // With the new messages in the input, a continue needs nothing else from the workflow: the thread's create-only
    // fields cannot change within a run (the model, system prompt and tool schemas are fixed at its start).
    const continueFromInput = fresh && input.newMessages !== undefined && hint!.replyIndex + 1 + input.newMessages.length === input.transcriptLength;
    // Otherwise the thread's last reply and what came after it, read from the workflow: never the whole transcript,
    // whose reading would grow with every turn of a long conversation.
    const tail = fresh && !continueFromInput ? await readRequestContext(ctx, input.transcriptLength, hint!.replyIndex) : undefined;
    const canContinue =
      continueFromInput || (tail !== undefined && hint!.createdWith === threadFingerprint(tail, input.model) && lastAssistantIndex(tail.messages) === 0);

    let kind: ModelRequestKind = !input.threads ? 'unthreaded' : canContinue ? 'continue' : 'create';
    let threadsUnsupported = false;
    let message: BetaMessage | undefined;
    let sentTtls: Array<'5m' | '1h'> = [];
    for (let sends = 0; message === undefined; sends++) {
      const params: MessageCreateParamsBase =
        kind === 'continue'
          ? withPromptCaching(
              {
                ...base,
                ...toolChoice(context ?? tail),
                messages: continueFromInput ? input.newMessages! : tail!.messages.slice(1),
                thread: { type: 'continue', previous_message_id: hint!.previousMessageId },
                betas: [MESSAGE_THREADS_BETA],
              } as MessageCreateParamsBase,
              { ttl: cacheTtl, answeredThrough: -1, fixedElsewhere: input.fixedBreakpointTtls?.length ?? 0 },
            )
          : full(await readContext(), kind !== 'unthreaded');
      sentTtls = [...breakpointTtlsOf(params), ...(kind === 'continue' ? (input.fixedBreakpointTtls ?? []) : [])];
      try {
        message = await stream(withBetas(params, input.betas), live);
      } catch (err) {
        if (err instanceof APIError && sends === 0) {
          if (kind === 'continue' && err.errorCode !== null && REPLAY_ERROR_CODES.has(err.errorCode)) {
            // The thread is a best-effort cache: the transcript we hold is the record, so send all of it again.
            log.info('Thread unusable; replaying the full transcript under a new thread', { reason: err.errorCode, turn: input.turn });
            live?.resending(`the thread could not be continued (${err.errorCode}); the full transcript is sent again`);
            kind = 'replay';
            continue;
          }
          if (kind !== 'unthreaded' && err.errorCode === 'thread_unsupported_request') {
            log.warn('Message threads are not supported for this request; sending full transcripts from now on', {
              unsupported: (err.details as { unsupported?: unknown } | null)?.unsupported,
            });
            live?.resending('message threads are not supported for this request; the full transcript is sent again');
            kind = 'unthreaded';
            threadsUnsupported = true;
            continue;
          }
        }
        const failure = err instanceof ApplicationFailure || err instanceof CancelledFailure ? err : classifyModelError(err, maxRetryDelayMs !== undefined ? { maxRetryDelayMs } : {});
        live?.failed(failure instanceof CancelledFailure ? 'the model call was cancelled' : `attempt ${ctx.info.attempt} failed: ${failure.message}`);
        throw failure;
      }
    }
    const reply = replyOf(message);
    const price = priceOfCall(message.model, input.model, pricesOf(input));
    const costUsd = price ? costOfUsage(reply.usage, price, cacheTtl ?? '5m') : null;
    live?.finished(message, costUsd);
    // The reply's events reach the store before the workflow hears of the reply: its turn_finished (and the end of the
    // conversation) may be published by another worker, and a subscriber stops reading at the end. Bounded, so a
    // slow or unreachable store never holds up the conversation.
    if (options.events) await Promise.race([options.events.flush(), new Promise((resolve) => setTimeout(resolve, FLUSH_BEFORE_REPLY_MS).unref())]);

    // A continue keeps its thread's create-time fingerprint; anything else just read the context to build its request.
    const fingerprint = kind === 'continue' ? hint!.createdWith : threadFingerprint(context!, input.model);
    const storesThread = kind !== 'unthreaded' && message.stop_reason !== 'refusal' && !isFallbackReply(message);
    const sentAndReceived = reply.usage.input_tokens + (reply.usage.cache_read_input_tokens ?? 0) + (reply.usage.cache_creation_input_tokens ?? 0) + reply.usage.output_tokens;
    return {
      reply,
      costUsd,
      // The next call sends at least all of this again; its estimate adds max_tokens of output on top.
      ...(price ? { nextCallFloorUsd: maxCostOfRequest(sentAndReceived, 0, price, sentTtls) } : {}),
      requestKind: kind,
      ...(storesThread ? { thread: { previousMessageId: message.id, storedAt: Date.now(), createdWith: fingerprint } } : {}),
      ...(threadsUnsupported ? { threadsUnsupported } : {}),
      ...(appliedEditsOf(message).length > 0 ? { contextEdits: appliedEditsOf(message) } : {}),
      ...(message.container ? { container: { id: message.container.id, ...(message.container.expires_at ? { expiresAt: message.container.expires_at } : {}) } } : {}),
      durationMs: Date.now() - started,
    };
  }

  async function estimateModelCall(input: EstimateModelCallInput): Promise<ModelCallEstimate> {
    const ctx = Context.current();
    const price = priceOf(input.model, pricesOf(input));
    if (!price) {
      throw ApplicationFailure.nonRetryable(
        `No price for model ${input.model}, so its budget cannot be enforced: give the conversation's prices option (or the worker's prices) for it`,
        'UnknownModelPrice',
      );
    }
    const context = await readRequestContext(ctx, input.transcriptLength);
    // The request as callModel will send it, breakpoints placed the same way (within the limit, TTLs in order).
    const request = withPromptCaching(
      {
        model: input.model,
        max_tokens: input.maxTokens,
        messages: context.messages,
        ...(context.system !== undefined ? { system: context.system } : {}),
        ...(context.tools.length > 0 ? { tools: context.tools } : {}),
        ...(input.toolChoice && context.tools.length > 0 ? { tool_choice: input.toolChoice } : {}),
        ...(input.thinking ? { thinking: input.thinking } : {}),
      },
      { ttl: input.cacheTtl ?? null, answeredThrough: lastAssistantIndex(context.messages) },
    );
    try {
      const { max_tokens: _maxTokens, ...countParams } = withBetas(request, input.betas);
      const counted = await anthropic.beta.messages.countTokens(countParams);
      return { inputTokens: counted.input_tokens, maxCostUsd: maxCostOfRequest(counted.input_tokens, input.maxTokens, price, breakpointTtlsOf(request)) };
    } catch (err) {
      throw classifyModelError(err);
    }
  }

  /**
   * The API's explicit compaction request (`compaction: {type: 'summarize'}`): the leading messages of the
   * model-facing history, read by query as callModel reads them, summarized into one signed compaction block that
   * replaces them. Unthreaded: nothing continues from a compaction reply, and the history it starts is a new thread.
   * A 400 is an answer (`refused`: the workflow falls back to clearing tool results itself); what a retry can fix is
   * thrown for Temporal to retry.
   */
  async function compactConversation(input: CompactConversationInput): Promise<CompactConversationResult> {
    const ctx = Context.current();
    const started = Date.now();
    const policyMaxInterval = ctx.info.retryPolicy?.maximumInterval;
    const maxRetryDelayMs = input.maxRetryIntervalMs ?? (typeof policyMaxInterval === 'number' ? policyMaxInterval : undefined);
    const context = await readRequestContext(ctx, input.transcriptLength);
    const summarized = Math.min(context.messages.length, input.summarizeMessages ?? defaultCompactionCut(context.messages));
    if (summarized < 1) throw ApplicationFailure.nonRetryable('There is nothing to compact: the history has no message before its trailing turn', 'NothingToCompact');
    const messages = context.messages.slice(0, summarized);
    const cacheTtl = input.cache?.ttl ?? null;
    // Its prefix is the model calls' prefix, with the same breakpoints, so it reads what they cached.
    const params = withPromptCaching(
      {
        model: input.model,
        max_tokens: input.maxTokens,
        ...(context.system !== undefined ? { system: context.system } : {}),
        ...(context.tools.length > 0 ? { tools: context.tools } : {}),
        messages,
        ...(input.container ? { container: input.container } : {}),
        compaction: { type: 'summarize', ...(input.instructions ? { instructions: input.instructions } : {}) },
        betas: [COMPACTION_BETA],
      },
      { ttl: cacheTtl, answeredThrough: lastAssistantIndex(messages) },
    );
    let message: BetaMessage;
    try {
      message = await stream(withBetas(params, input.betas), undefined);
    } catch (err) {
      if (err instanceof ApplicationFailure || err instanceof CancelledFailure) throw err;
      if (err instanceof APIError && err.status !== undefined && COMPACTION_REFUSED_STATUSES.has(err.status)) {
        const refusal = { status: err.status, errorCode: err.errorCode, message: err.apiMessage ?? err.message };
        log.warn('The server refused to compact the conversation', { turn: input.turn, ...refusal });
        return { outcome: 'refused', refusal, durationMs: Date.now() - started };
      }
      throw classifyModelError(err, maxRetryDelayMs !== undefined ? { maxRetryDelayMs } : {});
    }
    const usage = compactionUsageOf(message);
    const price = priceOfCall(message.model, input.model, pricesOf(input));
    const cost = { usage, costUsd: price ? costOfUsage(usage, price, cacheTtl ?? '5m') : null, responseId: message.id, durationMs: Date.now() - started };
    const block = message.content.find((b) => b.type === 'compaction');
    if (!block || typeof block.content !== 'string' || block.content === '') {
      log.warn('Compaction produced no summary; the history stays as it is', { turn: input.turn, stopReason: message.stop_reason });
      return { outcome: 'no_summary', summarizedMessages: summarized, ...cost };
    }
    // Sent back as it came, first: every field of the block verbatim (its signature covers them).
    const replacement = { role: 'assistant', content: message.content } as BetaMessageParam;
    return { outcome: 'compacted', replacement, summary: block.content, summarizedMessages: summarized, ...cost };
  }

  return { callModel, estimateModelCall, compactConversation };
}
