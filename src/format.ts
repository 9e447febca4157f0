// Plain-text renderings of transcripts, usage and cost, for terminals and bug reports.
import { sendersOf, type DecisionSender } from './client/decision-sender';
import { formatUsd } from './pricing/cost';
import { isRecord } from './workflows/json';
import type { ContentBlockParam, MessageParam, RecordedApprover, RefusedDecision, Transcript, TurnRecord, UsageTotals } from './workflows/types';

const clip = (value: string, max = 300) => (value.length > max ? `${value.slice(0, max - 1)}…` : value);

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((b: { type?: string; text?: string }) => (b.type === 'text' ? (b.text ?? '') : `[${b.type}]`)).join('');
}

/** One line of text: a block's newlines and runs of spaces become single spaces. */
const oneLine = (value: string) => value.replace(/\s+/g, ' ').trim();

/** What a server tool's result block says, in a few words: '3 results', 'error max_uses_exceeded', 'exit 0 · hi'. */
function serverResultText(content: unknown): string {
  if (Array.isArray(content)) {
    // web_search: a list of results.
    return `${content.length} result${content.length === 1 ? '' : 's'}`;
  }
  if (!isRecord(content)) return typeof content === 'string' ? clip(oneLine(content), 200) : 'no content';
  if (typeof content.error_code === 'string') return `error ${content.error_code}${typeof content.error_message === 'string' ? `: ${clip(oneLine(content.error_message), 160)}` : ''}`;
  const type = typeof content.type === 'string' ? content.type : '';
  if (type === 'web_fetch_result') return `fetched ${String(content.url)}`;
  if (type === 'tool_search_tool_search_result' && Array.isArray(content.tool_references)) {
    const names = content.tool_references.flatMap((ref) => (isRecord(ref) && typeof ref.tool_name === 'string' ? [ref.tool_name] : []));
    return `${names.length} tool${names.length === 1 ? '' : 's'} found${names.length ? ` (${clip(names.join(', '), 160)})` : ''}`;
  }
  if (typeof content.return_code === 'number') {
    const output = [content.stdout, content.stderr].filter((part): part is string => typeof part === 'string' && part.trim() !== '').map(oneLine).join(' · ');
    return `exit ${content.return_code}${output ? ` · ${clip(output, 200)}` : ''}`;
  }
  if (type.startsWith('encrypted_')) return '(encrypted output)';
  // text_editor_code_execution_view_result → 'view result'; anything newer by its type.
  return type.replace(/^text_editor_code_execution_/, '').replace(/_/g, ' ') || 'done';
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
    } else if (block.type === 'thinking') {
      // Display 'omitted' sends the signature alone: the thinking happened, its text was not returned.
      lines.push(`  thinking › ${block.thinking.trim() === '' ? '(omitted; signature kept)' : clip(oneLine(block.thinking), 200)}`);
    } else if (block.type === 'redacted_thinking') {
      lines.push('  thinking › (redacted)');
    } else if (block.type === 'server_tool_use') {
      toolNames.set(block.id, block.name);
      lines.push(`  ⇢ ${block.name} ${clip(JSON.stringify(block.input), 200)} (ran on Anthropic's side)`);
    } else if (block.type === 'mcp_tool_use') {
      toolNames.set(block.id, `${block.server_name}/${block.name}`);
      lines.push(`  ⇢ ${block.server_name}/${block.name} ${clip(JSON.stringify(block.input), 200)} (MCP server, called by Anthropic)`);
    } else if (block.type === 'mcp_tool_result') {
      const name = toolNames.get(block.tool_use_id) ?? block.tool_use_id;
      lines.push(`  ⇠ ${name}${block.is_error ? ' failed' : ''}: ${clip(contentText(block.content).replace(/\s+/g, ' '), 200)}`);
    } else if (block.type.endsWith('_tool_result') && 'tool_use_id' in block) {
      // web_search_tool_result, code_execution_tool_result, …: written by the API after its server_tool_use.
      const name = toolNames.get(block.tool_use_id) ?? block.type.replace(/_tool_result$/, '');
      lines.push(`  ⇠ ${name}: ${serverResultText('content' in block ? block.content : undefined)}`);
    } else {
      lines.push(`  [${block.type}]`);
    }
  }
  return lines;
}

/**
 * What a turn did besides its messages, when it used the rest of the tool surface: '  · turn 2 · server tools:
 * web_search ×2 · 1 thinking block · container container_1'. Undefined for a turn without any of it.
 */
export function turnSurfaceLine(turn: Pick<TurnRecord, 'turn' | 'serverToolCalls' | 'thinkingBlocks' | 'container'>): string | undefined {
  const parts: string[] = [];
  const calls = turn.serverToolCalls ?? [];
  if (calls.length > 0) {
    const names = [...new Set(calls.map((call) => call.name))];
    const counted = names.map((name) => {
      const ofName = calls.filter((call) => call.name === name);
      const failed = ofName.flatMap((call) => (call.errorCode ? [call.errorCode] : []));
      const unanswered = ofName.filter((call) => call.resultType === undefined && !call.errorCode).length;
      const notes = [...failed, ...(unanswered ? [`${unanswered} paused before its result`] : [])];
      return `${name} ×${ofName.length}${notes.length ? ` (${notes.join(', ')})` : ''}`;
    });
    parts.push(`server tools: ${counted.join(', ')}`);
  }
  if (turn.thinkingBlocks) parts.push(`${turn.thinkingBlocks} thinking block${turn.thinkingBlocks === 1 ? '' : 's'}`);
  if (turn.container) parts.push(`container ${turn.container}`);
  return parts.length > 0 ? `  · turn ${turn.turn} · ${parts.join(' · ')}` : undefined;
}

/** The whole transcript as readable lines (each turn's tool-surface line after its reply), with the approval audit at the end. */
export function transcriptLines(transcript: Transcript, senders: readonly DecisionSender[] = []): string[] {
  const names = new Map<string, string>();
  const from = transcript.page?.fromMessage ?? 0;
  const byMessage = new Map<number, string[]>();
  for (const turn of transcript.turns) {
    const line = turnSurfaceLine(turn);
    if (line) byMessage.set(turn.messageIndex, [...(byMessage.get(turn.messageIndex) ?? []), line]);
  }
  const lines = transcript.messages.flatMap((message, i) => [...describeMessage(message, names), ...(byMessage.get(from + i) ?? [])]);
  for (const a of transcript.approvals) {
    const verified = a.approvers?.length ? ` [verified: ${a.approvers.map(approverText).join('; ')}]` : '';
    const identities = sendersOf(a, senders);
    const sent = identities.length > 0 ? ` [sent by ${identities.join(', ')}]` : '';
    lines.push(`approval: ${a.decidedAt} ${a.decision} ${a.toolName} (${a.toolUseId}) by ${a.by} via ${a.via}${a.reason ? `: ${a.reason}` : ''}${a.edited ? ' [edited]' : ''}${verified}${sent}`);
  }
  return lines;
}

/** A verified approver for people: 'fiona (fiona@example.com, issuer durable-claude, role finance)'. */
export function approverText(approver: RecordedApprover): string {
  const details = [approver.email, `issuer ${approver.issuer}`, ...approver.matched].filter((d): d is string => d !== undefined && d !== '');
  return `${approver.subject} (${details.join(', ')})`;
}

/** Decisions refused for their credential or the tool's policy: each attempt, who it claimed or proved to be, and why. */
export function refusedDecisionLines(refused: readonly RefusedDecision[]): string[] {
  return refused.map((r) => {
    const who = r.subject !== undefined ? ` by ${r.subject} (verified)` : r.claimedBy !== undefined ? ` claiming to be ${r.claimedBy}` : '';
    return `refused: ${r.refusedAt} ${r.decision} ${r.toolUseId} via ${r.via}${who}: ${r.reason}`;
  });
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
