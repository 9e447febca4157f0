// The streaming scenario's text: unique marked pieces ("w00042 "), so a delta a client receives can be matched to
// the moment the fake API wrote it, however either side cut or joined the text. (bench/peers/temporal-ai-sdk/peer.js
// repeats MarkClock in JavaScript.)

/** Characters per mark, the trailing space included: the fake's text chunk size, so one delta carries one mark. */
export const MARK_CHARS = 7;
const MARKS = /w\d{5} /g;

export const now = (): number => performance.timeOrigin + performance.now();

/** Hands out marks that are unique for the whole bench run. */
export class MarkSequence {
  #next = 0;

  /** `count` marks as one text. */
  text(count: number): string {
    let text = '';
    for (let i = 0; i < count; i++) text += `w${String(this.#next++ % 100_000).padStart(5, '0')} `;
    return text;
  }
}

/**
 * Stamps each mark when its last character is seen. Text arrives per stream (a content block, a stream part): pieces
 * of one stream are joined before looking for marks, so a mark cut across two deltas is stamped at the second.
 */
export class MarkClock {
  readonly stamps = new Map<string, number>();
  readonly #pending = new Map<string, string>();

  add(stream: string, text: string, at: number): void {
    const buffer = (this.#pending.get(stream) ?? '') + text;
    let consumed = 0;
    for (const match of buffer.matchAll(MARKS)) {
      const mark = match[0].trimEnd();
      // The first sighting counts: a mark repeated (a retried attempt re-sent) is not a new delta.
      if (!this.stamps.has(mark)) this.stamps.set(mark, at);
      consumed = match.index + match[0].length;
    }
    this.#pending.set(stream, buffer.slice(consumed));
  }

  receipts(): Array<[string, number]> {
    return [...this.stamps];
  }
}

export interface DeltaLatencies {
  /** Milliseconds from write to receipt, one per mark received. */
  latencies: number[];
  /** Marks written but never received. */
  missing: number;
}

/** Joins receipts to writes by mark. */
export function deltaLatencies(written: ReadonlyMap<string, number>, receipts: ReadonlyArray<[string, number]>, expected: Iterable<string>): DeltaLatencies {
  const received = new Map(receipts);
  const latencies: number[] = [];
  let missing = 0;
  for (const mark of expected) {
    const writtenAt = written.get(mark);
    const receivedAt = received.get(mark);
    if (writtenAt === undefined || receivedAt === undefined) missing++;
    else latencies.push(receivedAt - writtenAt);
  }
  return { latencies, missing };
}

/** The marks in a text, in order. */
export function marksOf(text: string): string[] {
  return [...text.matchAll(MARKS)].map((match) => match[0].trimEnd());
}
