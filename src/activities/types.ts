// The argument and result objects of every activity. Types only: workflow code imports this file with
// `import type`, so history payloads are self-describing and can grow fields without breaking replay.
import type { ModelPrice } from '../pricing/cost';
import type { ApproverVerdict, DecisionBinding, VerifiedApprover } from '../security/types';
import type { TranscriptPage, TranscriptSegment, TranscriptSegmentRef } from '../workflows/types';
import type {
  BetaContentBlock,
  BetaMessageParam,
  BetaStopReason,
  BetaThinkingConfigParam,
  BetaToolChoice,
  BetaToolUnion,
  BetaToolResultBlockParam,
  BetaUsage,
} from '@anthropic-ai/sdk/resources/beta/messages/messages';

/** How a tool is gated: never, always, or by a worker-side function of its input. */
export type ApprovalRule = 'never' | 'always' | 'conditional';

/** What the workflow learns about a registered tool: its name, its JSON schema, and how to run it. No code. */
export interface ToolDescription {
  name: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  strict?: boolean;
  approval: ApprovalRule;
  /** Decisions need verified credentials: who may decide is the worker's rule (defineTool's approvers). */
  approvalPolicy?: { description: string; requiredApprovals: number };
  /** Per-tool approval timeout in ms, overriding the conversation's. */
  approvalTimeoutMs?: number;
  /** Activity options for runTool on this tool. */
  startToCloseTimeoutMs: number;
  maximumAttempts: number;
  initialRetryIntervalMs: number;
  heartbeatTimeoutMs?: number;
  /** The tool opted into fine-grained tool streaming: it is sent with `eager_input_streaming: true`. */
  eagerInputStreaming?: boolean;
  /** An explicit cache breakpoint after this tool's definition, with this TTL (defineTool's cacheBreakpoint). */
  cacheTtl?: CacheTtl;
  /**
   * An Anthropic-defined client tool (e.g. 'bash_20250124'): sent as `{type, name}` with no schema (the model knows
   * it); the worker runs it. inputSchema still checks its calls and approvers' edits.
   */
  anthropicType?: string;
  /** Example inputs sent as `input_examples` (each matches inputSchema; checked at worker start). */
  inputExamples?: Array<Record<string, unknown>>;
  /** The tool keeps a session: its calls run one at a time, each starting from the state the last one saved. */
  session?: boolean;
}

export interface DescribeToolsInput {
  names: string[];
}

export interface DescribeToolsResult {
  tools: ToolDescription[];
  /** Names asked for that the worker's registry does not have. */
  unknown: string[];
  /** Every name the worker's registry has, for the error message. */
  available: string[];
  /**
   * The task queue where this worker's model calls run (AgentPlugin's `modelCalls`: a rate-limited queue of their
   * own). Absent: on the conversation's own queue. Recorded in history, so replay and later runs use the same.
   */
  modelTaskQueue?: string;
}

export interface ToolCallToReview {
  toolUseId: string;
  toolName: string;
  input: unknown;
}

export interface ReviewToolCallsInput {
  calls: ToolCallToReview[];
}

export interface ToolCallReview {
  toolUseId: string;
  /** The schema's verdict; an invalid call is answered with is_error and never shown to an approver. */
  valid: boolean;
  validationError?: string;
  needsApproval: boolean;
}

export interface ReviewToolCallsResult {
  reviews: ToolCallReview[];
}

/** A decision credential to check in the worker (a local activity: the token is never recorded in history). */
export interface VerifyDecisionInput {
  token: string;
  toolName: string;
  /** What the workflow expects the credential to be bound to (its own id, the call, the decision, the input's digest). */
  expected: DecisionBinding;
}

export type VerifyDecisionResult =
  | {
      ok: true;
      /** The verified person and binding; the token is not in it. */
      approver: Omit<VerifiedApprover, 'roles' | 'groups'>;
      /** The tool's approver rule on this person (allowed, with the claims matched), or no rule. */
      verdict: ApproverVerdict | null;
    }
  | { ok: false; reason: string };

/** The record of a person's decision that lets a gated tool run. runTool refuses a gated call without one. */
export interface ApprovalRecord {
  toolUseId: string;
  decision: 'approved';
  by: string;
  decidedAt: string;
  reason?: string;
  /** Set when the approver changed the input; the tool runs with `input` as approved. */
  edited: boolean;
  /**
   * SHA-256 of the canonical JSON of the input approved: the worker runs the tool only with exactly that input.
   * Absent in histories recorded before it existed.
   */
  inputDigest?: string;
  /** The people whose credentials the worker verified for this approval (tools with approvers). */
  approvers?: Array<{ subject: string; issuer: string; tokenId: string }>;
}

export interface RunToolInput {
  toolUseId: string;
  toolName: string;
  input: unknown;
  turn: number;
  approval?: ApprovalRecord;
  /** A session tool: the state its previous call in this conversation saved (absent on the first call). */
  session?: unknown;
}

export type ToolResultContent = NonNullable<BetaToolResultBlockParam['content']>;

export interface RunToolResult {
  content: ToolResultContent;
  isError: boolean;
  /** The result was cut to fit the payload limit; the original size in bytes. */
  truncatedFromBytes?: number;
  startedAt: number;
  endedAt: number;
  /** A session tool: the state the next call starts from (absent: unchanged). */
  session?: unknown;
}

/** Best-effort pointer to the server-side copy of the conversation (message threads). The transcript stays the record. */
export interface ThreadHint {
  previousMessageId: string;
  /** Index in the transcript of the assistant message that reply became. */
  replyIndex: number;
  /** Worker clock when the server stored the reply; threads lapse 5 minutes after their last request. */
  storedAt: number;
  /** Hash of the create-only fields (system, tools) and the model the thread was created with. */
  createdWith: string;
}

export type ModelRequestKind = 'create' | 'continue' | 'replay' | 'unthreaded';

/** The prompt-cache TTL a request asks for with its top-level cache_control (null: caching off). */
export type CacheTtl = '5m' | '1h';

export interface CallModelInput {
  turn: number;
  model: string;
  maxTokens: number;
  toolChoice?: BetaToolChoice;
  /** How many transcript messages this call sends in all; the activity reads them from the workflow by query. */
  transcriptLength: number;
  threads: boolean;
  thread: ThreadHint | null;
  /**
   * The messages after the thread's last reply (e.g. the tool results), when the workflow expects a continue and
   * they are small: the activity then sends them without reading the transcript. Otherwise (large messages, a
   * create, a replay, histories recorded before this field existed) it reads the transcript by query.
   */
  newMessages?: BetaMessageParam[];
  /**
   * The whole request context, when the call has no thread to continue and the context is small: the activity then
   * builds the create from it instead of reading the workflow by query. Absent: read by query (histories recorded
   * before this field, large contexts, a thread that turns out to be gone).
   */
  context?: ModelRequestContext;
  /** Skip the continue: the anchor is known to be used up (e.g. a repeat with a higher max_tokens). */
  forceCreate?: boolean;
  temperature?: number;
  stopSequences?: string[];
  /**
   * The retry policy's maximum interval: a server's retry-after above it is cut to it (Temporal takes a failure's
   * next-retry delay as given, and the activity is not told its policy). Absent in calls scheduled before it existed.
   */
  maxRetryIntervalMs?: number;
  /**
   * Prompt caching: the request carries a top-level `cache_control` with this TTL (the API's automatic caching).
   * Absent: no top-level cache_control (caching off, or a call scheduled before caching existed).
   */
  cache?: { ttl: CacheTtl };
  /** The conversation's own prices (`prices` option), ahead of the worker's table. */
  prices?: Record<string, ModelPrice>;
  /**
   * The TTLs of the breakpoints the user set on the system prompt and tools (tools first), when there are any: a
   * thread continue does not send them, but they count toward the request's limit and its worst-case price.
   */
  fixedBreakpointTtls?: CacheTtl[];
  /**
   * Server-side clearing of old tool uses (`context_management` edit `clear_tool_uses_20250919`). Sent only on
   * unthreaded requests: the API refuses `context_management` with a thread (thread_unsupported_request).
   */
  clearToolUses?: ClearToolUsesOptions;
  /**
   * The client-side fallback, once the server refused to compact: old tool results' content is replaced before
   * sending (see clearOldToolResults in model.ts). A rewritten history cannot continue a thread, so the call is a
   * create (or unthreaded), never a continue.
   */
  contextFallback?: ClientContextFallback;
  /** Extended thinking as the API takes it (`thinking`), when the conversation sets it. */
  thinking?: BetaThinkingConfigParam;
  /** `output_config.effort`, when the conversation's thinking sets one. */
  effort?: 'low' | 'medium' | 'high' | 'xhigh' | 'max';
  /** The code-execution container an earlier reply named: sent back as `container` (the API requires it). */
  container?: string;
  /** `anthropic-beta` values the conversation needs (its server tools, input examples, its own betas option). */
  betas?: string[];
}

/** `clear_tool_uses_20250919` options; each absent one takes the API's default. */
export interface ClearToolUsesOptions {
  /** Clear once the prompt has this many input tokens (API default 100,000). */
  triggerInputTokens?: number;
  /** How many tool uses stay, the newest (API default 3). */
  keepToolUses?: number;
  /** Clear only when at least this many tokens go, so the cache write it causes is worth it. */
  clearAtLeastTokens?: number;
  /** Also clear the tool_use inputs: of every tool, or of these. */
  clearToolInputs?: boolean | string[];
  /** Tools whose uses are never cleared. */
  excludeTools?: string[];
}

/** What the client sends when the server will not compact: the newest tool results whole, older ones a placeholder. */
export interface ClientContextFallback {
  /** How many tool results (the newest) keep their content. */
  keepToolResults: number;
  /** Also replace the inputs of the cleared results' tool_use blocks with {}. */
  clearToolInputs?: boolean;
}

/** One context edit the server applied to a request (`context_management.applied_edits`). */
export interface AppliedContextEdit {
  type: string;
  clearedInputTokens: number;
  clearedToolUses?: number;
  clearedThinkingTurns?: number;
}

export interface CompactConversationInput {
  turn: number;
  model: string;
  /** Sent as the request's max_tokens (the API requires one; nothing is sampled after the block). */
  maxTokens: number;
  /** How many messages the model-facing history holds; the activity reads them from the workflow by query, as callModel does. */
  transcriptLength: number;
  /**
   * How many of those messages (from the first) to summarize. Default: all of them when the history ends with an
   * assistant message; otherwise up to the trailing turn, which stays whole (a tool_use message and its results, or
   * the reply before a new user message is summarized and the new message kept). The result says how many it was.
   */
  summarizeMessages?: number;
  /** Replace the server's summarization prompt for this request. */
  instructions?: string;
  cache?: { ttl: CacheTtl };
  prices?: Record<string, ModelPrice>;
  /** As callModel's: the retry policy's maximum interval, to cut a server's retry-after to. */
  maxRetryIntervalMs?: number;
  /** The conversation's anthropic-beta values (its server tools and tool examples are in the request too). */
  betas?: string[];
  /** The code-execution container an earlier reply named (the summarized messages hold its results). */
  container?: string;
}

interface CompactionCost {
  /** The compaction's usage (its `compaction` iterations; their tokens are not in the response's top-level usage). */
  usage: ModelReply['usage'];
  /** Its cost at the worker's prices (the conversation's own first); null when the model has no price. */
  costUsd: number | null;
  responseId: string;
  durationMs: number;
}

/**
 * `compacted`: replace messages [0, summarizedMessages) of the model-facing history with `replacement` (an assistant
 * message holding the compaction block, sent back verbatim and first); the next model call is a create.
 * `no_summary`: the server could not summarize (a block with null content); keep the history, use the fallback.
 * `refused`: the server answered 400 (e.g. a compaction_* code, no compaction for this model, or the conversation is
 * too long even to summarize); use the client-side fallback (CallModelInput.contextFallback).
 * Retryable failures (529 compaction_unavailable, 429, 5xx, a stalled stream) are thrown for Temporal to retry.
 */
export type CompactConversationResult =
  | ({ outcome: 'compacted'; replacement: BetaMessageParam; summary: string; summarizedMessages: number } & CompactionCost)
  | ({ outcome: 'no_summary'; summarizedMessages: number } & CompactionCost)
  | { outcome: 'refused'; refusal: { status: number; errorCode: string | null; message: string }; durationMs: number };

export interface ModelReply {
  id: string;
  model: string;
  content: BetaContentBlock[];
  stopReason: BetaStopReason | null;
  stopSequence: string | null;
  usage: Pick<BetaUsage, 'input_tokens' | 'output_tokens' | 'cache_read_input_tokens' | 'cache_creation_input_tokens'> & {
    /** The cache writes split by TTL, where the API reports it (absent in histories recorded before). */
    cache_creation?: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number } | null;
  };
}

export interface CallModelResult {
  reply: ModelReply;
  requestKind: ModelRequestKind;
  /** Present when the server stored the reply as a thread the next turn can continue. */
  thread?: Omit<ThreadHint, 'replyIndex'>;
  /** Threads are unsupported for this conversation (e.g. a zero-data-retention organisation): stop trying. */
  threadsUnsupported?: boolean;
  durationMs: number;
  /**
   * The reply's cost in US dollars at the worker's prices (the conversation's own first); null when the reply's model
   * has no price. Absent in histories recorded before costs existed.
   */
  costUsd?: number | null;
  /**
   * The least the next model call's budget estimate can be (what this call sent and got back, at the dearest input
   * rate, plus max_tokens of output): past the budget, the conversation stops before running the reply's tools.
   */
  nextCallFloorUsd?: number;
  /** The server's context edits on this request (clearToolUses), when it applied any. */
  contextEdits?: AppliedContextEdit[];
  /** The code-execution container the reply named (`container`), when it named one. */
  container?: { id: string; expiresAt?: string };
}

export interface EstimateModelCallInput {
  turn: number;
  model: string;
  maxTokens: number;
  toolChoice?: BetaToolChoice;
  /** How many transcript messages the call will send; read from the workflow by query, as callModel does. */
  transcriptLength: number;
  /** The TTL the call will ask for; absent, caching is off. */
  cacheTtl?: CacheTtl;
  prices?: Record<string, ModelPrice>;
  /** What the count needs of the conversation's settings: its thinking and its betas (effort and container count nothing). */
  thinking?: BetaThinkingConfigParam;
  betas?: string[];
}

export interface ModelCallEstimate {
  /** The API's token count of the whole request (system, tools, messages). */
  inputTokens: number;
  /** The most the call can cost: every input token at the dearest rate, plus max_tokens of output. */
  maxCostUsd: number;
}

/** What the model activity reads from the workflow for a request, by query, so it is never recorded twice. */
export interface ModelRequestContext {
  system?: string | Array<{ type: 'text'; text: string }>;
  /** Custom tools, Anthropic-defined client tools (`{type, name}`) and server tools, as the API takes them. */
  tools: BetaToolUnion[];
  messages: BetaMessageParam[];
  /** A paged read (the query was given a TranscriptPageRequest): which messages these are. */
  page?: TranscriptPage;
}

export interface DescribeRunInput {
  /** workflowInfo().originalExecutionRunId: kept across resets, unlike the run id. */
  originalRunId: string;
}

export interface DescribeRunResult {
  /** This run was made by a reset (its run id is not the original one). */
  resetRun: boolean;
}

/** The activities a conversation schedules, as the worker registers them. */
export interface AgentActivities {
  describeTools(input: DescribeToolsInput): Promise<DescribeToolsResult>;
  reviewToolCalls(input: ReviewToolCallsInput): Promise<ReviewToolCallsResult>;
  callModel(input: CallModelInput): Promise<CallModelResult>;
  /** Counts the next call's input tokens (the API's count_tokens) and prices its worst case, for a budget. */
  estimateModelCall(input: EstimateModelCallInput): Promise<ModelCallEstimate>;
  runTool(input: RunToolInput): Promise<RunToolResult>;
  /** Verifies a decision credential and applies the tool's approver rule, in the worker. */
  verifyDecision(input: VerifyDecisionInput): Promise<VerifyDecisionResult>;
  describeRun(input: DescribeRunInput): Promise<DescribeRunResult>;
  /** Summarizes the model-facing history into one compaction block (the API's explicit compaction request). */
  compactConversation(input: CompactConversationInput): Promise<CompactConversationResult>;
  /** Whether the worker's data converter offloads large payloads (external storage), for continue-as-new. */
  describePayloadStorage(input: DescribePayloadStorageInput): Promise<DescribePayloadStorageResult>;
  /** Stores a stretch of the transcript the model no longer sees in the worker's external storage (at a hand-over). */
  archiveTranscript(input: ArchiveTranscriptInput): Promise<TranscriptSegmentRef>;
}

/** The segment to store; it reaches the activity through the data converter (offloaded itself when large). */
export interface ArchiveTranscriptInput {
  segment: TranscriptSegment;
}

export type DescribePayloadStorageInput = Record<string, never>;

export interface DescribePayloadStorageResult {
  /** Payloads over this many bytes go to external storage (history holds a reference); null: none, all inline. */
  offloadsAbove: number | null;
}
