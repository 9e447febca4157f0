// The worker: hosts the conversation workflow and the activities that touch the world (the model, the tools).
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { loadTemporalConfig } from './config';
import { exampleTools } from './examples/tools';
import type { McpServerConfig } from './mcp';
import { installTemporalMetrics, jsonLogger, telemetryFromEnv } from './observability';
import { AgentPlugin, type AgentPluginOptions, type ModelCallsOptions } from './plugin';
import { decisionVerifierFromEnv } from './security/credentials';
import { encryptionFromEnv } from './security/encryption';
import { storageFromEnv } from './storage/config';
import { connectEventStore } from './streaming/nats-event-store';
import type { AgentTool } from './tools/define-tool';
import { DEFAULT_TASK_QUEUE } from './workflows/types';

/** AgentPlugin's options (tools, MCP servers, model, encryption, storage, telemetry, modelCalls…) and the worker's own. */
export interface AgentWorkerOptions extends AgentPluginOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  /** A prebuilt workflow bundle (e.g. from bundleWorkflowCode), to skip bundling at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Any other Temporal worker option (concurrency, cache size, identity, interceptors, plugins…). */
  worker?: Omit<WorkerOptions, 'connection' | 'namespace' | 'taskQueue' | 'activities' | 'workflowsPath' | 'workflowBundle'>;
}

export async function createAgentWorker(options: AgentWorkerOptions): Promise<Worker> {
  const { connection, namespace = 'default', taskQueue = DEFAULT_TASK_QUEUE, workflowBundle, worker, ...pluginOptions } = options;
  // The plugin does the work (workflow, activities, tools, MCP, converter, sinks, telemetry, model-call queue).
  const plugin = new AgentPlugin(pluginOptions);
  try {
    return await Worker.create({
      ...worker,
      connection,
      namespace,
      taskQueue,
      ...(workflowBundle ? { workflowBundle } : {}),
      plugins: [...(worker?.plugins ?? []), plugin],
    });
  } catch (err) {
    await plugin.close();
    throw err;
  }
}

/** The failure converter an encrypting worker uses (give it to bundleWorkflowCode when you prebuild the bundle). */
export { ENCODED_FAILURES_PATH } from './plugin';

export interface RunWorkerOptions {
  /** Default: DURABLE_CLAUDE_TASK_QUEUE, else durable-claude. */
  taskQueue?: string;
  /** MCP servers whose tools the worker offers too (createAgentWorker's mcpServers). */
  mcpServers?: McpServerConfig[];
  /** Model calls on a rate-limited queue of their own. Default: from DURABLE_CLAUDE_MODEL_CALLS_PER_SECOND / _CONCURRENCY. */
  modelCalls?: ModelCallsOptions;
}

/** `modelCalls` as the environment sets it (docker compose, a fleet's deployment), or undefined when it sets none. */
export function modelCallsFromEnv(env: NodeJS.ProcessEnv = process.env): ModelCallsOptions | undefined {
  const number = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number (got '${raw}')`);
    return value;
  };
  const maxPerSecond = number('DURABLE_CLAUDE_MODEL_CALLS_PER_SECOND');
  const maxConcurrent = number('DURABLE_CLAUDE_MODEL_CALLS_CONCURRENCY');
  const taskQueue = env.DURABLE_CLAUDE_MODEL_CALLS_TASK_QUEUE?.trim() || undefined;
  if (maxPerSecond === undefined && maxConcurrent === undefined && taskQueue === undefined) return undefined;
  return { ...(maxPerSecond !== undefined ? { maxPerSecond } : {}), ...(maxConcurrent !== undefined ? { maxConcurrent } : {}), ...(taskQueue ? { taskQueue } : {}) };
}

/** Runs a worker until SIGINT/SIGTERM, serving the given tools with settings from the environment. */
export async function runWorker(tools: AgentTool[], options: RunWorkerOptions | string = {}): Promise<void> {
  const {
    taskQueue = process.env.DURABLE_CLAUDE_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    mcpServers,
    modelCalls = modelCallsFromEnv(),
  } = typeof options === 'string' ? { taskQueue: options } : options;
  // Before anything uses the Runtime: JSON log lines (conversationId, runId, turn, toolUseId on each) unless
  // DURABLE_CLAUDE_LOG_FORMAT=text, and the SDK's Prometheus endpoint at DURABLE_CLAUDE_TEMPORAL_PROMETHEUS_ADDRESS.
  const logFormat = process.env.DURABLE_CLAUDE_LOG_FORMAT?.trim().toLowerCase() || 'json';
  if (logFormat !== 'json' && logFormat !== 'text') throw new TypeError(`DURABLE_CLAUDE_LOG_FORMAT must be json or text (got '${logFormat}')`);
  try {
    installTemporalMetrics(logFormat === 'json' ? { logger: jsonLogger() } : {});
  } catch (err) {
    // The process made its Runtime already (Runtime.install is once per process): that one's logger and metrics stay.
    console.warn(`durable-claude worker: kept the process's Temporal Runtime (${err instanceof Error ? err.message : String(err)})`);
  }
  const config = loadTemporalConfig();
  const connection = await NativeConnection.connect(config.connectionOptions);
  // Live output when DURABLE_CLAUDE_EVENTS names an event store (nats://host:port), as docker compose sets it.
  const eventsUrl = process.env.DURABLE_CLAUDE_EVENTS;
  const events = eventsUrl && eventsUrl !== 'off' ? await connectEventStore({ servers: eventsUrl, namespace: config.namespace, name: 'durable-claude-worker' }) : undefined;
  // Large payloads to DURABLE_CLAUDE_STORAGE_DIR or DURABLE_CLAUDE_S3_BUCKET (storage/config.ts), as the CLI reads them.
  const stored = storageFromEnv();
  // Payloads encrypted with DURABLE_CLAUDE_ENCRYPTION_KEYS; decision credentials verified with DURABLE_CLAUDE_DECISION_*.
  const encryption = encryptionFromEnv();
  const decisions = decisionVerifierFromEnv();
  // Traces and metrics as OTEL_* asks for them (none when it asks for none).
  const telemetry = telemetryFromEnv();
  try {
    const worker = await createAgentWorker({
      connection,
      namespace: config.namespace,
      taskQueue,
      tools,
      ...(mcpServers ? { mcpServers } : {}),
      ...(events ? { events } : {}),
      ...(stored ? { externalStorage: stored.storage } : {}),
      ...(encryption ? { payloadCodec: encryption.codec } : {}),
      ...(decisions ? { decisionVerifier: decisions.verifier } : {}),
      ...(telemetry ? { telemetry } : {}),
      ...(modelCalls ? { modelCalls } : {}),
    });
    console.log(
      `durable-claude worker: ${config.connectionOptions.address}, namespace ${config.namespace}, task queue ${taskQueue}, tools: ${tools.map((t) => t.name).join(', ')}` +
        (mcpServers?.length ? `, MCP servers: ${mcpServers.map((server) => server.name).join(', ')}` : '') +
        (events ? `, live output to ${events.description}` : '') +
        (stored ? `, large payloads in ${stored.description}` : '') +
        (encryption ? `, payloads encrypted (${encryption.description})` : '') +
        (decisions ? `, decisions verified with ${decisions.description}` : '') +
        (modelCalls ? `, model calls on ${modelCalls.taskQueue ?? `${taskQueue}-model-calls`}${modelCalls.maxPerSecond !== undefined ? ` (at most ${modelCalls.maxPerSecond}/s for the fleet)` : ''}` : ''),
    );
    // Worker.run() shuts down gracefully on SIGINT/SIGTERM: running activities finish, polls stop.
    await worker.run();
  } finally {
    await events?.close();
    await connection.close();
  }
}

if (require.main === module) {
  // The built-in example tools; a real deployment passes its own to runWorker().
  runWorker(exampleTools()).catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
