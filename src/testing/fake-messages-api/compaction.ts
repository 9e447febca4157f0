// Server-side context management in the fake, as /work/notes/compaction-reference.md documents it (the SDK 1.13
// types are the authority): context editing (`clear_tool_uses_20250919`, `clear_thinking_20251015`), automatic
// compaction (`compact_20260112`), the explicit compaction request (`compaction: {type: 'summarize'}`), the compaction
// blocks a client sends back, and the context window.
import { createHmac, randomBytes } from 'node:crypto';
import type { BetaMessageParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import type { FullRequest } from './types';
import { isRecord } from '../../workflows/json';

export const CONTEXT_MANAGEMENT_BETA = 'context-management-2025-06-27';
/** Automatic compaction, the `compact_20260112` edit. */
export const COMPACT_EDIT_BETA = 'compact-2026-01-12';
/** The explicit compaction request (top-level `compaction`) and signed compaction blocks. */
export const COMPACTION_BETA = 'compact-2026-09-04';

/** What a cleared tool result holds instead (the real API's wording is not documented; this is the fake's). */
export const CLEARED_TOOL_RESULT_TEXT = '[tool result cleared by context management]';
export const DEFAULT_CLEAR_TRIGGER_TOKENS = 100_000;
export const DEFAULT_CLEAR_KEEP_TOOL_USES = 3;
export const DEFAULT_COMPACT_TRIGGER_TOKENS = 150_000;
export const MIN_COMPACT_TRIGGER_TOKENS = 50_000;

/** The 400 codes of compaction and the 529 one (SDK error map), as the fake can be told to answer with them. */
export type CompactionErrorCode =
  | 'compaction_block_ambiguous'
  | 'compaction_block_misplaced'
  | 'compaction_content_mismatch'
  | 'compaction_incomplete_turn'
  | 'compaction_nothing_to_summarize'
  | 'compaction_signature_invalid'
  | 'compaction_too_many_tool_references'
  | 'compaction_tool_changes_mismatch'
  | 'compaction_unavailable';

const COMPACTION_ERROR_MESSAGES: Record<CompactionErrorCode, string> = {
  compaction_block_ambiguous: 'messages: more than one compaction block has content; send only the block the conversation returned last',
  compaction_block_misplaced: 'messages: a compaction block must be the first block of the conversation',
  compaction_content_mismatch: "messages: the compaction block's content differs from the text its signature recorded",
  compaction_incomplete_turn: 'messages: the compaction request ends on an assistant turn that is not finished',
  compaction_nothing_to_summarize: 'messages: nothing to summarize',
  compaction_signature_invalid: "messages: the compaction block's signature does not verify",
  compaction_too_many_tool_references: 'messages: the conversation references more distinct tools than a compaction block can record',
  compaction_tool_changes_mismatch: "messages: the compaction block's tool_changes differ from what was returned with it",
  compaction_unavailable: 'The compaction could not be completed; retry the request',
};

export interface ContextError {
  status: number;
  type: string;
  message: string;
  code?: string;
  details?: Record<string, unknown>;
}

export function compactionError(code: CompactionErrorCode): ContextError {
  if (code === 'compaction_unavailable') return { status: 529, type: 'overloaded_error', code, message: COMPACTION_ERROR_MESSAGES[code] };
  return { status: 400, type: 'invalid_request_error', code, message: COMPACTION_ERROR_MESSAGES[code] };
}

function invalid(message: string): ContextError {
  return { status: 400, type: 'invalid_request_error', message };
}

export type AppliedEdit =
  | { type: 'clear_tool_uses_20250919'; cleared_tool_uses: number; cleared_input_tokens: number }
  | { type: 'clear_thinking_20251015'; cleared_thinking_turns: number; cleared_input_tokens: number };

/** The request's `compact_20260112` edit, when its trigger was reached. */
export interface TriggeredCompaction {
  instructions: string | null;
  pauseAfterCompaction: boolean;
}

/** A compaction block as it goes out and comes back. */
export interface CompactionBlock {
  type: 'compaction';
  content: string | null;
  encrypted_content: string | null;
  signature?: string | null;
  tool_changes?: unknown[] | null;
  cache_control?: unknown;
}

/** What a compaction block the fake wrote (or a script's reply carried) continues. */
export interface CompactionOrigin {
  conversationKey: string;
  /** Model replies the conversation held before the block that are no longer in `messages`. */
  turnsBefore: number;
  /** `request`: from an explicit compaction request (it must come first); `edit`: inside a reply (blocks before it are dropped). */
  kind: 'request' | 'edit';
  /** How many messages (as sent) the block summarized. */
  summarizedMessages: number;
}

// Fixed, so a block the fake signed verifies after a restart too; it proves nothing, the real signature is opaque.
const SIGNING_KEY = 'durable-claude fake compaction key';

function mac(part: string, value: unknown): string {
  return createHmac('sha256', SIGNING_KEY).update(part).update(JSON.stringify(value ?? null)).digest('base64url').slice(0, 16);
}

function blocksOf(content: unknown): Array<Record<string, unknown>> {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return Array.isArray(content) ? (content as Array<Record<string, unknown>>) : [];
}

function isCompaction(block: unknown): block is CompactionBlock {
  return isRecord(block) && block.type === 'compaction';
}

/** The compaction blocks the fake issued or saw in a script, by their opaque content. */
export class CompactionLedger {
  readonly #origins = new Map<string, CompactionOrigin>();

  static keyOf(block: CompactionBlock): string {
    return block.encrypted_content ?? `content:${block.content ?? ''}`;
  }

  /** A new signed block: the signature binds its id, its summary and its tool changes, each checked on its own. */
  issue(summary: string | null, origin: CompactionOrigin): CompactionBlock {
    const encrypted = `fakecmp_${randomBytes(12).toString('base64url')}`;
    const toolChanges: unknown[] = [];
    const block: CompactionBlock = {
      type: 'compaction',
      content: summary,
      encrypted_content: encrypted,
      signature: `fakesig.${mac('id', encrypted)}.${mac('content', summary)}.${mac('tools', toolChanges)}`,
      tool_changes: toolChanges,
    };
    this.#origins.set(encrypted, origin);
    return block;
  }

  /**
   * Records a block a script put in a reply, unless it is one of the fake's own. Scripts reuse blocks across
   * conversations, so it is kept under its conversation too, and under the block alone for the latest one.
   */
  remember(block: CompactionBlock, origin: CompactionOrigin): void {
    const key = CompactionLedger.keyOf(block);
    if (this.#origins.get(key)?.kind === 'request' || key.startsWith('fakecmp_')) return;
    this.#origins.set(key, origin);
    this.#origins.set(`${origin.conversationKey}\u0000${key}`, origin);
  }

  /** Where a block comes from; `conversationKey` (when the messages before it name one) picks among a script's repeats. */
  originOf(block: CompactionBlock, conversationKey?: string): CompactionOrigin | undefined {
    const key = CompactionLedger.keyOf(block);
    return (conversationKey !== undefined ? this.#origins.get(`${conversationKey}\u0000${key}`) : undefined) ?? this.#origins.get(key);
  }

  /** Why a block sent back is refused, if it is: only a signed block is checked (a script's blocks carry none). */
  verify(block: CompactionBlock): CompactionErrorCode | undefined {
    if (block.signature === undefined || block.signature === null) return undefined;
    const [scheme, id, content, tools] = block.signature.split('.');
    if (scheme !== 'fakesig' || id !== mac('id', block.encrypted_content)) return 'compaction_signature_invalid';
    if (content !== mac('content', block.content)) return 'compaction_content_mismatch';
    if (tools !== mac('tools', block.tool_changes ?? [])) return 'compaction_tool_changes_mismatch';
    return undefined;
  }

  clear(): void {
    this.#origins.clear();
  }
}

export interface ResolvedConversation {
  /** The messages as the model sees them: null-content compaction blocks gone, blocks before an in-reply one dropped. */
  messages: BetaMessageParam[];
  /** For each of `messages`, its index in the messages as sent. */
  sentIndex: number[];
  /** The compaction the conversation continues from, when it sends one back. */
  origin?: CompactionOrigin;
  /** The block it sends back. */
  block?: CompactionBlock;
}

/**
 * Applies the rules for compaction blocks sent back: at most one with content, verbatim, from an explicit compaction
 * request only as the conversation's first block; one that a reply carried (automatic compaction) makes the API drop
 * every block before it. A block with null content is a failed compaction and a no-op.
 */
export function resolveCompactionBlocks(
  messages: readonly BetaMessageParam[],
  ledger: CompactionLedger,
  conversationKeyOf: (messages: readonly BetaMessageParam[]) => string,
): { resolved: ResolvedConversation } | { error: ContextError } {
  const found: Array<{ message: number; block: number; value: CompactionBlock }> = [];
  const cleaned: BetaMessageParam[] = [];
  const sentIndex: number[] = [];
  for (const [i, message] of messages.entries()) {
    if (typeof message.content === 'string') {
      cleaned.push(message);
      sentIndex.push(i);
      continue;
    }
    const kept: unknown[] = [];
    for (const [j, block] of (message.content as unknown[]).entries()) {
      if (!isCompaction(block)) {
        kept.push(block);
        continue;
      }
      if (block.content === '') return { error: invalid(`messages.${i}.content.${j}.content: must not be empty (a failed compaction has null content)`) };
      if (block.content !== null && block.content !== undefined && typeof block.content !== 'string') return { error: invalid(`messages.${i}.content.${j}.content: must be a string or null`) };
      if (block.content === null || block.content === undefined) continue;
      if (message.role !== 'assistant') return { error: compactionError('compaction_block_misplaced') };
      found.push({ message: cleaned.length, block: kept.length, value: block });
      kept.push(block);
    }
    // A message that held only failed compactions is gone; an empty message as sent stays for the request rules.
    if (kept.length === 0 && (message.content as unknown[]).length > 0) continue;
    cleaned.push({ ...message, content: kept } as BetaMessageParam);
    sentIndex.push(i);
  }
  if (found.length === 0) return { resolved: { messages: cleaned, sentIndex } };
  if (found.length > 1) return { error: compactionError('compaction_block_ambiguous') };
  const { message, block, value } = found[0]!;
  const refused = ledger.verify(value);
  if (refused) return { error: compactionError(refused) };
  // The messages before the block (when the client still sends them) say which conversation it belongs to.
  const before = messages.slice(0, sentIndex[message]);
  const origin = ledger.originOf(value, before.some((m) => m.role === 'user') ? conversationKeyOf(before) : undefined);
  const kind = origin?.kind ?? (value.signature ? 'request' : 'edit');
  if (kind === 'request' && (message !== 0 || block !== 0)) return { error: compactionError('compaction_block_misplaced') };
  const first = cleaned[message]!;
  const trimmed = [{ ...first, content: (first.content as unknown[]).slice(block) } as BetaMessageParam, ...cleaned.slice(message + 1)];
  return { resolved: { messages: trimmed, sentIndex: sentIndex.slice(message), ...(origin ? { origin } : {}), block: value } };
}

/** The messages without compaction blocks (and without messages that held nothing else), for counting replies. */
export function withoutCompactionBlocks(messages: readonly BetaMessageParam[]): BetaMessageParam[] {
  const kept: BetaMessageParam[] = [];
  for (const message of messages) {
    if (typeof message.content === 'string') {
      kept.push(message);
      continue;
    }
    const blocks = (message.content as unknown[]).filter((block) => !isCompaction(block));
    if (blocks.length > 0) kept.push({ ...message, content: blocks } as BetaMessageParam);
  }
  return kept;
}

/** The request-level rules of context management and compaction: betas, threads, incompatible fields. */
export function contextManagementRequestError(body: Record<string, unknown>, betas: readonly string[], threaded: boolean): ContextError | undefined {
  const management = body.context_management;
  const compaction = body.compaction;
  if (management !== undefined && management !== null) {
    if (!betas.includes(CONTEXT_MANAGEMENT_BETA)) return invalid(`context_management: requires the anthropic-beta header ${CONTEXT_MANAGEMENT_BETA}`);
    if (!isRecord(management)) return invalid('context_management: Input should be an object');
    const edits = management.edits;
    if (edits !== undefined && edits !== null && !Array.isArray(edits)) return invalid('context_management.edits: Input should be a list');
    for (const [i, edit] of (Array.isArray(edits) ? edits : []).entries()) {
      const type = isRecord(edit) ? edit.type : undefined;
      if (type !== 'clear_tool_uses_20250919' && type !== 'clear_thinking_20251015' && type !== 'compact_20260112') {
        return invalid(`context_management.edits.${i}.type: Input should be 'clear_tool_uses_20250919', 'clear_thinking_20251015' or 'compact_20260112'`);
      }
      if (type === 'compact_20260112') {
        if (!betas.includes(COMPACT_EDIT_BETA)) return invalid(`context_management.edits.${i}: compact_20260112 requires the anthropic-beta header ${COMPACT_EDIT_BETA}`);
        const trigger = (edit as Record<string, unknown>).trigger;
        if (isRecord(trigger) && typeof trigger.value === 'number' && trigger.value < MIN_COMPACT_TRIGGER_TOKENS) {
          return invalid(`context_management.edits.${i}.trigger.value: must be at least ${MIN_COMPACT_TRIGGER_TOKENS}`);
        }
      }
    }
    if (threaded) {
      return {
        status: 400,
        type: 'invalid_request_error',
        code: 'thread_unsupported_request',
        message: 'thread: not supported together with context_management',
        details: { unsupported: ['context_management'] },
      };
    }
  }
  if (compaction !== undefined && compaction !== null) {
    if (!betas.includes(COMPACTION_BETA)) return invalid(`compaction: requires the anthropic-beta header ${COMPACTION_BETA}`);
    if (!isRecord(compaction) || compaction.type !== 'summarize') return invalid("compaction.type: Input should be 'summarize'");
    if (compaction.instructions !== undefined && compaction.instructions !== null && typeof compaction.instructions !== 'string') return invalid('compaction.instructions: Input should be a string');
    if (management !== undefined && management !== null) return invalid('compaction: cannot be combined with context_management');
    // A compaction request returns only the compaction block, so what shapes a reply is refused.
    if (body.stop_sequences !== undefined && body.stop_sequences !== null) return invalid('stop_sequences: not supported on a compaction request');
    if (body.output_format !== undefined && body.output_format !== null) return invalid('output_format: not supported on a compaction request');
    if (isRecord(body.output_config) && body.output_config.format !== undefined && body.output_config.format !== null) return invalid('output_config.format: not supported on a compaction request');
    const choice = body.tool_choice;
    if (isRecord(choice) && (choice.type === 'any' || choice.type === 'tool')) return invalid(`tool_choice: type ${String(choice.type)} is not supported on a compaction request`);
  }
  return undefined;
}

/** Why this explicit compaction request cannot summarize its conversation (as the model sees it), if it cannot. */
export function compactionRequestError(messages: readonly BetaMessageParam[]): CompactionErrorCode | undefined {
  const hasContent = messages.some((m) => (m.role === 'user' || m.role === 'assistant') && blocksOf(m.content).length > 0);
  if (!hasContent) return 'compaction_nothing_to_summarize';
  const last = messages[messages.length - 1];
  if (last?.role === 'assistant' && blocksOf(last.content).some((b) => b.type === 'tool_use' || b.type === 'server_tool_use')) return 'compaction_incomplete_turn';
  return undefined;
}

interface ToolUseSite {
  id: string;
  name: string;
  useMessage: number;
  useBlock: number;
  result?: { message: number; block: number };
}

function toolUseSites(messages: readonly EditableMessage[]): ToolUseSite[] {
  const sites: ToolUseSite[] = [];
  for (const [i, message] of messages.entries()) {
    if (message.role !== 'assistant') continue;
    for (const [j, block] of message.content.entries()) {
      if (block.type !== 'tool_use' || typeof block.id !== 'string') continue;
      const site: ToolUseSite = { id: block.id, name: String(block.name), useMessage: i, useBlock: j };
      // Its result is in the user turn after it, which a client may have sent as several user messages.
      for (let n = i + 1; n < messages.length && messages[n]!.role === 'user' && !site.result; n++) {
        const k = messages[n]!.content.findIndex((b) => b.type === 'tool_result' && b.tool_use_id === block.id);
        if (k !== -1) site.result = { message: n, block: k };
      }
      sites.push(site);
    }
  }
  return sites;
}

/** A message whose blocks an edit may change (copies: the request as sent is left alone). */
interface EditableMessage {
  role: string;
  content: Array<Record<string, unknown>>;
}

function editableCopy(messages: readonly BetaMessageParam[]): EditableMessage[] {
  return messages.map((m) => ({ ...m, content: blocksOf(m.content).map((b) => ({ ...b })) }));
}

function withMessages(request: FullRequest, messages: EditableMessage[]): FullRequest {
  return { ...request, messages: messages as unknown as BetaMessageParam[] };
}

function numberField(value: unknown, type: string): number | undefined {
  return isRecord(value) && value.type === type && typeof value.value === 'number' ? value.value : undefined;
}

/**
 * `clear_tool_uses_20250919`: once the trigger is reached, the oldest tool results (all but the newest `keep` tool
 * uses, excluded tools aside) get placeholder text, their tool_use inputs too when `clear_tool_inputs` says so. The
 * blocks stay, so every tool_result still answers its tool_use.
 */
function clearToolUses(request: FullRequest, edit: Record<string, unknown>, countTokens: (request: FullRequest) => number): { request: FullRequest; applied?: AppliedEdit } {
  const before = countTokens(request);
  const messages = editableCopy(request.messages);
  const sites = toolUseSites(messages);
  const trigger = edit.trigger;
  const triggerUses = numberField(trigger, 'tool_uses');
  const triggerTokens = numberField(trigger, 'input_tokens') ?? (triggerUses === undefined ? DEFAULT_CLEAR_TRIGGER_TOKENS : undefined);
  const reached = triggerUses !== undefined ? sites.length >= triggerUses : before >= triggerTokens!;
  if (!reached) return { request };
  const excluded = new Set(Array.isArray(edit.exclude_tools) ? edit.exclude_tools.map(String) : []);
  const keep = numberField(edit.keep, 'tool_uses') ?? DEFAULT_CLEAR_KEEP_TOOL_USES;
  const eligible = sites.filter((site) => !excluded.has(site.name));
  const cleared = eligible.slice(0, Math.max(0, eligible.length - keep));
  if (cleared.length === 0) return { request };
  const inputs = edit.clear_tool_inputs;
  const clearInput = (name: string) => inputs === true || (Array.isArray(inputs) && inputs.map(String).includes(name));
  for (const site of cleared) {
    if (site.result) {
      const result = messages[site.result.message]!.content[site.result.block]!;
      result.content = [{ type: 'text', text: CLEARED_TOOL_RESULT_TEXT }];
    }
    if (clearInput(site.name)) messages[site.useMessage]!.content[site.useBlock]!.input = {};
  }
  const edited = withMessages(request, messages);
  const clearedTokens = Math.max(0, before - countTokens(edited));
  const atLeast = numberField(edit.clear_at_least, 'input_tokens');
  if (atLeast !== undefined && clearedTokens < atLeast) return { request };
  return { request: edited, applied: { type: 'clear_tool_uses_20250919', cleared_tool_uses: cleared.length, cleared_input_tokens: clearedTokens } };
}

/** `clear_thinking_20251015`: thinking blocks of all but the newest `keep` assistant turns go (default: keep 1). */
function clearThinking(request: FullRequest, edit: Record<string, unknown>, countTokens: (request: FullRequest) => number): { request: FullRequest; applied?: AppliedEdit } {
  const keepAll = edit.keep === 'all' || (isRecord(edit.keep) && edit.keep.type === 'all');
  if (keepAll) return { request };
  const keep = numberField(edit.keep, 'thinking_turns') ?? 1;
  const before = countTokens(request);
  const messages = editableCopy(request.messages);
  const assistantTurns = messages.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
  let clearedTurns = 0;
  for (const i of assistantTurns.slice(0, Math.max(0, assistantTurns.length - keep))) {
    const blocks = messages[i]!.content;
    const kept = blocks.filter((b) => b.type !== 'thinking' && b.type !== 'redacted_thinking');
    if (kept.length === blocks.length || kept.length === 0) continue;
    messages[i] = { ...messages[i]!, content: kept };
    clearedTurns++;
  }
  if (clearedTurns === 0) return { request };
  const edited = withMessages(request, messages);
  return { request: edited, applied: { type: 'clear_thinking_20251015', cleared_thinking_turns: clearedTurns, cleared_input_tokens: Math.max(0, before - countTokens(edited)) } };
}

export interface EditedRequest {
  request: FullRequest;
  applied: AppliedEdit[];
  /** The input tokens before any edit (count_tokens reports them as `original_input_tokens`); absent without edits. */
  originalInputTokens?: number;
  compaction?: TriggeredCompaction;
}

/** Applies the request's `context_management.edits` in order to the conversation the model will see. */
export function applyContextEdits(request: FullRequest, management: unknown, countTokens: (request: FullRequest) => number): EditedRequest {
  const edits = isRecord(management) && Array.isArray(management.edits) ? (management.edits as Array<Record<string, unknown>>) : [];
  // Counting is a pass over the whole prompt: a request without edits (nearly all of them) pays nothing.
  if (edits.length === 0) return { request, applied: [] };
  const originalInputTokens = countTokens(request);
  let current = request;
  const applied: AppliedEdit[] = [];
  let compaction: TriggeredCompaction | undefined;
  for (const edit of edits) {
    if (edit.type === 'clear_tool_uses_20250919' || edit.type === 'clear_thinking_20251015') {
      const step = edit.type === 'clear_tool_uses_20250919' ? clearToolUses(current, edit, countTokens) : clearThinking(current, edit, countTokens);
      current = step.request;
      if (step.applied) applied.push(step.applied);
    } else if (edit.type === 'compact_20260112') {
      const trigger = numberField(edit.trigger, 'input_tokens') ?? DEFAULT_COMPACT_TRIGGER_TOKENS;
      if (countTokens(current) >= trigger) {
        compaction = { instructions: typeof edit.instructions === 'string' && edit.instructions.trim() !== '' ? edit.instructions : null, pauseAfterCompaction: edit.pause_after_compaction === true };
      }
    }
  }
  return { request: current, applied, originalInputTokens, ...(compaction ? { compaction } : {}) };
}

function textOf(message: BetaMessageParam): string {
  return blocksOf(message.content)
    .map((b) => (b.type === 'text' ? String(b.text) : b.type === 'compaction' ? String(b.content ?? '') : b.type === 'tool_use' ? `[called ${String(b.name)}]` : ''))
    .filter((t) => t !== '')
    .join(' ');
}

function excerpt(text: string, chars: number): string {
  const points = Array.from(text.replace(/\s+/g, ' ').trim());
  return points.length > chars ? `${points.slice(0, chars).join('')}…` : points.join('');
}

/** What the fake's model writes as a summary: deterministic, short, naming where the conversation started and ended. */
export function defaultSummary(messages: readonly BetaMessageParam[], instructions: string | null): string {
  const firstUser = messages.find((m) => m.role === 'user' && textOf(m) !== '');
  const lastAssistant = [...messages].reverse().find((m) => m.role === 'assistant' && textOf(m) !== '');
  const parts = [`Summary of ${messages.length} earlier messages.`];
  if (firstUser) parts.push(`The user asked: ${excerpt(textOf(firstUser), 200)}`);
  if (lastAssistant) parts.push(`Last reply: ${excerpt(textOf(lastAssistant), 200)}`);
  if (instructions) parts.push(`(Summarized as instructed: ${excerpt(instructions, 80)})`);
  return parts.join(' ');
}

/** The context window for a model: one number for all, or model id prefixes (longest match wins); default none. */
export function contextWindowFor(model: string, option: number | Readonly<Record<string, number>> | undefined): number {
  if (option === undefined) return Number.POSITIVE_INFINITY;
  if (typeof option === 'number') return option;
  const prefix = Object.keys(option)
    .filter((p) => model.startsWith(p))
    .sort((a, b) => b.length - a.length)[0];
  return prefix !== undefined ? option[prefix]! : Number.POSITIVE_INFINITY;
}

/** The API's answer to a prompt larger than the model's window (no error_code: the message is all it says). */
export function promptTooLongError(tokens: number, window: number): ContextError {
  return invalid(`prompt is too long: ${tokens} tokens > ${window} maximum`);
}
