// How a reply goes out on the wire: the pieces each block streams in, how many time slots each piece waits, and
// where the request's max_tokens cuts the reply off.
import type { BetaContentBlock } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import type { FakeMessage, FullRequest, MaxTokensCut, ToolInputStreaming } from './types';

/** The fake's token estimate for output: 4 characters (code points) of streamed content per token. */
export const CHARS_PER_OUTPUT_TOKEN = 4;

/** The beta that turns eager input streaming on for every tool that does not turn it off. */
export const FINE_GRAINED_TOOL_STREAMING_BETA = 'fine-grained-tool-streaming-2025-05-14';

/** At most this many eager pieces per block, so a large input does not become tens of thousands of events. */
const MAX_INPUT_JSON_PIECES = 256;

export type DeltaKind = 'text' | 'input_json' | 'thinking';

export interface PlannedDelta {
  piece: string;
  /** How many `chunkMs` slots pass before this piece goes out. */
  slots: number;
}

export interface PlannedBlock {
  /** The block as the reply holds it, cut short when max_tokens ran out inside it. */
  block: BetaContentBlock;
  /** How its content streams; undefined for a block sent whole (in content_block_start, or one compaction_delta). */
  kind?: DeltaKind;
  deltas: PlannedDelta[];
  /** A thinking block's signature_delta, sent after its deltas; absent for a thinking block cut short. */
  signature?: string;
}

export interface ReplyPlan {
  /** The reply as sent: what the request log and a JSON response hold. */
  message: FakeMessage;
  blocks: PlannedBlock[];
  cut?: MaxTokensCut;
}

export interface PlanOptions {
  maxTokens: number;
  cutAtMaxTokens: boolean;
  /** Characters per text or thinking delta; undefined: about three pieces per block. */
  textChunkChars?: number;
  inputJsonChunkChars: number;
  /** Whether the tool named in a tool_use block streams its input eagerly. */
  isEager: (toolName: string) => boolean;
  /** Whether the step fixed `usage.output_tokens` itself. */
  scriptedOutputTokens: boolean;
  /** Thinking characters the model wrote but the reply does not show (`display: 'omitted'`): billed all the same. */
  hiddenThinkingChars?: number;
}

/** Cuts `text` into pieces of `chunkChars` code points, or into about three pieces when no size is given. */
export function textPieces(text: string, chunkChars?: number): string[] {
  const codePoints = Array.from(text);
  if (codePoints.length <= 1) return [text];
  const size = chunkChars !== undefined ? Math.max(1, Math.floor(chunkChars)) : Math.ceil(codePoints.length / 3);
  return slices(codePoints, size);
}

/**
 * Cuts `json` into pieces of `size` characters wherever that falls (mid-string, mid-number, between a backslash and
 * what it escapes), never inside a UTF-16 surrogate pair: the real API sends valid UTF-8, so a piece is whole code points.
 */
export function eagerInputPieces(json: string, size: number): string[] {
  const codePoints = Array.from(json);
  const step = Math.max(1, Math.floor(size), Math.ceil(codePoints.length / MAX_INPUT_JSON_PIECES));
  const pieces = slices(codePoints, step);
  return pieces.length ? pieces : [''];
}

function slices(codePoints: string[], size: number): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < codePoints.length; i += size) pieces.push(codePoints.slice(i, i + size).join(''));
  return pieces;
}

interface InputPair {
  key: string;
  value: unknown;
  /** The pair's piece of a buffered stream: `{` or `,`, the pair, and `}` after the last one. */
  piece: string;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The input as JSON, and its top-level pairs as a buffered stream sends them (their pieces join to the JSON). */
function inputPairs(input: unknown): { json: string; pairs: InputPair[] | undefined } {
  const json = JSON.stringify(input ?? {});
  const normalized: unknown = JSON.parse(json);
  if (!isPlainObject(normalized)) return { json, pairs: undefined };
  const entries = Object.entries(normalized);
  const pairs = entries.map(([key, value], i) => ({
    key,
    value,
    piece: `${i === 0 ? '{' : ','}${JSON.stringify(key)}:${JSON.stringify(value)}${i === entries.length - 1 ? '}' : ''}`,
  }));
  return { json, pairs };
}

const codePointLength = (text: string): number => Array.from(text).length;

/**
 * Plans the wire form of `message`: pieces per block and, when `cutAtMaxTokens` is on and the content does not fit
 * `maxTokens × CHARS_PER_OUTPUT_TOKEN` characters, the reply cut where the budget ran out.
 */
export function planReply(message: FakeMessage, options: PlanOptions): ReplyPlan {
  let budget = options.cutAtMaxTokens ? options.maxTokens * CHARS_PER_OUTPUT_TOKEN : Number.POSITIVE_INFINITY;
  let streamedChars = 0;
  const blocks: PlannedBlock[] = [];
  let cut: MaxTokensCut | undefined;
  const textDeltas = (text: string): PlannedDelta[] => textPieces(text, options.textChunkChars).map((piece) => ({ piece, slots: 1 }));

  for (let index = 0; index < message.content.length; index++) {
    const block = message.content[index]!;
    const raw = block as unknown as Record<string, unknown>;
    const streams = block.type === 'text' || block.type === 'thinking' || block.type === 'tool_use' || block.type === 'server_tool_use';
    if (streams && budget === 0) {
      cut = { index, sent: '' };
      break;
    }
    if (block.type === 'text' || block.type === 'thinking') {
      const field = block.type === 'text' ? 'text' : 'thinking';
      const full = String(raw[field] ?? '');
      const codePoints = Array.from(full);
      const sent = codePoints.length > budget ? codePoints.slice(0, budget).join('') : full;
      if (sent !== full) cut = { index, sent };
      const used = codePointLength(sent);
      budget -= used;
      streamedChars += used;
      // A thinking block shown without its text (display omitted) gets no thinking_delta, only its signature.
      const deltas = block.type === 'thinking' && full === '' ? [] : textDeltas(sent);
      const planned: PlannedBlock = { block: { ...block, [field]: sent } as BetaContentBlock, kind: block.type, deltas };
      if (block.type === 'thinking') {
        if (cut) (planned.block as unknown as Record<string, unknown>).signature = '';
        else planned.signature = String(raw.signature ?? '');
      }
      blocks.push(planned);
    } else if (block.type === 'tool_use' || block.type === 'server_tool_use') {
      // A server tool's input goes out whole, in one input_json_delta (as the API's streaming examples show).
      const serverTool = block.type === 'server_tool_use';
      const { json, pairs: allPairs } = inputPairs(raw.input);
      const pairs = serverTool ? undefined : allPairs;
      const chunkChars = Math.max(1, Math.floor(options.inputJsonChunkChars));
      let sentJson: string;
      let deltas: PlannedDelta[];
      if (!serverTool && options.isEager(block.name)) {
        sentJson = Array.from(json).slice(0, budget).join('');
        deltas = eagerInputPieces(sentJson, chunkChars).map((piece) => ({ piece, slots: 1 }));
      } else {
        // A buffered stream sends a pair once it is whole, so a cut drops the pair it fell in.
        const units = pairs && pairs.length > 0 ? pairs.map((pair) => pair.piece) : [json];
        const sentUnits: string[] = [];
        let used = 0;
        for (const unit of units) {
          used += codePointLength(unit);
          if (used > budget) break;
          sentUnits.push(unit);
        }
        sentJson = sentUnits.join('');
        deltas = sentUnits.map((piece) => ({ piece, slots: Math.max(1, Math.ceil(codePointLength(piece) / chunkChars)) }));
      }
      let input: unknown = raw.input;
      if (sentJson !== json) {
        cut = { index, sent: sentJson };
        input = completePairsOf(pairs, codePointLength(sentJson));
      } else {
        const used = codePointLength(json);
        budget -= used;
        streamedChars += used;
      }
      blocks.push({ block: { ...block, input } as BetaContentBlock, kind: 'input_json', deltas });
    } else {
      blocks.push({ block, deltas: [] });
    }
    if (cut) break;
  }

  const content = blocks.map((planned) => planned.block);
  if (cut) {
    return {
      message: { ...message, content, stop_reason: 'max_tokens', stop_sequence: null, usage: { ...message.usage, output_tokens: options.maxTokens } },
      blocks,
      cut,
    };
  }
  if (options.cutAtMaxTokens && !options.scriptedOutputTokens) {
    const estimate = Math.max(1, Math.ceil((streamedChars + (options.hiddenThinkingChars ?? 0)) / CHARS_PER_OUTPUT_TOKEN));
    return { message: { ...message, content, usage: { ...message.usage, output_tokens: estimate } }, blocks };
  }
  return { message: { ...message, content }, blocks };
}

/** The top-level pairs that were whole within the first `sentChars` characters of the input JSON. */
function completePairsOf(pairs: InputPair[] | undefined, sentChars: number): Record<string, unknown> {
  const complete: Record<string, unknown> = {};
  if (!pairs) return complete;
  let end = 0;
  for (const [i, pair] of pairs.entries()) {
    // A pair is whole once its value is, before the closing `}` that the last piece carries.
    end += codePointLength(pair.piece) - (i === pairs.length - 1 ? 1 : 0);
    if (end > sentChars) break;
    complete[pair.key] = pair.value;
  }
  return complete;
}

/**
 * Which tools stream their input eagerly for this request: a tool whose definition has `eager_input_streaming: true`,
 * or, under the fine-grained-tool-streaming beta, every tool whose definition does not set it to false.
 */
export function eagerInputStreamingOf(request: FullRequest, betas: readonly string[], mode: ToolInputStreaming): (toolName: string) => boolean {
  if (mode !== 'auto') return () => mode === 'eager';
  const fineGrained = betas.includes(FINE_GRAINED_TOOL_STREAMING_BETA);
  const flags = new Map((request.tools ?? []).map((tool) => [tool.name, tool.eager_input_streaming]));
  return (toolName) => {
    const flag = flags.get(toolName);
    return flag === true || (fineGrained && flag !== false);
  };
}
