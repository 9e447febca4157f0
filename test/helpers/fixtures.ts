// Recorded histories of every scenario, replayed by test/replay.test.ts against the current workflow code on every
// run: a change that would break running conversations fails CI. Fixtures are written only when asked, with
// DURABLE_CLAUDE_RECORD_FIXTURES=1 (a new scenario, or a change meant to be incompatible, with patched()); a missing
// one fails its test, since a fixture recorded from the code under test would replay trivially.
// Also: reading a conversation's history, so tests prove order and overlap from its events rather than from clocks.
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';
import type { RunToolInput } from '../../src/activities/types';

export const FIXTURES_DIR = path.join(__dirname, '..', 'fixtures', 'histories');

export const recordingFixtures = (): boolean => process.env.DURABLE_CLAUDE_RECORD_FIXTURES === '1';

export async function recordHistoryFixture(client: Client, name: string, workflowId: string): Promise<void> {
  const file = path.join(FIXTURES_DIR, `${name}.json`);
  if (!recordingFixtures()) {
    if (fs.existsSync(file)) return;
    const { testPath, currentTestName } = expect.getState();
    const testFile = testPath ? path.relative(process.cwd(), testPath) : '<test file>';
    // -t takes a regular expression; the name is quoted for a POSIX shell.
    const pattern = `^${(currentTestName ?? name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
    throw new Error(
      `No recorded history ${path.relative(process.cwd(), file)}. Record it from a run you have checked, then commit it: ` +
        `DURABLE_CLAUDE_RECORD_FIXTURES=1 npx jest ${testFile} -t '${pattern.replace(/'/g, `'\\''`)}'`,
    );
  }
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  fs.mkdirSync(FIXTURES_DIR, { recursive: true });
  // Proto3 JSON, the format of `temporal workflow show --output json`.
  fs.writeFileSync(file, `${historyToJSON(history)}\n`);
}

/** Every run of a conversation that continued as new, oldest first, one fixture each: `<name>-run<N>.json`. */
export async function recordChainFixtures(client: Client, name: string, workflowId: string): Promise<number> {
  const runIds: string[] = [];
  // From the latest run back, each started event naming the run it continued.
  for (let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId; runId; ) {
    runIds.unshift(runId);
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  if (!recordingFixtures()) {
    // How many runs a chain takes can vary with timing; the recorded chain is the one replayed.
    const first = path.join(FIXTURES_DIR, `${name}-run1.json`);
    if (!fs.existsSync(first)) throw new Error(`No recorded history ${path.relative(process.cwd(), first)}. Record it: DURABLE_CLAUDE_RECORD_FIXTURES=1 npx jest <this test file> -t '<this test>'`);
    return runIds.length;
  }
  for (const file of fs.readdirSync(FIXTURES_DIR).filter((f) => f.startsWith(`${name}-run`))) fs.rmSync(path.join(FIXTURES_DIR, file));
  for (const [index, runId] of runIds.entries()) {
    const file = path.join(FIXTURES_DIR, `${name}-run${index + 1}.json`);
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    fs.mkdirSync(FIXTURES_DIR, { recursive: true });
    fs.writeFileSync(file, `${historyToJSON(history)}\n`);
  }
  return runIds.length;
}

export type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export async function historyEventsOf(client: Client, workflowId: string): Promise<HistoryEvent[]> {
  return (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
}

export const eventIdOf = (event: HistoryEvent): number => Number(event.eventId);

/** Payloads as the client's default data converter reads them. */
export function decodePayloads(payloads: temporal.api.common.v1.IPayloads | null | undefined): unknown[] {
  return (payloads?.payloads ?? []).map((payload) => defaultPayloadConverter.fromPayload(payload));
}

/**
 * One runTool activity of a history. Event ids are positions in history; `startedEventId` is written lazily (with the
 * completion) for activities with a retry policy, so only scheduling and completion positions say what came when.
 */
export interface ToolActivity {
  input: RunToolInput;
  scheduledEventId: number;
  /** The WorkflowTaskCompleted event whose commands scheduled it: calls with the same one were issued together. */
  scheduledByWorkflowTask: number;
  /** Server times in milliseconds since the epoch, with the fraction kept (a Date would round to the millisecond). */
  startedEventTimeMs?: number;
  completedEventId?: number;
  completedEventTimeMs?: number;
}

const timeMsOf = (event: HistoryEvent): number | undefined =>
  event.eventTime ? Number(event.eventTime.seconds) * 1000 + (event.eventTime.nanos ?? 0) / 1e6 : undefined;

export function toolActivitiesOf(events: HistoryEvent[]): ToolActivity[] {
  const activities = new Map<number, ToolActivity>();
  for (const event of events) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name === 'runTool') {
      activities.set(eventIdOf(event), {
        input: decodePayloads(scheduled.input)[0] as RunToolInput,
        scheduledEventId: eventIdOf(event),
        scheduledByWorkflowTask: Number(scheduled.workflowTaskCompletedEventId),
      });
    }
    const started = event.activityTaskStartedEventAttributes;
    const startedActivity = started && activities.get(Number(started.scheduledEventId));
    if (startedActivity) startedActivity.startedEventTimeMs = timeMsOf(event);
    const completed = event.activityTaskCompletedEventAttributes;
    const completedActivity = completed && activities.get(Number(completed.scheduledEventId));
    if (completedActivity) {
      completedActivity.completedEventId = eventIdOf(event);
      completedActivity.completedEventTimeMs = timeMsOf(event);
    }
  }
  return [...activities.values()];
}
