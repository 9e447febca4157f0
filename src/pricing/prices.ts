// List prices of Claude models, in US dollars per million tokens. One file, so a price change is one edit.
// Read 2026-12-01 from the model overview pages and the prompt-caching page's price table (sources below); the
// cache rates follow that page's multipliers of the input price (5-minute write 1.25×, 1-hour write 2×, read 0.1×)
// except where a model's footnote says otherwise. Prices change: a deployment overrides any model
// (createAgentWorker({ prices }), or a conversation's `prices` option), and a model missing here has an unknown
// cost, never a zero one.
import type { ModelPrice } from './cost';

/** The page's multipliers, with the cache-read rate of models whose footnote gives another. */
function listed(input: number, output: number, cacheReadMultiplier = 0.1): ModelPrice {
  return { input, output, cacheWrite5m: input * 1.25, cacheWrite1h: input * 2, cacheRead: round(input * cacheReadMultiplier) };
}

/** Binary floating point makes 3 × 0.1 = 0.30000000000000004; prices have at most 4 decimals. */
function round(usd: number): number {
  return Math.round(usd * 10_000) / 10_000;
}

export const LIST_PRICES: { readonly asOf: string; readonly sources: readonly string[]; readonly models: Readonly<Record<string, ModelPrice>> } = {
  asOf: '2026-12-01',
  sources: [
    'https://platform.claude.com/docs/en/about-claude/pricing',
    'https://platform.claude.com/docs/en/build-with-claude/prompt-caching (price table and multipliers)',
    'https://platform.claude.com/docs/en/models/opus-5-5/overview',
    'https://platform.claude.com/docs/en/models/sonnet-5-5/overview',
  ],
  models: {
    // Fable 5.1 and Mythos 5.1 read the cache at 0.025× input; Opus 5.5 at 0.05× (the pages' footnotes).
    'claude-fable-5-1': listed(10, 50, 0.025),
    'claude-mythos-5-1': listed(10, 50, 0.025),
    'claude-fable-5': listed(10, 50),
    'claude-mythos-5': listed(10, 50),
    'claude-opus-5-5': listed(4, 20, 0.05),
    'claude-opus-5': listed(5, 25),
    // The model page lists a $0.20 cache read (0.1×); a cut to 0.05× from 2026-10-07 is reported by third parties
    // only. A budget errs high, so the page's figure stands until the pricing page says otherwise.
    'claude-sonnet-5-5': listed(2, 10),
    'claude-sonnet-5': listed(2, 10),
    'claude-opus-4-8': listed(5, 25),
    'claude-opus-4-7': listed(5, 25),
    'claude-opus-4-6': listed(5, 25),
    'claude-opus-4-5': listed(5, 25),
    'claude-opus-4-1': listed(15, 75),
    'claude-opus-4-0': listed(15, 75),
    // The snapshot ids claude-opus-4-20250514 and claude-sonnet-4-20250514 drop their date to these.
    'claude-opus-4': listed(15, 75),
    'claude-sonnet-4-6': listed(3, 15),
    'claude-sonnet-4-5': listed(3, 15),
    'claude-sonnet-4-0': listed(3, 15),
    'claude-sonnet-4': listed(3, 15),
    'claude-haiku-4-5': listed(1, 5),
    // Not listed: Haiku 5.5 (its price is tiered by prompt length, which one rate per token cannot express) and
    // Fable 5.2 (no official figure read): give them in `prices`.
  },
};
