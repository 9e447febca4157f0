// The Messages API's streaming format: the exact event sequence the SDK's stream parser expects.
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import type { DeltaKind, ReplyPlan } from './reply-plan';
import type { Latency } from './types';

export interface StreamWriter {
  onHeaders(): void;
  /** A tool_use or server_tool_use block started: its `input_json_delta` pieces follow. */
  onToolInputStart(): void;
  /** A content delta was just written to the socket. */
  onContentDelta(index: number, kind: DeltaKind, piece: string): void;
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

/**
 * The stream's schedule: event n after the first goes out at `start + firstTokenMs + n × chunkMs`, so the rate holds
 * however long each write and timer took.
 */
class StreamSchedule {
  readonly #startedAt = performance.now();
  #slots = 0;

  constructor(
    private readonly latency: Latency,
    private readonly signal: AbortSignal,
  ) {}

  /** Waits until `slots` more slots have passed since the last event's. */
  async wait(slots: number): Promise<void> {
    this.#slots += slots;
    const dueAt = this.#startedAt + (this.latency.firstTokenMs ?? 0) + this.#slots * (this.latency.chunkMs ?? 0);
    await abortableSleep(Math.ceil(dueAt - performance.now()), this.signal);
  }
}

function startOf(planned: ReplyPlan['blocks'][number]): Record<string, unknown> {
  const block = planned.block as unknown as Record<string, unknown> & { type: string };
  switch (block.type) {
    case 'text':
      return { type: 'text', text: '', citations: null };
    case 'thinking':
      return { type: 'thinking', thinking: '', signature: '' };
    case 'tool_use':
      return { type: 'tool_use', id: block.id, name: block.name, input: {} };
    case 'server_tool_use':
      return { type: 'server_tool_use', id: block.id, name: block.name, input: {} };
    case 'compaction':
      // As the real API: the block starts without its summary and one compaction_delta carries the final value.
      return { ...block, content: null, encrypted_content: null };
    default:
      return block;
  }
}

function deltaOf(kind: DeltaKind, piece: string): Record<string, unknown> {
  if (kind === 'text') return { type: 'text_delta', text: piece };
  if (kind === 'thinking') return { type: 'thinking_delta', thinking: piece };
  return { type: 'input_json_delta', partial_json: piece };
}

/** Writes the planned reply as SSE. False when the client went away before message_stop. */
export async function writeMessageStream(
  res: http.ServerResponse,
  plan: ReplyPlan,
  latency: Latency,
  signal: AbortSignal,
  writer: StreamWriter,
): Promise<boolean> {
  const { message } = plan;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'request-id': `req_${randomBytes(12).toString('base64url')}`,
  });
  writer.onHeaders();
  const schedule = new StreamSchedule(latency, signal);
  const send = async (type: string, data: Record<string, unknown>, slots = 1): Promise<boolean> => {
    await schedule.wait(slots);
    if (signal.aborted || res.destroyed) return false;
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    return true;
  };

  const start = { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { ...message.usage, output_tokens: 1 } };
  if (!(await send('message_start', { message: start }, 0))) return false;
  if (!(await send('ping', {}, 0))) return false;
  for (const [index, planned] of plan.blocks.entries()) {
    if (!(await send('content_block_start', { index, content_block: startOf(planned) }))) return false;
    const { kind } = planned;
    if (kind === 'input_json') writer.onToolInputStart();
    if (kind) {
      for (const { piece, slots } of planned.deltas) {
        if (!(await send('content_block_delta', { index, delta: deltaOf(kind, piece) }, slots))) return false;
        writer.onContentDelta(index, kind, piece);
      }
    }
    if (planned.signature !== undefined && !(await send('content_block_delta', { index, delta: { type: 'signature_delta', signature: planned.signature } }))) return false;
    const block = planned.block as unknown as Record<string, unknown>;
    if (block.type === 'compaction') {
      const delta = { type: 'compaction_delta', content: block.content ?? null, encrypted_content: block.encrypted_content ?? null };
      if (!(await send('content_block_delta', { index, delta }))) return false;
    }
    if (!(await send('content_block_stop', { index }))) return false;
  }
  // The SDK's accumulator takes `container` from message_delta (message_start carries it too), and server tool
  // counts from its usage.
  const delta = { stop_reason: message.stop_reason, stop_sequence: message.stop_sequence, ...(message.container ? { container: message.container } : {}) };
  const usage = { output_tokens: message.usage.output_tokens, ...(message.usage.server_tool_use ? { server_tool_use: message.usage.server_tool_use } : {}) };
  if (!(await send('message_delta', { delta, usage }))) {
    return false;
  }
  if (!(await send('message_stop', {}))) return false;
  res.end();
  return true;
}
