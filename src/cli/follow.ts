// Follows a running conversation and prints each turn as it happens: model text, tool calls and their inputs,
// results, and the approvals it waits for (deciding them itself with --yes, or asking at the terminal).
import readline from 'node:readline/promises';
import { NoWorkerAnsweredError, type ConversationHandle } from '../client';
import { costText, describeMessage, turnSurfaceLine, turnUsageLine, usageText } from '../format';
import type { ApprovalRequestedEvent } from '../streaming/events';
import { LiveView } from './live-view';
import type { ConversationResult, PendingApproval, Transcript } from '../workflows/types';

export type ApprovalMode = 'ask' | 'yes' | 'wait';

export interface FollowOptions {
  approvals: ApprovalMode;
  /** Who the CLI decides as, for the audit trail. */
  by: string;
  write?: (line: string) => void;
  /** Raw output for live output (streamed text has no newline per piece). Default: stdout. */
  out?: (text: string) => void;
  pollMs?: number;
  /** How long one poll waits for a worker before the follower says none answers (and keeps waiting). */
  queryTimeoutMs: number;
}

/** The end-of-run line; a conversation stopped by its budget gets a second line that says why. */
export function summaryLine(result: ConversationResult, conversationId: string, elapsedMs: number): string {
  const { usage, budgetStop } = result;
  const line =
    `${result.status === 'completed' ? '✔' : '■'} ${result.status} · ${result.turns} turn${result.turns === 1 ? '' : 's'} · ` +
    `${usageText(usage)} · ${costText(usage.costUsd, budgetStop?.budgetUsd)} · ` +
    `${(elapsedMs / 1000).toFixed(1)}s · conversation ${conversationId}`;
  return budgetStop ? `${line}\n  ■ stopped at the budget: ${budgetStop.message}` : line;
}

async function askApproval(pending: PendingApproval): Promise<{ approve: boolean; reason?: string }> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = (await rl.question(`  approve ${pending.toolName} ${JSON.stringify(pending.input)}? [y/N] `)).trim().toLowerCase();
    if (answer === 'y' || answer === 'yes') return { approve: true };
    const reason = (await rl.question('  reason for rejecting (sent to the model): ')).trim();
    return { approve: false, reason: reason || 'rejected at the terminal' };
  } finally {
    rl.close();
  }
}

/**
 * Follows a conversation to its end. With live output (the client has an event store) it prints text and tool input
 * as they stream, from the events; without, it polls the transcript and prints each message when its turn ends.
 */
export async function followConversation(handle: ConversationHandle, options: FollowOptions): Promise<ConversationResult> {
  return handle.hasLiveOutput ? followLive(handle, options) : followByPolling(handle, options);
}

async function decideLive(handle: ConversationHandle, event: ApprovalRequestedEvent, options: FollowOptions, write: (line: string) => void): Promise<void> {
  if (options.approvals === 'wait') {
    write(`    decide with: durable-claude approve ${handle.conversationId} ${event.toolUseId}   (or reject … --reason "…")`);
    return;
  }
  const pending: PendingApproval = { toolUseId: event.toolUseId, toolName: event.name, input: event.input, turn: event.turn, requestedAt: event.at, expiresAt: event.expiresAt ?? null };
  const decision = options.approvals === 'yes' ? { approve: true } : await askApproval(pending);
  try {
    if (decision.approve) await handle.approve(event.toolUseId, { by: options.by, ...(options.approvals === 'yes' ? { reason: 'approved with --yes' } : {}) });
    else await handle.reject(event.toolUseId, { by: options.by, reason: decision.reason ?? 'rejected' });
  } catch (err) {
    // Someone else decided first, or the call expired: the stream shows what happened.
    write(`    could not ${decision.approve ? 'approve' : 'reject'} ${event.toolUseId}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function followLive(handle: ConversationHandle, options: FollowOptions): Promise<ConversationResult> {
  const out = options.out ?? ((text: string) => process.stdout.write(text));
  const view = new LiveView({ out, dimThinking: options.out === undefined && process.stdout.isTTY === true });
  const write = (line: string) => {
    view.finish();
    out(`${line}\n`);
  };
  for await (const event of handle.stream()) {
    view.render(event);
    if (event.type === 'approval_requested') await decideLive(handle, event, options, write);
  }
  view.finish();
  return handle.result();
}

async function followByPolling(handle: ConversationHandle, options: FollowOptions): Promise<ConversationResult> {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const pollMs = options.pollMs ?? 250;
  const toolNames = new Map<string, string>();
  const announced = new Set<string>();
  let printed = 0;
  let turnsPrinted = 0;
  let settled: { result?: ConversationResult; error?: unknown } | undefined;
  const finished = handle.result().then(
    (result) => (settled = { result }),
    (error: unknown) => (settled = { error }),
  );

  // Each message once; a turn's usage line right after its reply (or as soon as its record is in, if later).
  // `messages` start at the transcript's message `from`.
  const printNew = ({ messages, turns }: Pick<Transcript, 'messages' | 'turns'>, from = 0) => {
    const printTurns = () => {
      for (; turnsPrinted < turns.length && turns[turnsPrinted]!.messageIndex < printed; turnsPrinted++) {
        const turn = turns[turnsPrinted]!;
        write(turnUsageLine(turn.turn, turn.usage));
        const surface = turnSurfaceLine(turn);
        if (surface) write(surface);
      }
    };
    for (; printed < from + messages.length; printed++) {
      printTurns();
      for (const line of describeMessage(messages[printed - from]!, toolNames)) write(line);
    }
    printTurns();
  };

  // Each poll reads only what is new: the first page for the transcript's length, then messages from the first not
  // printed yet and turn records from the first not printed yet, page by page; nothing is read again and again.
  const printNewMessages = async (timeoutMs: number): Promise<void> => {
    const head = await handle.transcriptPage({ fromMessage: 0, maxBytes: 1 }, { timeoutMs, readArchive: false });
    // A worker without paged reads answered with the whole transcript.
    if (!head.page) return printNew(head);
    const from = printed;
    const messages: Transcript['messages'] = [];
    for (let next: number | null = from; next !== null && next < head.page.totalMessages; ) {
      const page = await handle.transcriptPage({ fromMessage: next }, { timeoutMs });
      messages.push(...page.messages);
      next = page.page?.nextMessage ?? null;
    }
    // Turn records not printed yet, in slices (a long conversation has thousands); earlier ones are not read again.
    const turns: Transcript['turns'] = new Array<Transcript['turns'][number]>(turnsPrinted);
    for (let fromTurn: number | null = turnsPrinted; fromTurn !== null; ) {
      const slice = await handle.transcriptPage({ fromMessage: head.page.totalMessages, fromTurn }, { timeoutMs });
      // A worker before sliced turn records sends them all on every page.
      if (slice.page?.nextTurn === undefined) {
        turns.splice(0, turns.length, ...slice.turns);
        break;
      }
      turns.push(...slice.turns);
      fromTurn = slice.page.nextTurn !== null && slice.page.nextTurn > fromTurn ? slice.page.nextTurn : null;
    }
    printNew({ messages, turns }, from);
  };

  let failures = 0;
  let workerMissing = false;
  const { queryTimeoutMs } = options;
  while (!settled) {
    try {
      await printNewMessages(queryTimeoutMs);
      if (workerMissing) {
        write('  ▶ a worker answers again');
        workerMissing = false;
      }
      for (const pending of await handle.pending({ timeoutMs: queryTimeoutMs })) {
        if (announced.has(pending.toolUseId)) continue;
        announced.add(pending.toolUseId);
        write(`  ⏸ ${pending.toolName} waits for approval (${pending.toolUseId})${pending.expiresAt ? `, expires ${pending.expiresAt}` : ''}`);
        if (options.approvals === 'wait') {
          write(`    decide with: durable-claude approve ${handle.conversationId} ${pending.toolUseId}   (or reject … --reason "…")`);
          continue;
        }
        const decision = options.approvals === 'yes' ? { approve: true } : await askApproval(pending);
        if (decision.approve) await handle.approve(pending.toolUseId, { by: options.by, ...(options.approvals === 'yes' ? { reason: 'approved with --yes' } : {}) });
        else await handle.reject(pending.toolUseId, { by: options.by, reason: decision.reason ?? 'rejected' });
        write(`  ${decision.approve ? '✔ approved' : '✗ rejected'} by ${options.by}`);
      }
      failures = 0;
    } catch (err) {
      if (err instanceof NoWorkerAnsweredError) {
        // Durable: the conversation waits for a worker, and so does this follower; say so once.
        if (!workerMissing && !settled) write(`  … no worker answers on this conversation's task queue; waiting for one (start it with \`durable-claude worker\`)`);
        workerMissing = true;
      } else if (!settled && ++failures >= 10) {
        // The conversation may end between two polls, or a call may fail once; ten in a row is real.
        throw err;
      }
    }
    await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, pollMs))]);
  }
  if (settled.error !== undefined) throw settled.error;
  const result = settled.result!;
  printNew(result.transcript ?? (await handle.transcript().catch(() => ({ messages: [], turns: [] }))));
  return result;
}
