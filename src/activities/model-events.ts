// Live output of one model-call attempt: the API's stream events, forwarded as typed conversation events while the
// activity reads them. Nothing here can fail the call: publishing is fire-and-forget into a bounded queue.
import type { BetaMessage, BetaRawMessageStreamEvent } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import type { EventPublisher } from '../streaming/event-store';
import type { AttemptTag, ModelStreamEvent, UnsequencedEvent } from '../streaming/events';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type AttemptEventBody = DistributiveOmit<ModelStreamEvent, 'offset' | 'conversationId' | 'runId' | 'turn' | 'at' | 'call' | 'attempt'>;

export interface AttemptEventsOptions {
  publisher: EventPublisher;
  conversationId: string;
  runId: string;
  turn: number;
  /** The callModel activity's id and Temporal attempt. */
  tag: AttemptTag;
}

export class AttemptEvents {
  readonly #options: AttemptEventsOptions;
  /** Number of events this attempt published: part of each event's dedup id. */
  #count = 0;
  /** Content was streamed since the request was (re)sent: a resend within the attempt must void it first. */
  #streamedSinceSend = false;
  #resends = 0;
  readonly #blocks = new Map<number, { type: string; toolUseId?: string }>();

  constructor(options: AttemptEventsOptions) {
    this.#options = options;
  }

  /** Where an event id starts: unique to this call's attempt within the run. */
  #prefix(attempt = this.#options.tag.attempt): string {
    return `${this.#options.runId}/${this.#options.tag.call}/${attempt}`;
  }

  #publish(body: AttemptEventBody, dedupId: string, attempt = this.#options.tag.attempt): void {
    const { publisher, conversationId, runId, turn, tag } = this.#options;
    const event = { ...body, conversationId, runId, turn, at: new Date().toISOString(), call: tag.call, attempt } as UnsequencedEvent;
    publisher.publish(event, { dedupId });
  }

  #next(body: AttemptEventBody): void {
    this.#publish(body, `${this.#prefix()}/${++this.#count}`);
  }

  /** The attempt begins. A later attempt first voids the one before it, which may have died mid-stream (a killed worker cannot say so itself). */
  started(model: string, maxTokens: number): void {
    const { attempt } = this.#options.tag;
    if (attempt > 1) {
      this.#publish(
        { type: 'model_call_reset', reason: `attempt ${attempt - 1} ended without a reply; attempt ${attempt} starts over` },
        `${this.#prefix(attempt - 1)}/reset`,
        attempt - 1,
      );
    }
    this.#next({ type: 'model_call_started', model, maxTokens });
  }

  /** The request is sent again within this attempt (a thread replay): what the first send streamed is void. */
  resending(reason: string): void {
    this.#blocks.clear();
    if (!this.#streamedSinceSend) return;
    this.#streamedSinceSend = false;
    this.#publish({ type: 'model_call_reset', reason }, `${this.#prefix()}/reset-${++this.#resends}`);
  }

  /** The attempt failed or was cancelled: its partial output is void. Same id as the next attempt's reset, so it is stored once. */
  failed(reason: string): void {
    this.#publish({ type: 'model_call_reset', reason }, `${this.#prefix()}/reset`);
  }

  onStreamEvent(event: BetaRawMessageStreamEvent): void {
    switch (event.type) {
      case 'content_block_start': {
        const block = event.content_block;
        const toolUse = 'id' in block && 'name' in block && typeof block.id === 'string' && typeof block.name === 'string' ? { id: block.id, name: block.name } : undefined;
        this.#blocks.set(event.index, { type: block.type, ...(toolUse ? { toolUseId: toolUse.id } : {}) });
        if (toolUse) {
          this.#streamedSinceSend = true;
          this.#next({ type: 'tool_use_started', index: event.index, toolUseId: toolUse.id, name: toolUse.name });
        }
        return;
      }
      case 'content_block_delta': {
        const delta = event.delta;
        this.#streamedSinceSend = true;
        if (delta.type === 'text_delta') this.#next({ type: 'text_delta', index: event.index, text: delta.text });
        else if (delta.type === 'thinking_delta') this.#next({ type: 'thinking_delta', index: event.index, thinking: delta.thinking });
        else if (delta.type === 'input_json_delta' && delta.partial_json !== '') {
          const toolUseId = this.#blocks.get(event.index)?.toolUseId ?? '';
          this.#next({ type: 'tool_input_delta', index: event.index, toolUseId, partialJson: delta.partial_json });
        }
        return;
      }
      case 'content_block_stop':
        this.#next({ type: 'content_block_finished', index: event.index, blockType: this.#blocks.get(event.index)?.type ?? 'unknown' });
        return;
      default:
        return;
    }
  }

  /** The reply is whole; `costUsd` is its price (null: the model has no price). */
  finished(message: BetaMessage, costUsd: number | null): void {
    this.#next({
      type: 'message_finished',
      messageId: message.id,
      stopReason: message.stop_reason,
      usage: {
        inputTokens: message.usage.input_tokens,
        outputTokens: message.usage.output_tokens,
        cacheReadInputTokens: message.usage.cache_read_input_tokens ?? 0,
        cacheCreationInputTokens: message.usage.cache_creation_input_tokens ?? 0,
        cacheCreation1hInputTokens: message.usage.cache_creation?.ephemeral_1h_input_tokens ?? 0,
        costUsd,
      },
    });
  }
}
