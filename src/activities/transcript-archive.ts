// Stores the stretch of the transcript a hand-over leaves behind (see src/storage/transcript-archive.ts). The
// segment reaches this activity through the worker's data converter, which offloaded it already when it was large;
// here it becomes one payload of its own, read back by clients and later runs' readers through its ref.
import { Context } from '@temporalio/activity';
import { ApplicationFailure, type ExternalStorage, type PayloadCodec } from '@temporalio/common';
import { storeTranscriptSegment } from '../storage/transcript-archive';
import type { ArchiveTranscriptInput } from './types';
import type { TranscriptSegmentRef } from '../workflows/types';

export interface TranscriptArchiveActivityOptions {
  /** The worker's external storage; without it the workflow never schedules this activity. */
  externalStorage: ExternalStorage | undefined;
  /** The worker's payload codecs: a segment is encoded as every other payload is. */
  payloadCodecs?: readonly PayloadCodec[];
}

export function createTranscriptArchiveActivities({ externalStorage, payloadCodecs = [] }: TranscriptArchiveActivityOptions) {
  async function archiveTranscript({ segment }: ArchiveTranscriptInput): Promise<TranscriptSegmentRef> {
    if (!externalStorage) throw ApplicationFailure.nonRetryable('this worker has no external storage to archive the transcript in', 'NoExternalStorage');
    const { workflowNamespace, workflowExecution } = Context.current().info;
    const target = workflowNamespace && workflowExecution ? { namespace: workflowNamespace, workflowId: workflowExecution.workflowId } : undefined;
    return storeTranscriptSegment(externalStorage, segment, { codecs: payloadCodecs, ...(target ? { target } : {}) });
  }
  return { archiveTranscript };
}
