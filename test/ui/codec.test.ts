// The Temporal Web UI, in a real headless Chromium, on an encrypted conversation: with the codec server wired in
// (`--ui-codec-endpoint`) the UI shows the prompt, the reply and the activity names decrypted; from an origin the codec
// server does not allow, the browser is refused and the UI shows only ciphertext.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { AgentClient } from '../../src/client';
import { freePort, startDevServer, type DevServer } from '../../src/devserver';
import { exampleTools } from '../../src/examples/tools';
import { startCodecServer, type CodecServer } from '../../src/security/codec-server';
import { EncryptionCodec, generateEncryptionKey, staticKeyProvider } from '../../src/security/encryption';
import { FakeMessagesApi, reply, text, toolUse } from '../../src/testing';
import { createAgentWorker } from '../../src/worker';
import { fakeAnthropic } from '../helpers/temporal';
import { findChromium, HEADLESS_CHROMIUM_ARGS } from './chromium';

const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts', 'ui');
const ENCRYPTED_ENCODING_BASE64 = Buffer.from('binary/encrypted').toString('base64');

const secret = `swordfish-${Math.random().toString(36).slice(2, 10)}`;
const prompt = `The launch code is ${secret}; what time is it in Paris?`;
const answer = `Code ${secret.toUpperCase()} noted; it is evening in Paris.`;

let codecServer: CodecServer;
let server: DevServer;
let fake: FakeMessagesApi;
let browser: Browser;
let uiPort: number;
let conversation: { id: string; runId: string };
const codecLog: string[] = [];
let decodeRequests = 0;

beforeAll(async () => {
  const chromiumExecutable = await findChromium();
  const codec = new EncryptionCodec(staticKeyProvider({ current: 'k1', keys: { k1: generateEncryptionKey() } }));
  // The UI's origin must be known to the codec server before the UI starts: pick its port first.
  uiPort = await freePort('127.0.0.1');
  codecServer = await startCodecServer({
    codecs: [codec],
    port: 0,
    allowedOrigins: [`http://127.0.0.1:${uiPort}`],
    // The dev server's UI has no login, so it has no access token to forward: this server answers any caller that
    // CORS lets through (a browser on the allowed origin), as `durable-claude codec-server --no-auth` does.
    authorize: (_header, request) => {
      if (request.operation === 'decode') decodeRequests++;
      return true;
    },
    log: (line) => codecLog.push(line),
  });
  server = await startDevServer({ ui: true, uiPort, uiCodecEndpoint: codecServer.url });
  fake = await FakeMessagesApi.start({});
  fake.addScript({ match: prompt, steps: [reply(toolUse('get_time', { timezone: 'Europe/Paris' })), reply(text(answer))] });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  try {
    const worker = await createAgentWorker({
      connection: nativeConnection,
      taskQueue: 'web-ui-codec',
      tools: exampleTools(),
      payloadCodec: codec,
      anthropic: fakeAnthropic(fake.baseURL),
      workflowBundle: { codePath: process.env.DURABLE_CLAUDE_TEST_BUNDLE! },
    });
    // The client encrypts the prompt with the same codec.
    const agent = new AgentClient({ client: new Client({ connection, dataConverter: { payloadCodecs: [codec] } }), taskQueue: 'web-ui-codec' });
    conversation = await worker.runUntil(async () => {
      const handle = await agent.start({ prompt, tools: ['get_time'], conversationId: `ui-codec-${Date.now()}` });
      await handle.result();
      return { id: handle.conversationId, runId: (await handle.describe()).runId };
    });
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
  browser = await chromium.launch({ executablePath: chromiumExecutable.path, args: HEADLESS_CHROMIUM_ARGS });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await fake?.close();
  await server?.stop();
  await codecServer?.close();
});

/** The conversation's history page, the UI reached at `host` (127.0.0.1 and localhost are two origins of one UI). */
async function historyPage(host: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1300 } });
  await page.goto(`http://${host}:${uiPort}/namespaces/default/workflows/${conversation.id}/${conversation.runId}/history`);
  return page;
}

test('from an origin the codec server does not allow, the browser is refused and the UI shows only ciphertext', async () => {
  const page = await historyPage('localhost');
  try {
    // The UI says so, and shows the payloads as they are stored: the encrypted encoding and base64 ciphertext.
    await page.getByText('Codec Server could not connect').filter({ visible: true }).first().waitFor({ timeout: 30_000 });
    await page.getByText(ENCRYPTED_ENCODING_BASE64).filter({ visible: true }).first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'codec-refused-origin-history.png') });
    const shown = await page.innerText('body');
    expect(shown).not.toContain(secret);
    expect(shown).not.toContain(secret.toUpperCase());
    expect(shown).not.toContain('The launch code is');
    // Even the activities' summaries are encrypted (user metadata goes through the codec too).
    expect(shown).not.toContain('callModel • model');
    expect(codecLog.join('\n')).toContain(`refused a preflight from origin http://localhost:${uiPort}`);
  } finally {
    await page.close();
  }
});

test('with the codec server, the history page shows the prompt, the reply and the activity names decrypted', async () => {
  const before = decodeRequests;
  const page = await historyPage('127.0.0.1');
  try {
    await page.getByText(`"prompt": "${prompt}"`).first().waitFor({ timeout: 30_000 });
    await page.getByText(/callModel • model claude-sonnet-5-5 · turn 1/).first().waitFor({ timeout: 30_000 });
    await page.getByText('runTool • tool get_time', { exact: true }).first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'codec-decrypted-history.png') });
    const shown = await page.innerText('body');
    expect(shown).toContain(answer);
    expect(shown).not.toContain('Codec Server could not connect');
    expect(decodeRequests).toBeGreaterThan(before);
  } finally {
    await page.close();
  }
});
