// The model-call activity: one Messages API request through the real SDK, streamed so it can heartbeat and be
// cancelled, with Temporal (not the SDK) owning retries. While a thread lives it sends only the new messages: small
// ones come in its input, otherwise it reads the conversation from the workflow by query (queries are not
// recorded), as it does to create or replay a thread — so history never records the transcript again per turn.
import { createHash } from 'node:crypto';
import { APIError, APIUserAbortError, type Anthropic } from '@anthropic-ai/sdk';
import type { BetaMessage, BetaMessageParam, MessageCreateParamsBase } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { ApplicationFailure, CancelledFailure, Context, log } from '@temporalio/activity';
import { modelRequestQuery } from '../workflows/definitions';
import type { EventPublisher } from '../streaming/event-store';
import { workflowOf } from './context';
import { AttemptEvents } from './model-events';
import type { CallModelInput, CallModelResult, EstimateModelCallInput, ModelCallEstimate, ModelReply, ModelRequestContext, ModelRequestKind } from './types';
import { MESSAGE_THREADS_BETA } from '../message-threads';
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

const REPLAY_ERROR_CODES = new Set(['thread_not_found', 'thread_already_continued', 'thread_continue_in_flight', 'thread_fingerprint_mismatch']);
const RETRYABLE_STATUSES = new Set([408, 409, 429]);
const RETRYABLE_STREAM_ERRORS = new Set(['overloaded_error', 'api_error', 'rate_limit_error', 'timeout_error']);

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

export function createModelActivities(options: ModelActivityOptions) {
  // Temporal owns retries: a second layer inside the SDK would multiply attempts and hide them from history.
  const anthropic = options.anthropic.withOptions({ maxRetries: 0 });
  const idleTimeoutMs = options.streamIdleTimeoutMs ?? 60_000;
  const threadMaxAgeMs = options.threadMaxAgeMs ?? 270_000;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 5_000;
  const pricesOf = (input: { prices?: Record<string, ModelPrice> }): PriceTable => ({ ...options.prices, ...input.prices });

  /** The whole request context, read from the workflow by query (not recorded), checked against the call's length. */
  async function readRequestContext(ctx: Context, transcriptLength: number): Promise<ModelRequestContext> {
    const { workflowId, runId } = workflowOf(ctx);
    const read = await ctx.client.workflow.getHandle(workflowId, runId).query(modelRequestQuery);
    if (read.messages.length !== transcriptLength) {
      throw ApplicationFailure.nonRetryable(`The workflow holds ${read.messages.length} messages but this call was scheduled for ${transcriptLength}`, 'TranscriptMismatch');
    }
    return read;
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
    /** The whole request context, read from the workflow (once) when a create or a replay needs it. */
    const readContext = async (): Promise<ModelRequestContext> => (context ??= await readRequestContext(ctx, input.transcriptLength));
    const cacheTtl = input.cache?.ttl ?? null;
    const base: MessageCreateParamsBase = {
      model: input.model,
      max_tokens: input.maxTokens,
      messages: [],
      ...(input.temperature !== undefined ? { temperature: input.temperature } : {}),
      ...(input.stopSequences ? { stop_sequences: input.stopSequences } : {}),
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
          messages: request.messages,
          ...(threaded ? { thread: { type: 'create' as const }, betas: [MESSAGE_THREADS_BETA] } : {}),
        },
        { ttl: cacheTtl, answeredThrough: lastAssistantIndex(request.messages) },
      );

    const hint = input.thread;
    const fresh = input.threads && hint !== null && !input.forceCreate && Date.now() - hint.storedAt < threadMaxAgeMs;
    // With the new messages in the input, a continue needs nothing else from the workflow: the thread's create-only
    // fields cannot change within a run (the model, system prompt and tool schemas are fixed at its start).
    const continueFromInput = fresh && input.newMessages !== undefined && hint!.replyIndex + 1 + input.newMessages.length === input.transcriptLength;
    const canContinue =
      continueFromInput ||
      (fresh &&
        hint!.createdWith === threadFingerprint(await readContext(), input.model) &&
        hint!.replyIndex === lastAssistantIndex(context!.messages));

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
                ...toolChoice(context),
                messages: continueFromInput ? input.newMessages! : context!.messages.slice(hint!.replyIndex + 1),
                thread: { type: 'continue', previous_message_id: hint!.previousMessageId },
                betas: [MESSAGE_THREADS_BETA],
              } as MessageCreateParamsBase,
              { ttl: cacheTtl, answeredThrough: -1, fixedElsewhere: input.fixedBreakpointTtls?.length ?? 0 },
            )
          : full(await readContext(), kind !== 'unthreaded');
      sentTtls = [...breakpointTtlsOf(params), ...(kind === 'continue' ? (input.fixedBreakpointTtls ?? []) : [])];
      try {
        message = await stream(params, live);
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
      },
      { ttl: input.cacheTtl ?? null, answeredThrough: lastAssistantIndex(context.messages) },
    );
    try {
      const { max_tokens: _maxTokens, ...countParams } = request;
      const counted = await anthropic.beta.messages.countTokens(countParams);
      return { inputTokens: counted.input_tokens, maxCostUsd: maxCostOfRequest(counted.input_tokens, input.maxTokens, price, breakpointTtlsOf(request)) };
    } catch (err) {
      throw classifyModelError(err);
    }
  }

  return { callModel, estimateModelCall };
}
