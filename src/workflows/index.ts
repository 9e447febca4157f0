// The workflow bundle's entry: every function exported here is a workflow type the worker registers.
export { agentConversation } from './conversation';
