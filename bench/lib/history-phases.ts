// Where a durable conversation's time goes, read off its Temporal history: each workflow task's wait for a worker
// (scheduled → started) and its run on the worker (started → completed), each activity's wait (scheduled →
// started) and run (started → closed) by activity type. The server stamps every event, so the phases of two
// workflows on one server compare without any clock of ours.
import { temporal } from '@temporalio/proto';

const EventType = temporal.api.enums.v1.EventType;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface HistoryPhases {
  /** From WorkflowExecutionStarted to the close event. */
  spanMs: number;
  workflowTasks: number;
  /** Summed over the workflow's tasks. */
  workflowTaskWaitMs: number;
  workflowTaskRunMs: number;
  /** Summed per activity type. */
  activities: Record<string, { count: number; waitMs: number; runMs: number }>;
  /** Local activities (markers) recorded. */
  markers: number;
  events: number;
}

/** An event's server timestamp, in milliseconds. */
export const millisOf = (event: HistoryEvent): number => Number(event.eventTime?.seconds ?? 0) * 1000 + (event.eventTime?.nanos ?? 0) / 1e6;

export function historyPhases(events: readonly HistoryEvent[]): HistoryPhases {
  const byId = new Map<number, HistoryEvent>(events.map((event) => [Number(event.eventId), event]));
  const phases: HistoryPhases = { spanMs: 0, workflowTasks: 0, workflowTaskWaitMs: 0, workflowTaskRunMs: 0, activities: {}, markers: 0, events: events.length };
  if (events.length > 0) phases.spanMs = millisOf(events[events.length - 1]!) - millisOf(events[0]!);
  const activityOf = (scheduledId: number) => byId.get(scheduledId)?.activityTaskScheduledEventAttributes?.activityType?.name ?? 'unknown';
  const entry = (name: string) => (phases.activities[name] ??= { count: 0, waitMs: 0, runMs: 0 });
  for (const event of events) {
    switch (event.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED: {
        const scheduled = byId.get(Number(event.workflowTaskStartedEventAttributes?.scheduledEventId));
        if (scheduled) phases.workflowTaskWaitMs += millisOf(event) - millisOf(scheduled);
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: {
        const started = byId.get(Number(event.workflowTaskCompletedEventAttributes?.startedEventId));
        phases.workflowTasks++;
        if (started) phases.workflowTaskRunMs += millisOf(event) - millisOf(started);
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const scheduledId = Number(event.activityTaskStartedEventAttributes?.scheduledEventId);
        const scheduled = byId.get(scheduledId);
        const phase = entry(activityOf(scheduledId));
        phase.count++;
        if (scheduled) phase.waitMs += millisOf(event) - millisOf(scheduled);
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
        const attributes = event.activityTaskCompletedEventAttributes;
        const started = byId.get(Number(attributes?.startedEventId));
        if (started) entry(activityOf(Number(attributes?.scheduledEventId))).runMs += millisOf(event) - millisOf(started);
        break;
      }
      case EventType.EVENT_TYPE_MARKER_RECORDED:
        phases.markers++;
        break;
      default:
        break;
    }
  }
  return phases;
}
