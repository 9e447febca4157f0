// Observability: traces (Temporal's OpenTelemetry interceptors plus GenAI model-call and tool spans), project metrics
// through OpenTelemetry, and structured logs. CONTRACT (issue 19): the names and signatures below are what the
// worker, AgentPlugin and the client call; the implementation behind them is filled in by the observability work.
import { context as otelContext, metrics as otelMetrics, propagation, trace, type MeterProvider, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { Resource } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ClientOptions } from '@temporalio/client';
import type { Sinks } from '@temporalio/workflow';
import { OpenTelemetryWorkflowClientInterceptor, OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, makeWorkflowExporter, type OpenTelemetryWorkflowExporter } from '@temporalio/interceptors-opentelemetry';

interface OpenTelemetryWorkflowExporterSinks extends Sinks {
  exporter: OpenTelemetryWorkflowExporter;
}
import type { ActivityInterceptorsFactory, InjectedSinks, ReplayWorkerOptions, Worker, WorkerOptions } from '@temporalio/worker';
import type { CallModelInput, CallModelResult, RunToolInput, RunToolResult } from '../activities/types';
import type { ConversationSinks } from '../workflows/live-events';
import { instrumentCallModel, instrumentRunTool, type ActivityInstrumentation } from './activities';
import { ApprovalTracker } from './approvals';
import { AgentMetrics } from './metrics';
import { activityLogAttributes } from './logs';

export { GEN_AI, METRICS, DURABLE_CLAUDE } from './genai';
export { TELEMETRY_WORKFLOW_MODULES } from './workflow-modules';
import { TELEMETRY_WORKFLOW_MODULES } from './workflow-modules';
export { markFirstToken } from './activities';
export { jsonLogger, logAttributesActivityInterceptors, type JsonLoggerOptions } from './logs';
export { installTemporalMetrics, otlpTelemetry, prometheusMetrics, telemetryFromEnv, type OtlpTelemetryOptions, type TemporalMetricsOptions } from './setup';

const INSTRUMENTATION_SCOPE = 'durable-claude';

export interface AgentTelemetryOptions {
  /** Where spans go. Default: the globally registered provider (off when the application registered none). */
  tracerProvider?: TracerProvider;
  /** Where project metrics go. Default: the globally registered provider (off when none). */
  meterProvider?: MeterProvider;
  /** Record prompts, completions, tool inputs and results on spans. Off by default: they may hold personal data. */
  captureContent?: boolean;
  /**
   * Where workflow spans go (they are made in the workflow sandbox and leave it through a sink). Default: the span
   * processor of `tracerProvider` when it is an SDK provider; without one, workflow spans are not exported.
   */
  spanProcessor?: SpanProcessor;
  /** The resource of workflow spans. Default: that of `tracerProvider` when it is an SDK provider. */
  resource?: Resource;
}

/**
 * What a worker and a client take to be observed. AgentPlugin (and createAgentWorker) run these hooks inside their
 * own; activities get the same object through createAgentActivities({ telemetry }).
 */
export interface AgentTelemetry {
  readonly options: Readonly<AgentTelemetryOptions>;
  /** Adds interceptors, workflow interceptor modules and sinks to a worker's options. */
  configureWorker(options: WorkerOptions): WorkerOptions;
  /** The workflow side of configureWorker for a replay worker: the same interceptor modules, so a replay decides alike. */
  configureReplayWorker(options: ReplayWorkerOptions): ReplayWorkerOptions;
  /** Adds interceptors (trace context from the backend call that starts a conversation) to a client's options. */
  configureClient(options: ClientOptions): ClientOptions;
  /** Runs the worker; flushes what telemetry holds when it stops. */
  runWorker(worker: Worker, next: (worker: Worker) => Promise<void>): Promise<void>;
  /** The tracer model-call, tool and approval spans come from. */
  readonly tracer: Tracer;
  readonly metrics: AgentMetrics;
  /** Model-call and tool spans and metrics around the model and tool activities (createAgentActivities calls it). */
  instrumentActivities<T extends { callModel?: (input: CallModelInput) => Promise<CallModelResult>; runTool?: (input: RunToolInput) => Promise<RunToolResult> }>(activities: T): T;
  /** Flushes spans and metrics held in memory (when the providers can). */
  flush(): Promise<void>;
}

interface SdkTracerProvider extends TracerProvider {
  getActiveSpanProcessor(): SpanProcessor;
  resource: Resource;
  forceFlush(): Promise<void>;
}

function isSdkTracerProvider(provider: TracerProvider | undefined): provider is SdkTracerProvider {
  return !!provider && typeof (provider as Partial<SdkTracerProvider>).getActiveSpanProcessor === 'function';
}

let contextManagerChecked = false;
/**
 * Spans nest only with a context manager, and trace context crosses Temporal headers only with a propagator: an
 * application that registered none gets Node's AsyncLocalStorage manager and W3C trace context.
 */
function ensureContextManager(): void {
  if (contextManagerChecked) return;
  contextManagerChecked = true;
  const probe = trace.wrapSpanContext({ traceId: '1'.repeat(32), spanId: '1'.repeat(16), traceFlags: 0 });
  const works = otelContext.with(trace.setSpan(otelContext.active(), probe), () => trace.getSpan(otelContext.active()) === probe);
  if (!works) otelContext.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  if (propagation.fields().length === 0) {
    propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  }
}


export function createTelemetry(options: AgentTelemetryOptions = {}): AgentTelemetry {
  ensureContextManager();
  const tracerProvider = options.tracerProvider ?? trace.getTracerProvider();
  const tracer = tracerProvider.getTracer(INSTRUMENTATION_SCOPE);
  const meter = (options.meterProvider ?? otelMetrics.getMeterProvider()).getMeter(INSTRUMENTATION_SCOPE);
  const metrics = new AgentMetrics(meter);
  const approvals = new ApprovalTracker(tracer, metrics);
  const sdkProvider = isSdkTracerProvider(options.tracerProvider) ? options.tracerProvider : undefined;
  const spanProcessor = options.spanProcessor ?? sdkProvider?.getActiveSpanProcessor();
  const resource = options.resource ?? sdkProvider?.resource ?? Resource.default();
  const instrumentation: ActivityInstrumentation = {
    tracer,
    metrics,
    captureContent: options.captureContent === true,
    rememberToolRequest: (toolUseId, span) => approvals.rememberToolRequest(toolUseId, span),
  };

  // Registered even without a processor: a traced run's workflow spans then go nowhere, without a warning per span.
  const workflowSpanSink = (): InjectedSinks<OpenTelemetryWorkflowExporterSinks>['exporter'] =>
    spanProcessor ? makeWorkflowExporter(spanProcessor, resource) : { export: { fn: () => undefined, callDuringReplay: false } };

  const activityInterceptors: ActivityInterceptorsFactory = (ctx) => {
    const otelInbound = new OpenTelemetryActivityInboundInterceptor(ctx, { tracer });
    const otelOutbound = new OpenTelemetryActivityOutboundInterceptor(ctx);
    let attributes: Record<string, unknown> = {};
    return {
      inbound: {
        execute: (input, next) => {
          const execution = ctx.info.workflowExecution;
          // Activity lines say workflowRunId; conversationId and runId name them as workflow lines do.
          attributes = { ...(execution ? { conversationId: execution.workflowId, runId: execution.runId } : {}), ...activityLogAttributes(input.args[0]) };
          return otelInbound.execute(input, next);
        },
      },
      outbound: {
        getLogAttributes: (input, next) => otelOutbound.getLogAttributes({ ...input, ...attributes }, next),
        getMetricTags: (input, next) => otelOutbound.getMetricTags(input, next),
      },
    };
  };

  const flush = async (): Promise<void> => {
    const flushable = [options.tracerProvider, options.meterProvider, options.spanProcessor] as Array<{ forceFlush?: () => Promise<void> } | undefined>;
    await Promise.all(flushable.map((p) => (typeof p?.forceFlush === 'function' ? p.forceFlush().catch(() => undefined) : undefined)));
  };

  return {
    options,
    tracer,
    metrics,
    flush,
    configureWorker(workerOptions) {
      const interceptors = workerOptions.interceptors ?? {};
      let sinks = { ...workerOptions.sinks } as NonNullable<WorkerOptions['sinks']>;
      // A workflow span exporter of the user's own (makeWorkflowExporter) stays.
      sinks = { ...sinks, exporter: sinks.exporter ?? workflowSpanSink() };
      if ('conversationEvents' in sinks) sinks = approvals.wrapSinks(sinks as unknown as InjectedSinks<ConversationSinks>) as unknown as typeof sinks;
      return {
        ...workerOptions,
        sinks,
        interceptors: {
          ...interceptors,
          client: { ...interceptors.client, workflow: [...((interceptors.client?.workflow as unknown[] | undefined) ?? []), new OpenTelemetryWorkflowClientInterceptor({ tracer })] } as typeof interceptors.client,
          // A prebuilt bundle carries its interceptor modules itself (the worker would ignore these, with a warning).
          ...(workerOptions.workflowBundle ? {} : { workflowModules: [...new Set([...(interceptors.workflowModules ?? []), ...TELEMETRY_WORKFLOW_MODULES])] }),
          activity: [...(interceptors.activity ?? []), activityInterceptors],
        },
      };
    },
    configureReplayWorker(replayOptions) {
      return {
        ...replayOptions,
        sinks: { ...replayOptions.sinks, exporter: workflowSpanSink() },
        interceptors: { ...replayOptions.interceptors, workflowModules: [...(replayOptions.interceptors?.workflowModules ?? []), ...TELEMETRY_WORKFLOW_MODULES] },
      };
    },
    configureClient(clientOptions) {
      const interceptors = clientOptions.interceptors ?? {};
      const workflow = Array.isArray(interceptors.workflow) ? interceptors.workflow : [];
      return { ...clientOptions, interceptors: { ...interceptors, workflow: [...workflow, new OpenTelemetryWorkflowClientInterceptor({ tracer })] } };
    },
    async runWorker(worker, next) {
      try {
        await next(worker);
      } finally {
        await flush();
      }
    },
    instrumentActivities(activities) {
      return {
        ...activities,
        ...(activities.callModel ? { callModel: instrumentCallModel(activities.callModel, instrumentation) } : {}),
        ...(activities.runTool ? { runTool: instrumentRunTool(activities.runTool, instrumentation) } : {}),
      };
    },
  };
}
