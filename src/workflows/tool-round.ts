// The tool round of a turn: every tool_use of one reply runs concurrently (gated ones after a person decides), and
// all results go back in one user message, in block order. When one call fails the conversation (a fatal tool
// error, an approval timeout with onTimeout 'fail') or the conversation is cancelled, the other calls are cancelled
// and awaited, so nothing still runs once the workflow has ended.
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  TimeoutFailure,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
} from '@temporalio/workflow';
import type { BetaToolResultBlockParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import type { AgentActivities, ApprovalRecord, RunToolResult, ToolDescription } from '../activities/types';
import type { ApprovalBook } from './approvals';
import { FailureRetries, FailureTypes } from './failure-retries';
import { inputDigest } from './json';
import type { LiveEvents } from './live-events';
import type { ResolvedOptions } from './options';
import { ContinueAsNewPoint } from './continue-as-new';
import type { CarriedToolRound, FailureTarget, ToolCallOutcome, ToolCallRecord } from './types';

/** Histories recorded before this patch ended the workflow at once, leaving sibling tools running. */
const CANCEL_SIBLINGS_PATCH = 'tool-round-cancels-siblings-on-failure';
/** …and cancelled tools without waiting for them (TRY_CANCEL). */
const WAIT_FOR_CANCELLED_TOOLS_PATCH = 'tools-wait-for-cancellation';

/**
 * Decides the tool round's patch. Called before any local activity that precedes the round: one that ran first (the
 * review, or describePayloadStorage at the start of a run that resumes a round) can have a query make the worker
 * complete its task with the activity's marker but not its consequences, and a patch decided after it lands one task
 * later than replay looks for it (a non-determinism error).
 */
export function decideToolRoundPatch(): void {
  patched(WAIT_FOR_CANCELLED_TOOLS_PATCH);
}
/** …and left a gated call whose wait was cancelled in the pending list. */
const WITHDRAW_CANCELLED_WAIT_PATCH = 'withdraw-cancelled-approval-wait';

export interface ToolUse {
  toolUseId: string;
  toolName: string;
  input: unknown;
}

export interface SettledCall {
  call: ToolUse;
  block: BetaToolResultBlockParam;
  record: ToolCallRecord;
}

export interface ToolRoundContext {
  readonly options: ResolvedOptions;
  readonly tools: ReadonlyMap<string, ToolDescription>;
  readonly approvals: ApprovalBook;
  readonly retries: FailureRetries;
  readonly events: LiveEvents;
  /** Continue-as-new is due: a round left waiting only for people can hand over to the next run. */
  handOverDue(): boolean;
  /** A tool's result was just delivered: the moment to read the history's size (continue-as-new). */
  sampleHistory(): void;
  /** The run is handing over: nothing may start any more (a decision that arrives now runs in the next run). */
  handingOver(): boolean;
  /** The state each session tool saved with its last result, by tool name (read and written here). */
  readonly sessions: Map<string, unknown>;
}

interface ToolRun {
  call: ToolUse;
  tool: ToolDescription;
  gated: boolean;
}

/** A call whose failure ends the conversation, unless a retry of exactly this step was asked for. */
class RoundFailure {
  constructor(
    readonly failure: ApplicationFailure,
    readonly target: FailureTarget,
  ) {}
}

const { reviewToolCalls } = proxyLocalActivities<Pick<AgentActivities, 'reviewToolCalls'>>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3, initialInterval: '200ms' },
});

function errorResult(toolUseId: string, text: string): BetaToolResultBlockParam {
  return { type: 'tool_result', tool_use_id: toolUseId, content: text, is_error: true };
}

/** The failure as the model reads it, without "Error: Error:" when the type says nothing more. */
function describeFailure(err: ActivityFailure): string {
  const cause = err.cause;
  const type = cause instanceof ApplicationFailure ? cause.type : cause?.name;
  const message = cause?.message ?? err.message;
  return type && type !== 'Error' ? `${type}: ${message}` : message;
}

export class ToolRound {
  /** A session tool's calls run one at a time: each waits for the one before it (by tool name) to end. */
  readonly #sessionTails = new Map<string, Promise<void>>();

  constructor(private readonly context: ToolRoundContext) {}

  /** Runs the calls of one reply and answers each, in block order. Throws when a call fails the conversation. */
  async run(calls: ToolUse[], turn: number, resumed?: Omit<CarriedToolRound, 'iteration'>): Promise<SettledCall[]> {
    const { approvals, tools } = this.context;
    // Decided now, before the round's first await: the SDK remembers the decision, so every runTool of the run gets
    // it from memory. Decided where the first runTool is scheduled instead, it followed the reviewToolCalls local
    // activity, and a query that made the worker complete the task with the activity's marker but not yet its
    // consequences put the patch marker one task later than replay looks for it (a non-determinism error).
    if (calls.length > 0) decideToolRoundPatch();
    // The time a first wait is requested at, read before the reviewToolCalls local activity for the same reason:
    // after it, the workflow clock can read a later task's time when it first ran and an earlier one on replay, so a
    // replayed run (one that continues as new) would carry a different request time than its queries showed.
    let requestedAt: number | undefined = Date.now();
    approvals.expectCalls(calls);
    const settled = new Map<string, SettledCall>();
    // Handed over by the previous run: what was answered stays answered; the gated calls wait (or run) here.
    for (const done of resumed?.settled ?? []) settled.set(done.call.toolUseId, done as SettledCall);
    let runs: ToolRun[] = resumed
      ? calls.filter((call) => resumed.gated.includes(call.toolUseId)).map((call) => ({ call, tool: tools.get(call.toolName)!, gated: true }))
      : await this.#prepare(calls, turn, settled);

    for (;;) {
      const failure = await this.#runConcurrently(runs, settled, turn, calls, requestedAt);
      // A wait after a retry starts when the retry comes (no local activity before it).
      requestedAt = undefined;
      if (!failure) break;
      if (!(await this.context.retries.take(failure.target))) throw failure.failure;
      // A retry of the previous run's failure: run again what has no recorded result (the failed call, the
      // siblings cancelled with it); an expired approval waits again.
      runs = runs.filter((run) => !settled.has(run.call.toolUseId));
      for (const run of runs) approvals.reopen(run.call.toolUseId);
    }
    approvals.closeTurn(Date.now());
    return calls.map((call) => settled.get(call.toolUseId)!);
  }

  /** Answers what cannot run (over the cap, unknown, invalid input) and says which calls run, gated or not. */
  async #prepare(calls: ToolUse[], turn: number, settled: Map<string, SettledCall>): Promise<ToolRun[]> {
    const { tools, options } = this.context;
    const cap = options.maxToolCallsPerTurn;
    const withinCap = calls.slice(0, cap);
    const toReview = withinCap.filter((call) => {
      const tool = tools.get(call.toolName);
      return tool !== undefined && tool.approval !== 'never';
    });
    const reviews = new Map(toReview.length === 0 ? [] : (await reviewToolCalls({ calls: toReview })).reviews.map((r) => [r.toolUseId, r] as const));

    const runs: ToolRun[] = [];
    calls.forEach((call, index) => {
      if (index >= cap) {
        const text = `Not run: this response asked for ${calls.length} tool calls and the limit is ${cap} per turn. Call at most ${cap} tools at a time.`;
        this.#settle(settled, this.#answered(call, text, 'over_limit'), turn);
        return;
      }
      const tool = tools.get(call.toolName);
      if (!tool) {
        const available = [...tools.keys()].join(', ') || 'none';
        this.#settle(settled, this.#answered(call, `Error: unknown tool '${call.toolName}'. Available tools: ${available}.`, 'unknown_tool'), turn);
        return;
      }
      const review = reviews.get(call.toolUseId);
      if (review && !review.valid) {
        this.#settle(settled, this.#answered(call, `Error: invalid input for ${call.toolName}: ${review.validationError}`, 'invalid_input'), turn);
        return;
      }
      runs.push({ call, tool, gated: review?.needsApproval === true });
    });
    return runs;
  }

  /** Runs every call at once; on a failure that ends the conversation, cancels the rest and waits for them. */
  async #runConcurrently(
    runs: ToolRun[],
    settled: Map<string, SettledCall>,
    turn: number,
    calls: ToolUse[],
    requestedAt: number | undefined,
  ): Promise<RoundFailure | undefined> {
    let failure: RoundFailure | undefined;
    let otherError: unknown;
    let failFast: ((failure: RoundFailure) => void) | undefined;
    const failedFast = new Promise<RoundFailure>((resolve) => (failFast = resolve));
    const conversationScope = CancellationScope.current();
    const scope = new CancellationScope();
    const all = scope.run(() =>
      Promise.all(
        runs.map(async (run) => {
          try {
            this.#settle(settled, await (run.gated ? this.#runGated(run, turn, requestedAt) : this.#runTool(run.call, run.tool, turn, undefined)), turn);
          } catch (err) {
            if (err instanceof RoundFailure) {
              if (failure) return;
              failure = err;
              if (!patched(CANCEL_SIBLINGS_PATCH)) return failFast!(err);
              scope.cancel();
              return;
            }
            // Siblings cancelled because of the failure are not results; any other error (the conversation was
            // cancelled) is rethrown once every call has finished.
            if (failure && isCancellation(err)) return;
            otherError ??= err;
          }
        }),
      ),
    );
    // Continue-as-new may take over while only approval waits are left: nothing runs, and the waits carry over.
    const { approvals } = this.context;
    const onlyWaitsLeft = () => runs.every((run) => settled.has(run.call.toolUseId) || (run.gated && approvals.isAwaiting(run.call.toolUseId)));
    let raced = false;
    // The flag ends the condition once the race is over, so no predicate outlives its round.
    // Not cancellable: a cancelled conversation still waits for its tools' cancellations (the race's `all`).
    const handOver = CancellationScope.nonCancellable(() =>
      condition(() => raced || (this.context.handOverDue() && onlyWaitsLeft() && runs.some((run) => !settled.has(run.call.toolUseId)))),
    ).then(() => (raced ? undefined : ('hand over' as const)));
    const early = await Promise.race([all.then(() => undefined), failedFast, handOver]);
    raced = true;
    if (early === 'hand over') {
      throw new ContinueAsNewPoint({
        turn,
        calls,
        settled: calls.flatMap((call) => (settled.has(call.toolUseId) ? [settled.get(call.toolUseId)!] : [])),
        gated: runs.filter((run) => !settled.has(run.call.toolUseId)).map((run) => run.call.toolUseId),
      });
    }
    if (early) return early;
    // A conversation cancelled meanwhile ends cancelled, even if a tool failed on its way out.
    if (otherError !== undefined && isCancellation(otherError) && conversationScope.consideredCancelled) throw otherError;
    if (failure) return failure;
    if (otherError !== undefined) throw otherError;
    return undefined;
  }

  /** Records a call's answer and tells subscribers how it ended. */
  #settle(settled: Map<string, SettledCall>, call: SettledCall, turn: number): void {
    settled.set(call.call.toolUseId, call);
    const content = call.block.content;
    const text = typeof content === 'string' ? content : (content ?? []).map((b) => (b.type === 'text' ? b.text : `[${b.type}]`)).join('');
    this.context.events.emit({
      type: 'tool_finished',
      turn,
      toolUseId: call.call.toolUseId,
      name: call.call.toolName,
      isError: call.block.is_error === true,
      outcome: call.record.outcome,
      preview: text.length > 200 ? `${text.slice(0, 199)}…` : text,
    });
  }

  #answered(call: ToolUse, text: string, outcome: ToolCallOutcome, gated = false): SettledCall {
    return { call, block: errorResult(call.toolUseId, text), record: { toolUseId: call.toolUseId, toolName: call.toolName, outcome, gated } };
  }

  /** A gated call waits, on a durable timer when it has a timeout, until a person decides. */
  async #runGated({ call, tool }: ToolRun, turn: number, requestedAt: number | undefined): Promise<SettledCall> {
    const { approvals, options } = this.context;
    const timeoutMs = tool.approvalTimeoutMs ?? options.approvalTimeoutMs;
    // Re-run after a retry with its approval already taken (the run was cancelled while it ran): no new wait.
    const decidedBefore = approvals.decisionFor(call.toolUseId) !== undefined;
    let decidedInTime = true;
    if (!decidedBefore) {
      // A wait handed over by the previous run goes on with the time it had left.
      const carried = approvals.pendingFor(call.toolUseId);
      const waitMs = carried ? (carried.expiresAt === null ? undefined : Math.max(1, Date.parse(carried.expiresAt) - Date.now())) : timeoutMs;
      if (!carried) approvals.request(call, turn, requestedAt ?? Date.now(), timeoutMs);
      const isDecided = () => approvals.decisionFor(call.toolUseId) !== undefined;
      try {
        decidedInTime =
          waitMs === undefined ? (await condition(isDecided), true) : await condition(isDecided, waitMs, { summary: `approval of ${call.toolName} (${call.toolUseId})` });
      } catch (err) {
        // A wait cancelled (the conversation, or a sibling's failure) takes no decision any more: not pending.
        if (isCancellation(err) && patched(WITHDRAW_CANCELLED_WAIT_PATCH)) approvals.withdraw(call.toolUseId);
        throw err;
      }
    }
    // Decided while the run hands over: the next run runs it (its decision is carried), so this one must not.
    if (this.context.handingOver()) await new Promise<never>(() => undefined);
    if (!decidedInTime) {
      const explanation = `Not run: no one approved this ${call.toolName} call within ${Math.round(timeoutMs! / 1000)}s, so it expired.`;
      approvals.expire(call.toolUseId, Date.now(), explanation);
      if (options.onApprovalTimeout === 'fail') {
        const target: FailureTarget = { kind: 'approval', toolUseId: call.toolUseId };
        throw new RoundFailure(FailureRetries.failure(`Approval for ${call.toolName} (${call.toolUseId}) timed out`, FailureTypes.approvalTimeout, target), target);
      }
      return this.#answered(call, explanation, 'expired', true);
    }
    const decision = approvals.decisionFor(call.toolUseId)!;
    if (decision.decision !== 'approved') {
      const why = decision.reason ? `: ${decision.reason}` : ' (no reason given)';
      return this.#answered(call, `The user rejected this tool call (decided by ${decision.by})${why}`, 'rejected', true);
    }
    const approval: ApprovalRecord = {
      toolUseId: call.toolUseId,
      decision: 'approved',
      by: decision.by,
      decidedAt: decision.decidedAt,
      ...(decision.reason !== undefined ? { reason: decision.reason } : {}),
      edited: decision.edited,
      inputDigest: inputDigest(decision.approvedInput),
      // The worker checks them against the tool's rule before it runs a governed tool.
      ...(decision.approvers ? { approvers: decision.approvers.map(({ subject, issuer, tokenId }) => ({ subject, issuer, tokenId })) } : {}),
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
    if (!tool.session) return this.#runToolNow(call, tool, turn, approval);
    // A session (a shell) has one state: its commands run in the order they are cleared to run, each from the state
    // the one before it saved, which comes back with its result (so it is in history and survives any worker).
    const before = this.#sessionTails.get(tool.name) ?? Promise.resolve();
    let release!: () => void;
    this.#sessionTails.set(tool.name, new Promise<void>((resolve) => (release = resolve)));
    try {
      await before;
      return await this.#runToolNow(call, tool, turn, approval);
    } finally {
      release();
    }
  }

  async #runToolNow(call: ToolUse, tool: ToolDescription, turn: number, approval: ApprovalRecord | undefined): Promise<SettledCall> {
    const gated = approval !== undefined;
    const { sessions } = this.context;
    const activities = proxyActivities<Pick<AgentActivities, 'runTool'>>({
      startToCloseTimeout: tool.startToCloseTimeoutMs,
      ...(tool.heartbeatTimeoutMs !== undefined ? { heartbeatTimeout: tool.heartbeatTimeoutMs } : {}),
      retry: {
        maximumAttempts: tool.maximumAttempts,
        initialInterval: tool.initialRetryIntervalMs,
        backoffCoefficient: 2,
        nonRetryableErrorTypes: [FailureTypes.toolFatal],
      },
      // A cancelled conversation ends only once its tools have seen the cancellation and returned.
      cancellationType: patched(WAIT_FOR_CANCELLED_TOOLS_PATCH) ? ActivityCancellationType.WAIT_CANCELLATION_COMPLETED : ActivityCancellationType.TRY_CANCEL,
      summary: `tool ${tool.name}`,
    });
    let result: RunToolResult;
    this.context.events.emit({ type: 'tool_started', turn, toolUseId: call.toolUseId, name: call.toolName, input: call.input });
    try {
      const session = tool.session && sessions.has(tool.name) ? { session: sessions.get(tool.name) } : {};
      result = await activities.runTool({ toolUseId: call.toolUseId, toolName: call.toolName, input: call.input, turn, ...(approval ? { approval } : {}), ...session });
      this.context.sampleHistory();
      if (tool.session && result.session !== undefined) sessions.set(tool.name, result.session);
    } catch (err) {
      this.context.sampleHistory();
      if (!(err instanceof ActivityFailure) || isCancellation(err)) throw err;
      const cause = err.cause;
      if (cause instanceof ApplicationFailure && cause.type === FailureTypes.toolFatal) {
        const target: FailureTarget = { kind: 'tool', toolUseId: call.toolUseId };
        throw new RoundFailure(FailureRetries.failure(`Tool ${call.toolName} failed fatally: ${cause.message}`, FailureTypes.toolFatal, target, err), target);
      }
      if (cause instanceof TimeoutFailure) {
        const seconds = Math.round(tool.startToCloseTimeoutMs / 1000);
        return this.#answered(call, `Error: Timeout: ${call.toolName} did not finish within ${seconds}s`, 'timeout', gated);
      }
      if (cause instanceof CancelledFailure) throw err;
      return this.#answered(call, `Error: ${describeFailure(err)}`, 'error', gated);
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
    return { call, block, record };
  }
}
