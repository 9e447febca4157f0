// AgentPlugin on a worker and a client of the user's own: docs/plugin.md's snippet, on a worker that also runs an
// unrelated workflow, with a tool call, an approval, and (with a codec) payloads encrypted in history.
import { setTimeout as sleep } from 'node:timers/promises';
import Long from 'long';
import { z } from 'zod';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { AgentClient, AgentPlugin, EncryptionCodec, generateEncryptionKey, isEncryptedPayload, staticKeyProvider, type ConversationHandle } from '../src';
import { reply, text, toolUse } from '../src/testing';
import { defineTool } from '../src/tools/define-tool';
import type { GreetingActivities } from './fixtures/user-workflows';
import { startHarness, storedHistory, uniquePrompt, type Harness } from './helpers/harness';
import { uniqueTaskQueue } from './helpers/temporal';

let harness: Harness;
const savedEnv = { key: process.env.ANTHROPIC_API_KEY, url: process.env.ANTHROPIC_BASE_URL };
beforeAll(async () => {
  harness = await startHarness();
  // The snippet's `new AgentPlugin({ tools })` makes its SDK client from the environment, as a deployment does.
  process.env.ANTHROPIC_API_KEY = 'sk-ant-test-key-never-in-history';
  process.env.ANTHROPIC_BASE_URL = harness.fake.baseURL;
});
afterAll(async () => {
  for (const [name, value] of [['ANTHROPIC_API_KEY', savedEnv.key], ['ANTHROPIC_BASE_URL', savedEnv.url]] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await harness.close();
});

const userWorkflowsPath = require.resolve('./fixtures/user-workflows');
const activities: GreetingActivities = { composeGreeting: async (name) => `Hello, ${name}!` };

const refunds: string[] = [];
const lookupOrder = defineTool({
  name: 'lookup_order',
  description: 'Look an order up',
  input: z.object({ orderId: z.string() }),
  run: ({ orderId }) => `order ${orderId}: 2 items, $40, paid`,
});
const refundOrder = defineTool({
  name: 'refund_order',
  description: 'Refund an order',
  input: z.object({ orderId: z.string() }),
  needsApproval: true,
  run: ({ orderId }) => {
    refunds.push(orderId);
    return `refunded ${orderId}`;
  },
});

function scriptRefund(prompt: string, orderId: string): void {
  harness.fake.addScript({
    match: prompt,
    steps: [reply(toolUse('lookup_order', { orderId })), reply(toolUse('refund_order', { orderId })), reply(text(`Order ${orderId} is refunded.`))],
  });
}

async function waitForPending(handle: ConversationHandle) {
  for (let i = 0; i < 300; i++) {
    const pending = await handle.pending();
    if (pending.length > 0) return pending;
    await sleep(50);
  }
  throw new Error('nothing waited for approval');
}

/** Runs an approved refund conversation and the unrelated workflow side by side on the worker. */
async function refundAndGreet(agent: AgentClient, client: Client, taskQueue: string, orderId: string) {
  const prompt = uniquePrompt(`Refund order ${orderId}`);
  scriptRefund(prompt, orderId);
  const conversation = await agent.start({ prompt, tools: ['lookup_order', 'refund_order'] });
  const greeting = client.workflow.execute('greetingWorkflow', { args: ['Ada'], taskQueue, workflowId: `greeting-${conversation.conversationId}` });
  const [pending] = await waitForPending(conversation);
  expect(pending).toMatchObject({ toolName: 'refund_order', input: { orderId } });
  await conversation.approve(pending!.toolUseId, { by: 'alice@example.com' });
  return { conversation, result: await conversation.result(), greeting: await greeting };
}

describe('AgentPlugin', () => {
  test("docs/plugin.md's snippet: the worker runs its own workflow and a conversation with a tool call and an approval", async () => {
    const taskQueue = uniqueTaskQueue('plugin');
    const connection = harness.temporal.nativeConnection;

    const agentPlugin = new AgentPlugin({ tools: [lookupOrder, refundOrder] });

    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowsPath: userWorkflowsPath,
      activities,
      plugins: [agentPlugin],
    });
    const running = worker.run();

    const client = new Client({ connection: harness.temporal.connection, plugins: [agentPlugin] });
    const agent = new AgentClient({ client, taskQueue });
    try {
      const { result, greeting } = await refundAndGreet(agent, client, taskQueue, '1042');
      expect(greeting).toBe('Hello, Ada!');
      expect(result.status).toBe('completed');
      expect(result.text).toBe('Order 1042 is refunded.');
      expect(result.transcript!.approvals[0]).toMatchObject({ toolName: 'refund_order', decision: 'approved', by: 'alice@example.com' });
      expect(refunds.filter((id) => id === '1042')).toHaveLength(1);
    } finally {
      worker.shutdown();
      await running;
    }
  });

  test('with a payload codec, history holds encrypted payloads and a Client built with the plugin reads them (prebuilt bundle)', async () => {
    const taskQueue = uniqueTaskQueue('plugin-encrypted');
    const codec = new EncryptionCodec(staticKeyProvider({ current: 'k1', keys: { k1: generateEncryptionKey() } }));
    const agentPlugin = new AgentPlugin({ tools: [lookupOrder, refundOrder], payloadCodec: codec });
    // A bundle built ahead with the plugin: both workflow modules, and the failure converter encryption needs.
    const bundle = await bundleWorkflowCode({ workflowsPath: userWorkflowsPath, plugins: [agentPlugin], logger: quietLogger });
    const worker = await Worker.create({
      connection: harness.temporal.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities,
      plugins: [agentPlugin],
    });
    const running = worker.run();
    const client = new Client({ connection: harness.temporal.connection, plugins: [agentPlugin] });
    const agent = new AgentClient({ client, taskQueue });
    try {
      // An order id no history can hold by chance: a short number turned up in an event's timestamp digits.
      const { conversation, result, greeting } = await refundAndGreet(agent, client, taskQueue, 'A-7Q2Z-SECRET');
      expect(greeting).toBe('Hello, Ada!');
      expect(result.status).toBe('completed');
      expect((await conversation.transcript()).messages.length).toBeGreaterThan(0);
      // As the server stores it: the conversation's input and every activity input are ciphertext.
      const history = await storedHistory(harness, conversation.conversationId);
      const events = history.events ?? [];
      const started = events.find((event) => event.workflowExecutionStartedEventAttributes)!.workflowExecutionStartedEventAttributes!;
      expect(isEncryptedPayload(started.input!.payloads![0]!)).toBe(true);
      const scheduled = events.flatMap((event) => (event.activityTaskScheduledEventAttributes ? [event.activityTaskScheduledEventAttributes] : []));
      expect(scheduled.length).toBeGreaterThan(0);
      for (const activity of scheduled) expect(isEncryptedPayload(activity.input!.payloads![0]!)).toBe(true);
      expect(JSON.stringify(history.toJSON())).not.toContain('A-7Q2Z-SECRET');
      // A client without the codec cannot read the prompt.
      const plainClient = new Client({ connection: harness.temporal.connection });
      const described = await plainClient.workflow.getHandle(conversation.conversationId).fetchHistory();
      expect(isEncryptedPayload(described.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!)).toBe(true);
    } finally {
      worker.shutdown();
      await running;
    }
  });

  test("a worker created with the plugin adds the search attributes its namespace lacks ('as-is' leaves them)", async () => {
    const { nativeConnection } = harness.temporal;
    const namespace = `plugin-attributes-${Date.now().toString(36)}`;
    await nativeConnection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(86_400) } });
    const customAttributes = async (): Promise<string[]> => {
      for (let attempt = 0; ; attempt++) {
        try {
          const { customAttributes: found } = await nativeConnection.operatorService.listSearchAttributes({ namespace });
          return Object.keys(found ?? {}).sort();
        } catch (err) {
          // A namespace just registered is not known to every part of the server at once.
          if (attempt >= 100) throw err;
          await sleep(100);
        }
      }
    };
    expect(await customAttributes()).toEqual([]);
    const untouched = await Worker.create({ connection: nativeConnection, namespace, taskQueue: uniqueTaskQueue('plugin-as-is'), plugins: [new AgentPlugin({ searchAttributes: 'as-is' })] });
    // A created worker holds the connection until it has run.
    await untouched.runUntil(async () => {});
    expect(await customAttributes()).toEqual([]);
    const registering = await Worker.create({ connection: nativeConnection, namespace, taskQueue: uniqueTaskQueue('plugin-register'), plugins: [new AgentPlugin({})] });
    await registering.runUntil(async () => {});
    expect(await customAttributes()).toEqual(['AgentCostUsd', 'AgentPendingApprovals', 'AgentStatus']);
    expect(() => new AgentPlugin({ searchAttributes: 'always' as never })).toThrow(`searchAttributes must be 'register' or 'as-is' (got "always")`);
  });

  test('invalid options are refused when the plugin is made, with what is wrong', () => {
    expect(() => new AgentPlugin({ modelCalls: { maxPerSecond: 0 } })).toThrow('modelCalls.maxPerSecond must be a positive number (got 0)');
    expect(() => new AgentPlugin({ modelCalls: { maxConcurrent: 2.5 } })).toThrow('modelCalls.maxConcurrent must be a positive whole number (got 2.5)');
  });

  test('a worker whose own activities use a durable-claude activity name is refused', async () => {
    const agentPlugin = new AgentPlugin({ tools: [lookupOrder] });
    await expect(
      Worker.create({ connection: harness.temporal.nativeConnection, taskQueue: uniqueTaskQueue('plugin-clash'), activities: { callModel: async () => 'mine' }, plugins: [agentPlugin] }),
    ).rejects.toThrow('The worker already registers activities named callModel, which durable-claude needs: rename yours');
  });
});

const quietLogger = { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} } as never;
