import { describeApproverRule } from '../security/credentials';
import type { ApproverRule } from '../security/types';
import type { ToolDescription } from '../activities/types';
import type { AgentTool, Duration } from './define-tool';
import { parseDurationMs } from '../workflows/duration';

export interface ToolRegistryOptions {
  /**
   * Tool results above this many bytes are cut, with a note to the model. Default 256 KiB, at most 1,500,000
   * (Temporal's payload limit is 2 MB); with external storage, default 8 MiB and at most 24 MiB.
   */
  maxResultBytes?: number;
  /**
   * The worker has external storage (createAgentWorker({ externalStorage }) sets this): large results go to the store
   * and history holds a reference, so the limit is the Messages API's request size (32 MB) rather than Temporal's.
   */
  externalStorage?: boolean;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_ATTEMPTS = 3;
const DEFAULT_RETRY_INTERVAL_MS = 500;
export const DEFAULT_MAX_RESULT_BYTES = 256 * 1024;
/** Without external storage: a result is one Temporal payload (2 MB at most), with room for the rest of it. */
export const MAX_INLINE_RESULT_BYTES = 1_500_000;
/** With external storage: results go whole to the model up to this size by default. */
export const DEFAULT_MAX_STORED_RESULT_BYTES = 8 * 1024 * 1024;
/** With external storage: the Messages API takes requests of up to 32 MB, and the request holds more than one result. */
export const MAX_STORED_RESULT_BYTES = 24 * 1024 * 1024;

/** Durations were checked by defineTool, so this only converts. */
function ms(value: Duration | undefined): number | undefined {
  return value === undefined ? undefined : parseDurationMs(value);
}

/** A rule for people (state, show): what it asks, never the predicate's code. */
function describeApprovers(rule: ApproverRule, requiredApprovals: number): string {
  const who = describeApproverRule(rule);
  return requiredApprovals > 1 ? `${who}; ${requiredApprovals} distinct approvers` : who;
}

/** The worker's tools by name. Workflows see only what describe() gives: names, schemas and options. */
export class ToolRegistry {
  readonly #tools = new Map<string, AgentTool>();
  /** Tools that come and go together (an MCP server's): the group's name, and the names it holds now. */
  readonly #groups = new Map<string, Set<string>>();
  readonly maxResultBytes: number;

  constructor(tools: Iterable<AgentTool>, options: ToolRegistryOptions = {}) {
    for (const tool of tools) {
      if (this.#tools.has(tool.name)) throw new TypeError(`Two tools are named ${tool.name}`);
      this.#tools.set(tool.name, tool);
    }
    const stored = options.externalStorage === true;
    this.maxResultBytes = options.maxResultBytes ?? (stored ? DEFAULT_MAX_STORED_RESULT_BYTES : DEFAULT_MAX_RESULT_BYTES);
    const ceiling = stored ? MAX_STORED_RESULT_BYTES : MAX_INLINE_RESULT_BYTES;
    if (!(Number.isInteger(this.maxResultBytes) && this.maxResultBytes >= 1024 && this.maxResultBytes <= ceiling)) {
      throw new TypeError(
        stored
          ? `maxResultBytes must be a whole number from 1024 to ${MAX_STORED_RESULT_BYTES} (with external storage the limit is the Messages API's 32 MB request)`
          : `maxResultBytes must be a whole number from 1024 to ${MAX_INLINE_RESULT_BYTES} (Temporal payloads are limited to 2 MB; with external storage on the worker, createAgentWorker({ externalStorage }), up to ${MAX_STORED_RESULT_BYTES})`,
      );
    }
  }

  /**
   * Sets a group's tools (an MCP server's, listed again after it changed), replacing what the group held. A name
   * held by a tool outside the group is refused.
   */
  setGroup(group: string, tools: readonly AgentTool[]): void {
    const held = this.#groups.get(group) ?? new Set<string>();
    const names = new Set<string>();
    for (const tool of tools) {
      if (names.has(tool.name)) throw new TypeError(`Two tools are named ${tool.name}`);
      if (this.#tools.has(tool.name) && !held.has(tool.name)) throw new TypeError(`The tool ${tool.name} (of '${group}') has the name of another tool on this worker`);
      names.add(tool.name);
    }
    for (const name of held) this.#tools.delete(name);
    for (const tool of tools) this.#tools.set(tool.name, tool);
    this.#groups.set(group, names);
  }

  /**
   * Names as a conversation gives them, with every `<group>__*` replaced by the names that group's tools have now
   * (a conversation records the expansion at its start). An unmatched prefix is left as it is, to be refused.
   */
  expand(names: readonly string[]): string[] {
    const out: string[] = [];
    for (const name of names) {
      // Only a group's own tools: a tool of yours named like `files__x` is not one of server files' tools.
      const group = name.endsWith('__*') ? this.#groups.get(name.slice(0, -3)) : undefined;
      if (group !== undefined && group.size > 0) out.push(...[...group].filter((candidate) => !out.includes(candidate)));
      else if (!out.includes(name)) out.push(name);
    }
    return out;
  }

  get(name: string): AgentTool | undefined {
    return this.#tools.get(name);
  }

  names(): string[] {
    return [...this.#tools.keys()];
  }

  describe(name: string): ToolDescription | undefined {
    const tool = this.#tools.get(name);
    if (!tool) return undefined;
    const { settings } = tool;
    const rule = settings.needsApproval;
    const approvalTimeoutMs = ms(settings.approvalTimeout);
    const heartbeatTimeoutMs = ms(settings.heartbeatTimeout);
    return {
      name: tool.name,
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      inputSchema: tool.inputSchema,
      ...(tool.strict !== undefined ? { strict: tool.strict } : {}),
      approval: typeof rule === 'function' ? 'conditional' : rule === true || settings.approvers !== undefined ? 'always' : 'never',
      ...(settings.approvers !== undefined
        ? { approvalPolicy: { description: describeApprovers(settings.approvers, settings.requiredApprovals ?? 1), requiredApprovals: settings.requiredApprovals ?? 1 } }
        : {}),
      ...(approvalTimeoutMs !== undefined ? { approvalTimeoutMs } : {}),
      startToCloseTimeoutMs: ms(settings.timeout) ?? DEFAULT_TIMEOUT_MS,
      maximumAttempts: settings.retry?.maximumAttempts ?? DEFAULT_ATTEMPTS,
      initialRetryIntervalMs: ms(settings.retry?.initialInterval) ?? DEFAULT_RETRY_INTERVAL_MS,
      ...(heartbeatTimeoutMs !== undefined ? { heartbeatTimeoutMs } : {}),
      ...(settings.streamInput ? { eagerInputStreaming: true } : {}),
      ...(settings.cacheBreakpoint ? { cacheTtl: settings.cacheBreakpoint === '1h' ? ('1h' as const) : ('5m' as const) } : {}),
      ...(tool.anthropicType !== undefined ? { anthropicType: tool.anthropicType } : {}),
      ...(settings.inputExamples !== undefined ? { inputExamples: settings.inputExamples } : {}),
      ...(tool.session ? { session: true } : {}),
    };
  }
}
