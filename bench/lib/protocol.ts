// What the harness and a peer process say to each other: one JSON object per line. The harness sends a RunRequest
// on stdin; the peer runs every conversation in it concurrently and answers with a RunResponse on stdout. A peer
// first writes `{"ready":true}` once its worker is polling. (bench/peers/temporal-ai-sdk/peer.js speaks the same.)

/** The model name every peer asks for; the fake API answers any name. */
export const BENCH_MODEL = 'claude-sonnet-5-5';

export interface ConversationSpec {
  /** The first user message; the fake API picks the conversation's script by it. */
  prompt: string;
  turns: number;
  toolsPerTurn: number;
  toolMs: number;
  resultBytes: number;
  /** The system prompt (the cost scenario); absent, none. */
  system?: string;
  /** durable_claude only: its `threads` option (the cost scenario's unthreaded run); absent, its default. */
  threads?: boolean;
  /**
   * The streaming scenario: every model call streams marked text (delta-marks.ts) before its tool call, and the
   * peer reports when each mark reached a subscribed client. Model calls: `turns + 1` (the last one answers).
   */
  stream?: StreamSpec;
}

export interface StreamSpec {
  /** on: live output attached and a client subscribed; off: the same conversation without live output. */
  mode: 'on' | 'off';
  /** temporal_ai_sdk only: its latency knobs; absent, its defaults. */
  aiSdk?: AiSdkStreamTuning;
}

export interface AiSdkStreamTuning {
  /** The provider's `streamingBatchInterval`: how long the streaming activity gathers parts before a signal. */
  batchIntervalMs: number;
  /** The subscriber's `pollCooldown`: its pause after a poll that drained the log. */
  pollCooldownMs: number;
}

export interface RunRequest {
  id: number;
  conversations: ConversationSpec[];
  /** Also measure each conversation's Temporal history once it is done. */
  historyBytes: boolean;
}

export interface ConversationOutcome {
  prompt: string;
  ok: boolean;
  wallMs: number;
  workflowId?: string;
  error?: string;
  /** The history as Temporal stores and limits it (protobuf). */
  historyProtoBytes?: number;
  historyJsonBytes?: number;
  /** Streaming: the model calls the conversation made. */
  modelCalls?: number;
  /** Streaming: events the subscribed client received (every type, not only text). */
  eventsReceived?: number;
  /** Streaming: signals and Updates in the history (Workflow Streams publishes by signal and polls by Update). */
  historySignals?: number;
  historyUpdates?: number;
  /** Streaming: [mark, when its last character reached the client (performance.timeOrigin + performance.now())]. */
  deltaReceipts?: Array<[string, number]>;
}

export interface RunResponse {
  id: number;
  totalMs: number;
  conversations: ConversationOutcome[];
  /** The peer process's resident set size after the run (worker and client share the process). */
  rssBytes: number;
  /** performance.timeOrigin + performance.now() as the peer wrote the response: for the harness's clock check. */
  peerNow?: number;
}
