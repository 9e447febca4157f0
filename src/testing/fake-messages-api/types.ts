// The fake Messages API's public types: scripts, steps, faults and the request log.
import type {
  BetaContentBlock,
  BetaMessageParam,
  BetaStopReason,
  BetaUsage,
} from '@anthropic-ai/sdk/resources/beta/messages/messages';

export type FaultKind = '429' | '500' | '529' | '400' | '401' | 'connection-reset' | 'stream-error' | 'stall';

export const FAULT_KINDS: readonly FaultKind[] = ['429', '500', '529', '400', '401', 'connection-reset', 'stream-error', 'stall'];

/** A content block as a script gives it: ids are filled in when missing. */
export type ContentBlockSpec =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; name: string; input: unknown; id?: string }
  /**
   * Streams as `thinking_delta` pieces (cut like text), then one `signature_delta`. Without a signature the fake
   * signs it (bound to the model and the text); a given signature goes out as is. Either way the fake accepts the
   * block back only unchanged, for the same model. With the request's `thinking.display: 'omitted'` it goes out
   * with `thinking: ''` and its signature.
   */
  | { type: 'thinking'; thinking: string; signature?: string }
  /** Goes out whole; without `data` the fake fills in opaque data it can verify. */
  | { type: 'redacted_thinking'; data?: string }
  /**
   * A server tool call (`web_search`, `web_fetch`, `bash_code_execution`, `text_editor_code_execution`,
   * `code_execution`, `tool_search_tool_regex`, `tool_search_tool_bm25`): the id is filled in (`srvtoolu_…`) and the
   * fake writes the result block after it, derived from the input, unless the script's next block is a result block
   * (`…_tool_result`), which then gets the call's id. The request must declare the server tool. A web_search or
   * web_fetch call past its tool's `max_uses` (counted in the reply) gets the `max_uses_exceeded` error result.
   */
  | { type: 'server_tool_use'; name: string; input: unknown; id?: string }
  | (Record<string, unknown> & { type: string });

export interface Latency {
  /** Delay before the first content arrives. */
  firstTokenMs?: number;
  /**
   * Time per streamed event (a delta, a block start or stop, the message's end). Events are scheduled against the
   * stream's start (`firstTokenMs + n × chunkMs`), not by sleeping after each write, so a fast rate does not drift.
   * A buffered tool-input delta takes as many slots as the eager pieces of the same characters would (the model
   * writes the key/value pair at the same speed, the API just holds it back), hence the pauses between them.
   */
  chunkMs?: number;
}

/**
 * How a tool_use block's input JSON streams.
 * - `buffered`: each `input_json_delta` is one whole top-level key/value pair (the first opens `{`, the last closes
 *   `}`), as the API streams a tool without eager input streaming ("one complete key and value property at a time").
 * - `eager`: `inputJsonChunkChars`-sized pieces cut anywhere (mid-string, mid-number, inside escapes), as the API
 *   streams a tool with `eager_input_streaming: true` or under the fine-grained-tool-streaming beta.
 * - `auto` (default): `eager` when the request's definition of the tool has `eager_input_streaming: true`, or when
 *   the `anthropic-beta` header has `fine-grained-tool-streaming-2025-05-14` and the tool does not say `false`;
 *   `buffered` otherwise (also for a tool the request does not define).
 */
export type ToolInputStreaming = 'auto' | 'buffered' | 'eager';

/** What one streamed content delta carried, reported right after it was written to the socket. */
export interface StreamWrite {
  /** The request log's id (`RecordedRequest.id`). */
  requestId: string;
  /** The reply's message id. */
  responseId: string;
  conversationKey?: string;
  /** The content block's index. */
  index: number;
  kind: 'text' | 'input_json' | 'thinking';
  piece: string;
  /** `performance.timeOrigin + performance.now()`: epoch milliseconds, comparable across processes on one machine. */
  writtenAt: number;
}

/** Where max_tokens cut a reply (`cutAtMaxTokens`). */
export interface MaxTokensCut {
  /** The block the budget ran out in, or the first block not sent when it ran out right after a whole block. */
  index: number;
  /** What of that block went out: its text, its thinking, or its partial input JSON ('' for a block not sent). */
  sent: string;
}

export interface ResponseStep {
  content: ContentBlockSpec[];
  /**
   * Default: tool_use when the content has a tool_use block, else end_turn. For a turn split at server tool calls it
   * is the last part's (the others end with pause_turn).
   */
  stop_reason?: BetaStopReason;
  /**
   * Usage to report instead of the fake's own, field by field (the prompt cache still reads and writes as usual).
   * When `cache_creation_input_tokens` is given without `cache_creation`, the split reports it all as 5-minute writes.
   */
  usage?: Partial<Pick<BetaUsage, 'input_tokens' | 'output_tokens' | 'cache_read_input_tokens' | 'cache_creation_input_tokens' | 'cache_creation'>>;
  latency?: Latency;
  /** Overrides the server's `inputJsonChunkChars` for this reply. */
  inputJsonChunkChars?: number;
  /** Overrides the server's `toolInputStreaming` for this reply's tool_use blocks. */
  toolInputStreaming?: ToolInputStreaming;
  /** Overrides the server's `textChunkChars` for this reply. */
  textChunkChars?: number;
  /** Overrides the server's `pauseAfterServerToolUses` for this reply. */
  pauseAfterServerToolUses?: number;
  /**
   * Cut the reply where the request's `max_tokens` runs out, as the real API does. A block's streamed characters
   * (text, thinking, tool input JSON; other blocks count nothing) cost `CHARS_PER_OUTPUT_TOKEN` (4) per token, in
   * order. When the content does not fit, the reply stops mid-block — a tool input mid-JSON, so what was sent of it
   * is not valid JSON (a buffered one stops after its last whole pair, without the closing `}`) — and ends with
   * `stop_reason: 'max_tokens'` (whatever `stop_reason` says) and `usage.output_tokens = max_tokens`. A thinking
   * block cut short gets no signature. When the content fits, nothing changes, except that `usage.output_tokens`
   * defaults to the same estimate. Overrides the server's `cutAtMaxTokens`.
   */
  cutAtMaxTokens?: boolean;
}

export interface FaultStep {
  fault: FaultKind;
  retryAfterSeconds?: number;
  retryAfterMs?: number;
  /** What later attempts of the same turn get. */
  then?: ScriptStep;
}

export interface FaultSequenceStep {
  /** Attempt k of the turn gets faults[k-1]; attempts after the last get `then`. */
  faults: FaultKind[];
  retryAfterSeconds?: number;
  then: ScriptStep;
}

export type ScriptStep = ResponseStep | FaultStep | FaultSequenceStep;

/** The whole request as the model sees it: for a thread continue, the stored conversation plus the new messages. */
export interface FullRequest {
  model: string;
  max_tokens: number;
  messages: BetaMessageParam[];
  system?: unknown;
  tools?: Array<{ name: string; [key: string]: unknown }>;
  tool_choice?: { type: string; name?: string; disable_parallel_tool_use?: boolean };
  stop_sequences?: string[];
  temperature?: number;
  stream?: boolean;
  [key: string]: unknown;
}

export interface StepContext {
  /**
   * How many model replies the conversation holds: 0 for the first answer. Replies a client joined into one assistant
   * message (a resumed pause_turn or compaction) count one each. A retry gets the same index.
   */
  turnIndex: number;
  request: FullRequest;
  /** How many requests of this conversation reached this turn index, counting this one (from 1). */
  attempt: number;
  conversationKey: string;
}

export interface Script {
  /** Tested against the text of the conversation's first user message (a string matches as a substring). */
  match: string | RegExp | ((request: FullRequest) => boolean);
  steps: ScriptStep[] | ((context: StepContext) => ScriptStep);
}

export interface RandomFaultOptions {
  /** Share of requests that get a fault, 0..1. */
  rate: number;
  kinds: FaultKind[];
  seed?: number;
  /** At most this many faults in a row for one conversation turn, so every conversation can finish. Default 2. */
  maxConsecutivePerTurn?: number;
  retryAfterSeconds?: number;
}

/**
 * An organisation's request rate limit on /v1/messages (count_tokens has its own limit at the API, and none here):
 * above it, requests get 429 `rate_limit_error` with `retry-after`, before any script step is used.
 */
export interface RateLimitOptions {
  requestsPerSecond?: number;
  requestsPerMinute?: number;
  /** Requests that may arrive at once after a quiet spell (the token bucket's size). Default: a second's worth. */
  burst?: number;
}

export interface FakeMessagesApiOptions {
  /** Serve 429s above this request rate (setRateLimit changes it; `rateLimitedResponses` counts them). */
  rateLimit?: RateLimitOptions | null;
  /** How long a stored thread lives after its last reply. Default 5 minutes, as the real API. */
  threadTtlMs?: number;
  latency?: Latency;
  now?: () => number;
  faults?: RandomFaultOptions | null;
  defaultScript?: Script;
  storeRefusals?: boolean;
  log?: boolean;
  /** Port to listen on; default a free one. */
  port?: number;
  /**
   * A streamed tool_use's input goes out as `input_json_delta` pieces of this many characters, cut anywhere (inside
   * strings, numbers and escapes), when it streams eagerly (see `toolInputStreaming`). Default 8. A buffered input's
   * pair takes `ceil(chars / inputJsonChunkChars)` `chunkMs` slots.
   */
  inputJsonChunkChars?: number;
  /** How tool input streams; default `auto` (eager only for a tool that asks for it). */
  toolInputStreaming?: ToolInputStreaming;
  /**
   * Characters (code points) per `text_delta` and `thinking_delta`. Default: each block in about three pieces,
   * whatever its length.
   */
  textChunkChars?: number;
  /**
   * A reply whose content has more server tool calls than this pauses after the N-th one's result
   * (`stop_reason: 'pause_turn'`); the fake holds the rest until the client resumes the turn (unthreaded: the same
   * conversation ending with the paused reply's content; threaded: a continue with `messages: []`), and sends it
   * N server calls at a time, the last part with the step's own stop reason. A resume uses no script step and has
   * the paused turn's `turnIndex`. Default: never pause.
   */
  pauseAfterServerToolUses?: number;
  /**
   * Request fields threads refuse: a threaded request whose body carries one of them (not null) gets 400
   * `thread_unsupported_request` with `details.unsupported` naming those it carries (`setThreadUnsupportedFeatures`).
   */
  threadUnsupportedFeatures?: string[];
  /** Cut every reply at the request's `max_tokens` (see `ResponseStep.cutAtMaxTokens`). Default false. */
  cutAtMaxTokens?: boolean;
  /** Called right after each content delta is written to the socket (for latency measurements). */
  onStreamWrite?: (write: StreamWrite) => void;
  /**
   * The minimum cacheable prompt length: one number for every model, or model id prefixes (longest match wins)
   * consulted before the built-in table (`MIN_CACHEABLE_TOKENS` in prompt-cache.ts; unknown models 1024).
   */
  minCacheableTokens?: number | Record<string, number>;
  /**
   * The model's context window in (the fake's estimated) tokens: one number for every model, or model id prefixes
   * (longest match wins). A prompt over it gets the API's 400 `prompt is too long: N tokens > W maximum`; a reply that
   * would run past it is cut where it fills the window, with `stop_reason: 'model_context_window_exceeded'`. Counted
   * on the prompt as the model sees it (after context edits and compaction). Default: no limit.
   */
  contextWindowTokens?: number | Record<string, number>;
  /**
   * What the fake's model writes when it compacts (an explicit compaction request or a `compact_20260112` edit): a
   * summary, or null for a failed compaction (a block with `content: null`). Default: `defaultSummary` in compaction.ts.
   */
  compactionSummary?: (context: CompactionSummaryContext) => string | null;
}

export interface CompactionSummaryContext {
  /** The conversation as the model sees it, which the summary replaces. */
  messages: BetaMessageParam[];
  /** The request's instructions (replacing the default prompt for an explicit request, added for an edit). */
  instructions: string | null;
  conversationKey: string;
  kind: 'request' | 'edit';
}

/** What the fake did about context for one request (context_management edits, compaction, the context window). */
export interface RecordedContext {
  /** `context_management.applied_edits` as the response reports them. */
  appliedEdits?: unknown[];
  /** A compaction the fake performed: an explicit request, or a `compact_20260112` edit whose trigger was reached. */
  compaction?: { kind: 'request' | 'edit'; summary: string | null; summarizedMessages: number; paused: boolean };
  /** The messages as the model saw them, when context management or a compaction block sent back changed them. */
  modelMessages?: BetaMessageParam[];
  /** The prompt's size as the model saw it, in the fake's tokens. */
  inputTokens: number;
  /** The reply filled the context window and was cut (`model_context_window_exceeded`). */
  windowExceeded?: boolean;
}

/** A prompt-cache TTL as `cache_control.ttl` names it. */
export type CacheTtl = '5m' | '1h';

/** What the prompt cache did for one request (token counts as the reply's usage reports them before any script override). */
export interface RecordedCache {
  /** Breakpoints the request placed, the automatic one included. */
  breakpoints: number;
  /** cache_read_input_tokens: the longest cached prefix found. */
  readTokens: number;
  /** cache_creation_input_tokens: from the end of the hit to the last breakpoint written. */
  writeTokens: number;
  /** The part of `writeTokens` written by 1-hour breakpoints (ephemeral_1h_input_tokens). */
  write1hTokens: number;
  /** input_tokens: after the last breakpoint written, or everything when nothing was cached. */
  uncachedTokens: number;
  /** The block the hit ends at: index in the request's cacheable blocks (tools, then system blocks, then message blocks). */
  hitAt?: number;
  /** Whether the prompt was processed (a reply began), so the writes and refreshes took effect. Status-code faults: false. */
  written: boolean;
}

/** One live prompt-cache entry (`FakeMessagesApi.promptCacheEntries()`). */
export interface PromptCacheEntry {
  model: string;
  /** The breakpoint's block: index in the request's cacheable blocks (tools, then system blocks, then message blocks). */
  blockIndex: number;
  /** Tokens of the cached prefix. */
  tokens: number;
  ttl: CacheTtl;
  /** When the entry was first written. */
  writtenAt: number;
  /** The last write or hit, from which its TTL runs. */
  lastUsedAt: number;
  expiresAt: number;
}

export type ThreadKind = 'create' | 'continue' | 'unthreaded';

export interface RecordedRequest {
  id: string;
  receivedAt: number;
  endedAt?: number;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  stream: boolean;
  threadKind: ThreadKind;
  previousMessageId?: string;
  conversationKey?: string;
  turnIndex?: number;
  attempt?: number;
  status: number;
  errorType?: string;
  errorCode?: string;
  fault?: FaultKind;
  responseId?: string;
  /** For a streamed reply: the `partial_json` pieces written, one list per tool_use (or server_tool_use) block started, in content order. */
  inputJsonDeltas?: string[][];
  /**
   * The reply as the fake sends it: cut at max_tokens when `cutAtMaxTokens` cut it (a cut tool_use's `input` then
   * holds the top-level pairs that were whole when the budget ran out; the JSON reply carries the same), or cut
   * short by the client if `aborted`.
   */
  response?: FakeMessage;
  /** Where max_tokens cut the reply, when it did. */
  maxTokensCut?: MaxTokensCut;
  /** For a turn the fake split at server tool calls (`pauseAfterServerToolUses`): which part this reply is (from 0), of how many. */
  serverToolPart?: { part: number; parts: number };
  /** Refused with 429 by the fake's rate limit (FakeMessagesApiOptions.rateLimit). */
  rateLimited?: boolean;
  /** The client went away before the response ended (a cancelled or aborted call). */
  aborted?: boolean;
  /** What the prompt cache read and wrote (requests to /v1/messages that passed validation). */
  cache?: RecordedCache;
  /** Context management, compaction and the context window, for requests that passed validation. */
  context?: RecordedContext;
}

export type FakeMessage = {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: BetaContentBlock[];
  stop_reason: BetaStopReason;
  stop_sequence: string | null;
  stop_details: null;
  /** The code-execution container the reply ran in (or the request named), else null. */
  container: { id: string; expires_at: string; skills: null } | null;
  usage: BetaUsage;
  /** Present when the request had `context_management`: the edits applied (`[]` when none). */
  context_management?: { applied_edits: unknown[] } | null;
};
