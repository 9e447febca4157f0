// Plain-text renderings of transcripts, for terminals and bug reports.
import type { ContentBlockParam, MessageParam, Transcript } from './workflows/types';

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
