// Test support for users' own agents: a fake Messages API the real SDK talks to over HTTP.
export { FakeMessagesApi } from './fake-messages-api/server';
export { compaction, redactedThinking, reply, replyWith, serverToolUse, text, thinking, toolUse } from './fake-messages-api/builders';
export {
  DISABLED_NOT_SUPPORTED,
  ENABLED_NOT_SUPPORTED,
  FORCED_TOOL_CHOICE_WITH_THINKING,
  TEMPERATURE_WITH_THINKING,
  missingThinkingMessage,
} from './fake-messages-api/thinking';
export { ADVANCED_TOOL_USE_BETA, CODE_EXECUTION_BETA, WEB_FETCH_BETA, containerRequiredMessage } from './fake-messages-api/server-tools';
export { CHARS_PER_OUTPUT_TOKEN, FINE_GRAINED_TOOL_STREAMING_BETA } from './fake-messages-api/reply-plan';
export { MESSAGE_THREADS_BETA } from './fake-messages-api/threads';
export { CLEARED_TOOL_RESULT_TEXT, COMPACTION_BETA, COMPACT_EDIT_BETA, CONTEXT_MANAGEMENT_BETA } from './fake-messages-api/compaction';
export { requestRuleViolation } from './fake-messages-api/validation';
export type * from './fake-messages-api/types';
