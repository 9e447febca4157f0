// A tool is data plus code: the JSON schema travels to the workflow and the model; parse and run stay in the worker.
import { z } from 'zod';
import type { ApprovalRecord, ToolResultContent } from '../activities/types';
import { validateJsonSchema } from '../workflows/json-schema';
import { TOOL_NAME_PATTERN } from '../workflows/options';
import { DURATION_HINT, parseDurationMs } from '../workflows/duration';
import type { ApproverRule } from '../security/types';

export type Duration = string | number;

/** What a tool's run function gets besides its input. */
export interface ToolContext {
  /** `<workflowId>:<toolUseId>`: the same on every retry of this call, so a side-effecting tool can drop duplicates. */
  idempotencyKey: string;
  toolUseId: string;
  workflowId: string;
  turn: number;
  /** Temporal's attempt number of this call, from 1. */
  attempt: number;
  /** Aborted when the conversation is cancelled or the call times out. */
  signal: AbortSignal;
  /** Tell Temporal the tool is alive (needed for tools with a heartbeat timeout). */
  heartbeat(details?: unknown): void;
  /**
   * Report progress (MCP tools forward the server's progress notifications here): a heartbeat, keeping any
   * checkpoint, and a `tool_progress` live event. `total` when known; `message` for people watching.
   */
  progress(progress: number, total?: number, message?: string): void;
  /** The approval this call ran under, for gated tools. */
  approval?: ApprovalRecord;
  /** Session tools only (defined with `session: true`): the state the conversation's previous call saved. */
  session?: ToolSession;
}

/**
 * A session tool's state, kept by the workflow (recorded in history with each result), so it survives the worker:
 * the next call, on any worker, starts from what the last one saved. Keep it small and JSON: it is history.
 */
export interface ToolSession<State = unknown> {
  /** What the previous call saved; undefined on the conversation's first call. */
  readonly state: State | undefined;
  /** The state the next call starts from (the last save wins; no save: unchanged). */
  save(state: State): void;
}

/** What a tool may return: text, content blocks, or any JSON value (sent to the model as JSON text). */
export type ToolOutput = string | ToolResultContent | Record<string, unknown> | unknown[] | number | boolean | null | undefined;

export interface ToolSettings<Input> {
  name: string;
  description?: string;
  /** Passed to the API: the model's tool_use input is guaranteed to match the schema. */
  strict?: boolean;
  /** Gate the tool behind a person's approval: always, or when the function says so for this input. */
  needsApproval?: boolean | ((input: Input) => boolean | Promise<boolean>);
  /** How long a call waits for approval before it expires; overrides the conversation's setting. */
  approvalTimeout?: Duration;
  /**
   * Who may decide this tool's calls, from their verified credentials (roles, groups, emails, a predicate). With a
   * rule, every decision needs a signed token that the worker verifies (createAgentWorker({ decisionVerifier })):
   * an unsigned or invalid decision is refused, and the conversation's requester may not approve its own call.
   * Implies needsApproval (unless needsApproval is a function that says when). Without it, whoever can signal the
   * namespace can decide ("trusted namespace" mode).
   */
  approvers?: ApproverRule;
  /** How many distinct people must approve a call (default 1). Needs `approvers` (use `{}` for any verified person). */
  requiredApprovals?: number;
  /** Start-to-close timeout of one attempt. Default '60s'. */
  timeout?: Duration;
  /** Tool-side retries: short, as production advice goes (default 3 attempts, 500ms backoff start). */
  retry?: { maximumAttempts?: number; initialInterval?: Duration };
  /** Needed for long tools that call ctx.heartbeat(), so a dead worker is noticed. */
  heartbeatTimeout?: Duration;
  /**
   * Fine-grained tool streaming: the API streams this tool's input as it is generated (`eager_input_streaming`),
   * unbuffered and unvalidated, and live output forwards each piece (`tool_input_delta`). The input may arrive cut
   * off or invalid; the tool itself only ever runs with the whole input, validated against its schema.
   */
  streamInput?: boolean;
  /**
   * An explicit prompt-cache breakpoint after this tool's definition (`cache_control`), e.g. on the last tool so the
   * tool list is cached apart from the rest. Seldom needed: every call already has the automatic breakpoint. '1h'
   * for a 1-hour TTL. Counts toward the API's 4 breakpoints per request.
   */
  cacheBreakpoint?: true | '5m' | '1h';
  /**
   * Example inputs, sent as `input_examples` (beta `advanced-tool-use-2025-11-20`, added for you) to show the model
   * how to call a tool with complex input. Each must match the input schema: checked here, so a bad one stops the
   * worker at start.
   */
  inputExamples?: Array<Record<string, unknown>>;
  run(input: Input, context: ToolContext): ToolOutput | Promise<ToolOutput>;
}

export interface ZodToolSettings<Schema extends z.ZodType> extends ToolSettings<z.output<Schema>> {
  input: Schema;
}

export interface JsonSchemaToolSettings<Input = unknown> extends ToolSettings<Input> {
  inputSchema: Record<string, unknown>;
  /** Optional extra parsing after the schema check (e.g. to build a typed value). */
  parse?: (input: unknown) => Input;
}

export type ParseResult = { ok: true; value: unknown } | { ok: false; error: string };

/** A registered tool: what the workflow may see (name, schema, options) and what only the worker runs. */
export interface AgentTool {
  readonly name: string;
  readonly description?: string;
  readonly inputSchema: Record<string, unknown>;
  readonly strict?: boolean;
  /** An Anthropic-defined client tool's versioned type (e.g. 'bash_20250124'); the API gets `{type, name}` only. */
  readonly anthropicType?: string;
  /** Calls run one at a time, each given the state the last one saved (ToolContext.session). */
  readonly session?: boolean;
  readonly settings: ToolSettings<never>;
  parse(input: unknown): ParseResult;
  needsApproval(input: unknown): Promise<boolean>;
  run(input: unknown, context: ToolContext): Promise<ToolOutput>;
}

function checkName(name: string): void {
  if (!TOOL_NAME_PATTERN.test(name)) throw new TypeError(`Tool name ${JSON.stringify(name)} must be 1-128 letters, digits, _ or -`);
}

function checkDuration(value: Duration | undefined, what: string): void {
  if (value !== undefined && parseDurationMs(value) === undefined) throw new TypeError(`${what} must be ${DURATION_HINT}, got ${JSON.stringify(value)}`);
}

function checkSettings(settings: ToolSettings<never>): void {
  checkName(settings.name);
  if (settings.streamInput !== undefined && typeof settings.streamInput !== 'boolean') throw new TypeError(`${settings.name}.streamInput must be true or false`);
  const breakpoint = settings.cacheBreakpoint;
  if (breakpoint !== undefined && breakpoint !== true && breakpoint !== '5m' && breakpoint !== '1h') {
    throw new TypeError(`${settings.name}.cacheBreakpoint must be true, '5m' or '1h', got ${JSON.stringify(breakpoint)}`);
  }
  if (typeof settings.run !== 'function') throw new TypeError(`Tool ${settings.name} needs a run function`);
  checkDuration(settings.timeout, `${settings.name}.timeout`);
  checkDuration(settings.approvalTimeout, `${settings.name}.approvalTimeout`);
  checkDuration(settings.heartbeatTimeout, `${settings.name}.heartbeatTimeout`);
  checkDuration(settings.retry?.initialInterval, `${settings.name}.retry.initialInterval`);
  checkApprovers(settings);
  const attempts = settings.retry?.maximumAttempts;
  if (attempts !== undefined && !(Number.isInteger(attempts) && attempts >= 1 && attempts <= 20)) {
    throw new TypeError(`${settings.name}.retry.maximumAttempts must be a whole number from 1 to 20`);
  }
}

function checkApprovers(settings: ToolSettings<never>): void {
  const { approvers, requiredApprovals, needsApproval } = settings;
  if (requiredApprovals !== undefined && !(Number.isInteger(requiredApprovals) && requiredApprovals >= 1 && requiredApprovals <= 10)) {
    throw new TypeError(`${settings.name}.requiredApprovals must be a whole number from 1 to 10`);
  }
  if (requiredApprovals !== undefined && approvers === undefined) {
    throw new TypeError(`${settings.name}.requiredApprovals needs approvers (who may approve; {} for any verified person)`);
  }
  if (approvers === undefined) return;
  if (typeof approvers !== 'object' || approvers === null) throw new TypeError(`${settings.name}.approvers must be an object {roles?, groups?, emails?, subjects?, issuers?, allow?}`);
  if (needsApproval === false) throw new TypeError(`${settings.name} has approvers but needsApproval: false: remove one of them`);
  for (const list of ['roles', 'groups', 'emails', 'subjects', 'issuers'] as const) {
    const value = approvers[list];
    if (value !== undefined && !(Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string' && item !== ''))) {
      throw new TypeError(`${settings.name}.approvers.${list} must be a non-empty list of strings`);
    }
  }
  if (approvers.allow !== undefined && typeof approvers.allow !== 'function') throw new TypeError(`${settings.name}.approvers.allow must be a function`);
}

/** Each input example must be an object the tool's own parsing accepts: the model would learn from a wrong one. */
function checkInputExamples(settings: ToolSettings<never>, parse: (input: unknown) => ParseResult): void {
  const examples: unknown = settings.inputExamples;
  if (examples === undefined) return;
  if (!Array.isArray(examples) || examples.length === 0) throw new TypeError(`${settings.name}.inputExamples must be a non-empty list of example inputs`);
  examples.forEach((example: unknown, i) => {
    if (typeof example !== 'object' || example === null || Array.isArray(example)) {
      throw new TypeError(`${settings.name}.inputExamples[${i}] must be an object (an input the tool accepts)`);
    }
    const parsed = parse(example);
    if (!parsed.ok) throw new TypeError(`${settings.name}.inputExamples[${i}] does not match the tool's input schema: ${parsed.error}`);
  });
}

function makeTool(
  settings: ToolSettings<never>,
  inputSchema: Record<string, unknown>,
  parse: (input: unknown) => ParseResult,
  kind: { anthropicType?: string; session?: boolean } = {},
): AgentTool {
  checkSettings(settings);
  checkInputExamples(settings, parse);
  const rule = settings.needsApproval;
  return {
    name: settings.name,
    ...(settings.description !== undefined ? { description: settings.description } : {}),
    inputSchema,
    ...(settings.strict !== undefined ? { strict: settings.strict } : {}),
    ...(kind.anthropicType !== undefined ? { anthropicType: kind.anthropicType } : {}),
    ...(kind.session ? { session: true } : {}),
    settings,
    parse,
    async needsApproval(input) {
      if (typeof rule === 'function') return Boolean(await rule(input as never));
      // A tool with approvers is gated: its rule would mean nothing otherwise.
      return rule === true || settings.approvers !== undefined;
    },
    async run(input, context) {
      return settings.run(input as never, context);
    },
  };
}

/** A tool whose input is a zod 4 schema; `z.toJSONSchema` makes the JSON schema the model sees. */
export function defineTool<Schema extends z.ZodType>(settings: ZodToolSettings<Schema>): AgentTool;
/** A tool whose input is a plain JSON Schema. */
export function defineTool<Input = unknown>(settings: JsonSchemaToolSettings<Input>): AgentTool;
export function defineTool(settings: ZodToolSettings<z.ZodType> | JsonSchemaToolSettings): AgentTool {
  if ('input' in settings && settings.input !== undefined) {
    const schema = settings.input;
    const { $schema: _ignored, ...inputSchema } = z.toJSONSchema(schema) as Record<string, unknown>;
    if (inputSchema.type !== 'object') throw new TypeError(`Tool ${settings.name}: input must be a z.object(...) schema`);
    return makeTool(settings as ToolSettings<never>, inputSchema, (input) => {
      const parsed = schema.safeParse(input);
      return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: z.prettifyError(parsed.error).replace(/\s*\n\s*/g, ' ') };
    });
  }
  const json = settings as JsonSchemaToolSettings;
  if (typeof json.inputSchema !== 'object' || json.inputSchema === null || json.inputSchema.type !== 'object') {
    throw new TypeError(`Tool ${json.name}: inputSchema must be a JSON Schema with type "object"`);
  }
  return makeTool(json as ToolSettings<never>, json.inputSchema, (input) => {
    const problems = validateJsonSchema(input, json.inputSchema);
    if (problems.length) return { ok: false, error: problems.slice(0, 10).join('; ') };
    if (!json.parse) return { ok: true, value: input };
    try {
      return { ok: true, value: json.parse(input) };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  });
}

export interface AnthropicToolSettings<Input = unknown> extends ToolSettings<Input> {
  /** The tool's versioned type as the API names it, e.g. 'bash_20250124'. */
  type: string;
  /** The input the API documents for the type: calls and approvers' edits are checked against it (it is not sent). */
  inputSchema: Record<string, unknown>;
  /** Keep a session across calls (ToolContext.session): calls run one at a time, in the order they are cleared to run. */
  session?: boolean;
}

/** Anthropic's versioned client-tool types: the model knows their input, the client runs them. */
const ANTHROPIC_TOOL_TYPE = /^(bash|text_editor|computer|memory)_\d{8}$/;

/**
 * An Anthropic-defined client tool (bash, text editor, …): declared to the API by `type` and `name` only, run by
 * the worker like any tool (an activity, approvals, retries).
 */
export function defineAnthropicTool<Input = unknown>(settings: AnthropicToolSettings<Input>): AgentTool {
  if (typeof settings.type !== 'string' || !ANTHROPIC_TOOL_TYPE.test(settings.type)) {
    throw new TypeError(`Tool ${settings.name}: type must be an Anthropic-defined client tool type such as 'bash_20250124', got ${JSON.stringify(settings.type)}`);
  }
  if (settings.strict !== undefined || settings.inputExamples !== undefined || settings.streamInput !== undefined) {
    throw new TypeError(`Tool ${settings.name}: strict, inputExamples and streamInput are for custom tools; an Anthropic-defined tool has its schema built in`);
  }
  if (typeof settings.inputSchema !== 'object' || settings.inputSchema === null || settings.inputSchema.type !== 'object') {
    throw new TypeError(`Tool ${settings.name}: inputSchema must be a JSON Schema with type "object"`);
  }
  const schema = settings.inputSchema;
  return makeTool(
    settings as unknown as ToolSettings<never>,
    schema,
    (input) => {
      const problems = validateJsonSchema(input, schema);
      return problems.length ? { ok: false, error: problems.slice(0, 10).join('; ') } : { ok: true, value: input };
    },
    { anthropicType: settings.type, ...(settings.session ? { session: true } : {}) },
  );
}

/** Thrown by a tool: answered to the model as an is_error result with this content, without retrying. */
export class ToolError extends Error {
  constructor(
    message: string,
    readonly content?: ToolResultContent,
  ) {
    super(message);
    this.name = 'ToolError';
  }
}

/** Thrown by a tool when carrying on is wrong (e.g. credentials revoked): fails the whole conversation. */
export class ToolFatalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolFatalError';
  }
}
