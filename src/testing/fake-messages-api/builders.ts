// Small builders for scripts: reply(text('…'), toolUse('get_weather', {location: 'Paris'})).
import type { BetaStopReason } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import type { ContentBlockSpec, ResponseStep } from './types';

export function text(value: string): ContentBlockSpec {
  return { type: 'text', text: value };
}

export function toolUse(name: string, input: unknown, id?: string): ContentBlockSpec {
  return { type: 'tool_use', name, input, ...(id !== undefined ? { id } : {}) };
}

export function reply(...content: ContentBlockSpec[]): ResponseStep {
  return { content };
}

export function replyWith(stopReason: BetaStopReason, ...content: ContentBlockSpec[]): ResponseStep {
  return { content, stop_reason: stopReason };
}

/**
 * A compaction block as the API returns it when it compacts the context (stop_reason `compaction` when it pauses
 * after compacting): the summary, plus opaque data the client must send back verbatim.
 */
export function compaction(summary: string, encryptedContent = `enc_${Buffer.from(summary).toString('base64url').slice(0, 24)}`): ContentBlockSpec {
  return { type: 'compaction', content: summary, encrypted_content: encryptedContent };
}

/**
 * A thinking block: it streams as thinking_delta pieces, then one signature_delta. Without `signature` the fake signs
 * it (and accepts it back only unchanged); a given signature goes out as is.
 */
export function thinking(value: string, signature?: string): ContentBlockSpec {
  return { type: 'thinking', thinking: value, ...(signature !== undefined ? { signature } : {}) };
}

/** A redacted thinking block; without `data` the fake fills in opaque data it can verify when it comes back. */
export function redactedThinking(data?: string): ContentBlockSpec {
  return { type: 'redacted_thinking', ...(data !== undefined ? { data } : {}) };
}

/** A server tool call (web_search, web_fetch, bash_code_execution, …): the fake writes its result block after it. */
export function serverToolUse(name: string, input: unknown, id?: string): ContentBlockSpec {
  return { type: 'server_tool_use', name, input, ...(id !== undefined ? { id } : {}) };
}
