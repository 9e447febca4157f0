// The worker end of the workflow's live-output sink (src/workflows/live-events.ts): publishes each workflow event to
// the event store. Register it on any worker that runs the conversation workflow; createAgentWorker does.
import type { InjectedSinks } from '@temporalio/worker';
import type { ConversationSinks } from '../workflows/live-events';
import type { EventPublisher } from './event-store';
import type { UnsequencedEvent } from './events';

/**
 * The sink, with or without a store: without one the events go nowhere, but the sink is still registered so the
 * worker does not log an error for every workflow event. Not called on replay; a workflow task that is retried calls
 * it again with the same sequence numbers, and the store keeps the first copy (its dedup id is the run and sequence).
 */
export function conversationEventSinks(publisher: EventPublisher | undefined): InjectedSinks<ConversationSinks> {
  return {
    conversationEvents: {
      emit: {
        fn(info, event) {
          if (!publisher) return;
          const { seq, ...body } = event;
          const toolUseId = 'toolUseId' in body ? body.toolUseId : '';
          publisher.publish({ ...body, conversationId: info.workflowId, runId: info.runId } as UnsequencedEvent, {
            dedupId: `${info.runId}/w/${seq}/${body.type}/${toolUseId}`,
          });
        },
        callDuringReplay: false,
      },
    },
  };
}
