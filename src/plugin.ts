// AgentPlugin: durable-claude as a Temporal plugin, for the Worker and Client you already have. It registers the
// conversation workflow (beside your own), its activities with your tools and MCP servers, the data converter
// (encryption, external storage), live-output sinks, telemetry, and, with `modelCalls`, a second worker that runs
// the model calls on a rate-limited task queue of their own.
import Anthropic from '@anthropic-ai/sdk';
import type { ClientOptions, ClientPlugin } from '@temporalio/client';
import type { DataConverter, ExternalStorage, PayloadCodec } from '@temporalio/common';
import { SimplePlugin } from '@temporalio/plugin';
import { Runtime, Worker, type BundleOptions, type BundlerPlugin, type ReplayWorkerOptions, type WorkerOptions, type WorkerPlugin } from '@temporalio/worker';
import { createAgentActivities } from './activities';
import type { ModelActivityOptions } from './activities/model';
import type { AgentActivities } from './activities/types';
import { connectMcpServers, McpConfigurationError, type McpServerConfig, type McpServers } from './mcp';
import { createTelemetry, logAttributesActivityInterceptors, TELEMETRY_WORKFLOW_MODULES, type AgentTelemetry, type AgentTelemetryOptions } from './observability';
import { priceTableProblems, type PriceTable } from './pricing/cost';
import { registerSearchAttributes } from './search-attributes';
import type { DecisionVerifier } from './security/types';
import type { EventPublisher } from './streaming/event-store';
import { conversationEventSinks } from './streaming/workflow-sinks';
import type { AgentTool } from './tools/define-tool';
import { ToolRegistry } from './tools/registry';

/** The failure converter an encrypting worker uses (give it to bundleWorkflowCode when you prebuild the bundle). */
export const ENCODED_FAILURES_PATH = require.resolve('./security/encoded-failures');
/** The conversation workflow's module: the bundle's entry when the worker has no workflows of its own. */
export const AGENT_WORKFLOWS_PATH = require.resolve('./workflows');
/** The bundle's entry beside a worker's own workflows: ours and theirs (see configureBundler). */
const COMBINED_WORKFLOWS_PATH = require.resolve('./workflows/with-your-workflows');
/** What the combined entry imports; the bundler resolves it to the worker's own workflowsPath. */
const USER_WORKFLOWS_ALIAS = '__durable_claude_user_workflows';

/** The activities that call the Messages API: they run on the model-call queue when `modelCalls` is set. */
export const MODEL_CALL_ACTIVITIES = ['callModel', 'estimateModelCall', 'compactConversation'] as const satisfies ReadonlyArray<keyof AgentActivities>;

/**
 * Model calls on a task queue of their own, so the whole fleet stays under one organisation's rate limit: Temporal's
 * server hands out at most `maxPerSecond` of their tasks a second across every worker polling the queue, and each
 * worker runs at most `maxConcurrent` at a time. Tools keep the worker's own queue and slots.
 */
export interface ModelCallsOptions {
  /** Default: `<the worker's task queue>-model-calls`. Every worker of a fleet must name the same one. */
  taskQueue?: string;
  /** Model calls this worker runs at once (its activity slots on the model-call queue). Default 200. */
  maxConcurrent?: number;
  /**
   * Model-call tasks the server dispatches per second on the queue, for all workers together (Temporal's
   * `maxTaskQueueActivitiesPerSecond`). Size it under the organisation's requests per minute / 60 (docs/rate-limits.md).
   * Default: no limit.
   */
  maxPerSecond?: number;
}

export interface AgentPluginOptions {
  /** Your tools. The workflow sees their names and schemas; their code runs in the worker. */
  tools?: ToolRegistry | AgentTool[];
  /**
   * MCP servers whose tools the worker offers, namespaced `<server>__<tool>`. Configurations are connected when the
   * first worker is created with the plugin (it refuses to start if one fails) and closed when the last worker that
   * runs stops (or by close()); connected McpServers (connectMcpServers) stay yours to close.
   */
  mcpServers?: McpServerConfig[] | McpServers;
  /** Cut tool results above this size (bytes). Default 256 KiB; with externalStorage, 8 MiB. */
  maxResultBytes?: number;
  /**
   * Where payloads over its threshold go (fileSystemStorage or s3Storage): tool results, tool inputs, transcripts and
   * query answers; history keeps references. A Client built with this plugin reads them.
   */
  externalStorage?: ExternalStorage;
  /** The SDK client; defaults to `new Anthropic()` (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL from the environment). */
  anthropic?: Anthropic;
  model?: Omit<ModelActivityOptions, 'anthropic' | 'events' | 'prices'>;
  /** Prices in US dollars per million tokens, ahead of the list in src/pricing/prices.ts. */
  prices?: PriceTable;
  /** Live output: where model-stream and workflow events are published (connectEventStore). */
  events?: EventPublisher;
  /** Payload encryption (an EncryptionCodec, or any PayloadCodec), for the worker and a Client built with the plugin. */
  payloadCodec?: PayloadCodec;
  /** Verifies decision credentials (createDecisionVerifier): required when a tool has `approvers`. */
  decisionVerifier?: DecisionVerifier;
  /** Traces and metrics (createTelemetry, or its options). Default: none. */
  telemetry?: AgentTelemetryOptions | AgentTelemetry;
  /** Model calls on a rate-limited task queue of their own (see ModelCallsOptions). Default: on the worker's queue. */
  modelCalls?: ModelCallsOptions;
  /**
   * 'register' (default): a worker created with the plugin adds the conversation search attributes its namespace
   * lacks (AgentStatus, AgentPendingApprovals, AgentCostUsd), and warns when it may not (Temporal Cloud: register
   * them with tcld or the console). 'as-is': leave the namespace alone.
   */
  searchAttributes?: 'register' | 'as-is';
}

/** What a worker created with the plugin needs again when it runs. */
interface ConfiguredWorker {
  options: WorkerOptions;
  activities: AgentActivities;
  modelTaskQueue: string | undefined;
}

/** The plugin's MCP servers, their tools in the registry, kept current while a worker runs. */
interface AttachedMcp {
  /** Stops following list changes, and closes the servers the plugin connected itself. */
  release(): Promise<void>;
}

function isTelemetry(value: AgentTelemetryOptions | AgentTelemetry): value is AgentTelemetry {
  return typeof (value as Partial<AgentTelemetry>).configureWorker === 'function';
}

function positiveNumberProblem(value: number | undefined, name: string, whole: boolean): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (whole && !Number.isInteger(value))) {
    return `${name} must be a positive ${whole ? 'whole number' : 'number'} (got ${String(value)})`;
  }
  return undefined;
}

/**
 * durable-claude for your own Worker.create and Client:
 * `Worker.create({ plugins: [agentPlugin], connection, taskQueue, workflowsPath, activities })` hosts the conversation
 * workflow beside yours, and `new Client({ plugins: [agentPlugin] })` reads and writes its payloads
 * (then `new AgentClient({ client })`).
 */
export class AgentPlugin implements WorkerPlugin, ClientPlugin, BundlerPlugin {
  readonly name = 'durable-claude';
  /** The tools the plugin's workers offer (MCP servers' tools join them when the first worker is created). */
  readonly tools: ToolRegistry;
  /** Undefined without the `telemetry` option: the worker then adds only the workflow module and log attributes. */
  readonly telemetry: AgentTelemetry | undefined;
  readonly #options: AgentPluginOptions;
  readonly #anthropic: Anthropic;
  /** The data converter's parts, merged into whatever converter the worker or client already has. */
  readonly #converter: SimplePlugin;
  /** Workers created with the plugin, by namespace and task queue, until they run. */
  readonly #configured = new Map<string, ConfiguredWorker>();
  #mcp: Promise<AttachedMcp | undefined> | undefined;
  #running = 0;

  constructor(options: AgentPluginOptions = {}) {
    const priceProblems = options.prices === undefined ? [] : priceTableProblems(options.prices, 'prices');
    if (priceProblems.length > 0) throw new TypeError(`Invalid worker prices: ${priceProblems.join('; ')}`);
    const problems = [
      positiveNumberProblem(options.modelCalls?.maxConcurrent, 'modelCalls.maxConcurrent', true),
      positiveNumberProblem(options.modelCalls?.maxPerSecond, 'modelCalls.maxPerSecond', false),
      options.modelCalls?.taskQueue !== undefined && (typeof options.modelCalls.taskQueue !== 'string' || options.modelCalls.taskQueue.trim() === '')
        ? 'modelCalls.taskQueue must be a non-empty string'
        : undefined,
      options.searchAttributes !== undefined && options.searchAttributes !== 'register' && options.searchAttributes !== 'as-is'
        ? `searchAttributes must be 'register' or 'as-is' (got ${JSON.stringify(options.searchAttributes)})`
        : undefined,
    ].filter((problem): problem is string => problem !== undefined);
    if (problems.length > 0) throw new TypeError(`Invalid AgentPlugin options: ${problems.join('; ')}`);
    this.#options = options;
    this.#anthropic = options.anthropic ?? new Anthropic();
    this.tools =
      options.tools instanceof ToolRegistry
        ? options.tools
        : new ToolRegistry(options.tools ?? [], {
            ...(options.maxResultBytes !== undefined ? { maxResultBytes: options.maxResultBytes } : {}),
            ...(options.externalStorage ? { externalStorage: true } : {}),
          });
    // Without the option nothing global is touched (no context manager, propagator or interceptors on the app's
    // activities); the workflow module is bundled all the same, so a run traced elsewhere replays here.
    this.telemetry = options.telemetry === undefined ? undefined : isTelemetry(options.telemetry) ? options.telemetry : createTelemetry(options.telemetry);
    const codec = options.payloadCodec;
    const storage = options.externalStorage;
    this.#converter = new SimplePlugin({
      name: this.name,
      ...(codec || storage
        ? {
            dataConverter: (given: DataConverter | undefined): DataConverter => ({
              ...given,
              ...(storage ? { externalStorage: storage } : {}),
              ...(codec
                ? {
                    payloadCodecs: [...(given?.payloadCodecs ?? []), codec],
                    // Failure messages and stack traces quote tool errors and API answers: under encryption they are
                    // payloads too. A prebuilt workflowBundle needs the same path given to bundleWorkflowCode.
                    failureConverterPath: given?.failureConverterPath ?? ENCODED_FAILURES_PATH,
                  }
                : {}),
            }),
          }
        : {}),
    });
  }

  /** The Client side: the data converter (codec, external storage) and telemetry's client interceptors. */
  configureClient(options: ClientOptions): ClientOptions {
    const configured = this.#converter.configureClient(options);
    return this.telemetry ? this.telemetry.configureClient(configured) : configured;
  }

  async configureWorker(options: WorkerOptions): Promise<WorkerOptions> {
    const namespace = options.namespace ?? 'default';
    const events = this.#options.events;
    if (events?.namespace !== undefined && events.namespace !== namespace) {
      throw new TypeError(
        `The event store is connected for namespace '${events.namespace}' but the worker runs in '${namespace}': ` +
          `pass connectEventStore({ ..., namespace: '${namespace}' })`,
      );
    }
    if (this.#options.searchAttributes !== 'as-is' && options.connection) {
      const registration = await registerSearchAttributes(options.connection.operatorService, namespace);
      if (registration.added.length > 0) Runtime.instance().logger.info(`Registered search attributes ${registration.added.join(', ')} in namespace ${namespace}`);
      if (registration.problem) {
        Runtime.instance().logger.warn(`Could not check or add durable-claude's search attributes in namespace ${namespace} (conversations run without those missing): ${registration.problem}`);
      }
    }
    await this.#attachMcp();
    try {
      return this.#configure(options, namespace);
    } catch (err) {
      if (this.#running === 0) await this.close();
      throw err;
    }
  }

  #configure(given: WorkerOptions, namespace: string): WorkerOptions {
    const governed = this.tools.names().filter((name) => this.tools.get(name)?.settings.approvers !== undefined);
    if (governed.length > 0 && !this.#options.decisionVerifier) {
      throw new TypeError(
        `Tools ${governed.join(', ')} have approvers, so their decisions need verified credentials: pass createAgentWorker({ decisionVerifier: createDecisionVerifier({ hmacKeys | jwks }) })`,
      );
    }
    if (this.#options.payloadCodec && given.workflowBundle && !given.dataConverter?.failureConverterPath) {
      // The bundle was built elsewhere: only bundleWorkflowCode({ failureConverterPath }) puts the converter in it.
      Runtime.instance().logger.warn(
        'payloadCodec with a prebuilt workflowBundle: failures raised in workflow code keep their message in plaintext unless the bundle was built with bundleWorkflowCode({ plugins: [agentPlugin] }) or bundleWorkflowCode({ failureConverterPath: ENCODED_FAILURES_PATH })',
      );
    }
    const modelTaskQueue = this.#options.modelCalls ? (this.#options.modelCalls.taskQueue ?? `${given.taskQueue}-model-calls`) : undefined;
    const withConverter = this.#converter.configureWorker(given);
    const activities = this.#activities(withConverter.dataConverter?.payloadCodecs, modelTaskQueue);
    const clashes = Object.keys(activities).filter((name) => given.activities !== undefined && Object.hasOwn(given.activities, name));
    if (clashes.length > 0) throw new TypeError(`The worker already registers activities named ${clashes.join(', ')}, which durable-claude needs: rename yours`);
    const configured: WorkerOptions = {
      // Model calls and tool runs mostly wait on I/O; a high slot count keeps parallel tool calls parallel (a
      // worker with a tuner sizes its slots itself: the SDK refuses both).
      ...(given.tuner === undefined ? { maxConcurrentActivityTaskExecutions: 200, maxConcurrentLocalActivityExecutions: 200 } : {}),
      // A cancellation reaches an activity in a heartbeat's answer: heartbeats go out often enough (tools heartbeat
      // every second on their own behalf) that a cancelled conversation's tools see it within about a second.
      defaultHeartbeatThrottleInterval: '1s',
      maxHeartbeatThrottleInterval: '2s',
      ...withConverter,
      // The main worker keeps the model activities too: conversations recorded without a model-call queue use its own.
      activities: { ...given.activities, ...activities },
      sinks: { ...given.sinks, ...conversationEventSinks(this.#options.events) },
      // No workflows of the worker's own: ours are the bundle. With its own, configureBundler bundles both.
      ...(given.workflowsPath === undefined && given.workflowBundle === undefined ? { workflowsPath: AGENT_WORKFLOWS_PATH } : {}),
    };
    // Last: telemetry wraps the conversationEvents sink (approval-wait spans and metrics come from it).
    const observed = this.telemetry ? this.telemetry.configureWorker(configured) : withWorkflowModule(configured);
    this.#configured.set(workerKey(namespace, given.taskQueue), { options: observed, activities, modelTaskQueue });
    return observed;
  }

  configureReplayWorker(options: ReplayWorkerOptions): ReplayWorkerOptions {
    const converted = this.#converter.configureReplayWorker(options);
    const configured = this.telemetry
      ? this.telemetry.configureReplayWorker(converted)
      : { ...converted, interceptors: { ...converted.interceptors, workflowModules: [...new Set([...(converted.interceptors?.workflowModules ?? []), ...TELEMETRY_WORKFLOW_MODULES])] } };
    return configured.workflowsPath === undefined && configured.workflowBundle === undefined ? { ...configured, workflowsPath: AGENT_WORKFLOWS_PATH } : configured;
  }

  /**
   * Bundling a worker's own workflowsPath: the entry becomes ours plus theirs. Also for a prebuilt bundle:
   * `bundleWorkflowCode({ workflowsPath, plugins: [agentPlugin] })`.
   */
  configureBundler(options: BundleOptions): BundleOptions {
    const failureConverterPath = options.failureConverterPath ?? (this.#options.payloadCodec ? ENCODED_FAILURES_PATH : undefined);
    const telemetryModules = TELEMETRY_WORKFLOW_MODULES;
    const workflowInterceptorModules = [...new Set([...(options.workflowInterceptorModules ?? []), ...telemetryModules])];
    const base: BundleOptions = {
      ...options,
      ...(failureConverterPath ? { failureConverterPath } : {}),
      ...(workflowInterceptorModules.length > 0 ? { workflowInterceptorModules } : {}),
    };
    const own = options.workflowsPath;
    if (own === AGENT_WORKFLOWS_PATH || own === COMBINED_WORKFLOWS_PATH) return base;
    const hook = options.webpackConfigHook;
    return {
      ...base,
      workflowsPath: COMBINED_WORKFLOWS_PATH,
      webpackConfigHook: (config) => {
        const hooked = hook ? hook(config) : config;
        const resolve = hooked.resolve ?? {};
        const alias = resolve.alias;
        const entry = { [`${USER_WORKFLOWS_ALIAS}$`]: own };
        return {
          ...hooked,
          resolve: {
            ...resolve,
            alias: Array.isArray(alias) ? [...alias, { name: USER_WORKFLOWS_ALIAS, alias: own, onlyModule: true }] : { ...alias, ...entry },
          },
        };
      },
    };
  }

  /** Runs the worker, and with `modelCalls` the model-call worker beside it; they stop together. */
  async runWorker(worker: Worker, next: (worker: Worker) => Promise<void>): Promise<void> {
    const configured = this.#configured.get(workerKey(worker.options.namespace, worker.options.taskQueue));
    this.#running += 1;
    try {
      const run = (w: Worker) => (configured?.modelTaskQueue !== undefined ? this.#runWithModelWorker(w, next, configured) : next(w));
      await (this.telemetry ? this.telemetry.runWorker(worker, run) : run(worker));
    } finally {
      this.#running -= 1;
      // The plugin's own MCP connections close when its last worker stops running.
      if (this.#running === 0) await this.close();
    }
  }

  /** Closes the MCP servers the plugin connected (for a worker created but never run); run() does it on its own. */
  async close(): Promise<void> {
    const attached = this.#mcp;
    this.#mcp = undefined;
    const mcp = await attached?.catch(() => undefined);
    await mcp?.release();
  }

  async #runWithModelWorker(worker: Worker, next: (worker: Worker) => Promise<void>, configured: ConfiguredWorker): Promise<void> {
    const limits = this.#options.modelCalls ?? {};
    const { options } = configured;
    const modelActivities = Object.fromEntries(MODEL_CALL_ACTIVITIES.map((name) => [name, configured.activities[name]]));
    const modelWorkerOptions: WorkerOptions = {
      connection: options.connection,
      namespace: worker.options.namespace,
      taskQueue: configured.modelTaskQueue!,
      activities: modelActivities,
      maxConcurrentActivityTaskExecutions: limits.maxConcurrent ?? 200,
      ...(limits.maxPerSecond !== undefined ? { maxTaskQueueActivitiesPerSecond: limits.maxPerSecond } : {}),
      defaultHeartbeatThrottleInterval: options.defaultHeartbeatThrottleInterval ?? '1s',
      maxHeartbeatThrottleInterval: options.maxHeartbeatThrottleInterval ?? '2s',
      ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
      // The main worker's activity interceptors (telemetry's among them), so model calls are observed alike.
      ...(options.interceptors?.activity ? { interceptors: { activity: options.interceptors.activity } } : {}),
      ...(options.identity !== undefined ? { identity: `${options.identity} (model calls)` } : {}),
      ...(options.shutdownGraceTime !== undefined ? { shutdownGraceTime: options.shutdownGraceTime } : {}),
      // Every worker of a deployment version polls the same queues, or set-current-version refuses the version.
      ...(options.workerDeploymentOptions ? { workerDeploymentOptions: options.workerDeploymentOptions } : {}),
    };
    const modelWorker = await Worker.create(modelWorkerOptions);
    let modelFailure: unknown;
    // A model-call worker that stops on its own leaves conversations waiting on a queue nobody polls: stop both.
    const modelRun = modelWorker.run().catch((err: unknown) => {
      modelFailure = err;
      if (worker.getState() === 'RUNNING') worker.shutdown();
    });
    try {
      await next(worker);
    } finally {
      if (modelWorker.getState() === 'RUNNING') modelWorker.shutdown();
      await modelRun;
    }
    if (modelFailure !== undefined) throw modelFailure;
  }

  #activities(payloadCodecs: readonly PayloadCodec[] | undefined, modelTaskQueue: string | undefined): AgentActivities {
    const options = this.#options;
    const activities = createAgentActivities({
      anthropic: this.#anthropic,
      tools: this.tools,
      ...options.model,
      ...(options.events ? { events: options.events } : {}),
      ...(options.prices ? { prices: options.prices } : {}),
      // The workflow asks (describePayloadStorage) before it carries a large state into a new run.
      payloadsOffloadedAbove: options.externalStorage?.payloadSizeThreshold ?? null,
      // …and archives the transcript the model no longer sees there when it hands over.
      ...(options.externalStorage ? { externalStorage: options.externalStorage } : {}),
      ...(payloadCodecs ? { payloadCodecs } : {}),
      ...(options.decisionVerifier ? { decisionVerifier: options.decisionVerifier } : {}),
      ...(this.telemetry ? { telemetry: this.telemetry } : {}),
    });
    if (modelTaskQueue === undefined) return activities;
    const { describeTools } = activities;
    return {
      ...activities,
      // The workflow learns the model-call queue with the tool catalog; the local activity's result records it.
      describeTools: async (input) => ({ ...(await describeTools(input)), modelTaskQueue }),
    };
  }

  #attachMcp(): Promise<AttachedMcp | undefined> {
    this.#mcp ??= attachMcpServers(this.tools, this.#options.mcpServers);
    const attached = this.#mcp;
    // A failed connection is not kept: the next worker created tries again.
    attached.catch(() => {
      if (this.#mcp === attached) this.#mcp = undefined;
    });
    return attached;
  }
}

/** Without telemetry: the workflow module every worker bundles, and activity log lines that name the conversation. */
function withWorkflowModule(options: WorkerOptions): WorkerOptions {
  const interceptors = options.interceptors ?? {};
  return {
    ...options,
    interceptors: {
      ...interceptors,
      // A prebuilt bundle carries its interceptor modules itself (the worker would ignore these, with a warning).
      ...(options.workflowBundle ? {} : { workflowModules: [...new Set([...(interceptors.workflowModules ?? []), ...TELEMETRY_WORKFLOW_MODULES])] }),
      activity: [...(interceptors.activity ?? []), logAttributesActivityInterceptors],
    },
  };
}

function workerKey(namespace: string | undefined, taskQueue: string | undefined): string {
  return `${namespace ?? 'default'}\u0000${taskQueue ?? ''}`;
}

async function attachMcpServers(registry: ToolRegistry, given: AgentPluginOptions['mcpServers']): Promise<AttachedMcp | undefined> {
  if (given === undefined || (Array.isArray(given) && given.length === 0)) return undefined;
  const owned = Array.isArray(given);
  const servers: McpServers = owned ? await connectMcpServers(given) : given;
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
    release: async () => {
      unsubscribe();
      await closeOwned();
    },
  };
}
