#!/usr/bin/env node
// durable-claude: start and follow conversations, decide approvals, inspect transcripts, run a dev stack.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { AgentClientError } from '../client';
import { CliError, ExitCode } from './errors';
import { commands } from './commands';
import type { CliValues } from './values';

const USAGE = `durable-claude — Claude tool-use conversations as durable Temporal workflows

Usage: durable-claude <command> [options]

Commands:
  demo [--yes]                       offline demo: parallel tools, an approval, the Web UI
  dev [--db-file F] [--port P]       Temporal dev server (with Web UI) plus a worker; data kept in a file
  worker                             a worker serving the example tools (TEMPORAL_*, ANTHROPIC_* settings)
      [--mcp "[NAME=]COMMAND ARGS"]… [--mcp-url [NAME=]URL]…   (dev and worker) and MCP servers' tools, as NAME__TOOL
  tools [--mcp …]… [--mcp-url …]… [--json]
                                     the tools such a worker offers: where each comes from, approval and why
  run "<prompt>" [--tools a,b] [--yes] [--wait] [--id ID] [--model M] [--system S] [--max-tokens N]
                                     start a conversation and print each turn as it happens
      [--thinking adaptive|between_tools|disabled|budget:N] [--effort low|…|max] [--thinking-display summarized|omitted]
      [--server-tool web_search|web_fetch|code_execution|TYPE]… [--beta VALUE]…   (run and chat)
  chat [--id ID] [--tools a,b]       an interactive chat (type /end to finish)
  pending [<id>]                     tool calls waiting for approval (all conversations without an id)
  approve <id> <toolUseId> [--by WHO] [--input JSON] [--reason R] [--signal] [--token T | --sign [--roles a,b]]
  reject <id> <toolUseId> --reason R [--by WHO] [--signal] [--token T | --sign [--roles a,b]]
  watch <id> [--from-start] [--json] a conversation's live output: text and tool input as they stream
  show <id>                          a readable transcript
  list [--status S] [--limit N]      conversations, newest first
  replay <id> | --file history.json  replay a history against the current workflow code
  retry <id>                         carry on a failed or cancelled conversation from just before what ended it
  fork <id> --turn N [--prompt P]    a new conversation from the transcript up to turn N
  export <id> [--out FILE]           transcript and history in one file, for a bug report
  token <id> <toolUseId> --decision approve|reject --subject WHO [--roles a,b] [--input JSON] [--ttl 5m]
                                     a signed decision credential, with DURABLE_CLAUDE_DECISION_KEY or the dev key
  codec-server [--port 8888] [--allow-origin O]… [--jwks URL --issuer ISS] [--no-auth]
                                     decrypts payloads for the Web UI and temporal CLI (DURABLE_CLAUDE_ENCRYPTION_KEYS;
                                     callers send DURABLE_CLAUDE_CODEC_TOKEN as a bearer token)

Global options: --address HOST:PORT, --namespace NS, --task-queue Q (or TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE)
                --events nats://HOST:PORT (or DURABLE_CLAUDE_EVENTS): live output from the event store
                --storage-dir DIR (or DURABLE_CLAUDE_STORAGE_DIR; S3: DURABLE_CLAUDE_S3_BUCKET …): the workers' store
                  of large payloads; default .temporal/payloads when \`durable-claude dev\` made it; \`off\`: none
Environment:    DURABLE_CLAUDE_ENCRYPTION_KEYS (id:BASE64,…): encrypt and decrypt payloads (workers, clients, replay)
                DURABLE_CLAUDE_DECISION_KEY / _JWKS_URL, _ISSUER, _AUDIENCE: verify (workers) and sign decisions
                DURABLE_CLAUDE_MCP_AUTHORIZATION: the Authorization header sent to --mcp-url servers

Exit codes: 0 ok · 1 conversation did not complete · 2 bad arguments · 3 unknown conversation
            4 Temporal (or an event store, an MCP server) unreachable · 5 conversation failed · 6 decision refused · 7 missing API key · 8 replay diverged
            9 no worker answered a query`;

export const GLOBAL_OPTIONS: ParseArgsConfig['options'] = {
  address: { type: 'string' },
  namespace: { type: 'string' },
  'task-queue': { type: 'string' },
  events: { type: 'string' },
  'storage-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name ? ExitCode.ok : ExitCode.usage;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`Unknown command '${name}'.\n\n${USAGE}\n`);
    return ExitCode.usage;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`durable-claude ${name}: ${(err as Error).message}\n${command.usage}\n`);
    return ExitCode.usage;
  }
  if (parsed.values.help) {
    process.stdout.write(`${command.usage}\n`);
    return ExitCode.ok;
  }
  // Workers log every state change at INFO; a terminal user wants warnings only.
  if (!Runtime._instance) Runtime.install({ logger: new DefaultLogger(process.env.DURABLE_CLAUDE_DEBUG ? 'INFO' : 'WARN') });
  try {
    return await command.run(parsed.positionals, parsed.values as CliValues);
  } catch (err) {
    const cliError = CliError.from(err);
    process.stderr.write(`durable-claude ${name}: ${cliError.message}\n`);
    if (cliError.code === ExitCode.usage) process.stderr.write(`${command.usage}\n`);
    if (process.env.DURABLE_CLAUDE_DEBUG && !(err instanceof CliError) && !(err instanceof AgentClientError)) console.error(err);
    return cliError.code;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
