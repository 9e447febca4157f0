// The flags `run` and `chat` take for the rest of Claude's tool surface: extended thinking, server tools and
// anthropic-beta values. They become conversation options, which the client checks again when it starts one.
import type { ParseArgsConfig } from 'node:util';
import { resolveServerTools } from '../workflows/tool-surface';
import type { ConversationOptions, ThinkingEffort, ThinkingSetting } from '../workflows/types';
import { stringOption } from './command';
import type { CliValues } from './values';
import { CliError } from './errors';

export const TOOL_SURFACE_OPTIONS = {
  'server-tool': { type: 'string', multiple: true },
  thinking: { type: 'string' },
  effort: { type: 'string' },
  'thinking-display': { type: 'string' },
  beta: { type: 'string', multiple: true },
} as const satisfies ParseArgsConfig['options'];

export const TOOL_SURFACE_USAGE = '[--thinking adaptive|between_tools|disabled|budget:N] [--effort low|medium|high|xhigh|max] [--thinking-display summarized|omitted] [--server-tool TYPE]… [--beta VALUE]…';

const EFFORTS: readonly ThinkingEffort[] = ['low', 'medium', 'high', 'xhigh', 'max'];
const DISPLAYS = ['summarized', 'omitted'] as const;
type Display = (typeof DISPLAYS)[number];

/** A repeatable flag's values; 'a,b' counts as two, like --tools. */
function listOption(values: CliValues, name: string): string[] {
  const value = values[name];
  const given = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  return given.flatMap((item) => item.split(',')).map((item) => item.trim());
}

function thinkingOf(values: CliValues): ThinkingSetting | undefined {
  const given = stringOption(values, 'thinking');
  const effortText = stringOption(values, 'effort');
  const displayText = stringOption(values, 'thinking-display');
  if (effortText !== undefined && !(EFFORTS as readonly string[]).includes(effortText)) {
    throw CliError.usage(`--effort must be one of ${EFFORTS.join(', ')}, got '${effortText}'`);
  }
  if (displayText !== undefined && !(DISPLAYS as readonly string[]).includes(displayText)) {
    throw CliError.usage(`--thinking-display must be summarized or omitted, got '${displayText}'`);
  }
  const effort = effortText as ThinkingEffort | undefined;
  const display = displayText as Display | undefined;
  const shown = display ? { display } : {};
  const level = effort ? { effort } : {};
  // --effort or --thinking-display alone: adaptive thinking (the current models' default) at that setting.
  const type = given ?? (effort || display ? 'adaptive' : undefined);
  if (type === undefined) return undefined;
  const budget = /^budget:(.*)$/.exec(type);
  if (budget) {
    const budgetTokens = Number(budget[1]);
    if (!/^\d+$/.test(budget[1]!) || budgetTokens <= 0) throw CliError.usage(`--thinking budget:N needs N, a whole number of thinking tokens (e.g. budget:4096), got '${type}'`);
    if (effort) throw CliError.usage('--effort goes with --thinking adaptive or between_tools; budget:N sets the thinking tokens itself');
    return { type: 'enabled', budgetTokens, ...shown };
  }
  switch (type) {
    case 'adaptive':
      return effort || display ? { type: 'adaptive', ...level, ...shown } : 'adaptive';
    case 'between_tools':
      if (display) throw CliError.usage('--thinking-display goes with --thinking adaptive or budget:N, not between_tools');
      if (effort === 'xhigh' || effort === 'max') throw CliError.usage(`--thinking between_tools runs at effort low, medium or high; for ${effort} use --thinking adaptive`);
      return effort ? { type: 'between_tools', effort } : 'between_tools';
    case 'disabled':
      if (effort || display) throw CliError.usage(`--${effort ? 'effort' : 'thinking-display'} does not go with --thinking disabled`);
      return 'disabled';
    default:
      throw CliError.usage(`--thinking must be adaptive, between_tools, disabled or budget:N (N thinking tokens, e.g. budget:4096), got '${type}'`);
  }
}

function serverToolsOf(values: CliValues): string[] | undefined {
  const given = listOption(values, 'server-tool');
  if (given.length === 0) return undefined;
  for (const type of given) {
    if (type === '') throw CliError.usage('--server-tool needs a server tool type, e.g. --server-tool web_search or --server-tool web_search_20250305');
    // The same check the client makes, said in terms of the flag.
    const errors: string[] = [];
    resolveServerTools([type], [], errors);
    if (errors.length > 0) throw CliError.usage(`--server-tool ${type}: ${errors.map((e) => e.replace(/^serverTools\[0\]:\s*/, '')).join('; ')}`);
  }
  return [...new Set(given)];
}

function betasOf(values: CliValues): string[] | undefined {
  const given = listOption(values, 'beta');
  if (given.length === 0) return undefined;
  const bad = given.find((beta) => !/^[a-z0-9-]+$/i.test(beta));
  if (bad !== undefined) throw CliError.usage(`--beta must be an anthropic-beta value such as interleaved-thinking-2025-05-14, got '${bad}'`);
  return [...new Set(given)];
}

/** The conversation options the tool-surface flags stand for (absent flags: absent options). */
export function toolSurfaceSettings(values: CliValues): Pick<ConversationOptions, 'thinking' | 'serverTools' | 'betas'> {
  const thinking = thinkingOf(values);
  const serverTools = serverToolsOf(values);
  const betas = betasOf(values);
  return { ...(thinking !== undefined ? { thinking } : {}), ...(serverTools ? { serverTools } : {}), ...(betas ? { betas } : {}) };
}
