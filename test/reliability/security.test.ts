// Secrets never enter workflow input or history: the worker holds the API key. This test runs conversations with a
// recognisable key and scans every history it can find — its own, every conversation on the test server at the
// time, and the recorded fixtures — for it, payloads decoded.
import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';
import { defineTool } from '../../src/tools/define-tool';
import { reply, text, toolUse } from '../../src/testing';
import { FIXTURES_DIR } from '../helpers/fixtures';
import { startHarness, uniquePrompt, withWorker, type Harness } from '../helpers/harness';
import { fakeAnthropic } from '../helpers/temporal';
import { writeFigures } from './figures';

const KEY_PREFIX = 'sk-ant-';
const SECRET = `${KEY_PREFIX}security-scan-${Math.random().toString(36).slice(2)}`;

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

/** Every string in a JSON history, with base64 payload data decoded, so a secret inside a payload is seen. */
function decodedJsonText(value: unknown): string {
  const parts: string[] = [];
  const walk = (node: unknown, key?: string) => {
    if (typeof node === 'string') {
      parts.push(node);
      if (key === 'data') parts.push(Buffer.from(node, 'base64').toString('utf8'));
    } else if (Array.isArray(node)) node.forEach((n) => walk(n));
    else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, k);
  };
  walk(value);
  return parts.join('\n');
}

test('the API key never appears in any workflow history', async () => {
  const prompt = uniquePrompt('Scan me for secrets');
  const echo = defineTool({ name: 'echo', description: 'Echo', input: z.object({ t: z.string() }), run: ({ t }) => t, needsApproval: true });
  harness.fake.addScript({ match: prompt, steps: [reply(toolUse('echo', { t: 'hello' })), { fault: '401', then: reply(text('done')) }] });
  await withWorker(harness, { tools: [echo], anthropic: fakeAnthropic(harness.fake.baseURL, SECRET) }, async (agent) => {
    const handle = await agent.start({ prompt, tools: ['echo'], modelRetry: { initialInterval: '100ms' } });
    while ((await handle.pending()).length === 0) await new Promise((r) => setTimeout(r, 100));
    await handle.approve((await handle.pending())[0]!.toolUseId, { by: 'security-test' });
    await handle.result().catch(() => undefined);
    await handle.export();
  });
  // The key was really used: the fake API saw it on every request of this conversation.
  const sent = harness.fake.requestsFor(prompt);
  expect(sent.length).toBeGreaterThan(0);
  expect(sent.every((r) => (r.headers.authorization ?? r.headers['x-api-key'] ?? '').includes(SECRET))).toBe(true);

  let scanned = 0;
  const leaks: string[] = [];
  for await (const execution of harness.temporal.client.workflow.list({ query: `WorkflowType = 'agentConversation'` })) {
    const history = await harness.temporal.client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
    const bytes = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
    scanned += 1;
    if (bytes.includes(KEY_PREFIX)) leaks.push(execution.workflowId);
  }
  const fixtures = fs.readdirSync(FIXTURES_DIR).filter((f) => f.endsWith('.json'));
  for (const file of fixtures) {
    if (decodedJsonText(JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, file), 'utf8'))).includes(KEY_PREFIX)) leaks.push(file);
  }
  expect(leaks).toEqual([]);
  expect(scanned).toBeGreaterThan(0);
  writeFigures('security', { historiesScanned: scanned, fixturesScanned: fixtures.length, leaks: leaks.length });
});
