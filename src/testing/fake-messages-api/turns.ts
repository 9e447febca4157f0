// Turns as the model sees them. The Messages API combines consecutive `user` or `assistant` messages into one turn
// (its reference for `messages`: "Consecutive user or assistant turns in your request will be combined into a single
// turn"), so a client that resumes a paused turn may send the paused and the resumed reply as one assistant message
// or as two; the fake accepts both and stores the combined form in its threads.
import type { BetaMessageParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';

function blocksOf(content: unknown): unknown[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return Array.isArray(content) ? content : [];
}

/** The conversation with every run of user or of assistant messages joined into one message, blocks in order. */
export function combineConsecutiveTurns(messages: readonly BetaMessageParam[]): BetaMessageParam[] {
  const combined: BetaMessageParam[] = [];
  for (const message of messages) {
    const last = combined[combined.length - 1];
    if (last && last.role === message.role && (message.role === 'user' || message.role === 'assistant')) {
      const content = [...blocksOf(last.content), ...blocksOf(message.content)];
      combined[combined.length - 1] = { role: message.role, content } as BetaMessageParam;
    } else {
      combined.push(message);
    }
  }
  return combined;
}

/** The value with null and undefined fields dropped and keys sorted, so blocks compare by content. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, field]) => field !== null && field !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([key, field]) => [key, canonical(field)]));
}

/** What identifies a block sent back by a client: its id when it has one, else its content (nulls and citations aside). */
function signatureOf(block: unknown): string {
  if (typeof block !== 'object' || block === null) return JSON.stringify(block);
  const { type, id, text, citations: _citations, ...rest } = block as Record<string, unknown>;
  if (typeof id === 'string') return `${String(type)}#${id}`;
  if (type === 'text') return `text:${String(text)}`;
  return `${String(type)}:${JSON.stringify(canonical(rest))}`;
}

/**
 * The replies the fake has written, per conversation, so it can count how many of them a conversation holds even
 * when a client joined several (a paused turn and its resumption) into one assistant message.
 */
export class ReplyLedger {
  /** conversation key → signature of a reply's first block → the signatures of every reply starting with it. */
  readonly #replies = new Map<string, Map<string, string[][]>>();

  record(conversationKey: string, content: readonly unknown[]): void {
    if (content.length === 0) return;
    const signatures = content.map(signatureOf);
    let byFirst = this.#replies.get(conversationKey);
    if (!byFirst) this.#replies.set(conversationKey, (byFirst = new Map()));
    const sameStart = byFirst.get(signatures[0]!) ?? [];
    sameStart.push(signatures);
    byFirst.set(signatures[0]!, sameStart);
  }

  clear(): void {
    this.#replies.clear();
  }

  /**
   * How many model replies `messages` hold: each assistant message counts the whole replies of this fake it is made
   * of, and any run of blocks the fake never wrote (a prefill, an edited reply) counts as one more.
   */
  repliesIn(conversationKey: string, messages: readonly BetaMessageParam[]): number {
    const byFirst = this.#replies.get(conversationKey);
    let count = 0;
    for (const message of messages) {
      if (message.role !== 'assistant') continue;
      const signatures = blocksOf(message.content).map(signatureOf);
      let replies = 0;
      let inUnknownRun = false;
      for (let i = 0; i < signatures.length; ) {
        const candidates = byFirst?.get(signatures[i]!) ?? [];
        const longest = candidates
          .filter((reply) => reply.every((signature, j) => signatures[i + j] === signature))
          .reduce((best, reply) => Math.max(best, reply.length), 0);
        if (longest > 0) {
          replies++;
          i += longest;
          inUnknownRun = false;
        } else {
          if (!inUnknownRun) replies++;
          inUnknownRun = true;
          i++;
        }
      }
      count += Math.max(1, replies);
    }
    return count;
  }
}
