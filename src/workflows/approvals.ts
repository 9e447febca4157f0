// The approval book of a conversation: which gated calls wait for a person, what was decided, by whom and when.
// Only decisions that arrive through the approval channel (signal or update) enter it: nothing the model writes
// and nothing a tool returns can approve a call.
import { log } from '@temporalio/workflow';
import { validateJsonSchema, type JsonSchema } from './json-schema';
import { isRecord, sameJson } from './json';
import type { LiveEvents } from './live-events';
import type {
  ApprovalDecision,
  ApprovalPolicySummary,
  ApprovalProgress,
  Continuation,
  DecisionChannel,
  DecisionRequest,
  DroppedDecision,
  HeldDecision,
  PendingApproval,
  RecordedApprover,
  RefusedDecision,
} from './types';

interface ExpectedCall {
  toolUseId: string;
  toolName: string;
  input: unknown;
}

/** A decision the book takes: unsigned ones name who decided; verified ones carry the people their credentials named. */
export type TakenRequest = Omit<DecisionRequest, 'by' | 'token'> & { by: string };

interface EarlyDecision {
  request: TakenRequest;
  approve: boolean;
  via: DecisionChannel;
  receivedAt: number;
}

/** A decision credential longer than this is refused before anything verifies it. */
export const MAX_TOKEN_LENGTH = 8192;

/** What is wrong with a decision's shape, before any workflow state is consulted (clients check this too). */
export function decisionShapeProblem(request: unknown, approve: boolean): string | undefined {
  if (!isRecord(request)) return 'a decision must be an object {toolUseId, by, reason?, input?, token?}';
  const { toolUseId, by, reason, input, token } = request;
  if (typeof toolUseId !== 'string' || toolUseId === '') return 'toolUseId must name the tool call (the tool_use id)';
  if (token !== undefined && (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN_LENGTH)) {
    return `token must be a signed decision credential (a JWT of at most ${MAX_TOKEN_LENGTH} characters)`;
  }
  if (token === undefined && (typeof by !== 'string' || by.trim() === '')) return 'by must say who decides (a user id or name), for the audit trail';
  if (by !== undefined && typeof by !== 'string') return 'by must be a string';
  if (reason !== undefined && typeof reason !== 'string') return 'reason must be a string';
  if (input !== undefined && !approve) return 'input can only be given with approve (approve with edit)';
  return undefined;
}

export class ApprovalBook {
  readonly #pending = new Map<string, PendingApproval>();
  readonly #decided = new Map<string, ApprovalDecision>();
  /** Tool calls of the turn in flight that have no outcome yet: a fast approver may decide one before it is pending. */
  readonly #expected = new Map<string, ExpectedCall>();
  readonly #early = new Map<string, EarlyDecision>();
  /** At most this many decisions for ids not seen yet are held (a signal can overtake the reply it refers to)… */
  static readonly MAX_HELD = 100;
  /** The most recent decisions that were not used, with why (shown in the state query). */
  static readonly MAX_DROPPED_SHOWN = 100;
  readonly #dropped: DroppedDecision[] = [];
  readonly #droppedIds = new Set<string>();
  /** Decisions refused for their credential or the tool's policy (most recent MAX_DROPPED_SHOWN). */
  readonly #refused: RefusedDecision[] = [];
  /** Credentials already taken, with when each expires (epoch ms): a used one is refused while it is still valid. */
  readonly #usedTokens = new Map<string, number>();
  /** Verified approvals of calls that need more than one, by toolUseId. */
  readonly #partial = new Map<string, { inputSha256: string; approvers: RecordedApprover[] }>();
  /** Every decision in order: the audit trail. */
  readonly audit: ApprovalDecision[] = [];

  constructor(
    private readonly schemaOf: (toolName: string) => JsonSchema | undefined,
    /** The tool's approver policy, when it has one (from the recorded tool catalog). */
    private readonly policyOf: (toolName: string) => ApprovalPolicySummary | undefined,
    private readonly onChange: () => void,
    /** How long a decision for an unknown call is held: one whose call has not appeared by then names no call here. */
    private readonly holdMs: number,
    /** Live output: a request and each decision are announced to subscribers. */
    private readonly events?: LiveEvents,
  ) {}

  get pendingCount(): number {
    return this.#pending.size;
  }

  list(): PendingApproval[] {
    return [...this.#pending.values()];
  }

  decisionFor(toolUseId: string): ApprovalDecision | undefined {
    return this.#decided.get(toolUseId);
  }

  /** Waiting for a person, with no decision yet: a call in this state can be handed to the next run. */
  isAwaiting(toolUseId: string): boolean {
    return this.#pending.has(toolUseId) && !this.#decided.has(toolUseId);
  }

  pendingFor(toolUseId: string): PendingApproval | undefined {
    return this.#pending.get(toolUseId);
  }

  /** The call a decision names, once the model's reply has named it (pending, or about to be reviewed). */
  callOf(toolUseId: string): ExpectedCall | undefined {
    return this.#pending.get(toolUseId) ?? this.#expected.get(toolUseId);
  }

  policyFor(toolName: string): ApprovalPolicySummary | undefined {
    return this.policyOf(toolName);
  }

  /** Decisions refused for their credential or policy, most recent last (the state query shows them). */
  refused(): RefusedDecision[] {
    return [...this.#refused];
  }

  /** Records a refused attempt: nothing ran, and people can see who tried what and why it was refused. */
  refuse(entry: RefusedDecision): void {
    log.warn(`Refused a decision: ${entry.reason}`, { toolUseId: entry.toolUseId, decision: entry.decision, via: entry.via, subject: entry.subject, claimedBy: entry.claimedBy });
    this.#refused.push(entry);
    if (this.#refused.length > ApprovalBook.MAX_DROPPED_SHOWN) this.#refused.shift();
    this.onChange();
  }

  /** Whether a credential was taken before (and has not expired since, after which it is refused for that anyway). */
  tokenUsed(tokenId: string): boolean {
    return this.#usedTokens.has(tokenId);
  }

  useToken(tokenId: string, expiresAtMs: number, now: number): void {
    for (const [id, until] of this.#usedTokens) if (until < now) this.#usedTokens.delete(id);
    this.#usedTokens.set(tokenId, expiresAtMs);
  }

  /** Verified approvals a call has gathered so far, when its policy needs more than one. */
  partialFor(toolUseId: string): { inputSha256: string; approvers: RecordedApprover[] } | undefined {
    return this.#partial.get(toolUseId);
  }

  /** What the next run needs (continue-as-new): the audit trail, who still waits, what is held or was dropped. */
  carry(now: number): Continuation['approvals'] {
    return {
      audit: this.audit,
      pending: this.list(),
      held: [...this.#early.values()],
      dropped: this.#dropped,
      ...(this.#refused.length > 0 ? { refused: this.#refused } : {}),
      ...(this.#usedTokens.size > 0 ? { usedTokens: [...this.#usedTokens].filter(([, until]) => until >= now) } : {}),
      ...(this.#partial.size > 0 ? { partial: [...this.#partial] } : {}),
    };
  }

  /** The carried book of the previous run. Decisions are rebuilt from the audit trail, the last one per call winning. */
  restore(carried: Continuation['approvals']): void {
    this.audit.push(...carried.audit);
    for (const pending of carried.pending) this.#pending.set(pending.toolUseId, pending);
    for (const decision of carried.audit) {
      if (!this.#pending.has(decision.toolUseId)) this.#decided.set(decision.toolUseId, decision);
    }
    // Carried held decisions are unsigned ones (signed decisions wait in their handler), so each names who decided.
    for (const held of carried.held) this.#early.set(held.request.toolUseId, { ...held, request: held.request as TakenRequest });
    this.#dropped.push(...carried.dropped);
    for (const dropped of carried.dropped) this.#droppedIds.add(dropped.toolUseId);
    this.#refused.push(...(carried.refused ?? []));
    for (const [id, until] of carried.usedTokens ?? []) this.#usedTokens.set(id, until);
    for (const [id, partial] of carried.partial ?? []) this.#partial.set(id, partial);
  }

  /** Held decisions and when each one's hold ends (epoch ms), for the next run's timers. */
  heldUntil(): number[] {
    return [...this.#early.values()].map((early) => early.receivedAt + this.holdMs);
  }

  /** A decision that was held and then not used (its call did not wait for approval, or the hold expired). */
  wasDropped(toolUseId: string): boolean {
    return this.#droppedIds.has(toolUseId);
  }

  /** Decisions held for calls not seen yet and not expired. Changes nothing: the state query reads it. */
  held(now: number): HeldDecision[] {
    return [...this.#early.values()].filter((early) => now - early.receivedAt < this.holdMs).map(({ request, approve, receivedAt }) => ({
      toolUseId: request.toolUseId,
      decision: approve ? 'approve' : 'reject',
      by: request.by,
      receivedAt: new Date(receivedAt).toISOString(),
      expiresAt: new Date(receivedAt + this.holdMs).toISOString(),
    }));
  }

  /** Decisions not used, with why; held ones whose hold has run out count too (they are dropped at the next step). */
  dropped(now: number): DroppedDecision[] {
    const expired = [...this.#early.values()].filter((early) => now - early.receivedAt >= this.holdMs);
    return [...this.#dropped, ...expired.map(({ request, receivedAt }) => this.#expiredHold(request.toolUseId, request.by, receivedAt))];
  }

  #expiredHold(toolUseId: string, by: string, receivedAt: number): DroppedDecision {
    return { toolUseId, by, droppedAt: new Date(receivedAt + this.holdMs).toISOString(), reason: `no tool call ${toolUseId} appeared within ${this.holdMs / 1000}s` };
  }

  /** The conversation is over: no held decision can apply any more, and a decide Update waiting on one gets its answer. */
  dropAllHeld(now: number, reason: string): void {
    for (const [toolUseId, early] of this.#early) this.#drop(toolUseId, early.request.by, now, reason);
    this.#early.clear();
  }

  /** Drops held decisions older than HOLD_MS, so none is held forever. */
  expireHeld(now: number): void {
    for (const [toolUseId, early] of this.#early) {
      if (now - early.receivedAt < this.holdMs) continue;
      this.#early.delete(toolUseId);
      const dropped = this.#expiredHold(toolUseId, early.request.by, early.receivedAt);
      this.#drop(toolUseId, dropped.by, Date.parse(dropped.droppedAt), dropped.reason);
    }
  }

  /** The tool calls of a new model reply: decisions for them are accepted (and held) even before they are pending. */
  expectCalls(calls: ExpectedCall[]): void {
    for (const call of calls) this.#expected.set(call.toolUseId, call);
  }

  /** The turn's calls all have outcomes: decisions held for its calls that never needed one are dropped. */
  closeTurn(now: number): void {
    this.expireHeld(now);
    for (const toolUseId of this.#expected.keys()) {
      const early = this.#early.get(toolUseId);
      if (!early) continue;
      this.#early.delete(toolUseId);
      this.#drop(toolUseId, early.request.by, now, 'the tool call did not wait for approval');
    }
    this.#expected.clear();
  }

  /** A retry of an expired approval (onTimeout 'fail'): the call waits for a person again; the audit keeps the expiry. */
  reopen(toolUseId: string): void {
    if (this.#decided.get(toolUseId)?.decision === 'expired') this.#decided.delete(toolUseId);
  }

  /** A wait that was cancelled: the call no longer waits for anyone. */
  withdraw(toolUseId: string): void {
    this.#partial.delete(toolUseId);
    if (this.#pending.delete(toolUseId)) this.onChange();
  }

  /** Records a gated call as waiting for a person; applies a decision that arrived before it. */
  request(call: ExpectedCall, turn: number, now: number, timeoutMs: number | undefined): PendingApproval {
    const pending: PendingApproval = {
      toolUseId: call.toolUseId,
      toolName: call.toolName,
      input: call.input,
      turn,
      requestedAt: new Date(now).toISOString(),
      expiresAt: timeoutMs === undefined ? null : new Date(now + timeoutMs).toISOString(),
    };
    const policy = this.policyOf(call.toolName);
    if (policy) pending.policy = policy;
    // A new wait (after an expiry and a retry) starts with no approvals: earlier ones were for a wait that ended.
    this.#partial.delete(call.toolUseId);
    this.#pending.set(call.toolUseId, pending);
    this.events?.emit({
      type: 'approval_requested',
      turn,
      toolUseId: call.toolUseId,
      name: call.toolName,
      input: call.input,
      ...(pending.expiresAt !== null ? { expiresAt: pending.expiresAt } : {}),
    });
    this.expireHeld(now);
    const early = this.#early.get(call.toolUseId);
    this.#early.delete(call.toolUseId);
    if (early) {
      // A held decision is checked now that the call (and its schema) is known.
      const refusal = this.decisionProblem(early.request, early.approve, now);
      if (refusal) {
        this.#drop(call.toolUseId, early.request.by, now, `the held decision no longer applies: ${refusal}`);
        if (this.policyOf(call.toolName) && early.via !== 'timeout') {
          this.refuse({ toolUseId: call.toolUseId, decision: early.approve ? 'approve' : 'reject', via: early.via, refusedAt: new Date(now).toISOString(), reason: refusal, claimedBy: early.request.by });
        }
      } else this.decide(early.request, early.approve, early.via, now);
    }
    this.onChange();
    return pending;
  }

  /**
   * Why a decision must be refused, or undefined when it can be taken. The update's validator refuses with this
   * message; a signal with a refused decision is logged and ignored.
   */
  decisionProblem(request: unknown, approve: boolean, now: number, options: { holdUnknown?: boolean } = {}): string | undefined {
    const malformed = decisionShapeProblem(request, approve);
    if (malformed || !isRecord(request)) return malformed;
    const { toolUseId, input } = request as { toolUseId: string; input?: unknown; token?: string };
    const decided = this.#decided.get(toolUseId);
    if (decided) return `tool call ${toolUseId} was already ${decided.decision} by ${decided.by} at ${decided.decidedAt}`;
    if (this.#early.has(toolUseId)) return `tool call ${toolUseId} already has a decision waiting to be applied`;
    const pending = this.#pending.get(toolUseId);
    const call = pending ?? this.#expected.get(toolUseId);
    if (!call && options.holdUnknown) {
      // A signal may overtake the model reply it refers to (both can land in one workflow activation, signals
      // first): hold it until that call appears, rather than lose a real approval.
      this.expireHeld(now);
      if (this.#early.size < ApprovalBook.MAX_HELD) return undefined;
      const refusal = `too many decisions for unknown tool calls are held (${ApprovalBook.MAX_HELD}); ${toolUseId} ignored`;
      this.#drop(toolUseId, typeof request.by === 'string' ? request.by : '', now, refusal);
      return refusal;
    }
    if (!call) {
      const waiting = this.list().map((p) => `${p.toolUseId} (${p.toolName})`);
      return `unknown tool call id ${toolUseId}; ${waiting.length ? `waiting for a decision: ${waiting.join(', ')}` : 'no tool call is waiting for a decision'}`;
    }
    if (pending?.expiresAt && now >= Date.parse(pending.expiresAt)) return `tool call ${toolUseId} expired at ${pending.expiresAt}`;
    const policy = this.policyOf(call.toolName);
    if (policy && request.token === undefined) {
      return `${call.toolName} decisions need a signed credential (approvers: ${policy.description}); an unsigned decision is not taken`;
    }
    if (input !== undefined) {
      const schema = call ? this.schemaOf(call.toolName) : undefined;
      const problems = schema ? validateJsonSchema(input, schema) : [];
      if (problems.length) return `edited input does not match the schema of ${call!.toolName}: ${problems.slice(0, 5).join('; ')}`;
    }
    return undefined;
  }

  /** Takes a decision that passed decisionProblem(): records it, or holds it until its call is pending. */
  decide(request: TakenRequest, approve: boolean, via: DecisionChannel, now: number, approvers?: RecordedApprover[]): ApprovalDecision | undefined {
    const pending = this.#pending.get(request.toolUseId);
    if (!pending) {
      this.#early.set(request.toolUseId, { request, approve, via, receivedAt: now });
      return undefined;
    }
    const edited = approve && request.input !== undefined && !sameJson(request.input, pending.input);
    const decision: ApprovalDecision = {
      toolUseId: pending.toolUseId,
      toolName: pending.toolName,
      turn: pending.turn,
      decision: approve ? 'approved' : 'rejected',
      by: request.by,
      ...(request.reason !== undefined ? { reason: request.reason } : {}),
      requestedAt: pending.requestedAt,
      decidedAt: new Date(now).toISOString(),
      via,
      requestedInput: pending.input,
      ...(approve ? { approvedInput: request.input ?? pending.input } : {}),
      edited,
      ...(approvers ? { approvers } : {}),
    };
    this.#partial.delete(pending.toolUseId);
    this.#record(decision);
    return decision;
  }

  /**
   * Takes a decision whose credential the worker verified and the workflow checked (binding, single use, policy,
   * requester): a rejection decides; an approval decides once the policy's number of distinct people approved the
   * same input. Returns the decision, the progress so far, or why it cannot be taken now.
   */
  takeVerified(
    request: TakenRequest,
    approve: boolean,
    via: Exclude<DecisionChannel, 'timeout'>,
    approver: RecordedApprover,
    inputSha256: string,
    now: number,
  ): ApprovalDecision | ApprovalProgress | string {
    const pending = this.#pending.get(request.toolUseId);
    if (!pending) return `tool call ${request.toolUseId} is not waiting for a decision`;
    const required = pending.policy?.requiredApprovals ?? 1;
    // One authorised rejection decides; so does the one approval a single-approver policy needs.
    if (!approve || required <= 1) return this.decide(request, approve, via, now, [approver])!;
    const partial = this.#partial.get(pending.toolUseId) ?? { inputSha256, approvers: [] };
    if (partial.inputSha256 !== inputSha256) {
      return `the approvals so far are for another input of ${pending.toolName}: every approver must approve the same input`;
    }
    if (partial.approvers.some((a) => a.subject === approver.subject && a.issuer === approver.issuer)) {
      return `${approver.subject} already approved this call; it needs ${required} distinct approvers`;
    }
    const approvers = [...partial.approvers, approver];
    if (approvers.length >= required) return this.decide(request, true, via, now, approvers)!;
    this.#partial.set(pending.toolUseId, { inputSha256, approvers });
    pending.approvals = approvers;
    this.onChange();
    return { toolUseId: pending.toolUseId, toolName: pending.toolName, decision: 'approval_recorded', approvers, requiredApprovals: required };
  }

  /** No one decided in time. */
  expire(toolUseId: string, now: number, explanation: string): ApprovalDecision {
    const pending = this.#pending.get(toolUseId)!;
    this.#partial.delete(toolUseId);
    const decision: ApprovalDecision = {
      toolUseId,
      toolName: pending.toolName,
      turn: pending.turn,
      decision: 'expired',
      by: 'system:approval-timeout',
      reason: explanation,
      requestedAt: pending.requestedAt,
      decidedAt: new Date(now).toISOString(),
      via: 'timeout',
      requestedInput: pending.input,
      edited: false,
    };
    this.#record(decision);
    return decision;
  }

  #drop(toolUseId: string, by: string, now: number, reason: string): void {
    log.warn(`Dropped a decision: ${reason}`, { toolUseId, by });
    this.#droppedIds.add(toolUseId);
    this.#dropped.push({ toolUseId, by, droppedAt: new Date(now).toISOString(), reason });
    if (this.#dropped.length > ApprovalBook.MAX_DROPPED_SHOWN) this.#dropped.shift();
  }

  #record(decision: ApprovalDecision): void {
    this.#decided.set(decision.toolUseId, decision);
    this.#pending.delete(decision.toolUseId);
    this.audit.push(decision);
    this.events?.emit({
      type: 'approval_decided',
      turn: decision.turn,
      toolUseId: decision.toolUseId,
      name: decision.toolName,
      decision: decision.decision,
      by: decision.by,
      ...(decision.reason !== undefined ? { reason: decision.reason } : {}),
      edited: decision.edited,
      requestedAt: decision.requestedAt,
    });
    this.onChange();
  }
}
