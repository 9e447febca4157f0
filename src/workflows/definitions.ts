// Signals, queries and updates of a conversation: one definition, used by the workflow and the client alike.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ModelRequestContext } from '../activities/types';
import type {
  ApprovalDecision,
  ApprovalProgress,
  AwaitReplyRequest,
  ConversationState,
  DecideRequest,
  DecisionRequest,
  EndConversationRequest,
  PendingApproval,
  RetryFailureRequest,
  Transcript,
  TranscriptPageRequest,
  UserMessageReply,
  UserMessageRequest,
} from './types';

/** Approve a pending tool call, optionally with edited input. Any Temporal tool can send it (CLI, Web UI). */
export const approveSignal = defineSignal<[DecisionRequest]>('approve');
/** Reject a pending tool call; the reason goes back to the model as an is_error tool_result. */
export const rejectSignal = defineSignal<[DecisionRequest]>('reject');
/** A user message for a chat; fire-and-forget (signal-with-start works too). */
export const userMessageSignal = defineSignal<[UserMessageRequest]>('userMessage');
/** End a chat after the current exchange. */
export const endConversationSignal = defineSignal<[EndConversationRequest?]>('endConversation');
/** Sent by `retry()` within Temporal's reset: repeat the step whose failure ended the run (see failure-retries.ts). */
export const retryFailureSignal = defineSignal<[RetryFailureRequest]>('retryFailure');

/** Approve or reject with an answer: refused when the id is unknown, already decided or expired, or the edit breaks the schema. */
export const decideUpdate = defineUpdate<ApprovalDecision | ApprovalProgress, [DecideRequest]>('decide');
/** Send a user message to a chat and wait for the model's answer. */
export const sendMessageUpdate = defineUpdate<UserMessageReply, [UserMessageRequest]>('sendMessage');
/** Wait for the answer to a message whose sendMessage Update ended with `continuedAsNew` (the run continued as new first). */
export const awaitReplyUpdate = defineUpdate<UserMessageReply, [AwaitReplyRequest]>('awaitReply');

export const pendingApprovalsQuery = defineQuery<PendingApproval[]>('pendingApprovals');
/** The transcript; with a page request, one page of it (read large transcripts in pages: a query answer has a size limit). */
export const transcriptQuery = defineQuery<Transcript, [TranscriptPageRequest?]>('transcript');
export const stateQuery = defineQuery<ConversationState>('state');
/** Read by the model activity: the full request context, so it is never recorded in history twice. */
export const modelRequestQuery = defineQuery<ModelRequestContext, [TranscriptPageRequest?]>('modelRequest');
