// A conversation is one workflow id and a chain of runs: continue-as-new starts the next run, and a retry's reset
// starts one from an earlier run. Reading the whole conversation (export, replay, its workflow events) means
// reading every run, oldest first.
import type { Client, WorkflowClient } from '@temporalio/client';
import { extstoreInboundOptions, visit } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import { walkGetWorkflowExecutionHistoryResponse } from '@temporalio/proto/lib/payload-visitor.generated';

type History = temporal.api.history.v1.IHistory;

export interface RunHistory {
  runId: string;
  history: History;
}

/** The run a run's history says it carries on: continue-as-new (or Temporal's own retry or cron) names it. */
export function previousRunOf(history: History): string | undefined {
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  return started?.continuedExecutionRunId || undefined;
}

/**
 * The history of `runId` and of every run before it in its chain, oldest first: each run's started event names the
 * run it continued (`continuedExecutionRunId`). A reset run keeps the started event of the run it was reset from,
 * so a retried run leads back through the same chain.
 */
export async function chainHistories(workflows: WorkflowClient, workflowId: string, runId: string): Promise<RunHistory[]> {
  const runs: RunHistory[] = [];
  const seen = new Set<string>();
  for (let current: string | undefined = runId; current !== undefined && !seen.has(current); ) {
    seen.add(current);
    const history = await workflows.getHandle(workflowId, current).fetchHistory();
    runs.push({ runId: current, history });
    current = previousRunOf(history);
  }
  return runs.reverse();
}

/**
 * A history whose payloads that went to external storage (large tool results, carried transcripts) are read back
 * with the client's external storage, as Temporal's client does for a result; as it is without one configured and
 * without references (with references and no storage to read them: an error that says so).
 */
export async function resolvedHistory(client: Client, history: History): Promise<History> {
  const response: temporal.api.workflowservice.v1.IGetWorkflowExecutionHistoryResponse = { history: temporal.api.history.v1.History.create(history) };
  await visit(response, walkGetWorkflowExecutionHistoryResponse, extstoreInboundOptions(client.options.loadedDataConverter.externalStorage));
  return response.history ?? history;
}
