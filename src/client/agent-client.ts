// The backend-facing API: start conversations, decide approvals, follow progress. A typed layer over
// @temporalio/client that turns Temporal's errors into ones that say what went wrong.
import type { EventSubscriber } from '../streaming/event-store';
import { Client, Connection, InternalConnectionLikeSymbol, WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { TypedSearchAttributes, type Payload, type SearchAttributePair, type SerializationContext } from '@temporalio/common';
import { loadTemporalConfig } from '../config';
import { priceOf } from '../pricing/cost';
import { AgentCostUsdKey, AgentPendingApprovalsKey, AgentStatusKey } from '../search-attributes';
import { sendMessageUpdate } from '../workflows/definitions';
import type { agentConversation } from '../workflows/conversation';
import { checkConversationOptions } from '../workflows/options';
import { DEFAULT_TASK_QUEUE, WORKFLOW_TYPE, type ContentBlockParam, type ConversationOptions, type ConversationStatus, type UserMessageReply } from '../workflows/types';
import { ConversationAlreadyExistsError, InvalidConversationOptionsError, MessageRefusedError, innermostMessage, translateError } from './errors';
import { isClosed } from './execution-status';
import { ConversationHandle } from './handle';
import { resolvedHistory } from './run-chain';
import type { AgentClientOptions, ConversationApprovals, ConversationSummary, ForkOptions, ListConversationsOptions, StartConversationOptions } from './types';

// AgentStatus values of a conversation still going; on a closed run they are stale.
const STILL_GOING: ReadonlySet<string> = new Set<ConversationStatus>(['running', 'awaiting_approval', 'awaiting_user']);

/**
 * A visibility query narrowed to runs that did not continue as new: a conversation's earlier runs have the status
 * ContinuedAsNew, its latest run any other. A trailing ORDER BY (Elasticsearch visibility) stays at the end.
 */
function latestRunsOnly(query: string): string {
  const orderBy = /\s+order\s+by\s+[\w\s,]+$/i.exec(query);
  const where = (orderBy ? query.slice(0, orderBy.index) : query).trim();
  const narrowed = `${where ? `(${where}) AND ` : ''}ExecutionStatus != 'ContinuedAsNew'`;
  return orderBy ? `${narrowed}${orderBy[0]}` : narrowed;
}

function summaryOf(options: ConversationOptions): string {
  const first = options.prompt ?? (typeof options.messages?.[0]?.content === 'string' ? options.messages[0].content : 'conversation');
  const words = first.replace(/\s+/g, ' ').trim();
  return words.length > 80 ? `${words.slice(0, 77)}…` : words;
}

export class AgentClient {
  readonly client: Client;
  readonly taskQueue: string;
  /** Where live output is read from; undefined when the client was made without an event store. */
  readonly events: EventSubscriber | undefined;
  /** Start conversations eagerly (the client shares a worker's NativeConnection). */
  readonly #eagerStart: boolean;
  /** The namespace's custom search attribute names, looked up once; empty when the lookup failed. */
  #registeredAttributes: Promise<ReadonlySet<string>> | undefined;

  constructor(options: AgentClientOptions = {}) {
    if (options.client && options.externalStorage) {
      throw new TypeError('Pass externalStorage in the dataConverter of the Client you give (new Client({ dataConverter: { externalStorage } })), not next to it');
    }
    if (options.client && options.payloadCodec) {
      throw new TypeError('Pass the payload codec in the dataConverter of the Client you give (new Client({ dataConverter: { payloadCodecs: [codec] } })), not next to it');
    }
    const dataConverter = {
      ...(options.externalStorage ? { externalStorage: options.externalStorage } : {}),
      ...(options.payloadCodec ? { payloadCodecs: [options.payloadCodec] } : {}),
    };
    this.client =
      options.client ??
      new Client({
        ...(options.connection ? { connection: options.connection } : {}),
        namespace: options.namespace ?? 'default',
        ...(Object.keys(dataConverter).length > 0 ? { dataConverter } : {}),
      });
    this.taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
    const namespace = this.client.options.namespace;
    if (options.events?.namespace !== undefined && options.events.namespace !== namespace) {
      throw new TypeError(
        `The event store is connected for namespace '${options.events.namespace}' but the client uses '${namespace}': ` +
          `pass connectEventStore({ ..., namespace: '${namespace}' })`,
      );
    }
    this.events = options.events;
    // The SDK's own capability flag: only a NativeConnection (which a worker in this process may share) can take the
    // first task back in its start response; asking over any other connection is an error.
    const connection = this.client.connection as { [InternalConnectionLikeSymbol]?: { supportsEagerStart?: boolean } };
    const eagerCapable = connection[InternalConnectionLikeSymbol]?.supportsEagerStart === true;
    if (options.eagerStart === true && !eagerCapable) {
      throw new TypeError('eagerStart needs a Client on the worker\'s NativeConnection: new AgentClient({ client: new Client({ connection: nativeConnection }) })');
    }
    this.#eagerStart = options.eagerStart ?? eagerCapable;
  }

  /**
   * Connects with the standard Temporal environment settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS, API key).
   * `externalStorage`: the workers' (fileSystemStorage, s3Storage), to read conversations with large payloads.
   * `payloadCodec`: the workers' (e.g. `encryptionFromEnv()?.codec`), to read and write encrypted conversations.
   */
  static async connect(options: Pick<AgentClientOptions, 'taskQueue' | 'events' | 'externalStorage' | 'payloadCodec'> = {}): Promise<AgentClient> {
    const config = loadTemporalConfig();
    const connection = await Connection.connect(config.connectionOptions as Parameters<typeof Connection.connect>[0]);
    return new AgentClient({ connection, namespace: config.namespace, ...options });
  }

  #customSearchAttributes(): Promise<ReadonlySet<string>> {
    this.#registeredAttributes ??= this.client.connection.operatorService
      .listSearchAttributes({ namespace: this.client.options.namespace })
      .then(({ customAttributes }) => new Set(Object.keys(customAttributes ?? {})))
      .catch(() => new Set<string>());
    return this.#registeredAttributes;
  }

  /** Whether the namespace has the AgentStatus search attributes (registered by `durable-claude dev` and the tests). */
  async searchAttributesRegistered(): Promise<boolean> {
    const registered = await this.#customSearchAttributes();
    return registered.has(AgentStatusKey.name) && registered.has(AgentPendingApprovalsKey.name);
  }

  /**
   * Whether the namespace has the AgentCostUsd search attribute. A namespace set up before it existed has only the
   * status ones: conversations there keep status indexing and have no cost attribute (upserting an unregistered
   * attribute would fail the workflow's tasks).
   */
  async costSearchAttributeRegistered(): Promise<boolean> {
    return (await this.#customSearchAttributes()).has(AgentCostUsdKey.name);
  }

  async #prepare(options: StartConversationOptions) {
    const { conversationId, taskQueue, onConflict, onFinished, ...conversation } = options;
    const indexed = conversation.searchAttributes ?? (await this.searchAttributesRegistered());
    // Explicit settings win; otherwise the cost attribute is kept only where it is registered (and status indexing
    // was not turned off).
    const costIndexed = conversation.costSearchAttribute ?? (conversation.searchAttributes !== false && (await this.costSearchAttributeRegistered()));
    const input: ConversationOptions = { ...conversation, searchAttributes: indexed, costSearchAttribute: costIndexed };
    const check = checkConversationOptions(input);
    if (!check.ok) throw new InvalidConversationOptionsError(check.errors);
    if (conversationId !== undefined && (typeof conversationId !== 'string' || conversationId.trim() === '' || conversationId.length > 255)) {
      throw new InvalidConversationOptionsError(['conversationId must be a non-empty string of at most 255 characters']);
    }
    const initialAttributes: SearchAttributePair[] = [];
    if (indexed) initialAttributes.push({ key: AgentStatusKey, value: 'running' }, { key: AgentPendingApprovalsKey, value: 0 });
    // $0 so far, for `AgentCostUsd >= 0` and sorting from the start; only for a model with a known price, since an
    // unpriced one's cost is unknown and must not be listed as $0 (the worker knows at least the prices we do).
    if (costIndexed && priceOf(check.options.model, check.options.prices) !== undefined) initialAttributes.push({ key: AgentCostUsdKey, value: 0 });
    const workflowOptions = {
      taskQueue: taskQueue ?? this.taskQueue,
      workflowId: conversationId ?? `conversation-${randomUUID()}`,
      args: [input] as [ConversationOptions],
      staticSummary: summaryOf(conversation),
      staticDetails: `model ${check.options.model} · tools: ${check.options.tools.join(', ') || 'none'}`,
      ...(initialAttributes.length > 0 ? { typedSearchAttributes: new TypedSearchAttributes(initialAttributes) } : {}),
    };
    return { workflowOptions, onConflict: onConflict ?? 'use-existing', onFinished: onFinished ?? 'fail' };
  }

  /**
   * Starts a conversation. Under an id already in use: a running conversation is returned unless onConflict is
   * 'fail'; a finished one is an error unless onFinished is 'use-existing' (then its handle is returned).
   */
  async start(options: StartConversationOptions): Promise<ConversationHandle> {
    const { workflowOptions, onConflict, onFinished } = await this.#prepare(options);
    const id = workflowOptions.workflowId;
    try {
      const handle = await this.client.workflow.start<typeof agentConversation>(WORKFLOW_TYPE, {
        ...workflowOptions,
        workflowIdConflictPolicy: onConflict === 'fail' ? 'FAIL' : 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        ...(this.#eagerStart ? { requestEagerStart: true } : {}),
      });
      return new ConversationHandle(this, handle);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw this.translate(err, id);
      // Both a running conflict under 'fail' and a finished run under REJECT_DUPLICATE land here; describe tells which.
      const status = await this.getHandle(id)
        .describe()
        .then((description) => description.status.name)
        .catch(() => undefined);
      if (status === undefined || !isClosed(status)) {
        if (onConflict === 'fail') throw new ConversationAlreadyExistsError(id, undefined, { cause: err });
        return this.getHandle(id);
      }
      if (onFinished === 'use-existing') return this.getHandle(id);
      throw new ConversationAlreadyExistsError(id, status.toLowerCase(), { cause: err });
    }
  }

  /** Starts a chat with its first message in one call (update-with-start) and returns the answer. */
  async startChat(options: StartConversationOptions & { message: string | ContentBlockParam[] }): Promise<{ handle: ConversationHandle; reply: UserMessageReply }> {
    const { message, ...rest } = options;
    const { workflowOptions } = await this.#prepare({ ...rest, chat: rest.chat ?? true });
    const startWorkflowOperation = new WithStartWorkflowOperation<typeof agentConversation>(WORKFLOW_TYPE, { ...workflowOptions, workflowIdConflictPolicy: 'USE_EXISTING' });
    try {
      const reply = await this.client.workflow.executeUpdateWithStart(sendMessageUpdate, { args: [{ content: message }], startWorkflowOperation });
      const handle = new ConversationHandle(this, await startWorkflowOperation.workflowHandle());
      // The first exchange may outlast its run (continue-as-new): the answer then comes from the next one.
      return { handle, reply: await handle.followReply(reply) };
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new MessageRefusedError(`Message refused: ${innermostMessage(err)}`, { cause: err });
      throw this.translate(err, workflowOptions.workflowId);
    }
  }

  /**
   * A new conversation that starts from another's transcript through turn N, e.g. to try a different prompt or tool.
   * The whole transcript counts, across every run of the source; the new conversation has its own single run.
   */
  async fork(sourceConversationId: string, options: ForkOptions): Promise<ConversationHandle> {
    const { turn, prompt, ...rest } = options;
    const source = this.getHandle(sourceConversationId);
    const transcript = await source.transcript();
    const record = transcript.turns.find((t) => t.turn === turn);
    if (!Number.isInteger(turn) || turn < 1 || !record) {
      throw new InvalidConversationOptionsError([`turn must be one of the source's turns (1 to ${transcript.turns.length}); got ${turn}`]);
    }
    // Through the turn's reply, plus the tool results that answered it.
    let end = record.messageIndex + 1;
    if (transcript.messages[end]?.role === 'user' && record.toolCalls.length > 0) end += 1;
    const messages = transcript.messages.slice(0, end).map((m) => ({ ...m }));
    const last = messages[messages.length - 1]!;
    if (prompt !== undefined) {
      if (last.role === 'user') {
        const content = typeof last.content === 'string' ? [{ type: 'text' as const, text: last.content }] : [...last.content];
        last.content = [...content, { type: 'text', text: prompt }];
      } else {
        messages.push({ role: 'user', content: prompt });
      }
    } else if (last.role !== 'user') {
      throw new InvalidConversationOptionsError([`turn ${turn} ended the exchange with an answer; give a prompt for the next user message`]);
    }
    const description = await source.describe();
    // The latest run's input: the options it was started with (continue-as-new passes them on), read back from
    // external storage when they went there.
    const sourceHistory = await resolvedHistory(this.client, await source.fetchHistory());
    const sourceInput = sourceHistory.events?.[0]?.workflowExecutionStartedEventAttributes?.input;
    const original = (await this.#decodeFirst<ConversationOptions>(sourceConversationId, sourceInput?.payloads ?? [])) ?? {};
    // `continuation` is what the source's latest run was carried into it with (continue-as-new): never a fork's.
    const { prompt: _p, messages: _m, continuation: _c, ...inherited } = original;
    // Code-execution results in the copied messages belong to a container the API wants back: the fork's first
    // call sends the one the source had named by then.
    const container = [...transcript.turns].reverse().find((t) => t.turn <= turn && t.container !== undefined)?.container ?? inherited.container;
    return this.start({
      ...inherited,
      ...(container !== undefined ? { container } : {}),
      ...rest,
      messages,
      conversationId: rest.conversationId ?? `${sourceConversationId}-fork-t${turn}-${randomUUID().slice(0, 8)}`,
      taskQueue: rest.taskQueue ?? description.taskQueue,
    });
  }

  getHandle(conversationId: string): ConversationHandle {
    return new ConversationHandle(this, this.client.workflow.getHandle<typeof agentConversation>(conversationId));
  }

  /**
   * Conversations matching a visibility query (default: all of this project's conversations), at most `limit`:
   * one row per conversation, its latest run (runs that continued as new are left out, and a conversation a retry
   * reset shows its newest run only).
   *
   * Order: as Temporal lists them (newest first) by default. `{ sortBy: 'cost' }` puts the most expensive first
   * (conversations of unknown cost last). Temporal's SQL visibility (the dev server, PostgreSQL, MySQL) has no
   * ORDER BY, so this sort happens here: every match is read first, up to `scanLimit` (default 10,000) of them, and
   * past that the most expensive of those read is returned. Narrow the query to keep it small, e.g.
   * `list("WorkflowType = 'agentConversation' AND AgentCostUsd >= 1", 20, { sortBy: 'cost' })`.
   */
  async list(query = `WorkflowType = '${WORKFLOW_TYPE}'`, limit = 100, options: ListConversationsOptions = {}): Promise<ConversationSummary[]> {
    const { sortBy = 'startTime', scanLimit = 10_000 } = options;
    if (sortBy !== 'startTime' && sortBy !== 'cost') throw new TypeError(`sortBy must be 'startTime' or 'cost', got ${JSON.stringify(sortBy)}`);
    if (!Number.isInteger(scanLimit) || scanLimit < 1) throw new TypeError(`scanLimit must be a positive whole number, got ${JSON.stringify(scanLimit)}`);
    const reading = sortBy === 'cost' ? Math.max(limit, scanLimit) : limit;
    const found: ConversationSummary[] = [];
    const seen = new Set<string>();
    for await (const execution of this.client.workflow.list({ query: latestRunsOnly(query), pageSize: Math.min(reading, 1000) })) {
      // Newest first: a conversation's first row is its latest run.
      if (seen.has(execution.workflowId)) continue;
      seen.add(execution.workflowId);
      const executionStatus = execution.status.name;
      const agentStatus = execution.typedSearchAttributes.get(AgentStatusKey);
      const costUsd = execution.typedSearchAttributes.get(AgentCostUsdKey);
      const closed = isClosed(executionStatus);
      found.push({
        conversationId: execution.workflowId,
        runId: execution.runId,
        status: agentStatus ?? executionStatus.toLowerCase(),
        executionStatus,
        statusStale: closed && agentStatus !== undefined && STILL_GOING.has(agentStatus),
        pendingApprovals: closed ? 0 : (execution.typedSearchAttributes.get(AgentPendingApprovalsKey) ?? 0),
        ...(costUsd !== undefined ? { costUsd } : {}),
        startTime: execution.startTime,
        ...(execution.closeTime ? { closeTime: execution.closeTime } : {}),
      });
      if (found.length >= reading) break;
    }
    // Array.prototype.sort is stable: equal costs keep Temporal's order.
    if (sortBy === 'cost') found.sort((a, b) => (b.costUsd ?? -Infinity) - (a.costUsd ?? -Infinity) || 0);
    return found.slice(0, limit);
  }

  /** Every running conversation waiting for a person, with one visibility query. */
  listAwaitingApproval(limit = 100): Promise<ConversationSummary[]> {
    return this.list(`WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' AND ${AgentStatusKey.name} = 'awaiting_approval'`, limit);
  }

  /**
   * Every call waiting for approval across conversations: one visibility query, then the pendingApprovals query of
   * each conversation found, a few at a time and each bounded by `queryTimeoutMs`, so one conversation whose task
   * queue has no worker costs that long once and is reported as unanswered, not waited on.
   */
  async listPendingApprovals(options: { limit?: number; queryTimeoutMs?: number; concurrency?: number } = {}): Promise<ConversationApprovals[]> {
    const { limit = 100, queryTimeoutMs = 5_000, concurrency = 8 } = options;
    const waiting = await this.listAwaitingApproval(limit);
    const found: ConversationApprovals[] = new Array(waiting.length);
    let next = 0;
    const queryNext = async (): Promise<void> => {
      for (let i = next++; i < waiting.length; i = next++) {
        const { conversationId, pendingApprovals } = waiting[i]!;
        try {
          found[i] = { conversationId, pendingApprovals, approvals: await this.getHandle(conversationId).pending({ timeoutMs: queryTimeoutMs }) };
        } catch (err) {
          found[i] = { conversationId, pendingApprovals, unanswered: err instanceof Error ? err.message : String(err) };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, waiting.length) }, queryNext));
    return found;
  }

  /** The first of a workflow's payloads, through the client's data converter: its codecs last to first, as the SDK does. */
  async #decodeFirst<T>(workflowId: string, payloads: Payload[]): Promise<T | undefined> {
    const { payloadCodecs, payloadConverter } = this.client.options.loadedDataConverter;
    const context: SerializationContext = { type: 'workflow', namespace: this.client.options.namespace, workflowId };
    let decoded = payloads;
    for (const codec of [...payloadCodecs].reverse()) decoded = await codec.decode(decoded, context);
    return decoded[0] ? payloadConverter.fromPayload<T>(decoded[0]) : undefined;
  }

  /** @internal Temporal's errors, as this API's. */
  translate(err: unknown, conversationId: string): Error {
    return translateError(err, conversationId);
  }
}
