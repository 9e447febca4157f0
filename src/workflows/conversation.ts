// The agent conversation: one workflow per conversation, deterministic orchestration only. Model calls and tool
// runs are activities; this file sees tool names and JSON schemas, never the SDK, zod or tool code.
// The parts: the loop (here), the model turn (model-turn.ts), the tool round (tool-round.ts), the chat inbox
// (chat-inbox.ts), the approval book (approvals.ts) and retries of a failed run (failure-retries.ts).
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BetaContentBlock, BetaTool } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import type { AgentActivities, CacheTtl, CallModelResult, ModelRequestContext, ToolDescription } from '../activities/types';
import { formatUsd } from '../pricing/cost';
import { AgentCostUsdKey, AgentPendingApprovalsKey, AgentStatusKey } from '../search-attributes';
import { ApprovalBook, decisionShapeProblem, type TakenRequest } from './approvals';
import { ChatInbox } from './chat-inbox';
import { ContextWindow } from './context-window';
import { ContinueAsNewPoint, HistoryGauge } from './continue-as-new';
import {
  approveSignal,
  awaitReplyUpdate,
  decideUpdate,
  endConversationSignal,
  modelRequestQuery,
  pendingApprovalsQuery,
  rejectSignal,
  retryFailureSignal,
  sendMessageUpdate,
  stateQuery,
  transcriptQuery,
  userMessageSignal,
} from './definitions';
import { FailureRetries, FailureTypes } from './failure-retries';
import { isRecord, jsonByteLength } from './json';
import { LiveEvents } from './live-events';
import { ModelTurns, budgetSpent } from './model-turn';
import { checkConversationOptions, forcesToolUse, toolChoiceForTurn, type ResolvedOptions } from './options';
import { ToolRound, decideToolRoundPatch, type SettledCall, type ToolUse } from './tool-round';
import { DecisionRefusal, takeSignedDecision } from './verified-decisions';
import { serverToolBetas } from './tool-surface';
import { DEFAULT_PAGE_BYTES, pageOf, pageRequestProblem, sliceFrom, type ArchivedCounts } from './transcript-pages';
import type {
  ApprovalDecision,
  ApprovalProgress,
  BudgetStop,
  CarriedToolRound,
  Continuation,
  ConversationOptions,
  ConversationResult,
  ConversationStatus,
  DecisionRequest,
  FinalStatus,
  MessageParam,
  ToolOutput,
  Transcript,
  TranscriptArchive,
  TranscriptPageRequest,
  TurnRecord,
  UserMessageReply,
} from './types';
import { emptyUsage, totalInputTokens } from './usage';

export { FailureTypes } from './failure-retries';

/** A decision that carries a credential: it goes to the worker to be verified. */
function hasToken(request: unknown): request is DecisionRequest & { token: string } {
  return isRecord(request) && request.token !== undefined;
}

/** Archives the transcript's older stretch at a hand-over: a normal activity, for its payload goes to storage. */
const { archiveTranscript } = proxyActivities<Pick<AgentActivities, 'archiveTranscript'>>({
  // The hand-over waits on it (and so may a sendMessage): a store that is down soon means carrying everything instead.
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1s', maximumInterval: '5s', maximumAttempts: 3 },
  summary: 'archive the transcript the model no longer sees',
});
const { describeTools, describePayloadStorage } = proxyLocalActivities<Pick<AgentActivities, 'describeTools' | 'describePayloadStorage'>>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3, initialInterval: '200ms' },
});

/** The exchange ended: a final status for this user message (a chat may go on after it). */
interface ExchangeOutcome {
  status: FinalStatus;
  toolOutput?: ToolOutput;
  budgetStop?: BudgetStop;
}

/** Histories recorded before it looped on a forced tool_choice until maxIterations. */
const STRUCTURED_OUTPUT_PATCH = 'forced-tool-choice-ends-with-tool-output';
/** Histories recorded before it held early decisions without a timer. */
const HELD_DECISIONS_EXPIRE_PATCH = 'held-decisions-expire-on-a-timer';

/** Histories recorded before tokenBudget counted cache reads and writes as input. */
const TOKEN_BUDGET_COUNTS_CACHE_PATCH = 'token-budget-counts-cache';
/** Histories recorded before the AgentCostUsd search attribute. */
const COST_SEARCH_ATTRIBUTE_PATCH = 'cost-search-attribute';
/** Histories recorded before a prompt too long for the model was compacted and sent again. */
const CONTEXT_COMPACTION_PATCH = 'compact-when-context-window-exceeded';
/** Histories recorded before continue-as-new: their runs never hand over, even when Temporal suggests it. */
const CONTINUE_AS_NEW_PATCH = 'continue-as-new';
/** A hand-over archives what the model no longer sees instead of carrying it (workflow memory stays flat). */
const ARCHIVE_TRANSCRIPT_PATCH = 'archive-transcript-at-hand-over';
/** Histories recorded before this patch compacted at the threshold between a pause_turn and its resume. */
const NO_COMPACTION_WHILE_PAUSED_PATCH = 'no-compaction-while-paused';
/** Conversations without tools ask the worker too (describeTools), for its model-call task queue. */
const DESCRIBE_WORKER_WITHOUT_TOOLS_PATCH = 'describe-worker-without-tools';
/** The beta that `input_examples` on a tool definition needs (seed 001, "Providing tool use examples"). */
const INPUT_EXAMPLES_BETA = 'advanced-tool-use-2025-11-20';

/**
 * Without external storage a run's input is one inline payload (Temporal refuses more than 2 MB): a larger carried
 * state is not handed over, and the run goes on (logged), rather than fail every workflow task.
 */
const MAX_INLINE_CONTINUATION_BYTES = 1_500_000;
/** Turn records alone (no messages to archive: no compaction yet) are archived once there are this many. */
const ARCHIVE_MIN_TURNS = 50;

/** A result is one payload, limited to 2 MB (UTF-8 bytes): a longer transcript is left to the transcript query. */
const MAX_TRANSCRIPT_IN_RESULT_BYTES = 1_000_000;

const CHAT_CONTINUES_AFTER: ReadonlyArray<FinalStatus> = ['completed', 'truncated'];

function textOf(content: MessageParam['content'] | undefined): string {
  if (content === undefined) return '';
  if (typeof content === 'string') return content;
  return content.flatMap((block) => (block.type === 'text' ? [(block as { text: string }).text] : [])).join('');
}

function toolUsesOf(content: BetaContentBlock[]): ToolUse[] {
  return content.flatMap((block) => (block.type === 'tool_use' ? [{ toolUseId: block.id, toolName: block.name, input: block.input }] : []));
}

/** A tool call answered without running: the budget cannot pay for the model call that would read its result. */
function notRunForBudget(call: ToolUse, stop: BudgetStop): SettledCall {
  return {
    call,
    block: { type: 'tool_result', tool_use_id: call.toolUseId, content: `Not run: the conversation's budget is exhausted (${stop.message}).`, is_error: true },
    record: { toolUseId: call.toolUseId, toolName: call.toolName, outcome: 'over_budget', gated: false },
  };
}

/** With a forced tool_choice the model cannot answer in text: the round's successful call is the output. */
function toolOutputOf(settled: SettledCall[]): ToolOutput | undefined {
  if (settled.length === 0 || settled.some((s) => s.record.outcome !== 'ok')) return undefined;
  const last = settled[settled.length - 1]!;
  return { toolUseId: last.call.toolUseId, toolName: last.call.toolName, input: last.call.input, content: last.block.content ?? '' };
}

export class Conversation {
  readonly #input: ConversationOptions;
  readonly #options: ResolvedOptions;
  readonly #messages: MessageParam[] = [];
  readonly #turns: TurnRecord[] = [];
  /** How many messages and turn records of the transcript's start this run does not hold (archived); set once, at restore. */
  readonly #archived: ArchivedCounts = { messages: 0, turns: 0 };
  /** Where the archived start is (the newest segment), carried from the previous run. */
  #archive: TranscriptArchive | undefined;
  readonly #usage = emptyUsage();
  readonly #tools = new Map<string, ToolDescription>();
  /** The state each session tool (bash) saved with its last result, by tool name: recorded in history, carried over. */
  readonly #toolSessions = new Map<string, unknown>();
  readonly #approvals: ApprovalBook;
  readonly #retries = new FailureRetries();
  readonly #inbox: ChatInbox;
  readonly #modelTurns: ModelTurns;
  readonly #window: ContextWindow;
  readonly #toolRound: ToolRound;
  readonly #events = new LiveEvents();
  #status: ConversationStatus = 'running';
  #lastStopReason: TurnRecord['stopReason'] = null;
  #result: Omit<ConversationResult, 'transcript'> | undefined;
  /** Tickets of the sendMessage Updates waiting on the exchange in flight. */
  #exchangeTickets: number[] = [];
  /** How the last exchange ended: a chat that ends while it waits for a message ends with it. */
  #lastOutcome: ExchangeOutcome = { status: 'completed' };
  /** This run's place in the chain of runs (continue-as-new). */
  readonly #run: number;
  /** Continue-as-new is allowed in this run (the option, and a history recorded with it). */
  #continueAsNewEnabled = false;
  #carrySizeSample = -1;
  #carryFits = true;
  /** The history's size, as of the last recorded event the workflow was given (see continue-as-new.ts). */
  readonly #history = new HistoryGauge();
  /** The run is handing over to the next one: nothing new starts. */
  #handingOver = false;
  /** The run failed or was cancelled and waits for its handlers to finish. */
  #ending = false;
  /** Signed decisions waiting in their handler (for their call to appear, or for the worker to verify them). */
  #signedInFlight = 0;
  /** The worker's external storage threshold (null: none), asked at the run's start when continue-as-new is on. */
  #offloadsAbove: number | null = null;
  /** The task queue of the worker's model calls (its rate limit), as describeTools said at the first run; absent: this one. */
  #modelTaskQueue: string | undefined;

  constructor(options: ResolvedOptions, input: ConversationOptions) {
    this.#options = options;
    this.#input = input;
    this.#run = options.continuation?.run ?? 1;
    this.#approvals = new ApprovalBook(
      (name) => this.#tools.get(name)?.inputSchema,
      (name) => this.#tools.get(name)?.approvalPolicy,
      () => this.#publishState(),
      options.holdUnknownDecisionsMs,
      this.#events,
    );
    this.#inbox = new ChatInbox(options.chat, () => this.#result !== undefined);
    const shared = {
      options,
      messages: this.#messages,
      turns: this.#turns,
      archived: this.#archived,
      usage: this.#usage,
      retries: this.#retries,
      events: this.#events,
      modelTaskQueue: () => this.#modelTaskQueue,
    };
    this.#window = new ContextWindow({
      ...shared,
      setDetails: (details) => this.#setDetails(details),
      resetThread: () => this.#modelTurns.resetThread(),
      sampleHistory: () => this.#history.sample(),
      betas: () => this.#requestBetas(),
      container: () => this.#modelTurns.containerId(),
    });
    this.#modelTurns = new ModelTurns({
      ...shared,
      hasTools: () => this.#tools.size > 0 || this.#options.serverTools.length > 0,
      betas: () => this.#requestBetas(),
      fixedBreakpointTtls: () => this.#fixedBreakpointTtls(),
      sampleHistory: () => this.#history.sample(),
      setDetails: (details) => this.#setDetails(details),
      window: this.#window,
      requestContext: () => this.#modelRequest(),
    });
    this.#toolRound = new ToolRound({
      options,
      tools: this.#tools,
      approvals: this.#approvals,
      retries: this.#retries,
      events: this.#events,
      handOverDue: () => this.#continueAsNewDue(),
      sampleHistory: () => this.#history.sample(),
      handingOver: () => this.#handingOver,
      sessions: this.#toolSessions,
    });
  }

  /**
   * Handlers go in before the first await, so nothing sent at start (signal-with-start, update-with-start) is lost;
   * a carried state goes in before them, since an Update buffered for the new run is validated as they register.
   */
  registerHandlers(): void {
    if (this.#options.continuation) this.#restore(this.#options.continuation);
    setHandler(transcriptQuery, (request?: TranscriptPageRequest) => {
      // Unpaged (an older client, `temporal workflow query`): all the workflow holds, saying where the rest is.
      if (request === undefined) return this.#transcriptHeld();
      const problem = pageRequestProblem(request, this.#archived.messages + this.#messages.length);
      if (problem) throw new Error(problem);
      // The audit rides on the first page; turn records on the first page and on pages asked with fromTurn, in
      // slices of maxBytes too, so no answer grows with the conversation. Indexes count archived messages and turns.
      const { messages, page } = pageOf(this.#messages, request, this.#archived.messages);
      const first = page.fromMessage === 0;
      const fromTurn = request.fromTurn ?? (first ? 0 : undefined);
      // One budget for the page: what the messages leave goes to turn records, what those leave to the audit.
      const bytesOf = (items: readonly unknown[]) => items.reduce<number>((sum, item) => sum + jsonByteLength(item), 0);
      let budget = (request.maxBytes ?? DEFAULT_PAGE_BYTES) - bytesOf(messages);
      const turns = fromTurn === undefined ? { items: [], next: null } : sliceFrom(this.#turns, fromTurn, budget, this.#archived.turns);
      budget -= bytesOf(turns.items);
      // The audit likewise: from 0 on the first page, from fromApproval when asked, in slices of maxBytes.
      const fromApproval = request.fromApproval ?? (first ? 0 : undefined);
      const audit = this.#approvals.audit;
      const approvals = fromApproval === undefined ? { items: [], next: null } : sliceFrom(audit, fromApproval, budget);
      const whole = this.#transcript();
      const archived = this.#archive ? { archived: this.#archive } : {};
      return {
        ...whole,
        messages,
        turns: turns.items,
        approvals: approvals.items,
        page: { ...page, nextTurn: turns.next, nextApproval: approvals.next, ...archived },
        ...(first ? {} : { retries: undefined, compactions: undefined, refusedDecisions: undefined }),
      };
    });
    setHandler(pendingApprovalsQuery, () => this.#approvals.list());
    setHandler(stateQuery, () => ({
      status: this.#status,
      turn: this.#turnCount,
      pendingApprovals: this.#approvals.pendingCount,
      usage: this.#usage,
      ...(this.#options.budgetUsd !== undefined ? { budgetUsd: this.#options.budgetUsd } : {}),
      heldDecisions: this.#approvals.held(Date.now()),
      droppedDecisions: this.#approvals.dropped(Date.now()),
      refusedDecisions: this.#approvals.refused(),
      ...(this.#result ? { result: this.#result } : {}),
      runs: this.#run,
    }));
    setHandler(modelRequestQuery, (request?: TranscriptPageRequest): ModelRequestContext => {
      const context = this.#modelRequest();
      if (request === undefined) return context;
      const problem = pageRequestProblem(request, context.messages.length);
      if (problem) throw new Error(problem);
      const { messages, page } = pageOf(context.messages, request);
      return { ...context, messages, page };
    });


    for (const [signal, approve] of [
      [approveSignal, true],
      [rejectSignal, false],
    ] as const) {
      setHandler(signal, (request) => {
        this.#history.sample();
        if (hasToken(request)) return this.#signedDecision(request, approve, 'signal').then(() => undefined, () => undefined);
        const problem = this.#approvals.decisionProblem(request, approve, Date.now(), { holdUnknown: true });
        if (problem) {
          log.warn(`Ignored ${approve ? 'approve' : 'reject'} signal: ${problem}`, { toolUseId: isRecord(request) ? request.toolUseId : undefined });
          // Under an approver policy an unsigned attempt is part of the record, not just a log line.
          const call = isRecord(request) && typeof request.toolUseId === 'string' ? this.#approvals.callOf(request.toolUseId) : undefined;
          if (call && this.#approvals.policyFor(call.toolName)) {
            this.#approvals.refuse({
              toolUseId: call.toolUseId,
              decision: approve ? 'approve' : 'reject',
              via: 'signal',
              refusedAt: new Date().toISOString(),
              reason: problem,
              ...(typeof request.by === 'string' ? { claimedBy: request.by } : {}),
            });
          }
          return;
        }
        const taken = this.#approvals.decide(request as TakenRequest, approve, 'signal', Date.now());
        // Held for a call not seen yet: a durable timer ends the hold, so it shows as dropped even if nothing else happens.
        if (!taken && patched(HELD_DECISIONS_EXPIRE_PATCH)) {
          void CancellationScope.nonCancellable(() => sleep(this.#options.holdUnknownDecisionsMs)).then(() => this.#approvals.expireHeld(Date.now()));
        }
      });
    }
    setHandler(
      decideUpdate,
      (request) => {
        this.#history.sample();
        if (hasToken(request)) {
          return this.#signedDecision(request, request.decision === 'approve', 'update').catch((err: unknown) => {
            throw err instanceof DecisionRefusal ? ApplicationFailure.nonRetryable(err.message, 'DecisionRefused') : err;
          });
        }
        const decision = this.#approvals.decide(request as TakenRequest, request.decision === 'approve', 'update', Date.now());
        if (decision) return Promise.resolve(decision);
        // Decided before the call was pending (a fast approver): answer once the workflow takes it.
        const id = request.toolUseId;
        return condition(() => this.#approvals.decisionFor(id) !== undefined || this.#approvals.wasDropped(id) || this.#handingOver).then(() => {
          const taken = this.#approvals.decisionFor(id);
          if (taken) return taken;
          if (this.#handingOver) {
            // Every handler ends before the hand-over; the decision itself is carried, held for its call.
            throw ApplicationFailure.nonRetryable(
              `the conversation continued as new before tool call ${id} appeared; the decision is held in the next run and applies when the call appears`,
              'DecisionHeldInNextRun',
            );
          }
          throw ApplicationFailure.nonRetryable(`tool call ${id} did not wait for approval, so the decision was not used`, 'DecisionNotUsed');
        });
      },
      {
        validator: (request) => {
          if (typeof request !== 'object' || request === null || (request.decision !== 'approve' && request.decision !== 'reject')) {
            throw new Error("decision must be 'approve' or 'reject'");
          }
          const problem = this.#approvals.decisionProblem(request, request.decision === 'approve', Date.now());
          if (problem) throw new Error(problem);
        },
        description:
          'Approve or reject a tool call waiting for a person; refuses unknown, decided, expired ids, edits that break the schema, and unsigned or invalid decisions for tools with approvers.',
      },
    );

    setHandler(userMessageSignal, (request) => {
      this.#history.sample();
      this.#inbox.post(request);
    });
    setHandler(
      sendMessageUpdate,
      (request) => {
        this.#history.sample();
        return this.#inbox.send(request);
      },
      {
      validator: (request) => {
        const refusal = this.#inbox.refusal(request);
        if (refusal) throw new Error(refusal);
      },
      description: 'Send the next user message of a chat and wait for the answer.',
      },
    );
    setHandler(
      awaitReplyUpdate,
      (request) => {
        this.#history.sample();
        return this.#inbox.awaitReply(request.ticket);
      },
      {
      validator: (request) => {
        const refusal = this.#inbox.awaitRefusal(request, this.#exchangeTickets);
        if (refusal) throw new Error(refusal);
      },
      description: 'Wait for the answer to a message whose sendMessage Update ended when the run continued as new.',
      },
    );
    setHandler(endConversationSignal, (request) => {
      this.#history.sample();
      this.#inbox.end(request);
    });
    setHandler(retryFailureSignal, (request) => {
      this.#history.sample();
      this.#retries.request(request);
    });
  }

  /**
   * What the model activity reads to build a create or a replay: system, tools and the messages the model sees.
   * Tools in the API's three shapes: custom tools with their schema, Anthropic-defined client tools by type and
   * name (the worker runs them), and server tools passed through untouched (Anthropic runs them).
   */
  #modelRequest(): ModelRequestContext {
    const cacheControl = (ttl: CacheTtl | undefined) =>
      ttl ? { cache_control: ttl === '1h' ? { type: 'ephemeral' as const, ttl: '1h' as const } : { type: 'ephemeral' as const } } : {};
    const tools: ModelRequestContext['tools'] = [...this.#tools.values()].map((tool) =>
      tool.anthropicType !== undefined
        ? ({ type: tool.anthropicType, name: tool.name, ...cacheControl(tool.cacheTtl) } as ModelRequestContext['tools'][number])
        : {
            name: tool.name,
            ...(tool.description !== undefined ? { description: tool.description } : {}),
            input_schema: tool.inputSchema as BetaTool['input_schema'],
            ...(tool.strict !== undefined ? { strict: tool.strict } : {}),
            ...(tool.eagerInputStreaming ? { eager_input_streaming: true } : {}),
            ...(tool.inputExamples ? { input_examples: tool.inputExamples } : {}),
            ...cacheControl(tool.cacheTtl),
          },
    );
    tools.push(...(this.#options.serverTools as unknown as ModelRequestContext['tools']));
    return {
      ...(this.#options.system !== undefined ? { system: this.#options.system } : {}),
      tools,
      messages: this.#window.view(),
    };
  }

  /** The anthropic-beta values every model call of this conversation needs: its own, its server tools', input examples'. */
  #requestBetas(): string[] {
    const examples = [...this.#tools.values()].some((tool) => tool.inputExamples !== undefined) ? [INPUT_EXAMPLES_BETA] : [];
    return [...new Set([...this.#options.betas, ...serverToolBetas(this.#options.serverTools), ...examples])];
  }

  async run(): Promise<ConversationResult> {
    try {
      this.#continueAsNewEnabled = this.#options.continueAsNew !== null && patched(CONTINUE_AS_NEW_PATCH);
      // The budget check's patch is decided before the run's local activities, not after them, where a query answered
      // in between could put its marker one task later than replay looks for it (see ToolRound.run).
      if (this.#options.tokenBudget !== undefined) patched(TOKEN_BUDGET_COUNTS_CACHE_PATCH);
      // A run that resumes a tool round decides the round's patch before describePayloadStorage, for the same reason.
      if ((this.#options.continuation?.round?.calls.length ?? 0) > 0) decideToolRoundPatch();
      // A first run asks the worker for its tools and model-call queue; without tools, only histories from this patch on.
      const describesWorker = !this.#options.continuation && (this.#options.tools.length > 0 || patched(DESCRIBE_WORKER_WITHOUT_TOOLS_PATCH));
      this.#history.sample();
      // Asked alongside the tool catalog (local activities of the same task run together).
      const storage = this.#continueAsNewEnabled ? describePayloadStorage({}) : undefined;
      const carried = this.#options.continuation;
      let resume: Pick<Continuation, 'iteration' | 'round'> | undefined;
      let idleDeadline: number | undefined;
      if (carried) {
        if (carried.phase === 'exchange') resume = { iteration: carried.iteration ?? 1, ...(carried.round ? { round: carried.round } : {}) };
        else idleDeadline = carried.idleDeadline;
      } else {
        this.#setStatus('running');
        if (describesWorker) await this.#loadTools();
      }
      if (storage) this.#offloadsAbove = (await storage).offloadsAbove;
      if (!carried) {
        this.#messages.push(...this.#options.initialMessages);
        if (this.#messages.length === 0 && !(await this.#takeUserMessages())) {
          return await this.#finish({ status: 'completed' }, 'idle_timeout');
        }
      }
      for (;;) {
        if (idleDeadline === undefined) {
          const outcome = await this.#runExchange(resume);
          this.#lastOutcome = outcome;
          resume = undefined;
          const reply: UserMessageReply = { status: outcome.status, text: this.#lastAssistantText(), turns: this.#turnCount };
          this.#inbox.answer(this.#exchangeTickets.splice(0), reply);
          if (!this.#options.chat || !CHAT_CONTINUES_AFTER.includes(outcome.status)) return await this.#finish(outcome);
        }
        this.#setStatus('awaiting_user');
        const deadline = idleDeadline;
        idleDeadline = undefined;
        if (!(await this.#takeUserMessages(deadline))) return await this.#finish(this.#lastOutcome, this.#inbox.endRequested ? 'user' : 'idle_timeout');
        this.#setStatus('running');
      }
    } catch (err) {
      if (err instanceof ContinueAsNew) throw err;
      this.#setStatus(isCancellation(err) ? 'cancelled' : 'failed');
      this.#events.emit({
        type: 'conversation_finished',
        turn: this.#turnCount,
        status: isCancellation(err) ? 'cancelled' : 'failed',
        text: err instanceof Error ? err.message : String(err),
      });
      // Every sendMessage Update still waiting gets the failure before the run ends, instead of no answer.
      const failure =
        err instanceof ApplicationFailure
          ? err
          : ApplicationFailure.nonRetryable(isCancellation(err) ? 'the conversation was cancelled' : `the conversation failed: ${String(err)}`, 'ConversationEnded');
      this.#inbox.failWaiting(this.#exchangeTickets.splice(0), failure);
      this.#approvals.dropAllHeld(Date.now(), 'the conversation ended before its tool call appeared');
      // Signed decisions still waiting for their call stop waiting: the run is over.
      this.#ending = true;
      await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
      throw err;
    }
  }

  /** Chat: waits for the next user message(s) and appends them as one user message. False on end or idle timeout. */
  async #takeUserMessages(idleDeadline?: number): Promise<boolean> {
    // The idle timeout runs from the end of the last exchange, across a hand-over to the next run too.
    const deadline = idleDeadline ?? Date.now() + this.#options.chatIdleTimeoutMs;
    for (;;) {
      // Nothing to wait for when a message or the end is already there: the next safe point hands over instead.
      if (!this.#inbox.hasMessages && !this.#inbox.endRequested && this.#continueAsNewDue()) {
        await this.#continueAsNew({ phase: 'awaiting_user', idleDeadline: deadline });
      }
      const waitMs = Math.max(1, deadline - Date.now());
      if (await this.#inbox.waitForMessages(waitMs, () => this.#continueAsNewDue())) break;
      if (this.#inbox.endRequested || !this.#continueAsNewDue()) return false;
    }
    const { message, tickets } = this.#inbox.take();
    this.#messages.push(message);
    this.#events.emit({ type: 'chat_message_received', turn: this.#turnCount, text: textOf(message.content) });
    this.#exchangeTickets = tickets;
    return true;
  }

  async #loadTools(): Promise<void> {
    const { tools, unknown, available, modelTaskQueue } = await describeTools({ names: this.#options.tools });
    // Recorded with the local activity's result: replay and later runs (carried) use the same queue.
    if (modelTaskQueue !== undefined) this.#modelTaskQueue = modelTaskQueue;
    if (this.#options.tools.length === 0) return;
    if (unknown.length > 0) {
      throw ApplicationFailure.nonRetryable(
        `Unknown tools: ${unknown.join(', ')}. The worker registers: ${available.join(', ') || 'no tools'}.`,
        FailureTypes.unknownTools,
      );
    }
    for (const tool of tools) this.#tools.set(tool.name, tool);
    // tool_choice may name a tool under '<server>__*': only now, with the server's tools listed, can it be checked.
    const chosen = [this.#options.toolChoice, ...this.#options.toolChoiceSchedule.map((entry) => entry.toolChoice)].flatMap((choice) =>
      choice?.type === 'tool' ? [choice.name] : [],
    );
    const serverToolNames = this.#options.serverTools.map((tool) => tool.name);
    const missing = chosen.filter((name) => !this.#tools.has(name) && !serverToolNames.includes(name));
    if (missing.length > 0) {
      throw ApplicationFailure.nonRetryable(
        `toolChoice names ${missing.join(', ')}, which the worker's tools do not include. The conversation's tools are: ${[...this.#tools.keys()].join(', ') || 'none'}.`,
        FailureTypes.unknownTools,
      );
    }
  }

  /** The agent loop for one user message: model call, tools, model call… until a final stop reason or a limit. */
  async #runExchange(resume?: Pick<Continuation, 'iteration' | 'round'>): Promise<ExchangeOutcome> {
    let iteration = resume?.iteration ?? 1;
    /** A call refused as too long is repeated once after a compaction, not again and again. */
    let compactedForWindow = false;
    if (resume?.round) {
      // Handed over in the middle of a tool round (only approval waits were left): finish it here.
      const record = this.#turns[this.#turns.length - 1]!;
      const outcome = await this.#toolRoundOf(resume.round.calls, record, iteration, resume.round);
      if (outcome) return outcome;
      iteration++;
    }
    for (; ; iteration++) {
      if (this.#overBudget()) return { status: 'token_budget_exceeded' };
      if (iteration > this.#options.maxIterations) return { status: 'max_iterations' };
      // Between turns nothing runs: a safe point to hand over to the next run, and to compact what the model sees.
      if (this.#continueAsNewDue()) await this.#continueAsNew({ phase: 'exchange', iteration });
      // Not while a turn is paused (pause_turn): the unfinished reply would be summarized and its resume lost.
      const paused = this.#lastStopReason === 'pause_turn' && this.#window.due && patched(NO_COMPACTION_WHILE_PAUSED_PATCH);
      if (this.#window.due && !paused && patched(CONTEXT_COMPACTION_PATCH)) await this.#window.compact(this.#turnCount + 1, 'threshold');
      const turn = await this.#modelTurns.call(iteration);
      if ('contextExceeded' in turn) {
        // Refused as longer than the model's window: compacted (or cleared) once and sent again, else the end.
        if (!compactedForWindow && patched(CONTEXT_COMPACTION_PATCH) && (await this.#window.compact(this.#turnCount + 1, 'context_window'))) {
          compactedForWindow = true;
          continue;
        }
        return { status: 'context_window_exceeded' };
      }
      if (!('result' in turn)) return { status: 'budget_exceeded', budgetStop: turn.budgetStop };
      const { result, record, cutToolUse, budgetStop } = turn;
      const reply = result.reply;
      this.#lastStopReason = reply.stopReason;
      this.#publishCost();
      this.#window.noteCall(result);
      // The repeat-once rule is per refused call: a later call that overflows may compact again.
      if (reply.stopReason !== 'model_context_window_exceeded') compactedForWindow = false;
      if (reply.stopReason === 'model_context_window_exceeded' && !compactedForWindow && this.#window.enabled && patched(CONTEXT_COMPACTION_PATCH)) {
        // The reply filled the window: it is cut off, so it is not kept; the conversation compacts and asks again.
        this.#modelTurns.dropReply();
        if (await this.#window.compact(this.#turnCount + 1, 'context_window')) {
          compactedForWindow = true;
          continue;
        }
        return { status: 'context_window_exceeded' };
      }
      if (cutToolUse) {
        // The ladder ran out (or the budget stopped it) with a tool_use still cut off: keep what is whole, drop the unusable call.
        // A server tool's call with its result is whole; only the trailing one, cut before its result, is not.
        const whole = reply.content.filter((block, i, all) => block.type !== 'tool_use' && !(block.type === 'server_tool_use' && i === all.length - 1));
        // Thinking alone is no reply: an assistant message of thinking only would go back with nothing it led to.
        if (whole.some((block) => block.type !== 'thinking' && block.type !== 'redacted_thinking')) this.#modelTurns.appendReply(result, whole);
        else this.#modelTurns.dropReply();
        return budgetStop ? { status: 'budget_exceeded', budgetStop } : { status: 'truncated' };
      }
      this.#modelTurns.appendReply(result, reply.content);
      switch (reply.stopReason) {
        case 'end_turn':
        case 'stop_sequence':
        case null:
          return { status: 'completed' };
        case 'max_tokens':
          return { status: 'truncated' };
        case 'refusal':
          return { status: 'refused' };
        case 'model_context_window_exceeded':
          return { status: 'context_window_exceeded' };
        case 'pause_turn':
        case 'compaction':
          continue;
        case 'tool_use': {
          if (this.#overBudget()) return { status: 'token_budget_exceeded' };
          // No model call is left to read the results: running side effects nobody answers would be wrong.
          if (iteration >= this.#options.maxIterations) return { status: 'max_iterations' };
          const calls = toolUsesOf(reply.content);
          if (calls.length === 0) return { status: 'completed' };
          const roundStop = this.#budgetExhaustedAfter(result);
          if (roundStop) {
            // The model cannot be called again, so nothing would read the results: no tool runs and no one is asked.
            const settled = calls.map((call) => notRunForBudget(call, roundStop));
            record.toolCalls = settled.map((s) => s.record);
            this.#messages.push({ role: 'user', content: settled.map((s) => s.block) });
            return { status: 'budget_exceeded', budgetStop: roundStop };
          }
          const outcome = await this.#toolRoundOf(calls, record, iteration);
          if (outcome) return outcome;
          continue;
        }
        default:
          log.warn('Unknown stop reason; ending the exchange', { stopReason: reply.stopReason });
          return { status: 'completed' };
      }
    }
  }

  /** Runs a reply's tool calls and appends their results; an outcome when the exchange ends with them. */
  async #toolRoundOf(calls: ToolUse[], record: TurnRecord, iteration: number, resumed?: CarriedToolRound): Promise<ExchangeOutcome | undefined> {
    let settled: SettledCall[];
    try {
      settled = await this.#toolRound.run(calls, record.turn, resumed);
    } catch (err) {
      if (err instanceof ContinueAsNewPoint) return this.#continueAsNew({ phase: 'exchange', iteration, round: { ...err.round, iteration } });
      throw err;
    }
    record.toolCalls = settled.map((s) => s.record);
    this.#messages.push({ role: 'user', content: settled.map((s) => s.block) });
    // Structured output (seed 004): when every turn left would be forced to call a tool again, the model can
    // never answer in text, so the exchange ends with this round's call as its output instead of looping.
    const toolOutput = this.#forcedToTheEnd(iteration) ? toolOutputOf(settled) : undefined;
    if (toolOutput && patched(STRUCTURED_OUTPUT_PATCH)) return { status: 'completed', toolOutput };
    return undefined;
  }

  /**
   * Continue-as-new is due, allowed in this run, and possible: without external storage a carried state over one
   * payload's limit would be refused by Temporal, so the run goes on instead (logged once; it ends at the history limit).
   */
  #continueAsNewDue(): boolean {
    if (!this.#continueAsNewEnabled || this.#handingOver || this.#options.continueAsNew === null) return false;
    if (!this.#history.due(this.#options.continueAsNew)) return false;
    // Measured once per sample: conditions may ask many times in one activation, and the state can be large.
    if (this.#carrySizeSample === this.#history.samples) return this.#carryFits;
    this.#carrySizeSample = this.#history.samples;
    this.#carryFits = true;
    const bytes = jsonByteLength(this.#carry({ phase: 'exchange' }));
    if (bytes > MAX_INLINE_CONTINUATION_BYTES && (this.#offloadsAbove === null || bytes <= this.#offloadsAbove)) {
      log.warn('Not continuing as new: the carried state is over one payload\'s limit and the worker has no external storage for it', { bytes });
      this.#continueAsNewEnabled = false;
      this.#carryFits = false;
      return false;
    }
    return true;
  }

  /**
   * Hands the conversation over to a new run of the same workflow id. Called where nothing runs: between turns,
   * while a chat waits for a message, or with only approval waits left in a tool round. Every handler finishes
   * first: waiting sendMessage/awaitReply Updates get a ticket to wait on in the next run.
   */
  async #continueAsNew(at: Pick<Continuation, 'phase' | 'iteration' | 'round' | 'idleDeadline'>): Promise<never> {
    this.#handingOver = true;
    this.#setDetails(`continuing as new (run ${this.#run + 1})`);
    // First, while nothing else can start: messages and messages arriving meanwhile are queued and carried.
    const archived = await this.#archiveForHandOver();
    this.#inbox.beginContinuing((ticket) => ({ status: this.#status, text: '', turns: this.#turnCount, continuedAsNew: { ticket } }));
    await condition(allHandlersFinished);
    // Decisions or messages that arrived while the handlers finished are part of the state handed over.
    return continueAsNew<typeof agentConversation>({ ...this.#input, continuation: this.#carry(at, archived) });
  }

  /**
   * With external storage, the messages the model no longer sees (before what the last compaction kept) and the
   * turn records but the last leave with the hand-over as one stored segment, linked to the segments before it: the
   * next run holds only what the model sees and what it needs. Undefined when there is nothing to archive, no
   * storage, or storing failed (the run then carries everything, as before).
   */
  async #archiveForHandOver(): Promise<{ archive: TranscriptArchive; messages: number; turns: number } | undefined> {
    if (this.#offloadsAbove === null) return undefined;
    const messages = this.#window.archivableMessages();
    const turns = Math.max(0, this.#turns.length - 1);
    if (messages === 0 && turns < ARCHIVE_MIN_TURNS) return undefined;
    if (!patched(ARCHIVE_TRANSCRIPT_PATCH)) return undefined;
    const segment = {
      conversationId: workflowInfo().workflowId,
      fromMessage: this.#archived.messages,
      messages: this.#messages.slice(0, messages),
      fromTurn: this.#archived.turns,
      turns: this.#turns.slice(0, turns),
      previous: this.#archive?.last ?? null,
    };
    try {
      const last = await archiveTranscript({ segment });
      this.#history.sample();
      return { archive: { messages: this.#archived.messages + messages, turns: this.#archived.turns + turns, last }, messages, turns };
    } catch (err) {
      this.#history.sample();
      if (!(err instanceof ActivityFailure) || isCancellation(err)) throw err;
      log.warn('Could not archive the transcript at the hand-over; carrying all of it', { error: err.cause?.message ?? err.message });
      return undefined;
    }
  }

  #carry(at: Pick<Continuation, 'phase' | 'iteration' | 'round' | 'idleDeadline'>, archived?: { archive: TranscriptArchive; messages: number; turns: number }): Continuation {
    const archive = archived?.archive ?? this.#archive;
    return {
      run: this.#run + 1,
      ...(archive ? { archive, lastAssistantText: this.#lastAssistantText() } : {}),
      ...at,
      messages: archived ? this.#messages.slice(archived.messages) : this.#messages,
      turns: archived ? this.#turns.slice(archived.turns) : this.#turns,
      usage: this.#usage,
      lastStopReason: this.#lastStopReason,
      lastOutcome: this.#lastOutcome,
      tools: [...this.#tools.values()],
      ...(this.#modelTaskQueue !== undefined ? { modelTaskQueue: this.#modelTaskQueue } : {}),
      ...(this.#toolSessions.size > 0 ? { toolSessions: Object.fromEntries(this.#toolSessions) } : {}),
      ...this.#modelTurns.carry(),
      approvals: this.#approvals.carry(Date.now()),
      retries: this.#retries.carry(),
      context: this.#window.carry(archived?.messages ?? 0),
      inbox: this.#inbox.carry(this.#exchangeTickets),
    };
  }

  /** The previous run's state, before this run does anything. */
  /** A decision with a credential: verified in the worker, checked here; a refusal is recorded and rethrown. */
  async #signedDecision(request: DecisionRequest & { token: string }, approve: boolean, via: 'signal' | 'update'): Promise<ApprovalDecision | ApprovalProgress> {
    const context = {
      approvals: this.#approvals,
      holdMs: this.#options.holdUnknownDecisionsMs,
      requestedBy: this.#options.requestedBy,
      closing: () => this.#handingOver || this.#ending || this.#result !== undefined,
    };
    this.#signedInFlight += 1;
    try {
      const shape = decisionShapeProblem(request, approve);
      if (shape) throw new DecisionRefusal(shape);
      // As for unsigned decisions held for unknown calls: a flood of signals cannot hold the run open without bound.
      if (this.#signedInFlight > ApprovalBook.MAX_HELD) throw new DecisionRefusal(`too many signed decisions are waiting (${ApprovalBook.MAX_HELD}); ${request.toolUseId} ignored`);
      return await takeSignedDecision(context, request, approve, via);
    } catch (err) {
      if (!(err instanceof DecisionRefusal)) {
        log.error('A signed decision could not be verified', { toolUseId: isRecord(request) ? request.toolUseId : undefined, error: err instanceof Error ? err.message : String(err) });
        throw err;
      }
      this.#approvals.refuse({
        toolUseId: request.toolUseId,
        decision: approve ? 'approve' : 'reject',
        via,
        refusedAt: new Date().toISOString(),
        reason: err.message,
        ...(typeof request.by === 'string' ? { claimedBy: request.by } : {}),
        ...(err.subject !== undefined ? { subject: err.subject } : {}),
      });
      throw err;
    } finally {
      this.#signedInFlight -= 1;
    }
  }

  #restore(carried: Continuation): void {
    if (carried.archive) {
      this.#archive = carried.archive;
      this.#archived.messages = carried.archive.messages;
      this.#archived.turns = carried.archive.turns;
    }
    this.#messages.push(...carried.messages);
    this.#turns.push(...carried.turns);
    Object.assign(this.#usage, carried.usage);
    this.#lastStopReason = carried.lastStopReason;
    if (carried.lastOutcome) this.#lastOutcome = carried.lastOutcome;
    for (const tool of carried.tools) this.#tools.set(tool.name, tool);
    this.#modelTaskQueue = carried.modelTaskQueue;
    for (const [name, state] of Object.entries(carried.toolSessions ?? {})) this.#toolSessions.set(name, state);
    this.#modelTurns.restore(carried);
    this.#approvals.restore(carried.approvals);
    this.#retries.restore(carried.retries);
    if (carried.context) this.#window.restore(carried.context);
    this.#inbox.restore(carried.inbox);
    this.#exchangeTickets = [...carried.inbox.exchangeTickets];
    // Held decisions keep their hold's end: a timer per hold, as when they arrived.
    for (const until of this.#approvals.heldUntil()) {
      void CancellationScope.nonCancellable(() => sleep(Math.max(1, until - Date.now()))).then(() => this.#approvals.expireHeld(Date.now()));
    }
    this.#status = carried.phase === 'awaiting_user' ? 'awaiting_user' : 'running';
    this.#publishState();
  }

  /** The TTLs of the user's breakpoints on tools and system blocks, in prefix order. */
  #fixedBreakpointTtls(): CacheTtl[] {
    const system = Array.isArray(this.#options.system) ? this.#options.system : [];
    const marked = system.flatMap((block) => (block.cache_control ? [block.cache_control.ttl === '1h' ? ('1h' as const) : ('5m' as const)] : []));
    return [...[...this.#tools.values()].flatMap((tool) => (tool.cacheTtl ? [tool.cacheTtl] : [])), ...marked];
  }

  /** This turn and every later one the iteration limit allows force a tool call. */
  #forcedToTheEnd(iteration: number): boolean {
    for (let turn = iteration; turn <= this.#options.maxIterations; turn++) {
      if (!forcesToolUse(toolChoiceForTurn(this.#options, turn))) return false;
    }
    return true;
  }

  /**
   * With a budget: the budget stops the conversation before this reply's tools run when even the least the next call
   * can be estimated at (it sends at least what this one sent and got back) does not fit.
   */
  #budgetExhaustedAfter(result: CallModelResult): BudgetStop | undefined {
    const budgetUsd = this.#options.budgetUsd;
    if (budgetUsd === undefined) return undefined;
    const spentUsd = this.#usage.costUsd;
    const spent = budgetSpent(budgetUsd, spentUsd);
    if (spent || result.nextCallFloorUsd === undefined || spentUsd! + result.nextCallFloorUsd <= budgetUsd) return spent;
    return {
      budgetUsd,
      spentUsd: spentUsd!,
      nextCallMaxUsd: result.nextCallFloorUsd,
      message:
        `the reply's tool calls were not run: the model call that would read their results costs at least ` +
        `$${result.nextCallFloorUsd.toFixed(4)} and $${(budgetUsd - spentUsd!).toFixed(4)} of the $${budgetUsd.toFixed(4)} budget is left`,
    };
  }

  #overBudget(): boolean {
    const budget = this.#options.tokenBudget;
    if (budget === undefined) return false;
    // input_tokens is only the uncached part once caching is on: the budget counts what was read and written too.
    const input = patched(TOKEN_BUDGET_COUNTS_CACHE_PATCH) ? totalInputTokens(this.#usage) : this.#usage.inputTokens;
    return input + this.#usage.outputTokens >= budget;
  }

  /** Turns so far, across every run (archived turn records count). */
  get #turnCount(): number {
    return this.#archived.turns + this.#turns.length;
  }

  #lastAssistantText(): string {
    for (let i = this.#messages.length - 1; i >= 0; i--) {
      if (this.#messages[i]!.role === 'assistant') return textOf(this.#messages[i]!.content);
    }
    // The reply may be in the archived start.
    return this.#options.continuation?.lastAssistantText ?? '';
  }

  /** The transcript as held; with an archived start, from the first message held, and `page` saying where the rest is. */
  #transcriptHeld(): Transcript {
    const transcript = this.#transcript();
    if (!this.#archive) return transcript;
    const totalMessages = this.#archived.messages + this.#messages.length;
    return { ...transcript, page: { fromMessage: this.#archived.messages, nextMessage: null, totalMessages, nextTurn: null, nextApproval: null, archived: this.#archive } };
  }

  #transcript(): Transcript {
    return {
      messages: this.#messages,
      turns: this.#turns,
      approvals: this.#approvals.audit,
      ...(this.#approvals.refused().length ? { refusedDecisions: this.#approvals.refused() } : {}),
      ...(this.#retries.taken.length ? { retries: this.#retries.taken } : {}),
      ...(this.#window.records.length ? { compactions: this.#window.records } : {}),
    };
  }

  async #finish(outcome: ExchangeOutcome, endedBy?: ConversationResult['endedBy']): Promise<ConversationResult> {
    const endRequest = this.#inbox.endRequest;
    this.#result = {
      status: outcome.status,
      text: this.#lastAssistantText(),
      stopReason: this.#lastStopReason,
      turns: this.#turnCount,
      usage: { ...this.#usage },
      ...(endedBy ? { endedBy } : {}),
      ...(endedBy === 'user' && endRequest && (endRequest.by !== undefined || endRequest.reason !== undefined) ? { endRequest } : {}),
      ...(outcome.toolOutput ? { toolOutput: outcome.toolOutput } : {}),
      ...(outcome.budgetStop ? { budgetStop: outcome.budgetStop } : {}),
      ...(this.#run > 1 ? { runs: this.#run } : {}),
    };
    // Waiting sendMessage updates get the final state rather than hanging on a conversation that is over.
    this.#inbox.answerQueued({ status: outcome.status, text: this.#result.text, turns: this.#turnCount });
    this.#approvals.dropAllHeld(Date.now(), 'the conversation ended before its tool call appeared');
    this.#setStatus(outcome.status);
    this.#events.emit({ type: 'conversation_finished', turn: this.#turnCount, status: outcome.status, text: this.#result.text });
    await condition(allHandlersFinished);
    const transcript = this.#transcriptHeld();
    const fits = this.#options.includeTranscriptInResult && jsonByteLength(transcript) <= MAX_TRANSCRIPT_IN_RESULT_BYTES;
    // An archived start is not in the workflow: the result holds the rest, and where the start is.
    if (this.#archive) return { ...this.#result, transcriptOmitted: true, ...(fits ? { transcriptTail: transcript } : {}) };
    return { ...this.#result, ...(fits ? { transcript } : { transcriptOmitted: true }) };
  }

  #setStatus(status: ConversationStatus): void {
    if (this.#status === status && status !== 'running') return;
    this.#status = status;
    this.#publishState();
  }

  #publishedStatus: string | undefined;
  #publishedPending: number | undefined;

  /** Keeps the search attributes (for visibility queries) and the UI's current details in step with the state. */
  #publishState(): void {
    const pending = this.#approvals.pendingCount;
    if (pending > 0 && this.#status === 'running') this.#status = 'awaiting_approval';
    if (pending === 0 && this.#status === 'awaiting_approval') this.#status = 'running';
    if (this.#options.searchAttributes && (this.#publishedStatus !== this.#status || this.#publishedPending !== pending)) {
      upsertSearchAttributes([
        { key: AgentStatusKey, value: this.#status },
        { key: AgentPendingApprovalsKey, value: pending },
      ]);
      this.#publishedStatus = this.#status;
      this.#publishedPending = pending;
    }
    if (pending > 0) {
      this.#setDetails(`awaiting approval: ${this.#approvals.list().map((p) => `${p.toolName} (${p.toolUseId})`).join(', ')}`);
    }
  }

  #publishedCost: number | undefined;

  /** The AgentCostUsd search attribute follows what was spent, for `list` to filter and sort by. */
  #publishCost(): void {
    const cost = this.#usage.costUsd;
    if (!this.#options.costSearchAttribute || cost === null || cost === this.#publishedCost) return;
    if (!patched(COST_SEARCH_ATTRIBUTE_PATCH)) return;
    upsertSearchAttributes([{ key: AgentCostUsdKey, value: cost }]);
    this.#publishedCost = cost;
  }

  #setDetails(details: string): void {
    const budget = this.#options.budgetUsd !== undefined ? ` of ${formatUsd(this.#options.budgetUsd)}` : '';
    const cost = this.#usage.costUsd === null ? 'cost unknown' : `${formatUsd(this.#usage.costUsd)} spent${budget}`;
    setCurrentDetails(`${this.#status} · ${details} · ${cost}`);
  }
}

/** One Claude tool-use conversation as a durable workflow. */
export async function agentConversation(options: ConversationOptions): Promise<ConversationResult> {
  const check = checkConversationOptions(options);
  if (!check.ok) {
    throw ApplicationFailure.nonRetryable(`Invalid conversation options: ${check.errors.join('; ')}`, FailureTypes.invalidOptions);
  }
  const conversation = new Conversation(check.options, options);
  conversation.registerHandlers();
  return conversation.run();
}
