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
