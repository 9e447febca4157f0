// The option and result shapes of the client API.
import type { EventSubscriber } from '../streaming/event-store';
import type { Client, Connection, WorkflowExecutionStatusName } from '@temporalio/client';
import type { ExternalStorage, PayloadCodec } from '@temporalio/common';
import type { ConversationOptions, PendingApproval } from '../workflows/types';

export interface AgentClientOptions {
  client?: Client;
  connection?: Connection;
  namespace?: string;
  taskQueue?: string;
  /** Live output: the event store the workers publish to (connectEventStore). ConversationHandle.stream() reads it. */
  events?: EventSubscriber;
  /**
   * The workers' external storage (fileSystemStorage, s3Storage): large payloads in history, query answers and
   * updates are references into it, and this client resolves them. Not with `client` (give that Client a
   * `dataConverter: { externalStorage }` of its own).
   */
  externalStorage?: ExternalStorage;
  /**
   * The workers' payload codec (an EncryptionCodec from durable-claude, or any PayloadCodec): this client encodes
   * what it sends (the prompt, messages, decisions) and decodes what it reads with it. Not with `client` (give that
   * Client a `dataConverter: { payloadCodecs: [codec] }` of its own).
   */
  payloadCodec?: PayloadCodec;
  /**
   * Eager workflow start: `start()` asks the server to hand the conversation's first workflow task straight back to
   * a worker in this process, skipping the task queue's dispatch (a few milliseconds per conversation). It needs a
   * Client on the worker's own NativeConnection (`new Client({ connection: nativeConnection })`); when no worker of
   * that connection polls the task queue, or it has no free slot, the conversation starts as usual. Default: on
   * whenever the client's connection is a NativeConnection; `false` turns it off.
   */
  eagerStart?: boolean;
}

export interface StartConversationOptions extends ConversationOptions {
  /** Your id for the conversation (the workflow id). Default: a random one. */
  conversationId?: string;
  taskQueue?: string;
  /** Starting under the id of a running conversation: return it (default), or throw ConversationAlreadyExistsError. */
  onConflict?: 'use-existing' | 'fail';
  /**
   * Starting under the id of a conversation that has finished: throw ConversationAlreadyExistsError (default; its
   * `finishedStatus` says how it ended), or return the finished conversation's handle. Either way nothing starts and
   * these options are not used: an id names one conversation.
   */
  onFinished?: 'fail' | 'use-existing';
}

export interface QueryOptions {
  /** Give up after this long (NoWorkerAnsweredError) instead of waiting for the server's own deadline. */
  timeoutMs?: number;
}

/** How `transcriptPage()` reads. */
export interface TranscriptPageOptions extends QueryOptions {
  /**
   * false: answer as the workflow does, leaving an archived range empty (the page's `archived` says where it ends),
   * e.g. to learn the transcript's length without reading storage. Default true: read it from the archive.
   */
  readArchive?: boolean;
}

/** How `transcript()` reads: in pages, each a query bounded by `timeoutMs`. */
export interface TranscriptReadOptions extends QueryOptions {
  /** At most this many UTF-8 bytes of messages per page (a page always holds at least one message). Default ~1 MB. */
  pageBytes?: number;
}

/** How long to wait for a worker to answer the decide Update. */
export interface DecisionOptions {
  /**
   * Give up after this long (NoWorkerAnsweredError) instead of waiting for the server's own deadline. The decision
   * is then unconfirmed: the server may still hand it to the next worker.
   */
  timeoutMs?: number;
}

/** One conversation waiting for a person, as `listPendingApprovals` finds it. */
export interface ConversationApprovals {
  conversationId: string;
  /** The count its AgentPendingApprovals search attribute holds (known without a worker). */
  pendingApprovals: number;
  /** The calls waiting, from the pendingApprovals query; absent when no worker answered it. */
  approvals?: PendingApproval[];
  /** Why `approvals` is absent (no worker answered in time, the conversation ended meanwhile, …). */
  unanswered?: string;
}

/** How `approvals()` waits. */
export interface ApprovalsOptions {
  /** Pause between looks for new calls. Default 250 ms. */
  pollIntervalMs?: number;
  /** Bound on each pendingApprovals query; one unanswered (no worker) is waited out, not thrown. Default 10 s. */
  queryTimeoutMs?: number;
}

export interface ConversationSummary {
  conversationId: string;
  /** The latest run (list() leaves out the runs that continued as new). */
  runId: string;
  /** The AgentStatus the conversation last recorded (Temporal's status, lower-cased, where it has none). */
  status: string;
  /** Temporal's own status of the run: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT… */
  executionStatus: WorkflowExecutionStatusName;
  /**
   * The run closed without recording its end (terminated, timed out), so `status` still says it is going
   * (`running`, `awaiting_approval`, `awaiting_user`): trust `executionStatus`.
   */
  statusStale: boolean;
  /** Calls waiting for a person: 0 once the run has closed, whatever its search attribute last said. */
  pendingApprovals: number;
  /**
   * US dollars spent so far, from the AgentCostUsd search attribute. Absent when unknown: a model without a price,
   * a namespace without the attribute, or a conversation started before it existed. Never read absent as $0.
   */
  costUsd?: number;
  /** When the latest run started: for a conversation that continued as new, its current run, not its first. */
  startTime: Date;
  closeTime?: Date;
  summary?: string;
}

/** How `list()` orders what it finds. */
export interface ListConversationsOptions {
  /**
   * 'startTime' (default): as Temporal lists them, newest first. 'cost': most expensive first, unknown costs last;
   * sorted by the client, after reading every match up to `scanLimit` (SQL visibility has no ORDER BY).
   */
  sortBy?: 'startTime' | 'cost';
  /** With sortBy 'cost': how many matches to read at most before sorting. Default 10,000. */
  scanLimit?: number;
}

export interface ForkOptions extends Omit<StartConversationOptions, 'prompt' | 'messages'> {
  /** Keep the transcript through this turn (its reply, and its tool results when it called tools). */
  turn: number;
  /** A new user message after the kept part (required when turn N ended the exchange). */
  prompt?: string;
}
