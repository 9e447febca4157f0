// Traces and metrics of a conversation, received by a real OpenTelemetry Collector (built from the Go module proxy)
// over OTLP/HTTP and read from the file it writes; project metrics scraped from their Prometheus endpoint.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Anthropic from '@anthropic-ai/sdk';
import { Client } from '@temporalio/client';
import { z } from 'zod';
import { AgentClient, type ConversationHandle } from '../src/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { createTelemetry, otlpTelemetry, TELEMETRY_WORKFLOW_MODULES, type AgentTelemetry } from '../src/observability';
import { replayHistory } from '../src/replay';
import { freePort } from '../src/local-servers';
import { startOtelCollector, type OtelCollector } from '../src/otel-collector';
import { reply, text, toolUse } from '../src/testing';
import { defineTool } from '../src/tools/define-tool';
import { createAgentWorker } from '../src/worker';
import { startHarness, uniquePrompt, type Harness } from './helpers/harness';
import { spawnWorkerProcess, stopWorkerProcess } from './helpers/worker-process';
import { testStorage, uniqueTaskQueue } from './helpers/temporal';

jest.setTimeout(180_000);

let harness: Harness;
let collector: OtelCollector;
beforeAll(async () => {
  [harness, collector] = await Promise.all([startHarness(), startOtelCollector()]);
});
afterAll(async () => {
  await collector?.stop();
  await harness?.close();
});

const lookup = defineTool({
  name: 'lookup',
  description: 'Look something up',
  input: z.object({ query: z.string() }),
  run: ({ query }) => `found ${query}`,
});
const sendEmail = defineTool({
  name: 'send_email',
  description: 'Send an email',
  input: z.object({ to: z.email() }),
  needsApproval: true,
  run: ({ to }) => `sent to ${to}`,
});

const quietBundler = { trace() {}, debug() {}, info() {}, warn() {}, error: (message: string) => console.error(message), log() {} };

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
}
interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  status: { code?: number };
  attributes: Record<string, unknown>;
}

function valueOf(v: OtlpValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(valueOf);
  return undefined;
}

/** Every span the collector wrote (OTLP JSON, one export request per line). */
function receivedSpans(file: string): ReceivedSpan[] {
  if (!fs.existsSync(file)) return [];
  const spans: ReceivedSpan[] = [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  // The last line is complete only once the newline after it is written.
  for (const line of lines.slice(0, -1)) {
    if (!line.trim()) continue;
    const batch = JSON.parse(line) as { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }> }> };
    for (const resource of batch.resourceSpans ?? [])
      for (const scope of resource.scopeSpans ?? [])
        for (const span of scope.spans ?? []) {
          const attributes: Record<string, unknown> = {};
          for (const a of (span.attributes as Array<{ key: string; value: OtlpValue }> | undefined) ?? []) attributes[a.key] = valueOf(a.value);
          spans.push({
            traceId: String(span.traceId),
            spanId: String(span.spanId),
            parentSpanId: String(span.parentSpanId ?? ''),
            name: String(span.name),
            status: (span.status as { code?: number }) ?? {},
            attributes,
          });
        }
  }
  return spans;
}

async function spansWhen(what: string, ready: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]> {
  for (let i = 0; i < 300; i++) {
    const spans = receivedSpans(collector.tracesFile);
    if (ready(spans)) return spans;
    await sleep(100);
  }
  throw new Error(`the collector never received ${what}`);
}

/**
 * The conversation's trace is all there: its model-call, tool and approval-wait spans, and every span from each of them
 * up to the client's start. The workflow's spans leave through a sink, the activities' from the worker's exporter,
 * so they reach the collector in batches of their own and in any order.
 */
function traceArrived(all: ReceivedSpan[], conversationId: string): boolean {
  const ours = all.filter((s) => s.attributes['gen_ai.conversation.id'] === conversationId);
  const leaves = [...ours.filter((s) => s.name.startsWith('chat ') || s.name.startsWith('execute_tool ')), ...all.filter((s) => s.name === 'approval_wait send_email' && s.traceId === ours[0]?.traceId)];
  if (leaves.filter((s) => s.name.startsWith('chat ')).length < 2 || leaves.filter((s) => s.name.startsWith('execute_tool ')).length < 3 || !leaves.some((s) => s.name.startsWith('approval_wait'))) return false;
  const byId = new Map(all.map((s) => [s.spanId, s]));
  return leaves.every((leaf) => {
    let span: ReceivedSpan | undefined = leaf;
    while (span && span.name !== 'StartWorkflow:agentConversation') span = byId.get(span.parentSpanId);
    return span !== undefined;
  });
}

async function waitForPending(handle: ConversationHandle, count: number) {
  for (let i = 0; i < 400; i++) {
    const pending = await handle.pending();
    if (pending.length >= count) return pending;
    await sleep(50);
  }
  throw new Error('no pending approval appeared');
}

/** A conversation with two parallel lookups and a gated email, approved by alice; returns its id. */
async function conversationWithToolsAndApproval(telemetry: AgentTelemetry, providers: ReturnType<typeof otlpTelemetry>, prompt: string, options: { serverErrorBeforeLastReply?: boolean } = {}): Promise<string> {
  harness.fake.addScript({
    match: prompt,
    steps: [
      reply(text('Looking both up and sending.'), toolUse('lookup', { query: 'a' }), toolUse('lookup', { query: 'b' }), toolUse('send_email', { to: 'ada@example.com' })),
      ...(options.serverErrorBeforeLastReply ? [{ fault: '500' as const }] : []),
      reply(text('All done.')),
    ],
  });
  const taskQueue = uniqueTaskQueue('otel');
  // No tracer provider of its own: createAgentActivities({ telemetry }) sends the SDK's call spans to telemetry's.
  const anthropic = new Anthropic({ apiKey: 'sk-ant-test', baseURL: harness.fake.baseURL, maxRetries: 0 });
  const worker = await createAgentWorker({
    connection: harness.temporal.nativeConnection,
    taskQueue,
    anthropic,
    tools: [lookup, sendEmail],
    externalStorage: testStorage(),
    model: { heartbeatIntervalMs: 1_000 },
    telemetry,
  });
  const client = new Client(telemetry.configureClient({ connection: harness.temporal.connection, namespace: 'default', dataConverter: { externalStorage: testStorage() } }));
  const agent = new AgentClient({ client, taskQueue });
  return worker.runUntil(async () => {
    const handle = await agent.start({ prompt, tools: ['lookup', 'send_email'] });
    const [pending] = await waitForPending(handle, 1);
    await handle.approve(pending!.toolUseId, { by: 'alice@example.com' });
    await handle.result();
    await telemetry.flush();
    return handle.conversationId;
  });
}

describe('traces', () => {
  test('a conversation is one trace: client start → workflow → activities → GenAI model-call and tool spans, the approval wait under the call that asked; no content by default', async () => {
    const providers = otlpTelemetry({ endpoint: collector.otlpHttpEndpoint, exportEachSpan: true, serviceName: 'obs-test' });
    const telemetry = createTelemetry(providers);
    const conversationId = await conversationWithToolsAndApproval(telemetry, providers, uniquePrompt('Trace this'));
    const spans = await spansWhen('the whole trace', (all) => traceArrived(all, conversationId));
    await providers.shutdown();
    if (process.env.OBS_DEBUG) fs.writeFileSync('/tmp/obs-spans.json', JSON.stringify(spans.map((s) => ({ n: s.name, id: s.spanId, p: s.parentSpanId, t: s.traceId.slice(0, 6), a: s.attributes })), null, 1));

    const start = spans.find((s) => s.name === 'StartWorkflow:agentConversation' && spans.some((w) => w.name === 'RunWorkflow:agentConversation' && w.parentSpanId === s.spanId))!;
    expect(start).toBeDefined();
    const trace = spans.filter((s) => s.traceId === start.traceId);
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const parentOf = (s: ReceivedSpan) => byId.get(s.parentSpanId);
    const run = trace.find((s) => s.name === 'RunWorkflow:agentConversation')!;
    expect(parentOf(run)).toBe(start);

    // Model calls: chat spans inside RunActivity:callModel, inside StartActivity:callModel, inside the workflow.
    const chats = trace.filter((s) => s.attributes['gen_ai.operation.name'] === 'chat' && s.name.startsWith('chat '));
    expect(chats).toHaveLength(2);
    for (const chat of chats) {
      expect(parentOf(chat)?.name).toBe('RunActivity:callModel');
      expect(parentOf(parentOf(chat)!)?.name).toBe('StartActivity:callModel');
      expect(parentOf(parentOf(parentOf(chat)!)!)).toBe(run);
      expect(chat.attributes).toMatchObject({
        'gen_ai.provider.name': 'anthropic',
        'gen_ai.system': 'anthropic',
        'gen_ai.conversation.id': conversationId,
        'gen_ai.request.max_tokens': expect.any(Number),
        'gen_ai.response.id': expect.any(String),
        'gen_ai.usage.input_tokens': expect.any(Number),
        'gen_ai.usage.output_tokens': expect.any(Number),
        'gen_ai.usage.cache_read.input_tokens': expect.any(Number),
        'gen_ai.usage.cache_creation.input_tokens': expect.any(Number),
      });
      expect(chat.attributes['gen_ai.request.model']).toEqual(expect.any(String));
      expect(chat.attributes['gen_ai.response.model']).toEqual(expect.any(String));
      // The SDK's own call span is the child of ours, not a second root.
      expect(trace.some((s) => s.name === 'anthropic.messages.create' && s.parentSpanId === chat.spanId)).toBe(true);
    }
    expect(chats.map((c) => c.attributes['gen_ai.response.finish_reasons']).sort()).toEqual([['end_turn'], ['tool_use']]);

    // Tools: three execute_tool spans (two parallel lookups and the approved email), with names and call ids.
    const tools = trace.filter((s) => s.attributes['gen_ai.operation.name'] === 'execute_tool');
    expect(tools.map((t) => t.name).sort()).toEqual(['execute_tool lookup', 'execute_tool lookup', 'execute_tool send_email']);
    for (const tool of tools) {
      expect(tool.attributes['gen_ai.tool.call.id']).toMatch(/^toolu_/);
      expect(parentOf(tool)?.name).toBe('RunActivity:runTool');
      expect(parentOf(parentOf(parentOf(tool)!)!)).toBe(run);
    }
    expect(new Set(tools.map((t) => t.attributes['gen_ai.tool.call.id'])).size).toBe(3);

    // The approval wait: a span under the model call that asked for the tool, with the decision.
    const email = tools.find((t) => t.name === 'execute_tool send_email')!;
    const wait = trace.find((s) => s.name === 'approval_wait send_email')!;
    expect(wait.attributes).toMatchObject({ 'gen_ai.tool.call.id': email.attributes['gen_ai.tool.call.id'], 'durable_claude.approval.decision': 'approved', 'durable_claude.approval.decided_by': 'alice@example.com' });
    expect(parentOf(wait)).toBe(chats.find((c) => (c.attributes['gen_ai.response.finish_reasons'] as string[])[0] === 'tool_use'));

    // Content is off by default, on our spans and the SDK's.
    const keys = trace.flatMap((s) => Object.keys(s.attributes));
    for (const key of ['gen_ai.input.messages', 'gen_ai.output.messages', 'gen_ai.tool.call.arguments', 'gen_ai.tool.call.result', 'gen_ai.system_instructions']) expect(keys).not.toContain(key);

    // The traced run replays with the telemetry's workflow module (as every worker bundles it).
    const history = await harness.temporal.client.workflow.getHandle(conversationId).fetchHistory();
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows'), workflowInterceptorModules: [...TELEMETRY_WORKFLOW_MODULES], logger: quietBundler });
    expect(await replayHistory(history, { workflowBundle: { code } })).toMatchObject({ ok: true });
  });

  test('captureContent records the prompt, the completion, tool arguments and results', async () => {
    const providers = otlpTelemetry({ endpoint: collector.otlpHttpEndpoint, exportEachSpan: true, captureContent: true });
    const telemetry = createTelemetry(providers);
    const prompt = uniquePrompt('Trace with content');
    const conversationId = await conversationWithToolsAndApproval(telemetry, providers, prompt);
    const spans = await spansWhen('the content spans', (all) => all.filter((s) => s.attributes['gen_ai.conversation.id'] === conversationId && s.name.startsWith('chat ')).length === 2);
    await providers.shutdown();
    const ours = spans.filter((s) => s.attributes['gen_ai.conversation.id'] === conversationId);
    const chats = ours.filter((s) => s.name.startsWith('chat '));
    expect(chats.map((c) => String(c.attributes['gen_ai.output.messages'])).join('\n')).toContain('All done.');
    const lookups = ours.filter((s) => s.name === 'execute_tool lookup');
    expect(lookups.map((t) => t.attributes['gen_ai.tool.call.arguments']).sort()).toEqual(['{"query":"a"}', '{"query":"b"}']);
    expect(lookups.map((t) => String(t.attributes['gen_ai.tool.call.result'])).join()).toContain('found a');
  });
});

describe('metrics', () => {
  test('after a conversation, the Prometheus endpoint shows model calls (a failed one too), retries, tokens, tool calls and the approval wait with their labels', async () => {
    const port = await freePort();
    const providers = otlpTelemetry({ endpoint: collector.otlpHttpEndpoint, exportEachSpan: true, prometheus: `127.0.0.1:${port}` });
    const telemetry = createTelemetry(providers);
    // The last model call fails once with a 500 and is retried by Temporal.
    await conversationWithToolsAndApproval(telemetry, providers, uniquePrompt('Count this'), { serverErrorBeforeLastReply: true });
    const scrape = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    await providers.shutdown();
    if (process.env.OBS_DEBUG) fs.writeFileSync('/tmp/obs-scrape.txt', scrape);
    const sample = (name: string, labels: Record<string, string>): number | undefined => {
      for (const line of scrape.split('\n')) {
        if (!line.startsWith(`${name}{`)) continue;
        if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return undefined;
    };
    expect(sample('durable_claude_model_calls_total', { outcome: 'ok', stop_reason: 'tool_use' })).toBe(1);
    expect(sample('durable_claude_model_calls_total', { outcome: 'ok', stop_reason: 'end_turn' })).toBe(1);
    expect(sample('durable_claude_model_calls_total', { outcome: 'error' })).toBe(1);
    expect(sample('durable_claude_activity_retries_total', { activity: 'callModel' })).toBe(1);
    expect(sample('durable_claude_tool_calls_total', { tool: 'lookup', outcome: 'ok' })).toBe(2);
    expect(sample('durable_claude_tool_calls_total', { tool: 'send_email', outcome: 'ok' })).toBe(1);
    expect(sample('durable_claude_model_tokens_total', { kind: 'output' })).toBeGreaterThan(0);
    expect(sample('durable_claude_model_tokens_total', { kind: 'input' })).toBeGreaterThan(0);
    expect(sample('durable_claude_approval_wait_time_count', { tool: 'send_email', decision: 'approved' })).toBe(1);
    expect(sample('durable_claude_approval_pending', { tool: 'send_email' })).toBe(0);
    expect(sample('durable_claude_model_time_to_first_token_count', { gen_ai_request_model: 'claude-sonnet-5-5' })).toBe(2);
    expect(sample('gen_ai_client_token_usage_count', { gen_ai_token_type: 'output' })).toBe(2);
    expect(sample('gen_ai_client_operation_duration_count', { gen_ai_operation_name: 'execute_tool', gen_ai_tool_name: 'lookup' })).toBe(2);
  });
});

describe('a worker process', () => {
  test("serves the Temporal Runtime's metrics and the project's on Prometheus endpoints, and logs JSON lines with the conversation, run, turn and tool_use id", async () => {
    const [temporalPort, projectPort] = [await freePort(), await freePort()];
    const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'obs-logs-')), 'worker.jsonl');
    const taskQueue = uniqueTaskQueue('otel-process');
    const prompt = uniquePrompt('Observe the process');
    harness.fake.addScript({ match: prompt, steps: [reply(text('Looking.'), toolUse('lookup', { query: 'a' })), reply(text('Found it.'))] });
    const child = await spawnWorkerProcess(path.join(__dirname, 'observability-worker-process.ts'), {
      LOG_FILE: logFile,
      TEMPORAL_PROMETHEUS: `127.0.0.1:${temporalPort}`,
      PROJECT_PROMETHEUS: `127.0.0.1:${projectPort}`,
      TEMPORAL_ADDRESS: harness.temporal.address,
      TASK_QUEUE: taskQueue,
      FAKE_API: harness.fake.baseURL,
    });
    try {
      const agent = new AgentClient({ client: harness.temporal.client, taskQueue });
      const handle = await agent.start({ prompt, tools: ['lookup'] });
      await handle.result();
      const temporalMetrics = await (await fetch(`http://127.0.0.1:${temporalPort}/metrics`)).text();
      const projectMetrics = await (await fetch(`http://127.0.0.1:${projectPort}/metrics`)).text();
      expect(temporalMetrics).toMatch(new RegExp(`^temporal_activity_execution_latency\\w*\\{[^}]*task_queue="${taskQueue}"`, 'm'));
      expect(temporalMetrics).toMatch(new RegExp(`^temporal_workflow_completed\\{[^}]*task_queue="${taskQueue}"`, 'm'));
      expect(projectMetrics).toMatch(/^durable_claude_tool_calls_total\{[^}]*tool="lookup"[^}]*\} 1$/m);
      expect(await stopWorkerProcess(child, 'SIGTERM')).toBe(true);

      const lines = fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
      const toolLine = lines.find((l) => l.message === 'Looking up');
      expect(toolLine).toMatchObject({ level: 'INFO', conversationId: handle.conversationId, runId: expect.any(String), turn: 1, toolUseId: expect.stringMatching(/^toolu_/), toolName: 'lookup', query: 'a' });
      // The workflow's own lines (logged from the workflow sandbox) carry the turn of the moment.
      expect(lines.find((l) => l.message === 'Workflow started' && l.conversationId === handle.conversationId)).not.toHaveProperty('turn');
      expect(lines.find((l) => l.message === 'Workflow completed' && l.conversationId === handle.conversationId)).toMatchObject({ conversationId: handle.conversationId, runId: toolLine!.runId, turn: 2 });
    } finally {
      await stopWorkerProcess(child, 'SIGTERM');
    }
  });
});
