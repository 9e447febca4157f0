// Anthropic's bash tool (bash_20250124) as a durable session tool: each command is a fresh bash process, and the
// session (working directory, exported variables) is state the workflow records in history, not a live process.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, constants, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defineAnthropicTool, ToolError, type AgentTool, type Duration, type ToolContext } from './define-tool';
import { MAX_INLINE_RESULT_BYTES } from './registry';
import { DURATION_HINT, parseDurationMs } from '../workflows/duration';

/** The input the API documents for bash_20250124: a command to run, or a restart of the session. */
export interface BashInput {
  command?: string;
  restart?: boolean;
}

/**
 * The session a conversation's bash calls share, as recorded in history with each result (keep it small: it is
 * history). Only what differs from the starting environment is kept, so the worker's own starting values (PATH,
 * HOME) apply on whichever worker runs the next command.
 */
export interface BashSessionState {
  /** Where the next command starts: relative to the conversation's working directory when inside it, else absolute. */
  cwd: string;
  /** Exported variables whose value differs from the starting environment (new ones included). */
  env: Record<string, string>;
  /** Variables of the starting environment that the session unset. */
  unset: string[];
}

export interface BashToolOptions {
  /**
   * The directory under which each conversation gets its own working directory, `<root>/<workflow id made safe>`
   * (created on first use). It is also the commands' HOME. Put it on a filesystem every worker sees if files must
   * survive a move to another worker.
   */
  root: string;
  /** The tool's name: 'bash', the only name the API takes for bash_20250124 (kept for explicitness). */
  name?: 'bash';
  /** Gate commands behind a person's approval: always (the default), never, or when the function says so. */
  needsApproval?: boolean | ((input: BashInput) => boolean | Promise<boolean>);
  /**
   * How long one command may run (default '60s'); then it and every process it started are killed and the model
   * is told. The activity's start-to-close timeout is this plus a margin, so the timeout is reported, not retried.
   */
  timeout?: Duration;
  /**
   * Extra variables for the session's starting environment, which is otherwise only PATH (the worker's PATH, not a
   * secret), HOME (the working directory), LANG=C.UTF-8 and TERM=dumb; these override those.
   */
  env?: Record<string, string>;
  /** Output beyond this many bytes is cut (its start and end kept, with a note). Default 100 KB. */
  maxOutputBytes?: number;
  /** The shell: bash or a bash-compatible one (it needs `compgen`). Default '/bin/bash'. */
  shell?: string;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_OUTPUT_BYTES = 100 * 1024;
const MIN_OUTPUT_BYTES = 1024;
/** Between SIGTERM and SIGKILL on a timeout: long enough for bash's EXIT trap to save the state. */
const KILL_GRACE_MS = 1_000;
/** After the shell has exited, how long to wait for its output pipes to close (a process that left the group may hold them). */
const CLOSE_GRACE_MS = 2_000;
/** The in-shell watchdog fires this long after the worker's own timeout would have (it only matters once the worker is gone). */
const WATCHDOG_MARGIN_MS = KILL_GRACE_MS + 2_000;
/** The activity outlives the command by this much, so the tool's own timeout, not Temporal's, ends a slow command. */
const ACTIVITY_MARGIN_MS = KILL_GRACE_MS + CLOSE_GRACE_MS + 5_000;
/** Room kept for the note of a cut output. */
const CUT_NOTE_RESERVE = 200;
/** Variables bash sets itself on each start: saving them would only restore stale values. */
const DYNAMIC_VARIABLES = new Set(['PWD', 'OLDPWD', 'SHLVL', '_']);
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * Runs in front of every command (bash -c, with the call's private temp dir as $1). The command is eval-ed in this
 * shell as `bash -c` would run it (same error messages and line numbers: the prelude is all on one line), so its cd
 * and export take effect here. The state goes to a file, never to the output, both after the command and from the
 * EXIT trap (for `exit N`, `set -e` and a timeout's SIGTERM). Builtins are called as `builtin` so functions the
 * command defines cannot stand in for them; the variable loop runs in a pipeline's subshell so it changes nothing.
 * A watchdog in the command's process group ($2 seconds) kills the group if the worker dies with the command still
 * running, when no timer of the worker's is left to do it; it is disowned, so the command's own `wait` does not wait
 * for it, and it dies with the group when the command ends.
 */
const PRELUDE = [
  'readonly __dc_dir="$1";',
  '( builtin trap - EXIT; sleep "$2"; builtin kill -TERM -- -$$; sleep 1; builtin kill -KILL -- -$$ ) </dev/null >/dev/null 2>&1 &',
  'builtin disown;',
  'set --;',
  '__dc_save() { {',
  "builtin printf '%s\\0' \"$PWD\";",
  'builtin compgen -e | while IFS= builtin read -r __dc_n; do',
  "if [ -n \"${!__dc_n+x}\" ]; then builtin printf '%s\\0%s\\0' \"$__dc_n\" \"${!__dc_n}\"; fi;",
  'done; } >| "$__dc_dir/state"; };',
  'builtin trap __dc_save EXIT;',
  'exec 2>&1;',
  'builtin eval "$(<"$__dc_dir/command")";',
  '__dc_status=$?;',
  '__dc_save;',
  'builtin exit "$__dc_status"',
].join(' ');

/**
 * The conversation's own directory under root: the workflow id when it is a plain file name, else a cleaned-up
 * form of it with a hash of the id (so two ids never share a directory, and '..' or '/' cannot escape root).
 */
export function bashWorkingDirectory(root: string, workflowId: string): string {
  if (SAFE_ID.test(workflowId) && !/^\.+$/.test(workflowId)) return path.join(path.resolve(root), workflowId);
  const cleaned = workflowId.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[._-]+/, '').slice(0, 64);
  const hash = createHash('sha256').update(workflowId, 'utf8').digest('hex').slice(0, 12);
  return path.join(path.resolve(root), cleaned ? `${cleaned}-${hash}` : hash);
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

/** State comes from history, possibly from another version of this tool: anything else starts a fresh session. */
function sessionStateOf(value: unknown): BashSessionState | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { cwd, env, unset } = value as Record<string, unknown>;
  if (typeof cwd !== 'string' || !isStringRecord(env)) return undefined;
  const names = Array.isArray(unset) ? unset.filter((name): name is string => typeof name === 'string') : [];
  return { cwd, env, unset: names };
}

function freshState(): BashSessionState {
  return { cwd: '.', env: {}, unset: [] };
}

/** A directory a command can start in (spawn fails in one that is gone or not searchable). */
async function usableDirectory(dir: string): Promise<boolean> {
  try {
    if (!(await stat(dir)).isDirectory()) return false;
    await access(dir, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The state file: PWD, then name/value pairs, each ended by NUL (values cannot hold NUL, so nothing is ambiguous). */
function parseStateFile(text: string): { cwd: string; env: Map<string, string> } | undefined {
  const fields = text.split('\0');
  if (fields.length < 2 || fields.pop() !== '') return undefined;
  const [cwd, ...pairs] = fields;
  if (!cwd || pairs.length % 2 !== 0) return undefined;
  const env = new Map<string, string>();
  for (let i = 0; i < pairs.length; i += 2) env.set(pairs[i]!, pairs[i + 1]!);
  return { cwd, env };
}

/** What the session has to remember: the end directory (relative when inside the working directory) and the env diff. */
function stateAfter(workdir: string, cwd: string, finalEnv: Map<string, string>, start: Record<string, string>): BashSessionState {
  const env: Record<string, string> = {};
  for (const [name, value] of finalEnv) {
    if (DYNAMIC_VARIABLES.has(name) || name.startsWith('__dc_') || !VARIABLE_NAME.test(name)) continue;
    if (start[name] !== value) env[name] = value;
  }
  const unset = Object.keys(start).filter((name) => !finalEnv.has(name));
  const relative = path.relative(workdir, cwd);
  const inside = relative === '' || (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
  return { cwd: inside ? relative || '.' : cwd, env, unset };
}

/** The length of a prefix of buf that does not end inside a UTF-8 sequence. */
function utf8Prefix(buf: Buffer): number {
  for (let back = 1; back <= Math.min(4, buf.length); back++) {
    const byte = buf[buf.length - back]!;
    if ((byte & 0xc0) === 0x80) continue;
    const size = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return size > back ? buf.length - back : buf.length;
  }
  return buf.length;
}

/** Keeps the start and the end of the output within a byte budget (the end is where errors usually are). */
class OutputCollector {
  readonly #headLimit: number;
  readonly #tailLimit: number;
  #head: Buffer[] = [];
  #headBytes = 0;
  #tail: Buffer[] = [];
  #tailBytes = 0;
  total = 0;

  constructor(readonly limit: number) {
    const budget = limit - CUT_NOTE_RESERVE;
    this.#headLimit = Math.floor(budget / 2);
    this.#tailLimit = budget - this.#headLimit;
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.#headBytes < this.#headLimit) {
      const take = chunk.subarray(0, this.#headLimit - this.#headBytes);
      this.#head.push(take);
      this.#headBytes += take.length;
      chunk = chunk.subarray(take.length);
    }
    if (chunk.length === 0) return;
    this.#tail.push(chunk);
    this.#tailBytes += chunk.length;
    // Compact now and then, so memory stays within twice the budget however much the command prints.
    if (this.#tailBytes > 2 * this.#tailLimit) {
      this.#tail = [Buffer.concat(this.#tail).subarray(-this.#tailLimit)];
      this.#tailBytes = this.#tailLimit;
    }
  }

  text(): string {
    const head = Buffer.concat(this.#head);
    const tail = Buffer.concat(this.#tail);
    if (this.total <= this.limit) return Buffer.concat([head, tail]).toString('utf8');
    const start = head.subarray(0, utf8Prefix(head));
    let end = tail.subarray(-this.#tailLimit);
    let skip = 0;
    while (skip < end.length && (end[skip]! & 0xc0) === 0x80) skip++;
    end = end.subarray(skip);
    const note = `\n\n[output cut: the command printed ${this.total} bytes; the first ${start.length} and the last ${end.length} are shown]\n\n`;
    return start.toString('utf8') + note + end.toString('utf8');
  }
}

interface CommandRun {
  output: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  /** The state file's content, when the shell got to write it. */
  stateText?: string;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the whole group is already gone.
  }
}

/** One command in a fresh bash, its own process group; every process left in the group is killed when it ends. */
async function runCommand(
  shell: string,
  command: string,
  cwd: string,
  env: Record<string, string>,
  timeoutMs: number,
  maxOutputBytes: number,
  signal: AbortSignal,
): Promise<CommandRun> {
  const dir = await mkdtemp(path.join(tmpdir(), 'durable-claude-bash-'));
  try {
    // The command goes through a file, not argv: argv limits a single argument to 128 KiB on Linux.
    await writeFile(path.join(dir, 'command'), command, { mode: 0o600 });
    const output = new OutputCollector(maxOutputBytes);
    let timedOut = false;
    let aborted = false;
    const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      const watchdogSeconds = String(Math.ceil((timeoutMs + WATCHDOG_MARGIN_MS) / 1000));
      const child = spawn(shell, ['--noprofile', '--norc', '-c', PRELUDE, 'bash', dir, watchdogSeconds], {
        cwd,
        env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const timers: NodeJS.Timeout[] = [];
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      const finish = (result: { code: number | null; signal: NodeJS.Signals | null; error?: Error }) => {
        for (const timer of timers) clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      };
      // SIGTERM first so bash's EXIT trap can save the state, then SIGKILL for whatever ignores it.
      const stop = () => {
        killGroup(child.pid, 'SIGTERM');
        timers.push(setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS));
      };
      const onAbort = () => {
        aborted = true;
        stop();
      };
      child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
      child.on('error', (error) => finish({ code: null, signal: null, error }));
      child.on('exit', (code, exitSignal) => {
        exit = { code, signal: exitSignal };
        // Background processes do not outlive their command: they would hold the output open and leak on the worker.
        killGroup(child.pid, 'SIGKILL');
        timers.push(
          setTimeout(() => {
            child.stdout.destroy();
            child.stderr.destroy();
            finish(exit!);
          }, CLOSE_GRACE_MS),
        );
      });
      // Once every holder of the output pipes is gone: all the output has been read.
      child.on('close', () => finish(exit ?? { code: null, signal: null }));
      timers.push(
        setTimeout(() => {
          timedOut = true;
          stop();
        }, timeoutMs),
      );
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    if (ended.error) throw new ToolError(`could not start ${shell}: ${ended.error.message}`);
    const stateText = await readFile(path.join(dir, 'state'), 'utf8').catch(() => undefined);
    return {
      output: output.text(),
      code: ended.code,
      signal: ended.signal,
      timedOut,
      aborted,
      ...(stateText !== undefined ? { stateText } : {}),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function checkOptions(options: BashToolOptions): void {
  if (typeof options !== 'object' || options === null) throw new TypeError('bashTool needs options with a root directory');
  if (typeof options.root !== 'string' || options.root.trim() === '') throw new TypeError('bashTool: root must be a directory path');
  if (options.shell !== undefined && (typeof options.shell !== 'string' || options.shell === '')) throw new TypeError('bashTool: shell must be a path');
  if (options.timeout !== undefined && parseDurationMs(options.timeout) === undefined) {
    throw new TypeError(`bashTool: timeout must be ${DURATION_HINT}, got ${JSON.stringify(options.timeout)}`);
  }
  const max = options.maxOutputBytes;
  if (max !== undefined && !(Number.isInteger(max) && max >= MIN_OUTPUT_BYTES && max <= MAX_INLINE_RESULT_BYTES)) {
    // Error results skip the registry's size limit, so this one must keep them within a Temporal payload.
    throw new TypeError(`bashTool: maxOutputBytes must be a whole number from ${MIN_OUTPUT_BYTES} to ${MAX_INLINE_RESULT_BYTES}`);
  }
  if (options.env !== undefined) {
    if (!isStringRecord(options.env)) throw new TypeError('bashTool: env must map variable names to strings');
    for (const name of Object.keys(options.env)) {
      if (!VARIABLE_NAME.test(name)) throw new TypeError(`bashTool: env has ${JSON.stringify(name)}, which is not a variable name`);
    }
  }
}

const INPUT_SCHEMA: Record<string, unknown> = {
  type: 'object',
  properties: {
    command: { type: 'string', minLength: 1, description: 'The bash command to run (not together with restart).' },
    restart: { const: true, description: 'Restart the bash session: back to the starting directory and environment.' },
  },
  additionalProperties: false,
  // Exactly one of the two: the nearest shape names the problem (command required; restart not allowed with it).
  oneOf: [
    { required: ['command'], properties: { restart: false } },
    { required: ['restart'], properties: { command: false } },
  ],
};

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * Anthropic's bash tool (`bash_20250124`) for the worker: register it to give the model a shell. Every command
 * needs a person's approval unless `needsApproval` says otherwise.
 *
 * Durability: the session is not a live process. Each command runs in a fresh `bash --noprofile --norc` that starts
 * from the state the previous command saved, the working directory and the exported variables (as a diff from the
 * starting environment, see BashSessionState), and saves it again when it ends, also on `exit N` and on a timeout.
 * The workflow records that state in history with the result and hands it to the conversation's next command, so
 * after a worker is killed the next command, on any worker, starts in the same directory with the same exported
 * variables. Files written under the working directory survive only where that directory is on the same or a
 * shared filesystem. Background processes (they are killed when their command ends), shell variables that were not
 * exported, functions, aliases and shell options do not survive. A command that was running when its worker died is
 * run again by Temporal's retry (with a note that it may have partly run), from the state before it.
 *
 * Security: commands run as the worker's user with the worker's permissions; this is not a sandbox. The environment
 * is never the worker's (which holds ANTHROPIC_API_KEY): only PATH, HOME (the working directory), LANG, TERM and
 * `env`. A conversation can still cd anywhere the worker's user can. Run the worker in a container or VM with a
 * minimal user, set resource limits (ulimit, cgroups), keep approvals on, and log commands.
 */
export function bashTool(options: BashToolOptions): AgentTool {
  checkOptions(options);
  const root = path.resolve(options.root);
  const shell = options.shell ?? '/bin/bash';
  const timeoutMs = options.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDurationMs(options.timeout)!;
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const extraEnv = { ...(options.env ?? {}) };
  const basePath = process.env.PATH || FALLBACK_PATH;

  const startingEnv = (workdir: string): Record<string, string> => ({
    PATH: basePath,
    HOME: workdir,
    LANG: 'C.UTF-8',
    TERM: 'dumb',
    ...extraEnv,
  });

  async function run(input: BashInput, context: ToolContext): Promise<string> {
    const hasCommand = typeof input.command === 'string' && input.command !== '';
    if (hasCommand === (input.restart === true)) throw new ToolError('give either a command or restart: true (exactly one of them)');
    const workdir = bashWorkingDirectory(root, context.workflowId);
    await mkdir(workdir, { recursive: true });
    const session = context.session;
    const save = (state: BashSessionState) => {
      // An unchanged state is not saved again: each save is recorded in history.
      if (JSON.stringify(state) !== JSON.stringify(session?.state)) session?.save(state);
    };
    if (input.restart === true) {
      save(freshState());
      return 'bash session restarted';
    }

    const start = startingEnv(workdir);
    const state = sessionStateOf(session?.state) ?? freshState();
    // Notes for the model: `before` the output (where the command ran), `after` it (what the session kept).
    const before: string[] = [];
    const after: string[] = [];
    if (context.attempt > 1) before.push(`[attempt ${context.attempt}: an earlier attempt of this command did not finish (its worker may have stopped) and may have partly run]`);
    let cwd = path.resolve(workdir, state.cwd);
    if (!(await usableDirectory(cwd))) {
      before.push(`[the working directory ${cwd} no longer exists here; starting in ${workdir}]`);
      cwd = workdir;
    }
    const env: Record<string, string> = { ...start };
    for (const name of state.unset) delete env[name];
    Object.assign(env, state.env);
    // bash keeps a logical PWD (through symlinks) only when it is told it.
    env.PWD = cwd;

    const result = await runCommand(shell, input.command!, cwd, env, timeoutMs, maxOutputBytes, context.signal);
    if (result.aborted) throw new Error('the bash command was cancelled; it and the processes it started were killed');
    const parsed = result.stateText === undefined ? undefined : parseStateFile(result.stateText);
    if (parsed) save(stateAfter(workdir, parsed.cwd, parsed.env, start));
    else after.push('[the session state was not saved (the shell was killed, exec-ed another program, or the command replaced the EXIT trap); the next command starts where this one started]');

    const output = result.output || '(no output)';
    const answer = (status?: string) => {
      const more = [...after, ...(status ? [status] : [])];
      // With something after it, the output's own last newline would only widen the gap.
      return [[...before, more.length ? output.replace(/\n$/, '') : output].join('\n'), ...more].join('\n\n');
    };
    if (result.timedOut) {
      const status = `timed out after ${formatMs(timeoutMs)}: the command and the processes it started were killed`;
      throw new ToolError(`bash: ${status}`, answer(status));
    }
    if (result.code !== 0) {
      const status = result.code === null ? `killed by signal ${result.signal ?? 'unknown'}` : `exit status ${result.code}`;
      throw new ToolError(`bash: ${status}`, answer(status));
    }
    return answer();
  }

  if (options.name !== undefined && options.name !== 'bash') throw new TypeError(`bashTool: the API takes bash_20250124 under the name 'bash' only; got ${JSON.stringify(options.name)}`);
  return defineAnthropicTool<BashInput>({
    type: 'bash_20250124',
    name: options.name ?? 'bash',
    inputSchema: INPUT_SCHEMA,
    session: true,
    needsApproval: options.needsApproval ?? true,
    timeout: timeoutMs + ACTIVITY_MARGIN_MS,
    run,
  });
}
