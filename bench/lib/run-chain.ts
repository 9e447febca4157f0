// The runs of one workflow id, first to last: a conversation that continued as new is a chain of runs, each with its
// own history (and its own share of Temporal's limits). Read from the server, never from the workflow's own account.
import type { Client } from '@temporalio/client';

export interface RunOfChain {
  runId: string;
  /** WorkflowExecutionStatus name: CONTINUED_AS_NEW for every run but the last. */
  status: string;
  /** The run's history size as Temporal counts it against its 50 MB limit (describe's historySizeBytes). */
  historyBytes: number;
  /** Its events, as counted against the 51,200-event limit. */
  historyEvents: number;
}

/**
 * Follows the chain from `firstRunId` through each run's WorkflowExecutionContinuedAsNew event (its last) to the run
 * that did not continue. `limit` stops a chain that never ends (a bug) from hanging the bench.
 */
export async function runChain(client: Client, workflowId: string, firstRunId: string, limit = 10_000): Promise<RunOfChain[]> {
  const runs: RunOfChain[] = [];
  for (let runId: string | undefined = firstRunId; runId !== undefined && runs.length < limit; ) {
    const description = await client.workflow.getHandle(workflowId, runId).describe();
    runs.push({ runId, status: description.status.name, historyBytes: description.historySize ?? 0, historyEvents: description.historyLength });
    if (description.status.name !== 'CONTINUED_AS_NEW') break;
    const { history }: { history?: { events?: Array<{ workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId?: string | null } | null }> | null } | null } = await client.workflowService.getWorkflowExecutionHistoryReverse({
      namespace: client.options.namespace,
      execution: { workflowId, runId },
      maximumPageSize: 1,
    });
    runId = history?.events?.[0]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return runs;
}

/** The chain of `workflowId`'s latest execution, from its first run (the server records it on every run). */
export async function chainOf(client: Client, workflowId: string): Promise<RunOfChain[]> {
  const latest = await client.workflow.getHandle(workflowId).describe();
  return runChain(client, workflowId, latest.raw.workflowExecutionInfo?.firstRunId || latest.runId);
}

/** The largest history of any run: bytes and events (each its own maximum; they may come from different runs). */
export function largestRun(runs: readonly RunOfChain[]): { bytes: number; events: number } {
  return { bytes: Math.max(0, ...runs.map((run) => run.historyBytes)), events: Math.max(0, ...runs.map((run) => run.historyEvents)) };
}
