// The agent conversation: one workflow per conversation, deterministic orchestration only. Model calls and tool
// runs are activities; this file sees tool names and JSON schemas, never the SDK, zod or tool code.
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  TimeoutFailure,
  condition,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { BetaContentBlock, BetaToolResultBlockParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import type {
  AgentActivities,
  ApprovalRecord,
  CallModelResult,
  ModelRequestContext,
  RunToolResult,
  ThreadHint,
  ToolDescription,
} from '../activities/types';
import { AgentPendingApprovalsKey, AgentStatusKey } from '../search-attributes';
import { ApprovalBook } from './approvals';
import {
  approveSignal,
  decideUpdate,
  endConversationSignal,
  modelRequestQuery,
  pendingApprovalsQuery,
  rejectSignal,
  sendMessageUpdate,
  stateQuery,
  transcriptQuery,
  userMessageSignal,
} from './definitions';
import { checkConversationOptions, toolChoiceForTurn, type ResolvedOptions } from './options';
import type {
  ContentBlockParam,
  ConversationOptions,
  ConversationResult,
  ConversationStatus,
  FinalStatus,
  MessageParam,
  ToolCallOutcome,
  ToolCallRecord,
  TurnRecord,
  UsageTotals,
  UserMessageReply,
  UserMessageRequest,
} from './types';

/** Non-retryable failure types the workflow raises, so callers can tell them apart. */
export const FailureTypes = {
  invalidOptions: 'InvalidConversationOptions',
  unknownTools: 'UnknownTools',
  modelCallFailed: 'ModelCallFailed',
  toolFatal: 'ToolFatalError',
  approvalTimeout: 'ApprovalTimeout',
} as const;

const catalog = proxyLocalActivities<Pick<AgentActivities, 'describeTools' | 'reviewToolCalls'>>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3, initialInterval: '200ms' },
});

interface ToolUse {
  toolUseId: string;
  toolName: string;
  input: unknown;
}

interface SettledCall {
  block: BetaToolResultBlockParam;
  record: ToolCallRecord;
}

/** The exchange ended: a final status for this user message (a chat may go on after it). */
interface ExchangeOutcome {
  status: FinalStatus;
}

const MAX_TRANSCRIPT_IN_RESULT_CHARS = 1_000_000;
/**
 * A continued thread's new messages ride in the model call's input up to this size (JSON characters): that saves
 * the activity a query per turn, at the price of recording them twice (a tool's result, then the model call's
 * input) — no more than the ~3 KB of event metadata a turn records anyway. Larger ones are read by query, so big
 * tool results are recorded once.
 */
const MAX_INLINE_NEW_MESSAGES_CHARS = 2_048;

const CHAT_CONTINUES_AFTER: ReadonlyArray<FinalStatus> = ['completed', 'truncated'];

function emptyUsage(): UsageTotals {
  return { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 };
}

function usageOf(reply: CallModelResult['reply']): UsageTotals {
  return {
    inputTokens: reply.usage.input_tokens ?? 0,
    outputTokens: reply.usage.output_tokens ?? 0,
    cacheReadInputTokens: reply.usage.cache_read_input_tokens ?? 0,
    cacheCreationInputTokens: reply.usage.cache_creation_input_tokens ?? 0,
  };
}

function addUsage(into: UsageTotals, more: UsageTotals): void {
  into.inputTokens += more.inputTokens;
  into.outputTokens += more.outputTokens;
  into.cacheReadInputTokens += more.cacheReadInputTokens;
  into.cacheCreationInputTokens += more.cacheCreationInputTokens;
}

function textOf(content: MessageParam['content'] | undefined): string {
  if (content === undefined) return '';
  if (typeof content === 'string') return content;
  return content
    .flatMap((block) => (block.type === 'text' ? [(block as { text: string }).text] : []))
    .join('');
}

function toolUsesOf(content: BetaContentBlock[]): ToolUse[] {
  return content.flatMap((block) => (block.type === 'tool_use' ? [{ toolUseId: block.id, toolName: block.name, input: block.input }] : []));
}

function errorResult(toolUseId: string, text: string): BetaToolResultBlockParam {
  return { type: 'tool_result', tool_use_id: toolUseId, content: text, is_error: true };
}

function describeFailure(err: ActivityFailure): string {
  const cause = err.cause;
  if (cause instanceof ApplicationFailure) return `${cause.type ?? 'Error'}: ${cause.message}`;
  return `${cause?.name ?? 'Error'}: ${cause?.message ?? err.message}`;
}

export class Conversation {
  readonly #options: ResolvedOptions;
  readonly #messages: MessageParam[] = [];
  readonly #turns: TurnRecord[] = [];
  readonly #usage = emptyUsage();
  readonly #tools = new Map<string, ToolDescription>();
  readonly #approvals: ApprovalBook;
  #status: ConversationStatus = 'running';
  #thread: ThreadHint | null = null;
  #threads: boolean;
  #lastStopReason: CallModelResult['reply']['stopReason'] = null;
  #result: Omit<ConversationResult, 'transcript'> | undefined;
  /** Chat: user messages waiting for the next exchange, each with the ticket of the update waiting on it. */
  readonly #inbox: Array<{ content: UserMessageRequest['content']; ticket?: number }> = [];
  readonly #replies = new Map<number, UserMessageReply>();
  #nextTicket = 1;
  #endRequested = false;

  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.#threads = options.threads;
    this.#approvals = new ApprovalBook(
      (name) => this.#tools.get(name)?.inputSchema,
      () => this.#publishState(),
    );
  }

  /** Handlers go in before the first await, so nothing sent at start (signal-with-start, update-with-start) is lost. */
  registerHandlers(): void {
    setHandler(transcriptQuery, () => ({ messages: this.#messages, turns: this.#turns, approvals: this.#approvals.audit }));
    setHandler(pendingApprovalsQuery, () => this.#approvals.list());
    setHandler(stateQuery, () => ({
      status: this.#status,
      turn: this.#turns.length,
      pendingApprovals: this.#approvals.pendingCount,
      usage: this.#usage,
      ...(this.#result ? { result: this.#result } : {}),
    }));
    setHandler(modelRequestQuery, (): ModelRequestContext => ({
      ...(this.#options.system !== undefined ? { system: this.#options.system } : {}),
      tools: [...this.#tools.values()].map((tool) => ({
        name: tool.name,
        ...(tool.description !== undefined ? { description: tool.description } : {}),
        input_schema: tool.inputSchema as ModelRequestContext['tools'][number]['input_schema'],
        ...(tool.strict !== undefined ? { strict: tool.strict } : {}),
      })),
      messages: this.#messages,
    }));

    for (const [signal, approve] of [
      [approveSignal, true],
      [rejectSignal, false],
    ] as const) {
      setHandler(signal, (request) => {
        const refusal = this.#approvals.refusal(request, approve, Date.now(), { holdUnknown: true });
        if (refusal) {
          log.warn(`Ignored ${approve ? 'approve' : 'reject'} signal: ${refusal}`, { request });
          return;
        }
        this.#approvals.decide(request, approve, 'signal', Date.now());
      });
    }
    setHandler(
      decideUpdate,
      (request) => {
        const decision = this.#approvals.decide(request, request.decision === 'approve', 'update', Date.now());
        if (decision) return Promise.resolve(decision);
        // Decided before the call was pending (a fast approver): answer once the workflow takes it.
        const id = request.toolUseId;
        return condition(() => this.#approvals.decisionFor(id) !== undefined || this.#approvals.wasDropped(id)).then(() => {
          const taken = this.#approvals.decisionFor(id);
          if (taken) return taken;
          throw ApplicationFailure.nonRetryable(`tool call ${id} did not wait for approval, so the decision was not used`, 'DecisionNotUsed');
        });
      },
      {
        validator: (request) => {
          if (typeof request !== 'object' || request === null || (request.decision !== 'approve' && request.decision !== 'reject')) {
            throw new Error("decision must be 'approve' or 'reject'");
          }
          const refusal = this.#approvals.refusal(request, request.decision === 'approve', Date.now());
          if (refusal) throw new Error(refusal);
        },
        description: 'Approve or reject a tool call waiting for a person; refuses unknown, decided, expired ids and edits that break the schema.',
      },
    );

    setHandler(userMessageSignal, (request) => {
      const refusal = this.#messageRefusal(request);
      if (refusal) {
        log.warn(`Ignored userMessage signal: ${refusal}`);
        return;
      }
      this.#inbox.push({ content: request.content });
    });
    setHandler(
      sendMessageUpdate,
      async (request) => {
        const ticket = this.#nextTicket++;
        this.#inbox.push({ content: request.content, ticket });
        await condition(() => this.#replies.has(ticket));
        const reply = this.#replies.get(ticket)!;
        this.#replies.delete(ticket);
        return reply;
      },
      {
        validator: (request) => {
          const refusal = this.#messageRefusal(request);
          if (refusal) throw new Error(refusal);
        },
        description: 'Send the next user message of a chat and wait for the answer.',
      },
    );
    setHandler(endConversationSignal, () => {
      this.#endRequested = true;
    });
  }

  #messageRefusal(request: unknown): string | undefined {
    if (!this.#options.chat) return 'this conversation is not a chat: start it with chat: true to send more messages';
    if (this.#result || this.#endRequested) return 'this conversation has ended';
    if (typeof request !== 'object' || request === null) return 'a message must be {content}';
    const { content } = request as Partial<UserMessageRequest>;
    const ok =
      (typeof content === 'string' && content.trim() !== '') ||
      (Array.isArray(content) && content.length > 0 && content.every((b) => typeof b === 'object' && b !== null && typeof b.type === 'string'));
    if (!ok) return 'content must be a non-empty string or a non-empty list of content blocks';
    if (this.#inbox.length >= 100) return 'too many messages are queued; wait for an answer';
    return undefined;
  }

  async run(): Promise<ConversationResult> {
    try {
      this.#setStatus('running');
      await this.#loadTools();
      this.#messages.push(...this.#options.initialMessages);
      if (this.#messages.length === 0 && !(await this.#takeUserMessages())) {
        return this.#finish({ status: 'completed' }, 'idle_timeout');
      }
      for (;;) {
        const tickets = this.#pendingTickets;
        this.#pendingTickets = [];
        const outcome = await this.#runExchange();
        const reply: UserMessageReply = { status: outcome.status, text: this.#lastAssistantText(), turns: this.#turns.length };
        for (const ticket of tickets) this.#replies.set(ticket, reply);
        if (!this.#options.chat || !CHAT_CONTINUES_AFTER.includes(outcome.status)) return this.#finish(outcome);
        this.#setStatus('awaiting_user');
        if (!(await this.#takeUserMessages())) return this.#finish(outcome, this.#endRequested ? 'user' : 'idle_timeout');
        this.#setStatus('running');
      }
    } catch (err) {
      this.#setStatus(isCancellation(err) ? 'cancelled' : 'failed');
      throw err;
    }
  }

  #pendingTickets: number[] = [];

  /** Chat: waits for the next user message(s) and appends them as one user message. False on end or idle timeout. */
  async #takeUserMessages(): Promise<boolean> {
    const arrived = await condition(() => this.#inbox.length > 0 || this.#endRequested, this.#options.chatIdleTimeoutMs, {
      summary: 'waiting for the next user message',
    });
    if (!arrived || this.#inbox.length === 0) return false;
    const queued = this.#inbox.splice(0);
    const content: ContentBlockParam[] = queued.flatMap((m) =>
      typeof m.content === 'string' ? [{ type: 'text' as const, text: m.content }] : m.content,
    );
    this.#messages.push({ role: 'user', content });
    this.#pendingTickets = queued.flatMap((m) => (m.ticket === undefined ? [] : [m.ticket]));
    return true;
  }

  async #loadTools(): Promise<void> {
    if (this.#options.tools.length === 0) return;
    const { tools, unknown, available } = await catalog.describeTools({ names: this.#options.tools });
    if (unknown.length > 0) {
      throw ApplicationFailure.nonRetryable(
        `Unknown tools: ${unknown.join(', ')}. The worker registers: ${available.join(', ') || 'no tools'}.`,
        FailureTypes.unknownTools,
      );
    }
    for (const tool of tools) this.#tools.set(tool.name, tool);
  }

  /** The agent loop for one user message: model call, tools, model call… until a final stop reason or a limit. */
  async #runExchange(): Promise<ExchangeOutcome> {
    for (let iteration = 1; ; iteration++) {
      if (this.#overBudget()) return { status: 'token_budget_exceeded' };
      if (iteration > this.#options.maxIterations) return { status: 'max_iterations' };
      const { result, record, cutToolUse } = await this.#callModel(iteration);
      const reply = result.reply;
      this.#lastStopReason = reply.stopReason;
      if (cutToolUse) {
        // The ladder ran out with a tool_use still cut off: keep what is whole, drop the unusable call.
        const whole = reply.content.filter((block) => block.type !== 'tool_use');
        if (whole.length) this.#appendReply(result, whole);
        else this.#thread = null;
        return { status: 'truncated' };
      }
      this.#appendReply(result, reply.content);
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
          await this.#runTools(calls, record);
          continue;
        }
        default:
          log.warn('Unknown stop reason; ending the exchange', { stopReason: reply.stopReason });
          return { status: 'completed' };
      }
    }
  }

  #overBudget(): boolean {
    const budget = this.#options.tokenBudget;
    return budget !== undefined && this.#usage.inputTokens + this.#usage.outputTokens >= budget;
  }

  /** One model turn; repeats with a higher max_tokens (the ladder) while a tool_use comes back cut off. */
  async #callModel(iteration: number): Promise<{ result: CallModelResult; record: TurnRecord; cutToolUse: boolean }> {
    const turn = this.#turns.length + 1;
    const model = this.#options.model;
    const activities = proxyActivities<Pick<AgentActivities, 'callModel'>>({
      startToCloseTimeout: this.#options.modelTimeoutMs,
      heartbeatTimeout: this.#options.modelHeartbeatTimeoutMs,
      retry: {
        maximumAttempts: this.#options.modelRetry.maximumAttempts,
        initialInterval: this.#options.modelRetry.initialIntervalMs,
        maximumInterval: this.#options.modelRetry.maximumIntervalMs,
        backoffCoefficient: 2,
      },
      summary: `model ${model} · turn ${turn}`,
    });
    const ladder = [this.#options.maxTokens, ...this.#options.maxTokensLadder];
    const usage = emptyUsage();
    let durationMs = 0;
    const toolChoice = toolChoiceForTurn(this.#options, iteration);
    for (let rung = 0; ; rung++) {
      this.#setDetails(`turn ${turn}: calling ${model}`);
      // A continue sends only what came after the thread's last reply: this turn's own messages.
      const pending = this.#threads && this.#thread && rung === 0 ? this.#messages.slice(this.#thread.replyIndex + 1) : undefined;
      const newMessages = pending && JSON.stringify(pending).length <= MAX_INLINE_NEW_MESSAGES_CHARS ? pending : undefined;
      let result: CallModelResult;
      try {
        result = await activities.callModel({
          turn,
          model,
          maxTokens: ladder[rung]!,
          ...(toolChoice && this.#tools.size > 0 ? { toolChoice } : {}),
          transcriptLength: this.#messages.length,
          threads: this.#threads,
          thread: this.#threads ? this.#thread : null,
          ...(newMessages ? { newMessages } : {}),
          ...(rung > 0 ? { forceCreate: true } : {}),
          ...(this.#options.temperature !== undefined ? { temperature: this.#options.temperature } : {}),
          ...(this.#options.stopSequences ? { stopSequences: this.#options.stopSequences } : {}),
        });
      } catch (err) {
        if (err instanceof ActivityFailure && !isCancellation(err)) {
          throw ApplicationFailure.create({
            message: `Model call failed on turn ${turn}: ${err.cause?.message ?? err.message}`,
            type: FailureTypes.modelCallFailed,
            nonRetryable: true,
            cause: err,
          });
        }
        throw err;
      }
      if (result.threadsUnsupported) this.#threads = false;
      const replyUsage = usageOf(result.reply);
      addUsage(usage, replyUsage);
      addUsage(this.#usage, replyUsage);
      durationMs += result.durationMs;
      const last = result.reply.content[result.reply.content.length - 1];
      const cutToolUse = result.reply.stopReason === 'max_tokens' && last?.type === 'tool_use';
      if (cutToolUse && rung + 1 < ladder.length) {
        log.info('A tool_use was cut off by max_tokens; repeating the call with a higher max_tokens', { turn, maxTokens: ladder[rung + 1] });
        continue;
      }
      const record: TurnRecord = {
        turn,
        model: result.reply.model || model,
        stopReason: result.reply.stopReason,
        requestKind: result.requestKind,
        maxTokensTried: ladder.slice(0, rung + 1),
        messageIndex: -1,
        usage,
        durationMs,
        toolCalls: [],
      };
      this.#turns.push(record);
      return { result, record, cutToolUse };
    }
  }

  /** Appends the reply; a reply that resumes a paused turn joins the paused message, so roles keep alternating. */
  #appendReply(result: CallModelResult, content: BetaContentBlock[]): void {
    const last = this.#messages[this.#messages.length - 1];
    let replyIndex: number;
    if (last?.role === 'assistant' && Array.isArray(last.content)) {
      last.content = [...last.content, ...(content as ContentBlockParam[])];
      replyIndex = this.#messages.length - 1;
    } else {
      this.#messages.push({ role: 'assistant', content: content as ContentBlockParam[] });
      replyIndex = this.#messages.length - 1;
    }
    this.#turns[this.#turns.length - 1]!.messageIndex = replyIndex;
    this.#thread = result.thread && content === result.reply.content ? { ...result.thread, replyIndex } : null;
  }

  /** Runs every tool call of a reply concurrently and answers them all in one user message, in block order. */
  async #runTools(calls: ToolUse[], record: TurnRecord): Promise<void> {
    const turn = record.turn;
    this.#approvals.expectCalls(calls);
    const cap = this.#options.maxToolCallsPerTurn;
    const withinCap = calls.slice(0, cap);
    const toReview = withinCap.filter((call) => {
      const tool = this.#tools.get(call.toolName);
      return tool !== undefined && tool.approval !== 'never';
    });
    const reviews = new Map(
      toReview.length === 0 ? [] : (await catalog.reviewToolCalls({ calls: toReview })).reviews.map((r) => [r.toolUseId, r] as const),
    );
    const settled = await Promise.all(
      calls.map((call, index): Promise<SettledCall> => {
        if (index >= cap) {
          const text = `Not run: this response asked for ${calls.length} tool calls and the limit is ${cap} per turn. Call at most ${cap} tools at a time.`;
          return Promise.resolve(this.#settledWithout(call, text, 'over_limit'));
        }
        const tool = this.#tools.get(call.toolName);
        if (!tool) {
          const available = [...this.#tools.keys()].join(', ') || 'none';
          return Promise.resolve(this.#settledWithout(call, `Error: unknown tool '${call.toolName}'. Available tools: ${available}.`, 'unknown_tool'));
        }
        const review = reviews.get(call.toolUseId);
        if (review && !review.valid) {
          return Promise.resolve(this.#settledWithout(call, `Error: invalid input for ${call.toolName}: ${review.validationError}`, 'invalid_input'));
        }
        if (review?.needsApproval) return this.#runGatedTool(call, tool, turn);
        return this.#runTool(call, tool, turn, undefined);
      }),
    );
    this.#approvals.closeTurn();
    record.toolCalls = settled.map((s) => s.record);
    this.#messages.push({ role: 'user', content: settled.map((s) => s.block) });
  }

  #settledWithout(call: ToolUse, text: string, outcome: ToolCallOutcome, gated = false): SettledCall {
    return { block: errorResult(call.toolUseId, text), record: { toolUseId: call.toolUseId, toolName: call.toolName, outcome, gated } };
  }

  /** A gated call waits, on a durable timer when it has a timeout, until a person decides. */
  async #runGatedTool(call: ToolUse, tool: ToolDescription, turn: number): Promise<SettledCall> {
    const timeoutMs = tool.approvalTimeoutMs ?? this.#options.approvalTimeoutMs;
    this.#approvals.request(call, turn, Date.now(), timeoutMs);
    const isDecided = () => this.#approvals.decisionFor(call.toolUseId) !== undefined;
    const decidedInTime =
      timeoutMs === undefined
        ? (await condition(isDecided), true)
        : await condition(isDecided, timeoutMs, { summary: `approval of ${call.toolName} (${call.toolUseId})` });
    if (!decidedInTime) {
      const explanation = `Not run: no one approved this ${call.toolName} call within ${Math.round(timeoutMs! / 1000)}s, so it expired.`;
      this.#approvals.expire(call.toolUseId, Date.now(), explanation);
      if (this.#options.onApprovalTimeout === 'fail') {
        throw ApplicationFailure.nonRetryable(`Approval for ${call.toolName} (${call.toolUseId}) timed out`, FailureTypes.approvalTimeout);
      }
      return this.#settledWithout(call, explanation, 'expired', true);
    }
    const decision = this.#approvals.decisionFor(call.toolUseId)!;
    if (decision.decision !== 'approved') {
      const why = decision.reason ? `: ${decision.reason}` : ' (no reason given)';
      return this.#settledWithout(call, `The user rejected this tool call (decided by ${decision.by})${why}`, 'rejected', true);
    }
    const approval: ApprovalRecord = {
      toolUseId: call.toolUseId,
      decision: 'approved',
      by: decision.by,
      decidedAt: decision.decidedAt,
      ...(decision.reason !== undefined ? { reason: decision.reason } : {}),
      edited: decision.edited,
    };
    const settled = await this.#runTool({ ...call, input: decision.approvedInput }, tool, turn, approval);
    if (decision.edited) {
      const note = `Note: a person (${decision.by}) changed the input before approving; the tool ran with ${JSON.stringify(decision.approvedInput)}.`;
      const content = settled.block.content;
      settled.block.content = typeof content === 'string' ? `${note}\n\n${content}` : [{ type: 'text', text: note }, ...(content ?? [])];
    }
    return settled;
  }

  async #runTool(call: ToolUse, tool: ToolDescription, turn: number, approval: ApprovalRecord | undefined): Promise<SettledCall> {
    const gated = approval !== undefined;
    const activities = proxyActivities<Pick<AgentActivities, 'runTool'>>({
      startToCloseTimeout: tool.startToCloseTimeoutMs,
      ...(tool.heartbeatTimeoutMs !== undefined ? { heartbeatTimeout: tool.heartbeatTimeoutMs } : {}),
      retry: {
        maximumAttempts: tool.maximumAttempts,
        initialInterval: tool.initialRetryIntervalMs,
        backoffCoefficient: 2,
        nonRetryableErrorTypes: [FailureTypes.toolFatal],
      },
      summary: `tool ${tool.name}`,
    });
    let result: RunToolResult;
    try {
      result = await activities.runTool({ toolUseId: call.toolUseId, toolName: call.toolName, input: call.input, turn, ...(approval ? { approval } : {}) });
    } catch (err) {
      if (!(err instanceof ActivityFailure) || isCancellation(err)) throw err;
      const cause = err.cause;
      if (cause instanceof ApplicationFailure && cause.type === FailureTypes.toolFatal) {
        throw ApplicationFailure.create({
          message: `Tool ${call.toolName} failed fatally: ${cause.message}`,
          type: FailureTypes.toolFatal,
          nonRetryable: true,
          cause: err,
        });
      }
      if (cause instanceof TimeoutFailure) {
        const seconds = Math.round(tool.startToCloseTimeoutMs / 1000);
        return this.#settledWithout(call, `Error: Timeout: ${call.toolName} did not finish within ${seconds}s`, 'timeout', gated);
      }
      if (cause instanceof CancelledFailure) throw err;
      return this.#settledWithout(call, `Error: ${describeFailure(err)}`, 'error', gated);
    }
    const block: BetaToolResultBlockParam = {
      type: 'tool_result',
      tool_use_id: call.toolUseId,
      content: result.content,
      ...(result.isError ? { is_error: true } : {}),
    };
    const record: ToolCallRecord = {
      toolUseId: call.toolUseId,
      toolName: call.toolName,
      outcome: result.isError ? 'error' : 'ok',
      gated,
      startedAt: result.startedAt,
      endedAt: result.endedAt,
      ...(result.truncatedFromBytes !== undefined ? { truncatedFromBytes: result.truncatedFromBytes } : {}),
    };
    return { block, record };
  }

  #lastAssistantText(): string {
    for (let i = this.#messages.length - 1; i >= 0; i--) {
      if (this.#messages[i]!.role === 'assistant') return textOf(this.#messages[i]!.content);
    }
    return '';
  }

  #finish(outcome: ExchangeOutcome, endedBy?: ConversationResult['endedBy']): ConversationResult {
    this.#result = {
      status: outcome.status,
      text: this.#lastAssistantText(),
      stopReason: this.#lastStopReason,
      turns: this.#turns.length,
      usage: { ...this.#usage },
      ...(endedBy ? { endedBy } : {}),
    };
    // Waiting sendMessage updates get the final state rather than hanging on a conversation that is over.
    const final: UserMessageReply = { status: outcome.status, text: this.#result.text, turns: this.#turns.length };
    for (const { ticket } of this.#inbox.splice(0)) if (ticket !== undefined) this.#replies.set(ticket, final);
    this.#setStatus(outcome.status);
    const transcript = { messages: this.#messages, turns: this.#turns, approvals: this.#approvals.audit };
    // A result is one payload, limited to 2 MB: a long transcript is left to the transcript query instead.
    const fits = this.#options.includeTranscriptInResult && JSON.stringify(transcript).length <= MAX_TRANSCRIPT_IN_RESULT_CHARS;
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

  #setDetails(details: string): void {
    setCurrentDetails(`${this.#status} · ${details}`);
  }
}

/** One Claude tool-use conversation as a durable workflow. */
export async function agentConversation(options: ConversationOptions): Promise<ConversationResult> {
  const check = checkConversationOptions(options);
  if (!check.ok) {
    throw ApplicationFailure.nonRetryable(`Invalid conversation options: ${check.errors.join('; ')}`, FailureTypes.invalidOptions);
  }
  const conversation = new Conversation(check.options);
  conversation.registerHandlers();
  return conversation.run();
}
