// Ready-made telemetry for a worker process: OTLP/HTTP export of spans and metrics, a Prometheus endpoint for the
// project's metrics, and the Temporal runtime's own Prometheus endpoint; telemetryFromEnv reads the usual variables.
import type { Logger } from '@temporalio/common';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, BasicTracerProvider, SimpleSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { Runtime } from '@temporalio/worker';
import type { AgentTelemetryOptions } from './index';

export interface OtlpTelemetryOptions {
  /** The collector's OTLP/HTTP base address, e.g. http://localhost:4318 (/v1/traces and /v1/metrics are added). */
  endpoint?: string;
  /** service.name of the resource. Default durable-claude-worker. */
  serviceName?: string;
  /** Also serve the project's metrics for Prometheus to scrape, on host:port. */
  prometheus?: string;
  /** How often metrics are pushed over OTLP. Default 10 s. */
  metricsIntervalMs?: number;
  /** Export each span as it ends instead of in batches (tests). Default false. */
  exportEachSpan?: boolean;
  captureContent?: boolean;
}

function hostAndPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  const port = Number(address.slice(at + 1));
  if (at < 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`Expected host:port for a Prometheus address, got ${JSON.stringify(address)}`);
  return { host: address.slice(0, at).replace(/^\[(.*)\]$/, '$1') || '0.0.0.0', port };
}

/** A Prometheus exporter (a MetricReader) serving /metrics on `address` (host:port). */
export function prometheusMetrics(address: string): PrometheusExporter {
  return new PrometheusExporter(hostAndPort(address));
}

/** Providers that send spans and metrics to an OpenTelemetry Collector over OTLP/HTTP (and/or serve Prometheus). */
export function otlpTelemetry(options: OtlpTelemetryOptions): AgentTelemetryOptions & { tracerProvider?: BasicTracerProvider; meterProvider?: MeterProvider; shutdown(): Promise<void> } {
  const resource = Resource.default().merge(new Resource({ [ATTR_SERVICE_NAME]: options.serviceName ?? 'durable-claude-worker' }));
  const base = options.endpoint?.replace(/\/+$/, '');
  let spanProcessor: SpanProcessor | undefined;
  let tracerProvider: BasicTracerProvider | undefined;
  if (base) {
    const exporter = new OTLPTraceExporter({ url: `${base}/v1/traces` });
    spanProcessor = options.exportEachSpan ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
    tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  }
  const readers: MetricReader[] = [];
  if (base) readers.push(new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }), exportIntervalMillis: options.metricsIntervalMs ?? 10_000 }));
  if (options.prometheus) readers.push(prometheusMetrics(options.prometheus));
  const meterProvider = readers.length > 0 ? new MeterProvider({ resource, readers }) : undefined;
  return {
    ...(tracerProvider ? { tracerProvider, spanProcessor: spanProcessor!, resource } : {}),
    ...(meterProvider ? { meterProvider } : {}),
    ...(options.captureContent ? { captureContent: true } : {}),
    async shutdown() {
      await Promise.all([tracerProvider?.shutdown(), meterProvider?.shutdown()]);
    },
  };
}

function flag(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}

/**
 * Telemetry as the environment asks for it, or undefined when it asks for none:
 * OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/HTTP base address; OTEL_SDK_DISABLED=true turns it off), OTEL_SERVICE_NAME,
 * DURABLE_CLAUDE_METRICS_PROMETHEUS_ADDRESS (host:port for the project's metrics), DURABLE_CLAUDE_CAPTURE_CONTENT.
 */
export function telemetryFromEnv(env: NodeJS.ProcessEnv = process.env): AgentTelemetryOptions | undefined {
  if (flag(env.OTEL_SDK_DISABLED)) return undefined;
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || undefined;
  const prometheus = env.DURABLE_CLAUDE_METRICS_PROMETHEUS_ADDRESS?.trim() || undefined;
  if (!endpoint && !prometheus) return undefined;
  return otlpTelemetry({
    ...(endpoint ? { endpoint } : {}),
    ...(prometheus ? { prometheus } : {}),
    ...(env.OTEL_SERVICE_NAME ? { serviceName: env.OTEL_SERVICE_NAME } : {}),
    captureContent: flag(env.DURABLE_CLAUDE_CAPTURE_CONTENT),
  });
}

export interface TemporalMetricsOptions {
  /** host:port for the Temporal SDK's own Prometheus endpoint (worker slots, poll latencies, activity results…). */
  prometheus?: string;
  /** The Runtime's logger, e.g. jsonLogger(). */
  logger?: Logger;
}

/**
 * Installs the Temporal Runtime with its Prometheus endpoint (and logger). Once per process, before any worker,
 * connection or client: Runtime.install throws after the Runtime was used. Reads
 * DURABLE_CLAUDE_TEMPORAL_PROMETHEUS_ADDRESS when no address is given; does nothing when there is neither.
 */
export function installTemporalMetrics(options: TemporalMetricsOptions = {}, env: NodeJS.ProcessEnv = process.env): boolean {
  const prometheus = options.prometheus ?? (env.DURABLE_CLAUDE_TEMPORAL_PROMETHEUS_ADDRESS?.trim() || undefined);
  if (!prometheus && !options.logger) return false;
  Runtime.install({
    ...(options.logger ? { logger: options.logger } : {}),
    ...(prometheus ? { telemetryOptions: { metrics: { prometheus: { bindAddress: prometheus } } } } : {}),
  });
  return true;
}
