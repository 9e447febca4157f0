// Retrying the failure that ended a run. `retry()` on the client resets the run to the workflow task that handled
// the failure and, in the same reset, sends `retryFailure` naming it; the workflow then repeats just that step
// (the model call, the fatal tool, the approval wait) instead of failing again. Nothing recorded before it re-runs.
import { ApplicationFailure, condition, log, patched, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { AgentActivities } from '../activities/types';
import { isRecord } from './json';
import type { Continuation, FailureTarget, RetryFailureRequest } from './types';

import { failureTargetProblem } from './failure-types';

export { FailureTypes } from './failure-types';

/**
 * How long a reset run that reaches a failure waits for `retryFailure` before failing as before. The client sends it
 * right after the reset (the server takes no signal within a reset), so this only needs to cover a slow client.
 */
export const RETRY_SIGNAL_GRACE_MS = 10_000;

/** Histories recorded before it failed at once, in a reset run too. */
const RESET_RUN_WAITS_PATCH = 'reset-run-waits-for-retry-signal';

const { describeRun } = proxyLocalActivities<Pick<AgentActivities, 'describeRun'>>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 3, initialInterval: '200ms' },
});

function sameTarget(a: FailureTarget, b: FailureTarget): boolean {
  if (a.kind === 'model_call' && b.kind === 'model_call') return a.turn === b.turn;
  if (a.kind !== 'model_call' && b.kind !== 'model_call') return a.kind === b.kind && a.toolUseId === b.toolUseId;
  return false;
}

/** What is wrong with a retryFailure request, if anything. */
export function retryRequestProblem(request: unknown): string | undefined {
  if (!isRecord(request) || !isRecord(request.failure)) return 'a retry must be {failure: {kind, turn | toolUseId}, by?, reason?}';
  const { failure, by, reason } = request;
  const problem = failureTargetProblem(failure);
  if (problem) return problem;
  if (by !== undefined && typeof by !== 'string') return 'by must be a string';
  if (reason !== undefined && typeof reason !== 'string') return 'reason must be a string';
  return undefined;
}

export class FailureRetries {
  readonly #requested: RetryFailureRequest[] = [];
  /** Every retry taken, in order, for the transcript. */
  readonly taken: Array<RetryFailureRequest & { at: string }> = [];

  carry(): Continuation['retries'] {
    return { requested: this.#requested, taken: this.taken };
  }

  restore(carried: Continuation['retries']): void {
    this.#requested.push(...carried.requested);
    this.taken.push(...carried.taken);
  }

  request(request: unknown): void {
    const problem = retryRequestProblem(request);
    if (problem) {
      log.warn(`Ignored retryFailure signal: ${problem}`);
      return;
    }
    this.#requested.push(request as RetryFailureRequest);
  }

  /**
   * True when a retry was asked for this failure: the caller repeats the step instead of failing. In a run made by
   * a reset the retry signal may still be on its way, so it waits for it.
   */
  async take(target: FailureTarget): Promise<boolean> {
    // Whether this is a reset run is asked of the worker (a local activity, recorded), not read from workflowInfo:
    // the replayer gives every run the original run id, so a decision made from it would not replay.
    if (!this.#has(target) && patched(RESET_RUN_WAITS_PATCH)) {
      const { resetRun } = await describeRun({ originalRunId: workflowInfo().originalExecutionRunId });
      if (resetRun) await condition(() => this.#has(target), RETRY_SIGNAL_GRACE_MS, { summary: 'a reset run reached a failure: waiting for retryFailure' });
    }
    const index = this.#requested.findIndex((r) => sameTarget(r.failure, target));
    if (index < 0) return false;
    const [request] = this.#requested.splice(index, 1);
    this.taken.push({ ...request!, at: new Date(Date.now()).toISOString() });
    log.info('Retrying the step that failed the previous run', { failure: target, by: request!.by });
    return true;
  }

  #has(target: FailureTarget): boolean {
    return this.#requested.some((r) => sameTarget(r.failure, target));
  }

  /** The failure that ends the run, carrying what a retry must name. */
  static failure(message: string, type: string, target: FailureTarget, cause?: Error): ApplicationFailure {
    return ApplicationFailure.create({ message, type, nonRetryable: true, details: [target], ...(cause ? { cause } : {}) });
  }
}
