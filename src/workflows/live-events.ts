// The workflow's live-output events (turns, tools, approvals, chat messages, the end) leave through a Temporal sink:
// the worker publishes them to the event store. A sink call adds nothing to history and is not made again on
// replay, so streaming costs no history bytes and cannot change what a replay decides.
import { proxySinks, type Sinks } from '@temporalio/workflow';
import type { WorkflowEventBody } from '../streaming/events';

/** A workflow event with its position among the run's events: the same on every worker, so a retried task's repeats are dropped by id. */
export type SequencedWorkflowEvent = WorkflowEventBody & { seq: number };

export interface ConversationSinks extends Sinks {
  conversationEvents: {
    emit(event: SequencedWorkflowEvent): void;
  };
}

const { conversationEvents } = proxySinks<ConversationSinks>();

type BodyWithoutClock = WorkflowEventBody extends infer E ? (E extends unknown ? Omit<E, 'at'> : never) : never;

export class LiveEvents {
  #seq = 0;

  emit(body: BodyWithoutClock): void {
    // Date.now() is the workflow's clock here: the task's start time, the same on replay.
    conversationEvents.emit({ ...body, at: new Date(Date.now()).toISOString(), seq: ++this.#seq } as SequencedWorkflowEvent);
  }
}
