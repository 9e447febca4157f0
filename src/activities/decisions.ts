// Verifying a decision credential in the worker: the key (or the identity provider's key set) and the tool's
// approver rule live here; the workflow gets back only who decided and what the rule made of them.
import { log } from '@temporalio/activity';
import type { ToolRegistry } from '../tools/registry';
import { evaluateApprovers } from '../security/credentials';
import { CredentialRefused, type ApproverVerdict, type DecisionVerifier } from '../security/types';
import type { VerifyDecisionInput, VerifyDecisionResult } from './types';

export interface DecisionActivityOptions {
  registry: ToolRegistry;
  /** Absent: this worker verifies no credentials, and every decision that carries one is refused. */
  verifier?: DecisionVerifier;
}

export function createDecisionActivities({ registry, verifier }: DecisionActivityOptions) {
  async function verifyDecision({ token, toolName, expected }: VerifyDecisionInput): Promise<VerifyDecisionResult> {
    if (!verifier) return { ok: false, reason: 'this worker verifies no decision credentials (createAgentWorker({ decisionVerifier }))' };
    let approver;
    try {
      approver = await verifier.verify(token, expected);
    } catch (err) {
      // A credential that does not verify is an answer, not a failure: retrying it would not change it.
      if (err instanceof CredentialRefused) return { ok: false, reason: `credential refused: ${err.message}` };
      throw err;
    }
    const rule = registry.get(toolName)?.settings.approvers;
    const verdict: ApproverVerdict | null = rule ? await evaluateApprovers(rule, approver) : null;
    const { roles: _roles, groups: _groups, ...kept } = approver;
    log.info('Verified a decision credential', { toolName, toolUseId: expected.toolUseId, subject: approver.subject, issuer: approver.issuer, allowed: verdict?.allowed ?? true });
    return { ok: true, approver: kept, verdict };
  }
  return { verifyDecision };
}
