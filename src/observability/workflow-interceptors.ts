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
//
// The OpenTelemetry module is loaded, and its interceptors built, only when a run is traced: the sandbox evaluates a
// bundle's modules for every new workflow, and loading it and building its tracer took about 9 ms of each
// conversation's first workflow task on the bench machine, traced or not (bench/floor.ts).
import type * as OpenTelemetryWorkflow from '@temporalio/interceptors-opentelemetry/lib/workflow';
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

/** The OpenTelemetry workflow module, loaded on first use (a traced run's first activation). */
let openTelemetry: typeof OpenTelemetryWorkflow | undefined;
function loadOpenTelemetry(): typeof OpenTelemetryWorkflow {
  // A plain require, so the bundler keeps the module in the bundle and evaluates it only when this runs.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  openTelemetry ??= require('@temporalio/interceptors-opentelemetry/lib/workflow') as typeof OpenTelemetryWorkflow;
  return openTelemetry;
}

/**
 * The methods each OpenTelemetry interceptor class implements, named here so the module need not be loaded to gate
 * them (a test checks them against the classes' prototypes).
 */
export const OPEN_TELEMETRY_METHODS = {
  inbound: ['execute', 'handleSignal', 'handleUpdate', 'validateUpdate', 'handleQuery'],
  outbound: ['scheduleActivity', 'scheduleLocalActivity', 'startNexusOperation', 'startChildWorkflowExecution', 'continueAsNew', 'signalWorkflow', 'getLogAttributes', 'getMetricTags'],
  internals: ['dispose'],
} as const;

/**
 * Each of `methods` that the interceptor `build()` makes implements runs it only while `active()` holds, otherwise the
 * call goes straight on; the interceptor is built at its first active call.
 */
function gated<T extends object>(methods: readonly string[], build: () => T, active: () => boolean): T {
  let target: T | undefined;
  const gate: Record<string, AnyMethod> = {};
  for (const name of methods) {
    gate[name] = (input, next) => {
      if (!active()) return next(input);
      target ??= build();
      const method = (target as Record<string, unknown>)[name];
      return typeof method === 'function' ? (method as AnyMethod).call(target, input, next) : next(input);
    };
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
    inbound: [decide, gated<WorkflowInboundCallsInterceptor>(OPEN_TELEMETRY_METHODS.inbound, () => new (loadOpenTelemetry().OpenTelemetryInboundInterceptor)(), isTraced)],
    outbound: [gated<WorkflowOutboundCallsInterceptor>(OPEN_TELEMETRY_METHODS.outbound, () => new (loadOpenTelemetry().OpenTelemetryOutboundInterceptor)(), isTraced), new TurnLogAttributes()],
    internals: [gated<WorkflowInternalsInterceptor>(OPEN_TELEMETRY_METHODS.internals, () => new (loadOpenTelemetry().OpenTelemetryInternalsInterceptor)(), isTraced)],
  };
};
