// Live output in a real browser: the project's headless Chromium opens a small page whose EventSource reads a
// conversation's events from the SSE handler and shows the text as it streams, through a failed model-call attempt
// (its partial text dropped on model_call_reset) and a connection the server drops mid-stream (EventSource comes
// back by itself with Last-Event-ID).
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { AgentClient } from '../../src/client';
import type { NatsEventStore } from '../../src/streaming/nats-event-store';
import { createEventStreamHandler } from '../../src/streaming/sse';
import { reply, text } from '../../src/testing';
import { connectTestEventStore } from '../helpers/events';
import { startHarness, uniquePrompt, withWorker, type Harness } from '../helpers/harness';
import { uniqueTaskQueue } from '../helpers/temporal';
import { findChromium, HEADLESS_CHROMIUM_ARGS } from './chromium';

const PAGE = fs.readFileSync(path.join(__dirname, 'live-page.html'), 'utf8');
/** The server drops the page's first event connection right after writing this many text deltas. */
const DROP_AFTER_DELTAS = 8;

/** What the page's script leaves on window, as functions run in the page see it (this tsconfig has no DOM types). */
interface LivePageWindow {
  /** Every text the page showed, in order. */
  shown: string[];
  /** How many times the EventSource connected. */
  opens: number;
  document: { getElementById(id: string): { textContent: string | null } | null };
}

let harness: Harness;
let store: NatsEventStore;
let browser: Browser;
let server: http.Server;
let baseUrl: string;
/** The Last-Event-ID of each request for events, in order ('' when it had none). */
const eventRequests: string[] = [];
let dropped = false;

beforeAll(async () => {
  const chromiumExecutable = await findChromium();
  harness = await startHarness();
  store = await connectTestEventStore();
  const agent = new AgentClient({ client: harness.temporal.client, events: store });
  const events = createEventStreamHandler({ agent, retryMs: 250 });
  server = http.createServer((req, res) => {
    if (req.url?.startsWith('/live-page.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
      return;
    }
    eventRequests.push(String(req.headers['last-event-id'] ?? ''));
    if (!dropped) dropMidStream(res);
    void events(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: chromiumExecutable.path, args: HEADLESS_CHROMIUM_ARGS });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await store?.close();
  await harness?.close();
});

/** A network failure in the middle of the reply: the socket goes away once enough text has been written to it. */
function dropMidStream(res: http.ServerResponse): void {
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  let deltas = 0;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    const accepted = write(chunk, ...rest);
    if (!dropped && typeof chunk === 'string' && chunk.includes('\nevent: text_delta\n') && ++deltas === DROP_AFTER_DELTAS) {
      dropped = true;
      res.socket?.destroy();
    }
    return accepted;
  }) as typeof res.write;
}

test('a page shows the text as it streams, drops a failed attempt, and survives a dropped connection with the answer exactly once', async () => {
  const prompt = uniquePrompt('Describe a lighthouse at night.');
  const answer =
    'A lighthouse at night turns its beam slowly over the black water, a white arm sweeping past rocks and waves, ' +
    'while the keeper watches the horizon for ships.';
  harness.fake.addScript({
    match: prompt,
    // The first attempt streams a little text and dies (an overloaded error mid-stream); the retry streams the answer slowly.
    steps: [{ fault: 'stream-error', then: { ...reply(text(answer)), latency: { chunkMs: 40 }, textChunkChars: 4 } }],
  });
  const taskQueue = uniqueTaskQueue('live-ui');

  const { shown, rendered, opens, result, partialSeen } = await withWorker(harness, { taskQueue, events: store }, async () => {
    const agent = new AgentClient({ client: harness.temporal.client, taskQueue, events: store });
    const handle = await agent.start({ prompt });
    const page = await browser.newPage();
    try {
      await page.goto(`${baseUrl}/live-page.html?conversation=${encodeURIComponent(handle.conversationId)}`);
      // Part of the answer is on the page while the rest is still to come.
      const partial = await page.waitForFunction(
        (full) => {
          const now = (globalThis as unknown as LivePageWindow).document.getElementById('answer')?.textContent ?? '';
          return now.length > 0 && now.length < full.length && full.startsWith(now) ? now : undefined;
        },
        answer,
        { timeout: 60_000 },
      );
      const partialSeen = (await partial.jsonValue()) as string;
      await page.locator('body[data-state="ended"]').waitFor({ state: 'attached', timeout: 60_000 });
      return {
        partialSeen,
        shown: await page.locator('#answer').textContent(),
        opens: await page.evaluate(() => (globalThis as unknown as LivePageWindow).opens),
        result: await handle.result(),
        rendered: await page.evaluate(() => (globalThis as unknown as LivePageWindow).shown),
      };
    } finally {
      await page.close();
    }
  });

  expect(result.text).toBe(answer);
  // The failed attempt's text was on the page until its reset.
  expect(rendered).toContain('partial');
  expect(rendered.at(-1)).toBe(answer);
  expect(partialSeen.length).toBeLessThan(answer.length);
  // The dropped connection was followed by one that resumed after the last event the page had.
  expect(dropped).toBe(true);
  expect(opens).toBe(2);
  expect(eventRequests).toHaveLength(2);
  expect(eventRequests[0]).toBe('');
  expect(eventRequests[1]).toMatch(/^\d+$/);
  // Whole and once: no chunk twice from the reconnect, nothing left of the failed attempt.
  expect(shown).toBe(answer);
});
