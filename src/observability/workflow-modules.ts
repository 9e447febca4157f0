// The workflow interceptor module telemetry adds, apart from the rest of observability (which loads the
// OpenTelemetry SDK): replay and bundling need only its path.

/**
 * Temporal's OpenTelemetry workflow interceptors, on only for runs started with trace context (see
 * workflow-interceptors.ts for why), and the turn on log lines. Every worker bundles it, with or without telemetry.
 */
export const TELEMETRY_WORKFLOW_MODULES: readonly string[] = [require.resolve('./workflow-interceptors')];
