// The chat inbox: user messages that arrive by signal or Update while an exchange runs, queued for the next one,
// and the answers the waiting sendMessage Updates get. A message is checked when it arrives, so one the API would
// refuse is refused here (Update rejected, signal logged) and never fails the conversation.
import { condition, log, type ApplicationFailure } from '@temporalio/workflow';
import { isRecord } from './json';
import type { ContentBlockParam, EndConversationRequest, MessageParam, UserMessageReply, UserMessageRequest } from './types';

/** Content blocks a user message may carry. tool_result belongs to the workflow's own tool round, tool_use to the model. */
export const USER_MESSAGE_BLOCK_TYPES: ReadonlyArray<string> = ['text', 'image', 'document', 'search_result'];
const MAX_QUEUED = 100;

function blockProblem(block: unknown, index: number): string | undefined {
  const where = `content[${index}]`;
  if (!isRecord(block) || typeof block.type !== 'string') return `${where} must be a content block with a type`;
  if (!USER_MESSAGE_BLOCK_TYPES.includes(block.type)) {
    return `${where} is a ${block.type} block, which a user message cannot carry; use ${USER_MESSAGE_BLOCK_TYPES.join(', ')}`;
  }
  if (block.type === 'text' && (typeof block.text !== 'string' || block.text.trim() === '')) return `${where}.text must be a non-empty string`;
  if ((block.type === 'image' || block.type === 'document') && !isRecord(block.source)) return `${where}.source must be an object`;
  if (block.type === 'search_result' && (typeof block.source !== 'string' || typeof block.title !== 'string' || !Array.isArray(block.content))) {
    return `${where} must have source, title and content`;
  }
  return undefined;
}

/** What is wrong with a user message's content, if anything. */
export function userContentProblem(content: unknown): string | undefined {
  if (typeof content === 'string') return content.trim() === '' ? 'content must not be empty' : undefined;
  if (!Array.isArray(content) || content.length === 0) return 'content must be a non-empty string or a non-empty list of content blocks';
  for (let i = 0; i < content.length; i++) {
    const problem = blockProblem(content[i], i);
    if (problem) return problem;
  }
  return undefined;
}

type Answer = { reply: UserMessageReply } | { failure: ApplicationFailure };

export class ChatInbox {
  readonly #queued: Array<{ content: UserMessageRequest['content']; ticket?: number }> = [];
  readonly #answers = new Map<number, Answer>();
  #nextTicket = 1;
  #endRequest: EndConversationRequest | undefined;

  constructor(
    private readonly isChat: boolean,
    private readonly hasEnded: () => boolean,
  ) {}

  get endRequest(): EndConversationRequest | undefined {
    return this.#endRequest;
  }

  get endRequested(): boolean {
    return this.#endRequest !== undefined;
  }

  get hasMessages(): boolean {
    return this.#queued.length > 0;
  }

  /** Why a message must be refused, or undefined when it can be queued. */
  refusal(request: unknown): string | undefined {
    if (!this.isChat) return 'this conversation is not a chat: start it with chat: true to send more messages';
    if (this.hasEnded() || this.endRequested) return 'this conversation has ended';
    if (!isRecord(request)) return 'a message must be {content}';
    const problem = userContentProblem(request.content);
    if (problem) return problem;
    if (this.#queued.length >= MAX_QUEUED) return 'too many messages are queued; wait for an answer';
    return undefined;
  }

  /** A message sent by signal: nobody waits for its answer. */
  post(request: unknown): void {
    const refusal = this.refusal(request);
    if (refusal) {
      log.warn(`Ignored userMessage signal: ${refusal}`);
      return;
    }
    this.#queued.push({ content: (request as UserMessageRequest).content });
  }

  /** A message sent by Update (already validated): resolves with the answer to the exchange it joins. */
  async send(request: UserMessageRequest): Promise<UserMessageReply> {
    const ticket = this.#nextTicket++;
    this.#queued.push({ content: request.content, ticket });
    await condition(() => this.#answers.has(ticket));
    const answer = this.#answers.get(ticket)!;
    this.#answers.delete(ticket);
    if ('failure' in answer) throw answer.failure;
    return answer.reply;
  }

  end(request: unknown): void {
    const { by, reason } = isRecord(request) ? request : {};
    this.#endRequest = {
      ...(typeof by === 'string' ? { by } : {}),
      ...(typeof reason === 'string' ? { reason } : {}),
    };
  }

  /** Waits for the next message(s), up to the idle timeout; false when the chat ends or sits idle instead. */
  async waitForMessages(idleTimeoutMs: number): Promise<boolean> {
    const arrived = await condition(() => this.hasMessages || this.endRequested, idleTimeoutMs, { summary: 'waiting for the next user message' });
    return arrived && this.hasMessages;
  }

  /** Everything queued, as one user message, and the tickets of the Updates waiting on its answer. */
  take(): { message: MessageParam; tickets: number[] } {
    const queued = this.#queued.splice(0);
    const content: ContentBlockParam[] = queued.flatMap((m) => (typeof m.content === 'string' ? [{ type: 'text' as const, text: m.content }] : m.content));
    return { message: { role: 'user', content }, tickets: queued.flatMap((m) => (m.ticket === undefined ? [] : [m.ticket])) };
  }

  answer(tickets: number[], reply: UserMessageReply): void {
    for (const ticket of tickets) this.#answers.set(ticket, { reply });
  }

  /** The conversation is over: Updates still queued get its final state rather than hang. */
  answerQueued(reply: UserMessageReply): void {
    this.answer(this.#takeQueuedTickets(), reply);
  }

  /** The run failed: every waiting Update gets the failure, so none is left without an answer. */
  failWaiting(tickets: number[], failure: ApplicationFailure): void {
    for (const ticket of [...tickets, ...this.#takeQueuedTickets()]) this.#answers.set(ticket, { failure });
  }

  #takeQueuedTickets(): number[] {
    return this.#queued.splice(0).flatMap((m) => (m.ticket === undefined ? [] : [m.ticket]));
  }
}
