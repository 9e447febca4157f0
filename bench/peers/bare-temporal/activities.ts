// The bare peer's activities: a model call is one plain HTTP request to the fake Messages API (no SDK, no
// streaming, no retries of its own), in a message thread as durable-claude's are; a tool run is the bench's tool.
import { doWork, TOOL_DESCRIPTION, TOOL_NAME, type WorkInput } from '../../lib/work-tool';
import { BENCH_MODEL } from '../../lib/protocol';
import type { BareActivities, BareModelCall, BareReply, BareToolUse } from './types';

const MESSAGE_THREADS_BETA = 'message-threads-2026-08-12';

/** The work tool's schema, as the other peers send it (bench/lib/work-tool.ts's zod object). */
const WORK_TOOL = {
  name: TOOL_NAME,
  description: TOOL_DESCRIPTION,
  input_schema: {
    type: 'object',
    properties: { turn: { type: 'number' }, call: { type: 'number' }, ms: { type: 'number' }, bytes: { type: 'number' } },
    required: ['turn', 'call', 'ms', 'bytes'],
  },
};

export function createBareActivities(baseURL: string): BareActivities {
  const endpoint = new URL('/v1/messages', baseURL).toString();
  return {
    async callModel({ prompt, previousMessageId, toolResults }: BareModelCall): Promise<BareReply> {
      const body =
        previousMessageId === undefined
          ? { model: BENCH_MODEL, max_tokens: 1024, tools: [WORK_TOOL], messages: [{ role: 'user', content: prompt }], thread: { type: 'create' } }
          : { model: BENCH_MODEL, max_tokens: 1024, messages: [{ role: 'user', content: toolResults ?? [] }], thread: { type: 'continue', previous_message_id: previousMessageId } };
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-bench', 'anthropic-version': '2023-06-01', 'anthropic-beta': MESSAGE_THREADS_BETA },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`the Messages API answered ${response.status}: ${text.slice(0, 300)}`);
      const message = JSON.parse(text) as { id: string; stop_reason: string | null; content: BareReply['content'] };
      return { id: message.id, stopReason: message.stop_reason, content: message.content };
    },
    async runTool({ id, input }: BareToolUse) {
      return { toolUseId: id, content: await doWork(input as WorkInput) };
    },
  };
}
