// The Messages API's request rules (from the tool-use guide) that make the real API answer 400: a fake that
// accepted what the API refuses would let the runtime ship requests that fail in production.
import type { BetaMessageParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { combineConsecutiveTurns } from './turns';
import type { FullRequest } from './types';
import { isRecord } from '../../workflows/json';

type Block = { type?: unknown; id?: unknown; tool_use_id?: unknown; name?: unknown; content?: unknown };

function blocksOf(content: unknown): Block[] {
  return Array.isArray(content) ? (content as Block[]) : [];
}

/** The first rule the request breaks, as the API would word it, or undefined when it is well formed. */
export function requestRuleViolation(request: FullRequest): string | undefined {
  if (typeof request.model !== 'string' || request.model === '') return 'model: Field required';
  // 0 is a cache pre-warm: the prompt is processed and cached, nothing is generated (prompt-caching guide).
  if (!Number.isInteger(request.max_tokens) || request.max_tokens < 0) return 'max_tokens: must be a non-negative integer';
  const { messages } = request;
  if (!Array.isArray(messages) || messages.length === 0) return 'messages: at least one message is required';

  const toolNames = Array.isArray(request.tools) ? request.tools.map((t) => t?.name) : [];
  const choice = request.tool_choice;
  if (choice !== undefined) {
    if (!isRecord(choice) || !['auto', 'any', 'tool', 'none'].includes(String(choice.type))) return 'tool_choice.type: must be one of auto, any, tool, none';
    if ((choice.type === 'any' || choice.type === 'tool') && toolNames.length === 0) return `tool_choice: type ${choice.type} requires tools`;
    if (choice.type === 'tool' && !toolNames.includes(String(choice.name))) return `tool_choice.name: tool ${JSON.stringify(choice.name)} is not defined in tools`;
  }

  for (let i = 0; i < messages.length; i++) {
    const violation = messageShapeViolation(messages[i], `messages.${i}`, i === messages.length - 1);
    if (violation) return violation;
  }
  // The API combines consecutive same-role messages into one turn before it applies the rules between turns.
  return turnRuleViolation(combineConsecutiveTurns(messages));
}

/** What is wrong with one message as sent, whatever its neighbours. */
function messageShapeViolation(message: unknown, where: string, isLast: boolean): string | undefined {
  if (!isRecord(message)) return `${where}: must be an object`;
  if (message.role !== 'user' && message.role !== 'assistant') return `${where}.role: Input should be 'user' or 'assistant'`;
  // An empty final assistant message is a prefill of nothing, which the API accepts.
  const mayBeEmpty = message.role === 'assistant' && isLast;
  const content = message.content;
  if (typeof content === 'string') {
    if (content === '' && !mayBeEmpty) return `${where}: all messages must have non-empty content`;
    return undefined;
  }
  if (!Array.isArray(content)) return `${where}.content: must be a string or a list of content blocks`;
  if (content.length === 0 && !mayBeEmpty) return `${where}: all messages must have non-empty content`;
  for (let j = 0; j < content.length; j++) {
    const block = content[j] as Block;
    if (!isRecord(block) || typeof block.type !== 'string') return `${where}.content.${j}.type: Field required`;
    if (block.type === 'text' && typeof (block as { text?: unknown }).text !== 'string') return `${where}.content.${j}.text: Field required`;
    if (block.type === 'tool_use' && (typeof block.id !== 'string' || typeof block.name !== 'string')) return `${where}.content.${j}: tool_use blocks need an id and a name`;
    if (block.type === 'tool_result') {
      if (message.role !== 'user') return `${where}.content.${j}: tool_result blocks are only allowed in user messages`;
      if (typeof block.tool_use_id !== 'string') return `${where}.content.${j}.tool_use_id: Field required`;
    }
  }
  return undefined;
}

/** The rules between turns, on the conversation as the model sees it (same-role messages combined). */
function turnRuleViolation(turns: BetaMessageParam[]): string | undefined {
  // A compaction block stands in for the messages it summarized, so a conversation may start with it (compaction.ts).
  const startsCompacted = turns[0]?.role === 'assistant' && blocksOf(turns[0].content)[0]?.type === 'compaction';
  if (turns[0]?.role !== 'user' && !startsCompacted) return 'messages.0: the first message must use the "user" role';
  for (let i = 0; i < turns.length; i++) {
    const where = `messages.${i}`;
    const turn = turns[i]!;
    const blocks = blocksOf(turn.content);
    if (turn.role === 'user') {
      const firstOther = blocks.findIndex((b) => b.type !== 'tool_result');
      const lateResult = firstOther === -1 ? -1 : blocks.findIndex((b, j) => j > firstOther && b.type === 'tool_result');
      if (lateResult !== -1) {
        return `${where}.content.${lateResult}: tool_result blocks must come first in the user message, before any other content`;
      }
      const previousUses = new Set(i > 0 ? blocksOf(turns[i - 1]!.content).filter((b) => b.type === 'tool_use').map((b) => b.id) : []);
      for (let j = 0; j < blocks.length; j++) {
        const block = blocks[j]!;
        if (block.type === 'tool_result' && !previousUses.has(block.tool_use_id)) {
          return `${where}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(block.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
        }
      }
    } else if (i + 1 < turns.length) {
      const uses = blocks.filter((b) => b.type === 'tool_use').map((b) => String(b.id));
      const answered = new Set(blocksOf(turns[i + 1]!.content).filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id));
      const missing = uses.filter((id) => !answered.has(id));
      if (missing.length) {
        return `${where}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
      }
    }
  }
  return undefined;
}
