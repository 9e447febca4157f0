// The Temporal Web UI, in a real headless Chromium, on a finished conversation with a parallel turn and an approval:
// the model calls, each tool and the approval are shown by name, and a search-attribute query finds it.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { AgentClient } from '../../src/client';
import { DEMO_PROMPT, simulatedModelScript } from '../../src/demo/scripted-model';
import { startDevServer, type DevServer } from '../../src/devserver';
import { exampleTools } from '../../src/examples/tools';
import { FakeMessagesApi, reply, text, toolUse } from '../../src/testing';
import { createAgentWorker } from '../../src/worker';
import { fakeAnthropic } from '../helpers/temporal';
import { findChromium, HEADLESS_CHROMIUM_ARGS } from './chromium';

const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts', 'ui');

let server: DevServer;
let fake: FakeMessagesApi;
let browser: Browser;
let page: Page;
let conversation: { id: string; runId: string };
/** A conversation that continued as new: its runs, oldest first. */
let chain: { id: string; runIds: string[] };

beforeAll(async () => {
  const chromiumExecutable = await findChromium();
  server = await startDevServer({ ui: true });
  fake = await FakeMessagesApi.start({ defaultScript: simulatedModelScript() });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  try {
    const worker = await createAgentWorker({
      connection: nativeConnection,
      taskQueue: 'web-ui',
      tools: exampleTools(),
      anthropic: fakeAnthropic(fake.baseURL),
      workflowBundle: { codePath: process.env.DURABLE_CLAUDE_TEST_BUNDLE! },
    });
    const agent = new AgentClient({ client: new Client({ connection }), taskQueue: 'web-ui' });
    const chainPrompt = `What time is it, several times over? [${Date.now()}]`;
    fake.addScript({
      match: chainPrompt,
      steps: ({ turnIndex }) => (turnIndex < 4 ? reply(toolUse('get_time', { timezone: 'Europe/Paris' })) : reply(text('Still evening in Paris.'))),
    });
    ({ conversation, chain } = await worker.runUntil(async () => {
      const handle = await agent.start({ prompt: DEMO_PROMPT, tools: ['get_weather', 'get_time', 'send_email'], conversationId: `ui-${Date.now()}` });
      let pending = await handle.pending();
      while (pending.length === 0) {
        await sleep(100);
        pending = await handle.pending();
      }
      await handle.approve(pending[0]!.toolUseId, { by: 'alice@example.com', reason: 'summary looks right' });
      await handle.result();
      // A conversation that continues as new every few turns.
      const chained = await agent.start({ prompt: chainPrompt, tools: ['get_time'], conversationId: `ui-chain-${Date.now()}`, continueAsNew: { afterEvents: 20 } });
      await chained.result();
      return {
        conversation: { id: handle.conversationId, runId: (await handle.describe()).runId },
        chain: { id: chained.conversationId, runIds: (await chained.histories()).map((run) => run.runId) },
      };
    }));
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
  browser = await chromium.launch({ executablePath: chromiumExecutable.path, args: HEADLESS_CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1600, height: 1300 } });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await fake?.close();
  await server?.stop();
});

test('the history page names the model calls, each tool and the approval', async () => {
  await page.goto(`${server.uiUrl}/namespaces/default/workflows/${conversation.id}/${conversation.runId}/history`);
  for (const label of [
    'callModel • model claude-sonnet-5-5 · turn 1',
    'runTool • tool get_weather',
    'runTool • tool get_time',
    'callModel • model claude-sonnet-5-5 · turn 2',
    'runTool • tool send_email',
    'callModel • model claude-sonnet-5-5 · turn 3',
  ]) {
    await page.getByText(label, { exact: true }).first().waitFor({ timeout: 30_000 });
  }
  // The approval: the wait (a named timer) and the person's decision (the `decide` update).
  await page.getByText(/approval of send_email \(toolu_/).first().waitFor({ timeout: 30_000 });
  await page.getByText('decide', { exact: true }).first().waitFor({ timeout: 30_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'conversation-history.png'), fullPage: false });

  // Who approved is readable in the decision's outcome.
  await page.getByText('Workflow Execution Update Completed', { exact: true }).first().click();
  await page.getByText(/"by":\s*"alice@example\.com"/).first().waitFor({ timeout: 30_000 });
});

test('a search-attribute query in the workflow list finds the conversation', async () => {
  const query = encodeURIComponent(`AgentStatus="completed" AND WorkflowId="${conversation.id}"`);
  await page.goto(`${server.uiUrl}/namespaces/default/workflows?query=${query}`);
  await page.getByText(conversation.id, { exact: true }).first().waitFor({ timeout: 30_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'workflows-by-search-attribute.png') });
});

test('the conversation summary (the first words of the prompt) is shown', async () => {
  await page.goto(`${server.uiUrl}/namespaces/default/workflows/${conversation.id}/${conversation.runId}/user-metadata`);
  // The UI renders summary and details as markdown in sandboxed frames.
  const shown = async () => (await Promise.all(page.frames().map((frame) => frame.innerText('body').catch(() => '')))).join('\n');
  let text = '';
  for (let i = 0; i < 100 && !/model claude-sonnet-5-5 · tools: get_weather, get_time, send_email/.test(text); i++) {
    await sleep(300);
    text = await shown();
  }
  expect(text).toMatch(/What.s the weather and the local time in Paris right now/);
  expect(text).toContain('model claude-sonnet-5-5 · tools: get_weather, get_time, send_email');
  await page.screenshot({ path: path.join(ARTIFACTS, 'conversation-summary.png') });
});

test('the latest run of a conversation that continued as new links the run before it', async () => {
  expect(chain.runIds.length).toBeGreaterThanOrEqual(2);
  const latest = chain.runIds[chain.runIds.length - 1]!;
  const previous = chain.runIds[chain.runIds.length - 2]!;
  await page.goto(`${server.uiUrl}/namespaces/default/workflows/${chain.id}/${latest}/history`);
  // The UI shows a chain under the run's Relationships tab: the run it continued, linked by its run id.
  await page.locator(`a[href$="/workflows/${chain.id}/${latest}/relationships"]`).first().click();
  await page.getByText('Previous Execution', { exact: true }).first().waitFor({ timeout: 30_000 });
  await page.locator(`a[href*="/workflows/${chain.id}/${chain.runIds[0]!}"]`).first().waitFor({ timeout: 30_000 });
  const link = page.locator(`a[href*="/workflows/${chain.id}/${previous}"]`).first();
  await link.waitFor({ timeout: 30_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'continued-as-new-relationships.png') });
  await link.click();
  await page.waitForURL(new RegExp(`/workflows/${chain.id}/${previous}(/|$)`), { timeout: 30_000 });
});

test("the conversation's cost is a search attribute on its page", async () => {
  await page.goto(`${server.uiUrl}/namespaces/default/workflows/${conversation.id}/${conversation.runId}/search-attributes`);
  await page.getByText('AgentCostUsd').first().waitFor({ timeout: 30_000 });
  // Priced at the list price of claude-sonnet-5-5, from what the fake API reported (cache reads included).
  expect(await page.innerText('body')).toMatch(/"AgentCostUsd": 0\.00\d+,/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'conversation-search-attributes.png') });
});
