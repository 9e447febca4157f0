// Approval waits, seen from the worker through the workflow's live-output sink (not called on replay, adds nothing to
// history): a span from the request to the decision, under the model call that asked for the tool, and metrics.
import { SpanKind, SpanStatusCode, trace, context as otelContext, type SpanContext, type Tracer } from '@opentelemetry/api';
import type { InjectedSinks } from '@temporalio/worker';
import type { ConversationSinks, SequencedWorkflowEvent } from '../workflows/live-events';
import { DURABLE_CLAUDE, GEN_AI } from './genai';
import type { AgentMetrics } from './metrics';

/** More than any worker has in flight; the oldest are forgotten first (a Map keeps insertion order). */
const REMEMBERED_TOOL_REQUESTS = 10_000;

interface PendingApproval {
  name: string;
  requestedAt: number;
}

export class ApprovalTracker {
  readonly #requests = new Map<string, SpanContext>();
  readonly #pending = new Map<string, Map<string, PendingApproval>>();

  constructor(
    private readonly tracer: Tracer,
    private readonly metrics: AgentMetrics,
  ) {}

  rememberToolRequest(toolUseId: string, span: SpanContext): void {
    this.#requests.set(toolUseId, span);
    if (this.#requests.size > REMEMBERED_TOOL_REQUESTS) this.#requests.delete(this.#requests.keys().next().value!);
  }

  // Pending calls are kept by conversation, not run: a wait can carry across continue-as-new.
  observe(workflowId: string, runId: string, event: SequencedWorkflowEvent): void {
    if (event.type === 'approval_requested') {
      const pending = this.#pending.get(workflowId) ?? new Map<string, PendingApproval>();
      this.#pending.set(workflowId, pending);
      if (!pending.has(event.toolUseId)) this.metrics.pendingApprovals.add(1, { tool: event.name });
      pending.set(event.toolUseId, { name: event.name, requestedAt: Date.parse(event.at) });
    } else if (event.type === 'approval_decided') {
      const pending = this.#pending.get(workflowId);
      const request = pending?.get(event.toolUseId);
      if (request) {
        pending!.delete(event.toolUseId);
        this.metrics.pendingApprovals.add(-1, { tool: event.name });
      }
      const decidedAt = Date.parse(event.at);
      // The workflow says when the call was asked (this worker may not have seen the request: another worker, a
      // restart, a continued run); an event from before it said so falls back to what this worker saw.
      const asked = event.requestedAt !== undefined ? Date.parse(event.requestedAt) : request?.requestedAt;
      const requestedAt = asked !== undefined && Number.isFinite(asked) ? asked : undefined;
      if (requestedAt === undefined) return;
      this.metrics.approvalWait.record(Math.max(0, decidedAt - requestedAt) / 1000, { tool: event.name, decision: event.decision });
      const parent = this.#requests.get(event.toolUseId);
      this.#requests.delete(event.toolUseId);
      const span = this.tracer.startSpan(
        `approval_wait ${event.name}`,
        {
          kind: SpanKind.INTERNAL,
          startTime: requestedAt,
          attributes: {
            [GEN_AI.conversationId]: workflowId,
            [DURABLE_CLAUDE.runId]: runId,
            [GEN_AI.toolName]: event.name,
            [GEN_AI.toolCallId]: event.toolUseId,
            [DURABLE_CLAUDE.approvalDecision]: event.decision,
            ...(event.by ? { [DURABLE_CLAUDE.approvalDecidedBy]: event.by } : {}),
          },
        },
        parent ? trace.setSpanContext(otelContext.active(), parent) : otelContext.active(),
      );
      if (event.decision !== 'approved') span.setStatus({ code: SpanStatusCode.UNSET, message: event.decision });
      span.end(decidedAt);
    } else if (event.type === 'conversation_finished') {
      // Requests still open when the conversation ends are no longer pending.
      for (const request of this.#pending.get(workflowId)?.values() ?? []) this.metrics.pendingApprovals.add(-1, { tool: request.name });
      this.#pending.delete(workflowId);
    }
  }

  /** Wraps the conversationEvents sink (src/streaming/workflow-sinks.ts) so it also feeds this tracker. */
  wrapSinks(sinks: InjectedSinks<ConversationSinks>): InjectedSinks<ConversationSinks> {
    const emit = sinks.conversationEvents.emit;
    return {
      ...sinks,
      conversationEvents: {
        ...sinks.conversationEvents,
        emit: {
          ...emit,
          fn: (info, event) => {
            try {
              this.observe(info.workflowId, info.runId, event);
            } catch {
              // Telemetry never breaks the conversation's live output.
            }
            return emit.fn(info, event);
          },
        },
      },
    };
  }
}
