// What the worker's data converter does with large payloads. Workflow code cannot see the converter, yet it must
// know before it continues as new: a carried state over Temporal's payload limit is refused unless it is offloaded.
import type { DescribePayloadStorageInput, DescribePayloadStorageResult } from './types';

export interface PayloadStorageActivityOptions {
  /** The external storage threshold in bytes, or null when the worker has no external storage. */
  offloadsAbove: number | null;
}

export function createPayloadStorageActivities({ offloadsAbove }: PayloadStorageActivityOptions) {
  async function describePayloadStorage(_input: DescribePayloadStorageInput): Promise<DescribePayloadStorageResult> {
    return { offloadsAbove };
  }
  return { describePayloadStorage };
}
