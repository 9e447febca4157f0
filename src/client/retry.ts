// Carrying on a failed conversation: where to reset its history to, and the reset itself.
import { randomUUID } from 'node:crypto';
import Long from 'long';
import { temporal } from '@temporalio/proto';
import type { AgentClient } from './agent-client';
import { AgentClientError } from './errors';
import type { ConversationHandle } from './handle';

type History = temporal.api.history.v1.IHistory;

export interface RetryOutcome {
  handle: ConversationHandle;
  /** The run that carries on. */
  runId: string;
  failedRunId: string;
  /** The WorkflowTaskCompleted event the new run starts from. */
  resetToEventId: number;
}

const EventType = temporal.api.enums.v1.EventType;

/** Where `retry` goes back to: the workflow task that scheduled the last failing activity, else the one before the last. */
export function resetPointOf(history: History): number | undefined {
  const events = history.events ?? [];
  const idOf = (event: temporal.api.history.v1.IHistoryEvent) => Number(event.eventId);
  const byId = new Map(events.map((event) => [idOf(event), event]));
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i]!;
    const scheduledEventId = event.activityTaskFailedEventAttributes?.scheduledEventId ?? event.activityTaskTimedOutEventAttributes?.scheduledEventId;
    if (scheduledEventId === undefined || scheduledEventId === null) continue;
    const scheduled = byId.get(Number(scheduledEventId));
    const completedTask = scheduled?.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId;
    if (completedTask !== undefined && completedTask !== null) return Number(completedTask);
  }
  const completed = events.filter((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED).map(idOf);
  return completed.length >= 2 ? completed[completed.length - 2] : completed[0];
}

/** The body of `ConversationHandle.retry()`: Temporal's reset of the failed run to `resetPointOf` its history. */
export async function retryConversation(handle: ConversationHandle, agent: AgentClient, reason: string): Promise<RetryOutcome> {
  const description = await handle.describe();
  const status = description.status.name;
  if (status === 'RUNNING') throw new AgentClientError(`Conversation ${handle.conversationId} is still running; only a failed conversation can be retried`);
  if (status === 'COMPLETED') {
    throw new AgentClientError(`Conversation ${handle.conversationId} completed; nothing to retry (fork it to try something else)`);
  }
  const history = await handle.fetchHistory();
  const resetTo = resetPointOf(history);
  if (resetTo === undefined) throw new AgentClientError(`Conversation ${handle.conversationId} has no completed workflow task to go back to`);
  const response: temporal.api.workflowservice.v1.IResetWorkflowExecutionResponse = await agent.client.workflowService.resetWorkflowExecution({
    namespace: agent.client.options.namespace,
    workflowExecution: { workflowId: handle.conversationId, runId: description.runId },
    reason,
    workflowTaskFinishEventId: Long.fromNumber(resetTo),
    requestId: randomUUID(),
    resetReapplyType: temporal.api.enums.v1.ResetReapplyType.RESET_REAPPLY_TYPE_SIGNAL,
  });
  return { handle: agent.getHandle(handle.conversationId), runId: response.runId ?? '', resetToEventId: resetTo, failedRunId: description.runId };
}
