// Following a conversation's approvals as they appear: what backend code loops over to decide each call.
import { setTimeout as sleep } from 'node:timers/promises';
import type { PendingApproval } from '../workflows/types';
import { NoWorkerAnsweredError } from './errors';
import { isClosed } from './execution-status';
import type { ConversationHandle } from './handle';
import type { ApprovalsOptions } from './types';

/**
 * The body of `ConversationHandle.approvals()`. Polls the pendingApprovals query (bounded, so a stopped worker
 * means waiting for the next one, not a hang) and describe() (answered by the server alone) to see the run close.
 */
export async function* followApprovals(handle: ConversationHandle, options: ApprovalsOptions = {}): AsyncGenerator<PendingApproval, void, undefined> {
  const { pollIntervalMs = 250, queryTimeoutMs = 10_000 } = options;
  const yielded = new Set<string>();
  for (;;) {
    let pending: PendingApproval[] = [];
    try {
      pending = await handle.pending({ timeoutMs: queryTimeoutMs });
    } catch (err) {
      // With no worker the conversation cannot move on either; keep waiting for one. A closed run ends the loop below.
      if (!(err instanceof NoWorkerAnsweredError) && !isClosed((await handle.describe()).status.name)) throw err;
    }
    // Checked after the query, so calls a closed run still lists (it was cancelled or failed while they waited) are not yielded.
    if (isClosed((await handle.describe()).status.name)) return;
    for (const call of pending) {
      if (yielded.has(call.toolUseId)) continue;
      yielded.add(call.toolUseId);
      yield call;
    }
    await sleep(pollIntervalMs);
  }
}
