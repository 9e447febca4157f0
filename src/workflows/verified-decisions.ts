// Decisions that carry a signed credential: the worker verifies the token (a local activity, so the token is not
// recorded), and the workflow checks what came back against its own state — the binding to this conversation, call,
// decision and input; single use; the tool's policy; the requester; distinct people — before the book takes it.
// Only the verified result (subject, issuer, the claims the policy matched) is kept: never the token.
import { condition, patched, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { AgentActivities, VerifyDecisionResult } from '../activities/types';
import type { DecisionBinding } from '../security/types';
import type { ApprovalBook, TakenRequest } from './approvals';
import { inputDigest } from './json';
import type { ApprovalDecision, ApprovalProgress, DecisionRequest, RecordedApprover } from './types';

/** Histories from before it waited (up to the hold) for a decided call to reappear, then refused it as unknown. */
const DECIDED_CALL_REFUSED_AT_ONCE_PATCH = 'signed-decision-for-a-decided-call-refused-at-once';

const { verifyDecision } = proxyLocalActivities<Pick<AgentActivities, 'verifyDecision'>>({
  // Fetching an identity provider's key set can take a moment; a refusal is a result, so retries are for I/O only.
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3, initialInterval: '500ms' },
});

/** How long past its expiry a used credential is remembered (more than the verifier's clock tolerance). */
const USED_TOKEN_MARGIN_MS = 5 * 60_000;

/** A decision that was refused: the reason is safe to show and record. */
export class DecisionRefusal extends Error {
  constructor(
    message: string,
    readonly subject?: string,
  ) {
    super(message);
    this.name = 'DecisionRefusal';
  }
}

export interface VerifiedDecisionContext {
  approvals: ApprovalBook;
  /** How long to wait for the call a decision names to appear (a decision can overtake the reply). */
  holdMs: number;
  /** Who asked for the conversation: under a policy they may not approve its calls. */
  requestedBy: string | undefined;
  /** The run is ending or handing over: a decision waiting for its call stops waiting. */
  closing: () => boolean;
}

function bindingProblem(expected: DecisionBinding, got: DecisionBinding): string | undefined {
  if (got.conversationId !== expected.conversationId) return `the credential is for conversation ${got.conversationId}, not ${expected.conversationId}`;
  if (got.toolUseId !== expected.toolUseId) return `the credential is for tool call ${got.toolUseId}, not ${expected.toolUseId}`;
  if (got.decision !== expected.decision) return `the credential is to ${got.decision}, not to ${expected.decision}`;
  if (expected.decision === 'approve' && got.inputSha256 === undefined) return 'an approval credential must name the input it approves (input_sha256)';
  if (got.inputSha256 !== undefined && got.inputSha256 !== expected.inputSha256) {
    return 'the credential approves another input than this one (an edited input needs a credential for the edit)';
  }
  return undefined;
}

/**
 * Verifies and takes one signed decision. Resolves with the decision (or the progress of a call that needs more
 * approvals); rejects with a DecisionRefusal, which the caller records (signal) or returns (Update).
 */
export async function takeSignedDecision(
  context: VerifiedDecisionContext,
  request: DecisionRequest & { token: string },
  approve: boolean,
  via: 'signal' | 'update',
): Promise<ApprovalDecision | ApprovalProgress> {
  const { approvals } = context;
  const id = request.toolUseId;
  // A call decided already (its round may be over, so it is no longer pending) is refused as decided, not waited for.
  if (approvals.decisionFor(id) !== undefined && patched(DECIDED_CALL_REFUSED_AT_ONCE_PATCH)) {
    const decided = approvals.decisionProblem(request, approve, Date.now());
    if (decided) throw new DecisionRefusal(decided);
  }
  if (!approvals.callOf(id)) {
    await condition(() => approvals.callOf(id) !== undefined || context.closing(), context.holdMs);
    if (!approvals.callOf(id)) throw new DecisionRefusal(`no tool call ${id} is waiting for a decision`);
  }
  const call = approvals.callOf(id)!;
  const before = approvals.decisionProblem(request, approve, Date.now());
  if (before) throw new DecisionRefusal(before);
  const approvedInput = approve && request.input !== undefined ? request.input : call.input;
  const inputSha256 = inputDigest(approvedInput);
  const expected: DecisionBinding = { conversationId: workflowInfo().workflowId, toolUseId: id, decision: approve ? 'approve' : 'reject', inputSha256 };

  const result: VerifyDecisionResult = await verifyDecision({ token: request.token, toolName: call.toolName, expected });
  if (!result.ok) throw new DecisionRefusal(result.reason);
  const { approver, verdict } = result;
  const refuse = (reason: string): never => {
    throw new DecisionRefusal(reason, approver.subject);
  };
  const bound = bindingProblem(expected, approver.binding);
  if (bound) refuse(bound);
  const usedKey = `${approver.issuer} ${approver.tokenId}`;
  if (approvals.tokenUsed(usedKey)) refuse('this credential was already used: each one decides once');
  // Taken from here on, whatever follows: a credential is never good for a second try. Remembered past its expiry
  // by more than any clock tolerance, so the worker cannot still accept it once the workflow has forgotten it.
  const now = Date.now();
  approvals.useToken(usedKey, Date.parse(approver.expiresAt) + USED_TOKEN_MARGIN_MS, now);
  const policy = approvals.policyFor(call.toolName);
  // The conversation recorded a policy, so a worker that has no rule for the tool (an older deploy) cannot decide it.
  if (policy && verdict === null) refuse(`this worker has no approver rule for ${call.toolName}, which the conversation requires (${policy.description})`);
  if (verdict && !verdict.allowed) refuse(`${approver.subject} may not decide ${call.toolName} calls: ${verdict.reason}`);
  const requester = context.requestedBy?.toLowerCase();
  if (policy && approve && requester !== undefined && (approver.subject.toLowerCase() === requester || approver.email?.toLowerCase() === requester)) {
    refuse(`${context.requestedBy} asked for this conversation and may not approve its own tool call`);
  }
  // The call may have been decided, or may not wait for approval at all, while the worker verified.
  if (!approvals.pendingFor(id)) {
    await condition(() => approvals.pendingFor(id) !== undefined || approvals.decisionFor(id) !== undefined || context.closing(), context.holdMs);
  }
  const after = approvals.decisionProblem(request, approve, Date.now());
  if (after) refuse(after);
  if (!approvals.pendingFor(id)) refuse(`tool call ${id} did not wait for approval`);

  const recorded: RecordedApprover = {
    subject: approver.subject,
    issuer: approver.issuer,
    ...(approver.email !== undefined ? { email: approver.email } : {}),
    matched: verdict?.allowed ? verdict.matched : [],
    tokenId: approver.tokenId,
    method: approver.method,
    ...(approver.keyId !== undefined ? { keyId: approver.keyId } : {}),
    verifiedAt: new Date(now).toISOString(),
  };
  const taken: TakenRequest = {
    toolUseId: id,
    by: approver.email ?? approver.subject,
    ...(request.reason !== undefined ? { reason: request.reason } : {}),
    ...(approve && request.input !== undefined ? { input: request.input } : {}),
  };
  const outcome = approvals.takeVerified(taken, approve, via, recorded, inputSha256, Date.now());
  if (typeof outcome === 'string') refuse(outcome);
  return outcome as ApprovalDecision | ApprovalProgress;
}
