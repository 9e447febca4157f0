// `durable-claude codec-server`: the Web UI's and temporal CLI's /encode and /decode endpoint (filled in by the codec-server work).
import type { Command } from './command';

export const codecServerCommands: Record<string, Command> = {};
