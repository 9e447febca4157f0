// A conversation's state, transcript and history in one piece: for `snapshot()`, `export()` and bug reports.
import type { WorkflowExecutionDescription } from '@temporalio/client';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { decode, visit, walkGetWorkflowExecutionHistoryResponse } from '@temporalio/common/lib/internal-non-workflow';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { transcriptLines } from '../format';
import { encryptionKeyIdOf, isEncryptedPayload } from '../security/encryption';
import { MAX_TOKEN_LENGTH } from '../workflows/approvals';
import type { ConversationState, Transcript } from '../workflows/types';
import type { ConversationHandle } from './handle';
import { chainHistories } from './run-chain';
import type { QueryOptions } from './types';

type History = temporal.api.history.v1.IHistory;

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
   * reads it, and `previousHistories` before it. Its payloads are decoded with the client's payload codecs (an
   * encrypted conversation's export holds plaintext: treat the file as the conversation itself); payloads in
   * external storage stay references.
   */
  history: unknown;
  /** The histories of the runs before the latest, oldest first (the same format); empty for a single run. */
  previousHistories: unknown[];
  /**
   * The histories' payloads went through the client's payload codecs (e.g. decrypted): true when the client has
   * any. A file with it holds in plaintext what Temporal stores encrypted.
   */
  payloadsDecoded: boolean;
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

/** A copy of a history with `transform` applied to each of its payloads that codecs see (not search attributes, headers). */
async function mapHistoryPayloads(history: History, transform: (payloads: Payload[]) => Promise<Payload[]>): Promise<History> {
  const copy = temporal.api.history.v1.History.decode(temporal.api.history.v1.History.encode(history).finish());
  const response: temporal.api.workflowservice.v1.IGetWorkflowExecutionHistoryResponse = { history: copy };
  await visit(response, walkGetWorkflowExecutionHistoryResponse, {
    transformPayloads: transform,
    transformPayload: async (payload) => (await transform([payload]))[0]!,
    skipHeaders: true,
    skipSearchAttributes: true,
  });
  return response.history ?? copy;
}

/**
 * A copy of a history with every payload decoded by `codecs` (the SDK's decode: last to first), so a bug report
 * is readable without the keys. Search attributes and headers are never encoded, so they are left as they are;
 * references to external storage pass the codecs unchanged and stay references.
 */
export async function decodedHistory(history: History, codecs: readonly PayloadCodec[]): Promise<History> {
  const list = [...codecs];
  return mapHistoryPayloads(history, (payloads) => decode(list, payloads));
}

/** The ids of the keys a history's encrypted payloads name (EncryptionCodec); empty for a history not encrypted. */
export async function encryptionKeyIdsIn(history: History): Promise<Set<string>> {
  const ids = new Set<string>();
  await mapHistoryPayloads(history, async (payloads) => {
    for (const payload of payloads) if (isEncryptedPayload(payload)) ids.add(encryptionKeyIdOf(payload) ?? '(none)');
    return payloads;
  });
  return ids;
}

const REDACTED_TOKEN = '[redacted: a decision credential]';

/**
 * The history with the credential of every approve/reject signal and decide Update replaced: a bug report is read by
 * people who should not hold even a spent token. Only readable JSON payloads are touched; the copy is changed in place.
 */
export function withoutDecisionTokens(history: History): History {
  const { EventType } = temporal.api.enums.v1;
  for (const event of history.events ?? []) {
    let payload: temporal.api.common.v1.IPayload | undefined | null;
    if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) {
      const attrs = event.workflowExecutionSignaledEventAttributes;
      if (attrs?.signalName === 'approve' || attrs?.signalName === 'reject') payload = attrs.input?.payloads?.[0];
    } else if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) {
      const input = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
      if (input?.name === 'decide') payload = input.args?.payloads?.[0];
    }
    if (!payload?.data || Buffer.from(payload.metadata?.encoding ?? []).toString() !== 'json/plain') continue;
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(payload.data).toString('utf8'));
    } catch {
      continue;
    }
    // Only a token the workflow took to the worker: one refused for its shape stays, so replay takes the same path.
    const token = typeof value === 'object' && value !== null ? (value as { token?: unknown }).token : undefined;
    if (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN_LENGTH) continue;
    payload.data = Buffer.from(JSON.stringify({ ...(value as Record<string, unknown>), token: REDACTED_TOKEN }), 'utf8');
  }
  return history;
}

/** The body of `ConversationHandle.export()`. */
export async function exportConversation(handle: ConversationHandle, options: QueryOptions): Promise<ConversationExport> {
  const description = await handle.describe();
  const runs = await chainHistories(handle.workflow.client, handle.conversationId, description.runId);
  // A failed conversation whose worker is gone has no transcript to give; the histories still hold everything.
  const transcript = (await completedSnapshot(handle, description))?.transcript ?? (await handle.transcript(options).catch(() => undefined));
  // Decoded (decrypted) with the client's codecs: an export is for reading, by people who may not hold the keys.
  const { payloadCodecs } = handle.workflow.client.options.loadedDataConverter;
  const histories: unknown[] = [];
  for (const { history } of runs) histories.push(JSON.parse(historyToJSON(withoutDecisionTokens(await decodedHistory(history, payloadCodecs)))) as unknown);
  return {
    conversationId: handle.conversationId,
    runId: description.runId,
    status: description.status.name.toLowerCase(),
    exportedAt: new Date().toISOString(),
    runIds: runs.map(({ runId }) => runId),
    ...(transcript ? { transcript, readable: transcriptLines(transcript) } : {}),
    history: histories[histories.length - 1],
    previousHistories: histories.slice(0, -1),
    payloadsDecoded: payloadCodecs.length > 0,
  };
}
