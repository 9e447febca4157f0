// MCP servers as worker configuration. Worker-side only: nothing here reaches workflow input or history except the
// tools' names, descriptions, schemas and approval rules (through the tool catalog a conversation records at start).
import type { Duration, ToolSettings } from '../tools/define-tool';

/**
 * A header's value: a literal, or read from the worker's environment when the connection opens (so a token lives in
 * the worker's environment only, never in code, workflow input or history). `prefix` goes before it, e.g. 'Bearer '.
 */
export type McpHeaderValue = string | { env: string; prefix?: string };

/**
 * Per-tool settings from the worker, keyed by the tool's MCP name. They win over the server's annotations. The rest
 * mean what they mean on defineTool (`heartbeatTimeout`: for a tool whose server reports progress, a call that stops
 * reporting is timed out and retried; without it the worker heartbeats for the call).
 */
export interface McpToolOverride
  extends Pick<ToolSettings<never>, 'approvalTimeout' | 'approvers' | 'requiredApprovals' | 'timeout' | 'retry' | 'heartbeatTimeout'> {
  /** true: a person approves every call; false: none. The authority: annotations are only the server's hints. */
  needsApproval?: boolean;
  /** Leave the tool out: conversations cannot use it. */
  disabled?: boolean;
}

interface McpServerBase {
  /**
   * The namespace of the server's tools: `files` makes the server's `read_file` the tool `files__read_file`.
   * Letters, digits, '-' and single '_' (no '__', none last), at most 64 characters.
   */
  name: string;
  /**
   * The approval default for the server's tools: 'annotations' (default) follows each tool's MCP annotations,
   * 'always' gates every call, 'never' none. A tool's own override wins.
   */
  approval?: 'annotations' | 'always' | 'never';
  /** Per-tool overrides, by the tool's MCP name (not the namespaced one). */
  tools?: Record<string, McpToolOverride>;
  /** Default start-to-close timeout of a call (default '60s'). */
  callTimeout?: Duration;
  /** Default retry policy of a call: transport failures are retried on a new connection. */
  retry?: { maximumAttempts?: number; initialInterval?: Duration };
  /** Close the connection after this long without a call (default '5m'); the next call opens a new one. */
  idleTimeout?: Duration;
  /** How long opening a connection (and the MCP handshake) may take (default '30s'). */
  connectTimeout?: Duration;
}

/** A server the worker starts as a child process and talks to over stdin/stdout. */
export interface McpStdioServerConfig extends McpServerBase {
  command: string;
  args?: string[];
  /** Added to a minimal default environment (PATH, HOME…), as the MCP SDK does; the worker's secrets are not passed. */
  env?: Record<string, string>;
  cwd?: string;
}

/** A server reached over Streamable HTTP. */
export interface McpHttpServerConfig extends McpServerBase {
  url: string;
  headers?: Record<string, McpHeaderValue>;
}

export type McpServerConfig = McpStdioServerConfig | McpHttpServerConfig;

/** Where a tool's approval default came from. */
export type McpApprovalSource = 'annotations' | 'server' | 'tool';

/** One tool as the worker offers it: for `durable-claude tools` and for people deciding overrides. */
export interface McpToolListing {
  server: string;
  /** The tool's name on the server. */
  mcpName: string;
  /** The name conversations and the model use: `<server>__<tool>`. */
  name: string;
  description?: string;
  needsApproval: boolean;
  approvalSource: McpApprovalSource;
  annotations?: McpToolAnnotations;
}

/** MCP's tool annotations: hints from the server, never guarantees. */
export interface McpToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}
