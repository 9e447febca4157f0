// The failure types a conversation raises and the step a failure names, in a module with no runtime imports: the
// workflow, the worker's tool activity and the client all read them from here.
import type { FailureTarget } from './types';

/** Non-retryable failure types the workflow raises, so callers can tell them apart. */
export const FailureTypes = {
  invalidOptions: 'InvalidConversationOptions',
  unknownTools: 'UnknownTools',
  modelCallFailed: 'ModelCallFailed',
  toolFatal: 'ToolFatalError',
  approvalTimeout: 'ApprovalTimeout',
} as const;

/** What is wrong with a failure's named step (a retry's `failure`), if anything. */
export function failureTargetProblem(failure: unknown): string | undefined {
  if (typeof failure !== 'object' || failure === null || Array.isArray(failure)) return 'failure must be {kind, turn | toolUseId}';
  const { kind, turn, toolUseId } = failure as Record<string, unknown>;
  if (kind === 'model_call') return typeof turn === 'number' && Number.isInteger(turn) && turn >= 1 ? undefined : 'failure.turn must be a turn number';
  if (kind === 'tool' || kind === 'approval') return typeof toolUseId === 'string' && toolUseId !== '' ? undefined : 'failure.toolUseId must name the tool call';
  return "failure.kind must be 'model_call', 'tool' or 'approval'";
}

export function isFailureTarget(value: unknown): value is FailureTarget {
  return failureTargetProblem(value) === undefined;
}
