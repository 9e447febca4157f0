import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';
import {
  AgentClient,
  ConversationAlreadyExistsError,
  ConversationCancelledError,
  ConversationFailedError,
  ConversationFinishedError,
  ConversationNotFoundError,
  InvalidConversationOptionsError,
  MessageRefusedError,
  type ConversationSummary,
} from '../src/client';
import { isQueryNotReady } from '../src/client/bounded-call';
import { defineTool } from '../src/tools/define-tool';
import { reply, text, toolUse } from '../src/testing';
import { recordHistoryFixture } from './helpers/fixtures';
import { startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';
import { uniqueTaskQueue } from './helpers/temporal';
import type { PendingApproval } from '../src/workflows/types';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

const echo = defineTool({ name: 'echo', description: 'Echo', input: z.object({ text: z.string() }), run: ({ text: t }) => t });

describe('AgentClient', () => {
  test('start under a caller-chosen id is idempotent: a second start returns the same conversation', async () => {
    const prompt = uniquePrompt('Idempotent start');
    harness.fake.addScript({ match: prompt, steps: [{ ...reply(text('hello')), latency: { firstTokenMs: 500 } }] });
    await withWorker(harness, {}, async (agent) => {
      const id = `order-${Date.now()}`;
      const first = await agent.start({ prompt, conversationId: id });
      const again = await agent.start({ prompt, conversationId: id });
      expect(again.conversationId).toBe(id);
      expect((await again.describe()).runId).toBe((await first.describe()).runId);
      const running = await agent.start({ prompt, conversationId: id, onConflict: 'fail' }).catch((err: unknown) => err);
      expect(running).toBeInstanceOf(ConversationAlreadyExistsError);
      expect((running as ConversationAlreadyExistsError).finishedStatus).toBeUndefined();
      await first.result();
    });
    expect(harness.fake.requestsFor(prompt)).toHaveLength(1);
  });

  test('start under the id of a finished conversation says it finished and starts nothing, unless onFinished asks for it', async () => {
    const prompt = uniquePrompt('Finished start');
    harness.fake.addScript({ match: prompt, steps: [reply(text('hello'))] });
    await withWorker(harness, {}, async (agent) => {
      const id = `finished-${Date.now()}`;
      const first = await agent.start({ prompt, conversationId: id });
      await first.result();
      for (const onConflict of ['use-existing', 'fail'] as const) {
        const error = await agent.start({ prompt: 'A new prompt', conversationId: id, onConflict }).catch((err: unknown) => err);
        expect(error).toBeInstanceOf(ConversationAlreadyExistsError);
        expect((error as ConversationAlreadyExistsError).finishedStatus).toBe('completed');
        expect((error as Error).message).toMatch(new RegExp(`Conversation ${id} already ran and has finished \\(completed\\); nothing was started`));
        expect((error as Error).message).toMatch(/another conversationId, fork\(.*onFinished: 'use-existing'/);
      }
      const existing = await agent.start({ prompt: 'A new prompt', conversationId: id, onFinished: 'use-existing' });
      expect((await existing.describe()).runId).toBe((await first.describe()).runId);
      expect((await existing.result()).text).toBe('hello');
    });
    expect(harness.fake.requestsFor(prompt)).toHaveLength(1);
    expect(harness.fake.requestsFor('A new prompt')).toHaveLength(0);
  });

  test('bad start options fail the start with every problem named, and start nothing', async () => {
    await withWorker(harness, {}, async (agent) => {
      const error = await agent
        .start({ prompt: '', tools: ['ok', 'bad name!'], maxTokens: -1, limits: { maxIterations: 0 }, toolChoice: { type: 'tool', name: 'missing' }, typo: 1 } as never)
        .catch((err: unknown) => err);
      expect(error).toBeInstanceOf(InvalidConversationOptionsError);
      expect((error as InvalidConversationOptionsError).problems).toEqual(
        expect.arrayContaining([
          "unknown option 'typo'",
          'prompt must be a non-empty string',
          "tools[1] must be a tool name (letters, digits, _ and -) or an MCP server's tools as '<server>__*'; got \"bad name!\"",
          'maxTokens must be a whole number from 1 to 128000',
          'limits.maxIterations must be a whole number from 1 to 10000',
        ]),
      );
      expect((await agent.list(`WorkflowType = 'agentConversation' AND TaskQueue = '${agent.taskQueue}'`)).length).toBe(0);
    });
  });

  test('options that get past the client (e.g. a raw temporal start) fail the workflow fast instead of retrying forever', async () => {
    await withWorker(harness, {}, async (agent) => {
      const handle = await agent.client.workflow.start('agentConversation', { taskQueue: agent.taskQueue, workflowId: `raw-${Date.now()}`, args: [{ prompt: 42 }] });
      const error = await agent.getHandle(handle.workflowId).result().catch((err: unknown) => err);
      expect(error).toBeInstanceOf(ConversationFailedError);
      expect((error as ConversationFailedError).failureType).toBe('InvalidConversationOptions');
      expect((error as Error).message).toMatch(/prompt must be a non-empty string/);
    });
  });

  test('unknown tool names fail the conversation with the names the worker has', async () => {
    await withWorker(harness, { tools: [echo] }, async (agent) => {
      const error = await (await agent.start({ prompt: uniquePrompt('x'), tools: ['echo', 'teleport'] })).result().catch((err: unknown) => err);
      expect(error).toBeInstanceOf(ConversationFailedError);
      expect((error as ConversationFailedError).failureType).toBe('UnknownTools');
      expect((error as Error).message).toMatch(/Unknown tools: teleport\. The worker registers: echo\./);
    });
  });

  test('an unknown conversation id is a ConversationNotFoundError', async () => {
    await withWorker(harness, {}, async (agent) => {
      const handle = agent.getHandle('no-such-conversation');
      await expect(handle.result()).rejects.toBeInstanceOf(ConversationNotFoundError);
      await expect(handle.transcript()).rejects.toBeInstanceOf(ConversationNotFoundError);
      await expect(handle.approve('toolu_x', { by: 'a' })).rejects.toBeInstanceOf(ConversationNotFoundError);
    });
  });

  test('a query the server cannot answer yet is asked again, and its error says why (not only "Failed to query Workflow")', async () => {
    await withWorker(harness, {}, async (agent) => {
      // A run whose first workflow task is an hour away: within a 2 s deadline the server says "not scheduled yet"
      // (WorkflowNotReady) to every try, so the last one's reason is the error.
      const raw = await agent.client.workflow.start('agentConversation', {
        taskQueue: agent.taskQueue,
        workflowId: `delayed-${Date.now()}`,
        args: [{ prompt: uniquePrompt('Later') }],
        startDelay: '1h',
      });
      let tries = 0;
      const counting = new Client({
        connection: harness.temporal.client.connection,
        interceptors: { workflow: [{ query: (input, next) => (tries++, next(input)) }] },
      });
      const handle = new AgentClient({ client: counting, taskQueue: agent.taskQueue }).getHandle(raw.workflowId);
      const error = await handle.state({ timeoutMs: 2000 }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/^Failed to query Workflow: Workflow task is not scheduled yet/);
      expect(isQueryNotReady(error)).toBe(true);
      expect(tries).toBeGreaterThan(1);
      await raw.terminate('test over');
    });
  });

  test('deciding on a finished conversation is a ConversationFinishedError', async () => {
    const prompt = uniquePrompt('Short');
    harness.fake.addScript({ match: prompt, steps: [reply(text('bye'))] });
    await withWorker(harness, {}, async (agent) => {
      const handle = await agent.start({ prompt });
      await handle.result();
      await expect(handle.approve('toolu_x', { by: 'a' })).rejects.toBeInstanceOf(ConversationFinishedError);
    });
  });

  test('cancel ends the conversation; result() says it was cancelled', async () => {
    const prompt = uniquePrompt('Cancel me');
    harness.fake.addScript({ match: prompt, steps: [{ ...reply(text('slow')), latency: { firstTokenMs: 30_000 } }] });
    await withWorker(harness, {}, async (agent) => {
      const handle = await agent.start({ prompt });
      await sleep(300);
      await handle.cancel();
      await expect(handle.result()).rejects.toBeInstanceOf(ConversationCancelledError);
      expect((await handle.describe()).status.name).toBe('CANCELLED');
    });
  });

  test("eager start: a client on the worker's NativeConnection gets the first workflow task back in the start response", async () => {
    const prompts = [uniquePrompt('Eager start'), uniquePrompt('Start through the task queue'), uniquePrompt('Eager start turned off')];
    for (const prompt of prompts) harness.fake.addScript({ match: prompt, steps: [reply(text('hello'))] });
    await withWorker(harness, {}, async (agent) => {
      const native = new AgentClient({ client: new Client({ connection: harness.temporal.nativeConnection }), taskQueue: agent.taskQueue });
      const eager = await native.start({ prompt: prompts[0]! });
      // The server starts eagerly only when a worker of this process has a free slot; here one does.
      expect(eager.eagerlyStarted).toBe(true);
      expect((await eager.result()).status).toBe('completed');
      // Over a plain gRPC Connection there is no worker to hand the task to: the start goes through the queue.
      const queued = await agent.start({ prompt: prompts[1]! });
      expect(queued.eagerlyStarted).toBe(false);
      expect((await queued.result()).status).toBe('completed');
      const off = new AgentClient({ client: new Client({ connection: harness.temporal.nativeConnection }), taskQueue: agent.taskQueue, eagerStart: false });
      const plain = await off.start({ prompt: prompts[2]! });
      expect(plain.eagerlyStarted).toBe(false);
      expect((await plain.result()).status).toBe('completed');
    });
    expect(() => new AgentClient({ client: harness.temporal.client, taskQueue: 'x', eagerStart: true })).toThrow(/eagerStart needs a Client on the worker's NativeConnection/);
  });
});

describe('chats', () => {
  test('update-with-start opens a chat; sendMessage waits for each answer; end finishes it', async () => {
    const prompt = uniquePrompt('Hi, I am planning a trip');
    harness.fake.addScript({
      match: prompt,
      steps: [
        reply(text('Where to?')),
        reply(toolUse('echo', { text: 'Lisbon' })),
        reply(text('Lisbon it is.')),
        reply(text('Have a good trip!')),
      ],
    });
    const result = await withWorker(harness, { tools: [echo] }, async (agent) => {
      const { handle, reply: first } = await agent.startChat({ message: prompt, tools: ['echo'] });
      expect(first).toMatchObject({ status: 'completed', text: 'Where to?', turns: 1 });
      expect((await handle.state()).status).toBe('awaiting_user');
      const second = await handle.sendMessage('Lisbon');
      expect(second).toMatchObject({ text: 'Lisbon it is.', turns: 3 });
      await expect(handle.sendMessage('   ')).rejects.toBeInstanceOf(MessageRefusedError);
      const third = await handle.sendMessage([{ type: 'text', text: 'Thanks!' }]);
      expect(third.text).toBe('Have a good trip!');
      await handle.end('traveller');
      const result = await handle.result();
      await recordHistoryFixture(harness.temporal.client, 'chat-multi-turn', handle.conversationId);
      return result;
    });
    expect(result).toMatchObject({ status: 'completed', endedBy: 'user', turns: 4 });
    expect(result.transcript!.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
  });

  test('a chat ends on its idle timeout', async () => {
    const prompt = uniquePrompt('Anyone there?');
    harness.fake.addScript({ match: prompt, steps: [reply(text('Yes?'))] });
    const result = await withWorker(harness, {}, async (agent) => {
      const { handle } = await agent.startChat({ message: prompt, chat: { idleTimeout: '1s' } });
      return handle.result();
    });
    expect(result).toMatchObject({ status: 'completed', endedBy: 'idle_timeout', text: 'Yes?' });
  });

  test('a chat started empty takes its first message by signal (signal-with-start style)', async () => {
    const prompt = uniquePrompt('Posted message');
    harness.fake.addScript({ match: prompt, steps: [reply(text('Got it.'))] });
    const result = await withWorker(harness, {}, async (agent) => {
      const handle = await agent.start({ chat: true });
      await handle.postMessage(prompt);
      while ((await handle.state()).turn < 1) await sleep(100);
      await handle.end();
      return handle.result();
    });
    expect(result.text).toBe('Got it.');
  });

  test('sendMessage to a conversation that is not a chat is refused', async () => {
    const prompt = uniquePrompt('Not a chat');
    harness.fake.addScript({ match: prompt, steps: [{ ...reply(text('one-shot')), latency: { firstTokenMs: 2000 } }] });
    await withWorker(harness, {}, async (agent) => {
      const handle = await agent.start({ prompt });
      const error = await handle.sendMessage('more?').catch((err: unknown) => err);
      expect(error).toBeInstanceOf(MessageRefusedError);
      expect((error as Error).message).toMatch(/not a chat/);
      await handle.result();
    });
  });
});

// A payload codec as a user's encryption codec would be: nothing in history is readable JSON without it.
const XOR_ENCODING = 'binary/xor-test';
const xorBytes = (bytes: Uint8Array) => Uint8Array.from(bytes, (byte) => byte ^ 0x5a);
const xorCodec: PayloadCodec = {
  async encode(payloads) {
    return payloads.map((payload) => ({
      metadata: { encoding: new TextEncoder().encode(XOR_ENCODING) },
      data: xorBytes(temporal.api.common.v1.Payload.encode(payload).finish()),
    }));
  },
  async decode(payloads) {
    return payloads.map((payload) =>
      new TextDecoder().decode(payload.metadata?.encoding ?? new Uint8Array()) === XOR_ENCODING
        ? temporal.api.common.v1.Payload.decode(xorBytes(payload.data ?? new Uint8Array()))
        : payload,
    );
  },
};

describe('fork', () => {
  test('fork works under a payload codec: the source options are read through the client’s data converter', async () => {
    const prompt = uniquePrompt('Encoded source');
    harness.fake.addScript({
      match: prompt,
      steps: ({ turnIndex, request }) => {
        const said = JSON.stringify(request.messages[request.messages.length - 1]!.content);
        if (said.includes('Say it again')) return reply(text('Again: Lisbon.'));
        return turnIndex === 0 ? reply(toolUse('echo', { text: 'Lisbon' })) : reply(text('Lisbon.'));
      },
    });
    await withWorker(harness, { tools: [echo], worker: { dataConverter: { payloadCodecs: [xorCodec] } } }, async (plainAgent) => {
      const client = new Client({ connection: harness.temporal.connection, namespace: 'default', dataConverter: { payloadCodecs: [xorCodec] } });
      const agent = new AgentClient({ client, taskQueue: plainAgent.taskQueue });
      const source = await agent.start({ prompt, tools: ['echo'], system: 'Answer in one word.', maxTokens: 512 });
      expect((await source.result()).text).toBe('Lisbon.');
      const sourceInput = (await source.fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
      expect(new TextDecoder().decode(sourceInput.metadata!.encoding!)).toBe(XOR_ENCODING);

      const fork = await agent.fork(source.conversationId, { turn: 1, prompt: 'Say it again.' });
      expect((await fork.result()).text).toBe('Again: Lisbon.');
      const forkInput = (await fork.fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads!;
      const [decoded] = await xorCodec.decode(forkInput);
      expect(defaultPayloadConverter.fromPayload(decoded!)).toMatchObject({ system: 'Answer in one word.', maxTokens: 512, tools: ['echo'] });
    });
  });
});

const refunded: Array<{ orderId: string; cents: number }> = [];
const refund = defineTool({
  name: 'refund_order',
  description: 'Refund an order',
  input: z.object({ orderId: z.string(), cents: z.number().int().positive() }),
  needsApproval: ({ cents }) => cents > 10_000,
  run: ({ orderId, cents }) => {
    refunded.push({ orderId, cents });
    return `refunded ${cents} on ${orderId}`;
  },
});

describe('approvals()', () => {
  test('yields each call waiting for a person once, as it appears, and ends when the conversation completes', async () => {
    const prompt = uniquePrompt('Two big refunds');
    harness.fake.addScript({
      match: prompt,
      steps: [
        reply(toolUse('refund_order', { orderId: 'a-1', cents: 20_000 })),
        reply(toolUse('refund_order', { orderId: 'b-2', cents: 30_000 })),
        reply(text('Both refunded.')),
      ],
    });
    await withWorker(harness, { tools: [refund] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['refund_order'] });
      const seen: Array<{ toolUseId: string; input: unknown }> = [];
      const decisions: Array<Promise<unknown>> = [];
      for await (const call of handle.approvals({ pollIntervalMs: 20 })) {
        seen.push({ toolUseId: call.toolUseId, input: call.input });
        // Decided later, as a person in a UI would: meanwhile the loop looks again, and the call is still waiting.
        decisions.push(sleep(300).then(() => handle.approve(call.toolUseId, { by: 'alice' })));
      }
      await Promise.all(decisions);
      expect(seen.map((call) => call.input)).toEqual([
        { orderId: 'a-1', cents: 20_000 },
        { orderId: 'b-2', cents: 30_000 },
      ]);
      expect(new Set(seen.map((call) => call.toolUseId)).size).toBe(2);
      expect(await handle.result()).toMatchObject({ status: 'completed', text: 'Both refunded.' });
    });
    expect(refunded.filter((r) => r.orderId === 'a-1' || r.orderId === 'b-2')).toHaveLength(2);
  });

  test('ends without throwing when the conversation fails; result() throws the failure', async () => {
    const prompt = uniquePrompt('Refund, then the key is revoked');
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('refund_order', { orderId: 'c-3', cents: 20_000 })), { fault: '401', then: { fault: '401' } }] });
    await withWorker(harness, { tools: [refund] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['refund_order'] });
      const seen: string[] = [];
      for await (const call of handle.approvals({ pollIntervalMs: 20 })) {
        seen.push(call.toolUseId);
        await handle.approve(call.toolUseId, { by: 'alice' });
      }
      expect(seen).toHaveLength(1);
      await expect(handle.result()).rejects.toBeInstanceOf(ConversationFailedError);
    });
  });

  test('ends when the conversation is cancelled while a call waits, and yields nothing more', async () => {
    const prompt = uniquePrompt('Refund, then cancel');
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('refund_order', { orderId: 'd-4', cents: 20_000 })), reply(text('never'))] });
    await withWorker(harness, { tools: [refund] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['refund_order'] });
      const seen: string[] = [];
      for await (const call of handle.approvals({ pollIntervalMs: 20 })) {
        seen.push(call.toolUseId);
        await handle.cancel();
      }
      expect(seen).toHaveLength(1);
      await expect(handle.result()).rejects.toBeInstanceOf(ConversationCancelledError);
    });
    expect(refunded.some((r) => r.orderId === 'd-4')).toBe(false);
  });

  test('waits out a stopped worker instead of throwing, and yields the call once a worker runs', async () => {
    const prompt = uniquePrompt('Refund before any worker');
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('refund_order', { orderId: 'g-7', cents: 20_000 })), reply(text('Refunded.'))] });
    const taskQueue = uniqueTaskQueue();
    const handle = await new AgentClient({ client: harness.temporal.client, taskQueue }).start({ prompt, tools: ['refund_order'] });
    const calls = handle.approvals({ pollIntervalMs: 20, queryTimeoutMs: 300 });
    const first = calls.next();
    // No worker serves the queue yet, so the first looks go unanswered (NoWorkerAnsweredError inside the loop).
    await sleep(1_000);
    await withWorker(harness, { taskQueue, tools: [refund] }, async () => {
      const call = await first;
      expect(call.value).toMatchObject({ toolName: 'refund_order', input: { orderId: 'g-7', cents: 20_000 } });
      await handle.approve((call.value as PendingApproval).toolUseId, { by: 'alice' });
      expect(await calls.next()).toEqual({ done: true, value: undefined });
      expect((await handle.result()).text).toBe('Refunded.');
    });
  });

  test('ends at once for a conversation that needs no approval', async () => {
    const prompt = uniquePrompt('A small refund');
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('refund_order', { orderId: 'e-5', cents: 500 })), reply(text('Refunded $5.'))] });
    await withWorker(harness, { tools: [refund] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['refund_order'] });
      const seen: string[] = [];
      for await (const call of handle.approvals({ pollIntervalMs: 20 })) seen.push(call.toolUseId);
      expect(seen).toEqual([]);
      expect((await handle.result()).text).toBe('Refunded $5.');
    });
  });
});

describe('list()', () => {
  async function listedUntil(agent: AgentClient, conversationId: string, done: (row: ConversationSummary) => boolean): Promise<ConversationSummary> {
    for (;;) {
      const [row] = await agent.list(`WorkflowId = '${conversationId}'`);
      if (row && done(row)) return row;
      await sleep(100);
    }
  }

  test('shows Temporal’s execution status beside the AgentStatus, and flags the status a terminated run left behind', async () => {
    const waitingPrompt = uniquePrompt('Refund, then terminated');
    const donePrompt = uniquePrompt('Nothing to approve');
    harness.fake.addScript({ match: waitingPrompt, steps: [reply(toolUse('refund_order', { orderId: 'f-6', cents: 20_000 })), reply(text('never'))] });
    harness.fake.addScript({ match: donePrompt, steps: [reply(text('done'))] });
    await withWorker(harness, { tools: [refund] }, async (agent) => {
      const waiting = await agent.start({ prompt: waitingPrompt, tools: ['refund_order'] });
      const done = await agent.start({ prompt: donePrompt });
      await done.result();
      expect(await listedUntil(agent, waiting.conversationId, (row) => row.status === 'awaiting_approval')).toMatchObject({
        executionStatus: 'RUNNING',
        statusStale: false,
        pendingApprovals: 1,
      });
      await waiting.workflow.terminate('an operator stopped it');
      expect(await listedUntil(agent, waiting.conversationId, (row) => row.executionStatus !== 'RUNNING')).toMatchObject({
        status: 'awaiting_approval',
        executionStatus: 'TERMINATED',
        statusStale: true,
        pendingApprovals: 0,
        closeTime: expect.any(Date),
      });
      expect(await listedUntil(agent, done.conversationId, (row) => row.status === 'completed')).toMatchObject({ executionStatus: 'COMPLETED', statusStale: false });
    });
  });
});
