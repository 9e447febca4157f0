// Calls a worker must answer (queries, the decide Update), bounded so a missing worker is an error, not a wait.
import { ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError, isGrpcCancelledError, isGrpcDeadlineError, type Client } from '@temporalio/client';
import { NoWorkerAnsweredError } from './errors';

/**
 * Runs a call that a worker must answer, within `timeoutMs` when given. Past the deadline every failure is the
 * deadline in some form — grpc-js reports some as CANCELLED, the server as its own timeout, an Update as
 * WorkflowUpdateRPCTimeoutOrCancelledError — since nothing else cancels these calls.
 */
export async function boundedCall<T>(
  client: Client,
  conversationId: string,
  call: () => Promise<T>,
  timeoutMs: number | undefined,
  request: 'a query' | 'the decision',
): Promise<T> {
  if (timeoutMs === undefined) return call();
  const deadline = Date.now() + timeoutMs;
  try {
    return await client.withDeadline(deadline, call);
  } catch (err) {
    const timedOut =
      isGrpcDeadlineError(err) ||
      isGrpcCancelledError(err) ||
      err instanceof WorkflowUpdateRPCTimeoutOrCancelledError ||
      (err instanceof ServiceError && Date.now() >= deadline);
    if (timedOut) throw new NoWorkerAnsweredError(conversationId, timeoutMs, request, { cause: err });
    throw err;
  }
}
