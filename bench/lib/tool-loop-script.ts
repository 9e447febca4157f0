// The scripted conversation of the profiling tools (timeline.ts, floor.ts): `turns` replies that each ask for
// `toolsPerTurn` calls of the work tool, then a text answer, every reply after `modelMs`; and their number flags.
import { reply, text, toolUse, type FakeMessagesApi } from '../../src/testing';
import { TOOL_NAME } from './work-tool';

export interface ToolLoopShape {
  turns: number;
  toolsPerTurn: number;
  toolMs: number;
  modelMs: number;
}

export function scriptToolLoop(fake: FakeMessagesApi, prompt: string, { turns, toolsPerTurn, toolMs, modelMs }: ToolLoopShape): void {
  fake.addScript({
    match: prompt,
    steps: ({ turnIndex }) => ({
      ...(turnIndex < turns
        ? reply(...Array.from({ length: toolsPerTurn }, (_, call) => toolUse(TOOL_NAME, { turn: turnIndex, call, ms: toolMs, bytes: 100 })))
        : reply(text('Done.'))),
      latency: { firstTokenMs: modelMs },
    }),
  });
}

/** `--name N` from the command line (a number ≥ 0), or `fallback` when it is not given. */
export function numberFlag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} needs a number ≥ 0, got ${process.argv[at + 1]}`);
  return value;
}
