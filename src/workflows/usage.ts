// Token usage and cost, summed per turn and over the conversation. The cost of each call is the worker's figure,
// recorded with the call: replays add up the same numbers whatever the prices are today.
import type { CallModelResult } from '../activities/types';
import { roundUsd } from '../pricing/cost';
import type { UsageTotals } from './types';

export function emptyUsage(): UsageTotals {
  return { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheCreationInputTokens: 0, cacheCreation1hInputTokens: 0, costUsd: 0 };
}

export function usageOf(result: Pick<CallModelResult, 'reply' | 'costUsd'>): UsageTotals {
  const usage = result.reply.usage;
  return {
    inputTokens: usage.input_tokens ?? 0,
    outputTokens: usage.output_tokens ?? 0,
    cacheReadInputTokens: usage.cache_read_input_tokens ?? 0,
    cacheCreationInputTokens: usage.cache_creation_input_tokens ?? 0,
    cacheCreation1hInputTokens: usage.cache_creation?.ephemeral_1h_input_tokens ?? 0,
    // A call recorded before costs existed has none: unknown, like a call whose model has no price.
    costUsd: result.costUsd ?? null,
  };
}

export function addUsage(into: UsageTotals, more: UsageTotals): void {
  into.inputTokens += more.inputTokens;
  into.outputTokens += more.outputTokens;
  into.cacheReadInputTokens += more.cacheReadInputTokens;
  into.cacheCreationInputTokens += more.cacheCreationInputTokens;
  into.cacheCreation1hInputTokens += more.cacheCreation1hInputTokens;
  into.costUsd = into.costUsd === null || more.costUsd === null ? null : roundUsd(into.costUsd + more.costUsd);
}

/** All input tokens of a usage: uncached, read from the cache and written to it. */
export function totalInputTokens(usage: UsageTotals): number {
  return usage.inputTokens + usage.cacheReadInputTokens + usage.cacheCreationInputTokens;
}
