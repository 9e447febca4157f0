// The worker: hosts the conversation workflow and the activities that touch the world (the model, the tools).
import Anthropic from '@anthropic-ai/sdk';
import type { ExternalStorage, PayloadCodec } from '@temporalio/common';
import { NativeConnection, Runtime, Worker, type WorkerOptions, type WorkerPlugin } from '@temporalio/worker';
import { createAgentActivities } from './activities';
import type { ModelActivityOptions } from './activities/model';
import { loadTemporalConfig } from './config';
import { exampleTools } from './examples/tools';
import type { EventPublisher } from './streaming/event-store';
import { connectEventStore } from './streaming/nats-event-store';
import { conversationEventSinks } from './streaming/workflow-sinks';
import type { AgentTool } from './tools/define-tool';
import { ToolRegistry } from './tools/registry';
import { DEFAULT_TASK_QUEUE } from './workflows/types';
import { priceTableProblems, type PriceTable } from './pricing/cost';
import { storageFromEnv } from './storage/config';
import { decisionVerifierFromEnv } from './security/credentials';
import { encryptionFromEnv } from './security/encryption';
import type { DecisionVerifier } from './security/types';
import { connectMcpServers, McpConfigurationError, type McpServerConfig, type McpServers } from './mcp';

export interface AgentWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  /** Your tools. The workflow sees their names and schemas; their code runs here. */
  tools?: ToolRegistry | AgentTool[];
  /**
   * MCP servers whose tools this worker offers, namespaced `<server>__<tool>` (a conversation names them one by one
   * or as `<server>__*`). Configurations are connected now (the worker refuses to start if one fails) and closed when
   * the worker shuts down; connected McpServers (connectMcpServers) stay yours to close. Approval follows each tool's
   * annotations unless the configuration says otherwise.
   */
  mcpServers?: McpServerConfig[] | McpServers;
  /** Cut tool results above this size (bytes). Default 256 KiB; with externalStorage, 8 MiB. */
  maxResultBytes?: number;
  /**
   * Where payloads over its threshold go (Temporal's external storage: fileSystemStorage or s3Storage from
   * durable-claude): tool results, tool inputs, transcripts and query answers; history keeps references. Clients
   * reading these conversations need the same storage (AgentClient.connect({ externalStorage })). With it, tool
   * results may be up to 24 MiB instead of 1.5 MB.
   */
  externalStorage?: ExternalStorage;
  /** The SDK client; defaults to `new Anthropic()` (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL from the environment). */
  anthropic?: Anthropic;
  model?: Omit<ModelActivityOptions, 'anthropic' | 'events' | 'prices'>;
  /**
   * Prices in US dollars per million tokens, ahead of the list in src/pricing/prices.ts (a conversation's own
   * `prices` option wins over these): for negotiated prices, or models newer than the list.
   */
  prices?: PriceTable;
  /**
   * Live output: where model-stream and workflow events are published (an EventStore from connectEventStore). Without
   * one, conversations run the same and clients see them turn by turn.
   */
  events?: EventPublisher;
  /**
   * Payload encryption (an EncryptionCodec from durable-claude, or any PayloadCodec): every payload this worker
   * writes to history is encoded with it, before external storage offloads it. Clients need the same codec.
   */
  payloadCodec?: PayloadCodec;
  /**
   * Verifies decision credentials (createDecisionVerifier): required when a tool has `approvers`. It runs here, in
   * the worker; the workflow records only what it verified.
   */
  decisionVerifier?: DecisionVerifier;
  /** A prebuilt workflow bundle (e.g. from bundleWorkflowCode), to skip bundling at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Any other Temporal worker option (concurrency, cache size, identity, interceptors…). */
  worker?: Omit<WorkerOptions, 'connection' | 'namespace' | 'taskQueue' | 'activities' | 'workflowsPath' | 'workflowBundle'>;
}

export async function createAgentWorker(options: AgentWorkerOptions): Promise<Worker> {
  const namespace = options.namespace ?? 'default';
  if (options.events?.namespace !== undefined && options.events.namespace !== namespace) {
    throw new TypeError(
      `The event store is connected for namespace '${options.events.namespace}' but the worker runs in '${namespace}': ` +
        `pass connectEventStore({ ..., namespace: '${namespace}' })`,
    );
  }
  const priceProblems = options.prices === undefined ? [] : priceTableProblems(options.prices, 'prices');
  if (priceProblems.length > 0) throw new TypeError(`Invalid worker prices: ${priceProblems.join('; ')}`);
  const tools =
    options.tools instanceof ToolRegistry
      ? options.tools
      : new ToolRegistry(options.tools ?? [], {
          ...(options.maxResultBytes !== undefined ? { maxResultBytes: options.maxResultBytes } : {}),
          ...(options.externalStorage ? { externalStorage: true } : {}),
        });
  const mcp = await attachMcpServers(tools, options.mcpServers);
  try {
    return await createWorker(options, namespace, tools, mcp);
  } catch (err) {
    await mcp?.release();
    throw err;
  }
}

/** The worker's MCP servers, their tools in the registry, kept current while the worker runs. */
interface AttachedMcp {
  servers: McpServers;
  /** Stops following list changes, and closes the servers the worker connected itself. */
  release(): Promise<void>;
}

async function attachMcpServers(registry: ToolRegistry, given: AgentWorkerOptions['mcpServers']): Promise<AttachedMcp | undefined> {
  if (given === undefined || (Array.isArray(given) && given.length === 0)) return undefined;
  const owned = Array.isArray(given);
  const servers = owned ? await connectMcpServers(given) : given;
  const closeOwned = () => (owned ? servers.close() : Promise.resolve());
  try {
    for (const server of servers.names) registry.setGroup(server, servers.toolsOf(server));
  } catch (err) {
    await closeOwned();
    // The registry refuses a name another tool of this worker already has.
    throw err instanceof TypeError ? new McpConfigurationError(`${err.message}: rename the server or the tool`) : err;
  }
  const unsubscribe = servers.onToolsChanged((server) => {
    try {
      // New conversations get the new list; running ones keep the catalog they recorded.
      registry.setGroup(server, servers.toolsOf(server));
    } catch (err) {
      Runtime.instance().logger.warn(`MCP server '${server}' changed its tools, and the new list was not taken: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  return {
    servers,
    release: async () => {
      unsubscribe();
      await closeOwned();
    },
  };
}

async function createWorker(options: AgentWorkerOptions, namespace: string, tools: ToolRegistry, mcp: AttachedMcp | undefined): Promise<Worker> {
  const governed = tools.names().filter((name) => tools.get(name)?.settings.approvers !== undefined);
  if (governed.length > 0 && !options.decisionVerifier) {
    throw new TypeError(
      `Tools ${governed.join(', ')} have approvers, so their decisions need verified credentials: pass createAgentWorker({ decisionVerifier: createDecisionVerifier({ hmacKeys | jwks }) })`,
    );
  }
  const anthropic = options.anthropic ?? new Anthropic();
  const dataConverter = dataConverterOf(options);
  if (options.payloadCodec && options.workflowBundle && !options.worker?.dataConverter?.failureConverterPath) {
    // The bundle was built elsewhere: only bundleWorkflowCode({ failureConverterPath }) puts the converter in it.
    Runtime.instance().logger.warn(
      'payloadCodec with a prebuilt workflowBundle: failures raised in workflow code keep their message in plaintext unless the bundle was built with bundleWorkflowCode({ failureConverterPath: ENCODED_FAILURES_PATH })',
    );
  }
  return Worker.create({
    // Model calls and tool runs mostly wait on I/O; a high slot count keeps parallel tool calls parallel.
    maxConcurrentActivityTaskExecutions: 200,
    maxConcurrentLocalActivityExecutions: 200,
    // A cancellation reaches an activity in a heartbeat's answer: heartbeats go out often enough (tools heartbeat
    // every second on their own behalf) that a cancelled conversation's tools see it within about a second.
    defaultHeartbeatThrottleInterval: '1s',
    maxHeartbeatThrottleInterval: '2s',
    ...options.worker,
    connection: options.connection,
    namespace,
    taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
    activities: createAgentActivities({
      anthropic,
      tools,
      ...options.model,
      ...(options.events ? { events: options.events } : {}),
      ...(options.prices ? { prices: options.prices } : {}),
      // The workflow asks (describePayloadStorage) before it carries a large state into a new run.
      payloadsOffloadedAbove: options.externalStorage?.payloadSizeThreshold ?? null,
      // …and archives the transcript the model no longer sees there when it hands over.
      ...(options.externalStorage ? { externalStorage: options.externalStorage } : {}),
      ...(dataConverter?.payloadCodecs ? { payloadCodecs: dataConverter.payloadCodecs } : {}),
      ...(options.decisionVerifier ? { decisionVerifier: options.decisionVerifier } : {}),
    }),
    sinks: { ...options.worker?.sinks, ...conversationEventSinks(options.events) },
    // The worker's own MCP connections close when it stops running (a worker that never runs: worker.shutdown()
    // before run() leaves them to the process's exit).
    ...(mcp ? { plugins: [...(options.worker?.plugins ?? []), mcpShutdownPlugin(mcp)] } : {}),
    // Activities' own client (the model call reads the transcript by query through it) gets this converter too.
    ...(dataConverter ? { dataConverter } : {}),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: require.resolve('./workflows') }),
  });
}

function mcpShutdownPlugin(mcp: AttachedMcp): WorkerPlugin {
  return {
    name: 'durable-claude-mcp',
    async runWorker(worker, next) {
      try {
        await next(worker);
      } finally {
        await mcp.release();
      }
    },
  };
}

/** The failure converter an encrypting worker uses (give it to bundleWorkflowCode when you prebuild the bundle). */
export const ENCODED_FAILURES_PATH = require.resolve('./security/encoded-failures');

/** The worker's data converter: the user's, plus external storage and the payload codec (encryption) when given. */
function dataConverterOf(options: AgentWorkerOptions): WorkerOptions['dataConverter'] {
  const given = options.worker?.dataConverter;
  if (!options.externalStorage && !options.payloadCodec) return given;
  return {
    ...given,
    ...(options.externalStorage ? { externalStorage: options.externalStorage } : {}),
    ...(options.payloadCodec
      ? {
          payloadCodecs: [...(given?.payloadCodecs ?? []), options.payloadCodec],
          // Failure messages and stack traces quote tool errors and API answers: under encryption they are payloads
          // too. A prebuilt workflowBundle needs the same path given to bundleWorkflowCode (ENCODED_FAILURES_PATH).
          failureConverterPath: given?.failureConverterPath ?? ENCODED_FAILURES_PATH,
        }
      : {}),
  };
}

export interface RunWorkerOptions {
  /** Default: DURABLE_CLAUDE_TASK_QUEUE, else durable-claude. */
  taskQueue?: string;
  /** MCP servers whose tools the worker offers too (createAgentWorker's mcpServers). */
  mcpServers?: McpServerConfig[];
}

/** Runs a worker until SIGINT/SIGTERM, serving the given tools with settings from the environment. */
export async function runWorker(tools: AgentTool[], options: RunWorkerOptions | string = {}): Promise<void> {
  const { taskQueue = process.env.DURABLE_CLAUDE_TASK_QUEUE ?? DEFAULT_TASK_QUEUE, mcpServers } = typeof options === 'string' ? { taskQueue: options } : options;
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
    });
    console.log(
      `durable-claude worker: ${config.connectionOptions.address}, namespace ${config.namespace}, task queue ${taskQueue}, tools: ${tools.map((t) => t.name).join(', ')}` +
        (mcpServers?.length ? `, MCP servers: ${mcpServers.map((server) => server.name).join(', ')}` : '') +
        (events ? `, live output to ${events.description}` : '') +
        (stored ? `, large payloads in ${stored.description}` : '') +
        (encryption ? `, payloads encrypted (${encryption.description})` : '') +
        (decisions ? `, decisions verified with ${decisions.description}` : ''),
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
