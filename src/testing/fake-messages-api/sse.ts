// The Messages API's streaming format: the exact event sequence the SDK's stream parser expects.
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import type { FakeMessage, Latency } from './types';

export interface StreamWriter {
  onHeaders(): void;
  /** Characters per `input_json_delta` piece. */
  inputJsonChunkChars: number;
  /** The pieces one tool_use block's input went out in, before they are sent. */
  onInputJsonPieces(pieces: string[]): void;
}

/** At most this many pieces per block, so a large input does not become tens of thousands of events. */
const MAX_INPUT_JSON_PIECES = 256;

/**
 * Cuts `json` into pieces of `size` characters wherever that falls (mid-string, mid-number, between a backslash and
 * what it escapes), never inside a UTF-16 surrogate pair: the real API sends valid UTF-8, so a piece is whole code points.
 */
export function partialJsonPieces(json: string, size: number): string[] {
  const codePoints = Array.from(json);
  const step = Math.max(1, Math.floor(size), Math.ceil(codePoints.length / MAX_INPUT_JSON_PIECES));
  const pieces: string[] = [];
  for (let i = 0; i < codePoints.length; i += step) pieces.push(codePoints.slice(i, i + step).join(''));
  return pieces.length ? pieces : [''];
}

/** Splits `text` into about `parts` chunks, so clients see real incremental deltas. */
export function chunk(text: string, parts = 3): string[] {
  if (text.length <= 1) return [text];
  const size = Math.max(1, Math.ceil(text.length / parts));
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
  return chunks;
}

/** Resolves after `ms`, or at once when the client goes away. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Writes `message` as SSE. False when the client went away before message_stop. */
export async function writeMessageStream(
  res: http.ServerResponse,
  message: FakeMessage,
  latency: Latency,
  signal: AbortSignal,
  writer: StreamWriter,
): Promise<boolean> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'request-id': `req_${randomBytes(12).toString('base64url')}`,
  });
  writer.onHeaders();
  const send = async (type: string, data: Record<string, unknown>, delayMs = latency.chunkMs ?? 0): Promise<boolean> => {
    await abortableSleep(delayMs, signal);
    if (signal.aborted || res.destroyed) return false;
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    return true;
  };

  const start = { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { ...message.usage, output_tokens: 1 } };
  if (!(await send('message_start', { message: start }, latency.firstTokenMs ?? 0))) return false;
  if (!(await send('ping', {}, 0))) return false;
  for (let index = 0; index < message.content.length; index++) {
    const block = message.content[index]! as unknown as Record<string, unknown> & { type: string };
    if (block.type === 'text') {
      if (!(await send('content_block_start', { index, content_block: { type: 'text', text: '', citations: null } }))) return false;
      for (const piece of chunk(String(block.text))) {
        if (!(await send('content_block_delta', { index, delta: { type: 'text_delta', text: piece } }))) return false;
      }
    } else if (block.type === 'tool_use') {
      if (!(await send('content_block_start', { index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } }))) return false;
      const pieces = partialJsonPieces(JSON.stringify(block.input ?? {}), writer.inputJsonChunkChars);
      writer.onInputJsonPieces(pieces);
      for (const piece of pieces) {
        if (!(await send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } }))) return false;
      }
    } else if (block.type === 'compaction') {
      // As the real API: the block starts without its summary and one compaction_delta carries the final value.
      if (!(await send('content_block_start', { index, content_block: { ...block, content: null, encrypted_content: null } }))) return false;
      const delta = { type: 'compaction_delta', content: block.content ?? null, encrypted_content: block.encrypted_content ?? null };
      if (!(await send('content_block_delta', { index, delta }))) return false;
    } else if (!(await send('content_block_start', { index, content_block: block }))) {
      return false;
    }
    if (!(await send('content_block_stop', { index }))) return false;
  }
  if (!(await send('message_delta', { delta: { stop_reason: message.stop_reason, stop_sequence: message.stop_sequence }, usage: { output_tokens: message.usage.output_tokens } }))) {
    return false;
  }
  if (!(await send('message_stop', {}))) return false;
  res.end();
  return true;
}
