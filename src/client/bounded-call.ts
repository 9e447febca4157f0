// Calls a worker must answer (queries, the decide Update), bounded so a missing worker is an error, not a wait.
import { ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError, isGrpcCancelledError, isGrpcDeadlineError, isGrpcServiceError, type Client } from '@temporalio/client';
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

/** gRPC status codes (from the gRPC spec; @grpc/grpc-js is not a dependency of ours). */
const FAILED_PRECONDITION = 9;
const UNAVAILABLE = 14;

/** How long a query that the server answered "not yet" is asked again, when the caller set no timeout. */
const NOT_READY_RETRY_MS = 15_000;

/**
 * Whether the server said "not yet" to a query rather than "no": the run's first workflow task is not there yet, or
 * the server dropped a buffered query and asks for a retry. Temporal's WorkflowNotReady is FAILED_PRECONDITION;
 * "buffered query cleared" is UNAVAILABLE. A workflow task "in failed state" is WorkflowNotReady too, but it fails
 * until someone fixes the worker (a non-determinism error, say), so it is said at once, not waited out.
 */
export function isQueryNotReady(err: unknown): boolean {
  const cause = err instanceof ServiceError ? err.cause : err;
  if (!isGrpcServiceError(cause)) return false;
  if (cause.code === UNAVAILABLE) return true;
  return cause.code === FAILED_PRECONDITION && !/failed state/i.test(cause.details ?? cause.message);
}

/** A ServiceError ("Failed to query Workflow") with what the server said added to its message. */
function withServerReason(err: unknown): unknown {
  if (!(err instanceof ServiceError) || !isGrpcServiceError(err.cause)) return err;
  const reason = err.cause.details || err.cause.message;
  return reason && !err.message.includes(reason) ? new ServiceError(`${err.message}: ${reason}`, { cause: err.cause }) : err;
}

/**
 * A query, asked again (with a growing pause) while the server says the run is not ready, within `timeoutMs` or
 * 15 s. A failure says what the server said, which "Failed to query Workflow" alone does not.
 */
export async function readyQuery<T>(client: Client, conversationId: string, call: () => Promise<T>, timeoutMs: number | undefined): Promise<T> {
  const deadline = Date.now() + (timeoutMs ?? NOT_READY_RETRY_MS);
  for (let pauseMs = 50; ; pauseMs = Math.min(pauseMs * 2, 1_000)) {
    const left = timeoutMs === undefined ? undefined : Math.max(1, deadline - Date.now());
    try {
      return await boundedCall(client, conversationId, call, left, 'a query');
    } catch (err) {
      if (!isQueryNotReady(err) || Date.now() + pauseMs >= deadline) throw withServerReason(err);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
}
