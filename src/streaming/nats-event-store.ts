// The event store on NATS JetStream: one stream for every conversation, a subject per conversation, JetStream's
// stream sequence as the offset. Publishing is fire-and-forget through a bounded in-order queue, so a slow or absent
// server costs the worker dropped events, never a blocked model stream; reading is an ordered consumer, whose
// client-side buffer is bounded and whose server-side state is one ephemeral in-memory cursor.
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import type { EventStore, PublishOptions, SubscribeOptions } from './event-store';
import type { ConversationEvent, UnsequencedEvent } from './events';

export const DEFAULT_EVENT_STREAM = 'DURABLE_CLAUDE_EVENTS';
const SUBJECT_PREFIX = 'durable-claude.events';
/** JetStream drops a repeated Nats-Msg-Id seen within this window (a retried workflow task, a re-sent reset). */
const DUPLICATE_WINDOW_MS = 2 * 60_000;
/** Events an ordered consumer fetches ahead of its reader: all a reader that stops reading makes this process hold. */
const SUBSCRIBER_BUFFER_EVENTS = 256;
/** JetStream API error: the stream exists with another configuration (another process created it first). */
const STREAM_NAME_IN_USE = 10058;

export interface ConnectEventStoreOptions {
  /** nats://host:port, or several servers of one cluster. */
  servers: string | string[];
  /** The Temporal namespace the conversations live in: ids are unique only within one. Default 'default'. */
  namespace?: string;
  streamName?: string;
  /** How long the stream keeps an event. Default 24 h. */
  maxAgeMs?: number;
  /** The oldest events of a conversation go first beyond this many. Default 100 000. */
  maxEventsPerConversation?: number;
  /** The whole stream's size limit; the oldest events go first. Default 1 GiB. */
  maxBytes?: number;
  /** Events queued for publishing; beyond it the newest are dropped. Default 10 000. */
  maxPendingPublishes?: number;
  /** Publishes awaiting their acks at once (the client holds their bytes meanwhile). Default 256. */
  maxPublishesInFlight?: number;
  /** A publish whose ack has not come by then is dropped. Default 5 s. */
  publishTimeoutMs?: number;
  /** An event still queued this long after publish() (the server unreachable) is dropped, not sent late. Default 10 s. */
  maxQueuedMs?: number;
  connectTimeoutMs?: number;
  /** The connection's name, shown by the server's monitoring. */
  name?: string;
  /** Where the one warning per outage goes. Default: stderr. */
  log?: (line: string) => void;
}

interface QueuedPublish {
  seq: number;
  subject: string;
  data: string;
  msgID: string;
  queuedAt: number;
}

const encodeToken = (value: string) => Buffer.from(value, 'utf8').toString('base64url');

/** The subject a conversation's events go to; base64url keeps dots, spaces and wildcards out of the tokens. */
export function conversationSubject(namespace: string, conversationId: string): string {
  if (!namespace) throw new RangeError('The event store needs a non-empty namespace');
  if (typeof conversationId !== 'string' || !conversationId) throw new RangeError('A conversation id must be a non-empty string');
  return `${SUBJECT_PREFIX}.${encodeToken(namespace)}.${encodeToken(conversationId)}`;
}

/** Server addresses without any user:password@ part (a password may hold '@'), for messages. */
export function describeServers(servers: string[]): string {
  return servers.map(redactCredentials).join(',');
}

export function redactCredentials(server: string): string {
  return server.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/]*@/i, '$1');
}

function decodeEvent(text: string): Omit<ConversationEvent, 'offset'> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string') return value as Omit<ConversationEvent, 'offset'>;
  } catch {
    // Not ours: nothing else should publish here, and one bad message must not end a subscription.
  }
  return undefined;
}

/**
 * One namespace's view of the events stream. Publishing never throws or blocks (see stats for what was given up);
 * subscribe() throws a RangeError for a bad offset at once, and rejects its first read if the server cannot be
 * reached to set up the consumer; once reading, it rides out reconnects and ends only on its signal or close().
 */
export class NatsEventStore implements EventStore {
  readonly description: string;
  readonly namespace: string;
  readonly streamName: string;

  private readonly connection: NatsConnection;
  private readonly js: JetStreamClient;
  private readonly jsm: JetStreamManager;
  private readonly log: (line: string) => void;
  private readonly maxPendingPublishes: number;
  private readonly maxPublishesInFlight: number;
  private readonly publishTimeoutMs: number;
  private readonly maxQueuedMs: number;
  private readonly streamPlan: StreamPlan;

  private readonly queue: QueuedPublish[] = [];
  private queueHead = 0;
  private nextSeq = 0;
  /** Sequence numbers of publishes awaiting their acks, in the order sent. */
  private readonly inFlight = new Set<number>();
  private published = 0;
  private dropped = 0;
  private pumping = false;
  private wakePump: (() => void) | undefined;
  private flushWaiters: { target: number; resolve: () => void }[] = [];

  private connected = true;
  private disconnects = 0;
  private connectionClosed = false;
  /** The last publish failed: send one at a time until one succeeds. */
  private failing = false;
  private outage: { droppedAtStart: number } | undefined;
  private closing: Promise<void> | undefined;
  /** Open subscriptions, with the ordered consumer each reads (deleted on close rather than left to expire). */
  private readonly subscriptions = new Map<ConsumerMessages, Consumer>();

  /** Use connectEventStore: it connects and makes sure the stream exists. */
  constructor(
    connection: NatsConnection,
    jsm: JetStreamManager,
    streamPlan: StreamPlan,
    options: Required<Pick<ConnectEventStoreOptions, 'namespace' | 'maxPendingPublishes' | 'maxPublishesInFlight' | 'publishTimeoutMs' | 'maxQueuedMs' | 'log'>> & { servers: string[] },
  ) {
    this.connection = connection;
    this.jsm = jsm;
    this.js = jetstream(connection);
    this.namespace = options.namespace;
    this.streamPlan = streamPlan;
    this.streamName = streamPlan.config.name;
    this.log = options.log;
    this.maxPendingPublishes = options.maxPendingPublishes;
    this.maxPublishesInFlight = options.maxPublishesInFlight;
    this.publishTimeoutMs = options.publishTimeoutMs;
    this.maxQueuedMs = options.maxQueuedMs;
    this.description = `NATS JetStream ${describeServers(options.servers)}, stream ${this.streamName}, namespace ${options.namespace}`;
    void this.watchConnection();
  }

  get stats(): { published: number; dropped: number } {
    return { published: this.published, dropped: this.dropped };
  }

  /**
   * Events received from the server that this store's subscribers have not read yet, over all their subscriptions:
   * at most a few hundred per subscription however far behind its reader is.
   */
  bufferedForSubscribers(): number {
    let buffered = 0;
    for (const messages of this.subscriptions.keys()) buffered += messages.getPending();
    return buffered;
  }

  publish(event: UnsequencedEvent, options: PublishOptions): void {
    try {
      if (this.closing || this.connectionClosed) {
        this.dropped += 1;
        return;
      }
      if (this.queue.length - this.queueHead >= this.maxPendingPublishes) {
        this.dropped += 1;
        this.startOutage(`more than ${this.maxPendingPublishes} events waiting to be published`);
        return;
      }
      this.queue.push({
        seq: this.nextSeq++,
        subject: conversationSubject(this.namespace, event.conversationId),
        data: JSON.stringify(event),
        msgID: options.dedupId,
        queuedAt: Date.now(),
      });
      this.kickPump();
    } catch (err) {
      // An event that cannot be encoded is lost, not thrown into the model stream.
      this.dropped += 1;
      this.log(`[events] dropped an event that could not be queued: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  flush(): Promise<void> {
    const target = this.nextSeq;
    if (this.lowestUnfinished() >= target) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push({ target, resolve }));
  }

  subscribe(conversationId: string, options: SubscribeOptions = {}): AsyncIterable<ConversationEvent> {
    const fromOffset = options.fromOffset ?? 0;
    if (typeof fromOffset !== 'number' || !Number.isSafeInteger(fromOffset) || fromOffset < 0) {
      throw new RangeError(`fromOffset must be a non-negative integer (an event's offset, or 0 for the start); got ${String(fromOffset)}`);
    }
    const subject = conversationSubject(this.namespace, conversationId);
    // Stream sequences start at 1: offset 0 means "from the first event the stream still holds".
    return this.readEvents(subject, Math.max(fromOffset, 1), options.signal);
  }

  async lastOffset(conversationId: string): Promise<number> {
    const subject = conversationSubject(this.namespace, conversationId);
    const last = await this.jsm.streams.getMessage(this.streamName, { last_by_subj: subject });
    return last?.seq ?? 0;
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    // Bounded: every queued event is sent (and acked or timed out) or dropped within maxQueuedMs + publishTimeoutMs.
    await this.flush();
    // Not awaited: a subscription closes once its reader has read what it holds, and a reader may never read again.
    for (const messages of this.subscriptions.keys()) void messages.close().catch(() => undefined);
    if (this.connectionClosed) return;
    const consumers = [...this.subscriptions.values()];
    this.subscriptions.clear();
    const released = Promise.all(consumers.map((consumer) => consumer.delete().catch(() => undefined))).then(() => this.connection.drain().catch(() => undefined));
    const timer = new Promise<void>((resolve) => setTimeout(resolve, this.publishTimeoutMs).unref());
    await Promise.race([released, timer]);
    if (!this.connection.isClosed()) await this.connection.close().catch(() => undefined);
  }

  private async *readEvents(subject: string, startSequence: number, signal: AbortSignal | undefined): AsyncGenerator<ConversationEvent> {
    if (signal?.aborted) return;
    const consumer = await this.js.consumers.get(this.streamName, {
      filter_subjects: subject,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: startSequence,
    });
    const messages = await consumer.consume({ max_messages: SUBSCRIBER_BUFFER_EVENTS });
    this.subscriptions.set(messages, consumer);
    const stop = () => void messages.close().catch(() => undefined);
    signal?.addEventListener('abort', stop, { once: true });
    try {
      if (signal?.aborted || this.closing) return;
      for await (const message of messages) {
        if (signal?.aborted || this.closing) return;
        const event = decodeEvent(message.string());
        if (event) yield { ...event, offset: message.seq } as ConversationEvent;
      }
    } finally {
      signal?.removeEventListener('abort', stop);
      void messages.close().catch(() => undefined);
      // The server would drop the idle consumer after 5 minutes anyway; deleting it frees it now.
      if (this.subscriptions.delete(messages) && !this.connection.isClosed()) consumer.delete().catch(() => undefined);
    }
  }

  private async watchConnection(): Promise<void> {
    void this.connection.closed().then(() => {
      this.connectionClosed = true;
      this.connected = false;
      this.wake();
    });
    for await (const status of this.connection.status()) {
      if (status.type === 'disconnect') {
        this.connected = false;
        this.disconnects += 1;
        this.startOutage(`disconnected from ${status.server}`);
        this.wake();
      } else if (status.type === 'reconnect') {
        // The server may have come back without its store (a fresh container): recreate the stream before sending.
        const disconnects = this.disconnects;
        void ensureStream(this.jsm, this.streamPlan)
          .catch((err: unknown) => this.log(`[events] could not recreate stream ${this.streamName}: ${err instanceof Error ? err.message : String(err)}`))
          .finally(() => {
            if (this.disconnects !== disconnects) return; // Lost again meanwhile: the next reconnect decides.
            this.connected = true;
            this.wake();
          });
      }
    }
  }

  private startOutage(reason: string): void {
    if (this.outage) return;
    this.outage = { droppedAtStart: this.dropped };
    this.log(
      `[events] live output is not reaching ${this.description} (${reason}): events wait up to ${Math.round(this.maxQueuedMs / 1000)}s ` +
        `(at most ${this.maxPendingPublishes}), then are dropped; conversations are not affected`,
    );
  }

  private endOutage(): void {
    if (!this.outage) return;
    const lost = this.dropped - this.outage.droppedAtStart;
    this.outage = undefined;
    this.log(`[events] live output reaches ${this.description} again (${lost} events dropped meanwhile)`);
  }

  private kickPump(): void {
    if (this.pumping) {
      this.wake();
      return;
    }
    this.pumping = true;
    void this.pump().finally(() => {
      this.pumping = false;
      // Something may have been queued between the loop's last look and now.
      if (this.queue.length > this.queueHead && !this.connectionClosed) this.kickPump();
    });
  }

  private wake(): void {
    const wake = this.wakePump;
    this.wakePump = undefined;
    wake?.();
  }

  private sleepUntilWoken(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakePump = undefined;
        resolve();
      }, ms);
      this.wakePump = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async pump(): Promise<void> {
    while (this.queue.length > this.queueHead) {
      if (this.connectionClosed) {
        this.dropQueued(this.queue.length - this.queueHead);
        break;
      }
      const head = this.queue[this.queueHead]!;
      const staleIn = head.queuedAt + this.maxQueuedMs - Date.now();
      if (staleIn <= 0) {
        this.dropQueued(1);
        this.startOutage('events waited too long');
        continue;
      }
      if (!this.connected) {
        await this.sleepUntilWoken(staleIn);
        continue;
      }
      if (this.inFlight.size >= (this.failing ? 1 : this.maxPublishesInFlight)) {
        await this.sleepUntilWoken(staleIn);
        continue;
      }
      this.takeHead();
      this.send(head);
    }
  }

  private send(entry: QueuedPublish): void {
    this.inFlight.add(entry.seq);
    // Sent in queue order on one connection, so JetStream stores them in that order however many await acks.
    this.js
      .publish(entry.subject, entry.data, { msgID: entry.msgID, timeout: this.publishTimeoutMs })
      .then(
        () => {
          this.published += 1;
          this.failing = false;
          this.endOutage();
        },
        (err: unknown) => {
          this.dropped += 1;
          this.failing = true;
          this.startOutage(err instanceof Error ? err.message : String(err));
        },
      )
      .finally(() => {
        this.inFlight.delete(entry.seq);
        this.settleFlushes();
        this.wake();
      });
  }

  private takeHead(): void {
    this.queueHead += 1;
    // Compact now and then instead of shifting on every take.
    if (this.queueHead >= 1024 && this.queueHead * 2 >= this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  private dropQueued(count: number): void {
    for (let i = 0; i < count; i++) this.takeHead();
    this.dropped += count;
    this.settleFlushes();
  }

  /** Every publish numbered below this is stored or dropped. */
  private lowestUnfinished(): number {
    for (const seq of this.inFlight) return seq;
    return this.queue[this.queueHead]?.seq ?? this.nextSeq;
  }

  private settleFlushes(): void {
    if (this.flushWaiters.length === 0) return;
    const lowest = this.lowestUnfinished();
    const done = this.flushWaiters.filter((waiter) => waiter.target <= lowest);
    if (done.length === 0) return;
    this.flushWaiters = this.flushWaiters.filter((waiter) => waiter.target > lowest);
    for (const waiter of done) waiter.resolve();
  }
}

type StreamConfigWanted = Partial<StreamConfig> & { name: string };

/** The stream a store wants, and whether its limits were chosen (then they are applied) or are only the defaults. */
interface StreamPlan {
  config: StreamConfigWanted;
  /**
   * Limits given to connectEventStore are brought to the stream; defaults are not, so a CLI or a client that connects
   * with none never shrinks what the workers set up (shrinking max_bytes or max_age discards stored events at once).
   */
  applyLimits: boolean;
}

function desiredStreamConfig(streamName: string, limits: { maxAgeMs: number; maxEventsPerConversation: number; maxBytes: number }): StreamConfigWanted {
  return {
    name: streamName,
    subjects: [`${SUBJECT_PREFIX}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(limits.maxAgeMs),
    max_msgs_per_subject: limits.maxEventsPerConversation,
    max_bytes: limits.maxBytes,
    // JetStream refuses a duplicate window longer than the stream keeps messages.
    duplicate_window: nanos(Math.min(DUPLICATE_WINDOW_MS, limits.maxAgeMs)),
  };
}

const UPDATABLE_LIMITS = ['max_age', 'max_msgs_per_subject', 'max_bytes', 'duplicate_window', 'discard'] as const;

/**
 * Creates the stream if it is missing; makes it cover our subjects; brings its limits to ours when they were chosen
 * (see StreamPlan) and differ. Another process may race us.
 */
async function ensureStream(jsm: JetStreamManager, plan: StreamPlan): Promise<void> {
  const desired = plan.config;
  for (let attempt = 0; ; attempt++) {
    try {
      const info = await jsm.streams.info(desired.name);
      const current = info.config;
      const subjectsCovered = desired.subjects!.every((subject) => current.subjects?.includes(subject));
      const limitsDiffer = plan.applyLimits && UPDATABLE_LIMITS.some((key) => current[key] !== desired[key]);
      if (!subjectsCovered || limitsDiffer) {
        const subjects = [...new Set([...(current.subjects ?? []), ...desired.subjects!])];
        await jsm.streams.update(desired.name, {
          subjects,
          ...(limitsDiffer
            ? {
                max_age: desired.max_age!,
                max_msgs_per_subject: desired.max_msgs_per_subject!,
                max_bytes: desired.max_bytes!,
                duplicate_window: desired.duplicate_window!,
                discard: desired.discard!,
              }
            : {}),
        });
      }
      return;
    } catch (err) {
      if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.StreamNotFound || attempt >= 3) throw err;
      try {
        await jsm.streams.add(desired);
        return;
      } catch (addError) {
        // Someone else created it between our look and our add: look again and compare.
        if (!(addError instanceof JetStreamApiError) || addError.code !== STREAM_NAME_IN_USE || attempt >= 3) throw addError;
      }
    }
  }
}

/** Connects to NATS, makes sure the events stream exists with these limits, and returns the store. */
export async function connectEventStore(options: ConnectEventStoreOptions): Promise<NatsEventStore> {
  const servers = Array.isArray(options.servers) ? options.servers : [options.servers];
  if (servers.length === 0) throw new RangeError('connectEventStore needs at least one server');
  const streamName = options.streamName ?? DEFAULT_EVENT_STREAM;
  const limits = {
    maxAgeMs: options.maxAgeMs ?? 24 * 60 * 60_000,
    maxEventsPerConversation: options.maxEventsPerConversation ?? 100_000,
    maxBytes: options.maxBytes ?? 1024 ** 3,
  };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${key} must be a positive integer; got ${value}`);
  }
  const connection = await connect({
    servers,
    ...(options.name ? { name: options.name } : {}),
    ...(options.connectTimeoutMs !== undefined ? { timeout: options.connectTimeoutMs } : {}),
    // A worker outlives any outage of the store: keep reconnecting, and notice a dead link within about 30 s.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    pingInterval: 10_000,
    maxPingOut: 2,
  });
  try {
    const jsm = await jetstreamManager(connection);
    const applyLimits = options.maxAgeMs !== undefined || options.maxEventsPerConversation !== undefined || options.maxBytes !== undefined;
    const streamPlan: StreamPlan = { config: desiredStreamConfig(streamName, limits), applyLimits };
    await ensureStream(jsm, streamPlan);
    return new NatsEventStore(connection, jsm, streamPlan, {
      servers,
      namespace: options.namespace ?? 'default',
      maxPendingPublishes: options.maxPendingPublishes ?? 10_000,
      maxPublishesInFlight: options.maxPublishesInFlight ?? 256,
      publishTimeoutMs: options.publishTimeoutMs ?? 5_000,
      maxQueuedMs: options.maxQueuedMs ?? 10_000,
      log: options.log ?? ((line) => process.stderr.write(`${line}\n`)),
    });
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw err;
  }
}
