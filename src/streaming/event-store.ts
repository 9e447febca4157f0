// Where live output goes between the workers that write it and the clients that read it, on any machines: an
// offset-addressed log per conversation. The implementation is NATS JetStream (nats-event-store.ts); this file is
// the contract the worker, the client, the SSE handler and the tests share.
import type { ConversationEvent, UnsequencedEvent } from './events';

export interface PublishOptions {
  /**
   * The same id published twice within the store's duplicate window is stored once: a workflow task retried on
   * another worker re-emits its events, and a failed attempt's reset may be sent by it and by the next attempt.
   */
  dedupId: string;
}

export interface SubscribeOptions {
  /** Deliver events whose offset is ≥ this. Default 0 (from the start of what the store still holds). */
  fromOffset?: number;
  /** Stops the subscription: the iterator ends without an error. */
  signal?: AbortSignal;
}

/** Written by workers. Publishing never blocks the model stream and never throws into it. */
export interface EventPublisher {
  /** The Temporal namespace whose conversations this store holds (conversation ids are unique only within one). */
  readonly namespace?: string;
  /** Queues an event; returns at once. Events of one publisher reach the store in the order given. */
  publish(event: UnsequencedEvent, options: PublishOptions): void;
  /** Resolves when everything queued so far is stored (or dropped, see `stats`). */
  flush(): Promise<void>;
  /** Events given up on (store unreachable, or the bounded queue was full). */
  readonly stats: { published: number; dropped: number };
  close(): Promise<void>;
}

/** Read by clients. */
export interface EventSubscriber {
  readonly namespace?: string;
  /**
   * The conversation's events in offset order, from `fromOffset`, live: waits for new events at the end. Bounded
   * memory: a slow reader makes the store hold events, never this process. Ends only on `signal` (the caller decides
   * when the conversation is over; ConversationHandle.stream does).
   */
  subscribe(conversationId: string, options?: SubscribeOptions): AsyncIterable<ConversationEvent>;
  /** The offset of the conversation's last stored event, or 0 when the store holds none. */
  lastOffset(conversationId: string): Promise<number>;
  close(): Promise<void>;
}

export interface EventStore extends EventPublisher, EventSubscriber {
  /** Where it connects, for messages (no credentials). */
  readonly description: string;
}
