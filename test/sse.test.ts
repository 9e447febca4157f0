// The SSE handler on a real node:http server, read by a raw HTTP client: conversations run on the real Temporal dev
// server, their events go through the real nats-server, the model is the fake Messages API streaming scripted text.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { AgentClient, type ConversationHandle } from '../src/client';
import type { ConversationEvent, TextDeltaEvent } from '../src/streaming/events';
import type { NatsEventStore } from '../src/streaming/nats-event-store';
import { createEventStreamHandler, type EventStreamHandler } from '../src/streaming/sse';
import { reply, text, toolUse } from '../src/testing';
import { defineTool } from '../src/tools/define-tool';
import { connectTestEventStore } from './helpers/events';
import { startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';
import { uniqueTaskQueue } from './helpers/temporal';

let harness: Harness;
let store: NatsEventStore;
let server: http.Server;
let baseUrl: string;
/**
 * The same handler on a Unix socket, for the slow-reader test: a Unix socket's kernel buffers are a few hundred KB and
 * fixed, where loopback TCP grows its own to megabytes, so a reader that stops shows on the server within one reply.
 */
let unixServer: http.Server;
let socketPath: string;
/** For the unix-socket requests: the most bytes the response held in this process right after a text delta, and the largest delta. */
const buffering = { maxBuffered: 0, largestDelta: 0, highWaterMark: 0 };
/** The handler's promise for each request, by path: it settles once the server side of the stream is over. */
const served = new Map<string, Promise<void>>();

beforeAll(async () => {
  harness = await startHarness();
  store = await connectTestEventStore();
  const agent = new AgentClient({ client: harness.temporal.client, events: store });
  const withoutStore = new AgentClient({ client: harness.temporal.client });
  const routes: Array<[RegExp, EventStreamHandler]> = [
    [/^\/idle\//, createEventStreamHandler({ agent, heartbeatMs: 50 })],
    [/^\/no-store\//, createEventStreamHandler({ agent: withoutStore })],
    [/^\//, createEventStreamHandler({ agent, retryMs: 250 })],
  ];
  server = http.createServer((req, res) => {
    const handler = routes.find(([prefix]) => prefix.test(req.url ?? '/'))![1];
    served.set(req.url ?? '/', handler(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const slowReaderHandler = createEventStreamHandler({ agent });
  unixServer = http.createServer((req, res) => {
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    buffering.highWaterMark = res.writableHighWaterMark;
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      const accepted = write(chunk, ...rest);
      // Deltas only: the events after the reply carry its whole text, one write each, whatever the reader does.
      if (typeof chunk === 'string' && chunk.includes('\nevent: text_delta\n')) {
        buffering.maxBuffered = Math.max(buffering.maxBuffered, res.writableLength);
        buffering.largestDelta = Math.max(buffering.largestDelta, Buffer.byteLength(chunk));
      }
      return accepted;
    }) as typeof res.write;
    served.set(`unix:${req.url ?? '/'}`, slowReaderHandler(req, res));
  });
  socketPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'durable-claude-sse-')), 'events.sock');
  await new Promise<void>((resolve) => unixServer.listen(socketPath, resolve));
});

afterAll(async () => {
  for (const each of [server, unixServer]) {
    each?.closeAllConnections();
    await new Promise((resolve) => each?.close(resolve));
  }
  if (socketPath) fs.rmSync(path.dirname(socketPath), { recursive: true, force: true });
  await store?.close();
  await harness?.close();
});

// ── A raw Server-Sent Events client over node:http ─────────────────────────────────────────────────────────────

interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

interface SseResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Each message and comment as it arrives; ends with the response. */
  items: AsyncGenerator<SseMessage | { comment: string } | { retry: number }, void, undefined>;
  /** The body of an answer that is not a stream. */
  body(): Promise<string>;
  /** Drops the connection, as a browser tab that closes. */
  disconnect(): void;
}

function openStream(path: string, headers: Record<string, string> = {}, via: { socketPath?: string } = {}): Promise<SseResponse> {
  return new Promise((resolve, reject) => {
    const url = via.socketPath ? `http://localhost${path}` : `${baseUrl}${path}`;
    const request = http.get(url, { headers: { accept: 'text/event-stream', ...headers }, ...via }, (res) => {
      res.setEncoding('utf8');
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        items: parseStream(res),
        async body() {
          let all = '';
          for await (const chunk of res) all += chunk as string;
          return all;
        },
        disconnect: () => request.destroy(),
      });
    });
    request.on('error', reject);
  });
}

async function* parseStream(res: http.IncomingMessage): AsyncGenerator<SseMessage | { comment: string } | { retry: number }, void, undefined> {
  let buffered = '';
  try {
    for await (const chunk of res) {
      buffered += chunk as string;
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const message: SseMessage = { event: 'message', data: '' };
        let isMessage = false;
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) {
            yield { comment: line.slice(1).trim() };
            continue;
          }
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'retry') yield { retry: Number(value) };
          else if (field === 'id') message.id = value;
          else if (field === 'event') message.event = value;
          else if (field === 'data') message.data = message.data ? `${message.data}\n${value}` : value;
          if (field === 'id' || field === 'event' || field === 'data') isMessage = true;
        }
        if (isMessage) yield message;
      }
    }
  } catch {
    // A connection we dropped ends the stream.
  }
}

function isMessage(item: SseMessage | { comment: string } | { retry: number }): item is SseMessage {
  return 'event' in item;
}

/** Reads messages until `stop` says so (that message included) or the stream ends. */
async function readMessages(response: SseResponse, stop: (message: SseMessage, read: SseMessage[]) => boolean = () => false): Promise<SseMessage[]> {
  const read: SseMessage[] = [];
  for await (const item of response.items) {
    if (!isMessage(item)) continue;
    read.push(item);
    if (stop(item, read)) break;
  }
  return read;
}

function eventsOf(messages: SseMessage[]): ConversationEvent[] {
  return messages.filter((m) => m.event !== 'end').map((m) => JSON.parse(m.data) as ConversationEvent);
}

/** The text a reader shows: every text delta, minus those of attempts that were reset. */
function shownText(events: ConversationEvent[]): string {
  const reset = new Set(events.filter((e) => e.type === 'model_call_reset').map((e) => `${e.call}#${e.attempt}`));
  return events
    .filter((e): e is TextDeltaEvent => e.type === 'text_delta' && !reset.has(`${e.call}#${e.attempt}`))
    .map((e) => e.text)
    .join('');
}

const eventsPath = (conversationId: string) => `/conversations/${encodeURIComponent(conversationId)}/events`;

/** A reply that streams in many small text deltas, slowly enough that a reader sees it arrive. */
function slowReply(answer: string) {
  return { ...reply(text(answer)), latency: { chunkMs: 20 }, textChunkChars: 6 };
}

async function runWithStore<T>(setup: Parameters<typeof withWorker>[1], fn: (agent: AgentClient) => Promise<T>): Promise<T> {
  const taskQueue = uniqueTaskQueue('sse');
  return withWorker(harness, { ...setup, taskQueue, events: store }, () => fn(new AgentClient({ client: harness.temporal.client, taskQueue, events: store })));
}

// ── The tests ──────────────────────────────────────────────────────────────────────────────────────────────────

describe('createEventStreamHandler', () => {
  test('streams a conversation as Server-Sent Events: ids in increasing order, text deltas that add up to the reply, then `end`', async () => {
    const prompt = uniquePrompt('Tell me about the tides.');
    const answer = 'The tides follow the moon: twice a day the sea rises and falls along the coast, higher at new and full moon.';
    harness.fake.addScript({ match: prompt, steps: [slowReply(answer)] });

    const { messages, response, result, conversationId } = await runWithStore({}, async (agent) => {
      const handle = await agent.start({ prompt });
      const response = await openStream(eventsPath(handle.conversationId));
      const retries: number[] = [];
      const read: SseMessage[] = [];
      for await (const item of response.items) {
        if ('retry' in item) retries.push(item.retry);
        if (isMessage(item)) read.push(item);
      }
      expect(retries).toEqual([250]);
      return { messages: read, response, result: await handle.result(), conversationId: handle.conversationId };
    });

    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(response.headers['cache-control']).toBe('no-cache');
    expect(response.headers['x-accel-buffering']).toBe('no');

    // The stream ends with `end`, right after the conversation's own last event.
    expect(messages.at(-1)).toEqual({ event: 'end', data: expect.any(String) });
    expect(JSON.parse(messages.at(-1)!.data)).toEqual({ conversationId });
    const events = eventsOf(messages);
    expect(events.at(-1)).toMatchObject({ type: 'conversation_finished', status: 'completed' });

    // Each message names its event: id is the offset, event the type, data the event itself.
    for (const [i, message] of messages.slice(0, -1).entries()) {
      expect(message.id).toBe(String(events[i]!.offset));
      expect(message.event).toBe(events[i]!.type);
    }
    const offsets = events.map((e) => e.offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(new Set(offsets).size).toBe(offsets.length);

    const deltas = events.filter((e) => e.type === 'text_delta');
    expect(deltas.length).toBeGreaterThan(5);
    expect(shownText(events)).toBe(answer);
    expect(result.text).toBe(answer);
  });

  test('a reconnect with Last-Event-ID gets exactly the rest: no event twice, none missing, against a full read', async () => {
    const prompt = uniquePrompt('Explain the water cycle.');
    const answer = 'Water evaporates from the sea, condenses into clouds, falls as rain or snow, and flows back to the sea in rivers.';
    harness.fake.addScript({ match: prompt, steps: [slowReply(answer)] });

    const { full, firstPart, rest, fromMiddle, middle } = await runWithStore({}, async (agent) => {
      const handle = await agent.start({ prompt });
      const path = eventsPath(handle.conversationId);
      const fullRead = openStream(path).then((response) => readMessages(response));
      // A reader that drops out after a few deltas, while the reply is still streaming…
      const first = await openStream(`${path}?from=0`);
      const firstPart = await readMessages(first, (_, read) => read.filter((m) => m.event === 'text_delta').length === 5);
      first.disconnect();
      // …and comes back as an EventSource does: the same URL, with the id of the last event it saw.
      const lastSeen = firstPart.at(-1)!.id!;
      const rest = await readMessages(await openStream(`${path}?from=0`, { 'last-event-id': lastSeen }));
      const full = await fullRead;
      // ?from= starts at an offset.
      const middle = full[Math.floor(full.length / 2)]!.id!;
      const fromMiddle = await readMessages(await openStream(`${path}?from=${middle}`));
      await handle.result();
      return { full, firstPart, rest, fromMiddle, middle: Number(middle) };
    });

    expect(full.at(-1)!.event).toBe('end');
    expect([...firstPart, ...rest]).toEqual(full);
    expect(shownText(eventsOf([...firstPart, ...rest]))).toBe(answer);
    expect(fromMiddle).toEqual(full.filter((m) => m.event === 'end' || Number(m.id) >= middle));
  });

  test('a reader that stops reading holds the events in the store, not in the server: the server waits for drain, then sends the rest', async () => {
    const prompt = uniquePrompt('Write out the whole manual.');
    // About 600 KB of text in 200 deltas: more than the socket's buffers hold, so the server must stop and wait.
    const answer = Array.from({ length: 12_000 }, (_, i) => `line ${i} of the manual. `).join('').slice(0, 600_000);
    harness.fake.addScript({ match: prompt, steps: [{ ...reply(text(answer)), textChunkChars: 3_000 }] });

    const messages = await runWithStore({}, async (agent) => {
      const handle = await agent.start({ prompt });
      const response = await openStream(eventsPath(handle.conversationId), {}, { socketPath });
      // Not reading: the whole reply is streamed by the model and stored while this client holds still.
      await handle.result();
      return readMessages(response);
    });

    expect(messages.at(-1)!.event).toBe('end');
    expect(shownText(eventsOf(messages))).toBe(answer);
    // What the server held for the stalled reader: never more than its buffer limit plus the one delta that crossed it.
    expect(buffering.largestDelta).toBeGreaterThan(3_000);
    expect(buffering.maxBuffered).toBeLessThanOrEqual(buffering.highWaterMark + buffering.largestDelta);
  });

  test('an unknown conversation is a 404 whose JSON names it, however the id is given', async () => {
    for (const [path, id] of [
      ['/conversations/no-such-conversation/events', 'no-such-conversation'],
      ['/events?conversation=no-such-either', 'no-such-either'],
      [`/conversations/${encodeURIComponent('tenant/42 ünïcode')}/events`, 'tenant/42 ünïcode'],
    ] as const) {
      const response = await openStream(path);
      expect(response.status).toBe(404);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      const body = JSON.parse(await response.body()) as { error: string; message: string; conversationId: string };
      expect(body).toEqual({ error: 'conversation_not_found', conversationId: id, message: `No conversation with id ${id}` });
    }
  });

  test('a bad Last-Event-ID or ?from= is a 400 that says what is wrong', async () => {
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['/conversations/c1/events', { 'last-event-id': 'abc' }, /^Last-Event-ID must be .*non-negative whole number.*"abc"/],
      ['/conversations/c1/events', { 'last-event-id': '-1' }, /^Last-Event-ID must be .*"-1"/],
      ['/conversations/c1/events', { 'last-event-id': '1.5' }, /^Last-Event-ID must be .*"1.5"/],
      ['/conversations/c1/events?from=-3', {}, /^from must be a non-negative whole number.*"-3"/],
      ['/conversations/c1/events?from=2.5', {}, /^from must be a non-negative whole number.*"2.5"/],
      ['/conversations/c1/events?from=soon', {}, /^from must be a non-negative whole number.*"soon"/],
    ];
    for (const [path, headers, message] of cases) {
      const response = await openStream(path, headers);
      expect(response.status).toBe(400);
      const body = JSON.parse(await response.body()) as { error: string; message: string };
      expect(body.error).toBe('bad_offset');
      expect(body.message).toMatch(message);
    }
    const noId = await openStream('/somewhere-else');
    expect(noId.status).toBe(400);
    expect(JSON.parse(await noId.body())).toMatchObject({ error: 'no_conversation_id' });
  });

  test('a client made without an event store answers 503 with the fix', async () => {
    const response = await openStream('/no-store/conversations/any/events');
    expect(response.status).toBe(503);
    const body = JSON.parse(await response.body()) as { error: string; message: string };
    expect(body.error).toBe('live_output_unavailable');
    expect(body.message).toMatch(/needs an event store/);
  });

  test('an idle stream gets keepalive comments, and a client that disconnects ends the server-side subscription', async () => {
    const prompt = uniquePrompt('Email the team that the release is out.');
    const sendEmail = defineTool({
      name: 'send_email',
      description: 'Send an email',
      input: z.object({ to: z.string(), body: z.string() }),
      needsApproval: true,
      run: async () => 'sent',
    });
    harness.fake.addScript({
      match: prompt,
      steps: [reply(text('I will send it.'), toolUse('send_email', { to: 'team@example.com', body: 'The release is out.' })), reply(text('Sent.'))],
    });

    await runWithStore({ tools: [sendEmail] }, async (agent) => {
      const handle: ConversationHandle = await agent.start({ prompt, tools: ['send_email'] });
      const path = `/idle${eventsPath(handle.conversationId)}`;
      const response = await openStream(path);
      let approvalSeen = false;
      let keepalivesWhileWaiting = 0;
      for await (const item of response.items) {
        if (isMessage(item) && item.event === 'approval_requested') approvalSeen = true;
        if (approvalSeen && 'comment' in item && item.comment === 'keepalive') keepalivesWhileWaiting++;
        if (keepalivesWhileWaiting === 2) break;
      }
      expect(keepalivesWhileWaiting).toBe(2);

      // The conversation waits for a person; the reader leaves. The handler's work must end with it, not with the conversation.
      response.disconnect();
      await served.get(path);
      expect((await handle.describe()).status.name).toBe('RUNNING');

      const [call] = await handle.pending();
      await handle.approve(call!.toolUseId, { by: 'test' });
      expect((await handle.result()).text).toBe('Sent.');
    });
  });
});
