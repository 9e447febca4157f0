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
}

export interface RunResponse {
  id: number;
  totalMs: number;
  conversations: ConversationOutcome[];
  /** The peer process's resident set size after the run (worker and client share the process). */
  rssBytes: number;
}
