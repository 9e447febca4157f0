// The client API: AgentClient, ConversationHandle, their option types and errors.
export { AgentClient } from './agent-client';
export { ConversationHandle } from './handle';
export {
  AgentClientError,
  ConversationAlreadyExistsError,
  ConversationCancelledError,
  ConversationFailedError,
  ConversationFinishedError,
  ConversationNotFoundError,
  DecisionRefusedError,
  InvalidConversationOptionsError,
  MessageRefusedError,
  NoWorkerAnsweredError,
} from './errors';
export { InvalidOffsetError, LiveOutputUnavailableError, type StreamOptions } from './live';
export { RetryWouldRerunToolsError, resetPointOf, type ResetPoint, type RetryConversationOptions, type RetryOutcome } from './retry';
export type { ConversationExport, ConversationSnapshot } from './export';
export type {
  AgentClientOptions,
  ApprovalsOptions,
  ConversationApprovals,
  ConversationSummary,
  DecisionOptions,
  ForkOptions,
  ListConversationsOptions,
  QueryOptions,
  StartConversationOptions,
  TranscriptPageOptions,
  TranscriptReadOptions,
} from './types';
