import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import {
  ConversationAlreadyExistsError,
  ConversationCancelledError,
  ConversationFailedError,
  ConversationFinishedError,
  ConversationNotFoundError,
  InvalidConversationOptionsError,
  MessageRefusedError,
} from '../src/client';
import { defineTool } from '../src/tools/define-tool';
import { reply, text, toolUse } from '../src/testing';
import { recordHistoryFixture } from './helpers/fixtures';
import { startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';

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
      await first.result();
      // Even after it finished, the id keeps naming that conversation.
      const afterwards = await agent.start({ prompt, conversationId: id });
      expect((await afterwards.describe()).runId).toBe((await first.describe()).runId);
      await expect(agent.start({ prompt, conversationId: id, onConflict: 'fail' })).rejects.toBeInstanceOf(ConversationAlreadyExistsError);
    });
    expect(harness.fake.requestsFor(prompt)).toHaveLength(1);
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
          'tools[1] must be a tool name (letters, digits, _ and -); got "bad name!"',
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
