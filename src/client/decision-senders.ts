// Who sent each decision, as Temporal recorded it: the identity of the client behind every approve/reject signal and
// accepted decide Update. Workflow code cannot see it (the SDK does not pass it to handlers), so readers of the
// audit take it from history. It is the sending client's own claim (Client `identity`, by default pid@host) —
// evidence for an investigation, not a credential: under an approver policy the verified approvers are the authority.
import { temporal } from '@temporalio/proto';
import type { DecisionSender } from './decision-sender';
import { chainHistories } from './run-chain';
import { decodedHistory } from './export';
import type { ConversationHandle } from './handle';

const { EventType } = temporal.api.enums.v1;

function isoOf(time: temporal.api.history.v1.IHistoryEvent['eventTime']): string {
  const seconds = Number(time?.seconds ?? 0);
  return new Date(seconds * 1000 + Math.floor((time?.nanos ?? 0) / 1e6)).toISOString();
}

/** Every decision sent to a conversation (all its runs), oldest first, whether or not the workflow took it. */
export async function decisionSenders(handle: ConversationHandle): Promise<DecisionSender[]> {
  const client = handle.workflow.client;
  const { payloadCodecs, payloadConverter } = client.options.loadedDataConverter;
  const description = await handle.describe();
  const runs = await chainHistories(client, handle.conversationId, description.runId);
  const senders: DecisionSender[] = [];
  for (const { runId, history: raw } of runs) {
    const history = await decodedHistory(raw, payloadCodecs);
    for (const event of history.events ?? []) {
      let found: { name: string; payload: temporal.api.common.v1.IPayload | undefined; identity: string; via: 'signal' | 'update' } | undefined;
      if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) {
        const attrs = event.workflowExecutionSignaledEventAttributes;
        found = { name: attrs?.signalName ?? '', payload: attrs?.input?.payloads?.[0], identity: attrs?.identity ?? '', via: 'signal' };
      } else if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) {
        const request = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
        found = { name: request?.input?.name ?? '', payload: request?.input?.args?.payloads?.[0], identity: request?.meta?.identity ?? '', via: 'update' };
      }
      if (!found || !found.payload || !['approve', 'reject', 'decide'].includes(found.name)) continue;
      let args: { toolUseId?: unknown; decision?: unknown };
      try {
        args = payloadConverter.fromPayload(found.payload);
      } catch {
        continue; // Unreadable here (a codec this client lacks): nothing to say about it.
      }
      if (typeof args?.toolUseId !== 'string') continue;
      const decision = found.name === 'decide' ? args.decision : found.name;
      if (decision !== 'approve' && decision !== 'reject') continue;
      senders.push({ toolUseId: args.toolUseId, decision, via: found.via, identity: found.identity, at: isoOf(event.eventTime), runId, eventId: String(event.eventId ?? '') });
    }
  }
  return senders;
}

export { sendersOf, type DecisionSender } from './decision-sender';
