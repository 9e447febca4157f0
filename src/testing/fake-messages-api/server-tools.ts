// Server tools and Anthropic-defined tools in the fake: the rules on their definitions (betas, input_examples), the
// result blocks the API writes after a server tool call, the pause after a number of server tool calls
// (`pause_turn`), and the code-execution container a conversation must keep naming.
import { createHash, randomBytes } from 'node:crypto';
import type { BetaContentBlock, BetaMessageParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { isRecord } from '../../workflows/json';
import { validateJsonSchema, type JsonSchema } from '../../workflows/json-schema';

export const ADVANCED_TOOL_USE_BETA = 'advanced-tool-use-2025-11-20';
export const CODE_EXECUTION_BETA = 'code-execution-2025-08-25';
export const WEB_FETCH_BETA = 'web-fetch-2025-09-10';

/** Tool versions still in beta, and the `anthropic-beta` value each needs. */
const TOOL_TYPE_BETAS: Record<string, string> = {
  code_execution_20250825: CODE_EXECUTION_BETA,
  code_execution_20250522: 'code-execution-2025-05-22',
  web_fetch_20250910: WEB_FETCH_BETA,
  tool_search_tool_regex_20251119: ADVANCED_TOOL_USE_BETA,
  tool_search_tool_bm25_20251119: ADVANCED_TOOL_USE_BETA,
};

const SERVER_TOOL_TYPE = /^(web_search|web_fetch|code_execution|tool_search_tool_regex|tool_search_tool_bm25)_\d{8}$/;
/** Tools Anthropic defines and the client runs (declared by type and name, no schema). */
const CLIENT_TOOL_TYPE = /^(bash|text_editor|computer|memory)_\d{8}$/;
/** Other versioned tool types the SDK knows (and later ones): accepted without further checks. */
const VERSIONED_TYPE = /^[a-z][a-z_]*_\d{8}$/;
/** The names the API takes for each family (the SDK types them as literals). */
const FIXED_CLIENT_TOOL_NAMES: Record<string, string> = {
  bash: 'bash',
  computer: 'computer',
  memory: 'memory',
  web_search: 'web_search',
  web_fetch: 'web_fetch',
  code_execution: 'code_execution',
  tool_search_tool_regex: 'tool_search_tool_regex',
  tool_search_tool_bm25: 'tool_search_tool_bm25',
};

/** Result blocks of code execution: a conversation holding one must send its container back. */
export const CODE_EXECUTION_RESULT_TYPES = new Set(['code_execution_tool_result', 'bash_code_execution_tool_result', 'text_editor_code_execution_tool_result']);

type Tool = Record<string, unknown>;

function familyOf(type: unknown): string | undefined {
  if (typeof type !== 'string') return undefined;
  return SERVER_TOOL_TYPE.exec(type)?.[1] ?? CLIENT_TOOL_TYPE.exec(type)?.[1];
}

/** The first rule the request's tool definitions break, or undefined. */
export function toolsRequestError(tools: unknown, betas: readonly string[]): string | undefined {
  if (tools === undefined || tools === null) return undefined;
  if (!Array.isArray(tools)) return 'tools: Input should be a valid list';
  const names = new Set<string>();
  for (const [i, tool] of (tools as unknown[]).entries()) {
    const where = `tools.${i}`;
    if (!isRecord(tool)) return `${where}: Input should be a valid dictionary or object`;
    const { type } = tool;
    if (type === undefined || type === null || type === 'custom') {
      if (typeof tool.name !== 'string' || tool.name === '') return `${where}.custom.name: Field required`;
      if (!isRecord(tool.input_schema)) return `${where}.custom.input_schema: Field required`;
      const examplesError = inputExamplesError(tool, `${where}.custom`, betas);
      if (examplesError) return examplesError;
    } else if (typeof type === 'string' && (SERVER_TOOL_TYPE.test(type) || CLIENT_TOOL_TYPE.test(type))) {
      if (typeof tool.name !== 'string' || tool.name === '') return `${where}.${type}.name: Field required`;
      const fixed = FIXED_CLIENT_TOOL_NAMES[familyOf(type) ?? ''];
      if (fixed !== undefined && tool.name !== fixed) return `${where}.${type}.name: Input should be '${fixed}'`;
      const beta = TOOL_TYPE_BETAS[type];
      if (beta !== undefined && !betas.includes(beta)) return `${where}.type: '${type}' requires the anthropic-beta header '${beta}'`;
      if (tool.input_examples !== undefined) return `${where}.${type}.input_examples: Extra inputs are not permitted (input_examples are for user-defined tools only)`;
    } else if (type === 'mcp_toolset' || (typeof type === 'string' && VERSIONED_TYPE.test(type))) {
      // Known to the SDK, not modelled here.
    } else {
      return `${where}: Input tag '${String(type)}' found using 'type' does not match any of the expected tags`;
    }
    if (typeof tool.name === 'string') {
      if (names.has(tool.name)) return `tools: Tool names must be unique (${tool.name} is defined twice)`;
      names.add(tool.name);
    }
  }
  return undefined;
}

function inputExamplesError(tool: Tool, where: string, betas: readonly string[]): string | undefined {
  const examples = tool.input_examples;
  if (examples === undefined || examples === null) return undefined;
  if (!betas.includes(ADVANCED_TOOL_USE_BETA)) return `${where}.input_examples: requires the anthropic-beta header '${ADVANCED_TOOL_USE_BETA}'`;
  if (!Array.isArray(examples)) return `${where}.input_examples: Input should be a valid list`;
  for (const [j, example] of (examples as unknown[]).entries()) {
    const problems = validateJsonSchema(example, tool.input_schema as JsonSchema);
    if (problems.length > 0) return `${where}.input_examples.${j}: the example does not match the tool's input_schema: ${problems.join('; ')}`;
  }
  return undefined;
}

/** The declared server tool a `server_tool_use` block of this name calls, or undefined when none is declared. */
export function serverToolFor(name: string, tools: readonly Tool[] | undefined): Tool | undefined {
  const byFamily = (family: string) => (tools ?? []).find((tool) => familyOf(tool.type) === family && SERVER_TOOL_TYPE.test(String(tool.type)));
  switch (name) {
    case 'bash_code_execution':
    case 'text_editor_code_execution':
    case 'code_execution':
      return byFamily('code_execution');
    default:
      return (tools ?? []).find((tool) => tool.name === name && SERVER_TOOL_TYPE.test(String(tool.type))) ?? byFamily(name);
  }
}

function digest(value: unknown): Buffer {
  return createHash('sha256').update(JSON.stringify(value ?? null)).digest();
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48) || 'query';
}

/** What a fake shell prints for a command: `echo`'s argument, else a line naming the command. */
function fakeStdout(command: string): string {
  const echo = /^\s*echo\s+(['"]?)(.*)\1\s*$/s.exec(command);
  if (echo) return `${echo[2]}\n`;
  const print = /^\s*print\((['"])(.*)\1\)\s*$/s.exec(command);
  if (print) return `${print[2]}\n`;
  return `[fake sandbox] ran ${JSON.stringify(command)}\n`;
}

/**
 * The result block the API writes after a server tool call, derived from the call's input alone (so a rerun gets
 * the same results). `now` dates a fetch.
 */
export function serverToolResult(use: { id: string; name: string; input: unknown }, tools: readonly Tool[] | undefined, now: number): BetaContentBlock {
  const input = isRecord(use.input) ? use.input : {};
  const tool_use_id = use.id;
  let block: Record<string, unknown>;
  switch (use.name) {
    case 'web_search': {
      const query = String(input.query ?? '');
      const hash = digest(['web_search', query]);
      block = {
        type: 'web_search_tool_result',
        tool_use_id,
        content: [0, 1, 2].map((k) => ({
          type: 'web_search_result',
          url: `https://example.com/${slug(query)}/${k + 1}`,
          title: `${query} (result ${k + 1})`,
          encrypted_content: digest(['web_search', query, k]).toString('base64'),
          page_age: `${MONTHS[hash[k]! % 12]} ${1 + (hash[k + 3]! % 28)}, 2025`,
        })),
      };
      break;
    }
    case 'web_fetch': {
      const url = String(input.url ?? '');
      block = {
        type: 'web_fetch_tool_result',
        tool_use_id,
        content: {
          type: 'web_fetch_result',
          url,
          retrieved_at: new Date(now).toISOString(),
          content: { type: 'document', source: { type: 'text', media_type: 'text/plain', data: `Fetched content of ${url}` }, title: url, citations: null },
        },
      };
      break;
    }
    case 'bash_code_execution': {
      const command = String(input.command ?? '');
      block = { type: 'bash_code_execution_tool_result', tool_use_id, content: { type: 'bash_code_execution_result', stdout: fakeStdout(command), stderr: '', return_code: 0, content: [] } };
      break;
    }
    case 'text_editor_code_execution': {
      const path = String(input.path ?? '');
      let content: Record<string, unknown>;
      if (input.command === 'create') content = { type: 'text_editor_code_execution_create_result', is_file_update: false };
      else if (input.command === 'str_replace') {
        content = { type: 'text_editor_code_execution_str_replace_result', old_start: 1, old_lines: 1, new_start: 1, new_lines: 1, lines: [`-${String(input.old_str ?? '')}`, `+${String(input.new_str ?? '')}`] };
      } else content = { type: 'text_editor_code_execution_view_result', file_type: 'text', content: `contents of ${path}\n`, num_lines: 1, start_line: 1, total_lines: 1 };
      block = { type: 'text_editor_code_execution_tool_result', tool_use_id, content };
      break;
    }
    case 'code_execution': {
      const code = String(input.code ?? input.command ?? '');
      block = { type: 'code_execution_tool_result', tool_use_id, content: { type: 'code_execution_result', stdout: fakeStdout(code), stderr: '', return_code: 0, content: [] } };
      break;
    }
    default: {
      // Tool search: the deferred tools whose name or description matches the query.
      const query = String(input.query ?? input.pattern ?? '');
      let matches: (text: string) => boolean;
      try {
        const pattern = new RegExp(query, 'i');
        matches = (text) => pattern.test(text);
      } catch {
        matches = (text) => text.toLowerCase().includes(query.toLowerCase());
      }
      const found = (tools ?? []).filter((tool) => tool.defer_loading === true && matches(`${String(tool.name)} ${String(tool.description ?? '')}`)).slice(0, 5);
      block = {
        type: 'tool_search_tool_result',
        tool_use_id,
        content: { type: 'tool_search_tool_search_result', tool_references: found.map((tool) => ({ type: 'tool_reference', tool_name: String(tool.name) })) },
      };
    }
  }
  return block as unknown as BetaContentBlock;
}

/**
 * The error result the API writes instead when a search or fetch goes past its tool's `max_uses` (the count is of
 * the calls in the reply so far, this one included), else undefined.
 */
export function maxUsesExceeded(use: { id: string; name: string }, tools: readonly Tool[] | undefined, callsSoFar: number): BetaContentBlock | undefined {
  if (use.name !== 'web_search' && use.name !== 'web_fetch') return undefined;
  const maxUses = serverToolFor(use.name, tools)?.max_uses;
  if (typeof maxUses !== 'number' || callsSoFar <= maxUses) return undefined;
  return { type: `${use.name}_tool_result`, tool_use_id: use.id, content: { type: `${use.name}_tool_result_error`, error_code: 'max_uses_exceeded' } } as unknown as BetaContentBlock;
}

export function isServerToolResult(block: unknown): boolean {
  return isRecord(block) && typeof block.type === 'string' && block.type.endsWith('_tool_result') && block.type !== 'tool_result';
}

/**
 * A reply's content cut into the replies the API sends: after every `limit` server tool calls (with their results),
 * when more server tool calls follow, the reply pauses (`pause_turn`) and the next part waits for the client to
 * resume. Undefined or 0: one part.
 */
export function splitAtServerToolUses(content: readonly BetaContentBlock[], limit: number | undefined): BetaContentBlock[][] {
  if (!limit || limit < 1) return [[...content]];
  const parts: BetaContentBlock[][] = [];
  let current: BetaContentBlock[] = [];
  let uses = 0;
  for (let i = 0; i < content.length; i++) {
    const block = content[i]!;
    current.push(block);
    if (block.type === 'server_tool_use') uses++;
    const resultFollows = isServerToolResult(content[i + 1]);
    const moreUses = content.slice(i + 1).some((b) => b.type === 'server_tool_use');
    if (uses === limit && !resultFollows && moreUses) {
      parts.push(current);
      current = [];
      uses = 0;
    }
  }
  parts.push(current);
  return parts;
}

export interface FakeContainer {
  id: string;
  expires_at: string;
  skills: null;
}

const CONTAINER_IDLE_MS = 60 * 60_000;

/** The code-execution containers the fake opened, and which server tool call ran in which. */
export class ContainerLedger {
  readonly #containers = new Map<string, FakeContainer>();
  readonly #ofToolUse = new Map<string, string>();

  open(now: number): FakeContainer {
    const container: FakeContainer = { id: `container_${randomBytes(12).toString('hex')}`, expires_at: new Date(now + CONTAINER_IDLE_MS).toISOString(), skills: null };
    this.#containers.set(container.id, container);
    return container;
  }

  get(id: string): FakeContainer | undefined {
    return this.#containers.get(id);
  }

  /** A later use of the container moves its expiry on. */
  touch(id: string, now: number): FakeContainer | undefined {
    const container = this.#containers.get(id);
    if (container) container.expires_at = new Date(now + CONTAINER_IDLE_MS).toISOString();
    return container ? { ...container } : undefined;
  }

  ranIn(toolUseId: string, containerId: string): void {
    this.#ofToolUse.set(toolUseId, containerId);
  }

  /** The container of the last code-execution result the messages hold, when the fake ran it. */
  containerOf(messages: readonly BetaMessageParam[]): string | undefined {
    let found: string | undefined;
    for (const message of messages) {
      if (message.role !== 'assistant' || !Array.isArray(message.content)) continue;
      for (const block of message.content as unknown[]) {
        if (isRecord(block) && CODE_EXECUTION_RESULT_TYPES.has(String(block.type))) found = this.#ofToolUse.get(String(block.tool_use_id)) ?? found;
      }
    }
    return found;
  }

  clear(): void {
    this.#containers.clear();
    this.#ofToolUse.clear();
  }
}

/** The container id a request names: `container: 'id'` or `container: {id}`. */
export function requestedContainerId(container: unknown): string | undefined {
  if (typeof container === 'string') return container;
  if (isRecord(container) && typeof container.id === 'string') return container.id;
  return undefined;
}

export function containerRequiredMessage(id: string): string {
  return `container: the code execution container ${id} used earlier in this conversation must be sent back (container_id is required)`;
}
