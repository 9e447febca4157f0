// A real HTTP server that speaks the Messages API closely enough for the real SDK: JSON and SSE responses,
// scripted per conversation, with faults, request rules and message threads. Tests, the offline demo and the
// benchmarks point `baseURL` at it.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { BetaContentBlock, BetaMessageParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { PromptCache, minCacheableTokensFor, promptOf, recordedCacheOf, type CachePlan, type Prompt } from './prompt-cache';
import { eagerInputStreamingOf, planReply, type ReplyPlan } from './reply-plan';
import { abortableSleep, writeMessageStream, type StreamWriter } from './sse';
import { MESSAGE_THREADS_BETA, ThreadStore, fingerprintOf, type ThreadError } from './threads';
import { ReplyLedger, combineConsecutiveTurns } from './turns';
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
  type ThreadKind,
} from './types';
import { requestRuleViolation } from './validation';

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

function firstUserText(messages: BetaMessageParam[]): string {
  const first = messages.find((m) => m.role === 'user');
  if (!first) return '';
  if (typeof first.content === 'string') return first.content;
  return first.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
}

function estimateTokens(value: unknown): number {
  return Math.max(1, Math.ceil(JSON.stringify(value ?? '').length / 4));
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
  #port = 0;

  private constructor(options: FakeMessagesApiOptions) {
    this.#options = options;
    this.#faults = options.faults ?? null;
    this.#random = seededRandom(options.faults?.seed ?? 1);
    this.#threads = new ThreadStore(() => this.#options.threadTtlMs ?? 5 * 60_000, () => this.now());
    this.#promptCache = new PromptCache(() => this.now());
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

  setFaults(faults: RandomFaultOptions | null): void {
    this.#faults = faults;
    this.#random = seededRandom(faults?.seed ?? 1);
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
    if (path === COUNT_TOKENS_PATH) return this.#countTokens(body, record, res, fail);

    const thread = body.thread as { type?: string; previous_message_id?: string } | null | undefined;
    const betas = (headers['anthropic-beta'] ?? '').split(',').map((b) => b.trim());
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
    const violation = requestRuleViolation(full);
    if (violation) return fail({ status: 400, type: 'invalid_request_error', message: violation });
    const prompt = promptOf(full, { markersFromMessage: continuedFrom ? continuedFrom.messages.length : 0 });
    if ('error' in prompt) return fail({ status: 400, type: 'invalid_request_error', message: prompt.error });
    const cache = this.#cacheStep(prompt.prompt, full.model, record);
    // What the model sees, and what a thread stores: consecutive same-role messages as one turn.
    full = { ...full, messages: combineConsecutiveTurns(full.messages) };

    const conversationKey = firstUserText(full.messages);
    const turnIndex = this.#replies.repliesIn(conversationKey, full.messages);
    record.conversationKey = conversationKey;
    record.turnIndex = turnIndex;
    if (full.max_tokens === 0) return this.#servePrewarm(full, record, res, aborted.signal, cache);
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
    const resolved = this.#resolveStep(step, attempt);
    if ('fault' in resolved) {
      record.fault = resolved.fault;
      return this.#serveFault(resolved.fault, record, res, resolved.retryAfterSeconds, aborted.signal, full, cache, resolved.retryAfterMs);
    }

    if (continuedFrom) continuedFrom.inFlight = true;
    try {
      const step = resolved.step;
      const textChunkChars = step.textChunkChars ?? this.#options.textChunkChars;
      const plan = planReply(this.#buildMessage(step, full, cache.plan), {
        maxTokens: full.max_tokens,
        cutAtMaxTokens: step.cutAtMaxTokens ?? this.#options.cutAtMaxTokens ?? false,
        ...(textChunkChars !== undefined ? { textChunkChars } : {}),
        inputJsonChunkChars: step.inputJsonChunkChars ?? this.#options.inputJsonChunkChars ?? DEFAULT_INPUT_JSON_CHUNK_CHARS,
        isEager: eagerInputStreamingOf(full, betas, step.toolInputStreaming ?? this.#options.toolInputStreaming ?? 'auto'),
        scriptedOutputTokens: step.usage?.output_tokens !== undefined,
      });
      const { message } = plan;
      record.responseId = message.id;
      record.response = message;
      if (plan.cut) record.maxTokensCut = plan.cut;
      this.#conversationOfReply.set(message.id, conversationKey);
      this.#replies.record(conversationKey, message.content);
      const latency: Latency = { ...this.#options.latency, ...step.latency };
      const completed = record.stream
        ? await writeMessageStream(res, plan, latency, aborted.signal, this.#streamWriterHooks(record, plan, cache))
        : await this.#writeJson(res, message, latency, aborted.signal, record, cache);
      if (!completed) return;
      // The server keeps a thread only once the whole reply was sent.
      if (kind !== 'unthreaded' && (message.stop_reason !== 'refusal' || this.#options.storeRefusals)) {
        if (continuedFrom) continuedFrom.continued = true;
        this.#threads.store(message.id, {
          messages: combineConsecutiveTurns([...full.messages, { role: 'assistant', content: message.content } as BetaMessageParam]),
          system: full.system,
          tools: full.tools,
          fingerprint: fingerprintOf(full),
          stopReason: message.stop_reason,
          storedAt: this.now(),
          continued: false,
          inFlight: false,
          conversationKey,
        });
      }
    } finally {
      if (continuedFrom) continuedFrom.inFlight = false;
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
  #countTokens(body: Record<string, unknown>, record: RecordedRequest, res: http.ServerResponse, fail: (error: ErrorReply) => void): void {
    if (body.thread !== undefined && body.thread !== null) {
      return fail({ status: 400, type: 'invalid_request_error', message: 'thread: Extra inputs are not permitted (count_tokens counts a whole request; send the full messages)' });
    }
    // count_tokens takes no max_tokens; the rest of the request rules apply as to a Messages request.
    const request = { ...body, max_tokens: 1 } as unknown as FullRequest;
    const violation = requestRuleViolation(request);
    if (violation) return fail({ status: 400, type: 'invalid_request_error', message: violation });
    const prompt = promptOf(request);
    if ('error' in prompt) return fail({ status: 400, type: 'invalid_request_error', message: prompt.error });
    record.status = 200;
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': newId('req') });
    res.end(JSON.stringify({ input_tokens: prompt.prompt.totalTokens }));
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
    const content = step.content.map((block): BetaContentBlock => {
      if (block.type === 'text') return { type: 'text', text: String((block as { text: unknown }).text), citations: null } as BetaContentBlock;
      if (block.type === 'tool_use') {
        const use = block as { name: string; input: unknown; id?: string };
        return { type: 'tool_use', id: use.id ?? newId('toolu'), name: use.name, input: use.input } as BetaContentBlock;
      }
      return block as unknown as BetaContentBlock;
    });
    const stopReason = step.stop_reason ?? (content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn');
    return {
      id: newId('msg'),
      type: 'message',
      role: 'assistant',
      model: full.model,
      content,
      stop_reason: stopReason,
      stop_sequence: stopReason === 'stop_sequence' ? (full.stop_sequences?.[0] ?? null) : null,
      stop_details: null,
      container: null,
      usage: {
        input_tokens: step.usage?.input_tokens ?? cache.uncachedTokens,
        output_tokens: step.usage?.output_tokens ?? estimateTokens(content),
        cache_read_input_tokens: step.usage?.cache_read_input_tokens ?? cache.readTokens,
        cache_creation_input_tokens: step.usage?.cache_creation_input_tokens ?? cache.write5mTokens + cache.write1hTokens,
        cache_creation:
          step.usage?.cache_creation ??
          (step.usage?.cache_creation_input_tokens !== undefined
            ? { ephemeral_5m_input_tokens: step.usage.cache_creation_input_tokens ?? 0, ephemeral_1h_input_tokens: 0 }
            : { ephemeral_5m_input_tokens: cache.write5mTokens, ephemeral_1h_input_tokens: cache.write1hTokens }),
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
