// What the bare workflow and its activities pass each other: the shapes a conversation's model call and tool run
// carry, with nothing of durable-claude's (no transcript, usage, records or approvals).

/** A tool call as the model's reply asks for it. */
export interface BareToolUse {
  id: string;
  name: string;
  input: unknown;
}

/** One model call: the first creates a message thread, each later one continues it with the round's results. */
export interface BareModelCall {
  prompt: string;
  /** The reply the thread continues from; absent, the call creates the thread. */
  previousMessageId?: string;
  toolResults?: Array<{ type: 'tool_result'; tool_use_id: string; content: string }>;
}

/** The reply, as a workflow needs it: its id (the next anchor), its content and why it stopped. */
export interface BareReply {
  id: string;
  stopReason: string | null;
  content: Array<{ type: string; id?: string; name?: string; input?: unknown; text?: string }>;
}

export interface BareToolResult {
  toolUseId: string;
  content: string;
}

export interface BareConversationInput {
  prompt: string;
  /** Model calls at most (the conversation's turns + 1): a script that never ends fails, never loops. */
  maxModelCalls: number;
}

export interface BareConversationResult {
  modelCalls: number;
  stopReason: string | null;
}

export interface BareActivities {
  callModel(call: BareModelCall): Promise<BareReply>;
  runTool(use: BareToolUse): Promise<BareToolResult>;
}
