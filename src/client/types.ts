// The option and result shapes of the client API.
import type { Client, Connection } from '@temporalio/client';
import type { ConversationOptions, PendingApproval } from '../workflows/types';

export interface AgentClientOptions {
  client?: Client;
  connection?: Connection;
  namespace?: string;
  taskQueue?: string;
}

export interface StartConversationOptions extends ConversationOptions {
  /** Your id for the conversation (the workflow id). Default: a random one. */
  conversationId?: string;
  taskQueue?: string;
  /** Starting under an id already in use: return that conversation (default), or throw ConversationAlreadyExistsError. */
  onConflict?: 'use-existing' | 'fail';
}

export interface QueryOptions {
  /** Give up after this long (NoWorkerAnsweredError) instead of waiting for the server's own deadline. */
  timeoutMs?: number;
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

export interface ConversationSummary {
  conversationId: string;
  runId: string;
  status: string;
  pendingApprovals: number;
  startTime: Date;
  summary?: string;
}

export interface ForkOptions extends Omit<StartConversationOptions, 'prompt' | 'messages'> {
  /** Keep the transcript through this turn (its reply, and its tool results when it called tools). */
  turn: number;
  /** A new user message after the kept part (required when turn N ended the exchange). */
  prompt?: string;
}
