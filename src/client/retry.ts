// Carrying on a conversation whose run ended badly, once the cause is fixed: Temporal's reset, to just before the
// failure that ended the run, never behind a tool whose result is recorded.
//
// - A failure (model call, fatal tool, approval timeout with onTimeout 'fail') is handled in one workflow task.
//   The reset goes back to that task and then signals `retryFailure` to the new run, naming the failed step (the
//   failure's details say which). A reset run that reaches a failure waits briefly for that signal, then repeats
//   the step instead of failing. Everything before it stays.
// - A cancellation or termination goes back to the last workflow task before it; a tool result recorded after that
//   task would be lost, so such a retry is refused unless the caller accepts re-running those tools.
import { randomUUID } from 'node:crypto';
import Long from 'long';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { WorkflowFailedError } from '@temporalio/client';
import { retryFailureSignal } from '../workflows/definitions';
import { isFailureTarget } from '../workflows/failure-types';
import type { RunToolInput } from '../activities/types';
import type { FailureTarget, RetryFailureRequest } from '../workflows/types';
import type { AgentClient } from './agent-client';
import { AgentClientError } from './errors';
import type { ConversationHandle } from './handle';

type History = temporal.api.history.v1.IHistory;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface RetryConversationOptions {
  /** Why, for the reset's record in Temporal. */
  reason?: string;
  /** Who asked for the retry, for the transcript's record of it. */
  by?: string;
  /**
   * A cancelled or terminated run can have tool results recorded after its last workflow task; going back would
   * run those tools again. Refused (RetryWouldRerunToolsError) unless this is true.
   */
  allowToolReruns?: boolean;
}

export interface RetryOutcome {
  handle: ConversationHandle;
  /** The run that carries on. */
  runId: string;
  failedRunId: string;
  /** The WorkflowTaskCompleted event the new run starts from. */
  resetToEventId: number;
  /** The failed step the new run repeats (absent for a cancelled or terminated run). */
  repeats?: FailureTarget;
  /** Tool calls whose recorded results were behind the reset point and run again (only with allowToolReruns). */
  rerunToolUseIds: string[];
}

/** Going back would discard these tools' recorded results, so they would run a second time. */
export class RetryWouldRerunToolsError extends AgentClientError {
  constructor(
    readonly conversationId: string,
    readonly toolUseIds: string[],
  ) {
    super(
      `Retrying conversation ${conversationId} would run tools again whose results are recorded after its last workflow task ` +
        `(${toolUseIds.join(', ')}); pass allowToolReruns: true if they are safe to repeat (they get the same idempotency key)`,
    );
  }
}

/** Where a retry goes back to, and what the new run is told to repeat. */
export interface ResetPoint {
  workflowTaskCompletedEventId: number;
  /** The step that failed; the reset sends retryFailure naming it. */
  repeats?: FailureTarget;
  /** The ActivityTaskScheduled events of runTool calls whose results are recorded after the reset point. */
  discardedToolSchedules: HistoryEvent[];
}

const EventType = temporal.api.enums.v1.EventType;

function idOf(event: HistoryEvent): number {
  return Number(event.eventId);
}

/** The runTool calls whose completion is recorded after `eventId`: a reset there would discard their results. */
function toolResultsAfter(events: HistoryEvent[], eventId: number): HistoryEvent[] {
  const scheduled = new Map(events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [idOf(e), e]));
  return events.flatMap((event) => {
    const completed = event.activityTaskCompletedEventAttributes;
    if (!completed || idOf(event) <= eventId) return [];
    const schedule = scheduled.get(Number(completed.scheduledEventId));
    return schedule?.activityTaskScheduledEventAttributes?.activityType?.name === 'runTool' ? [schedule] : [];
  });
}

/** The workflow task that scheduled the last activity that failed or timed out, if any. */
function lastFailedActivityTask(events: HistoryEvent[]): number | undefined {
  const byId = new Map(events.map((event) => [idOf(event), event]));
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i]!;
    const scheduledEventId = event.activityTaskFailedEventAttributes?.scheduledEventId ?? event.activityTaskTimedOutEventAttributes?.scheduledEventId;
    if (scheduledEventId === undefined || scheduledEventId === null) continue;
    const completedTask = byId.get(Number(scheduledEventId))?.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId;
    if (completedTask !== undefined && completedTask !== null) return Number(completedTask);
  }
  return undefined;
}

/**
 * Where `retry` goes back to, from the run's history and (for a failure) the step its failure names: the workflow
 * task that handled the failure, or the last one before a cancellation or termination.
 */
export function resetPointOf(history: History, failedStep?: FailureTarget): ResetPoint | undefined {
  const events = history.events ?? [];
  const closing = events[events.length - 1];
  const failed = closing?.workflowExecutionFailedEventAttributes;
  if (failed && failedStep && failed.workflowTaskCompletedEventId !== undefined && failed.workflowTaskCompletedEventId !== null) {
    // Going back to the task that failed the run discards only that task's own commands.
    return { workflowTaskCompletedEventId: Number(failed.workflowTaskCompletedEventId), repeats: failedStep, discardedToolSchedules: [] };
  }
  if (failed) {
    // A failure that names no step (raised while the run started, e.g. unknown tools, or recorded by an older
    // version): back to the task that scheduled the failing activity, else the task that failed the run.
    const failedActivityTask = lastFailedActivityTask(events);
    const task = failedActivityTask ?? (failed.workflowTaskCompletedEventId ? Number(failed.workflowTaskCompletedEventId) : undefined);
    return task === undefined ? undefined : { workflowTaskCompletedEventId: task, discardedToolSchedules: toolResultsAfter(events, task) };
  }
  const cancelRequested = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED);
  const before = cancelRequested ? idOf(cancelRequested) : Number.POSITIVE_INFINITY;
  const tasks = events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED && idOf(e) < before);
  const last = tasks[tasks.length - 1];
  if (!last) return undefined;
  // Tools wait for their cancellation to complete, so a result can be recorded after the cancel request too.
  return { workflowTaskCompletedEventId: idOf(last), discardedToolSchedules: toolResultsAfter(events, idOf(last)) };
}

/** The tool_use id a runTool activity was scheduled for, decoded from its input with the client's data converter. */
async function toolUseIdOf(agent: AgentClient, schedule: HistoryEvent): Promise<string> {
  const attributes = schedule.activityTaskScheduledEventAttributes!;
  const { payloadConverter, payloadCodecs } = agent.client.options.loadedDataConverter;
  let payloads = attributes.input?.payloads ?? [];
  for (const codec of [...payloadCodecs].reverse()) payloads = await codec.decode(payloads);
  const input = payloads[0] ? payloadConverter.fromPayload<Partial<RunToolInput>>(payloads[0]) : undefined;
  return input?.toolUseId ?? `activity ${attributes.activityId ?? '?'}`;
}

/** The failed step a failed run names in its failure's details (decoded with the client's data converter). */
async function failedStepOf(agent: AgentClient, conversationId: string, runId: string): Promise<FailureTarget | undefined> {
  try {
    await agent.client.workflow.result(conversationId, runId, { followRuns: false });
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) return undefined;
    for (let cause: unknown = err.cause; cause instanceof Error; cause = (cause as { cause?: unknown }).cause) {
      if (cause instanceof ApplicationFailure && isFailureTarget(cause.details?.[0])) return cause.details[0];
    }
  }
  return undefined;
}

/** The body of `ConversationHandle.retry()`. */
export async function retryConversation(handle: ConversationHandle, agent: AgentClient, options: RetryConversationOptions = {}): Promise<RetryOutcome> {
  const reason = options.reason ?? 'durable-claude retry: carry on after the cause was fixed';
  const description = await handle.describe();
  const status = description.status.name;
  if (status === 'RUNNING') throw new AgentClientError(`Conversation ${handle.conversationId} is still running; only a failed conversation can be retried`);
  if (status === 'COMPLETED') {
    throw new AgentClientError(`Conversation ${handle.conversationId} completed; nothing to retry (fork it to try something else)`);
  }
  // The latest run is the one that ended badly (earlier runs of the chain continued as new): every read below is of
  // that run by its id, so a run started meanwhile cannot mix into it.
  const failedStep = status === 'FAILED' ? await failedStepOf(agent, handle.conversationId, description.runId) : undefined;
  const history = await agent.client.workflow.getHandle(handle.conversationId, description.runId).fetchHistory();
  const point = resetPointOf(history, failedStep);
  if (!point) throw new AgentClientError(`Conversation ${handle.conversationId} has no completed workflow task to go back to`);
  const rerunToolUseIds = await Promise.all(point.discardedToolSchedules.map((schedule) => toolUseIdOf(agent, schedule)));
  if (rerunToolUseIds.length > 0 && !options.allowToolReruns) throw new RetryWouldRerunToolsError(handle.conversationId, rerunToolUseIds);

  const response: temporal.api.workflowservice.v1.IResetWorkflowExecutionResponse = await agent.client.workflowService.resetWorkflowExecution({
    namespace: agent.client.options.namespace,
    workflowExecution: { workflowId: handle.conversationId, runId: description.runId },
    reason,
    workflowTaskFinishEventId: Long.fromNumber(point.workflowTaskCompletedEventId),
    requestId: randomUUID(),
    resetReapplyType: temporal.api.enums.v1.ResetReapplyType.RESET_REAPPLY_TYPE_SIGNAL,
  });
  const runId = response.runId ?? '';
  if (point.repeats) {
    // The server takes no signal within a reset (post-reset signals are unsupported), so it follows at once.
    const request: RetryFailureRequest = { failure: point.repeats, ...(options.by ? { by: options.by } : {}), reason };
    await agent.client.workflow.getHandle(handle.conversationId, runId).signal(retryFailureSignal, request);
  }
  return {
    handle: agent.getHandle(handle.conversationId),
    runId,
    failedRunId: description.runId,
    resetToEventId: point.workflowTaskCompletedEventId,
    ...(point.repeats ? { repeats: point.repeats } : {}),
    rerunToolUseIds,
  };
}
