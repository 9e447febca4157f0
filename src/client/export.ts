// A conversation's state, transcript and history in one piece: for `snapshot()`, `export()` and bug reports.
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { transcriptLines } from '../format';
import type { ConversationState, Transcript } from '../workflows/types';
import type { ConversationHandle } from './handle';
import { chainHistories } from './run-chain';
import type { QueryOptions } from './types';

export interface ConversationExport {
  conversationId: string;
  /** The latest run. */
  runId: string;
  status: string;
  exportedAt: string;
  /** Every run of the conversation, oldest first (continue-as-new starts the next; one entry for most conversations). */
  runIds: string[];
  transcript?: Transcript;
  /** The transcript as plain text, one line per block. */
  readable?: string[];
  /**
   * The latest run's history as `temporal workflow show --output json` prints it; `durable-claude replay --file`
   * reads it, and `previousHistories` before it.
   */
  history: unknown;
  /** The histories of the runs before the latest, oldest first (the same format); empty for a single run. */
  previousHistories: unknown[];
}

export interface ConversationSnapshot {
  state: ConversationState;
  transcript: Transcript;
}

/** A completed conversation's state and transcript, from its result; undefined otherwise (or when omitted). */
export async function completedSnapshot(handle: ConversationHandle, description: WorkflowExecutionDescription): Promise<ConversationSnapshot | undefined> {
  if (description.status.name !== 'COMPLETED') return undefined;
  const result = await handle.result();
  // With an archived start the result holds the rest: the archive makes it whole, no worker needed.
  const transcript = result.transcript ?? (result.transcriptTail ? await handle.withArchivedStart(result.transcriptTail) : undefined);
  // Omitted (too large for the result, or includeTranscriptInResult false): the caller reads it with the query.
  if (!transcript) return undefined;
  const { transcript: _transcript, transcriptTail: _tail, ...summary } = result;
  const state: ConversationState = {
    status: result.status,
    turn: result.turns,
    pendingApprovals: 0,
    usage: result.usage,
    heldDecisions: [],
    droppedDecisions: [],
    result: summary,
    ...(result.runs !== undefined ? { runs: result.runs } : {}),
  };
  return { state, transcript };
}

/** The body of `ConversationHandle.export()`. */
export async function exportConversation(handle: ConversationHandle, options: QueryOptions): Promise<ConversationExport> {
  const description = await handle.describe();
  const runs = await chainHistories(handle.workflow.client, handle.conversationId, description.runId);
  // A failed conversation whose worker is gone has no transcript to give; the histories still hold everything.
  const transcript = (await completedSnapshot(handle, description))?.transcript ?? (await handle.transcript(options).catch(() => undefined));
  const histories = runs.map(({ history }) => JSON.parse(historyToJSON(history)) as unknown);
  return {
    conversationId: handle.conversationId,
    runId: description.runId,
    status: description.status.name.toLowerCase(),
    exportedAt: new Date().toISOString(),
    runIds: runs.map(({ runId }) => runId),
    ...(transcript ? { transcript, readable: transcriptLines(transcript) } : {}),
    history: histories[histories.length - 1],
    previousHistories: histories.slice(0, -1),
  };
}
