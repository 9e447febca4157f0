// s3Storage against a real S3-compatible server (gofakes3, built from the Go module proxy by `npm run
// temporal:ensure`): a conversation whose tool result is over Temporal's payload limit, and the driver's own promises.
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { StorageDriverClaim, type ExternalStorage } from '@temporalio/common';
import { z } from 'zod';
import { AgentClient } from '../src/client';
import { S3StorageDriver, s3Storage } from '../src/storage';
import { startS3Server, type S3Server } from '../src/storage/s3-server';
import { reply, text, toolUse } from '../src/testing';
import { defineTool } from '../src/tools/define-tool';
import { startHarness, storedHistory, toolResultsOf, uniquePrompt, type Harness } from './helpers/harness';
import { createTestWorker, fakeAnthropic, uniqueTaskQueue } from './helpers/temporal';

let harness: Harness;
let server: S3Server;
let s3: S3Client;
const bucket = 'durable-claude-test';
// gofakes3 does not check signatures; the SDK still signs, so it needs some credentials.
const credentials = { accessKeyId: 'test-access-key', secretAccessKey: 'test-secret-key' };

beforeAll(async () => {
  [harness, server] = await Promise.all([startHarness(), startS3Server()]);
  s3 = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterAll(async () => {
  s3?.destroy();
  await Promise.all([harness?.close(), server?.stop()]);
});

function storage(prefix: string): ExternalStorage {
  return s3Storage({ bucket, prefix, endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
}

async function keysUnder(prefix: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key!).sort();
}

test('a conversation with a 3 MB tool result through S3: the model gets it whole, history holds a reference, the client reads it', async () => {
  const prefix = `conversation-${Date.now()}/`;
  const externalStorage = storage(prefix);
  const content = 'row,value\n'.repeat(300_000);
  const tools = [defineTool({ name: 'export_table', description: 'Export the table as CSV', input: z.object({}), run: () => content })];
  const prompt = uniquePrompt('Export the table');
  harness.fake.addScript({ match: prompt, steps: [reply(toolUse('export_table', {})), reply(text('Exported.'))] });
  const taskQueue = uniqueTaskQueue('s3');
  const worker = await createTestWorker(harness.temporal, { taskQueue, tools, anthropic: fakeAnthropic(harness.fake.baseURL), externalStorage });
  // A client of its own: the harness's reads the filesystem store, and this history references S3.
  const agent = new AgentClient({ connection: harness.temporal.connection, taskQueue, externalStorage });
  const { conversationId, transcript, history } = await worker.runUntil(async () => {
    const handle = await agent.start({ prompt, tools: ['export_table'] });
    expect((await handle.result()).status).toBe('completed');
    return { conversationId: handle.conversationId, transcript: await handle.transcript(), history: await storedHistory(harness, handle.conversationId) };
  });

  const [, second] = harness.fake.requestsFor(prompt);
  const sent = (second!.body as { messages: Array<{ content: unknown }> }).messages.flatMap((m) => toolResultsOf(m.content));
  expect(sent[0]!.content).toBe(content);
  expect(toolResultsOf(transcript.messages[2]!.content)[0]!.content).toBe(content);

  // The tool's result in history is a reference naming the object, in Temporal's S3 key layout: an activity's
  // payloads are filed under the workflow run it belongs to.
  const result = (history.events ?? []).map((e) => e.activityTaskCompletedEventAttributes?.result?.payloads?.[0]).find((p) => p?.data && Buffer.from(p.data).toString().includes('claimData'));
  const reference = JSON.parse(Buffer.from(result!.data!).toString()) as { driverName: string; claimData: Record<string, string> };
  expect(reference.driverName).toBe('aws.s3driver');
  expect(reference.claimData).toMatchObject({ bucket, hashAlgorithm: 'sha256' });
  expect(reference.claimData.key).toMatch(new RegExp(`^${prefix}v0/ns/default/wt/agentConversation/wi/${conversationId}/ri/[0-9a-f-]+/d/sha256/${reference.claimData.hashValue}$`));
  expect(await keysUnder(prefix)).toContain(reference.claimData.key);
});

test('a retried store writes the same object, and bytes that are not the referenced ones are refused', async () => {
  const prefix = `driver-${Date.now()}/`;
  const driver = new S3StorageDriver({ bucket, prefix, endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  const payload = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify({ big: 'x'.repeat(200_000) })) };
  const target = { kind: 'activity' as const, namespace: 'default', id: '7', type: 'runTool' };
  const [first] = await driver.store({ target }, [payload]);
  const [again] = await driver.store({ target }, [payload]);
  expect(again!.claimData).toEqual(first!.claimData);
  expect(await keysUnder(prefix)).toEqual([first!.claimData.key]);
  const [back] = await driver.retrieve({}, [new StorageDriverClaim(first!.claimData)]);
  expect(Buffer.from(back!.data!).toString()).toBe(Buffer.from(payload.data).toString());

  // Someone rewrote the object: the content hash in the reference no longer matches.
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: first!.claimData.key!, Body: Buffer.from('tampered') }));
  await expect(driver.retrieve({}, [new StorageDriverClaim(first!.claimData)])).rejects.toThrow(/different bytes than its reference names/);
});
