// Turning telemetry on for a fleet whose conversations started without it: every recorded history replays with the
// telemetry's workflow interceptor modules in the bundle (they add no command and no yield on these histories), even
// when its start carried trace context (a client with Temporal's OpenTelemetry interceptor sends it with any tracer):
// without the run's patch marker the interceptors stay off.
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
// Imported here, in Node, for its classes; the workflow module loads it only for traced runs.
import * as OpenTelemetryWorkflow from '@temporalio/interceptors-opentelemetry/lib/workflow';
import { TELEMETRY_WORKFLOW_MODULES } from '../src/observability';
import { OPEN_TELEMETRY_METHODS } from '../src/observability/workflow-interceptors';
import { parseHistory, replayHistory } from '../src/replay';
import { FIXTURES_DIR } from './helpers/fixtures';

jest.setTimeout(300_000);

const fixtures = fs.readdirSync(FIXTURES_DIR).filter((f) => f.endsWith('.json')).sort();

let code: string;
beforeAll(async () => {
  ({ code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows'), workflowInterceptorModules: [...TELEMETRY_WORKFLOW_MODULES], logger: { trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => console.error(m), log() {} } }));
});

test('every recorded history replays on a worker with telemetry', async () => {
  expect(fixtures.length).toBeGreaterThan(10);
  const failures: string[] = [];
  for (const file of fixtures) {
    const outcome = await replayHistory(parseHistory(fs.readFileSync(path.join(FIXTURES_DIR, file), 'utf8')), { workflowBundle: { code } });
    if (!outcome.ok) failures.push(`${file}: ${'error' in outcome ? String((outcome as { error: unknown }).error) : 'failed'}`);
  }
  expect(failures).toEqual([]);
});

test('a history whose start carried trace context, recorded without the interceptors, replays with them off', async () => {
  const json = (text: string) => Buffer.from(text).toString('base64');
  const traceContext = { metadata: { encoding: json('json/plain') }, data: json(JSON.stringify({ traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` })) };
  // The fixtures Temporal's interceptors broke on replay were those with updates and approvals.
  const withHandlers = fixtures.filter((file) => /^(approval-|chat-|continue-as-new-chat)/.test(file));
  expect(withHandlers.length).toBeGreaterThan(5);
  const failures: string[] = [];
  for (const file of withHandlers) {
    const recorded = JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, file), 'utf8')) as { events: Array<Record<string, { header?: { fields?: Record<string, unknown> } }>> };
    const started = recorded.events[0]!.workflowExecutionStartedEventAttributes!;
    started.header = { fields: { ...started.header?.fields, '_tracer-data': traceContext } };
    const outcome = await replayHistory(parseHistory(JSON.stringify(recorded)), { workflowBundle: { code } });
    if (!outcome.ok) failures.push(`${file}: ${'error' in outcome ? String((outcome as { error: unknown }).error) : 'failed'}`);
  }
  expect(failures).toEqual([]);
});

test("the interceptor gates name every method of Temporal's OpenTelemetry workflow interceptors (they are built lazily)", () => {
  const otel = OpenTelemetryWorkflow as unknown as Record<string, { prototype: object }>;
  const methodsOf = (name: string) => {
    const names: string[] = [];
    for (let proto: object | null = otel[name]!.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
      names.push(...Object.getOwnPropertyNames(proto).filter((n) => n !== 'constructor'));
    }
    return names.sort();
  };
  expect([...OPEN_TELEMETRY_METHODS.inbound].sort()).toEqual(methodsOf('OpenTelemetryInboundInterceptor'));
  expect([...OPEN_TELEMETRY_METHODS.outbound].sort()).toEqual(methodsOf('OpenTelemetryOutboundInterceptor'));
  expect([...OPEN_TELEMETRY_METHODS.internals].sort()).toEqual(methodsOf('OpenTelemetryInternalsInterceptor'));
});
