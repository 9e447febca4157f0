// Tool activities: closing over the worker's registry, they describe tools to the workflow, check calls before a
// person is asked, and run one tool_use each.
import { createHash } from 'node:crypto';
import { ApplicationFailure, CancelledFailure, Context, log } from '@temporalio/activity';
import { ToolError, ToolFatalError, type AgentTool } from '../tools/define-tool';
import { normalizeToolOutput } from '../tools/output';
import { workflowOf } from './context';
import { ToolRegistry } from '../tools/registry';
import { FailureTypes } from '../workflows/failure-types';
import { canonicalJson } from '../workflows/json';
import type { EventPublisher } from '../streaming/event-store';
import type {
  DescribeRunInput,
  DescribeRunResult,
  DescribeToolsInput,
  DescribeToolsResult,
  ReviewToolCallsInput,
  ReviewToolCallsResult,
  RunToolInput,
  RunToolResult,
  ToolDescription,
} from './types';

/**
 * How often a running tool heartbeats on its own behalf. Cancellation reaches an activity only in a heartbeat's
 * answer, so without this a tool that never heartbeats would never see that its conversation was cancelled.
 */
export const TOOL_HEARTBEAT_INTERVAL_MS = 1_000;

/** SHA-256 of the canonical JSON of a tool input: the digest an approval record carries (computed the same way in the workflow). */
export function inputDigestOf(input: unknown): string {
  return createHash('sha256').update(canonicalJson(input), 'utf8').digest('hex');
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return `Error: ${String(err)}`;
}

export interface ToolActivitiesOptions {
  /** Live output: tools' progress reports are published here as `tool_progress` events. */
  events?: EventPublisher;
}

export function createToolActivities(registryOrTools: ToolRegistry | Iterable<AgentTool>, options: ToolActivitiesOptions = {}) {
  const { events } = options;
  const registry = registryOrTools instanceof ToolRegistry ? registryOrTools : new ToolRegistry(registryOrTools);

  async function describeTools({ names }: DescribeToolsInput): Promise<DescribeToolsResult> {
    const tools: ToolDescription[] = [];
    const unknown: string[] = [];
    // `<server>__*` becomes the server's tools as they are now: what the workflow records is the expanded list.
    for (const name of registry.expand(names)) {
      const description = registry.describe(name);
      if (description) tools.push(description);
      else unknown.push(name);
    }
    return { tools, unknown, available: registry.names() };
  }

  async function reviewToolCalls({ calls }: ReviewToolCallsInput): Promise<ReviewToolCallsResult> {
    const reviews = await Promise.all(
      calls.map(async (call) => {
        const tool = registry.get(call.toolName);
        // Recorded at the conversation's start but gone from this worker (a redeploy, an MCP server that dropped it):
        // no person is asked about a call that cannot run; runTool answers it with is_error.
        if (!tool) return { toolUseId: call.toolUseId, valid: true, needsApproval: false };
        const parsed = tool.parse(call.input);
        if (!parsed.ok) return { toolUseId: call.toolUseId, valid: false, validationError: parsed.error, needsApproval: false };
        let needsApproval: boolean;
        try {
          needsApproval = await tool.needsApproval(parsed.value);
        } catch (err) {
          // A rule that cannot decide errs on the side of asking a person.
          log.warn(`needsApproval of ${tool.name} threw; asking for approval`, { error: errorMessage(err) });
          needsApproval = true;
        }
        return { toolUseId: call.toolUseId, valid: true, needsApproval };
      }),
    );
    return { reviews };
  }

  async function runTool(input: RunToolInput): Promise<RunToolResult> {
    const ctx = Context.current();
    const startedAt = Date.now();
    // A session tool's saved state goes back with the result, whatever the result is: the workflow records it.
    let saved: { state: unknown } | undefined;
    const finish = (content: RunToolResult['content'], isError: boolean, truncatedFromBytes?: number): RunToolResult => ({
      content,
      isError,
      ...(truncatedFromBytes !== undefined ? { truncatedFromBytes } : {}),
      startedAt,
      endedAt: Date.now(),
      ...(saved !== undefined && saved.state !== undefined ? { session: saved.state } : {}),
    });
    const tool = registry.get(input.toolName);
    if (!tool) {
      return finish(
        `Error: the tool '${input.toolName}' is not available on this worker any more (it was removed since this conversation started). Available tools: ${registry.names().join(', ') || 'none'}.`,
        true,
      );
    }
    const parsed = tool.parse(input.input);
    if (!parsed.ok) return finish(`Error: invalid input for ${tool.name}: ${parsed.error}`, true);

    // The last line of the approval gate: a gated call never runs without the approval record for this exact input.
    let gated: boolean;
    try {
      gated = await tool.needsApproval(parsed.value);
    } catch {
      gated = true;
    }
    if (gated) {
      const approval = input.approval;
      if (!approval || approval.decision !== 'approved' || approval.toolUseId !== input.toolUseId) {
        log.error('Refused to run a gated tool without an approval record', { tool: tool.name, toolUseId: input.toolUseId });
        return finish(`Not run: ${tool.name} needs a person's approval and this call has none.`, true);
      }
      if (approval.inputDigest === undefined) {
        log.error('Refused to run a gated tool whose approval names no input (recorded before approvals carried a digest)', { tool: tool.name, toolUseId: input.toolUseId });
        return finish(`Not run: the approval of this ${tool.name} call does not say which input was approved; ask for it again.`, true);
      }
      if (approval.inputDigest !== inputDigestOf(input.input)) {
        log.error('Refused to run a gated tool whose input is not the one approved', { tool: tool.name, toolUseId: input.toolUseId });
        return finish(`Not run: the input of this ${tool.name} call is not the input ${approval.by} approved.`, true);
      }
      // This worker's rule is the authority: a conversation that recorded the tool before it had approvers (or on a
      // worker without them) approved it without verified credentials, and that is not enough here.
      const required = tool.settings.approvers !== undefined ? (tool.settings.requiredApprovals ?? 1) : 0;
      const verified = new Set((approval.approvers ?? []).map((a) => `${a.issuer} ${a.subject}`)).size;
      if (verified < required) {
        log.error('Refused to run a governed tool without enough verified approvers', { tool: tool.name, toolUseId: input.toolUseId, verified, required });
        return finish(
          `Not run: ${tool.name} needs ${required} verified approver${required === 1 ? '' : 's'} (signed decisions), and this call was approved by ${verified === 0 ? `${approval.by} without a verified credential` : `only ${verified}`}.`,
          true,
        );
      }
    }

    const { workflowId, runId } = workflowOf(ctx);
    let output: unknown;
    let lastHeartbeat = Date.now();
    let progressCount = 0;
    // The tool's own checkpoint, repeated by the automatic heartbeat so a retry still finds it in heartbeatDetails.
    let lastDetails: unknown = ctx.info.heartbeatDetails;
    const heartbeat = (details?: unknown) => {
      lastHeartbeat = Date.now();
      lastDetails = details;
      ctx.heartbeat(details);
    };
    // Heartbeat for the tool while it runs (unless it just did), so a cancellation reaches its abort signal. Not for
    // a tool with a heartbeat timeout: it heartbeats itself, and a hang must still time it out.
    const keepAlive =
      tool.settings.heartbeatTimeout === undefined
        ? setInterval(() => {
            if (Date.now() - lastHeartbeat >= TOOL_HEARTBEAT_INTERVAL_MS) heartbeat(lastDetails);
          }, TOOL_HEARTBEAT_INTERVAL_MS)
        : undefined;
    try {
      output = await tool.run(parsed.value, {
        idempotencyKey: `${workflowId}:${input.toolUseId}`,
        toolUseId: input.toolUseId,
        workflowId,
        turn: input.turn,
        attempt: ctx.info.attempt,
        signal: ctx.cancellationSignal,
        heartbeat,
        progress: (progress: number, total?: number, message?: string) => {
          // Progress is a sign of life: it heartbeats with the tool's last checkpoint, so a retry still finds it.
          heartbeat(lastDetails);
          if (!events || !Number.isFinite(progress)) return;
          events.publish(
            {
              type: 'tool_progress',
              conversationId: workflowId,
              runId,
              turn: input.turn,
              at: new Date().toISOString(),
              toolUseId: input.toolUseId,
              name: tool.name,
              attempt: ctx.info.attempt,
              progress,
              ...(total !== undefined && Number.isFinite(total) ? { total } : {}),
              ...(message !== undefined ? { message: String(message).slice(0, 500) } : {}),
            },
            { dedupId: `${runId}/${input.toolUseId}/${ctx.info.attempt}/progress/${++progressCount}` },
          );
        },
        ...(input.approval ? { approval: input.approval } : {}),
        ...(tool.session
          ? {
              session: {
                state: input.session,
                save: (state: unknown) => {
                  saved = { state: state === undefined ? null : JSON.parse(JSON.stringify(state)) };
                },
              },
            }
          : {}),
      });
    } catch (err) {
      if (err instanceof ToolError) {
        // An error's content is held to the same size limit as a result's.
        const content = normalizeToolOutput(err.content ?? `Error: ${err.message}`, registry.maxResultBytes);
        return content.ok ? finish(content.content, true, content.truncatedFromBytes) : finish(`Error: ${err.message}`, true);
      }
      if (err instanceof ToolFatalError) throw ApplicationFailure.nonRetryable(err.message, FailureTypes.toolFatal);
      // However the tool ended after a cancellation, Temporal records the call as cancelled, not failed.
      if (ctx.cancellationSignal.aborted) throw err instanceof CancelledFailure ? err : new CancelledFailure(`${tool.name} was cancelled`, [], err instanceof Error ? err : undefined);
      // Retryable: Temporal runs the tool's short retry policy; the workflow answers is_error once it is spent.
      throw ApplicationFailure.retryable(err instanceof Error ? err.message : String(err), err instanceof Error ? err.name : 'Error');
    } finally {
      if (keepAlive) clearInterval(keepAlive);
    }
    const normalized = normalizeToolOutput(output, registry.maxResultBytes);
    if (!normalized.ok) return finish(`Error: ${normalized.error}`, true);
    if (normalized.truncatedFromBytes !== undefined) {
      log.warn(`Result of ${tool.name} truncated`, { bytes: normalized.truncatedFromBytes, limit: registry.maxResultBytes });
    }
    return finish(normalized.content, false, normalized.truncatedFromBytes);
  }

  /**
   * Whether the workflow task runs in a run made by a reset. Workflow code cannot ask this itself in a way replay
   * reproduces (the replayer gives every run the original id), so it asks as a local activity, whose answer is
   * recorded in history.
   */
  async function describeRun({ originalRunId }: DescribeRunInput): Promise<DescribeRunResult> {
    return { resetRun: workflowOf(Context.current()).runId !== originalRunId };
  }

  return { describeTools, reviewToolCalls, runTool, describeRun };
}
