/**
 * Payloads of at least this many bytes go to external storage; smaller ones stay inline in history. 128 KiB, half
 * Temporal's default (256 KiB), because a conversation's payloads add up in one history: each tool result left
 * inline adds up to the threshold to it, so at 128 KiB a run takes twice as many large results before its history
 * nears the size at which Temporal suggests continuing as new; and the results of one reply's parallel tool calls
 * reach the workflow together, in one workflow task that travels as one gRPC message (4 MB by default). Much lower
 * would send ordinary turns to storage, where each store and retrieve is a round trip (an S3 request) that costs
 * more than the history bytes it saves.
 */
export const DEFAULT_PAYLOAD_SIZE_THRESHOLD = 128 * 1024;
