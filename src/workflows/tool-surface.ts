// The start options for the rest of Claude's tool-use surface: extended thinking and server tools. Plain
// TypeScript (no zod): the workflow and the client run the same checks.
import type { BetaThinkingConfigParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import type { ServerToolSetting, ThinkingEffort, ThinkingSetting } from './types';
import { isRecord } from './json';

/** Thinking as the model call sends it: the API's `thinking`, and `output_config.effort` when one is set. */
export interface ResolvedThinking {
  config: BetaThinkingConfigParam;
  effort?: ThinkingEffort;
}

/** A server tool as the API takes it: its object untouched, with the name filled in. */
export type ResolvedServerTool = { type: string; name: string } & Record<string, unknown>;

const EFFORTS: readonly ThinkingEffort[] = ['low', 'medium', 'high', 'xhigh', 'max'];
const DISPLAYS = ['summarized', 'omitted'] as const;
/** The API's floor for a thinking budget. */
export const MIN_THINKING_BUDGET = 1024;

/**
 * Models whose thinking is adaptive only: they refuse a budget (`enabled`) and `disabled` with a 400 (their
 * migration guide: use `between_tools` for the least thinking). Matched as id prefixes, dated ids included.
 */
const ADAPTIVE_ONLY_MODELS = ['claude-sonnet-5-5', 'claude-opus-5-5', 'claude-haiku-5-5'];

/** Thinking is on: the API then takes only tool_choice 'auto' or 'none' (seed 001, "Forcing tool use"). */
export function thinkingIsOn(thinking: ResolvedThinking | undefined): boolean {
  return thinking !== undefined && thinking.config.type !== 'disabled';
}

/** The thinking option in the API's shape, or errors naming what is wrong. */
export function resolveThinking(value: ThinkingSetting | undefined, maxTokens: number, model: string, errors: string[]): ResolvedThinking | undefined {
  if (value === undefined) return undefined;
  const type = typeof value === 'string' ? value : isRecord(value) ? value.type : undefined;
  if ((type === 'enabled' || type === 'disabled') && ADAPTIVE_ONLY_MODELS.some((prefix) => model.startsWith(prefix))) {
    errors.push(
      `thinking '${type}' is refused by ${model}, whose thinking is adaptive: use 'adaptive' (with an effort) or, for the least thinking, 'between_tools'`,
    );
  }
  const given: unknown = typeof value === 'string' ? { type: value } : value;
  if (!isRecord(given) || typeof given.type !== 'string') {
    errors.push(`thinking must be 'adaptive', 'between_tools', 'disabled' or an object such as {type: 'adaptive', effort: 'medium'}; got ${JSON.stringify(value)}`);
    return undefined;
  }
  const allowed: Record<string, readonly string[]> = {
    adaptive: ['type', 'effort', 'display'],
    between_tools: ['type', 'effort'],
    enabled: ['type', 'budgetTokens', 'display'],
    disabled: ['type'],
  };
  const keys = allowed[given.type];
  if (!keys) {
    errors.push(`thinking.type must be 'adaptive', 'between_tools', 'enabled' or 'disabled'; got ${JSON.stringify(given.type)}`);
    return undefined;
  }
  for (const key of Object.keys(given)) if (!keys.includes(key)) errors.push(`thinking.${key} does not go with type '${given.type}'`);
  const { effort, display, budgetTokens } = given;
  if (effort !== undefined && !(EFFORTS as readonly unknown[]).includes(effort)) errors.push(`thinking.effort must be one of ${EFFORTS.join(', ')}; got ${JSON.stringify(effort)}`);
  if (given.type === 'between_tools' && (effort === 'xhigh' || effort === 'max')) {
    errors.push(`thinking 'between_tools' runs at effort low, medium or high; for ${String(effort)} use {type: 'adaptive', effort: '${String(effort)}'}`);
  }
  if (display !== undefined && !(DISPLAYS as readonly unknown[]).includes(display)) errors.push(`thinking.display must be 'summarized' or 'omitted'; got ${JSON.stringify(display)}`);
  const shown = display === undefined ? {} : { display: display as (typeof DISPLAYS)[number] };
  const level = effort === undefined ? {} : { effort: effort as ThinkingEffort };
  switch (given.type) {
    case 'adaptive':
      return { config: { type: 'adaptive', ...shown }, ...level };
    case 'between_tools':
      return { config: { type: 'between_tools' }, ...level };
    case 'disabled':
      return { config: { type: 'disabled' } };
    default: {
      if (!(typeof budgetTokens === 'number' && Number.isInteger(budgetTokens) && budgetTokens >= MIN_THINKING_BUDGET && budgetTokens < maxTokens)) {
        errors.push(`thinking.budgetTokens must be a whole number of at least ${MIN_THINKING_BUDGET} and below maxTokens (${maxTokens}); got ${JSON.stringify(budgetTokens)}`);
      }
      return { config: { type: 'enabled', budget_tokens: Number(budgetTokens), ...shown } };
    }
  }
}

interface ServerToolFamily {
  /** The name the API expects for the tool. */
  name: string;
  /** The version a family name stands for: the one the tool-use guide documents. */
  documented: string;
}

/** Server tools by family: their versioned types are `<family>_<yyyymmdd>`. */
const SERVER_TOOL_FAMILIES: Record<string, ServerToolFamily> = {
  web_search: { name: 'web_search', documented: 'web_search_20250305' },
  web_fetch: { name: 'web_fetch', documented: 'web_fetch_20250910' },
  code_execution: { name: 'code_execution', documented: 'code_execution_20250825' },
  tool_search_tool_regex: { name: 'tool_search_tool_regex', documented: 'tool_search_tool_regex_20251119' },
  tool_search_tool_bm25: { name: 'tool_search_tool_bm25', documented: 'tool_search_tool_bm25_20251119' },
};

/** Versions still in beta, and the `anthropic-beta` value each needs. */
const SERVER_TOOL_BETAS: Record<string, string> = {
  web_fetch_20250910: 'web-fetch-2025-09-10',
  code_execution_20250522: 'code-execution-2025-05-22',
  code_execution_20250825: 'code-execution-2025-08-25',
  tool_search_tool_regex_20251119: 'advanced-tool-use-2025-11-20',
  tool_search_tool_bm25_20251119: 'advanced-tool-use-2025-11-20',
};

/** Anthropic-defined tools the client runs: they are worker tools, not server tools. */
const CLIENT_TOOL_TYPE = /^(bash|text_editor|computer|memory)_\d{8}$/;
const VERSIONED_TYPE = /^([a-z_]+?)_(\d{8})$/;

/** The server tools in the API's shape (objects passed through untouched), or errors naming what is wrong. */
export function resolveServerTools(value: unknown, customToolNames: readonly string[], errors: string[]): ResolvedServerTool[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    errors.push("serverTools must be a list of server tool types ('web_search_20250305', 'web_search') or tool objects");
    return [];
  }
  const tools: ResolvedServerTool[] = [];
  (value as ServerToolSetting[]).forEach((setting, i) => {
    const where = `serverTools[${i}]`;
    const given: Record<string, unknown> | undefined = typeof setting === 'string' ? { type: setting } : isRecord(setting) ? setting : undefined;
    const type = given?.type;
    if (!given || typeof type !== 'string' || type === '') {
      errors.push(`${where} must be a server tool type such as 'web_search_20250305' or an object {type, name?, …}; got ${JSON.stringify(setting)}`);
      return;
    }
    if (CLIENT_TOOL_TYPE.test(type)) {
      errors.push(`${where}: ${type} is an Anthropic-defined client tool, which the worker runs: register it in the worker (e.g. bashTool()) and list its name in tools`);
      return;
    }
    // A family name alone stands for the documented version.
    const family = SERVER_TOOL_FAMILIES[type];
    const versioned = family ? family.documented : type;
    const match = VERSIONED_TYPE.exec(versioned);
    const known = match ? SERVER_TOOL_FAMILIES[match[1]!] : undefined;
    if (!known) {
      errors.push(`${where}: unknown server tool type ${JSON.stringify(type)}; known families: ${Object.keys(SERVER_TOOL_FAMILIES).join(', ')} (give a versioned type such as 'web_search_20250305')`);
      return;
    }
    // The API takes each family under one name only (the SDK types it as a literal).
    if (given.name !== undefined && given.name !== known.name) errors.push(`${where}.name must be '${known.name}' (the API takes ${versioned} under that name only); got ${JSON.stringify(given.name)}`);
    tools.push({ ...given, type: versioned, name: typeof given.name === 'string' ? given.name : known.name });
  });
  const names = [...customToolNames, ...tools.map((t) => t.name)];
  const clash = names.find((name, i) => names.indexOf(name) !== i);
  if (clash) errors.push(`serverTools: the name '${clash}' is used twice (tools and server tools share one namespace)`);
  return tools;
}

/** The `anthropic-beta` values a conversation's server tools need. */
export function serverToolBetas(tools: readonly ResolvedServerTool[]): string[] {
  return [...new Set(tools.flatMap((tool) => (SERVER_TOOL_BETAS[tool.type] ? [SERVER_TOOL_BETAS[tool.type]!] : [])))];
}

/** The `betas` option: a list of non-empty strings. */
export function resolveBetas(value: unknown, errors: string[]): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((b) => typeof b === 'string' && /^[a-z0-9-]+$/i.test(b))) {
    errors.push("betas must be a list of anthropic-beta values such as 'interleaved-thinking-2025-05-14'");
    return [];
  }
  return [...new Set(value as string[])];
}
