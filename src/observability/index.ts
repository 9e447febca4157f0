// Observability: traces (Temporal's OpenTelemetry interceptors plus GenAI model-call and tool spans), project metrics
// through OpenTelemetry, and structured logs. CONTRACT (issue 19): the names and signatures below are what the
// worker, AgentPlugin and the client call; the implementation behind them is filled in by the observability work.
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type { ClientOptions } from '@temporalio/client';
import type { Worker, WorkerOptions } from '@temporalio/worker';

export interface AgentTelemetryOptions {
  /** Where spans go. Default: the globally registered provider (off when the application registered none). */
  tracerProvider?: TracerProvider;
  /** Where project metrics go. Default: the globally registered provider (off when none). */
  meterProvider?: MeterProvider;
  /** Record prompts, completions, tool inputs and results on spans. Off by default: they may hold personal data. */
  captureContent?: boolean;
}

/**
 * What a worker and a client take to be observed. AgentPlugin (and createAgentWorker) run these hooks inside their
 * own; activities get the same object through createAgentActivities({ telemetry }).
 */
export interface AgentTelemetry {
  readonly options: Readonly<AgentTelemetryOptions>;
  /** Adds interceptors, workflow interceptor modules and sinks to a worker's options. */
  configureWorker(options: WorkerOptions): WorkerOptions;
  /** Adds interceptors (trace context from the backend call that starts a conversation) to a client's options. */
  configureClient(options: ClientOptions): ClientOptions;
  /** Runs the worker; flushes what telemetry holds when it stops. */
  runWorker(worker: Worker, next: (worker: Worker) => Promise<void>): Promise<void>;
}

export function createTelemetry(options: AgentTelemetryOptions = {}): AgentTelemetry {
  return {
    options,
    configureWorker: (workerOptions) => workerOptions,
    configureClient: (clientOptions) => clientOptions,
    runWorker: (worker, next) => next(worker),
  };
}

/** Telemetry as the environment asks for it (OTEL_EXPORTER_OTLP_ENDPOINT, …), or undefined when it asks for none. */
export function telemetryFromEnv(): AgentTelemetryOptions | undefined {
  return undefined;
}
