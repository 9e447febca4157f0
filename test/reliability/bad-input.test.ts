// Bad input at the edges the other suites do not reach: each gets a clear answer, and nothing is lost.
// (Covered elsewhere: malformed start options and unknown tool names — client.test.ts; a tool the model invents and
// input failing the schema — agent-loop.test.ts; unknown, duplicate and schema-breaking approvals — approvals.test.ts;
// a conversation id already in use — client.test.ts.)
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ConversationCancelledError } from '../../src/client';
import { defineTool } from '../../src/tools/define-tool';
import { reply, text, toolUse } from '../../src/testing';
import { historyBytes, startHarness, toolResultsOf, uniquePrompt, withWorker, type Harness } from '../helpers/harness';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

const ran: string[] = [];
const tools = [
  defineTool({ name: 'dump_logs', description: 'Return all logs', input: z.object({}), run: () => 'log line\n'.repeat(300_000) }),
  defineTool({
    name: 'hang',
    description: 'Never returns',
    input: z.object({}),
    timeout: '1s',
    retry: { maximumAttempts: 1 },
    run: (_input, { signal }) => new Promise((resolve) => signal.addEventListener('abort', () => resolve('aborted'))),
  }),
  defineTool({ name: 'weird_output', description: 'Returns a function', input: z.object({ kind: z.enum(['function', 'binary', 'bigint']) }), run: ({ kind }) => (kind === 'function' ? (() => 1) : kind === 'binary' ? Buffer.from('x') : 10n) as never }),
  defineTool({
    name: 'delete_account',
    description: 'Delete an account',
    input: z.object({ id: z.string() }),
    needsApproval: true,
    run: ({ id }) => {
      ran.push(id);
      return 'deleted';
    },
  }),
];
const names = tools.map((t) => t.name);

test('a tool result over 2 MB (Temporal’s payload limit) reaches the model whole when the worker has external storage', async () => {
  const prompt = uniquePrompt('Dump all the logs');
  harness.fake.addScript({ match: prompt, steps: [reply(toolUse('dump_logs', {})), reply(text('That is a lot of logs.'))] });
  // The harness's workers and client share a filesystem store (test/helpers/temporal.ts).
  const { result, transcript, bytes } = await withWorker(harness, { tools }, async (agent) => {
    const handle = await agent.start({ prompt, tools: names });
    const result = await handle.result();
    // A result leaves out a transcript over 1 MB; the transcript query has it all.
    return { result, transcript: await handle.transcript(), bytes: await historyBytes(harness, handle.conversationId) };
  });
  expect(result.status).toBe('completed');
  const [block] = toolResultsOf(transcript.messages[2]!.content);
  expect(block!.is_error).toBeUndefined();
  expect(block!.content).toBe('log line\n'.repeat(300_000));
  expect(transcript.turns[0]!.toolCalls[0]!.truncatedFromBytes).toBeUndefined();
  const [, second] = harness.fake.requestsFor(prompt);
  const sent = (second!.body as { messages: Array<{ content: unknown }> }).messages.flatMap((m) => toolResultsOf(m.content));
  expect(Buffer.byteLength(sent[0]!.content as string)).toBe(2_700_000);
  // History holds a reference to the result, not the result.
  expect(bytes.proto).toBeLessThan(100_000);
});

test('without external storage a tool result over 2 MB is cut with a note; the workflow does not fail on payload size', async () => {
  const prompt = uniquePrompt('Dump all the logs');
  harness.fake.addScript({ match: prompt, steps: [reply(toolUse('dump_logs', {})), reply(text('That is a lot of logs.'))] });
  const { result, bytes } = await withWorker(harness, { tools, externalStorage: false }, async (agent) => {
    const handle = await agent.start({ prompt, tools: names });
    const result = await handle.result();
    return { result, bytes: await historyBytes(harness, handle.conversationId) };
  });
  expect(result.status).toBe('completed');
  const [block] = toolResultsOf(result.transcript!.messages[2]!.content);
  expect(block!.is_error).toBeUndefined();
  expect(Buffer.byteLength(block!.content as string)).toBeLessThanOrEqual(256 * 1024);
  expect(block!.content).toMatch(/\[truncated: the tool returned 2700000 bytes; this is the first part/);
  expect(result.transcript!.turns[0]!.toolCalls[0]!.truncatedFromBytes).toBe(2_700_000);
  expect(bytes.proto).toBeLessThan(1_000_000);
});

test('a tool that hangs times out and the model gets an is_error result', async () => {
  const prompt = uniquePrompt('Call the hanging tool');
  harness.fake.addScript({ match: prompt, steps: [reply(toolUse('hang', {})), reply(text('The tool timed out.'))] });
  const result = await withWorker(harness, { tools }, async (agent) => (await agent.start({ prompt, tools: names })).result());
  const [block] = toolResultsOf(result.transcript!.messages[2]!.content);
  expect(block).toMatchObject({ is_error: true, content: 'Error: Timeout: hang did not finish within 1s' });
  expect(result.transcript!.turns[0]!.toolCalls[0]!.outcome).toBe('timeout');
});

test.each(['function', 'binary', 'bigint'])('tool output that is neither text nor JSON (a %s) becomes an is_error result', async (kind) => {
  const prompt = uniquePrompt(`Weird output ${kind}`);
  harness.fake.addScript({ match: prompt, steps: [reply(toolUse('weird_output', { kind })), reply(text('ok'))] });
  const result = await withWorker(harness, { tools }, async (agent) => (await agent.start({ prompt, tools: names })).result());
  const [block] = toolResultsOf(result.transcript!.messages[2]!.content);
  expect(block!.is_error).toBe(true);
  expect(block!.content).toMatch(/^Error: the tool returned .*, which is neither text nor JSON/);
});

test('cancelling during an approval wait ends the conversation and the gated tool never runs', async () => {
  const prompt = uniquePrompt('Delete account 7');
  harness.fake.addScript({ match: prompt, steps: [reply(toolUse('delete_account', { id: 'acct-7' })), reply(text('deleted'))] });
  await withWorker(harness, { tools }, async (agent) => {
    const handle = await agent.start({ prompt, tools: names });
    while ((await handle.pending()).length === 0) await sleep(100);
    await handle.cancel();
    await expect(handle.result()).rejects.toBeInstanceOf(ConversationCancelledError);
    const description = await handle.describe();
    expect(description.status.name).toBe('CANCELLED');
  });
  expect(ran).not.toContain('acct-7');
});
