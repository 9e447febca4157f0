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

/** A thinking block: it streams as thinking_delta pieces, then one signature_delta. */
export function thinking(value: string, signature = `sig_${Buffer.from(value).toString('base64url').slice(0, 24)}`): ContentBlockSpec {
  return { type: 'thinking', thinking: value, signature };
}
