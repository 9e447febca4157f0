// Plain-text renderings of transcripts, usage and cost, for terminals and bug reports.
import { formatUsd } from './pricing/cost';
import type { ContentBlockParam, MessageParam, Transcript, UsageTotals } from './workflows/types';

const clip = (value: string, max = 300) => (value.length > max ? `${value.slice(0, max - 1)}…` : value);

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((b: { type?: string; text?: string }) => (b.type === 'text' ? (b.text ?? '') : `[${b.type}]`)).join('');
}

/** Lines that describe one transcript message, for a terminal. */
export function describeMessage(message: MessageParam, toolNames: Map<string, string>): string[] {
  const blocks: ContentBlockParam[] = typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : (message.content ?? []);
  const lines: string[] = [];
  for (const block of blocks) {
    if (block.type === 'text') {
      if (block.text.trim() === '') continue;
      lines.push(message.role === 'assistant' ? `claude › ${block.text}` : `user   › ${block.text}`);
    } else if (block.type === 'tool_use') {
      toolNames.set(block.id, block.name);
      lines.push(`  → ${block.name} ${clip(JSON.stringify(block.input), 200)}`);
    } else if (block.type === 'tool_result') {
      const name = toolNames.get(block.tool_use_id) ?? block.tool_use_id;
      lines.push(`  ${block.is_error ? '✗' : '←'} ${name}: ${clip(contentText(block.content).replace(/\s+/g, ' '), 200)}`);
    } else {
      lines.push(`  [${block.type}]`);
    }
  }
  return lines;
}

/** The whole transcript as readable lines, with the approval audit at the end. */
export function transcriptLines(transcript: Transcript): string[] {
  const names = new Map<string, string>();
  const lines = transcript.messages.flatMap((message) => describeMessage(message, names));
  for (const a of transcript.approvals) {
    lines.push(`approval: ${a.decidedAt} ${a.decision} ${a.toolName} (${a.toolUseId}) by ${a.by} via ${a.via}${a.reason ? `: ${a.reason}` : ''}${a.edited ? ' [edited]' : ''}`);
  }
  return lines;
}

const tokens = (n: number | undefined) => (n ?? 0).toLocaleString('en-US');

/**
 * A usage's tokens for people: '1,234 input + 5,678 cache read + 910 cache write / 300 output tokens' (input being
 * the uncached part). Partial: usage recorded before the cache fields existed counts them as 0.
 */
export function usageText(usage: Partial<UsageTotals>): string {
  const written1h = usage.cacheCreation1hInputTokens ?? 0;
  return (
    `${tokens(usage.inputTokens)} input + ${tokens(usage.cacheReadInputTokens)} cache read + ` +
    `${tokens(usage.cacheCreationInputTokens)} cache write${written1h > 0 ? ` (${tokens(written1h)} at 1h)` : ''} / ` +
    `${tokens(usage.outputTokens)} output tokens`
  );
}

/** What was spent: '$0.0123', '$0.0123 of $1.00 budget', or 'cost unknown' (null or absent), never $0 for unknown. */
export function costText(costUsd: number | null | undefined, budgetUsd?: number): string {
  if (budgetUsd === undefined) return formatUsd(costUsd);
  return costUsd === null || costUsd === undefined ? `cost unknown (budget ${formatUsd(budgetUsd)})` : `${formatUsd(costUsd)} of ${formatUsd(budgetUsd)} budget`;
}

/** The line a terminal prints when a turn's reply is in: '  · turn 2 · 310 input + … / 42 output tokens · $0.0018'. */
export function turnUsageLine(turn: number, usage: Partial<UsageTotals>): string {
  return `  · turn ${turn} · ${usageText(usage)} · ${costText(usage.costUsd)}`;
}
