// The Messages API's streaming format: the exact event sequence the SDK's stream parser expects.
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import type { FakeMessage, Latency } from './types';

export interface StreamWriter {
  onHeaders(): void;
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
      for (const piece of chunk(JSON.stringify(block.input ?? {}))) {
        if (!(await send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } }))) return false;
      }
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
