// One conversation: its result, queries, decisions, messages and lifecycle.
import { ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import {
  approveSignal,
  awaitReplyUpdate,
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
import { sliceByBytes } from '../workflows/transcript-pages';
import { TranscriptArchiveReader } from '../storage/transcript-archive';
import type { agentConversation } from '../workflows/conversation';
import type {
  ApprovalDecision,
  ApprovalProgress,
  ContentBlockParam,
  ConversationResult,
  ConversationState,
  DecideRequest,
  PendingApproval,
  Transcript,
  TranscriptPageRequest,
  TranscriptSegment,
  UserMessageReply,
} from '../workflows/types';
import type { EventSubscriber } from '../streaming/event-store';
import type { AgentClient } from './agent-client';
import { followApprovals } from './approvals';
import { boundedCall, readyQuery } from './bounded-call';
import { ConversationFinishedError, ConversationNotFoundError, DecisionRefusedError, MessageRefusedError, innermostMessage } from './errors';
import { completedSnapshot, exportConversation, type ConversationExport, type ConversationSnapshot } from './export';
import { abortableDelay, checkOffset, liveEvents, LiveOutputUnavailableError, type StreamOptions } from './live';
import { chainHistories, type RunHistory } from './run-chain';
import { retryConversation, type RetryConversationOptions, type RetryOutcome } from './retry';
import type { ConversationEvent, WorkflowEvent } from '../streaming/events';
import { replayDataConverterOf, workflowEventsOf } from '../replay';
import type { ReplayWorkerOptions } from '@temporalio/worker';
import type { ApprovalsOptions, DecisionOptions, QueryOptions, TranscriptPageOptions, TranscriptReadOptions } from './types';

type History = temporal.api.history.v1.IHistory;

/**
 * Who decides: `by` (a user id, an email, a service name) or a signed `token`, or both; with a token the worker's
 * verified subject is recorded, whatever `by` says.
 */
type DecisionFields = { by: string; token?: string } | { by?: string; token: string };

/** A transcript page's size when the caller gives none: well under gRPC's 4 MB message limit. */
export const DEFAULT_TRANSCRIPT_PAGE_BYTES = 1_000_000;

/**
 * Whether an Update failed because the run it went to closed under it by continuing as new (the server routes a
 * retry to the latest run). Admitted-not-accepted Updates are retried by the server and SDK themselves; what can
 * still reach us is the "workflow is closing" error once those retries ran out, or "not found" for the closed run.
 */
function runClosedUnder(err: unknown): boolean {
  if (err instanceof WorkflowNotFoundError) return true;
  if (err instanceof ServiceError) return /closing|already completed/i.test(`${err.message} ${err.cause instanceof Error ? err.cause.message : ''}`);
  return false;
}

/** An Update that the run accepted but did not answer before it continued as new (Temporal fails it so). */
function acceptedThenContinued(err: unknown): boolean {
  return err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === 'AcceptedUpdateCompletedWorkflow';
}

export class ConversationHandle {
  constructor(
    private readonly agent: AgentClient,
    readonly workflow: WorkflowHandle<typeof agentConversation>,
  ) {}

  get conversationId(): string {
    return this.workflow.workflowId;
  }

  /**
   * This handle's start was eager: the server handed the conversation's first workflow task straight to a worker of
   * this process (AgentClientOptions.eagerStart). False for a handle not made by start().
   */
  get eagerlyStarted(): boolean {
    return (this.workflow as { eagerlyStarted?: boolean }).eagerlyStarted === true;
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
  /**
   * The whole transcript, across every run of the conversation, read in pages of at most `pageBytes` (default
   * ~1 MB) so no answer meets gRPC's message-size limit; `timeoutMs` bounds each page.
   */
  async transcript(options: TranscriptReadOptions = {}): Promise<Transcript> {
    const maxBytes = options.pageBytes ?? DEFAULT_TRANSCRIPT_PAGE_BYTES;
    // Messages are only ever appended; a transcript that got shorter between two pages was rewritten: read again.
    for (let attempt = 0; ; attempt++) {
      let first: Transcript | undefined;
      let firstPosition: NonNullable<Transcript['page']> | undefined;
      const messages: Transcript['messages'] = [];
      for (let fromMessage = 0; ; ) {
        const page = await this.transcriptPage({ fromMessage, maxBytes }, options);
        // A worker without paged reads answers with the whole transcript and no page.
        if (!page.page) return page;
        const { page: position, ...rest } = page;
        if (position.fromMessage !== fromMessage || position.totalMessages < messages.length) break;
        // Turn records, the approval audit and retries ride on the first page; later pages are messages only.
        first ??= rest;
        messages.push(...rest.messages);
        firstPosition ??= position;
        if (position.nextMessage === null) {
          // Turn records and the approval audit of a long conversation come in slices too, after the messages.
          const after = { totalMessages: position.totalMessages, maxBytes, options };
          const turns = [...first.turns, ...(await this.#slicesFrom('turns', firstPosition.nextTurn ?? null, after))];
          const approvals = [...first.approvals, ...(await this.#slicesFrom('approvals', firstPosition.nextApproval ?? null, after))];
          return { ...first, messages, turns, approvals };
        }
        if (position.nextMessage <= fromMessage) throw new Error(`transcript page from message ${fromMessage} did not move on (next ${position.nextMessage})`);
        fromMessage = position.nextMessage;
      }
      if (attempt >= 2) throw new Error(`the transcript of conversation ${this.conversationId} kept changing while it was read`);
    }
  }

  /** Turn records or audit decisions from index `from` to the end, slice by slice (pages past the last message). */
  async #slicesFrom<K extends 'turns' | 'approvals'>(
    kind: K,
    from: number | null,
    { totalMessages, maxBytes, options }: { totalMessages: number; maxBytes: number; options: TranscriptReadOptions },
  ): Promise<Transcript[K]> {
    const items: Array<Transcript[K][number]> = [];
    const [fromKey, nextKey] = kind === 'turns' ? (['fromTurn', 'nextTurn'] as const) : (['fromApproval', 'nextApproval'] as const);
    while (from !== null) {
      const slice = await this.transcriptPage({ fromMessage: totalMessages, [fromKey]: from, maxBytes }, options);
      items.push(...slice[kind]);
      const next = slice.page?.[nextKey] ?? null;
      if (next !== null && next <= from) throw new Error(`transcript ${kind} from ${from} did not move on (next ${next})`);
      from = next;
    }
    return items as Transcript[K];
  }

  /**
   * One page of the transcript: messages from `fromMessage`, as many whole ones as fit `maxBytes` (at least one).
   * A long conversation's start may be archived (its workflow no longer holds it); such a page is read from the
   * archive in the client's external storage, which must be the workers'.
   */
  async transcriptPage(request: TranscriptPageRequest, options: TranscriptPageOptions = {}): Promise<Transcript> {
    const answer = await this.#ask(() => this.workflow.query(transcriptQuery, request), options);
    const archived = answer.page?.archived;
    if (!answer.page || !archived || options.readArchive === false) return answer;
    const fromMessage = request.fromMessage ?? 0;
    const fromTurn = request.fromTurn ?? (fromMessage === 0 ? 0 : undefined);
    const maxBytes = request.maxBytes ?? DEFAULT_TRANSCRIPT_PAGE_BYTES;
    const page = { ...answer.page };
    let { messages, turns } = answer;
    if (fromMessage < archived.messages) {
      const segment = await this.#archive().segmentWith(archived.last, fromMessage, 'message');
      const slice = sliceByBytes(segment.messages, fromMessage - segment.fromMessage, maxBytes);
      messages = slice.items;
      const next = slice.next === null ? segment.fromMessage + segment.messages.length : segment.fromMessage + slice.next;
      page.nextMessage = next < page.totalMessages ? next : null;
    }
    if (fromTurn !== undefined && fromTurn < archived.turns) {
      const segment = await this.#archive().segmentWith(archived.last, fromTurn, 'turn');
      const slice = sliceByBytes(segment.turns, fromTurn - segment.fromTurn, maxBytes);
      turns = slice.items;
      // Past a segment comes the next one, or the workflow's own turns (a run keeps at least its last one).
      page.nextTurn = segment.fromTurn + (slice.next ?? segment.turns.length);
    }
    return { ...answer, messages, turns, page };
  }

  /**
   * A transcript as a workflow with an archived start holds it (`result.transcriptTail`, the unpaged query's answer),
   * made whole: the archived messages and turn records read from storage go first. No worker is needed. Given a
   * transcript without `page.archived`, returns it as it is.
   */
  async withArchivedStart(held: Transcript): Promise<Transcript> {
    const archived = held.page?.archived;
    if (!archived) return held;
    const segments: TranscriptSegment[] = [];
    const reader = this.#archive();
    for (let index = archived.messages - 1; index >= 0; ) {
      const segment = await reader.segmentWith(archived.last, index, 'message');
      segments.unshift(segment);
      index = segment.fromMessage - 1;
    }
    // Turn records: the segments read hold them all unless a segment archived turns alone (no messages).
    let turns = segments.flatMap((segment) => segment.turns);
    if (turns.length !== archived.turns) {
      turns = [];
      for (let index = archived.turns - 1; index >= 0; ) {
        const segment = await reader.segmentWith(archived.last, index, 'turn');
        turns.unshift(...segment.turns);
        index = segment.fromTurn - 1;
      }
    }
    const { page: _page, ...rest } = held;
    return { ...rest, messages: [...segments.flatMap((segment) => segment.messages), ...held.messages], turns: [...turns, ...held.turns] };
  }

  #archiveReader: TranscriptArchiveReader | undefined;

  #archive(): TranscriptArchiveReader {
    if (this.#archiveReader) return this.#archiveReader;
    const { externalStorage: storage, payloadCodecs } = this.agent.client.options.loadedDataConverter;
    if (!storage) {
      throw new Error(
        `the start of conversation ${this.conversationId}'s transcript is archived in the workers' external storage: ` +
          'connect the client with the same storage (AgentClient.connect({ externalStorage }), or the CLI\'s --storage-dir / DURABLE_CLAUDE_S3_*)',
      );
    }
    return (this.#archiveReader = new TranscriptArchiveReader(storage, payloadCodecs));
  }

  pending(options: QueryOptions = {}): Promise<PendingApproval[]> {
    return this.#ask(() => this.workflow.query(pendingApprovalsQuery), options);
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
   * Ends when the conversation ends: through continue-as-new it reads on into the next run's events (offsets go on
   * across runs; an event's `runId` says which run wrote it). `signal` stops it. Needs the client's event store.
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
    const running = description.status.name === 'RUNNING';
    const workflows = this.agent.client.workflow;
    // result() of the run current now follows continue-as-new, so it long-polls until the chain's last run closes;
    // an error that is not the close (a dropped connection, a server restart) is checked against the latest run, so
    // a stream never ends while its conversation still runs.
    const chain = workflows.getHandle(this.conversationId, description.runId);
    const latest = workflows.getHandle(this.conversationId);
    const statusOf = (handle: typeof latest) =>
      handle.describe().then(
        (d) => ({ runId: d.runId, status: d.status.name as string }),
        (err: unknown) => ({ runId: '', status: err instanceof WorkflowNotFoundError ? 'GONE' : 'UNKNOWN' }),
      );
    const closed = async (signal: AbortSignal): Promise<void> => {
      if (!running) return;
      for (;;) {
        try {
          await this.agent.client.connection.withAbortSignal(signal, () => chain.result());
          return;
        } catch {
          if (signal.aborted) return;
          const { status } = await statusOf(latest);
          if (status !== 'RUNNING' && status !== 'UNKNOWN') return;
          await abortableDelay(1_000, signal);
        }
      }
    };
    const endedConversation = async (runId: string, waitMs: number, signal: AbortSignal): Promise<boolean> => {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const [run, last] = await Promise.all([statusOf(workflows.getHandle(this.conversationId, runId)), statusOf(latest)]);
        if (run.status !== 'RUNNING' && run.status !== 'UNKNOWN') return run.status !== 'CONTINUED_AS_NEW' && last.runId === runId;
        if (signal.aborted || Date.now() >= deadline) return false;
        await abortableDelay(200, signal);
      }
    };
    // A conversation that ends while we watch gets 15 s for its last events to be stored: a publisher keeps an event
    // queued up to 10 s while the store is unreachable, and waits up to 5 s for its ack.
    yield* liveEvents({ conversationId: this.conversationId, subscriber, closed, endedConversation, closingGraceMs: running ? 15_000 : 0 }, options);
  }

  /**
   * The workflow's own live-output events (turns, tools, approvals, chat messages, the end) regenerated from the
   * conversation's history by replaying it — the same events it published, also after the event store has dropped
   * them (model text deltas are not in history). Every run of the chain, oldest first; offsets count the events
   * from 1 across the runs (not the store's). Bundles the workflow code unless given `workflowBundle`, so it takes
   * seconds.
   */
  async workflowEvents(options: Pick<ReplayWorkerOptions, 'workflowBundle' | 'workflowsPath'> = {}): Promise<WorkflowEvent[]> {
    const events: WorkflowEvent[] = [];
    for (const { runId, history } of await this.histories()) {
      const base = events.length;
      // Replayed with the client's codecs, so an encrypted conversation's history reads as it was written.
      const dataConverter = replayDataConverterOf(this.agent.client);
      for (const event of await workflowEventsOf(history, { ...options, workflowId: this.conversationId, runId, dataConverter })) {
        events.push({ ...event, offset: base + event.offset });
      }
    }
    return events;
  }

  state(options: QueryOptions = {}): Promise<ConversationState> {
    return this.#ask(() => this.workflow.query(stateQuery), options);
  }

  async describe(): Promise<WorkflowExecutionDescription> {
    return this.#query(() => this.workflow.describe());
  }

  /**
   * Approves a pending tool call (optionally with edited input) and returns the recorded decision. The decide Update
   * runs on a worker: with `timeoutMs`, a missing worker is a NoWorkerAnsweredError instead of a wait.
   *
   * `token` is a signed decision credential (see `mintDecisionToken`, or your identity provider's): the worker
   * verifies it, and its subject is who decided, so `by` may be left out. A tool that needs several approvers answers
   * each approval but the last with its progress (`decision: 'approval_recorded'`) while the call keeps waiting.
   */
  approve(toolUseId: string, decision: { by: string; input?: unknown; reason?: string; token?: undefined }, options?: DecisionOptions): Promise<ApprovalDecision>;
  approve(toolUseId: string, decision: DecisionFields & { input?: unknown; reason?: string }, options?: DecisionOptions): Promise<ApprovalDecision | ApprovalProgress>;
  approve(toolUseId: string, decision: DecisionFields & { input?: unknown; reason?: string }, options: DecisionOptions = {}): Promise<ApprovalDecision | ApprovalProgress> {
    return this.#decide({ ...decision, toolUseId, decision: 'approve' }, options);
  }

  /** Rejects a pending tool call; `reason` goes back to the model. `by` or a `token`, as for approve(). One rejection decides. */
  async reject(toolUseId: string, decision: DecisionFields & { reason: string }, options: DecisionOptions = {}): Promise<ApprovalDecision> {
    return (await this.#decide({ ...decision, toolUseId, decision: 'reject' }, options)) as ApprovalDecision;
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

  /**
   * Sends the next user message of a chat and waits for the model's answer. When the run continues as new while
   * the message waits, the answer comes from the next run (the awaitReply Update): the caller sees only the answer.
   */
  async sendMessage(content: string | ContentBlockParam[]): Promise<UserMessageReply> {
    const reply = await this.#messageUpdate(() => this.workflow.executeUpdate(sendMessageUpdate, { args: [{ content }] }), false);
    return this.followReply(reply);
  }

  /**
   * @internal The answer to a message: `reply` itself, or, when its run continued as new first, the answer the
   * latest run gives for its ticket (again while that run continues as new too).
   */
  async followReply(reply: UserMessageReply): Promise<UserMessageReply> {
    let current = reply;
    while (current.continuedAsNew) {
      const { ticket } = current.continuedAsNew;
      current = await this.#messageUpdate(() => this.workflow.executeUpdate(awaitReplyUpdate, { args: [{ ticket }] }), true);
    }
    return current;
  }

  /**
   * A chat Update to the latest run, sent once more when that run closed under it by continuing as new before it
   * took it (the conversation still runs). `idempotent`: also when the run had accepted it (awaitReply only reads).
   */
  async #messageUpdate(call: () => Promise<UserMessageReply>, idempotent: boolean): Promise<UserMessageReply> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        const retryable = runClosedUnder(err) || (idempotent && acceptedThenContinued(err));
        if (attempt === 1 && retryable && (await this.#stillRunning())) continue;
        if (err instanceof WorkflowUpdateFailedError) throw new MessageRefusedError(`Message refused: ${innermostMessage(err)}`, { cause: err });
        throw await this.#finishedOr(err);
      }
    }
  }

  async #stillRunning(): Promise<boolean> {
    return this.workflow.describe().then(
      (d) => d.status.name === 'RUNNING',
      () => false,
    );
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

  /** The conversation's full Temporal history of its latest run (`histories()` has every run's). */
  fetchHistory(): Promise<History> {
    return this.#query(() => this.workflow.fetchHistory());
  }

  /**
   * The history of every run of the conversation, oldest first: from the latest run back through the runs it
   * continued (continue-as-new, and the run a retry reset from), to the first.
   */
  async histories(): Promise<RunHistory[]> {
    const { runId } = await this.describe();
    return this.#query(() => chainHistories(this.agent.client.workflow, this.conversationId, runId));
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

  async #decide(request: DecideRequest, { timeoutMs }: DecisionOptions): Promise<ApprovalDecision | ApprovalProgress> {
    // The workflow's validator says the same; checked here too so a malformed decision costs no round trip.
    const { decision, ...rest } = request;
    const problem = decisionShapeProblem(rest, decision === 'approve');
    if (problem) throw new DecisionRefusedError(request.toolUseId, problem);
    for (let attempt = 1; ; attempt++) {
      try {
        return await boundedCall(this.agent.client, this.conversationId, () => this.workflow.executeUpdate(decideUpdate, { args: [request] }), timeoutMs, 'the decision');
      } catch (err) {
        // The run continued as new before it took the decision: the pending call went to the next run, so is this.
        if (attempt === 1 && runClosedUnder(err) && (await this.#stillRunning())) continue;
        if (err instanceof WorkflowUpdateFailedError) throw new DecisionRefusedError(request.toolUseId, innermostMessage(err), { cause: err });
        throw await this.#finishedOr(err);
      }
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

  /** A workflow query: asked again while the run is not ready for it (e.g. the first task of a run just handed over). */
  async #ask<T>(call: () => Promise<T>, options: QueryOptions = {}): Promise<T> {
    try {
      return await readyQuery(this.agent.client, this.conversationId, call, options.timeoutMs);
    } catch (err) {
      throw this.agent.translate(err, this.conversationId);
    }
  }
}
