// durable-claude, workflow-safe entry: the conversation workflow, its signals/queries/updates and pure types.
// Import from 'durable-claude/workflow' inside your own workflows (e.g. to run a conversation as a child workflow).
export { agentConversation, FailureTypes } from './workflows/conversation';
export * from './workflows/definitions';
export * from './workflows/types';
export { checkConversationOptions, type ResolvedOptions } from './workflows/options';
export { validateJsonSchema } from './workflows/json-schema';
