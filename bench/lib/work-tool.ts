// The one tool of the bench, the same for every peer: waits `ms`, then returns a text of `bytes` bytes.
// (bench/peers/temporal-ai-sdk/peer.js runs on Node 22 in its own package and repeats it in JavaScript.)
import { z } from 'zod';

export const TOOL_NAME = 'work';
export const TOOL_DESCRIPTION = 'Do a unit of work and return its result.';
export const workInput = z.object({ turn: z.number(), call: z.number(), ms: z.number(), bytes: z.number() });
export type WorkInput = z.infer<typeof workInput>;

/** What the tool returns: a short head padded to `bytes`. */
export function workResult({ turn, call, bytes }: WorkInput): string {
  const head = `result of turn ${turn} call ${call}`;
  return bytes > head.length ? head + 'x'.repeat(bytes - head.length) : head;
}

export async function doWork(input: WorkInput): Promise<string> {
  if (input.ms > 0) await new Promise((resolve) => setTimeout(resolve, input.ms));
  return workResult(input);
}
