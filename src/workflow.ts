// durable-claude/workflow, the workflow-safe entry: the conversation workflow, its signals, queries and updates, and
// pure types. Import it inside your own workflows (e.g. to run a conversation as a child workflow); it pulls in no
// Node built-ins, SDK clients or tool code.

/** The conversation workflow (its type name is WORKFLOW_TYPE); start it through AgentClient or as a child workflow. */
export { agentConversation } from './workflows/conversation';
/** The non-retryable failure types a conversation ends with, to tell its failures apart. */
export { FailureTypes } from './workflows/conversation';
/** Signal: approve a waiting tool call ({ toolUseId, by, reason?, input? }); stored even while no worker runs. */
export { approveSignal } from './workflows/definitions';
/** Signal: reject a waiting tool call; the reason goes back to the model as an is_error result. */
export { rejectSignal } from './workflows/definitions';
/** Signal: a user message for a chat conversation. */
export { userMessageSignal } from './workflows/definitions';
/** Signal: end a chat conversation ({ by?, reason? }). */
export { endConversationSignal } from './workflows/definitions';
/** Update: decide a waiting tool call and get the recorded decision back, or a refusal. */
export { decideUpdate } from './workflows/definitions';
/** Update: send a chat message and get the model's reply. */
export { sendMessageUpdate } from './workflows/definitions';
/** Update: the reply to a message whose sendMessage ended with continuedAsNew ({ ticket }), from the run after it. */
export { awaitReplyUpdate } from './workflows/definitions';
/** Query: the tool calls waiting for a person. */
export { pendingApprovalsQuery } from './workflows/definitions';
/** Query: the conversation's messages and turn records; with { fromMessage, maxBytes }, one page of them. */
export { transcriptQuery } from './workflows/definitions';
/** Query: status, turn, usage and what waits. */
export { stateQuery } from './workflows/definitions';
/** The options, results, statuses and records of a conversation, and DEFAULT_MODEL, DEFAULT_TASK_QUEUE, WORKFLOW_TYPE. */
export * from './workflows/types';
