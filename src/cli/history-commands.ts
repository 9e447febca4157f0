// Debugging after the fact: replay a history against the current code, retry a failed run, fork, export.
import fs from 'node:fs';
import { parseHistories, replayHistories } from '../replay';
import { requireConversationId, stringOption, warn, write, type Command } from './command';
import { replayConverterOf, withAgent } from './connect';
import { checkHistoriesReadable } from './encryption-options';
import { CliError, ExitCode } from './errors';

/** The histories a file holds, oldest run first: one for `temporal workflow show` output, every run for an export. */
function readHistoryFile(file: string): ReturnType<typeof parseHistories> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw CliError.usage(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return parseHistories(text);
  } catch (err) {
    throw CliError.usage(`${file}: ${(err as Error).message}`);
  }
}

const replay: Command = {
  usage: 'usage: durable-claude replay <conversationId> | --file history.json   (every run of a conversation that continued as new)',
  options: { file: { type: 'string' } },
  async run([conversationId], values) {
    const file = stringOption(values, 'file');
    if (!!file === !!conversationId) throw CliError.usage('give either a conversation id or --file history.json');
    const source = file ?? conversationId!;
    const histories = file
      ? readHistoryFile(file)
      : await withAgent(values, async (agent) => (await agent.getHandle(conversationId!).histories()).map(({ history }) => history));
    // Large payloads in these histories are references into the workers' store (--storage-dir, DURABLE_CLAUDE_STORAGE_DIR …),
    // and their payloads may be encrypted (DURABLE_CLAUDE_ENCRYPTION_KEYS): missing keys are not a divergence.
    const converter = replayConverterOf(values);
    await checkHistoriesReadable(histories, converter.dataConverter?.payloadCodecs ?? []);
    const outcomes = await replayHistories(histories, converter);
    const runLabel = (i: number) => (histories.length > 1 ? ` run ${i + 1} of ${histories.length}` : '');
    const diverged = outcomes.findIndex((outcome) => !outcome.ok);
    if (diverged < 0) {
      const events = outcomes.reduce((sum, outcome) => sum + outcome.events, 0);
      const runs = histories.length > 1 ? `${histories.length} runs, ` : '';
      write(`✔ ${source}: replays cleanly against the current workflow code (${runs}${events} events)`);
      return ExitCode.ok;
    }
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.ok) continue;
      write(`✗ ${source}${runLabel(i)}: the current workflow code diverges from this history${outcome.divergedAtEventId !== undefined ? ` at event ${outcome.divergedAtEventId}` : ''}`);
      write(`  ${outcome.error}`);
    }
    return ExitCode.replayDiverged;
  },
};

const retry: Command = {
  usage: 'usage: durable-claude retry <conversationId> [--reason R] [--by WHO] [--allow-tool-reruns]',
  options: { reason: { type: 'string' }, by: { type: 'string' }, 'allow-tool-reruns': { type: 'boolean' } },
  async run([id], values) {
    const conversationId = requireConversationId(id, 'give the id of the failed conversation');
    return withAgent(values, async (agent) => {
      const reason = stringOption(values, 'reason');
      const by = stringOption(values, 'by');
      const outcome = await agent.getHandle(conversationId).retry({
        ...(reason ? { reason } : {}),
        ...(by ? { by } : {}),
        allowToolReruns: values['allow-tool-reruns'] === true,
      });
      const repeats = outcome.repeats ? `, repeating ${outcome.repeats.kind === 'model_call' ? `the model call of turn ${outcome.repeats.turn}` : `${outcome.repeats.kind} ${outcome.repeats.toolUseId}`}` : '';
      write(`reset ${conversationId} to event ${outcome.resetToEventId}${repeats}: run ${outcome.runId} carries on (failed run ${outcome.failedRunId})`);
      if (outcome.rerunToolUseIds.length) warn(`tools that run again: ${outcome.rerunToolUseIds.join(', ')}`);
      return ExitCode.ok;
    });
  },
};

const fork: Command = {
  usage: 'usage: durable-claude fork <conversationId> --turn N [--prompt P] [--id NEW_ID] [--tools a,b]',
  options: { turn: { type: 'string' }, prompt: { type: 'string' }, id: { type: 'string' }, tools: { type: 'string' } },
  async run([conversationId], values) {
    const turn = Number(stringOption(values, 'turn'));
    if (!conversationId || !Number.isInteger(turn) || turn < 1) throw CliError.usage('give the conversation id and --turn N (a turn number from 1)');
    const prompt = stringOption(values, 'prompt');
    const newId = stringOption(values, 'id');
    const tools = stringOption(values, 'tools');
    return withAgent(values, async (agent) => {
      const handle = await agent.fork(conversationId, {
        turn,
        ...(prompt !== undefined ? { prompt } : {}),
        ...(newId ? { conversationId: newId } : {}),
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
  async run([id], values) {
    const conversationId = requireConversationId(id);
    const out = stringOption(values, 'out') ?? `${conversationId.replace(/[^\w.-]+/g, '_')}.durable-claude.json`;
    return withAgent(values, async (agent) => {
      const exported = await agent.getHandle(conversationId).export();
      fs.writeFileSync(out, `${JSON.stringify(exported, null, 2)}\n`);
      const eventsOf = (history: unknown) => (history as { events?: unknown[] }).events?.length ?? 0;
      const events = [...exported.previousHistories, exported.history].reduce<number>((sum, history) => sum + eventsOf(history), 0);
      const runs = exported.runIds.length > 1 ? `histories of ${exported.runIds.length} runs` : 'history';
      write(`wrote ${out}: transcript (${exported.transcript?.messages.length ?? 0} messages) and ${runs} (${events} events)`);
      // The keys decrypted it: the file now holds what Temporal stores encrypted.
      if (exported.payloadsDecoded) warn(`${out} holds the conversation decrypted (plaintext): share it as you would the conversation itself`);
      return ExitCode.ok;
    });
  },
};

export const historyCommands: Record<string, Command> = { replay, retry, fork, export: exportCommand };
