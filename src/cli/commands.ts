// The CLI's commands: each declares its options and usage, and returns an exit code.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NativeConnection } from '@temporalio/worker';
import readline from 'node:readline';
import type { ConversationApprovals, ConversationHandle } from '../client';
import { startDevServer, type DevServer } from '../devserver';
import { DEMO_PROMPT } from '../demo/scripted-model';
import { exampleTools } from '../examples/tools';
import { createAgentWorker, type AgentWorkerOptions } from '../worker';
import type { McpServers } from '../mcp';
import { AgentCostUsdKey, AgentStatusKey } from '../search-attributes';
import { WORKFLOW_TYPE, type ConversationResult } from '../workflows/types';
import { connectAgent, connectEvents, connectModel, connectWorkerConnection, storageOf, taskQueueOf, withAgent, type CliValues } from './connect';
import { ConversationNotFoundError, LiveOutputUnavailableError } from '../client';
import { startEventServer, type EventServer } from '../event-server';
import { LiveView } from './live-view';
import { startLiveOutputServer, type LiveOutputServer } from '../streaming/live-server';
import type { AgentClient } from '../client';
import { parseJson, positiveIntOption, queryTimeoutMs, requireConversationId, stringOption, warn, write, type Command } from './command';
import { CliError, ExitCode } from './errors';
import { costText, refusedDecisionLines, transcriptLines, usageText } from '../format';
import { decisionSenders } from '../client/decision-senders';
import { followConversation, summaryLine, type ApprovalMode } from './follow';
import { historyCommands } from './history-commands';
import { tokenCommands } from './token-command';
import { cliDecisionVerifier, decisionBinding, listOption, signDecision, signingKey, ttlSecondsOption, type InputOption } from './decision-options';
import { encryptionDescription } from './encryption-options';
import { ensureDevDecisionKey } from '../security/dev-key';
import { cliWorkerOptions } from './worker-options';
import { codecServerCommands } from './codec-server-command';
import { TOOL_SURFACE_OPTIONS, TOOL_SURFACE_USAGE, toolSurfaceSettings } from './tool-surface-options';
import { MCP_HELP, MCP_OPTIONS, MCP_USAGE, mcpServerConfigs } from './mcp-options';
import { connectCliMcpServers, mcpServerLines, reportToolChanges, toolsCommands, withMcpExitCode } from './tools-command';

export const EXAMPLE_TOOL_NAMES = exampleTools().map((tool) => tool.name);

/** The worker every CLI command that runs one (worker, dev, demo) starts: the example tools plus its MCP servers. */
async function cliAgentWorker(options: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  anthropic: AgentWorkerOptions['anthropic'];
  events: AgentWorkerOptions['events'];
  mcp: McpServers | undefined;
  values: CliValues;
  stored: ReturnType<typeof storageOf>;
}) {
  const { connection, namespace, taskQueue, anthropic, events, mcp, values, stored } = options;
  return createAgentWorker({
    connection,
    namespace,
    taskQueue,
    tools: exampleTools(),
    ...(mcp ? { mcpServers: mcp } : {}),
    ...(anthropic ? { anthropic } : {}),
    ...(events ? { events } : {}),
    ...cliWorkerOptions(values, stored),
  }).catch((err: unknown) => {
    throw withMcpExitCode(err);
  });
}

function toolsOf(values: CliValues): string[] {
  const given = stringOption(values, 'tools');
  if (given === undefined) return EXAMPLE_TOOL_NAMES;
  return given.split(',').map((t) => t.trim()).filter(Boolean);
}

/** What `run` and `chat` take from --id, --model and --system, for start() and startChat(). */
function startSettings(values: CliValues): { conversationId?: string; model?: string; system?: string } {
  const conversationId = stringOption(values, 'id');
  const model = stringOption(values, 'model');
  const system = stringOption(values, 'system');
  return { ...(conversationId ? { conversationId } : {}), ...(model ? { model } : {}), ...(system ? { system } : {}) };
}

function decider(values: CliValues): string {
  return stringOption(values, 'by') ?? process.env.DURABLE_CLAUDE_USER ?? `${process.env.USER ?? 'cli'}@cli`;
}

function approvalMode(values: CliValues): ApprovalMode {
  if (values.yes) return 'yes';
  if (values.wait) return 'wait';
  return process.stdin.isTTY ? 'ask' : 'wait';
}

/** Stays up until SIGINT/SIGTERM. */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

async function uiLink(uiUrl: string | undefined, handle: ConversationHandle, namespace = 'default'): Promise<string | undefined> {
  if (!uiUrl) return undefined;
  const { runId } = await handle.describe();
  return `${uiUrl}/namespaces/${namespace}/workflows/${encodeURIComponent(handle.conversationId)}/${runId}/history`;
}

const run: Command = {
  usage: `usage: durable-claude run "<prompt>" [--tools a,b] [--yes | --wait] [--id ID] [--model M] [--system S] [--max-tokens N] [--max-iterations N] [--by WHO]\n       ${TOOL_SURFACE_USAGE}`,
  options: {
    ...TOOL_SURFACE_OPTIONS,
    tools: { type: 'string' },
    yes: { type: 'boolean' },
    wait: { type: 'boolean' },
    id: { type: 'string' },
    model: { type: 'string' },
    system: { type: 'string' },
    'max-tokens': { type: 'string' },
    'max-iterations': { type: 'string' },
    by: { type: 'string' },
  },
  async run(positionals, values) {
    const prompt = positionals.join(' ').trim();
    if (!prompt) throw CliError.usage('give the prompt to send, e.g. durable-claude run "What is the weather in Paris?"');
    // Bad flags are refused before anything connects.
    const surface = toolSurfaceSettings(values);
    return withAgent(values, async (agent) => {
      const started = Date.now();
      const maxTokens = positiveIntOption(values, 'max-tokens');
      const maxIterations = positiveIntOption(values, 'max-iterations');
      const handle = await agent.start({
        prompt,
        tools: toolsOf(values),
        ...startSettings(values),
        ...(maxTokens ? { maxTokens } : {}),
        ...(maxIterations ? { limits: { maxIterations } } : {}),
        ...surface,
      });
      write(`conversation ${handle.conversationId}`);
      const result = await followConversation(handle, { approvals: approvalMode(values), by: decider(values), queryTimeoutMs: queryTimeoutMs() });
      write(summaryLine(result, handle.conversationId, Date.now() - started));
      return result.status === 'completed' ? ExitCode.ok : ExitCode.notCompleted;
    });
  },
};

/**
 * While a chat message waits for its answer, decides the calls that wait for approval: all of them with --yes,
 * otherwise by asking at the terminal (the next line typed is the answer). Stops when the answer has come.
 */
async function decideWhileAnswering<T>(
  handle: ConversationHandle,
  answer: Promise<T>,
  options: { yes: boolean; by: string; nextLine: () => Promise<string> },
): Promise<T> {
  let answered = false;
  const settled = answer.finally(() => {
    answered = true;
  });
  const decided = new Set<string>();
  const pollMs = 250;
  while (!answered) {
    const pending = await handle.pending({ timeoutMs: queryTimeoutMs() }).catch(() => []);
    for (const call of pending) {
      if (answered || decided.has(call.toolUseId)) continue;
      decided.add(call.toolUseId);
      if (options.yes) {
        await handle.approve(call.toolUseId, { by: options.by, reason: 'approved with --yes' });
        write(`  ✔ ${call.toolName} approved by ${options.by}`);
        continue;
      }
      process.stdout.write(`  approve ${call.toolName} ${JSON.stringify(call.input)}? [y/N] `);
      const yes = /^y(es)?$/i.test((await options.nextLine()).trim());
      if (yes) await handle.approve(call.toolUseId, { by: options.by });
      else await handle.reject(call.toolUseId, { by: options.by, reason: 'rejected at the terminal' });
      write(`  ${yes ? '✔ approved' : '✗ rejected'} by ${options.by}`);
    }
    await Promise.race([settled.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, pollMs))]);
  }
  return settled;
}

/** Prints a chat's live output from the moment the conversation exists; says how far it has got. */
class LiveChatPrinter {
  readonly #view = new LiveView({ out: (text) => process.stdout.write(text), dimThinking: process.stdout.isTTY === true });
  readonly #stop = new AbortController();
  #finishedTurns = 0;
  #done: Promise<void> | undefined;
  #waiters: Array<() => void> = [];

  constructor(private readonly handle: ConversationHandle) {}

  /** Starts following; the conversation is being started (update-with-start), so it may not exist for a moment. */
  start(): void {
    this.#done = this.#follow().catch((err: unknown) => warn(`live output stopped: ${err instanceof Error ? err.message : String(err)}`));
  }

  async #follow(): Promise<void> {
    for (let tries = 0; !this.#stop.signal.aborted; tries++) {
      try {
        for await (const event of this.handle.stream({ signal: this.#stop.signal })) {
          this.#view.render(event);
          if (event.type === 'turn_finished') {
            this.#view.finish();
            this.#finishedTurns = Math.max(this.#finishedTurns, event.turn);
            for (const wake of this.#waiters.splice(0)) wake();
          }
        }
        return;
      } catch (err) {
        if (!(err instanceof ConversationNotFoundError) || tries > 100) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** Resolves once the reply of turn `turns` has been printed (or after 5 s: the answer is on record anyway). */
  async caughtUp(turns: number): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (this.#finishedTurns < turns && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, Math.max(0, deadline - Date.now()));
      });
    }
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#done;
  }
}

const chat: Command = {
  usage: `usage: durable-claude chat [--id ID] [--tools a,b] [--model M] [--system S] [--yes] [--by WHO]   (type /end to finish)\n       ${TOOL_SURFACE_USAGE}`,
  options: { id: { type: 'string' }, tools: { type: 'string' }, model: { type: 'string' }, system: { type: 'string' }, yes: { type: 'boolean' }, by: { type: 'string' }, ...TOOL_SURFACE_OPTIONS },
  async run(_positionals, values) {
    // Bad flags are refused before anything connects or reads the terminal.
    const surface = toolSurfaceSettings(values);
    const { agent, close } = await connectAgent(values);
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
    const lines = rl[Symbol.asyncIterator]();
    const nextLine = async () => {
      const next = await lines.next();
      return next.done ? '' : next.value;
    };
    // The id is known before the first answer, so a call waiting for approval in it can be decided meanwhile.
    const settings = { ...startSettings(values) };
    const conversationId = settings.conversationId ?? `chat-${randomUUID()}`;
    const handle = agent.getHandle(conversationId);
    const deciding = { yes: values.yes === true, by: decider(values), nextLine };
    // Live output: the replies stream to the terminal from the events while each message waits for its answer.
    const live = handle.hasLiveOutput ? new LiveChatPrinter(handle) : undefined;
    try {
      let started = false;
      if (process.stdin.isTTY) write('chat: type a message, /end to finish');
      for (;;) {
        if (process.stdin.isTTY) process.stdout.write('you › ');
        const next = await lines.next();
        const text = next.done ? '/end' : next.value.trim();
        if (!text) continue;
        if (text === '/end') {
          if (started) {
            await handle.end(decider(values));
            const result = await handle.result();
            write(summaryLine(result, handle.conversationId, 0).replace(' · 0.0s', ''));
          }
          return ExitCode.ok;
        }
        const reply = started
          ? handle.sendMessage(text)
          : agent.startChat({ message: text, tools: toolsOf(values), ...settings, ...surface, conversationId }).then((first) => first.handle.followReply(first.reply));
        if (!started) live?.start();
        started = true;
        const answer = await decideWhileAnswering(handle, reply, deciding);
        if (live) await live.caughtUp(answer.turns);
        else write(`claude › ${answer.text}`);
      }
    } finally {
      rl.close();
      await live?.stop();
      await close();
    }
  },
};

const pending: Command = {
  usage: 'usage: durable-claude pending [<conversationId>] [--json]',
  options: { json: { type: 'boolean' } },
  async run([conversationId], values) {
    const timeoutMs = queryTimeoutMs();
    return withAgent(values, async (agent) => {
      const found: ConversationApprovals[] = conversationId
        ? [await agent.getHandle(conversationId).pending({ timeoutMs }).then((approvals) => ({ conversationId, pendingApprovals: approvals.length, approvals }))]
        : await agent.listPendingApprovals({ queryTimeoutMs: timeoutMs });
      const rows = found.flatMap((c) => (c.approvals ?? []).map((p) => ({ conversationId: c.conversationId, ...p })));
      if (values.json) write(JSON.stringify(rows, null, 2));
      else if (rows.length === 0 && found.every((c) => c.approvals)) write('nothing is waiting for approval');
      else {
        for (const r of rows) {
          // Under a policy: who may decide, and who has approved so far when it takes several people.
          const policy = r.policy
            ? `  needs a signed decision: ${r.policy.description}${r.policy.requiredApprovals > 1 ? ` (${r.approvals?.length ?? 0}/${r.policy.requiredApprovals} approved${r.approvals?.length ? ` by ${r.approvals.map((a) => a.subject).join(', ')}` : ''})` : ''}`
            : '';
          write(`${r.conversationId}  ${r.toolUseId}  ${r.toolName} ${JSON.stringify(r.input)}  since ${r.requestedAt}${r.expiresAt ? `  expires ${r.expiresAt}` : ''}${policy}`);
        }
      }
      // A conversation whose worker is down still counts: say it waits, and why its calls are not listed.
      for (const c of found) if (c.unanswered) warn(`${c.conversationId}  ${c.pendingApprovals} waiting, not listed: ${c.unanswered}`);
      return ExitCode.ok;
    });
  },
};

const SIGN_USAGE = '[--token T | --token - (from stdin) | --sign [--roles a,b] [--groups g] [--email E] [--ttl 5m]]';

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

function decisionCommand(approve: boolean): Command {
  const verb = approve ? 'approve' : 'reject';
  return {
    usage: approve
      ? `usage: durable-claude approve <conversationId> <toolUseId> [--by WHO] [--input JSON] [--reason R] [--signal] ${SIGN_USAGE}`
      : `usage: durable-claude reject <conversationId> <toolUseId> --reason R [--by WHO] [--signal] ${SIGN_USAGE}`,
    options: {
      by: { type: 'string' },
      reason: { type: 'string' },
      signal: { type: 'boolean' },
      token: { type: 'string' },
      sign: { type: 'boolean' },
      roles: { type: 'string' },
      groups: { type: 'string' },
      email: { type: 'string' },
      ttl: { type: 'string' },
      ...(approve ? { input: { type: 'string' } } : {}),
    },
    async run(positionals, values) {
      const [conversationId, toolUseId, extra] = positionals;
      if (!conversationId || !toolUseId || extra) throw CliError.usage(`give the conversation id and the tool_use id to ${verb}`);
      const reason = stringOption(values, 'reason');
      if (!approve && !reason) throw CliError.usage('--reason is required: it goes back to the model');
      const inputText = stringOption(values, 'input');
      const input: InputOption = inputText === undefined ? { given: false } : { given: true, value: parseJson(inputText, '--input') };
      // `--token -` reads it from stdin, so it stays out of the process list and the shell's history.
      const flagged = stringOption(values, 'token');
      const given = flagged === '-' ? (await readStdin()).trim() : flagged;
      if (given !== undefined && values.sign) throw CliError.usage('give --token or --sign, not both');
      if (given !== undefined && given.trim() === '') throw CliError.usage('--token needs the signed decision credential');
      const signing = values.sign === true;
      for (const flag of ['roles', 'groups', 'email', 'ttl']) {
        if (!signing && values[flag] !== undefined) throw CliError.usage(`--${flag} goes with --sign (it is a claim of the token the CLI signs)`);
      }
      const claims = signing ? { roles: listOption(values, 'roles'), groups: listOption(values, 'groups'), email: stringOption(values, 'email'), ttlSeconds: ttlSecondsOption(values) } : undefined;
      // The key before any connection: without one, --sign has nothing to sign with.
      const key = signing ? signingKey() : undefined;
      const timeoutMs = queryTimeoutMs();
      return withAgent(values, async (agent) => {
        const handle = agent.getHandle(conversationId);
        // With a token, its verified subject is who decided: `by` is sent only when given (the signer is `by` with --sign).
        const by = given !== undefined ? stringOption(values, 'by') : decider(values);
        let token = given?.trim();
        if (key && claims) {
          const binding = await decisionBinding({ conversationId, toolUseId, decision: verb }, input, handle);
          token = await signDecision(
            {
              subject: by!,
              binding,
              ...(claims.roles ? { roles: claims.roles } : {}),
              ...(claims.groups ? { groups: claims.groups } : {}),
              ...(claims.email !== undefined ? { email: claims.email } : {}),
              ...(claims.ttlSeconds !== undefined ? { ttlSeconds: claims.ttlSeconds } : {}),
            },
            key,
          );
        }
        const request = {
          toolUseId,
          ...(by !== undefined ? { by } : {}),
          ...(input.given ? { input: input.value } : {}),
          ...(reason ? { reason } : {}),
          ...(token !== undefined ? { token } : {}),
        };
        const who = by ?? 'the token\'s subject';
        if (values.signal) {
          // Stored by Temporal even with no worker running; the workflow checks and applies it when one runs.
          await handle.signalDecision({ decision: verb, ...request });
          write(`sent ${verb} of ${toolUseId} by ${who} as a signal; the conversation applies it when a worker runs (see \`durable-claude show ${conversationId}\`)`);
          return ExitCode.ok;
        }
        const fields = token !== undefined ? { ...request, token } : { ...request, by: by! };
        const decision = approve ? await handle.approve(toolUseId, fields, { timeoutMs }) : await handle.reject(toolUseId, { ...fields, reason: reason! }, { timeoutMs });
        if (decision.decision === 'approval_recorded') {
          const last = decision.approvers[decision.approvers.length - 1];
          write(
            `approval of ${decision.toolName} (${decision.toolUseId}) by ${last?.subject ?? who} recorded: ${decision.approvers.length} of ${decision.requiredApprovals} approvals, the call waits for the rest`,
          );
          return ExitCode.ok;
        }
        write(`${decision.decision} ${decision.toolName} (${decision.toolUseId}) by ${decision.by}${decision.edited ? ' with edited input' : ''}`);
        return ExitCode.ok;
      });
    },
  };
}

const watch: Command = {
  usage: 'usage: durable-claude watch <conversationId> [--from-start | --from OFFSET] [--json]   (needs --events or DURABLE_CLAUDE_EVENTS)',
  options: { 'from-start': { type: 'boolean' }, from: { type: 'string' }, json: { type: 'boolean' } },
  async run([id, extra], values) {
    const conversationId = requireConversationId(id);
    if (extra) throw CliError.usage('watch takes one conversation id');
    const fromText = stringOption(values, 'from');
    if (fromText !== undefined && values['from-start']) throw CliError.usage('give --from-start or --from, not both');
    if (fromText !== undefined && !/^\d+$/.test(fromText)) throw CliError.usage(`--from must be an event offset (a non-negative whole number), got '${fromText}'`);
    return withAgent(values, async (agent) => {
      const handle = agent.getHandle(conversationId);
      if (!agent.events) throw new LiveOutputUnavailableError(conversationId);
      // Default: from now on. --from-start: everything the store still holds, for a finished conversation too.
      const fromOffset = values['from-start'] ? 0 : fromText !== undefined ? Number(fromText) : (await agent.events.lastOffset(conversationId)) + 1;
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const view = new LiveView({ out: (text) => process.stdout.write(text), showUserMessages: true, dimThinking: process.stdout.isTTY === true });
      if (values['from-start'] && (await agent.events.lastOffset(conversationId)) === 0 && (await handle.describe()).status.name !== 'RUNNING') {
        // The store no longer holds it (or never did): the workflow's own events come back from its history.
        warn('the event store holds nothing for this conversation; its workflow events, replayed from history (no text deltas):');
        for (const event of await handle.workflowEvents()) {
          if (values.json) write(JSON.stringify(event));
          else view.render(event);
        }
        view.finish();
      }
      try {
        for await (const event of handle.stream({ fromOffset, signal: stop.signal })) {
          if (values.json) write(JSON.stringify(event));
          else view.render(event);
        }
        view.finish();
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      if (stop.signal.aborted) return ExitCode.ok;
      const result = await handle.result();
      if (!values.json) write(summaryLine(result, conversationId, 0).replace(' · 0.0s', ''));
      return result.status === 'completed' ? ExitCode.ok : ExitCode.notCompleted;
    });
  },
};

const show: Command = {
  usage: 'usage: durable-claude show <conversationId> [--json]',
  options: { json: { type: 'boolean' } },
  async run([id], values) {
    const conversationId = requireConversationId(id);
    const timeoutMs = queryTimeoutMs();
    return withAgent(values, async (agent) => {
      const handle = agent.getHandle(conversationId);
      const { transcript, state } = await handle.snapshot({ timeoutMs });
      // Who sent each decision, as Temporal recorded it (the audit in workflow state cannot know).
      const senders = await decisionSenders(handle);
      if (values.json) {
        write(JSON.stringify({ state, transcript, decisionSenders: senders }, null, 2));
        return ExitCode.ok;
      }
      const budgetStop = state.result?.budgetStop;
      const budgetUsd = state.budgetUsd ?? budgetStop?.budgetUsd;
      // Continue-as-new: one conversation, several runs (absent from state written before runs were counted).
      const runs = state.runs !== undefined && state.runs > 1 ? ` · ${state.runs} runs` : '';
      write(
        `conversation ${conversationId} · ${state.status} · ${state.turn} turn${state.turn === 1 ? '' : 's'}${runs} · ` +
          `${usageText(state.usage)} · ${costText(state.usage.costUsd, budgetUsd)}`,
      );
      if (budgetStop) write(`■ stopped at the budget: ${budgetStop.message}`);
      for (const line of transcriptLines(transcript, senders)) write(line);
      for (const line of refusedDecisionLines(transcript.refusedDecisions ?? state.refusedDecisions ?? [])) write(line);
      return ExitCode.ok;
    });
  },
};

/** --min-cost: US dollars as a plain decimal ('0.05', '$2', '.5'), written into the query the same way. */
function minCostOption(values: CliValues): string | undefined {
  const given = stringOption(values, 'min-cost');
  if (given === undefined) return undefined;
  const match = /^\$?(\d*)(?:\.(\d*))?$/.exec(given.trim());
  if (!match || (match[1] === '' && !match[2])) throw CliError.usage(`--min-cost must be an amount of US dollars such as 0.05, got '${given}'`);
  return `${match[1] || '0'}${match[2] ? `.${match[2]}` : ''}`;
}

const LIST_SORTS = ['start', 'cost'] as const;

const list: Command = {
  usage: 'usage: durable-claude list [--status S] [--min-cost USD] [--sort start|cost] [--query VISIBILITY_QUERY] [--limit N] [--json]',
  options: { status: { type: 'string' }, 'min-cost': { type: 'string' }, sort: { type: 'string' }, query: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
  async run(_positionals, values) {
    const status = stringOption(values, 'status');
    if (status !== undefined && !/^[a-z_]+$/.test(status)) throw CliError.usage(`--status must be a status such as awaiting_approval, got '${status}'`);
    const minCost = minCostOption(values);
    const sort = stringOption(values, 'sort') ?? 'start';
    if (!(LIST_SORTS as readonly string[]).includes(sort)) throw CliError.usage(`--sort must be ${LIST_SORTS.join(' or ')} (most expensive first), got '${sort}'`);
    const limit = positiveIntOption(values, 'limit') ?? 50;
    return withAgent(values, async (agent) => {
      const extra = stringOption(values, 'query');
      const query =
        `WorkflowType = '${WORKFLOW_TYPE}'${status ? ` AND ${AgentStatusKey.name} = '${status}'` : ''}` +
        `${minCost !== undefined ? ` AND ${AgentCostUsdKey.name} >= ${minCost}` : ''}${extra ? ` AND (${extra})` : ''}`;
      const rows = await agent.list(query, limit, { sortBy: sort === 'cost' ? 'cost' : 'startTime' });
      if (values.json) write(JSON.stringify(rows, null, 2));
      else if (rows.length === 0) write('no conversations');
      else {
        for (const r of rows) {
          // A closed run whose AgentStatus was left behind (e.g. terminated) says what Temporal says of it.
          const status = r.statusStale ? `${r.status} (run ${r.executionStatus.toLowerCase()})` : r.status;
          write(`${r.startTime.toISOString()}  ${status.padEnd(18)} ${String(r.pendingApprovals).padStart(2)} pending  ${costText(r.costUsd).padStart(12)}  ${r.conversationId}`);
        }
      }
      return ExitCode.ok;
    });
  },
};

const worker: Command = {
  usage: `usage: durable-claude worker [--task-queue Q] ${MCP_USAGE}   (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ANTHROPIC_API_KEY from the environment)\n${MCP_HELP}`,
  options: { ...MCP_OPTIONS },
  async run(_positionals, values) {
    // Bad --mcp flags are refused before anything starts.
    const mcpConfigs = mcpServerConfigs(values);
    const model = await connectModel({ allowSimulated: false });
    // Large payloads where the CLI looks for them: --storage-dir, DURABLE_CLAUDE_STORAGE_DIR or DURABLE_CLAUDE_S3_*.
    const stored = storageOf(values);
    // MCP servers first: one that does not start stops the worker before it connects to anything.
    const mcp = await connectCliMcpServers(mcpConfigs);
    if (mcp) reportToolChanges(mcp, warn);
    const connected = await connectWorkerConnection(values).catch(async (err: unknown) => {
      await mcp?.close();
      throw err;
    });
    const { connection, namespace } = connected;
    const events = await connectEvents(values, namespace).catch(async (err: unknown) => {
      await connection.close();
      await mcp?.close();
      throw err;
    });
    try {
      const w = await cliAgentWorker({ connection, namespace, taskQueue: taskQueueOf(values), anthropic: model.anthropic, events, mcp, values, stored });
      const encryption = encryptionDescription(values);
      const decisions = cliDecisionVerifier();
      write(
        `worker on task queue ${taskQueueOf(values)} (namespace ${namespace})${events ? `, live output to ${events.description}` : ''}${stored ? `, large payloads in ${stored.description}` : ''}` +
          `${encryption ? `, payloads encrypted (${encryption})` : ''}${decisions ? `, decisions verified with ${decisions.description}` : ''}` +
          `${mcp ? `, MCP servers ${mcpServerLines(mcpConfigs, mcp).join(', ')}` : ''}; Ctrl+C to stop`,
      );
      await w.run();
      return ExitCode.ok;
    } finally {
      await events?.close();
      await connection.close();
      await mcp?.close();
    }
  },
};

const dev: Command = {
  usage: `usage: durable-claude dev [--db-file FILE] [--port 7233] [--ui-port 8233] [--events-port 4222] [--events-dir DIR] [--live-port 7243] ${MCP_USAGE}\n${MCP_HELP}`,
  options: {
    ...MCP_OPTIONS,
    'db-file': { type: 'string' },
    port: { type: 'string' },
    'ui-port': { type: 'string' },
    'events-port': { type: 'string' },
    'events-dir': { type: 'string' },
    'live-port': { type: 'string' },
  },
  async run(_positionals, values) {
    const port = positiveIntOption(values, 'port') ?? 7233;
    const uiPort = positiveIntOption(values, 'ui-port') ?? port + 1000;
    const eventsPort = positiveIntOption(values, 'events-port') ?? 4222;
    const livePort = positiveIntOption(values, 'live-port') ?? port + 10;
    const dbFilename = stringOption(values, 'db-file') ?? '.temporal/dev.db';
    // Live output is kept next to the history, so a restarted `dev` can still show a conversation's stream.
    const eventsDir = stringOption(values, 'events-dir') ?? path.join(path.dirname(dbFilename), 'events');
    // Large payloads too (tool results over the threshold): history holds references into this store.
    const storageDirectory = path.join(path.dirname(dbFilename), 'payloads');
    const stored = storageOf(values, storageDirectory);
    const mcpConfigs = mcpServerConfigs(values);
    // Decisions are verified with the dev key unless a real one is configured: `durable-claude token` and
    // `approve --sign` sign with the same file.
    if (!process.env.DURABLE_CLAUDE_DECISION_KEY?.trim() && !process.env.DURABLE_CLAUDE_DECISION_JWKS_URL?.trim()) ensureDevDecisionKey();
    const decisions = cliDecisionVerifier();
    const model = await connectModel({ allowSimulated: true });
    const log = (line: string) => process.stderr.write(`${line}\n`);
    // MCP servers first: one that does not start stops `dev` before the dev server starts.
    const mcp = await connectCliMcpServers(mcpConfigs).catch(async (err: unknown) => {
      await model.close();
      throw err;
    });
    if (mcp) reportToolChanges(mcp, log);
    const server = await startDevServer({ port, uiPort, dbFilename, log }).catch(async (err: unknown) => {
      await mcp?.close();
      await model.close();
      throw err;
    });
    let eventServer: EventServer | undefined;
    let connection: NativeConnection | undefined;
    let events: Awaited<ReturnType<typeof connectEvents>>;
    let live: { agent: AgentClient; close(): Promise<void> } | undefined;
    let liveServer: LiveOutputServer | undefined;
    try {
      eventServer = await startEventServer({ port: eventsPort, storeDir: eventsDir, log });
      const worker = await connectWorkerConnection({ ...values, address: server.address });
      connection = worker.connection;
      events = await connectEvents({ events: eventServer.url }, worker.namespace);
      const taskQueue = taskQueueOf(values);
      const w = await cliAgentWorker({ connection, namespace: worker.namespace, taskQueue, anthropic: model.anthropic, events, mcp, values, stored });
      live = await connectAgent({ ...values, address: server.address, events: eventServer.url }, { storageDirectory });
      liveServer = await startLiveOutputServer({ agent: live.agent, port: livePort });
      write(`Temporal dev server  ${server.address}   (data: ${dbFilename})`);
      write(`Temporal Web UI      ${server.uiUrl}`);
      write(`event store          ${eventServer.url}   (NATS JetStream, live output; data: ${eventsDir})`);
      write(`large payloads       ${stored ? `${stored.description}   (the CLI reads it from here, or with --storage-dir)` : 'inline (external storage off)'}`);
      write(`live output (SSE)    ${liveServer.url}/conversations/<id>/events   (a page: ${liveServer.url}/conversations/<id>)`);
      write(`worker               task queue ${taskQueue}, tools: ${[...EXAMPLE_TOOL_NAMES, ...(mcp?.listings().map((l) => l.name) ?? [])].join(', ')}`);
      // run and chat offer the example tools unless told otherwise: how to name the servers' tools too.
      if (mcp) write(`MCP servers          ${mcpServerLines(mcpConfigs, mcp).join(', ')}   (in a conversation: --tools '${[...EXAMPLE_TOOL_NAMES, ...mcp.names.map((name) => `${name}__*`)].join(',')}')`);
      write(`decision credentials ${decisions ? `${decisions.description}   (sign one: durable-claude token, or approve --sign)` : 'none verified'}`);
      write(`payload encryption   ${encryptionDescription(values) ?? 'off (set DURABLE_CLAUDE_ENCRYPTION_KEYS to encrypt; then run a codec-server for the Web UI)'}`);
      write(`model                ${model.simulated ? 'simulated (no ANTHROPIC_API_KEY: an offline stand-in answers)' : 'Claude via the Anthropic API'}`);
      write(`try:                 TEMPORAL_ADDRESS=${server.address} DURABLE_CLAUDE_EVENTS=${eventServer.url} npx durable-claude run "${DEMO_PROMPT}"`);
      // The Temporal runtime shuts the worker down on SIGINT/SIGTERM; run() resolves once in-flight tasks have
      // finished, and only then may the connection and the servers close.
      await w.run();
      return ExitCode.ok;
    } finally {
      await liveServer?.close();
      await live?.close();
      await events?.close();
      await connection?.close();
      await eventServer?.stop();
      await server.stop();
      await mcp?.close();
      await model.close();
    }
  },
};

const demo: Command = {
  usage: 'usage: durable-claude demo [--yes] [--keep-ui]',
  options: { yes: { type: 'boolean' }, 'keep-ui': { type: 'boolean' }, by: { type: 'string' } },
  async run(_positionals, values) {
    const model = await connectModel({ allowSimulated: true });
    let server: DevServer | undefined;
    let eventServer: EventServer | undefined;
    let demoStorageDir: string | undefined;
    try {
      write('durable-claude demo: a Claude tool-use conversation as a durable Temporal workflow');
      write(model.simulated ? 'model: SIMULATED — no ANTHROPIC_API_KEY, so an offline scripted model answers (set the key to use Claude)' : 'model: Claude via the Anthropic API');
      write('starting a Temporal dev server (with the Web UI)…');
      server = await startDevServer({ ui: true, log: (line) => process.stderr.write(`${line}\n`) });
      // Live output: Claude's text streams to this terminal through the event store as it is generated.
      eventServer = await startEventServer({ log: (line) => process.stderr.write(`${line}\n`) });
      const { connection, namespace } = await connectWorkerConnection({ ...values, address: server.address });
      const events = await connectEvents({ events: eventServer.url }, namespace);
      const taskQueue = 'durable-claude-demo';
      // The demo's dev server keeps nothing, and its store of large payloads neither.
      demoStorageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-claude-demo-payloads-'));
      const stored = storageOf(values, demoStorageDir);
      const w = await cliAgentWorker({ connection, namespace, taskQueue, anthropic: model.anthropic, events, mcp: undefined, values, stored });
      const { agent, close } = await connectAgent({ ...values, address: server.address, 'task-queue': taskQueue, events: eventServer.url }, { storageDirectory: demoStorageDir });
      let result: ConversationResult | undefined;
      let link: string | undefined;
      try {
        await w.runUntil(async () => {
          const started = Date.now();
          const handle = await agent.start({ prompt: DEMO_PROMPT, tools: EXAMPLE_TOOL_NAMES, conversationId: `demo-${Date.now()}` });
          link = await uiLink(server!.uiUrl, handle, namespace);
          write(`conversation ${handle.conversationId} — Web UI: ${link}`);
          write(`user   › ${DEMO_PROMPT}`);
          const mode: ApprovalMode = values.yes || !process.stdin.isTTY ? 'yes' : 'ask';
          if (!values.yes && mode === 'yes') write('(no terminal attached: approving automatically, as with --yes)');
          result = await followConversation(handle, { approvals: mode, by: decider(values), queryTimeoutMs: queryTimeoutMs() });
          write(summaryLine(result, handle.conversationId, Date.now() - started));
        });
      } finally {
        await close();
        await events?.close();
        await connection.close();
      }
      write(`See the whole history in the Temporal Web UI: ${link}`);
      write('(model calls and each tool are activities; the approval is a signal/update in the history)');
      if (values['keep-ui'] || (process.stdin.isTTY && !values.yes)) {
        write('The dev server and its Web UI stay up until you press Ctrl+C.');
        await untilSignal();
      }
      return result?.status === 'completed' ? ExitCode.ok : ExitCode.notCompleted;
    } finally {
      await eventServer?.stop();
      await server?.stop();
      await model.close();
      if (demoStorageDir) fs.rmSync(demoStorageDir, { recursive: true, force: true });
    }
  },
};

export const commands: Record<string, Command> = {
  demo,
  dev,
  worker,
  run,
  chat,
  pending,
  approve: decisionCommand(true),
  reject: decisionCommand(false),
  show,
  watch,
  list,
  ...historyCommands,
  ...tokenCommands,
  ...codecServerCommands,
  ...toolsCommands,
};
