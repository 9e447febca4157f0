// Temporal's execution status, as the client reads it to tell whether a conversation can still change.
import type { WorkflowExecutionStatusName } from '@temporalio/client';

const CLOSED: ReadonlySet<WorkflowExecutionStatusName> = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'CONTINUED_AS_NEW', 'TIMED_OUT']);

/** Whether the run has closed: it takes no more decisions or messages (a paused run is still open). */
export function isClosed(status: WorkflowExecutionStatusName): boolean {
  return CLOSED.has(status);
}
