// The fake Messages API's public types: scripts, steps, faults and the request log.
import type {
  BetaContentBlock,
  BetaMessageParam,
  BetaStopReason,
  BetaUsage,
} from '@anthropic-ai/sdk/resources/beta/messages/messages';

export type FaultKind = '429' | '500' | '529' | '400' | '401' | 'connection-reset' | 'stream-error' | 'stall';

export const FAULT_KINDS: readonly FaultKind[] = ['429', '500', '529', '400', '401', 'connection-reset', 'stream-error', 'stall'];

/** A content block as a script gives it: ids are filled in when missing. */
export type ContentBlockSpec =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; name: string; input: unknown; id?: string }
  | (Record<string, unknown> & { type: string });

export interface Latency {
  /** Delay before the first content arrives. */
  firstTokenMs?: number;
  /** Delay between streamed chunks. */
  chunkMs?: number;
}

export interface ResponseStep {
  content: ContentBlockSpec[];
  /** Default: tool_use when the content has a tool_use block, else end_turn. */
  stop_reason?: BetaStopReason;
  usage?: Partial<Pick<BetaUsage, 'input_tokens' | 'output_tokens' | 'cache_read_input_tokens' | 'cache_creation_input_tokens'>>;
  latency?: Latency;
  /** Overrides the server's `inputJsonChunkChars` for this reply. */
  inputJsonChunkChars?: number;
}

export interface FaultStep {
  fault: FaultKind;
  retryAfterSeconds?: number;
  retryAfterMs?: number;
  /** What later attempts of the same turn get. */
  then?: ScriptStep;
}

export interface FaultSequenceStep {
  /** Attempt k of the turn gets faults[k-1]; attempts after the last get `then`. */
  faults: FaultKind[];
  retryAfterSeconds?: number;
  then: ScriptStep;
}

export type ScriptStep = ResponseStep | FaultStep | FaultSequenceStep;

/** The whole request as the model sees it: for a thread continue, the stored conversation plus the new messages. */
export interface FullRequest {
  model: string;
  max_tokens: number;
  messages: BetaMessageParam[];
  system?: unknown;
  tools?: Array<{ name: string; [key: string]: unknown }>;
  tool_choice?: { type: string; name?: string; disable_parallel_tool_use?: boolean };
  stop_sequences?: string[];
  temperature?: number;
  stream?: boolean;
  [key: string]: unknown;
}

export interface StepContext {
  /**
   * How many model replies the conversation holds: 0 for the first answer. Replies a client joined into one assistant
   * message (a resumed pause_turn or compaction) count one each. A retry gets the same index.
   */
  turnIndex: number;
  request: FullRequest;
  /** How many requests of this conversation reached this turn index, counting this one (from 1). */
  attempt: number;
  conversationKey: string;
}

export interface Script {
  /** Tested against the text of the conversation's first user message (a string matches as a substring). */
  match: string | RegExp | ((request: FullRequest) => boolean);
  steps: ScriptStep[] | ((context: StepContext) => ScriptStep);
}

export interface RandomFaultOptions {
  /** Share of requests that get a fault, 0..1. */
  rate: number;
  kinds: FaultKind[];
  seed?: number;
  /** At most this many faults in a row for one conversation turn, so every conversation can finish. Default 2. */
  maxConsecutivePerTurn?: number;
  retryAfterSeconds?: number;
}

export interface FakeMessagesApiOptions {
  /** How long a stored thread lives after its last reply. Default 5 minutes, as the real API. */
  threadTtlMs?: number;
  latency?: Latency;
  now?: () => number;
  faults?: RandomFaultOptions | null;
  defaultScript?: Script;
  storeRefusals?: boolean;
  log?: boolean;
  /** Port to listen on; default a free one. */
  port?: number;
  /**
   * A streamed tool_use's input goes out as `input_json_delta` pieces of this many characters, cut anywhere (inside
   * strings, numbers and escapes), as the real API's partial JSON is. Default 8.
   */
  inputJsonChunkChars?: number;
}

export type ThreadKind = 'create' | 'continue' | 'unthreaded';

export interface RecordedRequest {
  id: string;
  receivedAt: number;
  endedAt?: number;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  stream: boolean;
  threadKind: ThreadKind;
  previousMessageId?: string;
  conversationKey?: string;
  turnIndex?: number;
  attempt?: number;
  status: number;
  errorType?: string;
  errorCode?: string;
  fault?: FaultKind;
  responseId?: string;
  /** For a streamed reply: the `partial_json` pieces sent, one list per tool_use block in content order. */
  inputJsonDeltas?: string[][];
  /** The reply the fake produced (sent in full, or cut short if `aborted`). */
  response?: FakeMessage;
  /** The client went away before the response ended (a cancelled or aborted call). */
  aborted?: boolean;
}

export type FakeMessage = {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: BetaContentBlock[];
  stop_reason: BetaStopReason;
  stop_sequence: string | null;
  stop_details: null;
  container: null;
  usage: BetaUsage;
};
