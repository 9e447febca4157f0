// A conversation's state, transcript and history in one piece: for `snapshot()`, `export()` and bug reports.
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { transcriptLines } from '../format';
import type { ConversationState, Transcript } from '../workflows/types';
import type { ConversationHandle } from './handle';
import type { QueryOptions } from './types';

export interface ConversationExport {
  conversationId: string;
  runId: string;
  status: string;
  exportedAt: string;
  transcript?: Transcript;
  /** The transcript as plain text, one line per block. */
  readable?: string[];
  /** The history as `temporal workflow show --output json` prints it; `durable-claude replay --file` reads it. */
  history: unknown;
}

export interface ConversationSnapshot {
  state: ConversationState;
  transcript: Transcript;
}

/** A completed conversation's state and transcript, from its result; undefined otherwise (or when omitted). */
export async function completedSnapshot(handle: ConversationHandle, description: WorkflowExecutionDescription): Promise<ConversationSnapshot | undefined> {
  if (description.status.name !== 'COMPLETED') return undefined;
  const result = await handle.result();
  if (!result.transcript) return undefined;
  const { transcript, ...summary } = result;
  const state = { status: result.status, turn: result.turns, pendingApprovals: 0, usage: result.usage, heldDecisions: [], droppedDecisions: [], result: summary };
  return { state, transcript };
}

/** The body of `ConversationHandle.export()`. */
export async function exportConversation(handle: ConversationHandle, options: QueryOptions): Promise<ConversationExport> {
  const description = await handle.describe();
  const history = await handle.fetchHistory();
  // A failed conversation whose worker is gone has no transcript to give; the history still holds everything.
  const transcript = (await completedSnapshot(handle, description))?.transcript ?? (await handle.transcript(options).catch(() => undefined));
  return {
    conversationId: handle.conversationId,
    runId: description.runId,
    status: description.status.name.toLowerCase(),
    exportedAt: new Date().toISOString(),
    ...(transcript ? { transcript, readable: transcriptLines(transcript) } : {}),
    history: JSON.parse(historyToJSON(history)) as unknown,
  };
}
