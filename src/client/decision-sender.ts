// A decision's sender as Temporal recorded it, and how audit entries are matched to senders (kept apart from the
// history reading in decision-senders.ts, so formatting code can use it without the client's dependencies).
import type { ApprovalDecision } from '../workflows/types';

export interface DecisionSender {
  toolUseId: string;
  decision: 'approve' | 'reject';
  via: 'signal' | 'update';
  /** The identity Temporal recorded for the sender. */
  identity: string;
  /** When Temporal recorded it (ISO). */
  at: string;
  runId: string;
  eventId: string;
}

/** The identities behind one audit entry: the senders of its kind of decision on its call, up to when it was taken. */
export function sendersOf(decision: ApprovalDecision, senders: readonly DecisionSender[]): string[] {
  if (decision.via === 'timeout') return [];
  const kind = decision.decision === 'approved' ? 'approve' : 'reject';
  const taken = Date.parse(decision.decidedAt);
  const matching = senders.filter((s) => s.toolUseId === decision.toolUseId && s.decision === kind && s.via === decision.via && Date.parse(s.at) <= taken + 1000);
  return [...new Set(matching.map((s) => s.identity))];
}
