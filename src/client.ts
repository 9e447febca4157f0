// The backend-facing API: start conversations, decide approvals, follow progress. A typed layer over
// @temporalio/client that turns Temporal's errors into ones that say what went wrong.
import {
  Client,
  Connection,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  ServiceError,
  isGrpcCancelledError,
  isGrpcDeadlineError,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import Long from 'long';
import { ApplicationFailure, CancelledFailure, TypedSearchAttributes } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { loadTemporalConfig } from './config';
import { transcriptLines } from './format';
import { AgentPendingApprovalsKey, AgentStatusKey } from './search-attributes';
import {
  approveSignal,
  decideUpdate,
  endConversationSignal,
  pendingApprovalsQuery,
  rejectSignal,
  sendMessageUpdate,
  stateQuery,
  transcriptQuery,
  userMessageSignal,
} from './workflows/definitions';
import { decisionShapeProblem } from './workflows/approvals';
import type { agentConversation } from './workflows/conversation';
import { checkConversationOptions } from './workflows/options';
import {
  DEFAULT_TASK_QUEUE,
  WORKFLOW_TYPE,
  type ApprovalDecision,
  type ContentBlockParam,
  type ConversationOptions,
  type ConversationResult,
  type ConversationState,
  type DecideRequest,
  type PendingApproval,
  type Transcript,
  type UserMessageReply,
} from './workflows/types';

export class AgentClientError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
/** The start options break a rule; `problems` lists each. Nothing was started. */
export class InvalidConversationOptionsError extends AgentClientError {
  constructor(readonly problems: string[]) {
    super(`Invalid conversation options: ${problems.join('; ')}`);
  }
}
/** A query got no answer in time: queries run on a worker, and none served the conversation's task queue. */
export class NoWorkerAnsweredError extends AgentClientError {
  constructor(
    readonly conversationId: string,
    readonly timeoutMs: number,
    /** What went unanswered: 'a query' or 'the decision' (an Update, which may still apply once a worker runs). */
    readonly request: 'a query' | 'the decision' = 'a query',
    options?: ErrorOptions,
  ) {
    super(
      `No worker answered ${request} on conversation ${conversationId} within ${timeoutMs / 1000}s; is a worker running on its task queue?` +
        (request === 'the decision'
          ? ' The decision is not confirmed: the server may still hand it to the next worker, or drop it; to be sure it' +
            ' applies, send it as a signal too (a second identical decision is ignored).'
          : ''),
      options,
    );
  }
}
export class ConversationNotFoundError extends AgentClientError {
  constructor(readonly conversationId: string, options?: ErrorOptions) {
    super(`No conversation with id ${conversationId}`, options);
  }
}
export class ConversationAlreadyExistsError extends AgentClientError {
  constructor(readonly conversationId: string, options?: ErrorOptions) {
    super(`A conversation with id ${conversationId} already exists; choose another id or use onConflict: 'use-existing'`, options);
  }
}
export class ConversationFinishedError extends AgentClientError {
  constructor(readonly conversationId: string, readonly status: string, options?: ErrorOptions) {
    super(`Conversation ${conversationId} has finished (${status}); it takes no more decisions or messages`, options);
  }
}
/** The workflow refused an approval decision (unknown, already decided or expired id; edit breaking the schema). */
export class DecisionRefusedError extends AgentClientError {
  constructor(readonly toolUseId: string, reason: string, options?: ErrorOptions) {
    super(`Decision on ${toolUseId} refused: ${reason}`, options);
  }
}
export class MessageRefusedError extends AgentClientError {}
/** The conversation was cancelled (handle.cancel(), or the Temporal UI/CLI). */
export class ConversationCancelledError extends AgentClientError {
  constructor(readonly conversationId: string, options?: ErrorOptions) {
    super(`Conversation ${conversationId} was cancelled`, options);
  }
}
/** The conversation failed (model error, fatal tool error, approval timeout with onTimeout: 'fail'…). */
export class ConversationFailedError extends AgentClientError {
  constructor(
    readonly conversationId: string,
    message: string,
    readonly failureType: string | undefined,
    options?: ErrorOptions,
  ) {
    super(`Conversation ${conversationId} failed: ${message}`, options);
  }
}

export interface StartConversationOptions extends ConversationOptions {
  /** Your id for the conversation (the workflow id). Default: a random one. */
  conversationId?: string;
  taskQueue?: string;
  /** Starting under an id already in use: return that conversation (default), or throw ConversationAlreadyExistsError. */
  onConflict?: 'use-existing' | 'fail';
}

export interface QueryOptions {
  /** Give up after this long (NoWorkerAnsweredError) instead of waiting for the server's own deadline. */
  timeoutMs?: number;
}

/** One conversation waiting for a person, as `listPendingApprovals` finds it. */
export interface ConversationApprovals {
  conversationId: string;
  /** The count its AgentPendingApprovals search attribute holds (known without a worker). */
  pendingApprovals: number;
  /** The calls waiting, from the pendingApprovals query; absent when no worker answered it. */
  approvals?: PendingApproval[];
  /** Why `approvals` is absent (no worker answered in time, the conversation ended meanwhile, …). */
  unanswered?: string;
}

export interface ConversationSummary {
  conversationId: string;
  runId: string;
  status: string;
  pendingApprovals: number;
  startTime: Date;
  summary?: string;
}

type History = temporal.api.history.v1.IHistory;

export interface RetryOutcome {
  handle: ConversationHandle;
  /** The run that carries on. */
  runId: string;
  failedRunId: string;
  /** The WorkflowTaskCompleted event the new run starts from. */
  resetToEventId: number;
}

export interface ConversationExport {
  conversationId: string;
  runId: string;
  status: string;
  exportedAt: string;
  transcript?: Transcript;
  /** The transcript as plain text, one line per block. */
  readable?: string[];
  /** The history as `temporal workflow show --output json` prints it; `durable-claude replay --file` reads it. */
  history: unknown;
}

export interface ForkOptions extends Omit<StartConversationOptions, 'prompt' | 'messages'> {
  /** Keep the transcript through this turn (its reply, and its tool results when it called tools). */
  turn: number;
  /** A new user message after the kept part (required when turn N ended the exchange). */
  prompt?: string;
}

const EventType = temporal.api.enums.v1.EventType;

/** Where `retry` goes back to: the workflow task that scheduled the last failing activity, else the one before the last. */
export function resetPointOf(history: History): number | undefined {
  const events = history.events ?? [];
  const idOf = (event: temporal.api.history.v1.IHistoryEvent) => Number(event.eventId);
  const byId = new Map(events.map((event) => [idOf(event), event]));
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i]!;
    const scheduledEventId = event.activityTaskFailedEventAttributes?.scheduledEventId ?? event.activityTaskTimedOutEventAttributes?.scheduledEventId;
    if (scheduledEventId === undefined || scheduledEventId === null) continue;
    const scheduled = byId.get(Number(scheduledEventId));
    const completedTask = scheduled?.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId;
    if (completedTask !== undefined && completedTask !== null) return Number(completedTask);
  }
  const completed = events.filter((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED).map(idOf);
  return completed.length >= 2 ? completed[completed.length - 2] : completed[0];
}

export interface AgentClientOptions {
  client?: Client;
  connection?: Connection;
  namespace?: string;
  taskQueue?: string;
}

function summaryOf(options: ConversationOptions): string {
  const first = options.prompt ?? (typeof options.messages?.[0]?.content === 'string' ? options.messages[0].content : 'conversation');
  const words = first.replace(/\s+/g, ' ').trim();
  return words.length > 80 ? `${words.slice(0, 77)}…` : words;
}

function causeChain(err: unknown): Error[] {
  const chain: Error[] = [];
  let current: unknown = err;
  while (current instanceof Error && chain.length < 10) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

function innermostMessage(err: unknown): string {
  const chain = causeChain(err);
  const app = chain.find((e): e is ApplicationFailure => e instanceof ApplicationFailure);
  return app?.message ?? chain[chain.length - 1]?.message ?? String(err);
}

export class ConversationHandle {
  constructor(
    private readonly agent: AgentClient,
    readonly workflow: WorkflowHandle<typeof agentConversation>,
  ) {}

  get conversationId(): string {
    return this.workflow.workflowId;
  }

  /** Waits for the conversation to end. Throws ConversationFailedError when it failed. */
  async result(): Promise<ConversationResult> {
    try {
      return await this.workflow.result();
    } catch (err) {
      throw this.agent.translate(err, this.conversationId);
    }
  }

  // Queries run on a worker: with no worker on the task queue the server holds them until its own deadline, so
  // callers that must not hang pass `timeoutMs` and get NoWorkerAnsweredError instead.
  transcript(options: QueryOptions = {}): Promise<Transcript> {
    return this.#query(() => this.workflow.query(transcriptQuery), options);
  }

  pending(options: QueryOptions = {}): Promise<PendingApproval[]> {
    return this.#query(() => this.workflow.query(pendingApprovalsQuery), options);
  }

  state(options: QueryOptions = {}): Promise<ConversationState> {
    return this.#query(() => this.workflow.query(stateQuery), options);
  }

  async describe(): Promise<WorkflowExecutionDescription> {
    return this.#query(() => this.workflow.describe());
  }

  /**
   * Approves a pending tool call (optionally with edited input) and returns the recorded decision. The decide Update
   * runs on a worker: with `timeoutMs`, a missing worker is a NoWorkerAnsweredError instead of a wait.
   */
  approve(toolUseId: string, decision: { by: string; input?: unknown; reason?: string }, options: QueryOptions = {}): Promise<ApprovalDecision> {
    return this.#decide({ toolUseId, decision: 'approve', ...decision }, options);
  }

  reject(toolUseId: string, decision: { by: string; reason: string }, options: QueryOptions = {}): Promise<ApprovalDecision> {
    return this.#decide({ toolUseId, decision: 'reject', ...decision }, options);
  }

  /**
   * Sends a decision as a signal: Temporal stores it even while no worker runs, and the workflow applies it when one
   * does. Unlike approve/reject nothing comes back; a decision the workflow cannot apply is logged and ignored.
   */
  async signalDecision(request: DecideRequest): Promise<void> {
    const { decision, ...rest } = request;
    const problem = decisionShapeProblem(rest, decision === 'approve');
    if (problem) throw new DecisionRefusedError(rest.toolUseId, problem);
    try {
      await this.workflow.signal(decision === 'approve' ? approveSignal : rejectSignal, rest);
    } catch (err) {
      throw await this.#finishedOr(err);
    }
  }

  /** Sends the next user message of a chat and waits for the model's answer. */
  async sendMessage(content: string | ContentBlockParam[]): Promise<UserMessageReply> {
    try {
      return await this.workflow.executeUpdate(sendMessageUpdate, { args: [{ content }] });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new MessageRefusedError(`Message refused: ${innermostMessage(err)}`, { cause: err });
      throw await this.#finishedOr(err);
    }
  }

  /** Queues a user message without waiting (a signal). */
  async postMessage(content: string | ContentBlockParam[]): Promise<void> {
    await this.#query(() => this.workflow.signal(userMessageSignal, { content }));
  }

  /** Ends a chat after the current exchange. */
  async end(by?: string): Promise<void> {
    await this.#query(() => this.workflow.signal(endConversationSignal, by ? { by } : undefined));
  }

  /** Cancels the conversation: in-flight model calls and tools are cancelled, approval waits end. */
  async cancel(): Promise<void> {
    await this.#query(() => this.workflow.cancel());
  }

  /** The conversation's full Temporal history (of its latest run). */
  fetchHistory(): Promise<History> {
    return this.#query(() => this.workflow.fetchHistory());
  }

  /**
   * Carries on a conversation that failed, once the cause is fixed: Temporal's reset, to the last workflow task that
   * completed before the failing call was scheduled. Its transcript is kept and tools that already ran do not run again.
   */
  async retry(reason = 'durable-claude retry: carry on after the cause was fixed'): Promise<RetryOutcome> {
    const description = await this.describe();
    const status = description.status.name;
    if (status === 'RUNNING') throw new AgentClientError(`Conversation ${this.conversationId} is still running; only a failed conversation can be retried`);
    if (status === 'COMPLETED') {
      throw new AgentClientError(`Conversation ${this.conversationId} completed; nothing to retry (fork it to try something else)`);
    }
    const history = await this.fetchHistory();
    const resetTo = resetPointOf(history);
    if (resetTo === undefined) throw new AgentClientError(`Conversation ${this.conversationId} has no completed workflow task to go back to`);
    const response: temporal.api.workflowservice.v1.IResetWorkflowExecutionResponse = await this.agent.client.workflowService.resetWorkflowExecution({
      namespace: this.agent.client.options.namespace,
      workflowExecution: { workflowId: this.conversationId, runId: description.runId },
      reason,
      workflowTaskFinishEventId: Long.fromNumber(resetTo),
      requestId: randomUUID(),
      resetReapplyType: temporal.api.enums.v1.ResetReapplyType.RESET_REAPPLY_TYPE_SIGNAL,
    });
    return { handle: this.agent.getHandle(this.conversationId), runId: response.runId ?? '', resetToEventId: resetTo, failedRunId: description.runId };
  }

  /**
   * State and transcript together: from the result when the conversation completed (no worker needed), otherwise by
   * query, so a stopped worker costs `timeoutMs` and a NoWorkerAnsweredError rather than the server's 30 s.
   */
  async snapshot(options: QueryOptions = {}): Promise<{ state: ConversationState; transcript: Transcript }> {
    const fromResult = await this.#completedSnapshot(await this.describe());
    if (fromResult) return fromResult;
    const [transcript, state] = await Promise.all([this.transcript(options), this.state(options)]);
    return { transcript, state };
  }

  /** One file's worth for a bug report: state, the transcript and the full history (as `temporal workflow show` prints it). */
  async export(options: QueryOptions = { timeoutMs: 5_000 }): Promise<ConversationExport> {
    const description = await this.describe();
    const history = await this.fetchHistory();
    // A failed conversation whose worker is gone has no transcript to give; the history still holds everything.
    const transcript = (await this.#completedSnapshot(description))?.transcript ?? (await this.transcript(options).catch(() => undefined));
    return {
      conversationId: this.conversationId,
      runId: description.runId,
      status: description.status.name.toLowerCase(),
      exportedAt: new Date().toISOString(),
      ...(transcript ? { transcript, readable: transcriptLines(transcript) } : {}),
      history: JSON.parse(historyToJSON(history)) as unknown,
    };
  }

  /** A completed conversation's state and transcript, from its result; undefined otherwise (or when omitted). */
  async #completedSnapshot(description: WorkflowExecutionDescription): Promise<{ state: ConversationState; transcript: Transcript } | undefined> {
    if (description.status.name !== 'COMPLETED') return undefined;
    const result = await this.result();
    if (!result.transcript) return undefined;
    const { transcript, ...summary } = result;
    return { state: { status: result.status, turn: result.turns, pendingApprovals: 0, usage: result.usage, result: summary }, transcript };
  }

  async #decide(
    request: { toolUseId: string; decision: 'approve' | 'reject'; by: string; reason?: string; input?: unknown },
    { timeoutMs }: QueryOptions,
  ): Promise<ApprovalDecision> {
    try {
      return await this.#bounded(() => this.workflow.executeUpdate(decideUpdate, { args: [request] }), timeoutMs, 'the decision');
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new DecisionRefusedError(request.toolUseId, innermostMessage(err), { cause: err });
      throw await this.#finishedOr(err);
    }
  }

  async #finishedOr(err: unknown): Promise<Error> {
    const translated = this.agent.translate(err, this.conversationId);
    if (translated instanceof ConversationNotFoundError) {
      // Updates and signals to a closed workflow fail as "not found"; say it finished when it exists.
      try {
        const description = await this.workflow.describe();
        if (description.status.name !== 'RUNNING') return new ConversationFinishedError(this.conversationId, description.status.name.toLowerCase(), { cause: err });
      } catch {
        return translated;
      }
    }
    return translated;
  }

  async #query<T>(call: () => Promise<T>, options: QueryOptions = {}): Promise<T> {
    try {
      return await this.#bounded(call, options.timeoutMs, 'a query');
    } catch (err) {
      throw this.agent.translate(err, this.conversationId);
    }
  }

  /**
   * Runs a call that a worker must answer, within `timeoutMs` when given. Past the deadline every failure is the
   * deadline in some form — grpc-js reports some as CANCELLED, the server as its own timeout, an Update as
   * WorkflowUpdateRPCTimeoutOrCancelledError — since nothing else cancels these calls.
   */
  async #bounded<T>(call: () => Promise<T>, timeoutMs: number | undefined, request: 'a query' | 'the decision'): Promise<T> {
    if (timeoutMs === undefined) return call();
    const deadline = Date.now() + timeoutMs;
    try {
      return await this.agent.client.withDeadline(deadline, call);
    } catch (err) {
      const timedOut =
        isGrpcDeadlineError(err) ||
        isGrpcCancelledError(err) ||
        err instanceof WorkflowUpdateRPCTimeoutOrCancelledError ||
        (err instanceof ServiceError && Date.now() >= deadline);
      if (timedOut) throw new NoWorkerAnsweredError(this.conversationId, timeoutMs, request, { cause: err });
      throw err;
    }
  }
}

export class AgentClient {
  readonly client: Client;
  readonly taskQueue: string;
  #searchAttributesRegistered: Promise<boolean> | undefined;

  constructor(options: AgentClientOptions = {}) {
    this.client = options.client ?? new Client({ ...(options.connection ? { connection: options.connection } : {}), namespace: options.namespace ?? 'default' });
    this.taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
  }

  /** Connects with the standard Temporal environment settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS, API key). */
  static async connect(options: { taskQueue?: string } = {}): Promise<AgentClient> {
    const config = loadTemporalConfig();
    const connection = await Connection.connect(config.connectionOptions as Parameters<typeof Connection.connect>[0]);
    return new AgentClient({ connection, namespace: config.namespace, ...options });
  }

  /** Whether the namespace has the AgentStatus search attributes (registered by `durable-claude dev` and the tests). */
  searchAttributesRegistered(): Promise<boolean> {
    this.#searchAttributesRegistered ??= this.client.connection.operatorService
      .listSearchAttributes({ namespace: this.client.options.namespace })
      .then(({ customAttributes }) => AgentStatusKey.name in (customAttributes ?? {}) && AgentPendingApprovalsKey.name in (customAttributes ?? {}))
      .catch(() => false);
    return this.#searchAttributesRegistered;
  }

  async #prepare(options: StartConversationOptions) {
    const { conversationId, taskQueue, onConflict, ...conversation } = options;
    const indexed = conversation.searchAttributes ?? (await this.searchAttributesRegistered());
    const input: ConversationOptions = { ...conversation, searchAttributes: indexed };
    const check = checkConversationOptions(input);
    if (!check.ok) throw new InvalidConversationOptionsError(check.errors);
    if (conversationId !== undefined && (typeof conversationId !== 'string' || conversationId.trim() === '' || conversationId.length > 255)) {
      throw new InvalidConversationOptionsError(['conversationId must be a non-empty string of at most 255 characters']);
    }
    const workflowOptions = {
      taskQueue: taskQueue ?? this.taskQueue,
      workflowId: conversationId ?? `conversation-${randomUUID()}`,
      args: [input] as [ConversationOptions],
      staticSummary: summaryOf(conversation),
      staticDetails: `model ${check.options.model} · tools: ${check.options.tools.join(', ') || 'none'}`,
      ...(indexed ? { typedSearchAttributes: new TypedSearchAttributes([{ key: AgentStatusKey, value: 'running' }, { key: AgentPendingApprovalsKey, value: 0 }]) } : {}),
    };
    return { workflowOptions, onConflict: onConflict ?? 'use-existing' };
  }

  /** Starts a conversation (or, under an id already in use, returns it unless onConflict is 'fail'). */
  async start(options: StartConversationOptions): Promise<ConversationHandle> {
    const { workflowOptions, onConflict } = await this.#prepare(options);
    try {
      const handle = await this.client.workflow.start<typeof agentConversation>(WORKFLOW_TYPE, {
        ...workflowOptions,
        workflowIdConflictPolicy: onConflict === 'fail' ? 'FAIL' : 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      return new ConversationHandle(this, handle);
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        if (onConflict === 'fail') throw new ConversationAlreadyExistsError(workflowOptions.workflowId, { cause: err });
        return this.getHandle(workflowOptions.workflowId);
      }
      throw this.translate(err, workflowOptions.workflowId);
    }
  }

  /** Starts a chat with its first message in one call (update-with-start) and returns the answer. */
  async startChat(options: StartConversationOptions & { message: string | ContentBlockParam[] }): Promise<{ handle: ConversationHandle; reply: UserMessageReply }> {
    const { message, ...rest } = options;
    const { workflowOptions } = await this.#prepare({ ...rest, chat: rest.chat ?? true });
    const startWorkflowOperation = new WithStartWorkflowOperation<typeof agentConversation>(WORKFLOW_TYPE, { ...workflowOptions, workflowIdConflictPolicy: 'USE_EXISTING' });
    try {
      const reply = await this.client.workflow.executeUpdateWithStart(sendMessageUpdate, { args: [{ content: message }], startWorkflowOperation });
      return { handle: new ConversationHandle(this, await startWorkflowOperation.workflowHandle()), reply };
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new MessageRefusedError(`Message refused: ${innermostMessage(err)}`, { cause: err });
      throw this.translate(err, workflowOptions.workflowId);
    }
  }

  /** A new conversation that starts from another's transcript through turn N, e.g. to try a different prompt or tool. */
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
    const sourceInput = (await source.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes?.input;
    const original = sourceInput?.payloads?.[0] ? (JSON.parse(Buffer.from(sourceInput.payloads[0].data ?? []).toString('utf8')) as ConversationOptions) : {};
    const { prompt: _p, messages: _m, ...inherited } = original;
    return this.start({
      ...inherited,
      ...rest,
      messages,
      conversationId: rest.conversationId ?? `${sourceConversationId}-fork-t${turn}-${randomUUID().slice(0, 8)}`,
      taskQueue: rest.taskQueue ?? description.taskQueue,
    });
  }

  getHandle(conversationId: string): ConversationHandle {
    return new ConversationHandle(this, this.client.workflow.getHandle<typeof agentConversation>(conversationId));
  }

  /** Conversations matching a visibility query (default: all of this project's conversations). */
  async list(query = `WorkflowType = '${WORKFLOW_TYPE}'`, limit = 100): Promise<ConversationSummary[]> {
    const found: ConversationSummary[] = [];
    for await (const execution of this.client.workflow.list({ query, pageSize: Math.min(limit, 1000) })) {
      const status = execution.typedSearchAttributes.get(AgentStatusKey) ?? execution.status.name.toLowerCase();
      found.push({
        conversationId: execution.workflowId,
        runId: execution.runId,
        status,
        pendingApprovals: execution.typedSearchAttributes.get(AgentPendingApprovalsKey) ?? 0,
        startTime: execution.startTime,
      });
      if (found.length >= limit) break;
    }
    return found;
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

  /** @internal Temporal's errors, as this API's. */
  translate(err: unknown, conversationId: string): Error {
    if (err instanceof AgentClientError) return err;
    if (err instanceof WorkflowNotFoundError) return new ConversationNotFoundError(conversationId, { cause: err });
    if (err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure) return new ConversationCancelledError(conversationId, { cause: err });
    if (err instanceof WorkflowFailedError) {
      const app = causeChain(err).find((e): e is ApplicationFailure => e instanceof ApplicationFailure);
      return new ConversationFailedError(conversationId, innermostMessage(err), app?.type ?? err.cause?.name, { cause: err });
    }
    const chain = causeChain(err);
    if (chain.some((e) => /not found/i.test(e.message) && /workflow/i.test(e.message))) return new ConversationNotFoundError(conversationId, { cause: err });
    return err instanceof Error ? err : new Error(String(err));
  }
}
