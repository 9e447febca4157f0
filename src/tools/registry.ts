import type { ToolDescription } from '../activities/types';
import type { AgentTool, Duration } from './define-tool';
import { parseDurationMs } from '../workflows/duration';

export interface ToolRegistryOptions {
  /** Tool results above this many bytes are cut, with a note to the model. Default 256 KiB (Temporal's payload limit is 2 MB). */
  maxResultBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_ATTEMPTS = 3;
const DEFAULT_RETRY_INTERVAL_MS = 500;
export const DEFAULT_MAX_RESULT_BYTES = 256 * 1024;

/** Durations were checked by defineTool, so this only converts. */
function ms(value: Duration | undefined): number | undefined {
  return value === undefined ? undefined : parseDurationMs(value);
}

/** The worker's tools by name. Workflows see only what describe() gives: names, schemas and options. */
export class ToolRegistry {
  readonly #tools = new Map<string, AgentTool>();
  readonly maxResultBytes: number;

  constructor(tools: Iterable<AgentTool>, options: ToolRegistryOptions = {}) {
    for (const tool of tools) {
      if (this.#tools.has(tool.name)) throw new TypeError(`Two tools are named ${tool.name}`);
      this.#tools.set(tool.name, tool);
    }
    this.maxResultBytes = options.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES;
    if (!(Number.isInteger(this.maxResultBytes) && this.maxResultBytes >= 1024 && this.maxResultBytes <= 1_500_000)) {
      throw new TypeError('maxResultBytes must be a whole number from 1024 to 1500000 (Temporal payloads are limited to 2 MB)');
    }
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
      approval: typeof rule === 'function' ? 'conditional' : rule === true ? 'always' : 'never',
      ...(approvalTimeoutMs !== undefined ? { approvalTimeoutMs } : {}),
      startToCloseTimeoutMs: ms(settings.timeout) ?? DEFAULT_TIMEOUT_MS,
      maximumAttempts: settings.retry?.maximumAttempts ?? DEFAULT_ATTEMPTS,
      initialRetryIntervalMs: ms(settings.retry?.initialInterval) ?? DEFAULT_RETRY_INTERVAL_MS,
      ...(heartbeatTimeoutMs !== undefined ? { heartbeatTimeoutMs } : {}),
      ...(settings.streamInput ? { eagerInputStreaming: true } : {}),
      ...(settings.cacheBreakpoint ? { cacheTtl: settings.cacheBreakpoint === '1h' ? ('1h' as const) : ('5m' as const) } : {}),
    };
  }
}
