// Prompt caching on the model request: the API's automatic breakpoint (top-level cache_control) on every call, and
// the breakpoints a user set on system, tools or messages kept within the API's rules. Nothing here changes the
// content of a block, only its cache_control marker, so a retry, a thread replay or a fork sends the same prefix
// bytes as the call it repeats and reads the cache that call wrote.
import type { BetaMessageParam, MessageCreateParamsBase } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { MAX_CACHE_BREAKPOINTS } from '../workflows/options';
import type { CacheTtl } from './types';

interface Marked {
  cache_control?: { type: 'ephemeral'; ttl?: CacheTtl } | null;
}

/** A marked block: where a breakpoint sits, so it can be dropped or its TTL aligned. */
interface Breakpoint {
  holder: Marked;
  ttl: CacheTtl;
}

function ttlOf(marker: Marked['cache_control']): CacheTtl {
  return marker?.ttl === '1h' ? '1h' : '5m';
}

function copyBlocks<T>(blocks: T[]): T[] {
  return blocks.map((block) => (typeof block === 'object' && block !== null ? { ...block } : block));
}

/** Copies of the messages with their content arrays copied, so markers can be changed without touching the input. */
function copyMessages(messages: BetaMessageParam[]): BetaMessageParam[] {
  return messages.map((m) => (Array.isArray(m.content) ? ({ ...m, content: copyBlocks<unknown>(m.content) } as BetaMessageParam) : { ...m }));
}

function dropMarker(holder: Marked): void {
  delete holder.cache_control;
}

function markedIn(blocks: unknown[]): Breakpoint[] {
  return blocks.flatMap((block) => {
    const holder = block as Marked;
    return typeof block === 'object' && block !== null && holder.cache_control ? [{ holder, ttl: ttlOf(holder.cache_control) }] : [];
  });
}

export interface PromptCachingOptions {
  /** The automatic breakpoint's TTL; null: no top-level cache_control (the user's own breakpoints still go out). */
  ttl: CacheTtl | null;
  /**
   * Messages up to and including this index were answered in an earlier call: their breakpoints are dropped, as the
   * SDK does on thread replays, so one request never carries every breakpoint ever set. -1: none answered.
   */
  answeredThrough: number;
  /**
   * Breakpoints on the system prompt and tools that this request does not carry but the server counts: a thread
   * continue's, fixed at the thread's create. Their slots are taken before any message breakpoint's.
   */
  fixedElsewhere?: number;
}

/**
 * The request with prompt caching applied:
 * - a top-level `cache_control` (with its TTL; '5m' is the API's default and sent without one);
 * - message breakpoints only on messages not answered yet;
 * - at most MAX_CACHE_BREAKPOINTS in all: system and tool breakpoints (fixed at the start, so stable) are kept first,
 *   then the latest message breakpoints;
 * - TTLs in the order the API requires (1-hour entries before 5-minute ones): with a 1-hour automatic breakpoint the
 *   user's 5-minute ones become 1-hour, and after a 5-minute one no 1-hour one follows.
 * `messages` holds what this request sends (all of them, or a thread continue's new ones).
 */
export function withPromptCaching(params: MessageCreateParamsBase, options: PromptCachingOptions): MessageCreateParamsBase {
  const system = Array.isArray(params.system) ? copyBlocks(params.system) : params.system;
  const tools = params.tools ? copyBlocks(params.tools) : undefined;
  const messages = copyMessages(params.messages);

  messages.forEach((message, i) => {
    if (i <= options.answeredThrough && Array.isArray(message.content)) for (const block of message.content) dropMarker(block as Marked);
  });
  // The automatic breakpoint lands on the last block: a marker there with another TTL is refused by the API (400).
  const lastContent = messages[messages.length - 1]?.content;
  const lastBlock = Array.isArray(lastContent) ? (lastContent[lastContent.length - 1] as Marked | undefined) : undefined;
  if (options.ttl && lastBlock?.cache_control && ttlOf(lastBlock.cache_control) !== options.ttl) dropMarker(lastBlock);
  const fixed = [...markedIn(tools ?? []), ...markedIn(Array.isArray(system) ? system : [])];
  const inMessages = messages.flatMap((m) => (Array.isArray(m.content) ? markedIn(m.content) : []));
  const slots = MAX_CACHE_BREAKPOINTS - (options.ttl ? 1 : 0) - (options.fixedElsewhere ?? 0);
  // System and tool breakpoints are checked at start (the options check); the newest message breakpoints win the rest.
  const keptFixed = fixed.slice(0, Math.max(0, slots));
  for (const dropped of fixed.slice(keptFixed.length)) dropMarker(dropped.holder);
  const messageSlots = Math.max(0, slots - keptFixed.length);
  const keptMessages = messageSlots === 0 ? [] : inMessages.slice(-messageSlots);
  for (const dropped of inMessages.slice(0, inMessages.length - keptMessages.length)) dropMarker(dropped.holder);

  // In prefix order (tools, system, messages): once a 5-minute breakpoint appears, later ones cannot be 1-hour.
  const ordered = [...keptFixed, ...keptMessages];
  let shortSeen = false;
  for (const point of ordered) {
    let ttl = point.ttl;
    if (options.ttl === '1h') ttl = '1h';
    else if (shortSeen) ttl = '5m';
    if (ttl === '5m') shortSeen = true;
    point.holder.cache_control = ttl === '1h' ? { type: 'ephemeral', ttl: '1h' } : { type: 'ephemeral' };
  }

  return {
    ...params,
    ...(system !== undefined ? { system } : {}),
    ...(tools ? { tools } : {}),
    messages,
    ...(options.ttl ? { cache_control: options.ttl === '1h' ? { type: 'ephemeral', ttl: '1h' } : { type: 'ephemeral' } } : {}),
  } as MessageCreateParamsBase;
}

/** The TTL of every breakpoint a request carries, the automatic one included, for its worst-case price. */
export function breakpointTtlsOf(params: MessageCreateParamsBase): CacheTtl[] {
  const top = (params as { cache_control?: Marked['cache_control'] }).cache_control;
  const blocks: unknown[] = [...(params.tools ?? []), ...(Array.isArray(params.system) ? params.system : []), ...params.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : []))];
  return [...(top ? [ttlOf(top)] : []), ...markedIn(blocks).map((point) => point.ttl)];
}
