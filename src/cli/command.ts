// What every CLI command shares: its shape, how it reads its options, and where it writes.
import type { ParseArgsConfig } from 'node:util';
import { DURATION_HINT, parseDurationMs } from '../workflows/duration';
import type { CliValues } from './values';
import { CliError } from './errors';

export interface Command {
  usage: string;
  options: ParseArgsConfig['options'];
  run(positionals: string[], values: CliValues): Promise<number>;
}

export const write = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
export const warn = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** A flag's JSON value (`what` names the flag in the usage error). */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw CliError.usage(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** The value of a string option, or undefined when it was not given. */
export function stringOption(values: CliValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function positiveIntOption(values: CliValues, name: string): number | undefined {
  const value = stringOption(values, name);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw CliError.usage(`--${name} must be a positive whole number, got '${value}'`);
  return n;
}

/** The conversation id a command needs as its first argument. */
export function requireConversationId(conversationId: string | undefined, what = 'give the conversation id'): string {
  if (!conversationId) throw CliError.usage(what);
  return conversationId;
}

/** How long a command waits for a worker to answer a query before saying none did (exit 9); default 10 s. */
export function queryTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.DURABLE_CLAUDE_QUERY_TIMEOUT_MS;
  if (raw === undefined || raw === '') return 10_000;
  const ms = parseDurationMs(raw);
  if (ms === undefined) throw CliError.usage(`DURABLE_CLAUDE_QUERY_TIMEOUT_MS must be ${DURATION_HINT}, got '${raw}'`);
  return ms;
}
