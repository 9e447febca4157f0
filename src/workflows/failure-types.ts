// The failure types a conversation raises, in a module with no imports: the workflow, the worker's tool activity
// and the client all name them from here.

/** Non-retryable failure types the workflow raises, so callers can tell them apart. */
export const FailureTypes = {
  invalidOptions: 'InvalidConversationOptions',
  unknownTools: 'UnknownTools',
  modelCallFailed: 'ModelCallFailed',
  toolFatal: 'ToolFatalError',
  approvalTimeout: 'ApprovalTimeout',
} as const;
