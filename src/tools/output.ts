// Turns whatever a tool returned into tool_result content that fits Temporal's payload limit.
import type { ToolResultContent } from '../activities/types';

export type NormalizedOutput =
  | { ok: true; content: ToolResultContent; truncatedFromBytes?: number }
  | { ok: false; error: string };

const CONTENT_BLOCK_TYPES = new Set(['text', 'image', 'document', 'search_result']);

function isContentBlocks(value: unknown): value is Exclude<ToolResultContent, string> {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((b) => typeof b === 'object' && b !== null && CONTENT_BLOCK_TYPES.has((b as { type?: unknown }).type as string))
  );
}

/** Why a value cannot be sent as JSON, or undefined when it can. */
function notJson(value: unknown, seen = new Set<unknown>()): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `a non-finite number (${value})`;
    case 'undefined':
      return 'undefined';
    case 'bigint':
    case 'symbol':
    case 'function':
      return `a ${typeof value}`;
  }
  if (value === null) return undefined;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return 'binary data (return text, or base64 inside an image block)';
  if (value instanceof Map || value instanceof Set) return `a ${value.constructor.name}`;
  if (seen.has(value)) return 'a circular structure';
  seen.add(value);
  const entries = Array.isArray(value) ? value.map((v) => v as unknown) : Object.values(value as Record<string, unknown>);
  for (const entry of entries) {
    if (entry === undefined && !Array.isArray(value)) continue;
    const problem = notJson(entry, seen);
    if (problem) return problem;
  }
  seen.delete(value);
  return undefined;
}

function truncateText(text: string, maxBytes: number): { text: string; truncatedFromBytes?: number } {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= maxBytes) return { text };
  const note = `\n\n[truncated: the tool returned ${bytes} bytes; this is the first part. Ask for a narrower result if you need more.]`;
  const keep = Buffer.from(text, 'utf8').subarray(0, maxBytes - Buffer.byteLength(note)).toString('utf8').replace(/\uFFFD+$/, '');
  return { text: keep + note, truncatedFromBytes: bytes };
}

export function normalizeToolOutput(output: unknown, maxBytes: number): NormalizedOutput {
  if (output === undefined || output === '') return { ok: true, content: '(no output)' };
  if (typeof output === 'string') {
    const { text, truncatedFromBytes } = truncateText(output, maxBytes);
    return { ok: true, content: text, ...(truncatedFromBytes !== undefined ? { truncatedFromBytes } : {}) };
  }
  const problem = notJson(output);
  if (problem) return { ok: false, error: `the tool returned ${problem}, which is neither text nor JSON` };
  if (isContentBlocks(output)) {
    const bytes = Buffer.byteLength(JSON.stringify(output), 'utf8');
    if (bytes <= maxBytes) return { ok: true, content: output };
    // Too big as blocks: keep the text, drop binary blocks, and say so.
    const text = output.map((b) => (b.type === 'text' ? b.text : `[${b.type} block omitted: result too large]`)).join('\n');
    const cut = truncateText(text, maxBytes);
    return { ok: true, content: cut.text, truncatedFromBytes: bytes };
  }
  const { text, truncatedFromBytes } = truncateText(JSON.stringify(output), maxBytes);
  return { ok: true, content: text, ...(truncatedFromBytes !== undefined ? { truncatedFromBytes } : {}) };
}
