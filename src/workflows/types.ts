// Public types of a conversation: what a caller starts it with, what it returns, and what it records.
// Types only, safe for workflow code and for the client alike.
import type {
  BetaContentBlockParam,
  BetaMessageParam,
  BetaStopReason,
  BetaTextBlockParam,
  BetaToolChoice,
} from '@anthropic-ai/sdk/resources/beta/messages/messages';
import type { ClearToolUsesOptions, ClientContextFallback, ModelRequestKind, RunToolResult, ThreadHint, ToolDescription } from '../activities/types';
import type { ModelPrice } from '../pricing/cost';

export type MessageParam = BetaMessageParam;
export type ContentBlockParam = BetaContentBlockParam;

/** A current model, never a deprecated one. */
export const DEFAULT_MODEL = 'claude-sonnet-5-5';
export const DEFAULT_TASK_QUEUE = 'durable-claude';
export const WORKFLOW_TYPE = 'agentConversation';

/** tool_choice as the Messages API takes it, or its type as a shorthand. */
export type ToolChoiceSetting = BetaToolChoice | 'auto' | 'any' | 'none';

export interface ToolChoiceScheduleEntry {
  /** A turn number (1-based), or 'last' for the last turn the iteration limit allows. */
  turn: number | 'last';
  toolChoice: ToolChoiceSetting;
}

/** How hard the model thinks (the API's `output_config.effort`); the API's default is 'high'. */
export type ThinkingEffort = 'low' | 'medium' | 'high' | 'xhigh' | 'max';

/**
 * Extended thinking, as the current API offers it:
 * - `adaptive`: the model decides when and how much to think (the default of the 5.5 models, which reject a budget);
 * - `between_tools`: no up-front thinking, only short progress notes between tool calls (the 5.5 models' lowest);
 * - `enabled`: a fixed budget of thinking tokens (models before adaptive thinking; the 5.5 models refuse it);
 * - `disabled`: no thinking, for models that allow it (the 5.5 models refuse it: use `between_tools`).
 * `display: 'summarized'` returns the thinking text; 'omitted' returns only its signature (the 5.5 models' default).
 * A string is the type with the API's defaults. With thinking on, tool_choice may only be 'auto' or 'none'.
 */
export type ThinkingSetting =
  | 'adaptive'
  | 'between_tools'
  | 'disabled'
  | { type: 'adaptive'; effort?: ThinkingEffort; display?: 'summarized' | 'omitted' }
  | { type: 'between_tools'; effort?: 'low' | 'medium' | 'high' }
  | { type: 'enabled'; budgetTokens: number; display?: 'summarized' | 'omitted' }
  | { type: 'disabled' };

/**
 * A server tool (it runs on Anthropic's side: web search, web fetch, code execution, tool search): its versioned
 * type as the API names it ('web_search_20250305'), a family name for the version the tool-use guide documents
 * ('web_search', 'web_fetch', 'code_execution'), or the API's tool object, passed through untouched
 * (`{ type: 'web_search_20250305', name: 'web_search', max_uses: 5 }`). Server tools never wait for approval.
 */
export type ServerToolSetting = string | ({ type: string; name?: string } & Record<string, unknown>);

export interface ConversationLimits {
  /** Model calls per user message before the conversation ends with status max_iterations. Default 25. */
  maxIterations?: number;
  /** Tool calls run per turn; calls past the cap get an is_error result that explains it. Default 8. */
  maxToolCallsPerTurn?: number;
  /** Input plus output tokens over the whole conversation; crossing it ends the conversation. */
  tokenBudget?: number;
  /**
   * A spending cap in US dollars at the worker's prices. Before each model call its worst case (the API's token count
   * of the request at the dearest input rate, plus max_tokens of output) is checked against what is left; a call that
   * could exceed it is not made and the conversation ends with status budget_exceeded. A fork has its own budget.
   */
  budget?: { usd: number };
}

export interface ApprovalOptions {
  /** How long a gated call waits for a person, e.g. '24h' or 86400000 ms. Default: forever. A tool's own timeout wins. */
  timeout?: string | number;
  /** What an expired call does: 'reject' answers the model with an explanation (default), 'fail' fails the conversation. */
  onTimeout?: 'reject' | 'fail';
  /**
   * A decision signalled for a tool call not seen yet is held this long (a signal can overtake the reply it refers
   * to), then dropped; held and dropped decisions show in the state query. Default '10m'.
   */
  holdUnknownDecisions?: string | number;
  /**
   * Who asked for this conversation (a user id or email, as approvers' tokens name people): under an approver policy
   * this person may not approve the conversation's own tool calls.
   */
  requestedBy?: string;
}

export interface ChatOptions {
  /** End the conversation when no user message arrives for this long, e.g. '30m'. Default '1h'. */
  idleTimeout?: string | number;
}

export interface RetryOptions {
  maximumAttempts?: number;
  initialInterval?: string | number;
  maximumInterval?: string | number;
}

/** The workflow's input. Everything is plain data: the worker holds the API key and the tool code. */
export interface ConversationOptions {
  model?: string;
  system?: string | BetaTextBlockParam[];
  /** The first user message. Give `prompt` or `messages`; a chat may start with neither and wait for one. */
  prompt?: string;
  messages?: MessageParam[];
  /** Names of tools registered in the worker. */
  tools?: string[];
  toolChoice?: ToolChoiceSetting;
  toolChoiceSchedule?: ToolChoiceScheduleEntry[];
  maxTokens?: number;
  /** Higher max_tokens values to repeat a call with when a tool_use was cut off. Default [2×, 4×] of maxTokens. */
  maxTokensLadder?: number[];
  temperature?: number;
  stopSequences?: string[];
  limits?: ConversationLimits;
  /** Message threads (default on): send only new messages each turn. Off for zero-data-retention organisations. */
  threads?: boolean;
  approvals?: ApprovalOptions;
  /** Keep the conversation open for more user messages after each answer. */
  chat?: boolean | ChatOptions;
  /** Retry policy of the model call activity. */
  modelRetry?: RetryOptions;
  /** Start-to-close timeout of one model call. Default: 10m, grown with max_tokens (60s + 20ms per token) for long answers. */
  modelTimeout?: string | number;
  /** A model call whose worker stops heartbeating for this long is retried elsewhere (a crashed worker). Default '30s'. */
  modelHeartbeatTimeout?: string | number;
  /** Keep AgentStatus / AgentPendingApprovals search attributes up to date (needs them registered; the client checks). */
  searchAttributes?: boolean;
  /** Put the transcript into the workflow's result (default true); without it, read it with the transcript query. */
  includeTranscriptInResult?: boolean;
  /**
   * Prompt caching (the API's automatic top-level cache_control) on every model call: '5m' (default), '1h' for
   * conversations whose turns are further apart (approval waits), or 'off'.
   */
  cache?: '5m' | '1h' | 'off';
  /** Prices (US dollars per million tokens) for models, ahead of the worker's table: for private or new prices. */
  prices?: Record<string, ModelPrice>;
  /** Keep the AgentCostUsd search attribute up to date (needs it registered: the client checks and sets this). Default false. */
  costSearchAttribute?: boolean;
  /**
   * Continue-as-new: when Temporal suggests it (its history limits come near) or past these thresholds, the
   * conversation carries its state into a new run of the same workflow id, at a point where no tool runs. Default
   * on, with no thresholds of its own; `false` turns it off (the run then ends at Temporal's history limit).
   */
  continueAsNew?: false | ContinueAsNewOptions;
  /** Set by the workflow itself when it continues as new: the state carried into the next run. Never set it. */
  continuation?: Continuation;
  /**
   * Context management (default on): before the prompt outgrows the model's window the conversation asks the API
   * to compact what came before (one summary block replaces it for the model; the transcript keeps everything), and
   * a prompt the API refuses as too long is compacted and sent again. `false` turns it off.
   */
  compaction?: false | CompactionOptions;
  /** Extended thinking (see ThinkingSetting). Absent: the model's default (the 5.5 models think adaptively). */
  thinking?: ThinkingSetting;
  /** Server tools the model may use on Anthropic's side; their blocks are kept in the transcript as they came. */
  serverTools?: ServerToolSetting[];
  /** Extra `anthropic-beta` values for every model call (e.g. 'interleaved-thinking-2025-05-14' for older models). */
  betas?: string[];
  /** A code-execution container to start in (a fork starts in its source's, whose results its messages hold). */
  container?: string;
}

export interface CompactionOptions {
  /** Compact once a model call's prompt reaches this many input tokens, cache reads and writes counting. Default 150,000. */
  atInputTokens?: number;
  /** Replace the server's summarization prompt. */
  instructions?: string;
  /** When the server will not compact: how many of the newest tool results keep their content (older ones are cleared). Default 2. */
  keepToolResults?: number;
  /** Also let the server clear old tool uses (context editing) on requests without a message thread. */
  clearToolUses?: ClearToolUsesOptions;
}

/** A compaction of the model-facing history, for the transcript. */
export interface CompactionRecord {
  /** The turn whose model call it preceded. */
  turn: number;
  at: string;
  reason: 'threshold' | 'context_window';
  outcome: 'compacted' | 'no_summary' | 'refused' | 'failed';
  /** Messages of the model-facing history it summarized (compacted) or tried to. */
  summarizedMessages?: number;
  /** Index in the transcript of the first message the model still sees whole after it. */
  keptFromMessage?: number;
  usage?: UsageTotals;
  detail?: string;
}

export interface ContinueAsNewOptions {
  /** Continue as new once the run's history has this many events. */
  afterEvents?: number;
  /** …or is this many bytes. */
  afterHistoryBytes?: number;
}

/** A tool round that was waiting only for people when the run continued as new. */
export interface CarriedToolRound {
  turn: number;
  iteration: number;
  /** Every tool_use of the reply, in block order. */
  calls: Array<{ toolUseId: string; toolName: string; input: unknown }>;
  /** Calls already answered, with their results. */
  settled: Array<{ call: { toolUseId: string; toolName: string; input: unknown }; block: unknown; record: ToolCallRecord }>;
  /** The ids of the gated calls still to run (pending approval, or decided while the run ended). */
  gated: string[];
}

/** A decision held for a call not seen yet (signal or Update), as carried to the next run. */
export interface CarriedHeldDecision {
  request: DecisionRequest;
  approve: boolean;
  via: DecisionChannel;
  receivedAt: number;
}

/** The state one run hands the next (continue-as-new). Built by the workflow, read back only by the workflow. */
export interface Continuation {
  /** This run's place in the chain: 2 for the run after the first continue-as-new. */
  run: number;
  /**
   * Messages and turn records before these indexes went to external storage at a hand-over (the model no longer sees
   * them: a compaction summarized them); `messages` and `turns` below are the rest. Absent: nothing archived.
   */
  archive?: TranscriptArchive;
  /** With an archive: the last assistant text, for answers when the carried messages hold no reply. */
  lastAssistantText?: string;
  /** Where the conversation was: between exchanges of a chat, or inside an exchange. */
  phase: 'awaiting_user' | 'exchange';
  /** Exchange phase: the iteration the exchange resumes at, and the unfinished tool round, if any. */
  iteration?: number;
  round?: CarriedToolRound;
  /** Chat: epoch ms at which the idle timeout ends (the timer's remaining time carries over). */
  idleDeadline?: number;
  messages: MessageParam[];
  turns: TurnRecord[];
  usage: UsageTotals;
  lastStopReason: BetaStopReason | null;
  /** How the last exchange ended (a chat that then ends idle or by request ends with it). */
  lastOutcome?: { status: FinalStatus; toolOutput?: ToolOutput; budgetStop?: BudgetStop };
  /** The tool catalog recorded at the first run's start: later runs never list tools again. */
  tools: ToolDescription[];
  /** The worker's model-call task queue recorded at the first run's start (absent: the conversation's own queue). */
  modelTaskQueue?: string;
  /** The code-execution container the last reply named: every later request sends it back. */
  container?: ContainerRef;
  /** The state each session tool (e.g. bash) left after its last call, by tool name. */
  toolSessions?: Record<string, unknown>;
  thread: ThreadHint | null;
  threadsEnabled: boolean;
  approvals: {
    audit: ApprovalDecision[];
    pending: PendingApproval[];
    held: CarriedHeldDecision[];
    dropped: DroppedDecision[];
    refused?: RefusedDecision[];
    /** Credentials already used, with when each expires (ms): a used one stays refused for as long as it is valid. */
    usedTokens?: Array<[string, number]>;
    /** Verified approvals of calls that need more than one, by toolUseId. */
    partial?: Array<[string, { inputSha256: string; approvers: RecordedApprover[] }]>;
  };
  retries: { requested: RetryFailureRequest[]; taken: RetryRecord[] };
  context?: {
    replacement: MessageParam | null;
    from: number;
    fallback?: ClientContextFallback;
    records: CompactionRecord[];
    due: boolean;
    failedAtPrompt?: number;
  };
  inbox: {
    queued: Array<{ content: UserMessageRequest['content']; ticket?: number }>;
    nextTicket: number;
    /** Tickets of the sendMessage Updates waiting on the exchange in flight. */
    exchangeTickets: number[];
    /** Answers not yet collected with awaitReply (tickets whose Update ended with continuedAsNew). */
    answers: Array<{ ticket: number; reply: UserMessageReply }>;
    endRequest?: EndConversationRequest;
  };
}

export type ConversationStatus =
  | 'running'
  | 'awaiting_approval'
  | 'awaiting_user'
  | 'completed'
  | 'truncated'
  | 'refused'
  | 'context_window_exceeded'
  | 'max_iterations'
  | 'token_budget_exceeded'
  | 'budget_exceeded'
  | 'failed'
  | 'cancelled';

export type FinalStatus = Exclude<ConversationStatus, 'running' | 'awaiting_approval' | 'awaiting_user' | 'failed' | 'cancelled'>;

export interface UsageTotals {
  /** Input tokens neither read from nor written to the cache (the API's input_tokens). */
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheCreationInputTokens: number;
  /** Of cacheCreationInputTokens, those written with the 1-hour TTL (billed at 2× input, not 1.25×). */
  cacheCreation1hInputTokens: number;
  /** US dollars at the worker's prices; null when some call's model has no price (unknown, never zero). */
  costUsd: number | null;
}

/** Why a conversation stopped at its budget: what was spent, and what the call it did not make could have cost. */
export interface BudgetStop {
  budgetUsd: number;
  spentUsd: number;
  /** The worst case of the model call not made (absent when what was spent already reached the budget). */
  nextCallMaxUsd?: number;
  /** The call's input tokens as the API counted them. */
  nextCallInputTokens?: number;
  /** A sentence for people. */
  message: string;
}

export interface PendingApproval {
  toolUseId: string;
  toolName: string;
  input: unknown;
  turn: number;
  requestedAt: string;
  /** null: waits until someone decides. */
  expiresAt: string | null;
  /** The tool's approver policy, when it has one: decisions need signed credentials. */
  policy?: ApprovalPolicySummary;
  /** Verified approvals so far, when the policy needs more than one. */
  approvals?: RecordedApprover[];
}

export type DecisionChannel = 'signal' | 'update' | 'timeout';

/** A person whose signed credential the worker verified for a decision: what the audit keeps instead of the token. */
export interface RecordedApprover {
  subject: string;
  issuer: string;
  email?: string;
  /** The claims the tool's policy matched (e.g. `role:finance`); empty without a policy. */
  matched: string[];
  /** The credential's id (its jti, or a digest of it): each is used once. */
  tokenId: string;
  method: 'hmac' | 'jwks';
  keyId?: string;
  /** When the workflow took the verified credential. */
  verifiedAt: string;
}

/** The approver policy of a tool, as the workflow sees it (the rule itself stays in the worker). */
export interface ApprovalPolicySummary {
  /** What the rule asks, for people: "roles finance; 2 distinct approvers". */
  description: string;
  requiredApprovals: number;
}

/** A decision refused under a policy or for its credential: nothing ran, and this is the record of the attempt. */
export interface RefusedDecision {
  toolUseId: string;
  decision: 'approve' | 'reject';
  via: Exclude<DecisionChannel, 'timeout'>;
  refusedAt: string;
  reason: string;
  /** The `by` the sender claimed, when it gave one (unverified). */
  claimedBy?: string;
  /** The verified subject, when the credential verified but the decision was still refused. */
  subject?: string;
}

/** The decide Update's answer when a call needs more approvals than this one: it still waits. */
export interface ApprovalProgress {
  toolUseId: string;
  toolName: string;
  decision: 'approval_recorded';
  approvers: RecordedApprover[];
  requiredApprovals: number;
}

export interface ApprovalDecision {
  toolUseId: string;
  toolName: string;
  turn: number;
  decision: 'approved' | 'rejected' | 'expired';
  by: string;
  reason?: string;
  requestedAt: string;
  decidedAt: string;
  via: DecisionChannel;
  requestedInput: unknown;
  /** The input that ran (after an edit), when approved. */
  approvedInput?: unknown;
  edited: boolean;
  /** Verified decisions (a token, or a tool with approvers): the people, in the order their approvals came. */
  approvers?: RecordedApprover[];
}

export type ToolCallOutcome =
  | 'ok'
  | 'error'
  | 'invalid_input'
  | 'unknown_tool'
  | 'over_limit'
  | 'over_budget'
  | 'rejected'
  | 'expired'
  | 'timeout';

export interface ToolCallRecord {
  toolUseId: string;
  toolName: string;
  outcome: ToolCallOutcome;
  gated: boolean;
  /** Worker clock, for seeing which calls overlapped. */
  startedAt?: number;
  endedAt?: number;
  truncatedFromBytes?: number;
}

/** A code-execution container on Anthropic's side, as a reply named it. */
export interface ContainerRef {
  id: string;
  /** When the API said it expires (ISO 8601). */
  expiresAt?: string;
}

/** A server tool call of a model turn (it ran on Anthropic's side, within the model call). */
export interface ServerToolCallRecord {
  /** The server_tool_use block's id. */
  id: string;
  name: string;
  /** The result block's type (e.g. web_search_tool_result), absent when the turn paused before it. */
  resultType?: string;
  /** The result's error code, when the tool failed on Anthropic's side. */
  errorCode?: string;
}

/** Metadata of one model turn; transcript.messages holds the content. */
export interface TurnRecord {
  turn: number;
  /** Index in transcript.messages of the assistant message this turn's reply went into. */
  messageIndex: number;
  model: string;
  stopReason: BetaStopReason | null;
  requestKind: ModelRequestKind;
  /** max_tokens values tried when a tool_use was cut off and the call repeated. */
  maxTokensTried: number[];
  usage: UsageTotals;
  durationMs: number;
  toolCalls: ToolCallRecord[];
  /** Server tools the model ran on Anthropic's side in this turn, in block order. */
  serverToolCalls?: ServerToolCallRecord[];
  /** How many thinking and redacted_thinking blocks the reply held (their tokens are billed as output tokens). */
  thinkingBlocks?: number;
  /** The container the reply named (code execution). */
  container?: string;
}

export interface Transcript {
  messages: MessageParam[];
  /** A paged read (the query was given a TranscriptPageRequest): which messages these are. */
  page?: TranscriptPage;
  turns: TurnRecord[];
  /** Audit trail: who decided each gated call, when, why, and what ran. */
  approvals: ApprovalDecision[];
  /** Decisions refused for their credential or the tool's approver policy (the most recent 100): the attempts' record. */
  refusedDecisions?: RefusedDecision[];
  /** Failures of earlier runs that `retry()` repeated in this one. */
  retries?: RetryRecord[];
  /** Compactions of what the model sees (the messages here stay whole). */
  compactions?: CompactionRecord[];
}

/** The step whose failure ended a run; a retry names it so the new run repeats exactly that step. */
export type FailureTarget =
  | { kind: 'model_call'; turn: number }
  | { kind: 'tool'; toolUseId: string }
  | { kind: 'approval'; toolUseId: string };

export interface RetryFailureRequest {
  failure: FailureTarget;
  by?: string;
  reason?: string;
}

export interface RetryRecord extends RetryFailureRequest {
  at: string;
}

/** The structured output of a conversation that forced a tool (seed 004's pattern): the call that ended it. */
export interface ToolOutput {
  toolUseId: string;
  toolName: string;
  input: unknown;
  content: RunToolResult['content'];
}

export interface ConversationResult {
  status: FinalStatus;
  /** The text of the last assistant message. */
  text: string;
  stopReason: BetaStopReason | null;
  turns: number;
  usage: UsageTotals;
  transcript?: Transcript;
  /** The transcript was too large for the result (or includeTranscriptInResult was false): read it with the transcript query. */
  transcriptOmitted?: boolean;
  /**
   * With an archived start (transcriptOmitted): the part the workflow held, `page.archived` saying where the rest
   * is. show and export put the whole transcript together from it and the archive, no worker needed.
   */
  transcriptTail?: Transcript;
  /** Why a chat ended: the user ended it, or it sat idle. */
  endedBy?: 'user' | 'idle_timeout';
  /** Who ended the chat and why, as the endConversation signal said. */
  endRequest?: EndConversationRequest;
  /** With a forced tool_choice: the tool call that ended the exchange, its input being the structured result. */
  toolOutput?: ToolOutput;
  /** Status budget_exceeded: why. */
  budgetStop?: BudgetStop;
  /** How many runs the conversation took (continue-as-new starts the next one). */
  runs?: number;
}

export interface EndConversationRequest {
  by?: string;
  reason?: string;
}

/** A decision that arrived before its tool call was known, held until the call appears or the hold expires. */
export interface HeldDecision {
  toolUseId: string;
  decision: 'approve' | 'reject';
  by: string;
  receivedAt: string;
  expiresAt: string;
}

/** A decision that was not used, and why (its call never waited for approval, the hold expired, too many held). */
export interface DroppedDecision {
  toolUseId: string;
  by: string;
  droppedAt: string;
  reason: string;
}

export interface ConversationState {
  status: ConversationStatus;
  turn: number;
  pendingApprovals: number;
  usage: UsageTotals;
  /** The conversation's spending cap (limits.budget.usd), when it has one. */
  budgetUsd?: number;
  /** Decisions for tool calls not seen yet (a signal can overtake the reply it refers to). */
  heldDecisions: HeldDecision[];
  /** Decisions that were not used, and why. */
  droppedDecisions: DroppedDecision[];
  /** Decisions refused for their credential or the tool's approver policy (the most recent 100). */
  refusedDecisions?: RefusedDecision[];
  /** Set once the conversation has a final status. */
  result?: Omit<ConversationResult, 'transcript'>;
  /** How many runs the conversation has had so far, this one included (continue-as-new starts the next). */
  runs?: number;
}

/** Which part of a transcript to read: the queries answer in pages so no read meets a message-size limit. */
export interface TranscriptPageRequest {
  /** Index of the first message to return. Default 0. */
  fromMessage?: number;
  /** At most this many UTF-8 bytes of messages (at least one message is always returned). */
  maxBytes?: number;
  /**
   * Turn records from this index, as many as fit maxBytes (at least one): the first page (fromMessage 0) carries
   * them from 0, a page asked with fromTurn carries them from there.
   */
  fromTurn?: number;
  /** Approval decisions (the audit) from this index, as many as fit maxBytes: the first page carries them from 0. */
  fromApproval?: number;
}

export interface TranscriptPage {
  fromMessage: number;
  /** Where the next page starts, or null when this page ends the transcript. */
  nextMessage: number | null;
  totalMessages: number;
  /** Where the turn records go on (ask again with fromTurn), or null when this page's turns end them. */
  nextTurn?: number | null;
  /** Where the approval audit goes on (ask again with fromApproval), or null when this page's decisions end it. */
  nextApproval?: number | null;
  /**
   * The workflow no longer holds the transcript's start: messages and turns before these indexes are in external
   * storage. A page asked from inside that range comes back empty up to it; ConversationHandle.transcriptPage()
   * reads the range from the archive (the client needs the worker's externalStorage).
   */
  archived?: TranscriptArchive;
}

/** Where a conversation's archived transcript start is: the newest segment, which links to the one before it. */
export interface TranscriptArchive {
  /** Messages before this index are archived. */
  messages: number;
  /** Turn records before this index (0-based: turn number − 1) are archived. */
  turns: number;
  last: TranscriptSegmentRef;
}

/** A stored segment of the transcript: what the storage driver needs to read it back, and what it covers. */
export interface TranscriptSegmentRef {
  /** The storage driver's name (ExternalStorage.getDriver) and its claim. */
  driver: string;
  claim: Record<string, string>;
  fromMessage: number;
  toMessage: number;
  fromTurn: number;
  toTurn: number;
}

/** One archived stretch of the transcript, as stored: messages [fromMessage, …) and turns [fromTurn, …). */
export interface TranscriptSegment {
  conversationId: string;
  fromMessage: number;
  messages: MessageParam[];
  fromTurn: number;
  turns: TurnRecord[];
  /** The segment before this one, or null for the first. */
  previous: TranscriptSegmentRef | null;
}

export interface DecisionRequest {
  toolUseId: string;
  /**
   * Who decided: a user id, an email, a service name, for the audit trail. Required without a token; with one, the
   * token's verified subject is who decided (a `by` that differs is ignored).
   */
  by?: string;
  reason?: string;
  /** Approve with edit: the input the tool should run with instead. Checked against the tool's schema. */
  input?: unknown;
  /**
   * A signed decision credential (a JWT: HS256 with the worker's shared key, or verified against a JWKS), bound to
   * this conversation, call, decision and input. Required for tools with `approvers`; the worker verifies it and the
   * workflow keeps only what was verified, never the token.
   */
  token?: string;
}

export interface DecideRequest extends DecisionRequest {
  decision: 'approve' | 'reject';
}

export interface UserMessageRequest {
  content: string | ContentBlockParam[];
}

export interface UserMessageReply {
  status: ConversationStatus | FinalStatus;
  text: string;
  turns: number;
  /**
   * The run continued as new before the answer: it comes from the next run, through the awaitReply Update with
   * this ticket. The client's sendMessage() does that for you.
   */
  continuedAsNew?: { ticket: number };
}

export interface AwaitReplyRequest {
  ticket: number;
}

export type { RunToolResult };
