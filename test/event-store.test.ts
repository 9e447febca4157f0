// The live-output event store on a real nats-server (global-setup's, or one of the test's own where the test stops
// it or changes the stream's limits). No mocks: every event goes through JetStream.
import { randomUUID } from 'node:crypto';
import { startEventServer } from '../src/event-server';
import type { ConversationEvent, UnsequencedEvent } from '../src/streaming/events';
import { connectEventStore, type NatsEventStore } from '../src/streaming/nats-event-store';
import { connectTestEventStore } from './helpers/events';

function textDelta(conversationId: string, text: string): UnsequencedEvent {
  return { type: 'text_delta', conversationId, runId: 'run-1', turn: 1, at: new Date().toISOString(), call: 'model-1', attempt: 1, index: 0, text };
}

/** Publishes one text delta per text, each with its own dedup id, and waits until they are stored. */
async function publishTexts(store: NatsEventStore, conversationId: string, texts: string[]): Promise<void> {
  for (const text of texts) store.publish(textDelta(conversationId, text), { dedupId: randomUUID() });
  await store.flush();
}

/** The first `count` events of a subscription; leaving the loop ends the subscription. */
async function take(events: AsyncIterable<ConversationEvent>, count: number): Promise<ConversationEvent[]> {
  const taken: ConversationEvent[] = [];
  if (count === 0) return taken;
  for await (const event of events) {
    taken.push(event);
    if (taken.length === count) break;
  }
  return taken;
}

const texts = (events: ConversationEvent[]) => events.map((event) => (event.type === 'text_delta' ? event.text : event.type));
const range = (n: number, prefix = 't') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Fails with a message instead of hanging the test until jest's timeout. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('NatsEventStore on the test run’s nats-server', () => {
  let store: NatsEventStore;
  beforeAll(async () => {
    store = await connectTestEventStore();
  });
  afterAll(async () => {
    await store.close();
  });
  const newConversation = () => `conversation-${randomUUID()}`;

  test('a late subscriber from offset 0 gets every event once, in order, with increasing offsets', async () => {
    const conversationId = newConversation();
    await publishTexts(store, conversationId, range(50));
    const events = await take(store.subscribe(conversationId, { fromOffset: 0 }), 50);
    expect(texts(events)).toEqual(range(50));
    expect(events.every((event) => event.conversationId === conversationId)).toBe(true);
    const offsets = events.map((event) => event.offset);
    expect(offsets.every((offset, i) => offset > 0 && (i === 0 || offset > offsets[i - 1]!))).toBe(true);
    expect(await store.lastOffset(conversationId)).toBe(offsets.at(-1));
  });

  test('fromOffset in the middle starts at that event', async () => {
    const conversationId = newConversation();
    await publishTexts(store, conversationId, range(10));
    const all = await take(store.subscribe(conversationId), 10);
    const fromSixth = await take(store.subscribe(conversationId, { fromOffset: all[5]!.offset }), 4);
    expect(texts(fromSixth)).toEqual(['t5', 't6', 't7', 't8']);
    expect(fromSixth.map((event) => event.offset)).toEqual(all.slice(5, 9).map((event) => event.offset));
  });

  test('two subscribers attached while events are published see the same sequence', async () => {
    const conversationId = newConversation();
    await publishTexts(store, conversationId, ['before']);
    const first = take(store.subscribe(conversationId), 201);
    const second = take(store.subscribe(conversationId), 201);
    await publishTexts(store, conversationId, range(200));
    const [a, b] = await Promise.all([first, second]);
    expect(texts(a)).toEqual(['before', ...range(200)]);
    expect(a).toEqual(b);
  });

  test('a subscriber waiting at the end receives an event published later', async () => {
    const conversationId = newConversation();
    await publishTexts(store, conversationId, ['first']);
    const iterator = store.subscribe(conversationId)[Symbol.asyncIterator]();
    expect(texts([(await iterator.next()).value as ConversationEvent])).toEqual(['first']);
    const next = iterator.next();
    await publishTexts(store, conversationId, ['later']);
    expect(texts([(await next).value as ConversationEvent])).toEqual(['later']);
    await iterator.return?.();
  });

  test('an offset beyond the end waits for the first event at or past it', async () => {
    const conversationId = newConversation();
    await publishTexts(store, conversationId, ['old']);
    const fromOffset = (await store.lastOffset(conversationId)) + 20;
    const firstEvent = take(store.subscribe(conversationId, { fromOffset }), 1);
    // Published below fromOffset: never delivered. The shared sequence then moves past it through other conversations.
    await publishTexts(store, conversationId, ['below']);
    await publishTexts(store, newConversation(), range(25));
    await publishTexts(store, conversationId, ['past']);
    const [event] = await firstEvent;
    expect(texts([event!])).toEqual(['past']);
    expect(event!.offset).toBeGreaterThanOrEqual(fromOffset);
  });

  test('abort ends the iterator without an error, also while it waits for events', async () => {
    const conversationId = newConversation();
    await publishTexts(store, conversationId, ['only']);
    const controller = new AbortController();
    const iterator = store.subscribe(conversationId, { signal: controller.signal })[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    const waiting = iterator.next();
    controller.abort();
    await expect(waiting).resolves.toEqual({ done: true, value: undefined });
    expect(store.bufferedForSubscribers()).toBe(0);

    const aborted = new AbortController();
    aborted.abort();
    await expect(take(store.subscribe(conversationId, { signal: aborted.signal }), 1)).resolves.toEqual([]);
  });

  test('the same dedupId published twice is stored once', async () => {
    const conversationId = newConversation();
    store.publish(textDelta(conversationId, 'once'), { dedupId: `${conversationId}/1` });
    store.publish(textDelta(conversationId, 'once again'), { dedupId: `${conversationId}/1` });
    store.publish(textDelta(conversationId, 'next'), { dedupId: `${conversationId}/2` });
    await store.flush();
    expect(texts(await take(store.subscribe(conversationId), 2))).toEqual(['once', 'next']);
    const last = await store.lastOffset(conversationId);
    const [firstEvent] = await take(store.subscribe(conversationId), 1);
    expect(last).toBeGreaterThan(firstEvent!.offset);
  });

  test('a negative or non-integer fromOffset is a RangeError', () => {
    for (const fromOffset of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '3' as unknown as number]) {
      expect(() => store.subscribe('any', { fromOffset })).toThrow(RangeError);
    }
    expect(() => store.subscribe('any', { fromOffset: -1 })).toThrow(/fromOffset must be a non-negative integer/);
  });

  test('conversation ids with dots, spaces, wildcards and unicode are kept apart', async () => {
    const base = newConversation();
    const ids = [base, `${base}.child`, `${base} two words`, `${base}.*`, `${base}.>`, `${base} ünïcødé 会话 🚀`];
    for (const id of ids) await publishTexts(store, id, [`for ${id}`]);
    for (const id of ids) {
      const [event] = await take(store.subscribe(id), 1);
      expect([id, event!.conversationId, texts([event!])]).toEqual([id, id, [`for ${id}`]]);
      expect(await store.lastOffset(id)).toBe(event!.offset);
    }
  });

  test('two namespaces do not see each other’s events', async () => {
    const other = await connectTestEventStore(`namespace-${randomUUID()}`);
    try {
      const conversationId = newConversation();
      await publishTexts(store, conversationId, ['in default']);
      await publishTexts(other, conversationId, ['in other']);
      expect(texts(await take(store.subscribe(conversationId), 1))).toEqual(['in default']);
      expect(texts(await take(other.subscribe(conversationId), 1))).toEqual(['in other']);
      expect(await other.lastOffset(conversationId)).toBeGreaterThan(await store.lastOffset(conversationId));
    } finally {
      await other.close();
    }
  });

  test('close() returns while a subscriber holds events it has not read, and that subscription then ends', async () => {
    const reader = await connectTestEventStore();
    const conversationId = newConversation();
    await publishTexts(store, conversationId, range(10));
    const iterator = reader.subscribe(conversationId)[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    await within(reader.close(), 30_000, 'close() with unread events');
    await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
  });

  test('lastOffset is 0 for a conversation without events and the last offset after them', async () => {
    const conversationId = newConversation();
    expect(await store.lastOffset(conversationId)).toBe(0);
    await publishTexts(store, conversationId, range(3));
    const events = await take(store.subscribe(conversationId), 3);
    expect(await store.lastOffset(conversationId)).toBe(events[2]!.offset);
  });

  test('a subscriber that stops reading while 20 000 events are published holds a bounded buffer; the server keeps the rest', async () => {
    const reader = await connectTestEventStore();
    try {
      const conversationId = newConversation();
      await publishTexts(store, conversationId, ['start']);
      const iterator = reader.subscribe(conversationId)[Symbol.asyncIterator]();
      expect((await iterator.next()).done).toBe(false);
      const published = range(20_000, 'e');
      // In chunks: one publisher queues at most 10 000 events by default.
      for (let i = 0; i < published.length; i += 2_000) await publishTexts(store, conversationId, published.slice(i, i + 2_000));
      expect(store.stats.dropped).toBe(0);
      // Let the server deliver whatever the consumer asked for before looking.
      await reader.lastOffset(conversationId);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const buffered = reader.bufferedForSubscribers();
      expect(buffered).toBeGreaterThan(0);
      expect(buffered).toBeLessThanOrEqual(512);

      const received: string[] = [];
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        received.push(...texts([next.value]));
        if (received.length === published.length) break;
      }
      await iterator.return?.();
      expect(received).toEqual(published);
    } finally {
      await reader.close();
    }
  });
});

describe('NatsEventStore on a nats-server of its own', () => {
  test('a publisher whose server stops drops events without throwing, flush returns, and it recovers when the server is back', async () => {
    const server = await startEventServer();
    const port = Number(new URL(server.url).port);
    const warnings: string[] = [];
    const store = await connectEventStore({ servers: server.url, maxQueuedMs: 1_000, publishTimeoutMs: 1_000, log: (line) => warnings.push(line) });
    const conversationId = `conversation-${randomUUID()}`;
    let restarted: Awaited<ReturnType<typeof startEventServer>> | undefined;
    try {
      await publishTexts(store, conversationId, range(5));
      expect(store.stats).toEqual({ published: 5, dropped: 0 });

      await server.stop();
      expect(() => {
        for (const text of range(200, 'lost')) store.publish(textDelta(conversationId, text), { dedupId: randomUUID() });
      }).not.toThrow();
      await within(store.flush(), 30_000, 'flush() with the server stopped');
      expect(store.stats.published).toBe(5);
      expect(store.stats.dropped).toBe(200);
      // One warning for the outage, not one per event.
      expect(warnings.filter((line) => line.includes('is not reaching'))).toHaveLength(1);

      // Back on the same port without its store, as a fresh container would be: the stream is made again.
      restarted = await startEventServer({ port });
      for (let attempt = 0; attempt < 100 && store.stats.published === 5; attempt++) {
        await publishTexts(store, conversationId, ['back']);
        if (store.stats.published === 5) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(store.stats.published).toBe(6);
      expect(warnings.filter((line) => line.includes('again'))).toHaveLength(1);
      expect(texts(await take(store.subscribe(conversationId), 1))).toEqual(['back']);
    } finally {
      await within(store.close(), 30_000, 'close()');
      await restarted?.stop();
      await server.stop();
    }
  });

  test('stores connecting at once agree on one stream; a store with limits of its own sets them, one without leaves them', async () => {
    const server = await startEventServer();
    const stores: NatsEventStore[] = [];
    try {
      stores.push(...(await Promise.all(Array.from({ length: 4 }, () => connectEventStore({ servers: server.url })))));
      const conversationId = `conversation-${randomUUID()}`;
      await publishTexts(stores[0]!, conversationId, range(5));
      expect(texts(await take(stores[3]!.subscribe(conversationId), 5))).toEqual(range(5));

      stores.push(await connectEventStore({ servers: server.url, maxEventsPerConversation: 3 }));
      await publishTexts(stores[4]!, conversationId, ['newest']);
      // The stream now keeps the conversation's last 3 events only.
      expect(texts(await take(stores[0]!.subscribe(conversationId), 3))).toEqual(['t3', 't4', 'newest']);
      // A store with no limits of its own (a CLI, a client) leaves the stream's alone instead of setting defaults.
      stores.push(await connectEventStore({ servers: server.url }));
      await publishTexts(stores[5]!, conversationId, ['after-a-default-client']);
      expect(texts(await take(stores[0]!.subscribe(conversationId), 3))).toEqual(['t4', 'newest', 'after-a-default-client']);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await server.stop();
    }
  });
});
