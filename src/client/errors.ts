// The errors this API throws, and the translation of Temporal's errors into them.
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';

export class AgentClientError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
/** The start options break a rule; `problems` lists each. Nothing was started. */
export class InvalidConversationOptionsError extends AgentClientError {
  constructor(readonly problems: string[]) {
    super(`Invalid conversation options: ${problems.join('; ')}`);
  }
}
/** A query got no answer in time: queries run on a worker, and none served the conversation's task queue. */
export class NoWorkerAnsweredError extends AgentClientError {
  constructor(
    readonly conversationId: string,
    readonly timeoutMs: number,
    /** What went unanswered: 'a query' or 'the decision' (an Update, which may still apply once a worker runs). */
    readonly request: 'a query' | 'the decision' = 'a query',
    options?: ErrorOptions,
  ) {
    super(
      `No worker answered ${request} on conversation ${conversationId} within ${timeoutMs / 1000}s; is a worker running on its task queue?` +
        (request === 'the decision'
          ? ' The decision is not confirmed: the server may still hand it to the next worker, or drop it; to be sure it' +
            ' applies, send it as a signal too (a second identical decision is ignored).'
          : ''),
      options,
    );
  }
}
export class ConversationNotFoundError extends AgentClientError {
  constructor(readonly conversationId: string, options?: ErrorOptions) {
    super(`No conversation with id ${conversationId}`, options);
  }
}
/** start() found a conversation under the id: a running one with onConflict: 'fail', or one that has finished. */
export class ConversationAlreadyExistsError extends AgentClientError {
  constructor(
    readonly conversationId: string,
    /** How the existing conversation ended ('completed', 'failed', 'terminated'…); undefined while it runs. */
    readonly finishedStatus?: string,
    options?: ErrorOptions,
  ) {
    super(
      finishedStatus === undefined
        ? `A conversation with id ${conversationId} already exists; choose another id or use onConflict: 'use-existing'`
        : `Conversation ${conversationId} already ran and has finished (${finishedStatus}); nothing was started and the new ` +
            `options were not used. Start anew under another conversationId, fork('${conversationId}', { turn, prompt }) to ` +
            `carry on from its transcript${finishedStatus === 'failed' ? ', retry() it once the cause is fixed' : ''}, or pass ` +
            `onFinished: 'use-existing' to get the finished conversation`,
      options,
    );
  }
}
export class ConversationFinishedError extends AgentClientError {
  constructor(readonly conversationId: string, readonly status: string, options?: ErrorOptions) {
    super(`Conversation ${conversationId} has finished (${status}); it takes no more decisions or messages`, options);
  }
}
/** The workflow refused an approval decision (unknown, already decided or expired id; edit breaking the schema). */
export class DecisionRefusedError extends AgentClientError {
  constructor(readonly toolUseId: string, reason: string, options?: ErrorOptions) {
    super(`Decision on ${toolUseId} refused: ${reason}`, options);
  }
}
export class MessageRefusedError extends AgentClientError {}
/** The conversation was cancelled (handle.cancel(), or the Temporal UI/CLI). */
export class ConversationCancelledError extends AgentClientError {
  constructor(readonly conversationId: string, options?: ErrorOptions) {
    super(`Conversation ${conversationId} was cancelled`, options);
  }
}
/** The conversation failed (model error, fatal tool error, approval timeout with onTimeout: 'fail'…). */
export class ConversationFailedError extends AgentClientError {
  constructor(
    readonly conversationId: string,
    message: string,
    readonly failureType: string | undefined,
    options?: ErrorOptions,
  ) {
    super(`Conversation ${conversationId} failed: ${message}`, options);
  }
}

function causeChain(err: unknown): Error[] {
  const chain: Error[] = [];
  let current: unknown = err;
  while (current instanceof Error && chain.length < 10) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

export function innermostMessage(err: unknown): string {
  const chain = causeChain(err);
  const app = chain.find((e): e is ApplicationFailure => e instanceof ApplicationFailure);
  return app?.message ?? chain[chain.length - 1]?.message ?? String(err);
}

/** Temporal's errors, as this API's. */
export function translateError(err: unknown, conversationId: string): Error {
  if (err instanceof AgentClientError) return err;
  if (err instanceof WorkflowNotFoundError) return new ConversationNotFoundError(conversationId, { cause: err });
  if (err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure) return new ConversationCancelledError(conversationId, { cause: err });
  if (err instanceof WorkflowFailedError) {
    const app = causeChain(err).find((e): e is ApplicationFailure => e instanceof ApplicationFailure);
    return new ConversationFailedError(conversationId, innermostMessage(err), app?.type ?? err.cause?.name, { cause: err });
  }
  const chain = causeChain(err);
  if (chain.some((e) => /not found/i.test(e.message) && /workflow/i.test(e.message))) return new ConversationNotFoundError(conversationId, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}
