// durable-claude, the worker- and backend-side entry: tools, the worker, the client, replay, search attributes.
// Workflow-safe code is also at 'durable-claude/workflow'; a dev server and example tools at 'durable-claude/dev';
// the fake Messages API for tests at 'durable-claude/testing'.

/** Defines a tool from a zod schema or a JSON Schema: its schema travels to the workflow, its run() stays in the worker. */
export { defineAnthropicTool, defineTool } from './tools/define-tool';
/** Anthropic's bash tool for the worker: a shell session per conversation, kept in history so it survives the worker. */
export { bashTool, type BashToolOptions } from './tools/bash';
/** Thrown by a tool: the model sees an is_error result with this message (or structured content) and carries on. */
export { ToolError } from './tools/define-tool';
/** Thrown by a tool: the conversation fails instead of telling the model. */
export { ToolFatalError } from './tools/define-tool';
/** A tool as defineTool returns it, and what its run() receives and may return. */
export type { AgentTool, AnthropicToolSettings, ToolContext, ToolOutput, ToolSession, ToolSettings, ZodToolSettings, JsonSchemaToolSettings } from './tools/define-tool';
/** A set of tools with a result-size limit; createAgentWorker also takes a plain list. */
export { ToolRegistry, type ToolRegistryOptions } from './tools/registry';
/**
 * durable-claude as a Temporal plugin for your own Worker.create and Client: the conversation workflow beside yours,
 * its activities, your tools and MCP servers, the data converter, live output, telemetry, a rate-limited model-call queue.
 */
export { AgentPlugin, AGENT_WORKFLOWS_PATH, MODEL_CALL_ACTIVITIES, type AgentPluginOptions, type ModelCallsOptions } from './plugin';
/** Traces (GenAI conventions), metrics and JSON logs: createTelemetry, otlpTelemetry, installTemporalMetrics, jsonLogger. */
export {
  createTelemetry,
  telemetryFromEnv,
  otlpTelemetry,
  prometheusMetrics,
  installTemporalMetrics,
  jsonLogger,
  TELEMETRY_WORKFLOW_MODULES,
  type AgentTelemetry,
  type AgentTelemetryOptions,
  type OtlpTelemetryOptions,
  type TemporalMetricsOptions,
  type JsonLoggerOptions,
} from './observability';
/** Creates a Temporal worker that hosts the conversation workflow, the model calls and your tools (AgentPlugin on a worker of its own). */
export { createAgentWorker, type AgentWorkerOptions } from './worker';
/** Runs a worker with your tools until SIGINT/SIGTERM, connected from the standard Temporal environment variables. */
export { modelCallsFromEnv, runWorker, type RunWorkerOptions } from './worker';
/** MCP servers as durable tools: connect them for a worker (createAgentWorker({ mcpServers }) does it for you). */
export { approvalFromAnnotations, connectMcpServers, McpConfigurationError, mcpToolName, MCP_META_KEYS, type McpServers } from './mcp';
export type { McpHeaderValue, McpHttpServerConfig, McpServerConfig, McpStdioServerConfig, McpToolAnnotations, McpToolListing, McpToolOverride } from './mcp';
/** The model and tool activities, for a Worker.create of your own. */
export { createAgentActivities, type AgentActivitiesOptions, type ModelActivityOptions } from './activities';
/** The backend's client: start, list, fork and find conversations. */
export { AgentClient } from './client';
/** One conversation: wait for and decide approvals, chat, read state and transcript, result, cancel, retry, export. */
export { ConversationHandle } from './client';
/** Base class of the client's typed errors. */
export { AgentClientError } from './client';
/** The start options are invalid (the message lists each problem); nothing was started. */
export { InvalidConversationOptionsError } from './client';
/** No conversation with this id. */
export { ConversationNotFoundError } from './client';
/** start() under the id of a conversation that already ran (says how it ended). */
export { ConversationAlreadyExistsError } from './client';
/** The conversation has finished, so it takes no more decisions or messages. */
export { ConversationFinishedError } from './client';
/** The workflow refused a decision: unknown, already decided or expired id, or an edit that breaks the schema. */
export { DecisionRefusedError } from './client';
/** The workflow refused a chat message. */
export { MessageRefusedError } from './client';
/** The conversation failed; the cause and the failure type are attached. */
export { ConversationFailedError } from './client';
/** The conversation was cancelled. */
export { ConversationCancelledError } from './client';
/** No worker answered a query or update in time (the worker is down or busy). */
export { NoWorkerAnsweredError } from './client';
/** retry() refused: going back would run again tools whose results are recorded. */
export { RetryWouldRerunToolsError } from './client';
/** Options and results of the client and the handle. */
export type {
  AgentClientOptions,
  ApprovalsOptions,
  ConversationApprovals,
  ConversationExport,
  ConversationSnapshot,
  ConversationSummary,
  DecisionOptions,
  ForkOptions,
  QueryOptions,
  RetryConversationOptions,
  RetryOutcome,
  StartConversationOptions,
  TranscriptPageOptions,
  TranscriptReadOptions,
} from './client';
/** Live output: stream() needs an event store, and the client has none. */
export { LiveOutputUnavailableError, type StreamOptions } from './client';
/** Live output: an event offset that is not a non-negative whole number (a RangeError). */
export { InvalidOffsetError } from './client';
/** Live output: the typed events a conversation streams (model text and tool input, turns, tools, approvals…). */
export type * from './streaming/events';
/** Live output: the event store contract, and the NATS JetStream store workers publish to and clients read. */
export type { EventPublisher, EventStore, EventSubscriber, PublishOptions, SubscribeOptions } from './streaming/event-store';
/** Live output for browsers: a conversation's events as Server-Sent Events, one (req, res) handler for node:http, Express and Fastify. */
export { createEventStreamHandler, type EventStreamHandler, type EventStreamHandlerOptions } from './streaming/sse';
/** Live output: connects to the NATS JetStream event store (workers publish to it, clients and the SSE handler read it). */
export { connectEventStore, NatsEventStore, type ConnectEventStoreOptions } from './streaming/nats-event-store';
/** The worker's sink for the workflow's live-output events, for a Worker.create of your own. */
export { conversationEventSinks } from './streaming/workflow-sinks';
/** Replays a recorded history against the current workflow code and says where it diverges. */
export { replayHistory, replayHistories, type ReplayOptions, type ReplayOutcome } from './replay';
/** A history from JSON (`temporal workflow show --output json`, fetchHistory(), or an export file), for replayHistory. */
export { parseHistory, parseHistories } from './replay';
/** One run of a conversation's chain of runs (continue-as-new), with its history. */
export type { RunHistory } from './client/run-chain';
/** Search attribute AgentStatus (KEYWORD): the conversation's status, for visibility queries. */
export { AgentStatusKey } from './search-attributes';
/** Search attribute AgentPendingApprovals (INT): how many tool calls wait for a person. */
export { AgentPendingApprovalsKey } from './search-attributes';
/** Search attribute AgentCostUsd (DOUBLE): what the conversation has cost so far, in US dollars. */
export { AgentCostUsdKey } from './search-attributes';
/** Cost: the list prices (with their date and source), the price of a model, and the cost of a reply's usage. */
export { LIST_PRICES } from './pricing/prices';
export { costOfUsage, formatUsd, maxCostOfRequest, priceOf, priceTableProblems, type BilledUsage, type ModelPrice, type PriceTable } from './pricing/cost';
/** Readable lines of a transcript, as `durable-claude show` prints them. */
export { transcriptLines } from './format';
/** Everything of the workflow-safe entry: signals, queries, updates and the pure types. */
export * from './workflow';
/** External storage for large payloads: give the same storage to the worker and to every client. */
export * from './storage';
/**
 * Verified decisions: a worker-side verifier of signed decision credentials (HS256 shared keys or an identity
 * provider's JWKS), tokens for development and tests, the input digest a credential binds, approver rules.
 */
export {
  createDecisionVerifier,
  decisionInputHash,
  decisionNonce,
  decisionVerifierFromEnv,
  describeApproverRule,
  evaluateApprovers,
  mintDecisionToken,
  type MintDecisionTokenOptions,
} from './security/credentials';
export { CredentialRefused, type ApproverRule, type ApproverVerdict, type DecisionBinding, type DecisionVerifier, type DecisionVerifierOptions, type VerifiedApprover } from './security/types';
/** Who sent each decision, as Temporal recorded it (the sending client's identity), read from history. */
export { decisionSenders, sendersOf, type DecisionSender } from './client/decision-senders';
/** Payload encryption: an AES-256-GCM PayloadCodec with a key provider (environment, file, or your KMS), for worker, clients and the codec server. */
export { EncryptionCodec, encryptionFromEnv, generateEncryptionKey, staticKeyProvider, type EncryptionKeyProvider } from './security/encryption';
/** The codec server for the Temporal Web UI and `temporal` CLI (/encode, /decode, CORS, an authorization check per request). */
export {
  accessTokenAuthorizer,
  anyAuthorizer,
  bearerTokenAuthorizer,
  CODEC_TOKEN_ENV,
  DEFAULT_CODEC_SERVER_PORT,
  startCodecServer,
  type AccessTokenAuthorizerOptions,
  type CodecAuthorizer,
  type CodecRequestInfo,
  type CodecServer,
  type CodecServerOptions,
} from './security/codec-server';
/** The failure converter an encrypting worker uses, for bundleWorkflowCode({ failureConverterPath }) when you prebuild the bundle. */
export { ENCODED_FAILURES_PATH } from './worker';
/** Encryption helpers: whether a payload is encrypted and under which key, the environment's names, the replay converter of a client. */
export { isEncryptedPayload, encryptionKeyIdOf, ENCRYPTED_ENCODING, ENCRYPTION_KEYS_ENV, ENCRYPTION_KEY_FILE_ENV, type StaticKeys, type EnvEncryption } from './security/encryption';
export { replayDataConverterOf } from './replay';
