// Workflow interceptors (run in the workflow sandbox; workflow-safe imports only).
//
// Temporal's OpenTelemetry interceptors change when workflow code resumes (their wrappers add awaits on activity
// results and handlers), so a history recorded without them does not replay with them, nor the other way round
// (an update's completion lands after a command it preceded). So they are on for a conversation run exactly when its
// start (or continue-as-new) carried trace context in its headers AND the run recorded the patch marker
// 'otel-workflow-interceptors' when it first ran: a header alone does not say the interceptors ran (a client with
// Temporal's OpenTelemetry interceptor sends it with any tracer, and runs recorded before this module carry it too).
// Both are in history, so every replay decides the same, whichever worker replays it.
//
// Only the conversation workflow is touched: the module is bundle-wide, and a worker's own workflows (AgentPlugin
// bundles ours beside them) keep running exactly as they were recorded.
//
// Every conversation log line also carries the conversation id and its current turn, next to the workflowId and runId
// the SDK adds. Neither adds a command but the patch marker.
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
import { patched, workflowInfo } from '@temporalio/workflow';
import { WORKFLOW_TYPE } from '../workflows/types';

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

/** The patch a traced conversation run records when it first runs with the OpenTelemetry workflow interceptors. */
export const OTEL_INTERCEPTORS_PATCH = 'otel-workflow-interceptors';

export const interceptors = (): WorkflowInterceptors => {
  // Decided before the workflow's own code runs, in its first activation: the same on every replay.
  const conversation = workflowInfo().workflowType === WORKFLOW_TYPE;
  let traced = false;
  const isTraced = () => traced;
  const decide: WorkflowInboundCallsInterceptor = {
    execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>) {
      traced = conversation && input.headers[TRACE_HEADER] !== undefined && patched(OTEL_INTERCEPTORS_PATCH);
      return next(input);
    },
  };
  if (!conversation) return {};
  return {
    inbound: [decide, gated<WorkflowInboundCallsInterceptor>(new OpenTelemetryInboundInterceptor(), isTraced)],
    outbound: [gated<WorkflowOutboundCallsInterceptor>(new OpenTelemetryOutboundInterceptor(), isTraced), new TurnLogAttributes()],
    internals: [gated<WorkflowInternalsInterceptor>(new OpenTelemetryInternalsInterceptor(), isTraced)],
  };
};
