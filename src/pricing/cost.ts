// What model calls cost: a price per model (from ./prices.ts, or the user's), applied to the usage the API reports.
// Pure data and arithmetic, no I/O: the worker prices each call and records the figure, so replays never re-price.
import { LIST_PRICES } from './prices';

/** US dollars per million tokens, as the pricing page lists them. */
export interface ModelPrice {
  input: number;
  output: number;
  /** Writing to the cache with the default 5-minute TTL (1.25× input on the list). */
  cacheWrite5m: number;
  /** Writing to the cache with the 1-hour TTL (2× input on the list). */
  cacheWrite1h: number;
  /** Reading from the cache (0.1× input on the list). */
  cacheRead: number;
}

export type PriceTable = Readonly<Record<string, ModelPrice>>;

export const PRICE_FIELDS: ReadonlyArray<keyof ModelPrice> = ['input', 'output', 'cacheWrite5m', 'cacheWrite1h', 'cacheRead'];

/** The usage fields of one reply that decide its price (the API's own names). */
export interface BilledUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  /** The split of cache_creation_input_tokens by TTL, where the API reports it. */
  cache_creation?: { ephemeral_5m_input_tokens?: number | null; ephemeral_1h_input_tokens?: number | null } | null;
}

/** Every problem with a price table, each naming its model and field: empty when the table is usable. */
export function priceTableProblems(table: unknown, where = 'prices'): string[] {
  if (typeof table !== 'object' || table === null || Array.isArray(table)) return [`${where} must be an object of model name → price`];
  const problems: string[] = [];
  for (const [model, price] of Object.entries(table as Record<string, unknown>)) {
    if (model.trim() === '') problems.push(`${where} has an empty model name`);
    if (typeof price !== 'object' || price === null || Array.isArray(price)) {
      problems.push(`${where}['${model}'] must be {${PRICE_FIELDS.join(', ')}} in US dollars per million tokens`);
      continue;
    }
    const fields = price as Record<string, unknown>;
    for (const field of PRICE_FIELDS) {
      const value = fields[field];
      if (value === undefined) problems.push(`${where}['${model}'].${field} is missing (US dollars per million tokens)`);
      else if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) problems.push(`${where}['${model}'].${field} must be a number ≥ 0, got ${JSON.stringify(value)}`);
    }
    for (const field of Object.keys(fields)) {
      if (!(PRICE_FIELDS as readonly string[]).includes(field)) problems.push(`${where}['${model}'] has an unknown field '${field}' (known: ${PRICE_FIELDS.join(', ')})`);
    }
  }
  return problems;
}

/** A dated model id ('claude-sonnet-4-5-20250929') is priced as its alias. */
const DATE_SUFFIX = /-\d{8}$/;

/**
 * The price of a model: the user's table first, then the list. Matches the exact id, then the id without a date
 * suffix. Undefined for a model neither knows: its cost is unknown, never zero.
 */
export function priceOf(model: string, overrides?: PriceTable): ModelPrice | undefined {
  const alias = model.replace(DATE_SUFFIX, '');
  return overrides?.[model] ?? overrides?.[alias] ?? LIST_PRICES.models[model] ?? LIST_PRICES.models[alias];
}

const PER_TOKEN = 1 / 1_000_000;

/** Dollars to a ten-billionth: enough for any price per token, without binary fractions' 0.0046887000000000005. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e10) / 1e10;
}

/**
 * The cost of one reply in US dollars. Cache writes the API does not split by TTL are priced at `unsplitTtl`'s rate
 * (the TTL the request asked for).
 */
export function costOfUsage(usage: BilledUsage, price: ModelPrice, unsplitTtl: '5m' | '1h' = '5m'): number {
  const written = usage.cache_creation_input_tokens ?? 0;
  const split = usage.cache_creation;
  const written1h = split ? (split.ephemeral_1h_input_tokens ?? 0) : unsplitTtl === '1h' ? written : 0;
  const written5m = split ? (split.ephemeral_5m_input_tokens ?? 0) : written - written1h;
  return roundUsd(
    (usage.input_tokens * price.input +
      usage.output_tokens * price.output +
      (usage.cache_read_input_tokens ?? 0) * price.cacheRead +
      written5m * price.cacheWrite5m +
      written1h * price.cacheWrite1h) *
    PER_TOKEN
  );
}

/**
 * The most a request can cost: every input token at the dearest input rate it could be billed at (uncached, or
 * written to the cache at any TTL its breakpoints ask for), and `maxTokens` of output. A budget check uses it, so it
 * never under-counts. `cacheTtls`: the TTLs of every breakpoint the request carries (the automatic one and the user's).
 */
export function maxCostOfRequest(inputTokens: number, maxTokens: number, price: ModelPrice, cacheTtls: '5m' | '1h' | null | ReadonlyArray<'5m' | '1h'>): number {
  const ttls = cacheTtls === null ? [] : typeof cacheTtls === 'string' ? [cacheTtls] : cacheTtls;
  const dearestInput = Math.max(price.input, ...ttls.map((ttl) => (ttl === '1h' ? price.cacheWrite1h : price.cacheWrite5m)));
  return roundUsd((inputTokens * dearestInput + maxTokens * price.output) * PER_TOKEN);
}

/** Dollars for people: four significant decimals under a cent, two above. */
export function formatUsd(usd: number | null | undefined): string {
  if (usd === null || usd === undefined) return 'cost unknown';
  if (usd === 0) return '$0';
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}
