// A real HTTP server that speaks the Messages API closely enough for the real SDK: JSON and SSE responses,
// scripted per conversation, with faults, request rules and message threads. Tests, the offline demo and the
// benchmarks point `baseURL` at it.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { BetaContentBlock, BetaMessageParam, BetaStopReason } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { PromptCache, minCacheableTokensFor, promptOf, recordedCacheOf, type CachePlan, type Prompt } from './prompt-cache';
import { eagerInputStreamingOf, planReply, type ReplyPlan } from './reply-plan';
import { abortableSleep, writeMessageStream, type StreamWriter } from './sse';
import {
  CompactionLedger,
  applyContextEdits,
  compactionError,
  compactionRequestError,
  contextManagementRequestError,
  contextWindowFor,
  defaultSummary,
  promptTooLongError,
  resolveCompactionBlocks,
  withoutCompactionBlocks,
  type CompactionBlock,
  type CompactionErrorCode,
  type CompactionOrigin,
  type EditedRequest,
} from './compaction';
import { MESSAGE_THREADS_BETA, ThreadStore, fingerprintOf, type ThreadError } from './threads';
import { ReplyLedger, canonical, combineConsecutiveTurns } from './turns';
import { ThinkingLedger, thinkingDisplayOmitted, thinkingIsOn, thinkingRequestError } from './thinking';
import {
  ContainerLedger,
  containerRequiredMessage,
  isServerToolResult,
  maxUsesExceeded,
  requestedContainerId,
  serverToolFor,
  serverToolResult,
  splitAtServerToolUses,
  toolsRequestError,
} from './server-tools';
import {
  FAULT_KINDS,
  type FakeMessage,
  type FakeMessagesApiOptions,
  type FaultKind,
  type FullRequest,
  type Latency,
  type PromptCacheEntry,
  type RandomFaultOptions,
  type RecordedRequest,
  type ResponseStep,
  type Script,
  type ScriptStep,
  type ContentBlockSpec,
  type ThreadKind,
  type CompactionSummaryContext,
  type RecordedContext,
  type RateLimitOptions,
} from './types';
import { requestRuleViolation } from './validation';
import { RequestRateLimiter } from './rate-limit';

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

/** Deterministic PRNG (mulberry32), so a seeded fault run is the same every time. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function firstUserText(messages: readonly BetaMessageParam[]): string {
  const first = messages.find((m) => m.role === 'user');
  if (!first) return '';
  if (typeof first.content === 'string') return first.content;
  return first.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
}

function estimateTokens(value: unknown): number {
  return Math.max(1, Math.ceil(JSON.stringify(value ?? '').length / 4));
}

/** The prompt's size as the model sees it (the same estimate usage reports); 0 for a prompt the API would refuse. */
function tokensOf(request: FullRequest): number {
  const prompt = promptOf(request);
  return 'error' in prompt ? 0 : prompt.prompt.totalTokens;
}

/** What storing a reply as a thread needs to know about the request. */
interface ThreadParts {
  kind: ThreadKind;
  continuedFrom: ReturnType<ThreadStore['get']>;
  conversationKey: string;
}

interface ErrorReply {
  status: number;
  type: string;
  message: string;
  code?: string;
  details?: Record<string, unknown>;
  headers?: Record<string, string>;
}

const FAULT_ERRORS: Record<'429' | '500' | '529' | '400' | '401', Omit<ErrorReply, 'headers'>> = {
  '429': { status: 429, type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' },
  '500': { status: 500, type: 'api_error', message: 'Internal server error' },
  '529': { status: 529, type: 'overloaded_error', message: 'Overloaded' },
  '400': { status: 400, type: 'invalid_request_error', message: 'messages.0.content: injected invalid request' },
  '401': { status: 401, type: 'authentication_error', message: 'invalid x-api-key' },
};

const DEFAULT_INPUT_JSON_CHUNK_CHARS = 8;
const MESSAGES_PATH = '/v1/messages';
const COUNT_TOKENS_PATH = '/v1/messages/count_tokens';

const CODE_EXECUTION_CALLS = new Set(['bash_code_execution', 'text_editor_code_execution', 'code_execution']);

/** A turn the fake split at server tool calls: its parts as built, and how far the client has got. */
interface PausedTurn {
  parts: BetaContentBlock[][];
  /** Parts sent whole so far. */
  sent: number;
  step: ResponseStep;
  turnIndex: number;
  /** The conversation's turns (same-role messages as one) before the assistant turn the parts make up. */
  turnsBefore: number;
  containerId?: string;
}

/** What serving one part of a turn needs from the request. */
interface PartContext {
  body: Record<string, unknown>;
  betas: string[];
  full: FullRequest;
  record: RecordedRequest;
  res: http.ServerResponse;
  signal: AbortSignal;
  cache: CacheStep;
  edited: EditedRequest;
  context: RecordedContext;
  window: number;
  sentMessages: number;
  turnIndex: number;
  conversationKey: string;
  threadParts: ThreadParts;
  continuedFrom: ReturnType<ThreadStore['get']>;
}

function blocksOf(content: unknown): unknown[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return Array.isArray(content) ? (content as unknown[]) : [];
}

/** Whether `blocks` ends with `tail`, block by block (null fields aside, as a client may drop or add them). */
function endsWith(blocks: readonly unknown[], tail: readonly unknown[]): boolean {
  if (tail.length === 0 || tail.length > blocks.length) return false;
  const offset = blocks.length - tail.length;
  return tail.every((block, i) => JSON.stringify(canonical(block)) === JSON.stringify(canonical(blocks[offset + i])));
}

/** A request's prompt-cache plan, and the step that applies it once the prompt was processed (a reply began). */
interface CacheStep {
  plan: CachePlan;
  commit: () => void;
}

export class FakeMessagesApi {
  readonly requests: RecordedRequest[] = [];
  readonly #server: http.Server;
  readonly #options: FakeMessagesApiOptions;
  readonly #threads: ThreadStore;
  readonly #scripts: Script[] = [];
  /** Which conversation each reply id belongs to, kept after its thread is gone (for the request log). */
  readonly #conversationOfReply = new Map<string, string>();
  readonly #replies = new ReplyLedger();
  readonly #attempts = new Map<string, number>();
  readonly #consecutiveFaults = new Map<string, number>();
  readonly #sockets = new Set<Socket>();
  readonly #promptCache: PromptCache;
  #faults: RandomFaultOptions | null;
  #random: () => number;
  #unsupported: string[] | null = null;
  readonly #compactions = new CompactionLedger();
  #compactionRefusal: CompactionErrorCode | null = null;
  #threadUnsupportedFeatures: string[] | null;
  readonly #thinking = new ThinkingLedger();
  readonly #containers = new ContainerLedger();
  /** Turns paused after server tool calls, per conversation, waiting for the client to resume them. */
  readonly #paused = new Map<string, PausedTurn>();
  /** Thinking characters a block does not show (display omitted), for the usage count. */
  readonly #hiddenThinking = new WeakMap<object, number>();
  #port = 0;
  #rateLimit: RateLimitOptions | null = null;
  #rateLimiter: RequestRateLimiter | null = null;
  /** 429s the rate limit served before the last setRateLimit (each limiter counts its own). */
  #rateLimitedBefore = 0;

  private constructor(options: FakeMessagesApiOptions) {
    this.#options = options;
    this.#faults = options.faults ?? null;
    this.#threadUnsupportedFeatures = options.threadUnsupportedFeatures ?? null;
    this.#random = seededRandom(options.faults?.seed ?? 1);
    this.#threads = new ThreadStore(() => this.#options.threadTtlMs ?? 5 * 60_000, () => this.now());
    this.#promptCache = new PromptCache(() => this.now());
    if (options.rateLimit) this.setRateLimit(options.rateLimit);
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.#sendError(res, { status: 500, type: 'api_error', message: `fake server bug: ${String(err)}` });
        else res.destroy();
      });
    });
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  static async start(options: FakeMessagesApiOptions = {}): Promise<FakeMessagesApi> {
    const api = new FakeMessagesApi(options);
    await new Promise<void>((resolve, reject) => {
      api.#server.once('error', reject);
      api.#server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    api.#port = (api.#server.address() as AddressInfo).port;
    return api;
  }

  /** What the SDK takes as `baseURL`. */
  get baseURL(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  now(): number {
    return (this.#options.now ?? Date.now)();
  }

  addScript(script: Script): void {
    this.#scripts.push(script);
  }

  /** Requests of the conversation whose first user message contains `text`. */
  requestsFor(text: string): RecordedRequest[] {
    return this.requests.filter((r) => r.conversationKey?.includes(text));
  }

  evictThread(messageId: string): void {
    this.#threads.evict(messageId);
  }

  evictAllThreads(): void {
    this.#threads.evictAll();
  }

  forceContinueInFlight(messageId: string): void {
    this.#threads.forceContinueInFlight(messageId);
  }

  /** Threaded requests get 400 thread_unsupported_request naming these features (null: threads work). */
  setUnsupported(features: string[] | null): void {
    this.#unsupported = features;
  }

  /**
   * Threaded requests whose body carries one of these fields (not null), e.g. `['thinking']`, get 400
   * thread_unsupported_request naming the ones they carry; other threaded requests work (null: none refused).
   */
  setThreadUnsupportedFeatures(features: string[] | null): void {
    this.#threadUnsupportedFeatures = features;
  }

  /**
   * Explicit compaction requests get this error while it is set (`compaction_unavailable` is a 529, the others 400),
   * as when the server cannot or will not compact (null: compaction works).
   */
  setCompactionRefusal(code: CompactionErrorCode | null): void {
    this.#compactionRefusal = code;
  }

  setFaults(faults: RandomFaultOptions | null): void {
    this.#faults = faults;
    this.#random = seededRandom(faults?.seed ?? 1);
  }

  /** Serve 429 rate_limit_error above this request rate from now on (null: no limit). */
  setRateLimit(limit: RateLimitOptions | null): void {
    const limiter = limit ? new RequestRateLimiter(limit, this.now()) : null;
    this.#rateLimitedBefore = this.rateLimitedResponses;
    this.#rateLimit = limit;
    this.#rateLimiter = limiter;
  }

  /** How many requests the rate limit refused with 429 (since start or the last reset()). */
  get rateLimitedResponses(): number {
    return this.#rateLimitedBefore + (this.#rateLimiter?.refused ?? 0);
  }

  /** Empties the prompt cache (the real API has no such call; entries otherwise expire after their TTL). */
  clearPromptCache(): void {
    this.#promptCache.clear();
  }

  /** The live prompt-cache entries, in the order they were first written. */
  promptCacheEntries(): PromptCacheEntry[] {
    return this.#promptCache.entries();
  }

  reset(): void {
    this.#promptCache.clear();
    this.#scripts.length = 0;
    this.requests.length = 0;
    this.#threads.evictAll();
    this.#attempts.clear();
    this.#consecutiveFaults.clear();
    this.#conversationOfReply.clear();
    this.#replies.clear();
    this.#compactions.clear();
    this.#compactionRefusal = null;
    this.#thinking.clear();
    this.#containers.clear();
    this.#paused.clear();
    // The limit stays; its buckets refill and its count starts again.
    this.#rateLimiter = this.#rateLimit ? new RequestRateLimiter(this.#rateLimit, this.now()) : null;
    this.#rateLimitedBefore = 0;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) headers[key] = Array.isArray(value) ? value.join(', ') : (value ?? '');
    const path = (req.url ?? '/').split('?')[0]!;
    const record: RecordedRequest = {
      id: newId('req'),
      receivedAt: this.now(),
      path,
      headers,
      body: undefined,
      stream: false,
      threadKind: 'unthreaded',
      status: 0,
    };
    this.requests.push(record);
    const aborted = new AbortController();
    res.on('close', () => {
      record.endedAt = this.now();
      if (!res.writableFinished) {
        record.aborted = true;
        aborted.abort();
      }
    });
    const fail = (error: ErrorReply) => {
      record.status = error.status;
      record.errorType = error.type;
      if (error.code) record.errorCode = error.code;
      this.#sendError(res, error);
    };

    if (req.method !== 'POST' || (path !== MESSAGES_PATH && path !== COUNT_TOKENS_PATH)) return fail({ status: 404, type: 'not_found_error', message: `${req.method} ${path} is not served by the fake Messages API` });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      return fail({ status: 400, type: 'invalid_request_error', message: 'The request body is not valid JSON' });
    }
    record.body = body;
    record.stream = body.stream === true;
    if (!headers['x-api-key'] && !headers.authorization) return fail({ status: 401, type: 'authentication_error', message: 'x-api-key header is required' });
    const betas = (headers['anthropic-beta'] ?? '').split(',').map((b) => b.trim());
    if (path === COUNT_TOKENS_PATH) return this.#countTokens(body, betas, record, res, fail);
    const limited = this.#rateLimiter?.take(this.now());
    if (limited) {
      record.rateLimited = true;
      return fail({
        status: 429,
        type: 'rate_limit_error',
        message: limited.message,
        headers: {
          'retry-after': String(limited.retryAfterSeconds),
          'anthropic-ratelimit-requests-limit': String(limited.limit),
          'anthropic-ratelimit-requests-remaining': '0',
          'anthropic-ratelimit-requests-reset': new Date(this.now() + limited.retryAfterSeconds * 1000).toISOString(),
        },
      });
    }

    const thread = body.thread as { type?: string; previous_message_id?: string } | null | undefined;
    let kind: ThreadKind = 'unthreaded';
    if (thread !== undefined && thread !== null) {
      if (!betas.includes(MESSAGE_THREADS_BETA)) {
        return fail({ status: 400, type: 'invalid_request_error', message: `thread: requires the anthropic-beta header ${MESSAGE_THREADS_BETA}` });
      }
      if (thread.type === 'create') kind = 'create';
      else if (thread.type === 'continue' && typeof thread.previous_message_id === 'string') kind = 'continue';
      else return fail({ status: 400, type: 'invalid_request_error', message: "thread: must be {type: 'create'} or {type: 'continue', previous_message_id}" });
    }
    record.threadKind = kind;

    // The whole conversation as the model sees it: for a continue, what the thread stored plus the new messages.
    let full: FullRequest;
    let continuedFrom: ReturnType<ThreadStore['get']>;
    if (kind === 'continue') {
      const previousId = thread!.previous_message_id!;
      record.previousMessageId = previousId;
      const key = this.#conversationOfReply.get(previousId);
      if (key !== undefined) record.conversationKey = key;
      const checked = this.#threads.checkContinue(previousId, body);
      if ('error' in checked) return fail(this.#threadError(checked.error));
      continuedFrom = checked.record;
      const { thread: _thread, ...rest } = body;
      full = {
        ...(rest as unknown as FullRequest),
        system: continuedFrom.system,
        tools: continuedFrom.tools,
        messages: [...continuedFrom.messages, ...((body.messages as BetaMessageParam[]) ?? [])],
      };
    } else {
      const { thread: _thread, ...rest } = body;
      full = rest as unknown as FullRequest;
    }
    if (kind !== 'unthreaded' && this.#unsupported) {
      return fail({
        status: 400,
        type: 'invalid_request_error',
        code: 'thread_unsupported_request',
        message: `thread: not supported together with ${this.#unsupported.join(', ')}`,
        details: { unsupported: this.#unsupported },
      });
    }
    const carried = kind === 'unthreaded' ? [] : (this.#threadUnsupportedFeatures ?? []).filter((feature) => body[feature] !== undefined && body[feature] !== null);
    if (carried.length > 0) {
      return fail({
        status: 400,
        type: 'invalid_request_error',
        code: 'thread_unsupported_request',
        message: `thread: not supported together with ${carried.join(', ')}`,
        details: { unsupported: carried },
      });
    }
    const contextError = contextManagementRequestError(body, betas, kind !== 'unthreaded');
    if (contextError) return fail(contextError);
    // Compaction blocks sent back replace what they summarized; context edits change what the model sees.
    const sentMessages = full.messages;
    const resolved = resolveCompactionBlocks(sentMessages, this.#compactions, firstUserText);
    if ('error' in resolved) return fail(resolved.error);
    const { origin } = resolved.resolved;
    full = { ...full, messages: resolved.resolved.messages };
    const violation = requestRuleViolation(full) ?? this.#toolSurfaceViolation(full, body, betas, sentMessages);
    if (violation) return fail({ status: 400, type: 'invalid_request_error', message: violation });
    const edited = applyContextEdits(full, body.context_management, tokensOf);
    full = edited.request;
    const storedThrough = continuedFrom ? continuedFrom.messages.length : 0;
    const firstNew = resolved.resolved.sentIndex.findIndex((i) => i >= storedThrough);
    const prompt = promptOf(full, { markersFromMessage: firstNew === -1 ? full.messages.length : firstNew });
    if ('error' in prompt) return fail({ status: 400, type: 'invalid_request_error', message: prompt.error });
    const context: RecordedContext = { inputTokens: prompt.prompt.totalTokens };
    if (body.context_management !== undefined && body.context_management !== null) context.appliedEdits = edited.applied;
    if (resolved.resolved.block || edited.applied.length > 0 || resolved.resolved.messages.length !== sentMessages.length) context.modelMessages = full.messages;
    record.context = context;
    const window = contextWindowFor(full.model, this.#options.contextWindowTokens);
    if (context.inputTokens > window) return fail(promptTooLongError(context.inputTokens, window));
    const cache = this.#cacheStep(prompt.prompt, full.model, record);
    // What the model sees, and what a thread stores: consecutive same-role messages as one turn.
    full = { ...full, messages: combineConsecutiveTurns(full.messages) };

    // A conversation that continues from a compaction block is the conversation the block was written for, and its
    // turns count on from the replies the block replaced.
    const conversationKey = origin?.conversationKey ?? firstUserText(full.messages);
    // Counted on whole turns, so a turn the fake split at server tool calls counts once however the client joins it.
    let turnIndex = (origin?.turnsBefore ?? 0) + this.#replies.repliesIn(conversationKey, combineConsecutiveTurns(withoutCompactionBlocks(full.messages)));
    // An explicit compaction request is the server's own turn, never a resume.
    const resume = body.compaction === undefined || body.compaction === null ? this.#resumeOf(conversationKey, full.messages, sentMessages.length) : undefined;
    if (resume && 'error' in resume) return fail({ status: 400, type: 'invalid_request_error', message: resume.error });
    if (resume) turnIndex = resume.held.turnIndex;
    record.conversationKey = conversationKey;
    record.turnIndex = turnIndex;
    const threadParts = { kind, continuedFrom, conversationKey };
    if (body.compaction !== undefined && body.compaction !== null) {
      const instructions = (body.compaction as { instructions?: unknown }).instructions;
      const given = typeof instructions === 'string' && instructions.trim() !== '' ? instructions : null;
      return this.#serveCompaction({ kind: 'request', instructions: given, paused: true }, full, sentMessages.length, turnIndex, record, res, aborted.signal, cache, threadParts);
    }
    if (edited.compaction?.pauseAfterCompaction) {
      return this.#serveCompaction({ kind: 'edit', instructions: edited.compaction.instructions, paused: true }, full, sentMessages.length, turnIndex, record, res, aborted.signal, cache, threadParts);
    }
    if (full.max_tokens === 0) return this.#servePrewarm(full, record, res, aborted.signal, cache);
    const partContext = (): PartContext => ({
      body,
      betas,
      full,
      record,
      res,
      signal: aborted.signal,
      cache,
      edited,
      context,
      window,
      sentMessages: sentMessages.length,
      turnIndex,
      conversationKey,
      threadParts,
      continuedFrom,
    });
    if (resume) {
      // The rest of a paused turn: no script step, no new turn.
      const turnKey = `${conversationKey}\u0000${turnIndex}`;
      const randomFault = this.#randomFault(turnKey);
      if (randomFault) {
        record.fault = randomFault;
        return this.#serveFault(randomFault, record, res, this.#faults?.retryAfterSeconds, aborted.signal, full, cache);
      }
      return this.#servePart(resume.held, resume.part, partContext());
    }
    this.#paused.delete(conversationKey);
    const script = this.#scripts.find((s) => this.#matches(s, full, conversationKey)) ?? this.#options.defaultScript;
    if (!script) {
      return fail({ status: 500, type: 'api_error', message: `fake Messages API: no script matches the conversation starting ${JSON.stringify(conversationKey.slice(0, 80))}` });
    }
    const turnKey = `${conversationKey}\u0000${turnIndex}`;
    const attempt = (this.#attempts.get(turnKey) ?? 0) + 1;
    this.#attempts.set(turnKey, attempt);
    record.attempt = attempt;
    if (this.#options.log) process.stderr.write(`[fake-api] ${kind} turn ${turnIndex} attempt ${attempt}: ${conversationKey.slice(0, 60)}\n`);

    const randomFault = this.#randomFault(turnKey);
    if (randomFault) {
      record.fault = randomFault;
      return this.#serveFault(randomFault, record, res, this.#faults?.retryAfterSeconds, aborted.signal, full, cache);
    }
    let step: ScriptStep;
    if (Array.isArray(script.steps)) {
      const scripted = script.steps[turnIndex];
      if (!scripted) return fail({ status: 500, type: 'api_error', message: `fake Messages API: the script has ${script.steps.length} steps and ran out at turn ${turnIndex}` });
      step = scripted;
    } else {
      step = script.steps({ turnIndex, request: full, attempt, conversationKey });
    }
    const resolvedStep = this.#resolveStep(step, attempt);
    if ('fault' in resolvedStep) {
      record.fault = resolvedStep.fault;
      return this.#serveFault(resolvedStep.fault, record, res, resolvedStep.retryAfterSeconds, aborted.signal, full, cache, resolvedStep.retryAfterMs);
    }

    const responseStep = resolvedStep.step;
    const built = this.#buildContent(responseStep.content, full);
    if ('error' in built) return fail({ status: 400, type: 'invalid_request_error', message: built.error });
    // Thinking blocks anywhere before a tool call in the turn must come back with it.
    this.#thinking.rememberReply(built);
    const lastTurn = full.messages[full.messages.length - 1];
    const held: PausedTurn = {
      parts: splitAtServerToolUses(built, responseStep.pauseAfterServerToolUses ?? this.#options.pauseAfterServerToolUses),
      sent: 0,
      step: responseStep,
      turnIndex,
      turnsBefore: full.messages.length - (lastTurn?.role === 'assistant' ? 1 : 0),
    };
    return this.#servePart(held, 0, partContext());
  }

  /**
   * Sends part `index` of a turn (the whole turn when it has one part): `pause_turn` for every part but the last,
   * which ends with the step's stop reason. The turn is held for a resume once a non-final part was sent whole.
   */
  async #servePart(held: PausedTurn, index: number, ctx: PartContext): Promise<void> {
    const { full, record, res, cache, edited, context, window, step } = { ...ctx, step: held.step };
    const part = held.parts[index]!;
    const last = index === held.parts.length - 1;
    const stopReason = last ? (step.stop_reason ?? (part.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn')) : 'pause_turn';
    if (held.parts.length > 1) record.serverToolPart = { part: index, parts: held.parts.length };
    const container = this.#containerFor(held, part, ctx.body);
    if (ctx.continuedFrom) ctx.continuedFrom.inFlight = true;
    try {
      const textChunkChars = step.textChunkChars ?? this.#options.textChunkChars;
      let built = this.#messageOf(part, stopReason, step, full, cache.plan, container);
      if (ctx.body.context_management !== undefined && ctx.body.context_management !== null) built.context_management = { applied_edits: edited.applied };
      let promptTokens = context.inputTokens;
      if (edited.compaction) {
        // Automatic compaction: the summary comes first in the reply, and the model answers from it.
        const compacted = this.#compactInReply(built, edited, full, ctx.sentMessages, ctx.turnIndex, ctx.conversationKey, context);
        built = compacted.message;
        promptTokens = compacted.promptTokens;
      }
      // Past the context window the model stops where the window is full, whatever max_tokens allows.
      const room = Math.max(0, window - promptTokens);
      const windowCuts = room < full.max_tokens;
      const plan = planReply(built, {
        maxTokens: windowCuts ? room : full.max_tokens,
        cutAtMaxTokens: windowCuts || (step.cutAtMaxTokens ?? this.#options.cutAtMaxTokens ?? false),
        ...(textChunkChars !== undefined ? { textChunkChars } : {}),
        inputJsonChunkChars: step.inputJsonChunkChars ?? this.#options.inputJsonChunkChars ?? DEFAULT_INPUT_JSON_CHUNK_CHARS,
        isEager: eagerInputStreamingOf(full, ctx.betas, step.toolInputStreaming ?? this.#options.toolInputStreaming ?? 'auto'),
        scriptedOutputTokens: step.usage?.output_tokens !== undefined,
        hiddenThinkingChars: this.#hiddenCharsOf(part),
      });
      if (windowCuts && plan.cut) {
        plan.message.stop_reason = 'model_context_window_exceeded';
        context.windowExceeded = true;
      }
      const { message } = plan;
      record.responseId = message.id;
      record.response = message;
      if (plan.cut) record.maxTokensCut = plan.cut;
      this.#conversationOfReply.set(message.id, ctx.conversationKey);
      this.#rememberScriptedCompactions(message, ctx.conversationKey, ctx.turnIndex, ctx.sentMessages);
      // The ledger counts model replies: a split turn is one, recorded whole when its first part goes out.
      if (index === 0) {
        const sent = (withoutCompactionBlocks([{ role: 'assistant', content: message.content } as BetaMessageParam])[0]?.content as unknown[] | undefined) ?? [];
        this.#replies.record(ctx.conversationKey, [...sent, ...held.parts.slice(1).flat()]);
      }
      const latency: Latency = { ...this.#options.latency, ...step.latency };
      const completed = record.stream
        ? await writeMessageStream(res, plan, latency, ctx.signal, this.#streamWriterHooks(record, plan, cache))
        : await this.#writeJson(res, message, latency, ctx.signal, record, cache);
      if (!completed) return;
      if (last || plan.cut) this.#paused.delete(ctx.conversationKey);
      else this.#paused.set(ctx.conversationKey, { ...held, sent: Math.max(held.sent, index + 1) });
      // The server keeps a thread only once the whole reply was sent.
      if (message.stop_reason !== 'refusal' || this.#options.storeRefusals) this.#storeThread(message, full, ctx.threadParts);
    } finally {
      if (ctx.continuedFrom) ctx.continuedFrom.inFlight = false;
    }
  }

  /**
   * Whether the request resumes a turn the fake paused at server tool calls: the conversation ends with an assistant
   * turn right where the paused one stands, holding a part sent as its tail. Then the next part is due; an assistant
   * turn there that ends with none of them is a changed paused turn, which is refused.
   */
  #resumeOf(conversationKey: string, messages: readonly BetaMessageParam[], sentCount: number): { held: PausedTurn; part: number } | { error: string } | undefined {
    const held = this.#paused.get(conversationKey);
    if (!held) return undefined;
    const turns = combineConsecutiveTurns(messages);
    const lastTurn = turns[turns.length - 1];
    if (lastTurn?.role !== 'assistant' || turns.length - 1 !== held.turnsBefore) return undefined;
    const blocks = blocksOf(lastTurn.content);
    for (let j = held.sent - 1; j >= 0; j--) if (endsWith(blocks, held.parts[j]!)) return { held, part: j + 1 };
    return {
      error: `messages.${sentCount - 1}.content: the assistant turn does not end with the paused reply (stop_reason pause_turn) as it was returned; send its content back unchanged to resume the turn`,
    };
  }

  /** The container a part runs in: the one the request names, else (for code execution) the turn's or a new one. */
  #containerFor(held: PausedTurn, part: readonly BetaContentBlock[], body: Record<string, unknown>): FakeMessage['container'] {
    const requested = requestedContainerId(body.container);
    let container = requested !== undefined ? this.#containers.touch(requested, this.now()) : undefined;
    const calls = part.filter((b) => b.type === 'server_tool_use' && CODE_EXECUTION_CALLS.has((b as { name: string }).name)) as Array<{ id: string }>;
    if (calls.length > 0 && !container) {
      container = (held.containerId !== undefined ? this.#containers.touch(held.containerId, this.now()) : undefined) ?? this.#containers.open(this.now());
      held.containerId = container.id;
    }
    if (container) for (const call of calls) this.#containers.ranIn(call.id, container.id);
    return container ?? null;
  }

  /** The tool-use surface's rules: thinking, tool definitions and betas, thinking blocks sent back, the container. */
  #toolSurfaceViolation(full: FullRequest, body: Record<string, unknown>, betas: readonly string[], sentMessages: readonly BetaMessageParam[]): string | undefined {
    const rule = thinkingRequestError(full) ?? toolsRequestError(full.tools, betas) ?? this.#thinking.blockError(sentMessages, full.model);
    if (rule) return rule;
    if (thinkingIsOn(full)) {
      const missing = this.#thinking.missingThinkingError(sentMessages);
      if (missing) return missing;
    }
    const requested = requestedContainerId(body.container);
    if (requested !== undefined && !this.#containers.get(requested)) return `container: no container ${requested} (it expired or was never created)`;
    const needed = this.#containers.containerOf(sentMessages);
    if (needed !== undefined && requested !== needed) return containerRequiredMessage(needed);
    return undefined;
  }

  #hiddenCharsOf(content: readonly BetaContentBlock[]): number {
    return content.reduce((sum, block) => sum + (this.#hiddenThinking.get(block) ?? 0), 0);
  }

  /**
   * A script's blocks as the reply holds them: ids filled in, thinking signed (its text left out when the request
   * asks for display omitted), redacted thinking given data, and each server tool call followed by its result.
   */
  #buildContent(specs: readonly ContentBlockSpec[], full: FullRequest): BetaContentBlock[] | { error: string } {
    const omitted = thinkingDisplayOmitted(full);
    const content: BetaContentBlock[] = [];
    const calls = new Map<string, number>();
    for (let i = 0; i < specs.length; i++) {
      const block = specs[i]!;
      if (block.type === 'text') content.push({ type: 'text', text: String((block as { text: unknown }).text), citations: null } as BetaContentBlock);
      else if (block.type === 'tool_use') {
        const use = block as { name: string; input: unknown; id?: string };
        content.push({ type: 'tool_use', id: use.id ?? newId('toolu'), name: use.name, input: use.input } as BetaContentBlock);
      } else if (block.type === 'thinking') {
        const spec = block as { thinking: unknown; signature?: unknown };
        const text = String(spec.thinking ?? '');
        const signature = typeof spec.signature === 'string' ? spec.signature : this.#thinking.sign(full.model, text);
        const sent = omitted ? '' : text;
        this.#thinking.issueThinking(full.model, signature, sent);
        const thinkingBlock = { type: 'thinking', thinking: sent, signature } as BetaContentBlock;
        if (omitted) this.#hiddenThinking.set(thinkingBlock, Array.from(text).length);
        content.push(thinkingBlock);
      } else if (block.type === 'redacted_thinking') {
        const given = (block as { data?: unknown }).data;
        const data = typeof given === 'string' ? given : this.#thinking.redactedData(full.model);
        this.#thinking.issueRedacted(full.model, data);
        content.push({ type: 'redacted_thinking', data } as BetaContentBlock);
      } else if (block.type === 'server_tool_use') {
        const spec = block as { name: unknown; input: unknown; id?: unknown };
        const name = String(spec.name);
        if (!serverToolFor(name, full.tools)) {
          return { error: `tools: the reply calls the server tool ${name}, which the request does not declare in tools (fake Messages API script)` };
        }
        const use = { id: typeof spec.id === 'string' ? spec.id : newId('srvtoolu'), name, input: spec.input ?? {} };
        content.push({ type: 'server_tool_use', ...use } as BetaContentBlock);
        const next = specs[i + 1];
        calls.set(name, (calls.get(name) ?? 0) + 1);
        if (next && isServerToolResult(next)) {
          content.push({ ...next, tool_use_id: (next as { tool_use_id?: unknown }).tool_use_id ?? use.id } as unknown as BetaContentBlock);
          i++;
        } else {
          content.push(maxUsesExceeded(use, full.tools, calls.get(name)!) ?? serverToolResult(use, full.tools, this.now()));
        }
      } else content.push(block as unknown as BetaContentBlock);
    }
    return content;
  }

  #storeThread(message: FakeMessage, full: FullRequest, parts: ThreadParts): void {
    if (parts.kind === 'unthreaded') return;
    if (parts.continuedFrom) parts.continuedFrom.continued = true;
    this.#threads.store(message.id, {
      messages: combineConsecutiveTurns([...full.messages, { role: 'assistant', content: message.content } as BetaMessageParam]),
      system: full.system,
      tools: full.tools,
      fingerprint: fingerprintOf(full),
      stopReason: message.stop_reason,
      storedAt: this.now(),
      continued: false,
      inFlight: false,
      conversationKey: parts.conversationKey,
    });
  }

  #summarize(context: CompactionSummaryContext): string | null {
    return (this.#options.compactionSummary ?? ((c: CompactionSummaryContext) => defaultSummary(c.messages, c.instructions)))(context);
  }

  /**
   * A reply that is only a compaction block, with `stop_reason: 'compaction'`: an explicit compaction request (nothing
   * is sampled after the block), or a `compact_20260112` edit that pauses after compacting. No script step: the
   * compaction is the server's, not a turn of the conversation (the turn after it gets the step).
   */
  async #serveCompaction(
    how: { kind: 'request' | 'edit'; instructions: string | null; paused: true },
    full: FullRequest,
    sentMessages: number,
    turnIndex: number,
    record: RecordedRequest,
    res: http.ServerResponse,
    signal: AbortSignal,
    cache: CacheStep,
    parts: ThreadParts,
  ): Promise<void> {
    const refusal = how.kind === 'request' ? (this.#compactionRefusal ?? compactionRequestError(full.messages)) : undefined;
    if (refusal) {
      const error = compactionError(refusal);
      record.status = error.status;
      record.errorType = error.type;
      if (error.code) record.errorCode = error.code;
      this.#sendError(res, error);
      return;
    }
    const summary = this.#summarize({ messages: full.messages, instructions: how.instructions, conversationKey: parts.conversationKey, kind: how.kind });
    const block = this.#compactions.issue(summary, { conversationKey: parts.conversationKey, turnsBefore: turnIndex, kind: how.kind, summarizedMessages: sentMessages });
    const message = this.#buildMessage({ content: [block as unknown as ContentBlockSpec], stop_reason: 'compaction', usage: { output_tokens: estimateTokens(summary) } }, full, cache.plan);
    // Nothing is sampled after the block, and a compaction entry's tokens are not in the top-level counts (SDK
    // `BetaIterationsUsage`): the whole cost of the request is its compaction iteration.
    const compactionUsage = message.usage;
    message.usage = {
      ...compactionUsage,
      input_tokens: 0,
      output_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      iterations: [
        {
          type: 'compaction',
          input_tokens: compactionUsage.input_tokens,
          output_tokens: compactionUsage.output_tokens,
          cache_read_input_tokens: compactionUsage.cache_read_input_tokens ?? 0,
          cache_creation_input_tokens: compactionUsage.cache_creation_input_tokens ?? 0,
          cache_creation: compactionUsage.cache_creation,
        },
      ],
    } as FakeMessage['usage'];
    if (how.kind === 'edit' && record.context?.appliedEdits) message.context_management = { applied_edits: record.context.appliedEdits };
    if (record.context) record.context.compaction = { kind: how.kind, summary, summarizedMessages: sentMessages, paused: how.paused };
    const plan = planReply(message, { maxTokens: full.max_tokens, cutAtMaxTokens: false, inputJsonChunkChars: DEFAULT_INPUT_JSON_CHUNK_CHARS, isEager: () => false, scriptedOutputTokens: true });
    record.responseId = message.id;
    record.response = message;
    this.#conversationOfReply.set(message.id, parts.conversationKey);
    const latency: Latency = { ...this.#options.latency };
    const completed = record.stream
      ? await writeMessageStream(res, plan, latency, signal, this.#streamWriterHooks(record, plan, cache))
      : await this.#writeJson(res, message, latency, signal, record, cache);
    if (completed) this.#storeThread(message, full, parts);
  }

  /**
   * `compact_20260112` without a pause: the reply starts with the compaction block and the model answers from the
   * summary. `usage` is the answer's (its prompt: system, tools and the summary); the compaction's own usage is the
   * first `usage.iterations` entry and is not in the top-level counts.
   */
  #compactInReply(built: FakeMessage, edited: EditedRequest, full: FullRequest, sentMessages: number, turnIndex: number, conversationKey: string, context: RecordedContext): { message: FakeMessage; promptTokens: number } {
    const instructions = edited.compaction?.instructions ?? null;
    const summary = this.#summarize({ messages: full.messages, instructions, conversationKey, kind: 'edit' });
    const block = this.#compactions.issue(summary, { conversationKey, turnsBefore: turnIndex, kind: 'edit', summarizedMessages: sentMessages });
    const promptTokens = tokensOf({ ...full, messages: [{ role: 'assistant', content: [block] } as unknown as BetaMessageParam] });
    const summaryTokens = estimateTokens(summary);
    const answer = { input_tokens: promptTokens, output_tokens: built.usage.output_tokens, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
    const usage = {
      ...built.usage,
      ...answer,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      iterations: [
        { type: 'compaction', input_tokens: context.inputTokens, output_tokens: summaryTokens, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, cache_creation: null },
        { type: 'message', ...answer, cache_creation: null, model: full.model },
      ],
    } as unknown as FakeMessage['usage'];
    context.compaction = { kind: 'edit', summary, summarizedMessages: sentMessages, paused: false };
    return { message: { ...built, content: [block as unknown as BetaContentBlock, ...built.content], usage }, promptTokens };
  }

  /** A script's compaction blocks, so the conversation that sends one back is still the script's, at the right turn. */
  #rememberScriptedCompactions(message: FakeMessage, conversationKey: string, turnIndex: number, sentMessages: number): void {
    const blocks = message.content as unknown as Array<{ type: string }>;
    const rest = blocks.filter((b) => b.type !== 'compaction').length;
    for (const block of blocks) {
      if (block.type !== 'compaction') continue;
      const origin: CompactionOrigin = { conversationKey, turnsBefore: turnIndex + (rest === 0 ? 1 : 0), kind: 'edit', summarizedMessages: sentMessages };
      this.#compactions.remember(block as unknown as CompactionBlock, origin);
    }
  }

  /**
   * `max_tokens: 0` pre-warms the cache: the prompt is processed (its breakpoints written), nothing is generated, and
   * the reply is empty with stop_reason max_tokens. No script step, no turn attempt, no stored thread.
   */
  async #servePrewarm(full: FullRequest, record: RecordedRequest, res: http.ServerResponse, signal: AbortSignal, cache: CacheStep): Promise<void> {
    const message = this.#buildMessage({ content: [], stop_reason: 'max_tokens', usage: { output_tokens: 0 } }, full, cache.plan);
    const plan = planReply(message, { maxTokens: 0, cutAtMaxTokens: false, inputJsonChunkChars: DEFAULT_INPUT_JSON_CHUNK_CHARS, isEager: () => false, scriptedOutputTokens: true });
    record.responseId = message.id;
    record.response = message;
    const latency: Latency = { ...this.#options.latency };
    if (record.stream) await writeMessageStream(res, plan, latency, signal, this.#streamWriterHooks(record, plan, cache));
    else await this.#writeJson(res, message, latency, signal, record, cache);
  }

  /** Looks the prompt up in the cache now; its writes and refreshes wait until a reply begins. */
  #cacheStep(prompt: Prompt, model: string, record: RecordedRequest): CacheStep {
    const plan = this.#promptCache.plan(prompt, minCacheableTokensFor(model, this.#options.minCacheableTokens));
    const recorded = recordedCacheOf(plan);
    record.cache = recorded;
    return {
      plan,
      commit: () => {
        if (recorded.written) return;
        recorded.written = true;
        this.#promptCache.commit(plan);
      },
    };
  }

  /**
   * POST /v1/messages/count_tokens: the total input tokens the same Messages request would have (the sum of its
   * usage's input_tokens, cache_read_input_tokens and cache_creation_input_tokens). It reads and writes no cache and
   * is no conversation turn.
   */
  #countTokens(body: Record<string, unknown>, betas: readonly string[], record: RecordedRequest, res: http.ServerResponse, fail: (error: ErrorReply) => void): void {
    if (body.thread !== undefined && body.thread !== null) {
      return fail({ status: 400, type: 'invalid_request_error', message: 'thread: Extra inputs are not permitted (count_tokens counts a whole request; send the full messages)' });
    }
    // count_tokens accepts `compaction` and ignores it: the count is of the conversation as sent.
    const { compaction: _compaction, ...counted } = body;
    const contextError = contextManagementRequestError(counted, betas, false);
    if (contextError) return fail(contextError);
    // count_tokens takes no max_tokens; the rest of the request rules apply as to a Messages request.
    const resolved = resolveCompactionBlocks((counted.messages as BetaMessageParam[] | undefined) ?? [], this.#compactions, firstUserText);
    if ('error' in resolved) return fail(resolved.error);
    const request = { ...counted, max_tokens: 1, ...(Array.isArray(counted.messages) ? { messages: resolved.resolved.messages } : {}) } as unknown as FullRequest;
    const violation = requestRuleViolation(request);
    if (violation) return fail({ status: 400, type: 'invalid_request_error', message: violation });
    const edited = applyContextEdits(request, counted.context_management, tokensOf);
    const prompt = promptOf(edited.request);
    if ('error' in prompt) return fail({ status: 400, type: 'invalid_request_error', message: prompt.error });
    record.status = 200;
    const management = counted.context_management !== undefined && counted.context_management !== null ? { context_management: { original_input_tokens: edited.originalInputTokens ?? prompt.prompt.totalTokens } } : {};
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': newId('req') });
    res.end(JSON.stringify({ input_tokens: prompt.prompt.totalTokens, ...management }));
  }

  #streamWriterHooks(record: RecordedRequest, plan: ReplyPlan, cache: CacheStep): StreamWriter {
    const onStreamWrite = this.#options.onStreamWrite;
    const inputJsonDeltas: string[][] = [];
    return {
      onHeaders: () => {
        record.status = 200;
        cache.commit();
      },
      onToolInputStart: () => {
        inputJsonDeltas.push([]);
        record.inputJsonDeltas = inputJsonDeltas;
      },
      onContentDelta: (index, kind, piece) => {
        if (kind === 'input_json') inputJsonDeltas[inputJsonDeltas.length - 1]!.push(piece);
        if (!onStreamWrite) return;
        const writtenAt = performance.timeOrigin + performance.now();
        onStreamWrite({
          requestId: record.id,
          responseId: plan.message.id,
          ...(record.conversationKey !== undefined ? { conversationKey: record.conversationKey } : {}),
          index,
          kind,
          piece,
          writtenAt,
        });
      },
    };
  }

  async #writeJson(res: http.ServerResponse, message: FakeMessage, latency: Latency, signal: AbortSignal, record: RecordedRequest, cache: CacheStep): Promise<boolean> {
    await abortableSleep((latency.firstTokenMs ?? 0) + (latency.chunkMs ?? 0) * message.content.length, signal);
    if (signal.aborted) return false;
    record.status = 200;
    cache.commit();
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': newId('req') });
    res.end(JSON.stringify(message));
    return true;
  }

  #matches(script: Script, full: FullRequest, conversationKey: string): boolean {
    if (typeof script.match === 'string') return conversationKey.includes(script.match);
    if (script.match instanceof RegExp) return script.match.test(conversationKey);
    return script.match(full);
  }

  /** A fault step serves its fault on the attempts it names and its `then` afterwards. */
  #resolveStep(step: ScriptStep, attempt: number): { step: ResponseStep } | { fault: FaultKind; retryAfterSeconds?: number; retryAfterMs?: number } {
    if ('faults' in step) {
      const fault = step.faults[attempt - 1];
      if (fault) return { fault, ...(step.retryAfterSeconds !== undefined ? { retryAfterSeconds: step.retryAfterSeconds } : {}) };
      return this.#resolveStep(step.then, attempt - step.faults.length);
    }
    if ('fault' in step) {
      if (attempt === 1) {
        return {
          fault: step.fault,
          ...(step.retryAfterSeconds !== undefined ? { retryAfterSeconds: step.retryAfterSeconds } : {}),
          ...(step.retryAfterMs !== undefined ? { retryAfterMs: step.retryAfterMs } : {}),
        };
      }
      return step.then ? this.#resolveStep(step.then, attempt - 1) : { step: { content: [{ type: 'text', text: 'OK' }] } };
    }
    return { step };
  }

  #randomFault(turnKey: string): FaultKind | undefined {
    const faults = this.#faults;
    if (!faults || faults.kinds.length === 0) return undefined;
    const streak = this.#consecutiveFaults.get(turnKey) ?? 0;
    const roll = this.#random();
    const pick = this.#random();
    if (streak >= (faults.maxConsecutivePerTurn ?? 2) || roll >= faults.rate) {
      this.#consecutiveFaults.set(turnKey, 0);
      return undefined;
    }
    this.#consecutiveFaults.set(turnKey, streak + 1);
    return faults.kinds[Math.floor(pick * faults.kinds.length)]!;
  }

  #buildMessage(step: ResponseStep, full: FullRequest, cache: CachePlan): FakeMessage {
    const content = this.#buildContent(step.content, full);
    if ('error' in content) throw new Error(content.error);
    const stopReason = step.stop_reason ?? (content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn');
    return this.#messageOf(content, stopReason, step, full, cache, null);
  }

  #messageOf(content: BetaContentBlock[], stopReason: BetaStopReason, step: ResponseStep, full: FullRequest, cache: CachePlan, container: FakeMessage['container']): FakeMessage {
    // Thinking the reply does not show is billed as output all the same.
    const outputEstimate = estimateTokens(content) + Math.ceil(this.#hiddenCharsOf(content) / 4);
    const calls = (name: string) => content.filter((b) => b.type === 'server_tool_use' && (b as { name: string }).name === name).length;
    const searches = calls('web_search');
    const fetches = calls('web_fetch');
    return {
      id: newId('msg'),
      type: 'message',
      role: 'assistant',
      model: full.model,
      content,
      stop_reason: stopReason,
      stop_sequence: stopReason === 'stop_sequence' ? (full.stop_sequences?.[0] ?? null) : null,
      stop_details: null,
      container,
      usage: {
        input_tokens: step.usage?.input_tokens ?? cache.uncachedTokens,
        output_tokens: step.usage?.output_tokens ?? outputEstimate,
        cache_read_input_tokens: step.usage?.cache_read_input_tokens ?? cache.readTokens,
        cache_creation_input_tokens: step.usage?.cache_creation_input_tokens ?? cache.write5mTokens + cache.write1hTokens,
        cache_creation:
          step.usage?.cache_creation ??
          (step.usage?.cache_creation_input_tokens !== undefined
            ? { ephemeral_5m_input_tokens: step.usage.cache_creation_input_tokens ?? 0, ephemeral_1h_input_tokens: 0 }
            : { ephemeral_5m_input_tokens: cache.write5mTokens, ephemeral_1h_input_tokens: cache.write1hTokens }),
        ...(searches + fetches > 0 ? { server_tool_use: { web_search_requests: searches, web_fetch_requests: fetches } } : {}),
      } as FakeMessage['usage'],
    };
  }

  async #serveFault(
    fault: FaultKind,
    record: RecordedRequest,
    res: http.ServerResponse,
    retryAfterSeconds: number | undefined,
    signal: AbortSignal,
    full: FullRequest,
    cache: CacheStep,
    retryAfterMs?: number,
  ): Promise<void> {
    if (!FAULT_KINDS.includes(fault)) throw new Error(`unknown fault ${String(fault)}`);
    switch (fault) {
      case 'connection-reset':
        record.status = 0;
        res.socket?.destroy();
        return;
      case 'stall':
        record.status = 200;
        res.writeHead(200, { 'content-type': record.stream ? 'text/event-stream' : 'application/json', 'request-id': newId('req') });
        // The model is working on it: the prompt was processed.
        cache.commit();
        if (record.stream) res.write(`event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { ...this.#buildMessage({ content: [] }, full, cache.plan), content: [], stop_reason: null } })}\n\n`);
        // Never answer; the client's timeout or abort ends it.
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
        return;
      case 'stream-error':
        if (record.stream) {
          record.status = 200;
          res.writeHead(200, { 'content-type': 'text/event-stream', 'request-id': newId('req') });
          cache.commit();
          const partial = this.#buildMessage({ content: [{ type: 'text', text: 'partial answer' }] }, full, cache.plan);
          res.write(`event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { ...partial, content: [], stop_reason: null } })}\n\n`);
          res.write(`event: content_block_start\ndata: ${JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '', citations: null } })}\n\n`);
          res.write(`event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'partial' } })}\n\n`);
          res.end(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`);
          return;
        }
        record.errorType = 'overloaded_error';
        record.status = 529;
        this.#sendError(res, { ...FAULT_ERRORS['529'] });
        return;
      default: {
        const error: ErrorReply = { ...FAULT_ERRORS[fault] };
        if (fault === '429') {
          error.headers = retryAfterMs !== undefined ? { 'retry-after-ms': String(retryAfterMs) } : { 'retry-after': String(retryAfterSeconds ?? 1) };
        }
        record.status = error.status;
        record.errorType = error.type;
        this.#sendError(res, error);
      }
    }
  }

  #threadError(error: ThreadError): ErrorReply {
    return {
      status: error.status,
      type: error.type,
      message: error.message,
      ...(error.code ? { code: error.code } : {}),
      ...(error.unsupported ? { details: { unsupported: error.unsupported } } : {}),
    };
  }

  #sendError(res: http.ServerResponse, error: ErrorReply): void {
    const requestId = newId('req');
    const details = error.code || error.details ? { details: { ...(error.code ? { error_code: error.code } : {}), ...error.details } } : {};
    res.writeHead(error.status, { 'content-type': 'application/json', 'request-id': requestId, ...error.headers });
    res.end(JSON.stringify({ type: 'error', error: { type: error.type, message: error.message, ...details }, request_id: requestId }));
  }
}
