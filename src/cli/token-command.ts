// `durable-claude token`: decision credentials for local development (filled in by the verified-decisions work).
import type { Command } from './command';

export const tokenCommands: Record<string, Command> = {};
