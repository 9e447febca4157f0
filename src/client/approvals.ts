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
 * An unknown conversation id is a ConversationNotFoundError, as from every other call.
 */
export async function* followApprovals(handle: ConversationHandle, options: ApprovalsOptions = {}): AsyncGenerator<PendingApproval, void, undefined> {
  const { pollIntervalMs = 250, queryTimeoutMs = 10_000 } = options;
  const yielded = new Set<string>();
  const closed = async () => isClosed((await handle.describe()).status.name);
  for (;;) {
    if (await closed()) return;
    let pending: PendingApproval[] = [];
    try {
      pending = await handle.pending({ timeoutMs: queryTimeoutMs });
    } catch (err) {
      // With no worker the conversation cannot move on either: keep waiting for one.
      if (!(err instanceof NoWorkerAnsweredError)) {
        if (await closed()) return;
        throw err;
      }
    }
    for (const call of pending) {
      if (yielded.has(call.toolUseId)) continue;
      // A run that closed meanwhile (cancelled, failed) still lists calls that take no decision any more.
      if (await closed()) return;
      yielded.add(call.toolUseId);
      yield call;
    }
    await sleep(pollIntervalMs);
  }
}
