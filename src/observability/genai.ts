// OpenTelemetry GenAI semantic-convention names (semconv 1.45; the GenAI ones are still "development", so they are
// spelled here rather than imported from the incubating entry point) and this project's metric names.

export const GEN_AI = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  /** The name before gen_ai.provider.name; still read by many backends. */
  system: 'gen_ai.system',
  requestModel: 'gen_ai.request.model',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  responseFinishReasons: 'gen_ai.response.finish_reasons',
  usageInputTokens: 'gen_ai.usage.input_tokens',
  usageOutputTokens: 'gen_ai.usage.output_tokens',
  usageCacheReadInputTokens: 'gen_ai.usage.cache_read.input_tokens',
  usageCacheCreationInputTokens: 'gen_ai.usage.cache_creation.input_tokens',
  conversationId: 'gen_ai.conversation.id',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
  toolName: 'gen_ai.tool.name',
  toolCallId: 'gen_ai.tool.call.id',
  toolCallArguments: 'gen_ai.tool.call.arguments',
  toolCallResult: 'gen_ai.tool.call.result',
  toolType: 'gen_ai.tool.type',
  tokenType: 'gen_ai.token.type',
  errorType: 'error.type',
} as const;

export const PROVIDER = 'anthropic';

/** This project's attributes, next to the GenAI ones. */
export const DURABLE_CLAUDE = {
  runId: 'durable_claude.run_id',
  turn: 'durable_claude.turn',
  requestKind: 'durable_claude.model.request_kind',
  costUsd: 'durable_claude.model.cost_usd',
  attempt: 'durable_claude.activity.attempt',
  approvalDecision: 'durable_claude.approval.decision',
  approvalDecidedBy: 'durable_claude.approval.decided_by',
} as const;

export const METRICS = {
  operationDuration: 'gen_ai.client.operation.duration',
  tokenUsage: 'gen_ai.client.token.usage',
  modelCalls: 'durable_claude.model.calls',
  tokens: 'durable_claude.model.tokens',
  costUsd: 'durable_claude.model.cost',
  timeToFirstToken: 'durable_claude.model.time_to_first_token',
  threadReplays: 'durable_claude.model.thread_replays',
  toolCalls: 'durable_claude.tool.calls',
  toolDuration: 'durable_claude.tool.duration',
  approvalWait: 'durable_claude.approval.wait_time',
  pendingApprovals: 'durable_claude.approval.pending',
  retries: 'durable_claude.activity.retries',
} as const;
