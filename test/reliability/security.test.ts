// Secrets never enter workflow input or history: the worker holds the API key, the encryption keys and the decision
// key. This test runs conversations with recognisable keys (one of them encrypted, with an approval under a policy)
// and scans every history it can find — its own, every conversation on the test server at the time, and the recorded
// fixtures — for them, payloads decoded. Decision tokens may appear only in the signal or Update that carried them
// (where an encrypting client leaves ciphertext): never in what the workflow keeps.
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';
import { AgentClient } from '../../src/client';
import { createDecisionVerifier, decisionInputHash, mintDecisionToken } from '../../src/security/credentials';
import { EncryptionCodec, generateEncryptionKey, staticKeyProvider } from '../../src/security/encryption';
import { defineTool } from '../../src/tools/define-tool';
import { reply, text, toolUse } from '../../src/testing';
import { FIXTURES_DIR } from '../helpers/fixtures';
import { startHarness, uniquePrompt, withWorker, type Harness } from '../helpers/harness';
import { fakeAnthropic } from '../helpers/temporal';
import { writeFigures } from './figures';

const KEY_PREFIX = 'sk-ant-';
const SECRET = `${KEY_PREFIX}security-scan-${Math.random().toString(36).slice(2)}`;
const ENCRYPTION_KEY = generateEncryptionKey();
const DECISION_KEY = `decision-key-security-scan-${Math.random().toString(36).slice(2)}-0123456789`;
/** A compact JWT: header.payload.signature, each base64url (the header and payload are JSON objects). */
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/;
const { EventType } = temporal.api.enums.v1;
const CARRIERS = new Set([EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]);
/** What no history or fixture may hold: the API key, the encryption key (base64 and hex), the decision key. */
const KEY_MATERIAL = [KEY_PREFIX, ENCRYPTION_KEY, Buffer.from(ENCRYPTION_KEY, 'base64').toString('hex'), DECISION_KEY];

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

test('no API key, encryption key, decision key or stored token appears in any workflow history or fixture', async () => {
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

  // An encrypted conversation whose gated tool is approved with a signed credential.
  const codec = new EncryptionCodec(staticKeyProvider({ current: 'scan', keys: { scan: ENCRYPTION_KEY } }));
  const encryptedPrompt = uniquePrompt('Refund the customer, quietly');
  const refund = defineTool({ name: 'refund', description: 'Refund', input: z.object({ amount: z.number() }), approvers: { roles: ['finance'] }, run: ({ amount }) => `refunded ${amount}` });
  harness.fake.addScript({ match: encryptedPrompt, steps: [reply(toolUse('refund', { amount: 12 })), reply(text('refunded'))] });
  let encryptedId = '';
  let token = '';
  await withWorker(
    harness,
    { tools: [refund], payloadCodec: codec, decisionVerifier: createDecisionVerifier({ hmacKeys: { default: DECISION_KEY } }), anthropic: fakeAnthropic(harness.fake.baseURL, SECRET) },
    async (plainAgent) => {
      const client = new Client({ connection: harness.temporal.connection, dataConverter: { payloadCodecs: [codec] } });
      const agent = new AgentClient({ client, taskQueue: plainAgent.taskQueue });
      const handle = await agent.start({ prompt: encryptedPrompt, tools: ['refund'] });
      encryptedId = handle.conversationId;
      let pending = await handle.pending();
      while (pending.length === 0) pending = await new Promise((r) => setTimeout(r, 100)).then(() => handle.pending());
      const binding = { conversationId: encryptedId, toolUseId: pending[0]!.toolUseId, decision: 'approve' as const, inputSha256: decisionInputHash(pending[0]!.input) };
      token = await mintDecisionToken({ key: DECISION_KEY, subject: 'fiona', roles: ['finance'], binding });
      await handle.approve(pending[0]!.toolUseId, { token });
      expect((await handle.result()).status).toBe('completed');
    },
  );

  // The scan would see a token: the pattern matches the one sent.
  expect(JWT.test(token)).toBe(true);
  let scanned = 0;
  const leaks: string[] = [];
  for await (const execution of harness.temporal.client.workflow.list({ query: `WorkflowType = 'agentConversation'` })) {
    const history = await harness.temporal.client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
    scanned += 1;
    const encrypted = execution.workflowId === encryptedId;
    for (const event of history.events ?? []) {
      const bytes = Buffer.from(temporal.api.history.v1.HistoryEvent.encode(event).finish());
      const where = `${execution.workflowId} event ${String(event.eventId)}`;
      for (const secret of KEY_MATERIAL) if (bytes.includes(secret)) leaks.push(`${where}: key material`);
      // A token only where a client sent it; in an encrypted conversation, not even there.
      const body = bytes.toString('latin1');
      if ((encrypted || !CARRIERS.has(event.eventType!)) && (JWT.test(body) || (token !== '' && body.includes(token)))) leaks.push(`${where}: a decision token`);
      if (encrypted && body.includes('Refund the customer')) leaks.push(`${where}: the prompt in plaintext`);
    }
  }
  const fixtures = fs.readdirSync(FIXTURES_DIR).filter((f) => f.endsWith('.json'));
  for (const file of fixtures) {
    const json = JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, file), 'utf8')) as { events?: Array<{ eventType?: string }> };
    const text = decodedJsonText(json);
    for (const secret of KEY_MATERIAL) if (text.includes(secret)) leaks.push(`${file}: key material`);
    for (const event of json.events ?? []) {
      const carrier = event.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED' || event.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED';
      if (!carrier && JWT.test(decodedJsonText(event))) leaks.push(`${file}: a decision token outside the event that carried it`);
    }
  }
  expect(leaks).toEqual([]);
  expect(scanned).toBeGreaterThan(1);
  writeFigures('security', { historiesScanned: scanned, fixturesScanned: fixtures.length, leaks: leaks.length });
});
