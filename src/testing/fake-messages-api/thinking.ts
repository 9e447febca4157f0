// Extended thinking in the fake: the request rules the API applies to `thinking` (and what goes with it), the
// signatures on the thinking blocks it writes, and the checks on the thinking blocks a client sends back. The API
// refuses a thinking block it did not write, or one whose text was changed, so a runtime that edits or drops them
// must fail here as it would in production.
import { createHmac, randomBytes } from 'node:crypto';
import type { BetaMessageParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import type { FullRequest } from './types';
import { isRecord } from '../../workflows/json';

const THINKING_TYPES = ['adaptive', 'enabled', 'between_tools', 'disabled'] as const;
const THINKING_ON = new Set(['adaptive', 'enabled', 'between_tools']);
const DISPLAYS = ['summarized', 'omitted', 'updates'];
export const THINKING_EFFORTS = ['low', 'medium', 'high', 'xhigh', 'max'] as const;
/** The 5.5 models take only adaptive thinking or thinking between tools (no manual budget, no "off"). */
const ADAPTIVE_ONLY_MODELS = ['claude-sonnet-5-5', 'claude-opus-5-5', 'claude-haiku-5-5'];
export const MIN_THINKING_BUDGET_TOKENS = 1024;

export const FORCED_TOOL_CHOICE_WITH_THINKING = 'Thinking may not be enabled when tool_choice forces tool use.';
export const ENABLED_NOT_SUPPORTED =
  '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.';
export const DISABLED_NOT_SUPPORTED =
  '"thinking.type.disabled" is not supported for this model. Use "thinking.type.between_tools" to keep thinking to the points between tool calls, or "thinking.type.adaptive" with a low "output_config.effort".';
export const TEMPERATURE_WITH_THINKING = '`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#important-considerations-when-using-extended-thinking';

function thinkingType(request: FullRequest): string | undefined {
  return isRecord(request.thinking) && typeof request.thinking.type === 'string' ? request.thinking.type : undefined;
}

/** Thinking is on for the request (adaptive, enabled or between_tools). */
export function thinkingIsOn(request: FullRequest): boolean {
  return THINKING_ON.has(thinkingType(request) ?? '');
}

/** The request asked for thinking blocks without their text (`thinking.display: 'omitted'`). */
export function thinkingDisplayOmitted(request: FullRequest): boolean {
  return isRecord(request.thinking) && request.thinking.display === 'omitted';
}

/** The first thinking-related rule the request breaks, in the API's words where known. */
export function thinkingRequestError(request: FullRequest): string | undefined {
  const { thinking } = request;
  const adaptiveOnly = typeof request.model === 'string' && ADAPTIVE_ONLY_MODELS.some((prefix) => request.model.startsWith(prefix));
  if (thinking !== undefined && thinking !== null) {
    if (!isRecord(thinking)) return 'thinking: Input should be a valid dictionary or object';
    const type = thinking.type;
    if (!(THINKING_TYPES as readonly unknown[]).includes(type)) return "thinking.type: Input should be 'adaptive', 'enabled', 'between_tools' or 'disabled'";
    if (type === 'enabled') {
      if (adaptiveOnly) return ENABLED_NOT_SUPPORTED;
      const budget = thinking.budget_tokens;
      if (budget === undefined || budget === null) return 'thinking.enabled.budget_tokens: Field required';
      if (typeof budget !== 'number' || !Number.isInteger(budget)) return 'thinking.enabled.budget_tokens: Input should be a valid integer';
      if (budget < MIN_THINKING_BUDGET_TOKENS) return `thinking.enabled.budget_tokens: Input should be greater than or equal to ${MIN_THINKING_BUDGET_TOKENS}`;
      if (budget >= request.max_tokens) {
        return '`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size';
      }
    }
    if (type === 'disabled' && adaptiveOnly) return DISABLED_NOT_SUPPORTED;
    const display = thinking.display;
    if (display !== undefined && display !== null && !DISPLAYS.includes(String(display))) {
      return `thinking.${String(type)}.display: Input should be 'summarized', 'omitted' or 'updates'`;
    }
  }
  const outputConfig = request.output_config;
  const effort = isRecord(outputConfig) ? outputConfig.effort : undefined;
  if (effort !== undefined && effort !== null) {
    if (!(THINKING_EFFORTS as readonly unknown[]).includes(effort)) return "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'";
    if (thinkingType(request) === 'between_tools' && (effort === 'xhigh' || effort === 'max')) {
      return `output_config.effort: '${effort}' is not supported with thinking.type 'between_tools'; use 'low', 'medium' or 'high', or thinking.type 'adaptive'`;
    }
  }
  if (!thinkingIsOn(request)) return undefined;
  const choice = request.tool_choice;
  if (isRecord(choice) && (choice.type === 'any' || choice.type === 'tool')) return FORCED_TOOL_CHOICE_WITH_THINKING;
  if (request.temperature !== undefined && request.temperature !== null && request.temperature !== 1) return TEMPERATURE_WITH_THINKING;
  return undefined;
}

/** What the fake sent a signature with: the model, and the text as the client got it ('' when display was omitted). */
interface IssuedThinking {
  model: string;
  sent: string;
}

type Block = Record<string, unknown>;

function blocksOf(content: unknown): Block[] {
  return Array.isArray(content) ? (content as Block[]).filter(isRecord) : [];
}

/** Which thinking block this is, for matching what came back with what was sent. */
function thinkingKeyOf(block: Block): string | undefined {
  if (block.type === 'thinking') return `thinking:${String(block.signature)}`;
  if (block.type === 'redacted_thinking') return `redacted:${String(block.data)}`;
  return undefined;
}

export function missingThinkingMessage(where: string, found: string): string {
  return (
    `${where}.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${found}\`. When \`thinking\` is enabled, a final \`assistant\` message must ` +
    'start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from ' +
    'previous turns. To avoid this requirement, disable `thinking`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking'
  );
}

/**
 * The thinking blocks the fake wrote: each signature (and redacted block's data) is bound to the model and text it
 * went out with, and each tool_use id to the thinking blocks before it in its reply.
 */
export class ThinkingLedger {
  readonly #secret = randomBytes(32);
  readonly #signatures = new Map<string, IssuedThinking[]>();
  readonly #redacted = new Map<string, string>();
  readonly #beforeToolUse = new Map<string, string[]>();

  /** A signature over the model and the whole thinking text (computed on the real text even when it is not shown). */
  sign(model: string, thinking: string): string {
    return createHmac('sha256', this.#secret).update(JSON.stringify([model, thinking])).digest('base64');
  }

  /** Records a thinking block as sent (a signed one, or one a script gave a signature). */
  issueThinking(model: string, signature: string, sent: string): void {
    if (signature === '') return;
    const issued = this.#signatures.get(signature) ?? [];
    if (!issued.some((i) => i.model === model && i.sent === sent)) issued.push({ model, sent });
    this.#signatures.set(signature, issued);
  }

  /** Opaque data for a redacted thinking block: a nonce and an HMAC binding it to the model. */
  redactedData(model: string): string {
    const nonce = randomBytes(24);
    const mac = createHmac('sha256', this.#secret).update(JSON.stringify([model, 'redacted_thinking', nonce.toString('base64')])).digest();
    return Buffer.concat([nonce, mac]).toString('base64');
  }

  issueRedacted(model: string, data: string): void {
    this.#redacted.set(data, model);
  }

  /** Remembers, for each tool_use of a reply, the thinking blocks that came before it in that reply. */
  rememberReply(content: readonly unknown[]): void {
    const before: string[] = [];
    for (const block of content) {
      if (!isRecord(block)) continue;
      const key = thinkingKeyOf(block);
      if (key) before.push(key);
      else if (block.type === 'tool_use' && typeof block.id === 'string' && before.length > 0) this.#beforeToolUse.set(block.id, [...before]);
    }
  }

  clear(): void {
    this.#signatures.clear();
    this.#redacted.clear();
    this.#beforeToolUse.clear();
  }

  /** The first thinking block in an assistant message the fake did not send as it is (messages as sent). */
  blockError(messages: readonly BetaMessageParam[], model: string): string | undefined {
    for (const [i, message] of messages.entries()) {
      if (message.role !== 'assistant') continue;
      for (const [j, block] of blocksOf(message.content).entries()) {
        const where = `messages.${i}.content.${j}`;
        if (block.type === 'thinking') {
          if (typeof block.signature !== 'string') return `${where}.thinking.signature: Field required`;
          if (typeof block.thinking !== 'string') return `${where}.thinking.thinking: Field required`;
          const issued = this.#signatures.get(block.signature) ?? [];
          if (!issued.some((i) => i.model === model && i.sent === block.thinking)) return `${where}: Invalid \`signature\` in \`thinking\` block`;
        } else if (block.type === 'redacted_thinking') {
          if (typeof block.data !== 'string') return `${where}.redacted_thinking.data: Field required`;
          if (this.#redacted.get(block.data) !== model) return `${where}: Invalid \`data\` in \`redacted_thinking\` block`;
        }
      }
    }
    return undefined;
  }

  /**
   * With thinking on, the assistant turn whose tool calls the last user turn answers must carry the thinking blocks
   * the fake sent before those calls, in order (messages as sent; same-role messages count as one turn).
   */
  missingThinkingError(messages: readonly BetaMessageParam[]): string | undefined {
    type Located = { block: Block; message: number; index: number };
    const turns: Array<{ role: string; blocks: Located[] }> = [];
    for (const [m, message] of messages.entries()) {
      const blocks = (typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : blocksOf(message.content)).map((block, index) => ({ block, message: m, index }));
      const last = turns[turns.length - 1];
      if (last && last.role === message.role) last.blocks.push(...blocks);
      else turns.push({ role: message.role, blocks });
    }
    let u = turns.length - 1;
    while (u >= 0 && turns[u]!.role !== 'user') u--;
    if (u < 1 || turns[u - 1]!.role !== 'assistant') return undefined;
    const answered = new Set(turns[u]!.blocks.filter((b) => b.block.type === 'tool_result').map((b) => b.block.tool_use_id));
    if (answered.size === 0) return undefined;
    const blocks = turns[u - 1]!.blocks;
    for (const [j, located] of blocks.entries()) {
      const { block } = located;
      if (block.type !== 'tool_use' || !answered.has(block.id)) continue;
      const expected = this.#beforeToolUse.get(String(block.id));
      if (!expected) continue;
      // The thinking blocks sent before the call must all be there, in order; other blocks may sit between them (a
      // server tool's call and result, text, a paused turn's parts joined into one message).
      let k = 0;
      for (let i = 0; i < j && k < expected.length; i++) if (thinkingKeyOf(blocks[i]!.block) === expected[k]) k++;
      const first = blocks[0]!;
      if (k < expected.length && thinkingKeyOf(first.block) === undefined) {
        return missingThinkingMessage(`messages.${first.message}.content.${first.index}`, String(first.block.type));
      }
      if (k < expected.length) return missingThinkingMessage(`messages.${located.message}.content.${located.index}`, 'tool_use');
    }
    return undefined;
  }
}
