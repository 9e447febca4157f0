// Tool results bigger than Temporal's payload limit, through the tests' external storage (a filesystem store): the
// model gets them whole, history holds references, and every reader (the client, queries, a replay) resolves them.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { temporal } from '@temporalio/proto';
import { defineTool } from '../src/tools/define-tool';
import { replayHistory } from '../src/replay';
import { reply, text, toolUse } from '../src/testing';
import { transcriptQuery } from '../src/workflows/definitions';
import { startHarness, storedHistory, toolResultsOf, uniquePrompt, withWorker, type Harness } from './helpers/harness';
import { testStorage, testStorageDir } from './helpers/temporal';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

const FIVE_MB = 5_000_000;
/** 5 MB of text that is not one repeated line, so a cut or a mix-up of two results would show. */
function bigText(bytes: number, seed: string): string {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `${seed} line ${i}: ${'x'.repeat(i % 97)}\n`;
    lines.push(line);
    size += line.length;
  }
  return lines.join('').slice(0, bytes);
}

const REFERENCE_TYPE = 'temporal.api.sdk.v1.ExternalStorageReference';
function isReference(payload: temporal.api.common.v1.IPayload | null | undefined): boolean {
  const messageType = payload?.metadata?.messageType;
  return messageType !== undefined && messageType !== null && Buffer.from(messageType).toString() === REFERENCE_TYPE;
}

test('a 5 MB tool result: the model receives all of it, history holds a reference, the client reads it whole', async () => {
  const content = bigText(FIVE_MB, 'report');
  const tools = [defineTool({ name: 'read_report', description: 'Read the whole report', input: z.object({}), run: () => content })];
  const prompt = uniquePrompt('Read the report');
  harness.fake.addScript({ match: prompt, steps: [reply(toolUse('read_report', {})), reply(text('Read all of it.'))] });
  const { result, transcript, history } = await withWorker(harness, { tools }, async (agent) => {
    const handle = await agent.start({ prompt, tools: ['read_report'] });
    const result = await handle.result();
    return { result, transcript: await handle.transcript(), history: await storedHistory(harness, handle.conversationId) };
  });
  expect(result.status).toBe('completed');

  // The model's second request carries the result, every byte of it.
  const [, second] = harness.fake.requestsFor(prompt);
  const sent = (second!.body as { messages: Array<{ content: unknown }> }).messages.flatMap((m) => toolResultsOf(m.content));
  expect(sent).toHaveLength(1);
  expect(sent[0]!.content).toBe(content);

  // History: the activity's result is a reference, and the whole history stays small.
  const completed = (history.events ?? []).map((e) => e.activityTaskCompletedEventAttributes).filter((a) => a?.result?.payloads?.length);
  const references = completed.filter((a) => isReference(a!.result!.payloads![0]));
  expect(references.length).toBeGreaterThanOrEqual(1);
  const { History } = (await import('@temporalio/proto')).temporal.api.history.v1;
  expect(History.encode(history).finish().length).toBeLessThan(100_000);
  // …and the store holds the bytes (named by their sha256).
  expect(fs.readdirSync(path.join(testStorageDir(), 'sha256')).length).toBeGreaterThan(0);

  // The client's transcript (paged queries; a page over the threshold comes back by reference) is whole.
  const [toolResult] = toolResultsOf(transcript.messages[2]!.content);
  expect(toolResult!.content).toBe(content);
  expect(transcript.messages).toHaveLength(4);
});

test('a query answer over gRPC’s 4 MB limit comes back through the store, and a replay resolves the references', async () => {
  const content = bigText(FIVE_MB, 'dump');
  const tools = [defineTool({ name: 'dump', description: 'Dump everything', input: z.object({}), run: () => content })];
  const prompt = uniquePrompt('Dump everything');
  harness.fake.addScript({ match: prompt, steps: [reply(toolUse('dump', {})), reply(text('Dumped.'))] });
  const { whole, history } = await withWorker(harness, { tools }, async (agent) => {
    const handle = await agent.start({ prompt, tools: ['dump'] });
    await handle.result();
    // The whole transcript in one answer (no page): over 5 MB, past what gRPC carries inline.
    const whole = await harness.temporal.client.workflow.getHandle(handle.conversationId).query(transcriptQuery);
    return { whole, history: await storedHistory(harness, handle.conversationId) };
  });
  expect(toolResultsOf(whole.messages[2]!.content)[0]!.content).toBe(content);

  // The history as the server keeps it (references, as `temporal workflow show` prints it) replays with the store…
  const replayed = await replayHistory(history, { dataConverter: { externalStorage: testStorage() } });
  expect(replayed).toMatchObject({ ok: true });
  // …and without it the replay says what is missing instead of running on a reference.
  const blind = await replayHistory(history);
  expect(blind.ok).toBe(false);
  expect(blind.error).toMatch(/external storage/i);
});
