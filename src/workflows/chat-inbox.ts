// The chat inbox: user messages that arrive by signal or Update while an exchange runs, queued for the next one,
// and the answers the waiting sendMessage Updates get. A message is checked when it arrives, so one the API would
// refuse is refused here (Update rejected, signal logged) and never fails the conversation.
import { condition, log, type ApplicationFailure } from '@temporalio/workflow';
import { isRecord } from './json';
import type { ContentBlockParam, Continuation, EndConversationRequest, MessageParam, UserMessageReply, UserMessageRequest } from './types';

/** Content blocks a user message may carry. tool_result belongs to the workflow's own tool round, tool_use to the model. */
export const USER_MESSAGE_BLOCK_TYPES: ReadonlyArray<string> = ['text', 'image', 'document', 'search_result'];
const MAX_QUEUED = 100;
/** The newest answers are kept (in the run and across runs) for awaitReply, however often it asks: this many. */
const MAX_UNCOLLECTED_ANSWERS = 100;

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
  /** The run is handing over to the next one: waiting Updates are answered with a ticket to wait on there. */
  #continuingAs: ((ticket: number) => UserMessageReply) | undefined;

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
    return this.#answerFor(ticket);
  }

  /** Why an awaitReply Update must be refused: the ticket is not one this conversation still owes an answer for. */
  awaitRefusal(request: unknown, exchangeTickets: readonly number[]): string | undefined {
    if (!isRecord(request) || typeof request.ticket !== 'number' || !Number.isInteger(request.ticket)) return 'awaitReply needs {ticket}: the number a continuedAsNew reply gave';
    const ticket = request.ticket;
    const owed = this.#answers.has(ticket) || exchangeTickets.includes(ticket) || this.#queued.some((m) => m.ticket === ticket);
    return owed ? undefined : `no answer is owed for ticket ${ticket}: it was never issued, or its answer was already collected`;
  }

  /** awaitReply: the answer for a message whose sendMessage Update ended when the run continued as new. */
  awaitReply(ticket: number): Promise<UserMessageReply> {
    return this.#answerFor(ticket);
  }

  async #answerFor(ticket: number): Promise<UserMessageReply> {
    await condition(() => this.#answers.has(ticket) || this.#continuingAs !== undefined);
    // An answer stays (the newest ones are kept) so that every Update waiting on its ticket gets it: a client that
    // asks again with awaitReply after a restart is answered too.
    const answer = this.#answers.get(ticket);
    if (!answer) return this.#continuingAs!(ticket);
    if ('failure' in answer) throw answer.failure;
    return answer.reply;
  }

  #setAnswer(ticket: number, answer: Answer): void {
    this.#answers.set(ticket, answer);
    for (const old of this.#answers.keys()) {
      if (this.#answers.size <= MAX_UNCOLLECTED_ANSWERS) break;
      this.#answers.delete(old);
    }
  }

  /**
   * The run continues as new: every Update waiting here (and any that arrives) is answered with its ticket, to wait
   * on in the next run, so every handler finishes before the hand-over.
   */
  beginContinuing(replyFor: (ticket: number) => UserMessageReply): void {
    this.#continuingAs = replyFor;
  }

  /** What the next run needs: queued messages with their tickets, and answers not collected yet. */
  carry(exchangeTickets: number[]): Continuation['inbox'] {
    const answers = [...this.#answers.entries()].flatMap(([ticket, answer]) => ('reply' in answer ? [{ ticket, reply: answer.reply }] : []));
    return {
      queued: this.#queued,
      nextTicket: this.#nextTicket,
      exchangeTickets,
      answers: answers.slice(-MAX_UNCOLLECTED_ANSWERS),
      ...(this.#endRequest ? { endRequest: this.#endRequest } : {}),
    };
  }

  restore(carried: Continuation['inbox']): void {
    this.#queued.push(...carried.queued);
    this.#nextTicket = carried.nextTicket;
    for (const { ticket, reply } of carried.answers) this.#answers.set(ticket, { reply });
    if (carried.endRequest) this.#endRequest = carried.endRequest;
  }

  end(request: unknown): void {
    const { by, reason } = isRecord(request) ? request : {};
    this.#endRequest = {
      ...(typeof by === 'string' ? { by } : {}),
      ...(typeof reason === 'string' ? { reason } : {}),
    };
  }

  /** Waits for the next message(s), up to the idle timeout; false when the chat ends or sits idle instead. */
  async waitForMessages(idleTimeoutMs: number, handOver: () => boolean = () => false): Promise<boolean> {
    const arrived = await condition(() => this.hasMessages || this.endRequested || handOver(), idleTimeoutMs, { summary: 'waiting for the next user message' });
    return arrived && this.hasMessages;
  }

  /** Everything queued, as one user message, and the tickets of the Updates waiting on its answer. */
  take(): { message: MessageParam; tickets: number[] } {
    const queued = this.#queued.splice(0);
    const content: ContentBlockParam[] = queued.flatMap((m) => (typeof m.content === 'string' ? [{ type: 'text' as const, text: m.content }] : m.content));
    return { message: { role: 'user', content }, tickets: queued.flatMap((m) => (m.ticket === undefined ? [] : [m.ticket])) };
  }

  answer(tickets: number[], reply: UserMessageReply): void {
    for (const ticket of tickets) this.#setAnswer(ticket, { reply });
  }

  /** The conversation is over: Updates still queued get its final state rather than hang. */
  answerQueued(reply: UserMessageReply): void {
    this.answer(this.#takeQueuedTickets(), reply);
  }

  /** The run failed: every waiting Update gets the failure, so none is left without an answer. */
  failWaiting(tickets: number[], failure: ApplicationFailure): void {
    for (const ticket of [...tickets, ...this.#takeQueuedTickets()]) this.#setAnswer(ticket, { failure });
  }

  #takeQueuedTickets(): number[] {
    return this.#queued.splice(0).flatMap((m) => (m.ticket === undefined ? [] : [m.ticket]));
  }
}
