// Token usage, summed per turn and over the conversation.
import type { CallModelResult } from '../activities/types';
import type { UsageTotals } from './types';

export function emptyUsage(): UsageTotals {
  return { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 };
}

export function usageOf(reply: CallModelResult['reply']): UsageTotals {
  return {
    inputTokens: reply.usage.input_tokens ?? 0,
    outputTokens: reply.usage.output_tokens ?? 0,
    cacheReadInputTokens: reply.usage.cache_read_input_tokens ?? 0,
    cacheCreationInputTokens: reply.usage.cache_creation_input_tokens ?? 0,
  };
}

export function addUsage(into: UsageTotals, more: UsageTotals): void {
  into.inputTokens += more.inputTokens;
  into.outputTokens += more.outputTokens;
  into.cacheReadInputTokens += more.cacheReadInputTokens;
  into.cacheCreationInputTokens += more.cacheCreationInputTokens;
}
