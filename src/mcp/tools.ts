// An MCP server's tools as AgentTools: namespaced names, approval from the server's annotations unless the worker
// says otherwise, and each call one MCP tools/call with the tool activity's idempotency key, progress and abort.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ErrorCode, McpError, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { defineTool, ToolError, type AgentTool, type ToolContext } from '../tools/define-tool';
import { TOOL_NAME_PATTERN } from '../workflows/options';
import { parseDurationMs } from '../workflows/duration';
import { toolResultContentOf, textOf } from './content';
import { McpConfigurationError, type McpConnection } from './connection';
import type { McpApprovalSource, McpServerConfig, McpToolAnnotations, McpToolListing } from './types';

/** A server's name: its tools' namespace. No '__', so `<server>__<tool>` splits back unambiguously. */
const SERVER_NAME_PATTERN = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]|_(?!_|$))*$/;
const MAX_SERVER_NAME = 64;
/** A server that pages its tool list without end is cut off here. */
const MAX_TOOL_PAGES = 100;

/** Keys of the request's `_meta` that carry the call's identity, for servers that can use them. */
export const MCP_META_KEYS = {
  idempotencyKey: 'io.durable-claude/idempotency-key',
  toolUseId: 'io.durable-claude/tool-use-id',
  attempt: 'io.durable-claude/attempt',
} as const;

export function checkServerName(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_SERVER_NAME || !SERVER_NAME_PATTERN.test(name)) {
    return `an MCP server's name must be 1-${MAX_SERVER_NAME} letters, digits, '-' or single '_' (not last; it prefixes its tools as <name>__<tool>); got ${JSON.stringify(name)}`;
  }
  return undefined;
}

/** The name conversations and the model use for a server's tool: `<server>__<tool>`, other characters as '_'. */
export function mcpToolName(server: string, tool: string): string {
  return `${server}__${tool.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
}

/**
 * Whether a tool needs a person by its annotations, read with MCP's own defaults (readOnlyHint false,
 * destructiveHint true, openWorldHint true): read-only tools never; destructive ones always; a non-destructive tool
 * that does not say whether it is read-only and reaches the open world, too. Annotations are hints from the server.
 */
export function approvalFromAnnotations(annotations: McpToolAnnotations | undefined): boolean {
  const a = annotations ?? {};
  if (a.readOnlyHint === true) return false;
  if (a.destructiveHint ?? true) return true;
  return a.readOnlyHint === undefined && (a.openWorldHint ?? true);
}

/** The approval a tool gets and why: the worker's per-tool setting, else the server's, else the annotations. */
export function approvalOf(config: McpServerConfig, tool: Pick<Tool, 'name' | 'annotations'>): { needsApproval: boolean; source: McpApprovalSource } {
  const override = config.tools?.[tool.name];
  if (override?.needsApproval !== undefined) return { needsApproval: override.needsApproval, source: 'tool' };
  if (override?.approvers !== undefined) return { needsApproval: true, source: 'tool' };
  if (config.approval === 'always' || config.approval === 'never') return { needsApproval: config.approval === 'always', source: 'server' };
  return { needsApproval: approvalFromAnnotations(tool.annotations), source: 'annotations' };
}

/** Every tool the server lists, following its pages. */
export async function listServerTools(client: Client, description: string): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_TOOL_PAGES; page++) {
    const result = await client.listTools(cursor !== undefined ? { cursor } : undefined);
    tools.push(...result.tools);
    cursor = result.nextCursor;
    if (cursor === undefined || cursor === '') return tools;
  }
  throw new McpConfigurationError(`${description} lists more than ${MAX_TOOL_PAGES} pages of tools`, 'unreachable');
}

export function listingOf(config: McpServerConfig, tool: Tool): McpToolListing {
  const { needsApproval, source } = approvalOf(config, tool);
  return {
    server: config.name,
    mcpName: tool.name,
    name: mcpToolName(config.name, tool.name),
    ...(tool.description !== undefined ? { description: tool.description } : {}),
    needsApproval,
    approvalSource: source,
    ...(tool.annotations ? { annotations: tool.annotations as McpToolAnnotations } : {}),
  };
}

/** Whether an MCP error says the server has no such tool (it was removed since the conversation listed it). */
function namesMissingTool(message: string, mcpName: string): boolean {
  const name = mcpName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`\\btool:?\\s+['"\`]?${name}['"\`]?\\s+(?:not found|is disabled|disabled|does not exist)|\\b(?:unknown|no such) tool:?\\s+['"\`]?${name}\\b`, 'i').test(message);
}

/**
 * Whether a failed call is worth another attempt: the session died (a new one is opened), the request timed out,
 * or something in between failed. A JSON-RPC error the server answered (bad params, an internal error) or a result
 * the client refused (structured content against the output schema) would fail the same way again, after running
 * the tool again: it goes to the model as is_error instead.
 */
function retryable(err: unknown): boolean {
  if (err instanceof McpError) return err.code === ErrorCode.ConnectionClosed || err.code === ErrorCode.RequestTimeout;
  return !(err instanceof Error && err.name === 'ZodError');
}

/** One of a server's tools as a worker tool: the workflow sees its name, schema and approval rule. */
export function mcpAgentTool(connection: McpConnection, tool: Tool): AgentTool {
  const config = connection.config;
  const name = mcpToolName(config.name, tool.name);
  if (!TOOL_NAME_PATTERN.test(name)) {
    throw new McpConfigurationError(`${connection.description}: its tool ${JSON.stringify(tool.name)} would be named ${name}, longer than the API's 128 characters`);
  }
  const override = config.tools?.[tool.name] ?? {};
  const { needsApproval } = approvalOf(config, tool);
  const timeout = override.timeout ?? config.callTimeout;
  const retry = override.retry ?? config.retry;
  const timeoutMs = timeout !== undefined ? parseDurationMs(timeout) : undefined;
  const inputSchema = { ...(tool.inputSchema as Record<string, unknown>), type: 'object' };
  try {
    return defineTool({
      name,
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      inputSchema,
      needsApproval,
      ...(override.approvers !== undefined ? { approvers: override.approvers } : {}),
      ...(override.requiredApprovals !== undefined ? { requiredApprovals: override.requiredApprovals } : {}),
      ...(override.approvalTimeout !== undefined ? { approvalTimeout: override.approvalTimeout } : {}),
      ...(timeout !== undefined ? { timeout } : {}),
      ...(retry !== undefined ? { retry } : {}),
      ...(override.heartbeatTimeout !== undefined ? { heartbeatTimeout: override.heartbeatTimeout } : {}),
      run: (input: unknown, context: ToolContext) => callMcpTool(connection, tool.name, input, context, timeoutMs),
    });
  } catch (err) {
    throw new McpConfigurationError(`${connection.description}, tool ${tool.name}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function callMcpTool(connection: McpConnection, mcpName: string, input: unknown, context: ToolContext, timeoutMs: number | undefined) {
  let result: CallToolResult;
  try {
    result = (await connection.use((client) =>
      client.callTool(
        {
          name: mcpName,
          arguments: input as Record<string, unknown>,
          _meta: {
            [MCP_META_KEYS.idempotencyKey]: context.idempotencyKey,
            [MCP_META_KEYS.toolUseId]: context.toolUseId,
            [MCP_META_KEYS.attempt]: context.attempt,
          },
        },
        undefined,
        {
          // Aborting sends MCP's notifications/cancelled for this request.
          signal: context.signal,
          onprogress: (progress) => context.progress(progress.progress, progress.total, progress.message),
          // The activity's start-to-close timeout bounds the call; the SDK's own 60 s default must not cut it first.
          timeout: (timeoutMs ?? 60_000) + 5_000,
          resetTimeoutOnProgress: true,
        },
      ),
    )) as CallToolResult;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // A call that timed out or was given up on may have hit a hung server: replace the session if it is.
    if (context.signal.aborted || (err instanceof McpError && err.code === ErrorCode.RequestTimeout)) connection.probe();
    if (namesMissingTool(message, mcpName)) {
      throw new ToolError(`${connection.description} no longer offers ${mcpName}: ${message}`);
    }
    if (!context.signal.aborted && !retryable(err)) throw new ToolError(`${connection.description} answered ${mcpName} with an error: ${message}`);
    throw err;
  }
  const content = toolResultContentOf(result);
  if (result.isError === true) {
    const text = textOf(content);
    // SDK servers answer a call to a tool they dropped with an error result rather than a protocol error.
    if (namesMissingTool(text, mcpName)) throw new ToolError(`${connection.description} no longer offers ${mcpName}: ${text}`);
    throw new ToolError(text, content);
  }
  return content;
}
