// Model-call and tool-execution spans (GenAI conventions) and metrics around the activities. The Anthropic SDK's own
// call span (anthropic.messages.create, with HTTP details) runs inside ours, so it becomes our span's child.
import { AsyncLocalStorage } from 'node:async_hooks';
import { context as otelContext, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { Context } from '@temporalio/activity';
import type { CallModelInput, CallModelResult, RunToolInput, RunToolResult } from '../activities/types';
import { DURABLE_CLAUDE, GEN_AI, PROVIDER } from './genai';
import type { AgentMetrics } from './metrics';

export interface ActivityInstrumentation {
  tracer: Tracer;
  metrics: AgentMetrics;
  captureContent: boolean;
  /** The model-call span that asked for each tool call, so its approval wait can sit under it. */
  rememberToolRequest(toolUseId: string, span: SpanContext): void;
}

const firstTokenOfCall = new AsyncLocalStorage<{ firstTokenAt?: number }>();

/** Called by the model activity on the first streamed content of an attempt: time to first token. */
export function markFirstToken(): void {
  const call = firstTokenOfCall.getStore();
  if (call && call.firstTokenAt === undefined) call.firstTokenAt = Date.now();
}

function errorTypeOf(err: unknown): string {
  if (err && typeof err === 'object') {
    const type = (err as { type?: unknown }).type;
    if (typeof type === 'string' && type) return type;
    const name = (err as { name?: unknown }).name;
    if (typeof name === 'string' && name) return name;
  }
  return '_OTHER';
}

function failSpan(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  span.setAttribute(GEN_AI.errorType, errorTypeOf(err));
}

function activityAttributes(): { attributes: Attributes; attempt: number; workflowId: string; runId: string } {
  const info = Context.current().info;
  const execution = info.workflowExecution;
  return {
    attributes: {
      ...(execution ? { [GEN_AI.conversationId]: execution.workflowId, [DURABLE_CLAUDE.runId]: execution.runId } : {}),
      [DURABLE_CLAUDE.attempt]: info.attempt,
    },
    attempt: info.attempt,
    workflowId: execution?.workflowId ?? '',
    runId: execution?.runId ?? '',
  };
}

export function instrumentCallModel(callModel: (input: CallModelInput) => Promise<CallModelResult>, telemetry: ActivityInstrumentation) {
  const { tracer, metrics, captureContent } = telemetry;
  return async function instrumentedCallModel(input: CallModelInput): Promise<CallModelResult> {
    const { attributes, attempt } = activityAttributes();
    if (attempt > 1) metrics.retries.add(1, { activity: 'callModel' });
    const span = tracer.startSpan(`chat ${input.model}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        [GEN_AI.operationName]: 'chat',
        [GEN_AI.providerName]: PROVIDER,
        [GEN_AI.system]: PROVIDER,
        [GEN_AI.requestModel]: input.model,
        [GEN_AI.requestMaxTokens]: input.maxTokens,
        [DURABLE_CLAUDE.turn]: input.turn,
        ...attributes,
      },
    });
    if (captureContent && input.newMessages) span.setAttribute(GEN_AI.inputMessages, JSON.stringify(input.newMessages));
    const started = Date.now();
    const timing: { firstTokenAt?: number } = {};
    const base = { [GEN_AI.operationName]: 'chat', [GEN_AI.providerName]: PROVIDER, [GEN_AI.requestModel]: input.model };
    try {
      const result = await firstTokenOfCall.run(timing, () => otelContext.with(trace.setSpan(otelContext.active(), span), () => callModel(input)));
      const { reply } = result;
      span.setAttributes({
        [GEN_AI.responseModel]: reply.model,
        [GEN_AI.responseId]: reply.id,
        [GEN_AI.usageInputTokens]: reply.usage.input_tokens,
        [GEN_AI.usageOutputTokens]: reply.usage.output_tokens,
        [GEN_AI.usageCacheReadInputTokens]: reply.usage.cache_read_input_tokens ?? 0,
        [GEN_AI.usageCacheCreationInputTokens]: reply.usage.cache_creation_input_tokens ?? 0,
        [GEN_AI.responseFinishReasons]: reply.stopReason ? [reply.stopReason] : [],
        [DURABLE_CLAUDE.requestKind]: result.requestKind,
        ...(result.costUsd != null ? { [DURABLE_CLAUDE.costUsd]: result.costUsd } : {}),
      });
      if (captureContent) span.setAttribute(GEN_AI.outputMessages, JSON.stringify([{ role: 'assistant', content: reply.content, finish_reason: reply.stopReason }]));
      for (const block of reply.content) if (block.type === 'tool_use') telemetry.rememberToolRequest(block.id, span.spanContext());
      const withResponse = { ...base, [GEN_AI.responseModel]: reply.model };
      metrics.modelCalls.add(1, { model: input.model, outcome: 'ok', stop_reason: reply.stopReason ?? 'none' });
      metrics.recordTokens(reply.model, reply.usage, withResponse);
      if (result.costUsd != null) metrics.costUsd.add(result.costUsd, { model: reply.model });
      if (result.requestKind === 'replay') metrics.threadReplays.add(1, { model: input.model });
      metrics.operationDuration.record((Date.now() - started) / 1000, withResponse);
      if (timing.firstTokenAt !== undefined) metrics.timeToFirstToken.record((timing.firstTokenAt - started) / 1000, base);
      return result;
    } catch (err) {
      failSpan(span, err);
      metrics.modelCalls.add(1, { model: input.model, outcome: 'error', error_type: errorTypeOf(err) });
      metrics.operationDuration.record((Date.now() - started) / 1000, { ...base, [GEN_AI.errorType]: errorTypeOf(err) });
      throw err;
    } finally {
      span.end();
    }
  };
}

export function instrumentRunTool(runTool: (input: RunToolInput) => Promise<RunToolResult>, telemetry: ActivityInstrumentation) {
  const { tracer, metrics, captureContent } = telemetry;
  return async function instrumentedRunTool(input: RunToolInput): Promise<RunToolResult> {
    const { attributes, attempt } = activityAttributes();
    if (attempt > 1) metrics.retries.add(1, { activity: 'runTool', tool: input.toolName });
    const span = tracer.startSpan(`execute_tool ${input.toolName}`, {
      kind: SpanKind.INTERNAL,
      attributes: {
        [GEN_AI.operationName]: 'execute_tool',
        [GEN_AI.providerName]: PROVIDER,
        [GEN_AI.toolName]: input.toolName,
        [GEN_AI.toolCallId]: input.toolUseId,
        [GEN_AI.toolType]: 'function',
        [DURABLE_CLAUDE.turn]: input.turn,
        ...attributes,
      },
    });
    if (captureContent) span.setAttribute(GEN_AI.toolCallArguments, JSON.stringify(input.input ?? null));
    const started = Date.now();
    const base = { [GEN_AI.operationName]: 'execute_tool', [GEN_AI.toolName]: input.toolName };
    try {
      const result = await otelContext.with(trace.setSpan(otelContext.active(), span), () => runTool(input));
      if (captureContent) span.setAttribute(GEN_AI.toolCallResult, JSON.stringify(result.content));
      if (result.isError) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'the tool returned is_error' });
        span.setAttribute(GEN_AI.errorType, 'tool_error');
      }
      metrics.toolCalls.add(1, { tool: input.toolName, outcome: result.isError ? 'is_error' : 'ok' });
      metrics.toolDuration.record((Date.now() - started) / 1000, { tool: input.toolName });
      metrics.operationDuration.record((Date.now() - started) / 1000, result.isError ? { ...base, [GEN_AI.errorType]: 'tool_error' } : base);
      return result;
    } catch (err) {
      failSpan(span, err);
      metrics.toolCalls.add(1, { tool: input.toolName, outcome: 'failed' });
      metrics.operationDuration.record((Date.now() - started) / 1000, { ...base, [GEN_AI.errorType]: errorTypeOf(err) });
      throw err;
    } finally {
      span.end();
    }
  };
}
