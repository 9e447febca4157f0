// Replaying a conversation's history against the current workflow code: the check that a change to workflow code
// will not break conversations already running.
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import type { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { Worker, type InjectedSinks, type ReplayWorkerOptions } from '@temporalio/worker';
import type { WorkflowEvent } from './streaming/events';
import { conversationEventSinks } from './streaming/workflow-sinks';
import { TELEMETRY_WORKFLOW_MODULES } from './observability/workflow-modules';
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

function historyOf(candidate: unknown): History {
  if (typeof candidate !== 'object' || candidate === null || !Array.isArray((candidate as { events?: unknown }).events)) {
    throw new Error('not a Temporal history: expected an object with an "events" list (temporal workflow show --output json)');
  }
  return historyFromJSON(candidate);
}

/**
 * A history from JSON: what `temporal workflow show --output json` writes, what fetchHistory() returns serialized,
 * or an export file of this project (which holds its latest run's under `history`).
 */
export function parseHistory(json: unknown): History {
  const value = typeof json === 'string' ? (JSON.parse(json) as unknown) : json;
  const candidate = (value as { history?: unknown })?.history && !(value as { events?: unknown }).events ? (value as { history: unknown }).history : value;
  return historyOf(candidate);
}

/**
 * Every run's history, oldest first: an export file of a conversation that continued as new holds the earlier runs
 * under `previousHistories` and the latest under `history`; a single history (or an older export) is one run.
 */
export function parseHistories(json: unknown): History[] {
  const value = typeof json === 'string' ? (JSON.parse(json) as unknown) : json;
  const previous = (value as { previousHistories?: unknown })?.previousHistories;
  if (previous !== undefined && !Array.isArray(previous)) throw new Error('previousHistories must be a list of histories (oldest first)');
  return [...(previous ?? []).map((history, i) => {
    try {
      return historyOf(history);
    } catch (err) {
      throw new Error(`previousHistories[${i}]: ${(err as Error).message}`, { cause: err });
    }
  }), parseHistory(value)];
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

/**
 * How to replay: the workflow code (a bundle, or its path), and the data converter histories were written with —
 * with the external storage their large payloads went to, so the replay reads them back, and the payload codecs
 * (e.g. an EncryptionCodec with the workers' keys) their payloads were encoded with.
 */
export type ReplayOptions = { workflowId?: string } & Pick<ReplayWorkerOptions, 'workflowsPath' | 'workflowBundle' | 'dataConverter'>;

/**
 * The parts of a client's data converter a replay needs: its payload codecs (encryption) and external storage. A
 * replay without the workers' codec cannot read an encrypted history (the workflow's input does not decode).
 */
export function replayDataConverterOf(client: Pick<Client, 'options'>): Pick<DataConverter, 'payloadCodecs' | 'externalStorage'> {
  const { payloadCodecs, externalStorage } = client.options.loadedDataConverter;
  return { ...(payloadCodecs.length > 0 ? { payloadCodecs } : {}), ...(externalStorage ? { externalStorage } : {}) };
}

/** Where a traced run's workflow spans would go: nowhere on replay (they were exported when it ran). */
const SPAN_EXPORT_SINK: InjectedSinks<{ exporter: { export(spans: unknown[]): void } }> = { exporter: { export: { fn: () => undefined, callDuringReplay: false } } };

function replaySource(options: ReplayOptions): Pick<ReplayWorkerOptions, 'workflowsPath' | 'workflowBundle' | 'dataConverter' | 'interceptors'> {
  return {
    // Telemetry's workflow module, as every worker bundles it: a run traced when it was recorded replays with it
    // (a prebuilt bundle carries it itself, from bundleWorkflowCode({ workflowInterceptorModules })).
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: options.workflowsPath ?? require.resolve('./workflows'), interceptors: { workflowModules: [...TELEMETRY_WORKFLOW_MODULES] } }),
    ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
  };
}

export async function replayHistory(history: History, options: ReplayOptions = {}): Promise<ReplayOutcome> {
  const workflowId = options.workflowId ?? workflowIdOf(history) ?? 'replayed-conversation';
  const events = history.events?.length ?? 0;
  const source = replaySource(options);
  try {
    // The live-output and span-export sinks are registered (replay never calls them) so a replay logs no
    // "unregistered sink" error.
    await Worker.runReplayHistory({ ...source, replayName: `durable-claude-replay-${workflowId}`, sinks: { ...conversationEventSinks(undefined), ...SPAN_EXPORT_SINK } }, history, workflowId);
    return { ok: true, workflowId, events };
  } catch (err) {
    const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    const eventId = divergedEventId(error);
    return { ok: false, workflowId, events, error, ...(eventId !== undefined ? { divergedAtEventId: eventId } : {}) };
  }
}

/** Each run of a chain (oldest first), replayed on its own: every run must replay, the first that does not says where. */
export async function replayHistories(histories: History[], options: ReplayOptions = {}): Promise<ReplayOutcome[]> {
  const outcomes: ReplayOutcome[] = [];
  for (const history of histories) outcomes.push(await replayHistory(history, options));
  return outcomes;
}

/**
 * The workflow's live-output events (turns, tools, approvals, chat messages, the end), regenerated from a history by
 * replaying it: the workflow code that emitted them is deterministic, so this is exactly what it published, even when
 * the event store no longer holds it. Model-stream events (text deltas) are not in history and not regenerated.
 * Offsets are the events' positions in the run (1, 2, …), not the store's.
 */
export async function workflowEventsOf(
  history: History,
  options: ReplayOptions & { runId?: string } = {},
): Promise<WorkflowEvent[]> {
  const workflowId = options.workflowId ?? workflowIdOf(history) ?? 'replayed-conversation';
  const source = replaySource(options);
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
  await Worker.runReplayHistory({ ...source, replayName: `durable-claude-events-${workflowId}`, sinks: { ...sinks, ...SPAN_EXPORT_SINK } }, history, workflowId);
  return events.sort((a, b) => a.offset - b.offset);
}
