// Workflow interceptors (run in the workflow sandbox; workflow-safe imports only).
//
// Temporal's OpenTelemetry interceptors change when workflow code resumes (their wrappers add awaits on activity
// results and handlers), so a history recorded without them does not replay with them, nor the other way round
// (an update's completion lands after a command it preceded). So they are on for a run exactly when its start (or
// continue-as-new) carried trace context in its headers: that is in history, so every replay decides the same,
// whichever worker replays it and whatever its telemetry says. Runs started by a client without telemetry get no
// workflow spans (their activities' spans are still made, worker-side).
//
// Every workflow log line also carries the conversation id and its current turn, next to the workflowId and runId the
// SDK adds.
// Neither adds a command.
import { OpenTelemetryInboundInterceptor, OpenTelemetryInternalsInterceptor, OpenTelemetryOutboundInterceptor } from '@temporalio/interceptors-opentelemetry/lib/workflow';
import type {
  ActivityInput,
  GetLogAttributesInput,
  LocalActivityInput,
  Next,
  WorkflowExecuteInput,
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptors,
  WorkflowInternalsInterceptor,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

/** The header Temporal's OpenTelemetry client and workflow interceptors put trace context in. */
const TRACE_HEADER = '_tracer-data';

function turnOf(args: unknown[]): number | undefined {
  const first = args[0];
  if (first && typeof first === 'object' && typeof (first as { turn?: unknown }).turn === 'number') return (first as { turn: number }).turn;
  return undefined;
}

export class TurnLogAttributes implements WorkflowOutboundCallsInterceptor {
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
    const conversationId = typeof input.workflowId === 'string' ? { conversationId: input.workflowId } : {};
    return next({ ...input, ...conversationId, ...(this.#turn !== undefined ? { turn: this.#turn } : {}) });
  }
}

type AnyMethod = (input: unknown, next: (input: unknown) => unknown) => unknown;

/** Each method of `target` runs only while `active()` holds; otherwise the call goes straight on. */
function gated<T extends object>(target: T, active: () => boolean): T {
  const gate: Record<string, AnyMethod> = {};
  for (let proto = Object.getPrototypeOf(target) as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const method = (target as Record<string, unknown>)[name];
      if (name === 'constructor' || typeof method !== 'function' || name in gate) continue;
      gate[name] = (input, next) => (active() ? (method as AnyMethod).call(target, input, next) : next(input));
    }
  }
  return gate as unknown as T;
}

export const interceptors = (): WorkflowInterceptors => {
  let traced = false;
  const isTraced = () => traced;
  const decide: WorkflowInboundCallsInterceptor = {
    execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>) {
      traced = input.headers[TRACE_HEADER] !== undefined;
      return next(input);
    },
  };
  return {
    inbound: [decide, gated<WorkflowInboundCallsInterceptor>(new OpenTelemetryInboundInterceptor(), isTraced)],
    outbound: [gated<WorkflowOutboundCallsInterceptor>(new OpenTelemetryOutboundInterceptor(), isTraced), new TurnLogAttributes()],
    internals: [gated<WorkflowInternalsInterceptor>(new OpenTelemetryInternalsInterceptor(), isTraced)],
  };
};
