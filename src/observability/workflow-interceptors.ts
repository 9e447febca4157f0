// Workflow interceptors (run in the workflow sandbox; workflow-safe imports only): every workflow log line carries the
// conversation's current turn, next to the workflowId and runId the SDK adds. Adds no command: replay-safe.
import type { ActivityInput, GetLogAttributesInput, LocalActivityInput, Next, WorkflowInterceptors, WorkflowOutboundCallsInterceptor } from '@temporalio/workflow';

function turnOf(args: unknown[]): number | undefined {
  const first = args[0];
  if (first && typeof first === 'object' && typeof (first as { turn?: unknown }).turn === 'number') return (first as { turn: number }).turn;
  return undefined;
}

class TurnLogAttributes implements WorkflowOutboundCallsInterceptor {
  #turn: number | undefined;

  scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>): Promise<unknown> {
    this.#turn = turnOf(input.args) ?? this.#turn;
    return next(input);
  }

  scheduleLocalActivity(input: LocalActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>): Promise<unknown> {
    this.#turn = turnOf(input.args) ?? this.#turn;
    return next(input);
  }

  getLogAttributes(input: GetLogAttributesInput, next: Next<WorkflowOutboundCallsInterceptor, 'getLogAttributes'>): Record<string, unknown> {
    return next(this.#turn !== undefined ? { ...input, turn: this.#turn } : input);
  }
}

export const interceptors = (): WorkflowInterceptors => ({ outbound: [new TurnLogAttributes()] });
