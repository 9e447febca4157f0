// MCP servers for a worker: connect them once at start, list their tools, and keep the lists current while the
// worker runs. A conversation records the tools it uses at its own start (the tool catalog), so a list that changes
// later changes only what new conversations get; replay never lists again.
import type { AgentTool } from '../tools/define-tool';
import { McpConfigurationError, McpConnection, describeServer, isStdioServer } from './connection';
import { checkServerName, listServerTools, listingOf, mcpAgentTool } from './tools';
import type { McpServerConfig, McpToolListing } from './types';

export { McpConfigurationError } from './connection';
export { approvalFromAnnotations, mcpToolName, MCP_META_KEYS } from './tools';
export { toolResultContentOf } from './content';
export type * from './types';

export type ToolsChangedListener = (server: string, why: 'notified' | 'reconnected') => void;

/** Connected MCP servers and their current tools. */
export interface McpServers {
  /** The servers' names, in the order given. */
  readonly names: string[];
  /** Every server's tools, namespaced `<server>__<tool>`. */
  tools(): AgentTool[];
  /** One server's tools. */
  toolsOf(server: string): AgentTool[];
  /** What each tool is and whether it needs approval, and why (for `durable-claude tools`). */
  listings(): McpToolListing[];
  /** Called after a server's tool list was listed again (it said it changed, or a new session began). */
  onToolsChanged(listener: ToolsChangedListener): () => void;
  close(): Promise<void>;
}

interface ServerState {
  connection: McpConnection;
  tools: AgentTool[];
  listings: McpToolListing[];
  /** Refreshes run one at a time; a request during one runs once more after it. */
  refreshing?: Promise<void>;
  again?: 'notified';
}

function checkConfig(config: McpServerConfig, i: number): string[] {
  const where = `mcpServers[${i}]`;
  if (typeof config !== 'object' || config === null) return [`${where} must be an object`];
  const problems: string[] = [];
  const nameProblem = checkServerName(config.name);
  if (nameProblem) problems.push(`${where}: ${nameProblem}`);
  const stdio = 'command' in config;
  const http = 'url' in config;
  if (stdio === http) {
    problems.push(`${where} needs either command (a stdio server) or url (a Streamable HTTP server)`);
    return problems;
  }
  if (isStdioServer(config)) {
    if (typeof config.command !== 'string' || config.command.trim() === '') problems.push(`${where}.command must be a non-empty string`);
    if (config.args !== undefined && !(Array.isArray(config.args) && config.args.every((a) => typeof a === 'string'))) problems.push(`${where}.args must be a list of strings`);
    if (config.env !== undefined && !(typeof config.env === 'object' && config.env !== null && Object.values(config.env).every((v) => typeof v === 'string'))) {
      problems.push(`${where}.env must map names to strings`);
    }
  } else {
    let url: URL | undefined;
    try {
      url = new URL(config.url);
    } catch {
      problems.push(`${where}.url must be an http(s) URL; got ${JSON.stringify(config.url)}`);
    }
    if (url && url.protocol !== 'http:' && url.protocol !== 'https:') problems.push(`${where}.url must be http: or https:, got ${url.protocol}`);
    for (const [header, value] of Object.entries(config.headers ?? {})) {
      const ok = typeof value === 'string' || (typeof value === 'object' && value !== null && typeof value.env === 'string' && value.env !== '' && (value.prefix === undefined || typeof value.prefix === 'string'));
      if (!ok) problems.push(`${where}.headers.${header} must be a string or { env: 'VARIABLE', prefix?: 'Bearer ' }`);
    }
  }
  if (config.approval !== undefined && !['annotations', 'always', 'never'].includes(config.approval)) {
    problems.push(`${where}.approval must be 'annotations', 'always' or 'never'`);
  }
  return problems;
}

/** Tools of the servers, checked for clashes between servers (a clash is refused, never resolved silently). */
function checkClashes(states: Map<string, ServerState>): void {
  const owner = new Map<string, string>();
  for (const [server, state] of states) {
    for (const tool of state.tools) {
      const other = owner.get(tool.name);
      if (other !== undefined) throw new McpConfigurationError(`Two MCP tools are named ${tool.name} (servers '${other}' and '${server}'): rename a server`);
      owner.set(tool.name, server);
    }
  }
}

async function listTools(connection: McpConnection): Promise<{ tools: AgentTool[]; listings: McpToolListing[] }> {
  const listed = await connection.use((client) => listServerTools(client, connection.description));
  const config = connection.config;
  const unknownOverrides = Object.keys(config.tools ?? {}).filter((name) => !listed.some((tool) => tool.name === name));
  if (unknownOverrides.length > 0) {
    // An override for a tool the server does not offer is most likely a typo: said, not fatal (it may come back).
    console.warn(`${connection.description}: settings for tools it does not list: ${unknownOverrides.join(', ')}`);
  }
  const offered = listed.filter((tool) => config.tools?.[tool.name]?.disabled !== true);
  const tools = offered.map((tool) => mcpAgentTool(connection, tool));
  const seen = new Map<string, string>();
  for (const [i, tool] of tools.entries()) {
    const before = seen.get(tool.name);
    if (before !== undefined) throw new McpConfigurationError(`${connection.description}: tools ${before} and ${offered[i]!.name} are both named ${tool.name} once namespaced`);
    seen.set(tool.name, offered[i]!.name);
  }
  return { tools, listings: offered.map((tool) => listingOf(config, tool)) };
}

/**
 * Connects every server (all at once), lists their tools, and returns them. Throws McpConfigurationError, naming
 * every server that failed, when a configuration is wrong, a server cannot be started or reached, or two tools
 * would get the same name; nothing stays open then.
 */
export async function connectMcpServers(configs: readonly McpServerConfig[]): Promise<McpServers> {
  if (!Array.isArray(configs)) throw new McpConfigurationError('mcpServers must be a list of server configurations');
  const problems = configs.flatMap((config, i) => checkConfig(config, i));
  const names = configs.map((config) => config.name);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) problems.push(`two MCP servers are named '${twice}' (the name is their tools' namespace)`);
  if (problems.length > 0) throw new McpConfigurationError(`Invalid MCP server configuration: ${problems.join('; ')}`);

  const listeners = new Set<ToolsChangedListener>();
  const states = new Map<string, ServerState>();
  // Changes announced while the servers start are listed once start is over (the listing then is the first one).
  const pending = new Map<string, 'notified' | 'reconnected'>();
  let started = false;
  let closed = false;

  const refresh = (server: string, why: 'notified' | 'reconnected'): void => {
    const state = states.get(server);
    if (closed) return;
    if (!started || !state) {
      pending.set(server, why);
      return;
    }
    if (state.refreshing) {
      // A new session the refresh itself opened is what it lists anyway: only a notification calls for another.
      if (why === 'notified') state.again = why;
      return;
    }
    state.refreshing = (async () => {
      try {
        const next = await listTools(state.connection);
        const trial = new Map(states);
        trial.set(server, { ...state, ...next });
        checkClashes(trial);
        state.tools = next.tools;
        state.listings = next.listings;
        for (const listener of listeners) listener(server, why);
      } catch (err) {
        // Closing while a list was under way is no news.
        if (closed) return;
        // The tools stay as they were; calls to a tool that is gone get an is_error result from the server.
        console.warn(`${state.connection.description}: could not list its tools again (${why}): ${err instanceof Error ? err.message : String(err)}`);
      }
    })().finally(() => {
      state.refreshing = undefined;
      const again = state.again;
      state.again = undefined;
      if (again) refresh(server, again);
    });
  };

  const connections = configs.map((config) => new McpConnection(config, { onToolsChanged: (why) => refresh(config.name, why) }));
  const results = await Promise.allSettled(connections.map((connection) => listTools(connection)));
  const failures = results.flatMap((result, i) => {
    if (result.status === 'fulfilled') return [];
    const message = result.reason instanceof Error ? result.reason.message : String(result.reason);
    const description = describeServer(configs[i]!);
    return [{ message: message.startsWith(description) ? message : `${description}: ${message}`, kind: result.reason instanceof McpConfigurationError ? result.reason.kind : 'unreachable' }];
  });
  const closeAll = async () => {
    closed = true;
    await Promise.all(connections.map((connection) => connection.close()));
  };
  if (failures.length > 0) {
    await closeAll();
    const text = failures.length === 1 ? failures[0]!.message : `${failures.length} MCP servers failed to start:\n${failures.map((f) => f.message).join('\n')}`;
    // A configuration mistake anywhere is the thing to fix first.
    throw new McpConfigurationError(text, failures.some((f) => f.kind === 'configuration') ? 'configuration' : 'unreachable');
  }
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') states.set(configs[i]!.name, { connection: connections[i]!, ...result.value });
  });
  try {
    checkClashes(states);
  } catch (err) {
    await closeAll();
    throw err;
  }
  started = true;
  for (const [server, why] of pending) refresh(server, why);
  pending.clear();

  return {
    names: [...names],
    tools: () => [...states.values()].flatMap((state) => state.tools),
    toolsOf: (server) => [...(states.get(server)?.tools ?? [])],
    listings: () => [...states.values()].flatMap((state) => state.listings),
    onToolsChanged(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: closeAll,
  };
}
