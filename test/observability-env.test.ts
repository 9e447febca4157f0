// telemetryFromEnv: the standard OpenTelemetry variables (and ours) decide what a worker process exports.
import { telemetryFromEnv } from '../src/observability';

test('no endpoint and no Prometheus address: no telemetry; OTEL_SDK_DISABLED wins over an endpoint', () => {
  expect(telemetryFromEnv({})).toBeUndefined();
  expect(telemetryFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318', OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
});

test('an OTLP endpoint gives tracer and meter providers; content capture is opt-in', async () => {
  const off = telemetryFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318', OTEL_SERVICE_NAME: 'fleet-worker' }) as NonNullable<ReturnType<typeof telemetryFromEnv>> & { shutdown(): Promise<void> };
  expect(off.tracerProvider).toBeDefined();
  expect(off.meterProvider).toBeDefined();
  expect(off.resource?.attributes['service.name']).toBe('fleet-worker');
  expect(off.captureContent).toBeUndefined();
  const on = telemetryFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318', DURABLE_CLAUDE_CAPTURE_CONTENT: 'true' }) as typeof off;
  expect(on.captureContent).toBe(true);
  await Promise.all([off.shutdown(), on.shutdown()]);
});

test('a Prometheus address that is not host:port is refused with the value', () => {
  expect(() => telemetryFromEnv({ DURABLE_CLAUDE_METRICS_PROMETHEUS_ADDRESS: 'localhost' })).toThrow(/host:port.*"localhost"/);
});
