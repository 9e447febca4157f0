// The organisation's request rate limit, as the API enforces it: a token bucket per limit (requests per second and
// per minute), refilled continuously; a request that finds a bucket empty gets 429 rate_limit_error with the
// seconds until it would pass in `retry-after`.
import type { RateLimitOptions } from './types';

interface Bucket {
  /** Tokens added per millisecond. */
  ratePerMs: number;
  capacity: number;
  tokens: number;
  updatedAt: number;
  /** What the error message says the limit is. */
  described: string;
}

export interface RateLimitVerdict {
  /** Seconds until a request would pass (the `retry-after` header: whole seconds, at least 1). */
  retryAfterSeconds: number;
  message: string;
  /** The limit that refused, for the `anthropic-ratelimit-requests-*` headers. */
  limit: number;
}

export function rateLimitProblems(options: RateLimitOptions): string[] {
  const problems: string[] = [];
  for (const key of ['requestsPerSecond', 'requestsPerMinute', 'burst'] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isFinite(value) || value <= 0)) problems.push(`rateLimit.${key} must be a positive number (got ${String(value)})`);
  }
  if (options.requestsPerSecond === undefined && options.requestsPerMinute === undefined) problems.push('rateLimit needs requestsPerSecond or requestsPerMinute');
  return problems;
}

export class RequestRateLimiter {
  readonly #buckets: Bucket[] = [];
  #refused = 0;

  constructor(options: RateLimitOptions, now: number) {
    const problems = rateLimitProblems(options);
    if (problems.length > 0) throw new TypeError(`Invalid fake rate limit: ${problems.join('; ')}`);
    const add = (perSecond: number, limit: number, window: string) => {
      // A second's worth at once by default: the API evens a per-minute limit out over shorter intervals too.
      const capacity = options.burst ?? Math.max(1, Math.ceil(perSecond));
      this.#buckets.push({ ratePerMs: perSecond / 1000, capacity, tokens: capacity, updatedAt: now, described: `${limit} requests per ${window}` });
    };
    if (options.requestsPerSecond !== undefined) add(options.requestsPerSecond, options.requestsPerSecond, 'second');
    if (options.requestsPerMinute !== undefined) add(options.requestsPerMinute / 60, options.requestsPerMinute, 'minute');
  }

  /** 429s served so far. */
  get refused(): number {
    return this.#refused;
  }

  /** Takes a request: undefined when it may pass (a token is spent from every bucket), else why not. */
  take(now: number): RateLimitVerdict | undefined {
    for (const bucket of this.#buckets) {
      bucket.tokens = Math.min(bucket.capacity, bucket.tokens + (now - bucket.updatedAt) * bucket.ratePerMs);
      bucket.updatedAt = now;
    }
    const empty = this.#buckets.find((bucket) => bucket.tokens < 1);
    if (empty) {
      this.#refused += 1;
      const waitMs = (1 - empty.tokens) / empty.ratePerMs;
      return {
        retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
        limit: Math.round(empty.capacity),
        message: `This request would exceed the rate limit for your organization of ${empty.described}. For details, refer to: https://docs.claude.com/en/api/rate-limits.`,
      };
    }
    for (const bucket of this.#buckets) bucket.tokens -= 1;
    return undefined;
  }
}
