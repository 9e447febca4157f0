// Structured logs: one JSON object per line, with the attributes Temporal and our interceptors attach (workflowId,
// runId, turn, toolUseId, trace ids), for a Runtime's logger.
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
import { DefaultLogger, type ActivityInterceptorsFactory, type LogEntry } from '@temporalio/worker';

/** What an activity's input says about where in the conversation it runs, for its log lines. */
export function activityLogAttributes(input: unknown): Record<string, unknown> {
  if (!input || typeof input !== 'object') return {};
  const fields = input as { turn?: unknown; toolUseId?: unknown; toolName?: unknown };
  return {
    ...(typeof fields.turn === 'number' ? { turn: fields.turn } : {}),
    ...(typeof fields.toolUseId === 'string' ? { toolUseId: fields.toolUseId } : {}),
    ...(typeof fields.toolName === 'string' ? { toolName: fields.toolName } : {}),
  };
}

export interface JsonLoggerOptions {
  /** Lowest level written. Default INFO. */
  level?: LogLevel;
  /** Where each line goes. Default stderr. */
  write?: (line: string) => void;
}

/** A replacer for one line: bigints as strings, errors by their fields, and an object met again (a cycle) named, not followed. */
function jsonSafe(): (key: string, value: unknown) => unknown {
  const seen = new WeakSet<object>();
  return (_key, value) => {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
    if (value !== null && typeof value === 'object') {
      if (seen.has(value)) return '[Circular]';
      seen.add(value);
    }
    return value;
  };
}

/** A Runtime logger (`Runtime.install({ logger: jsonLogger() })`) that writes JSON lines. */
export function jsonLogger(options: JsonLoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  return new DefaultLogger(options.level ?? 'INFO', (entry: LogEntry) => {
    const meta: LogMetadata = entry.meta ?? {};
    const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
    write(JSON.stringify({ time, level: entry.level, message: entry.message, ...meta }, jsonSafe()));
  });
}

/**
 * Activity log lines name the conversation, run, turn and tool_use id (as workflow lines do), for a worker without
 * telemetry; createTelemetry's activity interceptors add the same beside their spans.
 */
export const logAttributesActivityInterceptors: ActivityInterceptorsFactory = (ctx) => {
  let attributes: Record<string, unknown> = {};
  return {
    inbound: {
      execute: (input, next) => {
        const execution = ctx.info.workflowExecution;
        attributes = { ...(execution ? { conversationId: execution.workflowId, runId: execution.runId } : {}), ...activityLogAttributes(input.args[0]) };
        return next(input);
      },
    },
    outbound: {
      getLogAttributes: (input, next) => next({ ...input, ...attributes }),
    },
  };
};
