// Replaying a conversation's history against the current workflow code: the check that a change to workflow code
// will not break conversations already running.
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';
import { Worker, type InjectedSinks, type ReplayWorkerOptions } from '@temporalio/worker';
import type { WorkflowEvent } from './streaming/events';
import { conversationEventSinks } from './streaming/workflow-sinks';
import type { ConversationSinks } from './workflows/live-events';

type History = temporal.api.history.v1.IHistory;

export interface ReplayOutcome {
  ok: boolean;
  workflowId: string;
  events: number;
  /** The history event where the current code no longer does what the history recorded. */
  divergedAtEventId?: number;
  error?: string;
}

/**
 * A history from JSON: what `temporal workflow show --output json` writes, what fetchHistory() returns serialized,
 * or an export file of this project (which holds it under `history`).
 */
export function parseHistory(json: unknown): History {
  const value = typeof json === 'string' ? (JSON.parse(json) as unknown) : json;
  const candidate = (value as { history?: unknown })?.history && !(value as { events?: unknown }).events ? (value as { history: unknown }).history : value;
  if (typeof candidate !== 'object' || candidate === null || !Array.isArray((candidate as { events?: unknown }).events)) {
    throw new Error('not a Temporal history: expected an object with an "events" list (temporal workflow show --output json)');
  }
  return historyFromJSON(candidate);
}

/** The workflow id a history belongs to, from its first event, when it says (histories carry it only indirectly). */
function workflowIdOf(history: History): string | undefined {
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  return started?.workflowId ?? undefined;
}

/** The first event id a determinism error message names, e.g. "…HistoryEvent(id: 9, …)". */
export function divergedEventId(message: string): number | undefined {
  const match = /(?:event[ _]?id|HistoryEvent\(id|\bid)[:= ]+(\d+)/i.exec(message) ?? /event (\d+)/i.exec(message);
  return match ? Number(match[1]) : undefined;
}

export async function replayHistory(
  history: History,
  options: { workflowId?: string } & Pick<ReplayWorkerOptions, 'workflowsPath' | 'workflowBundle'> = {},
): Promise<ReplayOutcome> {
  const workflowId = options.workflowId ?? workflowIdOf(history) ?? 'replayed-conversation';
  const events = history.events?.length ?? 0;
  const source = options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: options.workflowsPath ?? require.resolve('./workflows') };
  try {
    // The live-output sink is registered (replay never calls it) so a replay logs no "unregistered sink" error.
    await Worker.runReplayHistory({ ...source, replayName: `durable-claude-replay-${workflowId}`, sinks: conversationEventSinks(undefined) }, history, workflowId);
    return { ok: true, workflowId, events };
  } catch (err) {
    const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    const eventId = divergedEventId(error);
    return { ok: false, workflowId, events, error, ...(eventId !== undefined ? { divergedAtEventId: eventId } : {}) };
  }
}

/**
 * The workflow's live-output events (turns, tools, approvals, chat messages, the end), regenerated from a history by
 * replaying it: the workflow code that emitted them is deterministic, so this is exactly what it published, even when
 * the event store no longer holds it. Model-stream events (text deltas) are not in history and not regenerated.
 * Offsets are the events' positions in the run (1, 2, …), not the store's.
 */
export async function workflowEventsOf(
  history: History,
  options: { workflowId?: string; runId?: string } & Pick<ReplayWorkerOptions, 'workflowsPath' | 'workflowBundle'> = {},
): Promise<WorkflowEvent[]> {
  const workflowId = options.workflowId ?? workflowIdOf(history) ?? 'replayed-conversation';
  const source = options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: options.workflowsPath ?? require.resolve('./workflows') };
  const events: WorkflowEvent[] = [];
  const sinks: InjectedSinks<ConversationSinks> = {
    conversationEvents: {
      emit: {
        fn(info, event) {
          const { seq, ...body } = event;
          events.push({ ...body, conversationId: workflowId, runId: options.runId ?? info.runId, offset: seq } as WorkflowEvent);
        },
        callDuringReplay: true,
      },
    },
  };
  await Worker.runReplayHistory({ ...source, replayName: `durable-claude-events-${workflowId}`, sinks }, history, workflowId);
  return events.sort((a, b) => a.offset - b.offset);
}
