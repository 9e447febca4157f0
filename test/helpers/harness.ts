// One fake Messages API and one Temporal connection per test file; a worker per test on its own task queue.
import type { BetaToolResultBlockParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { defaultPayloadConverter, type ExternalStorage } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Worker } from '@temporalio/worker';
import type { CallModelInput } from '../../src/activities/types';
import { AgentClient } from '../../src/client';
import type { AgentTool } from '../../src/tools/define-tool';
import { FakeMessagesApi } from '../../src/testing';
import type { EventStore } from '../../src/streaming/event-store';
import type { AgentWorkerOptions } from '../../src/worker';
import { connectTestTemporal, createTestWorker, fakeAnthropic, uniqueTaskQueue, type TestTemporal } from './temporal';

export interface Harness {
  temporal: TestTemporal;
  fake: FakeMessagesApi;
  close(): Promise<void>;
}

export async function startHarness(fakeOptions: Parameters<typeof FakeMessagesApi.start>[0] = {}): Promise<Harness> {
  const temporal = await connectTestTemporal();
  const fake = await FakeMessagesApi.start(fakeOptions);
  return {
    temporal,
    fake,
    async close() {
      await fake.close();
      await temporal.close();
    },
  };
}

export interface WorkerSetup extends Partial<Omit<AgentWorkerOptions, 'connection' | 'tools' | 'externalStorage'>> {
  tools?: AgentTool[];
  /** Default: the tests' filesystem store (testStorage()); `false`: a worker without external storage. */
  externalStorage?: ExternalStorage | false;
}

/** Runs `fn` while a worker serves a fresh task queue; the worker shuts down after. */
export async function withWorker<T>(
  harness: Harness,
  setup: WorkerSetup,
  fn: (agent: AgentClient, worker: Worker) => Promise<T>,
): Promise<T> {
  const taskQueue = setup.taskQueue ?? uniqueTaskQueue();
  const worker = await createTestWorker(harness.temporal, {
    ...setup,
    taskQueue,
    tools: setup.tools ?? [],
    anthropic: setup.anthropic ?? fakeAnthropic(harness.fake.baseURL),
  });
  // The worker publishes live output to `setup.events` (when given) and the client reads it from there.
  const agent = new AgentClient({ client: harness.temporal.client, taskQueue, ...(setup.events ? { events: setup.events as EventStore } : {}) });
  return worker.runUntil(fn(agent, worker));
}

/** A unique prompt, so each test's conversation matches only its own script in the shared fake. */
export function uniquePrompt(text: string): string {
  return `${text} [${Math.random().toString(36).slice(2, 10)}]`;
}

/**
 * Bytes of a conversation's Temporal history: protobuf-encoded, as the server stores and counts it against its
 * 50 MB limit, and as JSON (what `temporal workflow show --output json` prints, payloads in base64).
 */
export async function historyBytes(harness: Harness, workflowId: string): Promise<{ proto: number; json: number }> {
  const history = await storedHistory(harness, workflowId);
  return { proto: temporal.api.history.v1.History.encode(history).finish().length, json: Buffer.byteLength(JSON.stringify(history)) };
}

/**
 * A run's history as the server holds it: external-storage references left as they are (fetchHistory() resolves
 * them through the client's storage, as every reader should).
 */
export async function storedHistory(harness: Harness, workflowId: string, runId?: string): Promise<temporal.api.history.v1.History> {
  const events: temporal.api.history.v1.IHistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await harness.temporal.connection.workflowService.getWorkflowExecutionHistory({
      namespace: harness.temporal.client.options.namespace,
      execution: { workflowId, ...(runId ? { runId } : {}) },
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return temporal.api.history.v1.History.create({ events });
}

/** The inputs of a conversation's model calls, decoded from the ActivityTaskScheduled events of its history. */
export async function modelCallInputs(harness: Harness, workflowId: string): Promise<CallModelInput[]> {
  const history = await harness.temporal.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? [])
    .map((event) => event.activityTaskScheduledEventAttributes)
    .filter((scheduled) => scheduled?.activityType?.name === 'callModel')
    .map((scheduled) => defaultPayloadConverter.fromPayload<CallModelInput>(scheduled!.input!.payloads![0]!));
}

/** The tool_result blocks of a message's content (a user message that answers a turn's tool calls). */
export function toolResultsOf(content: unknown): BetaToolResultBlockParam[] {
  return (Array.isArray(content) ? content : []).filter((b): b is BetaToolResultBlockParam => b?.type === 'tool_result');
}
