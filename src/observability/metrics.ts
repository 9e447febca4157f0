// The project's metrics, as OpenTelemetry instruments from one Meter: model calls, tokens, cost, time to first
// token, tool calls, approvals, retries and thread replays. GenAI metric names where the conventions have them.
import type { Attributes, Counter, Histogram, Meter, UpDownCounter } from '@opentelemetry/api';
import { GEN_AI, METRICS } from './genai';

export type TokenKind = 'input' | 'output' | 'cache_read' | 'cache_write';

export class AgentMetrics {
  readonly operationDuration: Histogram;
  readonly tokenUsage: Histogram;
  readonly modelCalls: Counter;
  readonly tokens: Counter;
  readonly costUsd: Counter;
  readonly timeToFirstToken: Histogram;
  readonly threadReplays: Counter;
  readonly toolCalls: Counter;
  readonly toolDuration: Histogram;
  readonly approvalWait: Histogram;
  readonly pendingApprovals: UpDownCounter;
  readonly retries: Counter;

  constructor(meter: Meter) {
    this.operationDuration = meter.createHistogram(METRICS.operationDuration, { unit: 's', description: 'Duration of GenAI operations (model calls, tool executions)' });
    this.tokenUsage = meter.createHistogram(METRICS.tokenUsage, { unit: '{token}', description: 'Input and output tokens per model call' });
    this.modelCalls = meter.createCounter(METRICS.modelCalls, { description: 'Model call attempts by model and outcome' });
    this.tokens = meter.createCounter(METRICS.tokens, { unit: '{token}', description: 'Tokens by kind: input, output, cache_read, cache_write' });
    this.costUsd = meter.createCounter(METRICS.costUsd, { unit: 'USD', description: 'Cost of model calls whose price is known' });
    this.timeToFirstToken = meter.createHistogram(METRICS.timeToFirstToken, { unit: 's', description: 'Time from sending a model request to its first streamed content' });
    this.threadReplays = meter.createCounter(METRICS.threadReplays, { description: 'Model calls that found their message thread gone and sent the whole transcript again' });
    this.toolCalls = meter.createCounter(METRICS.toolCalls, { description: 'Tool executions by tool and outcome' });
    this.toolDuration = meter.createHistogram(METRICS.toolDuration, { unit: 's', description: 'Duration of tool executions' });
    this.approvalWait = meter.createHistogram(METRICS.approvalWait, { unit: 's', description: 'Time a tool call waited for its approval decision' });
    this.pendingApprovals = meter.createUpDownCounter(METRICS.pendingApprovals, { description: 'Tool calls waiting for an approval decision (as seen by this worker)' });
    this.retries = meter.createCounter(METRICS.retries, { description: 'Activity attempts after the first (Temporal retries)' });
  }

  recordTokens(model: string, usage: { input_tokens: number; output_tokens: number; cache_read_input_tokens?: number | null; cache_creation_input_tokens?: number | null }, base: Attributes): void {
    const kinds: Array<[TokenKind, number]> = [
      ['input', usage.input_tokens],
      ['output', usage.output_tokens],
      ['cache_read', usage.cache_read_input_tokens ?? 0],
      ['cache_write', usage.cache_creation_input_tokens ?? 0],
    ];
    for (const [kind, count] of kinds) this.tokens.add(count, { ...base, model, kind });
    this.tokenUsage.record(usage.input_tokens + (usage.cache_read_input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0), { ...base, [GEN_AI.tokenType]: 'input' });
    this.tokenUsage.record(usage.output_tokens, { ...base, [GEN_AI.tokenType]: 'output' });
  }
}
