// The approval book of a conversation: which gated calls wait for a person, what was decided, by whom and when.
// Only decisions that arrive through the approval channel (signal or update) enter it: nothing the model writes
// and nothing a tool returns can approve a call.
import { log } from '@temporalio/workflow';
import { validateJsonSchema, type JsonSchema } from './json-schema';
import type { ApprovalDecision, DecisionChannel, DecisionRequest, PendingApproval } from './types';

interface ExpectedCall {
  toolUseId: string;
  toolName: string;
  input: unknown;
}

interface EarlyDecision {
  request: DecisionRequest;
  approve: boolean;
  via: DecisionChannel;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** What is wrong with a decision's shape, before any workflow state is consulted (clients check this too). */
export function decisionShapeProblem(request: unknown, approve: boolean): string | undefined {
  if (!isRecord(request)) return 'a decision must be an object {toolUseId, by, reason?, input?}';
  const { toolUseId, by, reason, input } = request;
  if (typeof toolUseId !== 'string' || toolUseId === '') return 'toolUseId must name the tool call (the tool_use id)';
  if (typeof by !== 'string' || by.trim() === '') return 'by must say who decides (a user id or name), for the audit trail';
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
  /** At most this many decisions for ids not seen yet are held (a signal can overtake the reply it refers to). */
  static readonly MAX_HELD = 100;
  /** Early decisions for calls that turned out not to need one. */
  readonly #dropped = new Set<string>();
  /** Every decision in order: the audit trail. */
  readonly audit: ApprovalDecision[] = [];

  constructor(
    private readonly schemaOf: (toolName: string) => JsonSchema | undefined,
    private readonly onChange: () => void,
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

  /** A decision that arrived early for a call that then ran without approval (or was answered without running). */
  wasDropped(toolUseId: string): boolean {
    return this.#dropped.has(toolUseId);
  }

  /** The tool calls of a new model reply: decisions for them are accepted (and held) even before they are pending. */
  expectCalls(calls: ExpectedCall[]): void {
    for (const call of calls) this.#expected.set(call.toolUseId, call);
  }

  /** The turn's calls all have outcomes: decisions held for its calls that never needed one are dropped. */
  closeTurn(): void {
    for (const toolUseId of this.#expected.keys()) {
      const early = this.#early.get(toolUseId);
      if (!early) continue;
      log.warn('Dropped a decision for a tool call that did not wait for approval', { toolUseId, by: early.request.by });
      this.#early.delete(toolUseId);
      this.#dropped.add(toolUseId);
    }
    this.#expected.clear();
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
    this.#pending.set(call.toolUseId, pending);
    const early = this.#early.get(call.toolUseId);
    this.#early.delete(call.toolUseId);
    if (early) {
      // A held decision is checked now that the call (and its schema) is known.
      const refusal = this.refusal(early.request, early.approve, now);
      if (refusal) log.warn(`Dropped a held decision: ${refusal}`, { toolUseId: call.toolUseId });
      else this.decide(early.request, early.approve, early.via, now);
    }
    this.onChange();
    return pending;
  }

  /**
   * Why a decision must be refused, or undefined when it can be taken. The update's validator refuses with this
   * message; a signal with a refused decision is logged and ignored.
   */
  refusal(request: unknown, approve: boolean, now: number, options: { holdUnknown?: boolean } = {}): string | undefined {
    const malformed = decisionShapeProblem(request, approve);
    if (malformed || !isRecord(request)) return malformed;
    const { toolUseId, input } = request as { toolUseId: string; input?: unknown };
    const decided = this.#decided.get(toolUseId);
    if (decided) return `tool call ${toolUseId} was already ${decided.decision} by ${decided.by} at ${decided.decidedAt}`;
    if (this.#early.has(toolUseId)) return `tool call ${toolUseId} already has a decision waiting to be applied`;
    const pending = this.#pending.get(toolUseId);
    const call = pending ?? this.#expected.get(toolUseId);
    if (!call && options.holdUnknown) {
      // A signal may overtake the model reply it refers to (both can land in one workflow activation, signals
      // first): hold it until that call appears, rather than lose a real approval.
      return this.#early.size >= ApprovalBook.MAX_HELD ? `too many decisions for unknown tool calls are held; ${toolUseId} ignored` : undefined;
    }
    if (!call) {
      const waiting = this.list().map((p) => `${p.toolUseId} (${p.toolName})`);
      return `unknown tool call id ${toolUseId}; ${waiting.length ? `waiting for a decision: ${waiting.join(', ')}` : 'no tool call is waiting for a decision'}`;
    }
    if (pending?.expiresAt && now >= Date.parse(pending.expiresAt)) return `tool call ${toolUseId} expired at ${pending.expiresAt}`;
    if (input !== undefined) {
      const schema = call ? this.schemaOf(call.toolName) : undefined;
      const problems = schema ? validateJsonSchema(input, schema) : [];
      if (problems.length) return `edited input does not match the schema of ${call!.toolName}: ${problems.slice(0, 5).join('; ')}`;
    }
    return undefined;
  }

  /** Takes a decision that passed refusal(): records it, or holds it until its call is pending. */
  decide(request: DecisionRequest, approve: boolean, via: DecisionChannel, now: number): ApprovalDecision | undefined {
    const pending = this.#pending.get(request.toolUseId);
    if (!pending) {
      this.#early.set(request.toolUseId, { request, approve, via });
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
    };
    this.#record(decision);
    return decision;
  }

  /** No one decided in time. */
  expire(toolUseId: string, now: number, explanation: string): ApprovalDecision {
    const pending = this.#pending.get(toolUseId)!;
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

  /** A decision made elsewhere (an earlier run of this conversation, a fork) entering the audit trail. */
  restore(decisions: ApprovalDecision[]): void {
    for (const decision of decisions) {
      this.#decided.set(decision.toolUseId, decision);
      this.audit.push(decision);
    }
  }

  #record(decision: ApprovalDecision): void {
    this.#decided.set(decision.toolUseId, decision);
    this.#pending.delete(decision.toolUseId);
    this.audit.push(decision);
    this.onChange();
  }
}
