// `durable-claude tools`: what a worker the CLI starts (dev, worker) would offer with the same --mcp and --mcp-url
// flags: the example tools, then each MCP server's tools, with whether a call waits for a person and why. It starts
// the MCP servers, lists, and closes them; no Temporal needed. Also how dev and worker connect their MCP servers.
import { exampleTools } from '../examples/tools';
import { connectMcpServers, McpConfigurationError, type McpServers } from '../mcp';
import type { McpServerConfig, McpToolAnnotations, McpToolListing } from '../mcp/types';
import type { AgentTool } from '../tools/define-tool';
import { write, type Command } from './command';
import { CliError, ExitCode } from './errors';
import { describeMcpServer, MCP_HELP, MCP_OPTIONS, MCP_USAGE, mcpServerConfigs } from './mcp-options';

/** An MCP failure as the CLI reports it: a wrong configuration exits 2, a server that would not start or answer 4. */
export function mcpCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // A configuration mistake the flags could not catch alone (e.g. two servers' tools with one name): bad arguments.
  if (err instanceof McpConfigurationError) return new CliError(message, err.kind === 'configuration' ? ExitCode.usage : ExitCode.unreachable);
  return new CliError(message, ExitCode.unreachable);
}

/** An MCP configuration error (createAgentWorker's too) as the CLI reports it; any other error as it is. */
export function withMcpExitCode(err: unknown): unknown {
  return err instanceof McpConfigurationError ? mcpCliError(err) : err;
}

/** Starts the servers --mcp and --mcp-url name (none given: undefined, nothing started); failures as CLI errors. */
export async function connectCliMcpServers(configs: McpServerConfig[]): Promise<McpServers | undefined> {
  if (configs.length === 0) return undefined;
  try {
    return await connectMcpServers(configs);
  } catch (err) {
    throw mcpCliError(err);
  }
}

/** One line per server for dev and worker: its name, how many tools, and what it is. */
export function mcpServerLines(configs: McpServerConfig[], servers: McpServers): string[] {
  const listings = servers.listings();
  return configs.map((config) => {
    const count = listings.filter((listing) => listing.server === config.name).length;
    return `${config.name} (${count} tool${count === 1 ? '' : 's'}: ${describeMcpServer(config)})`;
  });
}

/** Says when a server's tools change (it said so, or came back after a restart): new conversations get the new list. */
export function reportToolChanges(servers: McpServers, log: (line: string) => void): void {
  servers.onToolsChanged((server, why) => {
    const count = servers.listings().filter((listing) => listing.server === server).length;
    log(`MCP server ${server} ${why === 'notified' ? 'changed its tools' : 'reconnected'}: ${count} tool${count === 1 ? '' : 's'} now, for conversations that start from here on`);
  });
}

/** A tool as `durable-claude tools --json` prints it. */
export interface ToolListingRow {
  /** The name conversations use (--tools), and the model sees. */
  name: string;
  source: 'built-in' | 'mcp';
  /** MCP tools: the server's name (--mcp NAME=…) and the tool's own name on it. */
  server?: string;
  mcpName?: string;
  description?: string;
  /** 'by input': defineTool's needsApproval is a function that decides for each call. */
  needsApproval: boolean | 'by input';
  /** Where the approval rule comes from: defineTool's settings, or for MCP the tool's annotations, the server's setting or a per-tool override. */
  approvalSource: 'defineTool' | McpToolListing['approvalSource'];
  /** The same in words, e.g. "annotations: readOnlyHint". */
  approvalReason: string;
  annotations?: McpToolAnnotations;
}

function builtInRow(tool: AgentTool): ToolListingRow {
  const rule = tool.settings.needsApproval;
  const governed = tool.settings.approvers !== undefined;
  const needsApproval: ToolListingRow['needsApproval'] = typeof rule === 'function' ? 'by input' : rule === true || governed;
  const approvalReason =
    typeof rule === 'function'
      ? 'defineTool: needsApproval decides for each call'
      : governed
        ? 'defineTool: approvers (a verified decision)'
        : rule === true
          ? 'defineTool: needsApproval'
          : 'defineTool: no needsApproval';
  return { name: tool.name, source: 'built-in', ...(tool.description !== undefined ? { description: tool.description } : {}), needsApproval, approvalSource: 'defineTool', approvalReason };
}

/** The annotations that decided, in words: the hints given (false ones as hint=false), or MCP's defaults. */
function annotationReason(annotations: McpToolAnnotations | undefined): string {
  const hints = (['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const)
    .filter((hint) => annotations?.[hint] !== undefined)
    .map((hint) => (annotations![hint] ? hint : `${hint}=false`));
  return hints.length > 0 ? `annotations: ${hints.join(', ')}` : "annotations: none (MCP's defaults: may be destructive)";
}

function mcpRow(listing: McpToolListing, config: McpServerConfig | undefined): ToolListingRow {
  const override = config?.tools?.[listing.mcpName];
  const approvalReason =
    listing.approvalSource === 'annotations'
      ? annotationReason(listing.annotations)
      : listing.approvalSource === 'server'
        ? `server: approval '${config?.approval ?? '?'}'`
        : `tool override: ${override?.needsApproval !== undefined ? `needsApproval ${String(override.needsApproval)}` : 'approvers (a verified decision)'}`;
  return {
    name: listing.name,
    source: 'mcp',
    server: listing.server,
    mcpName: listing.mcpName,
    ...(listing.description !== undefined ? { description: listing.description } : {}),
    needsApproval: listing.needsApproval,
    approvalSource: listing.approvalSource,
    approvalReason,
    ...(listing.annotations ? { annotations: listing.annotations } : {}),
  };
}

/** What a CLI worker with these MCP servers offers: the example tools first, then each server's, in order. */
export function toolListing(servers: McpServers | undefined, configs: McpServerConfig[] = []): ToolListingRow[] {
  const byName = new Map(configs.map((config) => [config.name, config]));
  return [...exampleTools().map(builtInRow), ...(servers?.listings() ?? []).map((listing) => mcpRow(listing, byName.get(listing.server)))];
}

/** The first line of a description, clipped. */
function clip(text: string | undefined, max: number): string {
  const line = (text ?? '').split('\n')[0]!.trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** The listing as a table people read: name, where it comes from, approval and why, what it does. */
export function toolTableLines(rows: ToolListingRow[]): string[] {
  const from = (row: ToolListingRow) => (row.source === 'built-in' ? 'built-in' : `mcp ${row.server}${row.name === `${row.server}__${row.mcpName}` ? '' : ` (${row.mcpName})`}`);
  const approval = (row: ToolListingRow) => `${row.needsApproval === true ? 'yes' : row.needsApproval === false ? 'no' : 'by input'} · ${row.approvalReason}`;
  const table = rows.map((row) => [row.name, from(row), approval(row), clip(row.description, 60)]);
  const header = ['NAME', 'FROM', 'APPROVAL', 'DESCRIPTION'];
  const widths = header.map((title, column) => Math.max(title.length, ...table.map((cells) => cells[column]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...table.map(line)];
}

const TOOLS_USAGE = `usage: durable-claude tools ${MCP_USAGE} [--json]
The tools a worker (durable-claude dev or worker) offers with the same flags: the example tools and each MCP
server's, with whether a call waits for approval and why. Starts the MCP servers to list them, then stops them.
${MCP_HELP}`;

const tools: Command = {
  usage: TOOLS_USAGE,
  options: { ...MCP_OPTIONS, json: { type: 'boolean' } },
  async run(positionals, values) {
    if (positionals.length > 0) throw CliError.usage(`tools takes no arguments (got '${positionals.join(' ')}'): give MCP servers with --mcp "COMMAND ARGS…" or --mcp-url URL`);
    const configs = mcpServerConfigs(values);
    const servers = await connectCliMcpServers(configs);
    let rows: ToolListingRow[];
    try {
      rows = toolListing(servers, configs);
    } finally {
      await servers?.close();
    }
    if (values.json) {
      write(JSON.stringify(rows, null, 2));
      return ExitCode.ok;
    }
    for (const line of toolTableLines(rows)) write(line);
    const builtIn = rows.filter((row) => row.source === 'built-in').length;
    const summary = servers ? mcpServerLines(configs, servers).map((line) => `  ${line}`) : [];
    write();
    write(`${builtIn} built-in tool${builtIn === 1 ? '' : 's'}${configs.length > 0 ? `, ${rows.length - builtIn} from ${configs.length} MCP server${configs.length === 1 ? '' : 's'}:` : ' (add MCP servers with --mcp or --mcp-url)'}`);
    for (const line of summary) write(line);
    return ExitCode.ok;
  },
};

export const toolsCommands: Record<string, Command> = { tools };
