// Live output: the typed events a running conversation emits, as a subscriber receives them. Types only (plus two
// tiny guards): workflow code imports this file with `import type`.
//
// Two sources write one log per conversation:
// - the model activity, while the API streams: an attempt starting or being reset, text and tool-input deltas,
//   blocks finishing, the message finishing;
// - the workflow, through a Temporal sink (never recorded in history, not called on replay): turns, tools,
//   approvals, chat messages and the end of the conversation.
// The event store assigns `offset`; everything else is set by the writer.

import type { ApprovalDecision, FinalStatus, UsageTotals } from '../workflows/types';

/** What every event carries. */
export interface EventBase {
  /** The conversation (workflow id). */
  conversationId: string;
  /** The run that wrote the event (a retry() reset starts a new run). */
  runId: string;
  /** The model turn the event belongs to, from 1; 0 before the first turn. */
  turn: number;
  /** Position in the conversation's log: strictly increasing, not dense (the store shares one sequence). */
  offset: number;
  /** When the writer produced it (ISO 8601; the workflow's deterministic clock for workflow events). */
  at: string;
}

/** Identifies one model-call attempt: the activity that calls the model, and Temporal's attempt number. */
export interface AttemptTag {
  /** The callModel activity's id within its run. A ladder rung (higher max_tokens) is a new call. */
  call: string;
  /** Temporal's attempt number of that activity, from 1. */
  attempt: number;
}

// ── Events from the model activity ──────────────────────────────────────────────────────────────────────────────

/** An attempt of a model call began streaming (or is about to send its request). */
export interface ModelCallStartedEvent extends EventBase, AttemptTag {
  type: 'model_call_started';
  model: string;
  maxTokens: number;
}

/**
 * Everything streamed by this attempt is void: drop its partial text and tool input. Sent when an attempt fails
 * mid-stream (by the attempt itself when it can, else by the next attempt when it starts) and when a call is
 * repeated within one attempt (a thread replay after the thread expired).
 */
export interface ModelCallResetEvent extends EventBase, AttemptTag {
  type: 'model_call_reset';
  reason: string;
}

export interface TextDeltaEvent extends EventBase, AttemptTag {
  type: 'text_delta';
  /** The content block's index in the reply. */
  index: number;
  text: string;
}

export interface ThinkingDeltaEvent extends EventBase, AttemptTag {
  type: 'thinking_delta';
  index: number;
  thinking: string;
}

export interface ToolUseStartedEvent extends EventBase, AttemptTag {
  type: 'tool_use_started';
  index: number;
  toolUseId: string;
  name: string;
}

/** A piece of a tool_use block's input JSON, as the API sent it: partial, unvalidated, possibly never completed. */
export interface ToolInputDeltaEvent extends EventBase, AttemptTag {
  type: 'tool_input_delta';
  index: number;
  toolUseId: string;
  partialJson: string;
}

export interface ContentBlockFinishedEvent extends EventBase, AttemptTag {
  type: 'content_block_finished';
  index: number;
  blockType: string;
}

/** The attempt's reply is complete. What the transcript records is decided by the workflow: see `turn_finished`. */
export interface MessageFinishedEvent extends EventBase, AttemptTag {
  type: 'message_finished';
  messageId: string;
  stopReason: string | null;
  usage: UsageTotals;
}

// ── Events from the workflow ────────────────────────────────────────────────────────────────────────────────────

export interface TurnStartedEvent extends EventBase {
  type: 'turn_started';
  model: string;
}

/** The workflow recorded the turn's reply in the transcript (a reply cut off and repeated is not recorded). */
export interface TurnFinishedEvent extends EventBase {
  type: 'turn_finished';
  stopReason: string | null;
  usage: UsageTotals;
  /** The text of the reply as recorded. */
  text: string;
}

export interface ToolStartedEvent extends EventBase {
  type: 'tool_started';
  toolUseId: string;
  name: string;
  input: unknown;
}

export interface ToolFinishedEvent extends EventBase {
  type: 'tool_finished';
  toolUseId: string;
  name: string;
  isError: boolean;
  /** How it ended: ok, error (is_error result), rejected, expired, invalid input, cancelled. */
  outcome: string;
  /** The start of the result's text (at most 200 characters), for a progress line; the transcript has all of it. */
  preview: string;
}

/** A running tool reported progress (ToolContext.progress; MCP progress notifications). From the tool activity. */
export interface ToolProgressEvent extends EventBase {
  type: 'tool_progress';
  toolUseId: string;
  name: string;
  /** Temporal's attempt number of the tool call: a retry starts its progress over. */
  attempt: number;
  progress: number;
  total?: number;
  message?: string;
}

export interface ApprovalRequestedEvent extends EventBase {
  type: 'approval_requested';
  toolUseId: string;
  name: string;
  input: unknown;
  expiresAt?: string;
}

export interface ApprovalDecidedEvent extends EventBase {
  type: 'approval_decided';
  toolUseId: string;
  name: string;
  decision: ApprovalDecision['decision'];
  by?: string;
  reason?: string;
  edited?: boolean;
  /** When the call started waiting (ISO 8601): with `at`, how long it waited. */
  requestedAt?: string;
}

export interface ChatMessageReceivedEvent extends EventBase {
  type: 'chat_message_received';
  /** The text of the user message(s) taken as this exchange's input. */
  text: string;
}

export interface ConversationFinishedEvent extends EventBase {
  type: 'conversation_finished';
  status: FinalStatus | 'failed' | 'cancelled';
  /** The final answer's text when it completed; the failure's message when it failed. */
  text?: string;
}

export type ModelStreamEvent =
  | ModelCallStartedEvent
  | ModelCallResetEvent
  | TextDeltaEvent
  | ThinkingDeltaEvent
  | ToolUseStartedEvent
  | ToolInputDeltaEvent
  | ContentBlockFinishedEvent
  | MessageFinishedEvent;

export type WorkflowEvent =
  | TurnStartedEvent
  | TurnFinishedEvent
  | ToolStartedEvent
  | ToolFinishedEvent
  | ApprovalRequestedEvent
  | ApprovalDecidedEvent
  | ChatMessageReceivedEvent
  | ConversationFinishedEvent;

/** Events from tool activities while they run. */
export type ToolActivityEvent = ToolProgressEvent;

export type ConversationEvent = ModelStreamEvent | WorkflowEvent | ToolActivityEvent;

export type ConversationEventType = ConversationEvent['type'];

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An event as its writer hands it to the store: the store assigns the offset. */
export type UnsequencedEvent = DistributiveOmit<ConversationEvent, 'offset'>;
export type UnsequencedWorkflowEvent = DistributiveOmit<WorkflowEvent, 'offset'>;

/** Workflow event payloads as workflow code emits them: the worker's sink adds conversationId and runId. */
export type WorkflowEventBody = DistributiveOmit<WorkflowEvent, 'offset' | 'conversationId' | 'runId'>;

export function isModelStreamEvent(event: ConversationEvent): event is ModelStreamEvent {
  return 'call' in event && 'attempt' in event;
}
