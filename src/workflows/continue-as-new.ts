// When a run hands over to the next one (continue-as-new): Temporal's own suggestion (its history limits are
// near) or the conversation's thresholds.
//
// The history's length is read from workflowInfo() only where a recorded event has just been delivered (a signal,
// an Update, an activity's result), never in whatever activation happens to evaluate a condition: a local
// activity's result can arrive in a different activation on replay than it did live, with a different length.
import { workflowInfo } from '@temporalio/workflow';
import type { CarriedToolRound, ContinueAsNewOptions } from './types';

export class HistoryGauge {
  #length = 0;
  #bytes = 0;
  #suggested = false;
  /** The run's size at its first sample: the carried state is in it, and thresholds count what the run adds. */
  #base: { length: number; bytes: number } | undefined;
  /** Bumped with every sample, so a check made once per sample can be cached. */
  samples = 0;

  /** Call right after a recorded event reached the workflow: what workflowInfo() says then is the same on replay. */
  sample(): void {
    const info = workflowInfo();
    this.#length = info.historyLength;
    this.#bytes = info.historySize;
    this.#suggested = info.continueAsNewSuggested;
    this.#base ??= { length: this.#length, bytes: this.#bytes };
    this.samples++;
  }

  due(policy: ContinueAsNewOptions): boolean {
    const base = this.#base ?? { length: 0, bytes: 0 };
    // A run hands over only once it has done something, so a large carried state cannot bounce from run to run.
    if (this.#length - base.length < MIN_EVENTS_PER_RUN) return false;
    if (this.#suggested) return true;
    if (policy.afterEvents !== undefined && this.#length - base.length >= policy.afterEvents) return true;
    if (policy.afterHistoryBytes !== undefined && this.#bytes - base.bytes >= policy.afterHistoryBytes) return true;
    return false;
  }
}

/** What a run records at least before it may hand over: about one model turn. */
const MIN_EVENTS_PER_RUN = 10;

/** Thrown by the tool round when it reached a point to hand over: only approval waits are left in it. */
export class ContinueAsNewPoint {
  constructor(readonly round: Omit<CarriedToolRound, 'iteration'>) {}
}
