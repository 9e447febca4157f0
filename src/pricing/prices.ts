// List prices of Claude models, in US dollars per million tokens. One file, so a price change is one edit.
// Cache rates follow the pricing page's multipliers of the input price: 5-minute write 1.25×, 1-hour write 2×,
// read 0.1×. Prices change: a deployment can override any model (createAgentWorker({ prices }), or a
// conversation's `prices` option), and a model missing here has an unknown cost, never a zero one.
import type { ModelPrice } from './cost';

function listed(input: number, output: number): ModelPrice {
  return { input, output, cacheWrite5m: input * 1.25, cacheWrite1h: input * 2, cacheRead: input * 0.1 };
}

export const LIST_PRICES: { readonly asOf: string; readonly source: string; readonly models: Readonly<Record<string, ModelPrice>> } = {
  asOf: '2026-12-01',
  source: 'https://platform.claude.com/docs/en/about-claude/pricing',
  models: {
    'claude-sonnet-5-5': listed(3, 15),
    'claude-sonnet-4-5': listed(3, 15),
    'claude-opus-4-5': listed(5, 25),
    'claude-haiku-4-5': listed(1, 5),
  },
};
