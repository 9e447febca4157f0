// Validation of a conversation's start options: plain TypeScript, so the workflow (which must not import zod) and
// the client run the same checks. The client refuses a bad start; the workflow fails fast on one that got past it.
import type { BetaTextBlockParam, BetaToolChoice } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import {
  DEFAULT_MODEL,
  type CompactionOptions,
  type ContinueAsNewOptions,
  type Continuation,
  type ConversationOptions,
  type MessageParam,
  type ToolChoiceScheduleEntry,
  type ToolChoiceSetting,
} from './types';
import type { CacheTtl } from '../activities/types';
import { priceTableProblems, type ModelPrice } from '../pricing/cost';
import { DURATION_HINT, parseDurationMs } from './duration';
import { isRecord } from './json';
import { resolveBetas, resolveServerTools, resolveThinking, thinkingIsOn, type ResolvedServerTool, type ResolvedThinking } from './tool-surface';

export interface ResolvedOptions {
  model: string;
  system?: string | BetaTextBlockParam[];
  initialMessages: MessageParam[];
  tools: string[];
  toolChoice?: BetaToolChoice;
  toolChoiceSchedule: Array<{ turn: number | 'last'; toolChoice: BetaToolChoice }>;
  maxTokens: number;
  maxTokensLadder: number[];
  temperature?: number;
  stopSequences?: string[];
  maxIterations: number;
  maxToolCallsPerTurn: number;
  tokenBudget?: number;
  /** limits.budget.usd */
  budgetUsd?: number;
  threads: boolean;
  /** The TTL of the top-level cache_control on every model call; null: caching off. */
  cacheTtl: CacheTtl | null;
  prices?: Record<string, ModelPrice>;
  approvalTimeoutMs?: number;
  onApprovalTimeout: 'reject' | 'fail';
  holdUnknownDecisionsMs: number;
  /** Who asked for the conversation (approvals.requestedBy): under an approver policy, not an approver of its calls. */
  requestedBy?: string;
  chat: boolean;
  chatIdleTimeoutMs: number;
  modelRetry: { maximumAttempts: number; initialIntervalMs: number; maximumIntervalMs: number };
  modelTimeoutMs: number;
  /** The caller set modelTimeout: use it as is, rather than growing it with max_tokens. */
  modelTimeoutGiven: boolean;
  modelHeartbeatTimeoutMs: number;
  searchAttributes: boolean;
  costSearchAttribute: boolean;
  includeTranscriptInResult: boolean;
  /** null: never continue as new. Otherwise when Temporal suggests it or past these thresholds. */
  continueAsNew: ContinueAsNewOptions | null;
  continuation?: Continuation;
  /** null: no compaction (a prompt too long for the model ends the exchange). */
  compaction: CompactionOptions | null;
  /** Extended thinking as the API takes it; absent: the model's default. */
  thinking?: ResolvedThinking;
  /** Server tools, as the API takes them (names filled in). */
  serverTools: ResolvedServerTool[];
  /** The betas option (the server tools' own betas are added per call). */
  betas: string[];
  /** The code-execution container the first call sends. */
  container?: string;
}

export const MAX_OUTPUT_TOKENS = 128_000;
/** The API's limit of cache_control breakpoints per request, the automatic (top-level) one counting as one. */
export const MAX_CACHE_BREAKPOINTS = 4;
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,128}$/;
/** Every tool of one MCP server, as `tools` may name them: `<server>__*` (expanded by the worker at the start). */
export const TOOL_PREFIX_PATTERN = /^[a-zA-Z0-9_-]{1,125}__\*$/;

/** Whether a tool name is in a `tools` list, by itself or under a `<server>__*` entry. */
export function toolListed(name: string, tools: readonly string[]): boolean {
  return tools.some((entry) => entry === name || (TOOL_PREFIX_PATTERN.test(entry) && name.startsWith(entry.slice(0, -1)) && name.length > entry.length - 1));
}

const KNOWN_KEYS: ReadonlyArray<keyof ConversationOptions> = [
  'model',
  'system',
  'prompt',
  'messages',
  'tools',
  'toolChoice',
  'toolChoiceSchedule',
  'maxTokens',
  'maxTokensLadder',
  'temperature',
  'stopSequences',
  'limits',
  'threads',
  'approvals',
  'chat',
  'modelRetry',
  'modelTimeout',
  'modelHeartbeatTimeout',
  'searchAttributes',
  'includeTranscriptInResult',
  'cache',
  'prices',
  'costSearchAttribute',
  'continueAsNew',
  'continuation',
  'compaction',
  'thinking',
  'serverTools',
  'betas',
  'container',
];

const CACHE_SETTINGS = ['5m', '1h', 'off'] as const;

export type OptionsCheck = { ok: true; options: ResolvedOptions } | { ok: false; errors: string[] };

function isPositiveInt(value: unknown, max = Number.MAX_SAFE_INTEGER): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= max;
}

/** A duration ('10m', '1h', 5000) in ms, or an error message. */
function durationMs(value: unknown, name: string, errors: string[]): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDurationMs(value);
  if (ms === undefined) errors.push(`${name} must be a positive duration: ${DURATION_HINT}; got ${JSON.stringify(value)}`);
  return ms;
}

function checkContent(content: unknown, where: string, errors: string[]): void {
  if (typeof content === 'string') {
    if (content.trim() === '') errors.push(`${where}.content must not be empty`);
    return;
  }
  if (!Array.isArray(content) || content.length === 0) {
    errors.push(`${where}.content must be a non-empty string or a non-empty list of content blocks`);
    return;
  }
  content.forEach((block, i) => {
    if (!isRecord(block) || typeof block.type !== 'string') errors.push(`${where}.content[${i}] must be a content block with a type`);
  });
}

function checkMessages(messages: unknown, errors: string[]): MessageParam[] {
  if (!Array.isArray(messages) || messages.length === 0) {
    errors.push('messages must be a non-empty list of {role, content}');
    return [];
  }
  messages.forEach((message, i) => {
    const where = `messages[${i}]`;
    if (!isRecord(message)) {
      errors.push(`${where} must be an object with role and content`);
      return;
    }
    if (message.role !== 'user' && message.role !== 'assistant') errors.push(`${where}.role must be 'user' or 'assistant'`);
    if (i === 0 && message.role !== 'user') errors.push(`${where}.role must be 'user': a conversation starts with a user message`);
    const previous = messages[i - 1] as Record<string, unknown> | undefined;
    if (previous && isRecord(previous) && previous.role === message.role) {
      errors.push(`${where} has the same role as the message before it; roles must alternate`);
    }
    checkContent(message.content, where, errors);
  });
  return messages as MessageParam[];
}

/** A tool_choice setting in the API's own shape, or an error. */
export function resolveToolChoice(value: unknown, tools: string[], where: string, errors: string[]): BetaToolChoice | undefined {
  const choice: unknown = typeof value === 'string' ? { type: value } : value;
  if (!isRecord(choice) || typeof choice.type !== 'string') {
    errors.push(`${where} must be 'auto', 'any', 'none' or {type: 'tool', name}`);
    return undefined;
  }
  const { type, name, disable_parallel_tool_use } = choice;
  if (disable_parallel_tool_use !== undefined && typeof disable_parallel_tool_use !== 'boolean') {
    errors.push(`${where}.disable_parallel_tool_use must be a boolean`);
  }
  const disable = disable_parallel_tool_use === undefined ? {} : { disable_parallel_tool_use: disable_parallel_tool_use as boolean };
  switch (type) {
    case 'auto':
      return { type, ...disable };
    case 'none':
      return { type };
    case 'any':
      if (tools.length === 0) errors.push(`${where} 'any' needs at least one tool`);
      return { type, ...disable };
    case 'tool':
      if (typeof name !== 'string' || !toolListed(name, tools)) {
        errors.push(`${where} {type: 'tool'} must name one of the conversation's tools (${tools.join(', ') || 'none given'}); got ${JSON.stringify(name)}`);
      }
      return { type, name: String(name), ...disable };
    default:
      errors.push(`${where}.type must be one of auto, any, tool, none; got ${JSON.stringify(type)}`);
      return undefined;
  }
}

/** Checks every option and fills in defaults. Returns every problem at once, each naming its option. */
export function checkConversationOptions(input: unknown): OptionsCheck {
  const errors: string[] = [];
  if (!isRecord(input)) return { ok: false, errors: ['conversation options must be an object'] };
  const opts = input as ConversationOptions & Record<string, unknown>;

  for (const key of Object.keys(opts)) {
    if (!(KNOWN_KEYS as readonly string[]).includes(key) && opts[key] !== undefined) errors.push(`unknown option '${key}'`);
  }

  if (opts.model !== undefined && (typeof opts.model !== 'string' || opts.model.trim() === '')) errors.push('model must be a non-empty string');
  if (opts.system !== undefined) {
    const okSystem =
      typeof opts.system === 'string' ||
      (Array.isArray(opts.system) && opts.system.every((b: unknown) => isRecord(b) && b.type === 'text' && typeof b.text === 'string'));
    if (!okSystem) errors.push('system must be a string or a list of {type: "text", text} blocks');
  }

  const chat = opts.chat === true || isRecord(opts.chat);
  if (opts.chat !== undefined && typeof opts.chat !== 'boolean' && !isRecord(opts.chat)) errors.push('chat must be a boolean or {idleTimeout}');
  let initialMessages: MessageParam[] = [];
  if (opts.prompt !== undefined && opts.messages !== undefined) {
    errors.push('give either prompt or messages, not both');
  } else if (opts.prompt !== undefined) {
    if (typeof opts.prompt !== 'string' || opts.prompt.trim() === '') errors.push('prompt must be a non-empty string');
    else initialMessages = [{ role: 'user', content: opts.prompt }];
  } else if (opts.messages !== undefined) {
    initialMessages = checkMessages(opts.messages, errors);
    const last = initialMessages[initialMessages.length - 1];
    if (last && last.role !== 'user') errors.push('the last of messages must be a user message: the model answers it');
  } else if (!chat) {
    errors.push('a conversation needs a prompt or messages (only a chat may start empty and wait for its first message)');
  }

  let tools: string[] = [];
  if (opts.tools !== undefined) {
    if (!Array.isArray(opts.tools)) {
      errors.push('tools must be a list of tool names registered in the worker');
    } else {
      tools = opts.tools.filter((name: unknown, i: number): name is string => {
        if (typeof name !== 'string' || !(TOOL_NAME_PATTERN.test(name) || TOOL_PREFIX_PATTERN.test(name))) {
          errors.push(`tools[${i}] must be a tool name (letters, digits, _ and -) or an MCP server's tools as '<server>__*'; got ${JSON.stringify(name)}`);
          return false;
        }
        return true;
      });
      const duplicate = tools.find((name, i) => tools.indexOf(name) !== i);
      if (duplicate) errors.push(`tools lists '${duplicate}' twice`);
    }
  }

  const serverTools = resolveServerTools(opts.serverTools, tools, errors);
  // tool_choice may name a server tool too: both are tools of the request.
  const choosable = [...tools, ...serverTools.map((tool) => tool.name)];
  const toolChoice = opts.toolChoice === undefined ? undefined : resolveToolChoice(opts.toolChoice, choosable, 'toolChoice', errors);
  const toolChoiceSchedule: ResolvedOptions['toolChoiceSchedule'] = [];
  if (opts.toolChoiceSchedule !== undefined) {
    if (!Array.isArray(opts.toolChoiceSchedule)) errors.push('toolChoiceSchedule must be a list of {turn, toolChoice}');
    else
      opts.toolChoiceSchedule.forEach((entry: ToolChoiceScheduleEntry, i: number) => {
        const where = `toolChoiceSchedule[${i}]`;
        if (!isRecord(entry) || !(entry.turn === 'last' || isPositiveInt(entry.turn))) {
          errors.push(`${where}.turn must be a turn number (1, 2, …) or 'last'`);
          return;
        }
        const choice = resolveToolChoice(entry.toolChoice as ToolChoiceSetting, choosable, `${where}.toolChoice`, errors);
        if (choice) toolChoiceSchedule.push({ turn: entry.turn, toolChoice: choice });
      });
  }

  const maxTokens = opts.maxTokens ?? 4096;
  if (!isPositiveInt(maxTokens, MAX_OUTPUT_TOKENS)) errors.push(`maxTokens must be a whole number from 1 to ${MAX_OUTPUT_TOKENS}`);
  let maxTokensLadder = opts.maxTokensLadder ?? [maxTokens * 2, maxTokens * 4].map((n) => Math.min(n, MAX_OUTPUT_TOKENS)).filter((n) => n > maxTokens);
  if (opts.maxTokensLadder !== undefined) {
    if (!Array.isArray(opts.maxTokensLadder) || !opts.maxTokensLadder.every((n, i, all) => isPositiveInt(n, MAX_OUTPUT_TOKENS) && n > (i === 0 ? maxTokens : all[i - 1]!))) {
      errors.push('maxTokensLadder must be increasing whole numbers above maxTokens');
      maxTokensLadder = [];
    }
  }
  if (opts.temperature !== undefined && (typeof opts.temperature !== 'number' || opts.temperature < 0 || opts.temperature > 1)) {
    errors.push('temperature must be a number from 0 to 1');
  }
  const thinking = resolveThinking(opts.thinking, typeof maxTokens === 'number' ? maxTokens : 0, typeof opts.model === 'string' ? opts.model : DEFAULT_MODEL, errors);
  if (thinkingIsOn(thinking)) {
    // The API refuses these with thinking on; refused here, before anything runs, rather than by a 400 on turn 1.
    const forced = [
      ...(toolChoice && forcesToolUse(toolChoice) ? ['toolChoice'] : []),
      ...toolChoiceSchedule.flatMap((entry, i) => (forcesToolUse(entry.toolChoice) ? [`toolChoiceSchedule[${i}]`] : [])),
    ];
    if (forced.length > 0) {
      errors.push(
        `${forced.join(' and ')} forces tool use, which the API refuses with thinking on: only tool_choice 'auto' or 'none' go with thinking ` +
          `(for a forced tool call, use thinking 'disabled' on a model that allows it)`,
      );
    }
    if (opts.temperature !== undefined && opts.temperature !== 1) errors.push('temperature cannot be changed with thinking on (the API allows only 1): leave it out');
  }
  const betas = resolveBetas(opts.betas, errors);
  if (opts.container !== undefined && (typeof opts.container !== 'string' || !/^[\w-]{1,200}$/.test(opts.container))) {
    errors.push(`container must be a container id from an earlier reply (letters, digits, _ and -); got ${JSON.stringify(opts.container)}`);
  }
  if (opts.stopSequences !== undefined && !(Array.isArray(opts.stopSequences) && opts.stopSequences.every((s) => typeof s === 'string' && s !== ''))) {
    errors.push('stopSequences must be a list of non-empty strings');
  }

  const limits: NonNullable<ConversationOptions['limits']> = opts.limits ?? {};
  if (!isRecord(limits as unknown)) errors.push('limits must be an object');
  const maxIterations = limits.maxIterations ?? 25;
  if (!isPositiveInt(maxIterations, 10_000)) errors.push('limits.maxIterations must be a whole number from 1 to 10000');
  const maxToolCallsPerTurn = limits.maxToolCallsPerTurn ?? 8;
  if (!isPositiveInt(maxToolCallsPerTurn, 1_000)) errors.push('limits.maxToolCallsPerTurn must be a whole number from 1 to 1000');
  if (limits.tokenBudget !== undefined && !isPositiveInt(limits.tokenBudget)) errors.push('limits.tokenBudget must be a positive whole number of tokens');
  let budgetUsd: number | undefined;
  if (limits.budget !== undefined) {
    const usd: unknown = isRecord(limits.budget) ? limits.budget.usd : undefined;
    if (typeof usd !== 'number' || !Number.isFinite(usd) || usd <= 0) {
      errors.push(`limits.budget must be {usd: a positive number of US dollars}, got ${JSON.stringify(limits.budget)}`);
    } else budgetUsd = usd;
  }

  const cache = opts.cache ?? '5m';
  if (!(CACHE_SETTINGS as readonly unknown[]).includes(cache)) {
    errors.push(`cache must be '5m' (the default), '1h' or 'off'; got ${JSON.stringify(opts.cache)}`);
  }
  if (opts.prices !== undefined) errors.push(...priceTableProblems(opts.prices, 'prices'));
  if (Array.isArray(opts.system)) {
    const slots = MAX_CACHE_BREAKPOINTS - (cache === 'off' ? 0 : 1);
    const marked = opts.system.filter((block) => isRecord(block) && block.cache_control !== undefined && block.cache_control !== null);
    if (marked.length > slots) {
      errors.push(`system has ${marked.length} cache_control breakpoints; a request may carry ${MAX_CACHE_BREAKPOINTS}${cache === 'off' ? '' : ', one of them the automatic breakpoint (cache: \'off\' frees it)'}`);
    }
    for (const block of marked) {
      const marker = (block as { cache_control: unknown }).cache_control;
      if (!isRecord(marker) || marker.type !== 'ephemeral' || (marker.ttl !== undefined && marker.ttl !== '5m' && marker.ttl !== '1h')) {
        errors.push(`system cache_control must be {type: 'ephemeral', ttl?: '5m' | '1h'}, got ${JSON.stringify(marker)}`);
      }
    }
  }

  for (const flag of ['threads', 'searchAttributes', 'costSearchAttribute', 'includeTranscriptInResult'] as const) {
    if (opts[flag] !== undefined && typeof opts[flag] !== 'boolean') errors.push(`${flag} must be true or false`);
  }

  const approvals: NonNullable<ConversationOptions['approvals']> = opts.approvals ?? {};
  if (!isRecord(approvals as unknown)) errors.push('approvals must be an object');
  const approvalTimeoutMs = durationMs(approvals.timeout, 'approvals.timeout', errors);
  const holdUnknownDecisionsMs = durationMs(approvals.holdUnknownDecisions, 'approvals.holdUnknownDecisions', errors) ?? 600_000;
  if (approvals.onTimeout !== undefined && approvals.onTimeout !== 'reject' && approvals.onTimeout !== 'fail') {
    errors.push("approvals.onTimeout must be 'reject' or 'fail'");
  }
  const requestedBy: unknown = approvals.requestedBy;
  if (requestedBy !== undefined && !(typeof requestedBy === 'string' && requestedBy.trim() !== '' && requestedBy.length <= 320)) {
    errors.push('approvals.requestedBy must name who asked for the conversation (a user id or email, up to 320 characters)');
  }

  const chatIdleTimeoutMs = durationMs(isRecord(opts.chat) ? opts.chat.idleTimeout : undefined, 'chat.idleTimeout', errors) ?? 3_600_000;

  const retry: NonNullable<ConversationOptions['modelRetry']> = opts.modelRetry ?? {};
  if (!isRecord(retry as unknown)) errors.push('modelRetry must be an object');
  const maximumAttempts = retry.maximumAttempts ?? 8;
  if (!isPositiveInt(maximumAttempts, 100)) errors.push('modelRetry.maximumAttempts must be a whole number from 1 to 100');
  const initialIntervalMs = durationMs(retry.initialInterval, 'modelRetry.initialInterval', errors) ?? 1_000;
  const maximumIntervalMs = durationMs(retry.maximumInterval, 'modelRetry.maximumInterval', errors) ?? 30_000;
  const modelTimeoutMs = durationMs(opts.modelTimeout, 'modelTimeout', errors) ?? 600_000;
  const modelHeartbeatTimeoutMs = durationMs(opts.modelHeartbeatTimeout, 'modelHeartbeatTimeout', errors) ?? 30_000;

  let continueAsNew: ContinueAsNewOptions | null = {};
  if (opts.continueAsNew === false) continueAsNew = null;
  else if (opts.continueAsNew !== undefined) {
    if (!isRecord(opts.continueAsNew)) errors.push('continueAsNew must be false or {afterEvents?, afterHistoryBytes?}');
    else {
      for (const key of Object.keys(opts.continueAsNew)) {
        if (key !== 'afterEvents' && key !== 'afterHistoryBytes') errors.push(`unknown option 'continueAsNew.${key}'`);
      }
      const { afterEvents, afterHistoryBytes } = opts.continueAsNew;
      // A run needs some room: its start, the carried state and one turn come to a few dozen events.
      if (afterEvents !== undefined && !isPositiveInt(afterEvents, 51_200)) errors.push('continueAsNew.afterEvents must be a whole number from 1 to 51200');
      else if (afterEvents !== undefined && afterEvents < 20) errors.push('continueAsNew.afterEvents must be at least 20: a single turn records about that many events');
      if (afterHistoryBytes !== undefined && !isPositiveInt(afterHistoryBytes, 50 * 1024 * 1024)) {
        errors.push('continueAsNew.afterHistoryBytes must be a whole number of bytes up to 50 MiB');
      } else if (afterHistoryBytes !== undefined && afterHistoryBytes < 16_384) {
        errors.push('continueAsNew.afterHistoryBytes must be at least 16384: a single turn records a few KB');
      }
      continueAsNew = {
        ...(typeof afterEvents === 'number' ? { afterEvents } : {}),
        ...(typeof afterHistoryBytes === 'number' ? { afterHistoryBytes } : {}),
      };
    }
  }
  let compaction: CompactionOptions | null = {};
  if (opts.compaction === false) compaction = null;
  else if (opts.compaction !== undefined) {
    if (!isRecord(opts.compaction)) errors.push('compaction must be false or {atInputTokens?, instructions?, keepToolResults?, clearToolUses?}');
    else {
      const given = opts.compaction as Record<string, unknown>;
      for (const key of Object.keys(given)) {
        if (!['atInputTokens', 'instructions', 'keepToolResults', 'clearToolUses'].includes(key)) errors.push(`unknown option 'compaction.${key}'`);
      }
      // The API's own trigger floor for automatic compaction is 50,000 tokens; lower would summarize almost every turn.
      if (given.atInputTokens !== undefined && !isPositiveInt(given.atInputTokens, 10_000_000)) errors.push('compaction.atInputTokens must be a whole number of tokens');
      if (given.instructions !== undefined && (typeof given.instructions !== 'string' || given.instructions.trim() === '')) {
        errors.push('compaction.instructions must be a non-empty string');
      }
      if (given.keepToolResults !== undefined && !(Number.isInteger(given.keepToolResults) && (given.keepToolResults as number) >= 0 && (given.keepToolResults as number) <= 1000)) {
        errors.push('compaction.keepToolResults must be a whole number from 0 to 1000');
      }
      if (given.clearToolUses !== undefined && !isRecord(given.clearToolUses)) errors.push('compaction.clearToolUses must be an object');
      compaction = given as CompactionOptions;
    }
  }
  if (opts.continuation !== undefined && (!isRecord(opts.continuation) || !Array.isArray((opts.continuation as { messages?: unknown }).messages))) {
    errors.push('continuation is set by the workflow when it continues as new; do not set it');
  }

  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    options: {
      model: opts.model ?? DEFAULT_MODEL,
      ...(opts.system !== undefined ? { system: opts.system } : {}),
      initialMessages,
      tools,
      ...(toolChoice ? { toolChoice } : {}),
      toolChoiceSchedule,
      maxTokens,
      maxTokensLadder,
      ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
      ...(opts.stopSequences !== undefined ? { stopSequences: opts.stopSequences } : {}),
      maxIterations,
      maxToolCallsPerTurn,
      ...(limits.tokenBudget !== undefined ? { tokenBudget: limits.tokenBudget } : {}),
      ...(budgetUsd !== undefined ? { budgetUsd } : {}),
      threads: opts.threads ?? true,
      cacheTtl: cache === 'off' ? null : cache,
      ...(opts.prices !== undefined ? { prices: opts.prices } : {}),
      ...(approvalTimeoutMs !== undefined ? { approvalTimeoutMs } : {}),
      onApprovalTimeout: approvals.onTimeout ?? 'reject',
      holdUnknownDecisionsMs,
      ...(typeof requestedBy === 'string' ? { requestedBy } : {}),
      chat,
      chatIdleTimeoutMs,
      modelRetry: { maximumAttempts, initialIntervalMs, maximumIntervalMs },
      modelTimeoutMs,
      modelTimeoutGiven: opts.modelTimeout !== undefined,
      modelHeartbeatTimeoutMs,
      searchAttributes: opts.searchAttributes ?? false,
      // Only a client that checked AgentCostUsd is registered turns it on: upserting an unregistered attribute would
      // fail every workflow task of the conversation.
      costSearchAttribute: opts.costSearchAttribute ?? false,
      includeTranscriptInResult: opts.includeTranscriptInResult ?? true,
      continueAsNew,
      compaction,
      ...(opts.continuation !== undefined ? { continuation: opts.continuation } : {}),
      ...(thinking ? { thinking } : {}),
      serverTools,
      betas,
      ...(opts.container !== undefined ? { container: opts.container } : {}),
    },
  };
}

/** The tool_choice of a turn: the schedule's entry for it, else the conversation's setting. */
export function toolChoiceForTurn(options: ResolvedOptions, turn: number): BetaToolChoice | undefined {
  const exact = options.toolChoiceSchedule.find((entry) => entry.turn === turn);
  if (exact) return exact.toolChoice;
  const last = options.toolChoiceSchedule.find((entry) => entry.turn === 'last');
  if (last && turn === options.maxIterations) return last.toolChoice;
  return options.toolChoice;
}

/** A forced tool_choice: the model must call a tool, so it cannot answer in text on that turn. */
export function forcesToolUse(choice: BetaToolChoice | undefined): boolean {
  return choice?.type === 'any' || choice?.type === 'tool';
}

/** The retry policy of every activity that calls the Messages API (the model call, its token count, a compaction). */
export function modelRetryPolicy(options: ResolvedOptions): { maximumAttempts: number; initialInterval: number; maximumInterval: number; backoffCoefficient: number } {
  const { maximumAttempts, initialIntervalMs, maximumIntervalMs } = options.modelRetry;
  return { maximumAttempts, initialInterval: initialIntervalMs, maximumInterval: maximumIntervalMs, backoffCoefficient: 2 };
}

/**
 * The start-to-close timeout of a model call: the caller's, or the default grown with max_tokens, since a long
 * answer streams for minutes (128K output tokens at ~50 tokens/s is over 40 minutes).
 */
export function modelCallTimeoutMs(options: ResolvedOptions, maxTokens: number): number {
  if (options.modelTimeoutGiven) return options.modelTimeoutMs;
  return Math.max(options.modelTimeoutMs, 60_000 + maxTokens * 20);
}
