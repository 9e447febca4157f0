// Paged transcript reads. A query's answer travels as one gRPC message (4 MB by default), so a long conversation's
// transcript is read in pages of whole messages; each page is at most maxBytes unless one message alone is larger.
import { jsonByteLength, isRecord } from './json';
import type { MessageParam, TranscriptPage, TranscriptPageRequest } from './types';

/** Default and ceiling of a page: well under the gRPC limit with the rest of the answer around it. */
export const DEFAULT_PAGE_BYTES = 1_000_000;
export const MAX_PAGE_BYTES = 3_000_000;

/** What is wrong with a page request, if anything (a query cannot be refused quietly: it throws with this). */
export function pageRequestProblem(request: unknown, totalMessages: number): string | undefined {
  if (!isRecord(request)) return 'a page request must be {fromMessage?, maxBytes?, fromTurn?, fromApproval?}';
  const { fromMessage, maxBytes } = request;
  if (fromMessage !== undefined && (typeof fromMessage !== 'number' || !Number.isInteger(fromMessage) || fromMessage < 0 || fromMessage > totalMessages)) {
    return `fromMessage must be a whole number from 0 to ${totalMessages} (the transcript's length)`;
  }
  const { fromTurn, fromApproval } = request;
  if (fromTurn !== undefined && (typeof fromTurn !== 'number' || !Number.isInteger(fromTurn) || fromTurn < 0)) return 'fromTurn must be a whole number from 0';
  if (fromApproval !== undefined && (typeof fromApproval !== 'number' || !Number.isInteger(fromApproval) || fromApproval < 0)) return 'fromApproval must be a whole number from 0';
  if (maxBytes !== undefined && (typeof maxBytes !== 'number' || !Number.isInteger(maxBytes) || maxBytes <= 0 || maxBytes > MAX_PAGE_BYTES)) {
    return `maxBytes must be a whole number of bytes from 1 to ${MAX_PAGE_BYTES}`;
  }
  return undefined;
}

/** Items from `from`, as many whole ones as fit `maxBytes` (at least one), and where the next start. */
export function sliceByBytes<T>(items: readonly T[], from: number, maxBytes: number): { items: T[]; next: number | null } {
  let end = from;
  let bytes = 0;
  while (end < items.length) {
    const size = jsonByteLength(items[end]);
    if (end > from && bytes + size > maxBytes) break;
    bytes += size;
    end++;
  }
  return { items: items.slice(from, end), next: end < items.length ? end : null };
}

/** Counts of the transcript's start a run does not hold: those messages and turn records are archived. */
export interface ArchivedCounts {
  messages: number;
  turns: number;
}

/**
 * The messages of one page and where the next starts, in the whole transcript's indexes: `messages` holds those
 * from `offset` on (the ones before are archived). A page asked from inside the archived range is empty up to
 * `offset`; the client reads that range from the archive. Call after pageRequestProblem() said nothing.
 */
export function pageOf(messages: readonly MessageParam[], request: TranscriptPageRequest, offset = 0): { messages: MessageParam[]; page: TranscriptPage } {
  const fromMessage = request.fromMessage ?? 0;
  const total = offset + messages.length;
  if (fromMessage < offset) return { messages: [], page: { fromMessage, nextMessage: offset < total ? offset : null, totalMessages: total } };
  const maxBytes = request.maxBytes ?? DEFAULT_PAGE_BYTES;
  const { items, next } = sliceByBytes(messages, fromMessage - offset, maxBytes);
  return { messages: items, page: { fromMessage, nextMessage: next === null ? null : next + offset, totalMessages: total } };
}

/**
 * Items from `from` (0-based, counting the `offset` archived ones) in a slice of maxBytes (at least one, unless
 * maxBytes is spent), and where the next starts: turn records, the audit.
 */
export function sliceFrom<T>(items: readonly T[], from: number, maxBytes: number, offset = 0): { items: T[]; next: number | null } {
  const total = offset + items.length;
  if (from < offset) return { items: [], next: offset < total ? offset : null };
  // Nothing left of the page's budget: none now, the caller asks again from here.
  if (maxBytes <= 0) return { items: [], next: from < total ? from : null };
  const slice = sliceByBytes(items, Math.min(from, total) - offset, maxBytes);
  return { items: slice.items, next: slice.next === null ? null : slice.next + offset };
}
