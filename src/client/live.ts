// ConversationHandle.stream(): a conversation's live output, read from the event store, ending when the conversation
// ends: a run that continues as new is not the end, the stream reads on into the next run's events (one log per
// conversation, so its offsets go on across runs). The store holds the events; Temporal says when it is over.
import type { EventSubscriber } from '../streaming/event-store';
import type { ConversationEvent } from '../streaming/events';
import { AgentClientError } from './errors';

export interface StreamOptions {
  /** Deliver events whose offset is ≥ this (an event's `offset`; resume with the last one seen + 1). Default 0: from the start. */
  fromOffset?: number;
  /** Stops the stream: the iterator ends without an error. */
  signal?: AbortSignal;
}

/** stream() needs an event store: the client was created without `events` (and so, likely, was the worker). */
export class LiveOutputUnavailableError extends AgentClientError {
  constructor(readonly conversationId: string) {
    super(
      `Live output of conversation ${conversationId} needs an event store: create the AgentClient (and the worker) with ` +
        '`events: await connectEventStore({ servers })`, or set DURABLE_CLAUDE_EVENTS for the CLI',
    );
  }
}

/** An event offset that is not a non-negative whole number. A RangeError, so it reads as one. */
export class InvalidOffsetError extends RangeError {
  constructor(readonly offset: unknown, what: string) {
    super(`${what} must be a non-negative whole number (an event offset), got ${JSON.stringify(offset) ?? String(offset)}`);
    this.name = 'InvalidOffsetError';
  }
}

/** Throws an InvalidOffsetError unless `offset` is a non-negative whole number. */
export function checkOffset(offset: unknown, what = 'fromOffset'): number {
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw new InvalidOffsetError(offset, what);
  return offset;
}

/** How long a conversation_finished waits for Temporal to confirm the run closed before the stream reads on. */
const FINISH_CONFIRM_MS = 10_000;

export function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export interface LiveStreamSource {
  conversationId: string;
  subscriber: EventSubscriber;
  /**
   * A wait that settles when the conversation is over: its last run has closed, however it ended (a run that
   * continued as new is not the last), given up on `signal`.
   */
  closed(signal: AbortSignal): Promise<unknown>;
  /**
   * Whether the run that published a conversation_finished ended the conversation: it closed (waiting for that up to
   * `waitMs`), not by continuing as new, and is the conversation's latest run (an earlier run that failed and was
   * retried, or one of a chain, is not the end).
   */
  endedConversation(runId: string, waitMs: number, signal: AbortSignal): Promise<boolean>;
  /** How long to wait, once the conversation is over, for its conversation_finished before ending at the store's last event. */
  closingGraceMs?: number;
}

/**
 * The events of one conversation from `fromOffset`, across its runs. Ends after the `conversation_finished` of the
 * run that ended it, or, if that event never reached the store (it was down), once the last run has closed and
 * everything the store holds is read.
 */
export async function* liveEvents(source: LiveStreamSource, options: StreamOptions = {}): AsyncGenerator<ConversationEvent, void, undefined> {
  const fromOffset = checkOffset(options.fromOffset ?? 0);
  const outer = options.signal;
  if (outer?.aborted) return;
  const inner = new AbortController();
  const onAbort = () => inner.abort();
  outer?.addEventListener('abort', onAbort, { once: true });
  let lastSeen = fromOffset - 1;
  let endAt: number | undefined;
  // Settles once the conversation's last run has closed, however it ended (or the stream was stopped).
  const runClosed = source.closed(inner.signal).then(
    () => true,
    () => true,
  );
  // When the last run closes: its last events may still be on their way (the worker publishes the workflow's events after
  // the task that closed the run), so give its conversation_finished a grace period; then stop at the store's last
  // event (it never arrives when the store was down), or at once if that has been read already.
  const stopAtTheEnd = async () => {
    await runClosed;
    if (source.closingGraceMs) await abortableDelay(source.closingGraceMs, inner.signal);
    for (let tries = 0; endAt === undefined && !inner.signal.aborted; tries++) {
      try {
        endAt = await source.subscriber.lastOffset(source.conversationId);
      } catch {
        // The store is unreachable for now: ending here could skip stored events; ask again.
        await abortableDelay(Math.min(1_000 * 2 ** tries, 10_000), inner.signal);
      }
    }
    // Offsets start at 1: a store that holds nothing (endAt 0) has nothing left to read either.
    if (endAt !== undefined && Math.max(lastSeen, 0) >= endAt) inner.abort();
  };
  void stopAtTheEnd();
  try {
    for await (const event of source.subscriber.subscribe(source.conversationId, { fromOffset, signal: inner.signal })) {
      lastSeen = event.offset;
      yield event;
      // Believed once Temporal says the run closed and was the last: a workflow task the server refused (a signal
      // arrived as it completed) may have published a finish that the retried task does not repeat.
      if (event.type === 'conversation_finished' && (await source.endedConversation(event.runId, FINISH_CONFIRM_MS, inner.signal))) return;
      if (endAt !== undefined && lastSeen >= endAt) return;
    }
  } finally {
    outer?.removeEventListener('abort', onAbort);
    inner.abort();
  }
}
