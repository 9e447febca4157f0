// The peer side of the protocol (protocol.ts) for the TypeScript peers: read requests, run them, answer.
import readline from 'node:readline';
import type { ConversationOutcome, ConversationSpec, RunRequest, RunResponse } from './protocol';

export type RunConversation = (spec: ConversationSpec, options: { historyBytes: boolean }) => Promise<ConversationOutcome>;

/** Serves requests on stdin until it closes, then calls `shutdown`. */
export async function servePeer(runConversation: RunConversation, shutdown: () => Promise<void>): Promise<void> {
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const request = JSON.parse(line) as RunRequest;
    const started = performance.now();
    const conversations = await Promise.all(request.conversations.map((spec) => runConversation(spec, { historyBytes: request.historyBytes })));
    const response: RunResponse = { id: request.id, totalMs: performance.now() - started, conversations, rssBytes: process.memoryUsage().rss, peerNow: performance.timeOrigin + performance.now() };
    process.stdout.write(`${JSON.stringify(response)}\n`);
  }
  await shutdown();
  // Idle keep-alive sockets must not keep a finished peer alive.
  process.exit(0);
}

/** The innermost message of an error and its causes. */
export function errorMessage(err: unknown): string {
  let current: unknown = err;
  let message = String(err);
  for (let depth = 0; current instanceof Error && depth < 10; depth++) {
    message = current.message || message;
    current = (current as { cause?: unknown }).cause;
  }
  return message;
}
