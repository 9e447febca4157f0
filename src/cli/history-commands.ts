// Debugging after the fact: replay a history against the current code, retry a failed run, fork, export.
import fs from 'node:fs';
import { parseHistory, replayHistory } from '../replay';
import type { Command } from './commands';
import { withAgent, type CliValues } from './connect';
import { CliError, ExitCode } from './errors';

const write = (line = '') => process.stdout.write(`${line}\n`);
const str = (values: CliValues, name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);

const replay: Command = {
  usage: 'usage: durable-claude replay <conversationId> | --file history.json',
  options: { file: { type: 'string' } },
  async run([conversationId], values) {
    const file = str(values, 'file');
    if (!!file === !!conversationId) throw CliError.usage('give either a conversation id or --file history.json');
    let history;
    let source: string;
    if (file) {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        throw CliError.usage(`cannot read ${file}: ${(err as Error).message}`);
      }
      try {
        history = parseHistory(text);
      } catch (err) {
        throw CliError.usage(`${file}: ${(err as Error).message}`);
      }
      source = file;
    } else {
      history = await withAgent(values, (agent) => agent.getHandle(conversationId!).fetchHistory());
      source = conversationId!;
    }
    const outcome = await replayHistory(history);
    if (outcome.ok) {
      write(`✔ ${source}: replays cleanly against the current workflow code (${outcome.events} events)`);
      return ExitCode.ok;
    }
    write(`✗ ${source}: the current workflow code diverges from this history${outcome.divergedAtEventId !== undefined ? ` at event ${outcome.divergedAtEventId}` : ''}`);
    write(`  ${outcome.error}`);
    return ExitCode.replayDiverged;
  },
};

const retry: Command = {
  usage: 'usage: durable-claude retry <conversationId> [--reason R]',
  options: { reason: { type: 'string' } },
  async run([conversationId], values) {
    if (!conversationId) throw CliError.usage('give the id of the failed conversation');
    return withAgent(values, async (agent) => {
    const outcome = await agent.getHandle(conversationId).retry(str(values, 'reason'));
    write(`reset ${conversationId} to event ${outcome.resetToEventId}: run ${outcome.runId} carries on (failed run ${outcome.failedRunId})`);
    return ExitCode.ok;
    });
  },
};

const fork: Command = {
  usage: 'usage: durable-claude fork <conversationId> --turn N [--prompt P] [--id NEW_ID] [--tools a,b]',
  options: { turn: { type: 'string' }, prompt: { type: 'string' }, id: { type: 'string' }, tools: { type: 'string' } },
  async run([conversationId], values) {
    const turn = Number(str(values, 'turn'));
    if (!conversationId || !Number.isInteger(turn) || turn < 1) throw CliError.usage('give the conversation id and --turn N (a turn number from 1)');
    return withAgent(values, async (agent) => {
    const tools = str(values, 'tools');
    const handle = await agent.fork(conversationId, {
      turn,
      ...(str(values, 'prompt') !== undefined ? { prompt: str(values, 'prompt')! } : {}),
      ...(str(values, 'id') ? { conversationId: str(values, 'id')! } : {}),
      ...(tools !== undefined ? { tools: tools.split(',').map((t) => t.trim()).filter(Boolean) } : {}),
    });
    write(`forked ${conversationId} at turn ${turn}: new conversation ${handle.conversationId}`);
    return ExitCode.ok;
    });
  },
};

const exportCommand: Command = {
  usage: 'usage: durable-claude export <conversationId> [--out FILE]',
  options: { out: { type: 'string' } },
  async run([conversationId], values) {
    if (!conversationId) throw CliError.usage('give the conversation id');
    return withAgent(values, async (agent) => {
    const exported = await agent.getHandle(conversationId).export();
    const out = str(values, 'out') ?? `${conversationId.replace(/[^\w.-]+/g, '_')}.durable-claude.json`;
    fs.writeFileSync(out, `${JSON.stringify(exported, null, 2)}\n`);
    write(`wrote ${out}: transcript (${exported.transcript?.messages.length ?? 0} messages) and history (${(exported.history as { events?: unknown[] }).events?.length ?? 0} events)`);
    return ExitCode.ok;
    });
  },
};

export const historyCommands: Record<string, Command> = { replay, retry, fork, export: exportCommand };
