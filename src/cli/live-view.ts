// The terminal view of a conversation's live events: Claude's text, its thinking (on lines of their own) and a
// tool's input as they stream, then each tool, approval and turn (with its tokens and cost) as it happens. Used by
// `run`, `chat`, `demo` and `watch`.
import { turnUsageLine } from '../format';
import type { ConversationEvent } from '../streaming/events';

const clip = (value: string, max = 200) => (value.length > max ? `${value.slice(0, max - 1)}…` : value);

export interface LiveViewOptions {
  /** Raw output, no newline added (streamed text goes out piece by piece). */
  out: (text: string) => void;
  /** Show the user's chat messages (watch does; chat has them on screen already). */
  showUserMessages?: boolean;
  /** Dim Claude's thinking with ANSI codes (for a terminal); it is prefixed `thinking ›` either way. */
  dimThinking?: boolean;
}

const DIM = '\u001b[2m';
const UNDIM = '\u001b[22m';

/**
 * Renders events in order. State per model-call attempt: a reset (the attempt died and Temporal retries it) says so
 * and the retried attempt prints the reply again from the start; the transcript only ever holds the whole one.
 */
export class LiveView {
  readonly #options: LiveViewOptions;
  /** The line in progress: Claude's text, its thinking, or a tool's input, while it streams. */
  #open: 'text' | 'thinking' | 'input' | undefined;
  /** Streamed characters per attempt, so a reset can say how much it voids. */
  readonly #streamed = new Map<string, number>();
  /** Turns whose text streamed; a turn without (events replayed from history) shows its text when it finishes. */
  readonly #turnsWithText = new Set<number>();
  /** Each turn's latest model-call attempt: pieces of an older one (a timed-out attempt still sending) are not shown. */
  readonly #currentAttempt = new Map<number, string>();
  /** Why a turn's last call ended, to say why the next one starts over. */
  readonly #lastStop = new Map<number, string | null>();

  constructor(options: LiveViewOptions) {
    this.#options = options;
  }

  #line(text: string): void {
    this.#close();
    this.#options.out(`${text}\n`);
  }

  #close(): void {
    if (this.#open === 'thinking' && this.#options.dimThinking) this.#options.out(UNDIM);
    if (this.#open) this.#options.out('\n');
    this.#open = undefined;
  }

  /** An attempt's key: activity ids restart in each run of a chain (continue-as-new), so the run is part of it. */
  #attemptOf(event: { runId: string; call: string; attempt: number }): string {
    return `${event.runId}/${event.call}#${event.attempt}`;
  }

  #count(event: { runId: string; call: string; attempt: number }, chars: number): void {
    const key = this.#attemptOf(event);
    this.#streamed.set(key, (this.#streamed.get(key) ?? 0) + chars);
  }

  #isCurrent(event: { runId: string; turn: number; call: string; attempt: number }): boolean {
    return this.#currentAttempt.get(event.turn) === this.#attemptOf(event);
  }

  /** Renders one event; true when it ends the conversation. */
  render(event: ConversationEvent): boolean {
    const { out } = this.#options;
    if ('call' in event && event.type !== 'model_call_started' && event.type !== 'model_call_reset' && !this.#isCurrent(event)) return false;
    switch (event.type) {
      case 'model_call_started': {
        const previous = this.#currentAttempt.get(event.turn);
        this.#currentAttempt.set(event.turn, this.#attemptOf(event));
        if (previous && (this.#streamed.get(previous) ?? 0) > 0 && this.#lastStop.get(event.turn) === 'max_tokens') {
          this.#line(`  ↺ the reply was cut off at max_tokens; asking again with max_tokens ${event.maxTokens}`);
        }
        return false;
      }
      case 'message_finished':
        this.#lastStop.set(event.turn, event.stopReason);
        return false;
      case 'text_delta':
        if (this.#open !== 'text') {
          this.#close();
          out('claude › ');
          this.#open = 'text';
        }
        out(event.text);
        this.#count(event, event.text.length);
        this.#turnsWithText.add(event.turn);
        return false;
      case 'thinking_delta': {
        // Thinking is not the answer: its own prefixed (and, on a terminal, dimmed) line.
        const thinking = event.thinking.replace(/\n+/g, ' ');
        if (this.#open !== 'thinking') {
          this.#close();
          out(`${this.#options.dimThinking ? DIM : ''}  thinking › `);
          this.#open = 'thinking';
        }
        out(thinking);
        this.#count(event, event.thinking.length);
        return false;
      }
      case 'tool_use_started':
        this.#close();
        out(`  → ${event.name} `);
        this.#open = 'input';
        return false;
      case 'tool_input_delta':
        if (this.#open !== 'input') {
          this.#close();
          out('  → ');
          this.#open = 'input';
        }
        out(event.partialJson);
        this.#count(event, event.partialJson.length);
        return false;
      case 'content_block_finished':
        // A server tool call (web search, code execution) streams like a tool's input but the worker never runs it.
        if (event.blockType === 'server_tool_use' && this.#open === 'input') out(" (runs on Anthropic's side)");
        // Thinking with display 'omitted' streams no text, only its signature.
        if (event.blockType === 'thinking' && this.#open !== 'thinking') this.#line('  thinking › (omitted)');
        if (event.blockType === 'redacted_thinking') this.#line('  thinking › (redacted)');
        this.#close();
        if (event.blockType.endsWith('_tool_result') && event.blockType !== 'tool_result') this.#line(`  ⇠ ${event.blockType.replace(/_tool_result$/, '')} result (from Anthropic's side)`);
        return false;
      case 'model_call_reset': {
        const voided = this.#streamed.get(this.#attemptOf(event)) ?? 0;
        this.#line(`  ↺ ${event.reason}${voided ? ` (${voided} streamed characters dropped)` : ''}`);
        return false;
      }
      case 'tool_started':
        this.#line(`  ⚙ ${event.name} running (${event.toolUseId})`);
        return false;
      case 'tool_progress':
        this.#line(`  … ${event.name}: ${event.total !== undefined ? `${event.progress}/${event.total}` : event.progress}${event.message ? ` ${clip(event.message)}` : ''}`);
        return false;
      case 'tool_finished':
        this.#line(`  ${event.isError ? '✗' : '←'} ${event.name}: ${event.preview.replace(/\s+/g, ' ')}`);
        return false;
      case 'approval_requested':
        this.#line(`  ⏸ ${event.name} waits for approval (${event.toolUseId}) ${clip(JSON.stringify(event.input))}${event.expiresAt ? `, expires ${event.expiresAt}` : ''}`);
        return false;
      case 'approval_decided':
        this.#line(`  ${event.decision === 'approved' ? '✔ approved' : event.decision === 'rejected' ? '✗ rejected' : '⌛ expired'} ${event.name} by ${event.by ?? 'unknown'}${event.reason ? `: ${event.reason}` : ''}`);
        return false;
      case 'turn_finished':
        if (event.text && !this.#turnsWithText.has(event.turn)) this.#line(`claude › ${event.text}`);
        this.#line(turnUsageLine(event.turn, event.usage));
        return false;
      case 'chat_message_received':
        if (this.#options.showUserMessages) this.#line(`user   › ${event.text}`);
        return false;
      case 'conversation_finished':
        this.#close();
        return true;
      default:
        return false;
    }
  }

  /** Ends the line in progress, if any. */
  finish(): void {
    this.#close();
  }
}
