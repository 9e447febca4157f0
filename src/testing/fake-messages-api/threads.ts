// Server-side message threads (beta message-threads-2026-08-12): what a create stores under its reply's id, and
// the checks a continue passes through, in the order the reference gives.
import type { BetaMessageParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import type { FullRequest } from './types';

export { MESSAGE_THREADS_BETA } from '../../message-threads';
const UNFINISHED_STOP_REASONS = new Set(['pause_turn', 'compaction']);
const RETENTION_MS = 60 * 60_000;

export interface StoredThread {
  messages: BetaMessageParam[];
  system?: unknown;
  tools?: FullRequest['tools'];
  fingerprint: string;
  stopReason: string;
  storedAt: number;
  continued: boolean;
  inFlight: boolean;
  conversationKey: string;
}

export interface ThreadError {
  status: number;
  type: string;
  message: string;
  code?: string;
  unsupported?: string[];
}

/** The request fields a thread fixes at create time; a change is refused. */
export function fingerprintOf(request: Record<string, unknown>): string {
  return JSON.stringify([request.model, request.output_config ?? null, request.output_format ?? null]);
}

export class ThreadStore {
  readonly #records = new Map<string, StoredThread>();
  readonly #forcedInFlight = new Set<string>();

  constructor(
    private readonly ttlMs: () => number,
    private readonly now: () => number,
  ) {}

  get(id: string): StoredThread | undefined {
    return this.#records.get(id);
  }

  store(id: string, record: StoredThread): void {
    this.#sweep();
    this.#records.set(id, record);
  }

  evict(id: string): void {
    this.#records.delete(id);
  }

  evictAll(): void {
    this.#records.clear();
  }

  forceContinueInFlight(id: string): void {
    this.#forcedInFlight.add(id);
  }

  /** The stored thread a continue may extend, or the error the API gives for it. */
  checkContinue(id: string, body: Record<string, unknown>): { record: StoredThread } | { error: ThreadError } {
    const record = this.#records.get(id);
    if (!record || this.now() - record.storedAt > this.ttlMs()) {
      return { error: { status: 404, type: 'not_found_error', code: 'thread_not_found', message: `no thread state for ${id}` } };
    }
    if (record.continued) {
      return { error: { status: 400, type: 'invalid_request_error', code: 'thread_already_continued', message: `message ${id} has already been continued` } };
    }
    if (record.inFlight || this.#forcedInFlight.delete(id)) {
      return { error: { status: 400, type: 'invalid_request_error', code: 'thread_continue_in_flight', message: `another request is already continuing from ${id}` } };
    }
    const createOnly = ['system', 'tools'].filter((field) => body[field] !== undefined);
    if (createOnly.length) {
      return {
        error: {
          status: 400,
          type: 'invalid_request_error',
          message: `${createOnly.join(' and ')}: cannot be set when continuing a thread; the thread keeps the values it was created with`,
        },
      };
    }
    if (fingerprintOf(body) !== record.fingerprint) {
      return {
        error: {
          status: 400,
          type: 'invalid_request_error',
          code: 'thread_fingerprint_mismatch',
          message: 'model: differs from the value the thread was created with',
        },
      };
    }
    const delta = body.messages;
    if (Array.isArray(delta) && delta.length === 0 && !UNFINISHED_STOP_REASONS.has(record.stopReason)) {
      return { error: { status: 400, type: 'invalid_request_error', message: 'messages: an empty list continues only a paused turn (pause_turn or compaction)' } };
    }
    return { record };
  }

  #sweep(): void {
    const now = this.now();
    for (const [id, record] of this.#records) if (now - record.storedAt > RETENTION_MS) this.#records.delete(id);
  }
}
