// One conversation: its result, queries, decisions, messages and lifecycle.
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
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
} from '../workflows/definitions';
import { decisionShapeProblem } from '../workflows/approvals';
import type { agentConversation } from '../workflows/conversation';
import type {
  ApprovalDecision,
  ContentBlockParam,
  ConversationResult,
  ConversationState,
  DecideRequest,
  PendingApproval,
  Transcript,
  UserMessageReply,
} from '../workflows/types';
import type { EventSubscriber } from '../streaming/event-store';
import type { AgentClient } from './agent-client';
import { followApprovals } from './approvals';
import { boundedCall } from './bounded-call';
import { ConversationFinishedError, ConversationNotFoundError, DecisionRefusedError, MessageRefusedError, innermostMessage } from './errors';
import { completedSnapshot, exportConversation, type ConversationExport, type ConversationSnapshot } from './export';
import { checkOffset, liveEvents, LiveOutputUnavailableError, type StreamOptions } from './live';
import { retryConversation, type RetryConversationOptions, type RetryOutcome } from './retry';
import type { ConversationEvent, WorkflowEvent } from '../streaming/events';
import { workflowEventsOf } from '../replay';
import type { ReplayWorkerOptions } from '@temporalio/worker';
import type { ApprovalsOptions, DecisionOptions, QueryOptions } from './types';

type History = temporal.api.history.v1.IHistory;

export class ConversationHandle {
  constructor(
    private readonly agent: AgentClient,
    readonly workflow: WorkflowHandle<typeof agentConversation>,
  ) {}

  get conversationId(): string {
    return this.workflow.workflowId;
  }

  /** Whether stream() can be used: the client was made with an event store. */
  get hasLiveOutput(): boolean {
    return this.agent.events !== undefined;
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

  /**
   * Each call waiting for a person, once, as it appears; ends when the conversation ends (completed, failed,
   * cancelled, terminated), never with its failure: that comes from result(). With no worker running it waits for
   * one. Right after start() the model has not asked yet, so `pending()` is usually empty: loop over this instead.
   */
  approvals(options: ApprovalsOptions = {}): AsyncGenerator<PendingApproval, void, undefined> {
    return followApprovals(this, options);
  }

  /**
   * The conversation's live output: model text and tool input as they stream, and every turn, tool, approval and
   * chat message, as typed events in offset order from `fromOffset` (0: from the start, for a late subscriber too).
   * Ends when the run that is current at the call ends; `signal` stops it. Needs the client's event store.
   * Throws ConversationNotFoundError for an unknown id, RangeError for a bad offset, LiveOutputUnavailableError
   * without a store.
   */
  stream(options: StreamOptions = {}): AsyncGenerator<ConversationEvent, void, undefined> {
    checkOffset(options.fromOffset ?? 0);
    const subscriber = this.agent.events;
    if (!subscriber) throw new LiveOutputUnavailableError(this.conversationId);
    return this.#stream(subscriber, options);
  }

  async *#stream(subscriber: EventSubscriber, options: StreamOptions): AsyncGenerator<ConversationEvent, void, undefined> {
    const description = await this.describe();
    const runId = description.runId;
    const running = description.status.name === 'RUNNING';
    const run = this.agent.client.workflow.getHandle(this.conversationId, runId);
    // result() long-polls the server for the run's close; an error that is not the close (a dropped connection, a
    // server restart) is checked against describe(), so a stream never ends while its conversation still runs.
    const closed = async (signal: AbortSignal): Promise<void> => {
      if (!running) return;
      for (;;) {
        try {
          await this.agent.client.connection.withAbortSignal(signal, () => run.result());
          return;
        } catch {
          if (signal.aborted) return;
          const status = await run.describe().then(
            (d) => d.status.name,
            (err: unknown) => (err instanceof WorkflowNotFoundError ? 'GONE' : 'UNKNOWN'),
          );
          if (status !== 'RUNNING' && status !== 'UNKNOWN') return;
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
      }
    };
    // A run that closes while we watch gets 15 s for its last events to be stored: a publisher keeps an event queued
    // up to 10 s while the store is unreachable, and waits up to 5 s for its ack.
    yield* liveEvents({ conversationId: this.conversationId, subscriber, runId, closed, closingGraceMs: running ? 15_000 : 0 }, options);
  }

  /**
   * The workflow's own live-output events (turns, tools, approvals, chat messages, the end) regenerated from the
   * conversation's history by replaying it — the same events it published, also after the event store has dropped
   * them (model text deltas are not in history). Offsets are positions in the run. Bundles the workflow code unless
   * given `workflowBundle`, so it takes seconds.
   */
  async workflowEvents(options: Pick<ReplayWorkerOptions, 'workflowBundle' | 'workflowsPath'> = {}): Promise<WorkflowEvent[]> {
    const history = await this.fetchHistory();
    const { runId } = await this.describe();
    return workflowEventsOf(history, { ...options, workflowId: this.conversationId, runId });
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
  approve(toolUseId: string, decision: { by: string; input?: unknown; reason?: string }, options: DecisionOptions = {}): Promise<ApprovalDecision> {
    return this.#decide({ toolUseId, decision: 'approve', ...decision }, options);
  }

  reject(toolUseId: string, decision: { by: string; reason: string }, options: DecisionOptions = {}): Promise<ApprovalDecision> {
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
   * Carries on a conversation that failed (or was cancelled or terminated), once the cause is fixed: Temporal's
   * reset to just before the failure that ended the run, and the new run repeats only the step that failed. Its
   * transcript is kept and tools whose results are recorded do not run again (see retry.ts).
   */
  retry(options: RetryConversationOptions | string = {}): Promise<RetryOutcome> {
    return retryConversation(this, this.agent, typeof options === 'string' ? { reason: options } : options);
  }

  /**
   * State and transcript together: from the result when the conversation completed (no worker needed), otherwise by
   * query, so a stopped worker costs `timeoutMs` and a NoWorkerAnsweredError rather than the server's 30 s.
   */
  async snapshot(options: QueryOptions = {}): Promise<ConversationSnapshot> {
    const fromResult = await completedSnapshot(this, await this.describe());
    if (fromResult) return fromResult;
    const [transcript, state] = await Promise.all([this.transcript(options), this.state(options)]);
    return { transcript, state };
  }

  /** One file's worth for a bug report: state, the transcript and the full history (as `temporal workflow show` prints it). */
  export(options: QueryOptions = { timeoutMs: 5_000 }): Promise<ConversationExport> {
    return exportConversation(this, options);
  }

  async #decide(
    request: { toolUseId: string; decision: 'approve' | 'reject'; by: string; reason?: string; input?: unknown },
    { timeoutMs }: DecisionOptions,
  ): Promise<ApprovalDecision> {
    try {
      return await boundedCall(this.agent.client, this.conversationId, () => this.workflow.executeUpdate(decideUpdate, { args: [request] }), timeoutMs, 'the decision');
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
      return await boundedCall(this.agent.client, this.conversationId, call, options.timeoutMs, 'a query');
    } catch (err) {
      throw this.agent.translate(err, this.conversationId);
    }
  }
}
