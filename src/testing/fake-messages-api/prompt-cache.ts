// Prompt caching as the Messages API documents it (build-with-claude/prompt-caching): the request's cacheable blocks
// in prefix order (tools, system, messages), its breakpoints (block-level `cache_control` plus the automatic one a
// top-level `cache_control` places), the 20-position lookback from each breakpoint, per-model minimum lengths, TTLs
// refreshed on use, and the usage split (read / written by TTL / uncached) the API reports.
import { createHash } from 'node:crypto';
import type { BetaMessageParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { combineConsecutiveTurns } from './turns';
import type { CacheTtl, FullRequest, PromptCacheEntry, RecordedCache } from './types';

export const CACHE_TTL_MS: Readonly<Record<CacheTtl, number>> = { '5m': 5 * 60_000, '1h': 60 * 60_000 };

/** Breakpoints per request, the automatic one included. */
export const MAX_CACHE_BREAKPOINTS = 4;

/** Positions a lookup checks per breakpoint, the breakpoint itself counting as the first. */
export const CACHE_LOOKBACK_POSITIONS = 20;

/** The minimum for a model the table below does not know (the Sonnet 4.x / Opus 4.8 class value). */
export const DEFAULT_MIN_CACHEABLE_TOKENS = 1024;

/**
 * Minimum cacheable prompt length per model id prefix (the longest matching prefix wins), from the prompt-caching
 * page's table (Sep/Oct 2026). A prompt shorter than this at a breakpoint is processed without caching, no error.
 */
export const MIN_CACHEABLE_TOKENS: Readonly<Record<string, number>> = {
  'claude-fable-5': 512,
  'claude-fable-5-1': 512,
  'claude-mythos-5': 512,
  'claude-mythos-5-1': 512,
  'claude-opus-5': 512,
  'claude-opus-5-5': 512,
  'claude-sonnet-5-5': 512,
  'claude-haiku-5-5': 512,
  'claude-opus-4-8': 1024,
  'claude-sonnet-5': 1024,
  'claude-sonnet-4-6': 1024,
  'claude-sonnet-4-5': 1024,
  'claude-opus-4-1': 1024,
  'claude-opus-4': 1024,
  'claude-sonnet-4': 1024,
  'claude-mythos-preview': 2048,
  'claude-opus-4-7': 2048,
  'claude-3-5-haiku': 2048,
  'claude-haiku-3-5': 2048,
  'claude-opus-4-6': 4096,
  'claude-opus-4-5': 4096,
  'claude-haiku-4-5': 4096,
};

function longestPrefixMatch(model: string, table: Readonly<Record<string, number>>): number | undefined {
  let best: string | undefined;
  for (const prefix of Object.keys(table)) {
    // A prefix matches a whole id or an id that goes on after a dash (a dated snapshot), not claude-opus-50.
    const matches = model === prefix || model.startsWith(`${prefix}-`);
    if (matches && (best === undefined || prefix.length > best.length)) best = prefix;
  }
  return best === undefined ? undefined : table[best];
}

/** The model's minimum: the override (a number for every model, or prefixes consulted before the table), else the table. */
export function minCacheableTokensFor(model: string, override?: number | Readonly<Record<string, number>>): number {
  if (typeof override === 'number') return override;
  return (override && longestPrefixMatch(model, override)) ?? longestPrefixMatch(model, MIN_CACHEABLE_TOKENS) ?? DEFAULT_MIN_CACHEABLE_TOKENS;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The block as the cache sees it: as sent (key order kept), without cache_control and null-valued fields. */
function cacheForm(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cacheForm);
  if (!isObject(value)) return value;
  const kept: Json = {};
  for (const [key, field] of Object.entries(value)) {
    if (key === 'cache_control' || field === null || field === undefined) continue;
    kept[key] = cacheForm(field);
  }
  return kept;
}

/** The fake's input token estimate for one block: about 4 characters of its JSON per token. */
export function estimateBlockTokens(block: unknown): number {
  return Math.max(1, Math.ceil(JSON.stringify(cacheForm(block) ?? '').length / 4));
}

function blocksOfContent(content: unknown): unknown[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return Array.isArray(content) ? content : [];
}

interface PromptBlock {
  /** Hash of the prefix through this block: what a cache entry written here is keyed by. */
  key: string;
  tokens: number;
  /** Tokens of the prefix through this block. */
  prefixTokens: number;
  /** A run of consecutive tool_use (or tool_result) blocks counts as one lookback position. */
  run?: 'tool_use' | 'tool_result';
}

export interface Breakpoint {
  /** Index in the request's cacheable blocks: tools, then system blocks, then message blocks. */
  position: number;
  ttl: CacheTtl;
}

/** A request as the cache sees it. */
export interface Prompt {
  model: string;
  blocks: PromptBlock[];
  /** In block order, one per position. */
  breakpoints: Breakpoint[];
  totalTokens: number;
}

interface Candidate {
  block: unknown;
  where: string;
  section: 'tools' | 'system' | 'messages';
  /** For message blocks: which message (as the model sees it) and its role, so turn boundaries are in the prefix. */
  turn?: string;
  /** Whether its own cache_control counts (not for blocks a thread stored from an earlier request). */
  markersCount: boolean;
}

function canCarryCacheControl(block: unknown): boolean {
  if (!isObject(block)) return false;
  if (block.type === 'thinking' || block.type === 'redacted_thinking') return false;
  return !(block.type === 'text' && block.text === '');
}

function ttlOf(control: unknown, where: string): CacheTtl | { error: string } {
  if (!isObject(control)) return { error: `${where}: Input should be an object` };
  if (control.type !== 'ephemeral') return { error: `${where}.type: Input should be 'ephemeral'` };
  if (control.ttl === undefined || control.ttl === null) return '5m';
  if (control.ttl !== '5m' && control.ttl !== '1h') return { error: `${where}.ttl: Input should be '5m' or '1h'` };
  return control.ttl;
}

export interface PromptOptions {
  /**
   * Messages before this index were stored by a thread: their block-level markers were set for the request that
   * first sent them, so only the new messages' markers (and the top-level cache_control) place breakpoints — the
   * same breakpoints the SDK's replay of the thread as a create would send. Default 0.
   */
  markersFromMessage?: number;
}

/**
 * The request's cacheable blocks and breakpoints, or the API's 400 message for markers it refuses. `request.messages`
 * is taken as sent (before same-role messages are combined) so error paths name the blocks the client sent.
 */
export function promptOf(request: FullRequest, options: PromptOptions = {}): { prompt: Prompt } | { error: string } {
  const candidates: Candidate[] = [];
  (Array.isArray(request.tools) ? request.tools : []).forEach((tool, i) => candidates.push({ block: tool, where: `tools.${i}`, section: 'tools', markersCount: true }));
  const system = request.system;
  if (typeof system === 'string') {
    if (system !== '') candidates.push({ block: { type: 'text', text: system }, where: 'system', section: 'system', markersCount: true });
  } else if (Array.isArray(system)) {
    system.forEach((block, i) => candidates.push({ block, where: `system.${i}`, section: 'system', markersCount: true }));
  }
  const markersFrom = options.markersFromMessage ?? 0;
  const raw = Array.isArray(request.messages) ? request.messages : [];
  // Where each block of a sent message lands once same-role messages are combined into one turn.
  const combined = combineConsecutiveTurns(
    raw.map((message, i) => ({ ...message, content: blocksOfContent(message.content).map((block, j) => ({ block, where: `messages.${i}.content.${j}`, markersCount: i >= markersFrom })) }) as unknown as BetaMessageParam),
  );
  combined.forEach((message, turnIndex) => {
    for (const entry of message.content as unknown as Array<{ block: unknown; where: string; markersCount: boolean }>) {
      candidates.push({ ...entry, section: 'messages', turn: `${turnIndex}:${message.role}` });
    }
  });

  // Breakpoints: block-level markers, then the automatic one on the last block that can carry one.
  const explicit = new Map<number, CacheTtl>();
  for (const [position, candidate] of candidates.entries()) {
    const control = isObject(candidate.block) ? candidate.block.cache_control : undefined;
    if (!candidate.markersCount || control === undefined || control === null) continue;
    if (!canCarryCacheControl(candidate.block)) {
      const type = isObject(candidate.block) ? candidate.block.type : undefined;
      if (type === 'text') return { error: `${candidate.where}.text: cache_control cannot be set for empty text blocks` };
      return { error: `${candidate.where}.${String(type)}.cache_control: Extra inputs are not permitted` };
    }
    const ttl = ttlOf(control, `${candidate.where}.cache_control`);
    if (typeof ttl !== 'string') return ttl;
    explicit.set(position, ttl);
  }
  const breakpoints = new Map(explicit);
  const topLevel = request.cache_control;
  if (topLevel !== undefined && topLevel !== null) {
    const ttl = ttlOf(topLevel, 'cache_control');
    if (typeof ttl !== 'string') return ttl;
    let target = candidates.length - 1;
    while (target >= 0 && !canCarryCacheControl(candidates[target]!.block)) target--;
    if (target >= 0) {
      const already = explicit.get(target);
      if (already !== undefined && already !== ttl) {
        return { error: `cache_control: the top-level cache_control (ttl '${ttl}') conflicts with the cache_control (ttl '${already}') already set on the last cacheable block (${candidates[target]!.where})` };
      }
      if (already === undefined && explicit.size >= MAX_CACHE_BREAKPOINTS) {
        return { error: `A maximum of ${MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found ${explicit.size + 1}.` };
      }
      breakpoints.set(target, ttl);
    }
  }
  if (breakpoints.size > MAX_CACHE_BREAKPOINTS) return { error: `A maximum of ${MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found ${breakpoints.size}.` };
  const ordered = [...breakpoints.entries()].sort(([a], [b]) => a - b).map(([position, ttl]) => ({ position, ttl }));
  const firstShort = ordered.findIndex((b) => b.ttl === '5m');
  if (firstShort !== -1 && ordered.slice(firstShort).some((b) => b.ttl === '1h')) {
    return { error: "a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block: entries with the longer TTL must come first" };
  }

  // Prefix hashes, chained block by block. What invalidates a level joins the chain where that level starts:
  // the model before everything, tool_choice before system, thinking before messages (the page's invalidation table).
  let chain = createHash('sha256').update(JSON.stringify(['model', request.model])).digest('hex');
  const link = (value: unknown) => {
    chain = createHash('sha256').update(chain).update(JSON.stringify(value)).digest('hex');
  };
  const blocks: PromptBlock[] = [];
  let prefixTokens = 0;
  let section: Candidate['section'] = 'tools';
  for (const candidate of candidates) {
    if (section === 'tools' && candidate.section !== 'tools') link(['tool_choice', cacheForm(request.tool_choice) ?? null]);
    if (section !== 'messages' && candidate.section === 'messages') link(['thinking', cacheForm(request.thinking) ?? null]);
    section = candidate.section;
    const form = cacheForm(candidate.block);
    link([candidate.section, candidate.turn ?? null, form]);
    const tokens = estimateBlockTokens(form);
    prefixTokens += tokens;
    const type = isObject(form) ? form.type : undefined;
    blocks.push({ key: chain, tokens, prefixTokens, ...(type === 'tool_use' || type === 'tool_result' ? { run: type } : {}) });
  }
  return { prompt: { model: request.model, blocks, breakpoints: ordered, totalTokens: Math.max(1, prefixTokens) } };
}

/** What a request reads and writes, found at lookup and applied once the API has processed the prompt. */
export interface CachePlan {
  prompt: Prompt;
  /** The block the longest cached prefix ends at. */
  hitAt?: number;
  readTokens: number;
  write5mTokens: number;
  write1hTokens: number;
  uncachedTokens: number;
  /** Breakpoints after the hit whose prefix is long enough to be cached. */
  writes: Breakpoint[];
}

interface StoredEntry extends PromptCacheEntry {
  key: string;
}

/** One organisation's prompt cache: entries keyed by prefix hash, each living its TTL from its last write or hit. */
export class PromptCache {
  readonly #entries = new Map<string, StoredEntry>();

  constructor(private readonly now: () => number) {}

  #live(key: string): StoredEntry | undefined {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Looks the prompt up: at each breakpoint, back through at most 20 positions, for the longest cached prefix. */
  plan(prompt: Prompt, minTokens: number): CachePlan {
    const { blocks } = prompt;
    let hitAt: number | undefined;
    for (const breakpoint of prompt.breakpoints) {
      let positions = 1;
      for (let i = breakpoint.position; i >= 0 && positions <= CACHE_LOOKBACK_POSITIONS; i--) {
        if (hitAt !== undefined && i <= hitAt) break;
        if (this.#live(blocks[i]!.key)) {
          hitAt = i;
          break;
        }
        const run = blocks[i]!.run;
        if (i > 0 && !(run !== undefined && blocks[i - 1]!.run === run)) positions++;
      }
    }
    const readTokens = hitAt === undefined ? 0 : blocks[hitAt]!.prefixTokens;
    const writes = prompt.breakpoints.filter((b) => (hitAt === undefined || b.position > hitAt) && blocks[b.position]!.prefixTokens >= minTokens);
    const lastWrite = writes[writes.length - 1];
    const last1h = writes.filter((b) => b.ttl === '1h').pop();
    const written = lastWrite ? blocks[lastWrite.position]!.prefixTokens : readTokens;
    const written1h = last1h ? blocks[last1h.position]!.prefixTokens : readTokens;
    return {
      prompt,
      ...(hitAt !== undefined ? { hitAt } : {}),
      readTokens,
      write1hTokens: written1h - readTokens,
      write5mTokens: written - written1h,
      uncachedTokens: prompt.totalTokens - written,
      writes,
    };
  }

  /** The prompt was processed: write the planned entries, and refresh the hit and every other entry it reached. */
  commit(plan: CachePlan): void {
    const now = this.now();
    const { blocks, model } = plan.prompt;
    const touch = (position: number, ttl: CacheTtl, writtenAt = now) => {
      const key = blocks[position]!.key;
      this.#entries.set(key, { key, model, blockIndex: position, tokens: blocks[position]!.prefixTokens, ttl, writtenAt, lastUsedAt: now, expiresAt: now + CACHE_TTL_MS[ttl] });
    };
    // A hit refreshes its entry, and so does reaching any other entry the request has a breakpoint on.
    const refresh = (position: number) => {
      const existing = this.#live(blocks[position]!.key);
      if (existing) touch(position, existing.ttl, existing.writtenAt);
    };
    if (plan.hitAt !== undefined) {
      refresh(plan.hitAt);
      for (const breakpoint of plan.prompt.breakpoints) if (breakpoint.position < plan.hitAt) refresh(breakpoint.position);
    }
    for (const write of plan.writes) touch(write.position, write.ttl);
  }

  clear(): void {
    this.#entries.clear();
  }

  entries(): PromptCacheEntry[] {
    const now = this.now();
    return [...this.#entries.values()].filter((entry) => entry.expiresAt > now).map(({ key: _key, ...entry }) => entry);
  }
}

/** The request log's summary of a plan. */
export function recordedCacheOf(plan: CachePlan): RecordedCache {
  return {
    breakpoints: plan.prompt.breakpoints.length,
    readTokens: plan.readTokens,
    writeTokens: plan.write5mTokens + plan.write1hTokens,
    write1hTokens: plan.write1hTokens,
    uncachedTokens: plan.uncachedTokens,
    ...(plan.hitAt !== undefined ? { hitAt: plan.hitAt } : {}),
    written: false,
  };
}
