import { ApplicationFailure, type Context } from '@temporalio/activity';

/** The conversation (workflow execution) an activity runs for; these activities make no sense outside one. */
export function workflowOf(ctx: Context): { workflowId: string; runId: string } {
  const execution = ctx.info.workflowExecution;
  if (!execution) throw ApplicationFailure.nonRetryable('durable-claude activities run only inside a conversation workflow', 'NotInWorkflow');
  return execution;
}
