// bashTool without Temporal: run() is called directly with a session kept the way the workflow keeps it (the state
// the last call saved goes in, the new one comes out), so the state is all that links two commands.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bashTool, bashWorkingDirectory, type BashSessionState, type BashToolOptions } from '../src/tools/bash';
import { ToolError, type AgentTool, type ToolContext } from '../src/tools/define-tool';
import { ToolRegistry } from '../src/tools/registry';

let root: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'bash-tool-test-'));
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

/** One conversation's session as the workflow holds it: only what save() recorded carries over. */
class Conversation {
  state: unknown;
  saves = 0;

  constructor(
    readonly workflowId: string,
    readonly tool: AgentTool,
  ) {}

  context(overrides: Partial<ToolContext> = {}): ToolContext {
    return {
      idempotencyKey: `${this.workflowId}:toolu_1`,
      toolUseId: 'toolu_1',
      workflowId: this.workflowId,
      turn: 1,
      attempt: 1,
      signal: new AbortController().signal,
      heartbeat() {},
      progress() {},
      session: {
        state: this.state,
        save: (state: unknown) => {
          // Through JSON, as history would carry it.
          this.state = JSON.parse(JSON.stringify(state)) as unknown;
          this.saves++;
        },
      },
      ...overrides,
    };
  }

  async run(input: unknown, overrides: Partial<ToolContext> = {}): Promise<string> {
    const parsed = this.tool.parse(input);
    if (!parsed.ok) throw new Error(`parse refused ${JSON.stringify(input)}: ${parsed.error}`);
    const output = await this.tool.run(parsed.value, this.context(overrides));
    if (typeof output !== 'string') throw new Error(`expected text, got ${JSON.stringify(output)}`);
    return output;
  }

  /** A call that must fail as the model would see it: a ToolError, whose content is the is_error result. */
  async fails(input: unknown, overrides: Partial<ToolContext> = {}): Promise<string> {
    const err = await this.run(input, overrides).then(
      (output) => new Error(`expected a ToolError, got ${JSON.stringify(output)}`),
      (e: unknown) => e,
    );
    if (!(err instanceof ToolError)) throw err;
    expect(typeof err.content).toBe('string');
    return err.content as string;
  }

  get session(): BashSessionState {
    return this.state as BashSessionState;
  }
}

let conversations = 0;
function conversation(options: Partial<BashToolOptions> = {}): Conversation {
  conversations++;
  return new Conversation(`conv-${conversations}`, bashTool({ root, needsApproval: false, ...options }));
}

/** Alive and not a zombie (an orphan waits for its reaper, which may be slow in a container). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return !fs.existsSync('/proc/self');
  }
}

/**
 * The pids still alive after SIGKILL has had time to land. The tool sends SIGKILL before it returns, but the kernel
 * finishes a process's exit asynchronously (its pipes close before it is a zombie), so a loaded machine can see a
 * killed process for a moment; a process that was never killed (a `sleep 30`) is still there after the wait.
 */
async function survivors(pids: number[]): Promise<number[]> {
  for (let waited = 0; waited < 5000 && pids.some(alive); waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
  return pids.filter(alive);
}

function pidsIn(file: string): number[] {
  return fs.readFileSync(file, 'utf8').split(/\s+/).filter(Boolean).map(Number);
}

test('each conversation has its own working directory under root, which is HOME and the first cwd', async () => {
  const a = conversation();
  const b = conversation();
  const workdirA = bashWorkingDirectory(root, a.workflowId);
  expect(await a.run({ command: 'pwd; echo "$HOME"' })).toBe(`${workdirA}\n${workdirA}\n`);
  expect(await b.run({ command: 'pwd' })).toBe(`${bashWorkingDirectory(root, b.workflowId)}\n`);
  expect(fs.statSync(workdirA).isDirectory()).toBe(true);
});

test('a workflow id that is not a plain file name stays inside root, apart from similar ids', () => {
  for (const id of ['../../etc', 'a/b', '.', '..', 'chat:42 ünïcode']) {
    const dir = bashWorkingDirectory(root, id);
    expect(path.dirname(dir)).toBe(root);
    expect(path.basename(dir)).not.toMatch(/^\.+$/);
  }
  expect(bashWorkingDirectory(root, 'a/b')).not.toBe(bashWorkingDirectory(root, 'a_b'));
  expect(bashWorkingDirectory(root, 'conv-7')).toBe(path.join(root, 'conv-7'));
});

test('cd persists across calls through the saved state alone', async () => {
  const chat = conversation();
  await chat.run({ command: 'mkdir -p src/deep && cd src/deep' });
  // Inside the working directory the state is relative, so it follows the conversation's directory, not a path.
  expect(chat.session.cwd).toBe(path.join('src', 'deep'));
  expect(await chat.run({ command: 'pwd' })).toBe(`${path.join(bashWorkingDirectory(root, chat.workflowId), 'src', 'deep')}\n`);
  await chat.run({ command: `cd ${os.tmpdir()}` });
  expect(chat.session.cwd).toBe(os.tmpdir());
  expect(await chat.run({ command: 'pwd' })).toBe(`${os.tmpdir()}\n`);
});

test('exported variables persist (any value), shell variables do not', async () => {
  const chat = conversation();
  await chat.run({ command: `export GREETING='hello "world"'$'\\n''second line'; LOCAL_ONLY=1; export EMPTY=` });
  expect(chat.session.env).toEqual({ GREETING: 'hello "world"\nsecond line', EMPTY: '' });
  expect(await chat.run({ command: 'echo "$GREETING|${EMPTY-unset}|${LOCAL_ONLY-unset}"' })).toBe('hello "world"\nsecond line||unset\n');
});

test('unset persists, and restart brings back the starting directory and environment', async () => {
  const chat = conversation({ env: { PROJECT: 'demo' } });
  // (Not TERM: bash gives itself a TERM=dumb shell variable when there is none.)
  await chat.run({ command: 'unset LANG PROJECT; export EXTRA=1; mkdir -p sub; cd sub' });
  expect(chat.session.unset.sort()).toEqual(['LANG', 'PROJECT']);
  expect(await chat.run({ command: 'echo "${LANG-unset} ${PROJECT-unset} $EXTRA"; pwd' })).toMatch(/^unset unset 1\n.*\/sub\n$/);

  expect(await chat.run({ restart: true })).toBe('bash session restarted');
  expect(chat.session).toEqual({ cwd: '.', env: {}, unset: [] });
  expect(await chat.run({ command: 'echo "$LANG $PROJECT ${EXTRA-unset}"; pwd' })).toBe(`C.UTF-8 demo unset\n${bashWorkingDirectory(root, chat.workflowId)}\n`);
});

test('a non-zero exit is an error result with the output and the status, and the state up to it is saved', async () => {
  const chat = conversation();
  const content = await chat.fails({ command: 'mkdir -p out && cd out && export STEP=built && echo building; echo oops >&2; exit 3' });
  expect(content).toBe('building\noops\n\nexit status 3');
  expect(chat.session).toEqual({ cwd: 'out', env: { STEP: 'built' }, unset: [] });
  expect(await chat.run({ command: 'echo "$STEP in ${PWD##*/}"' })).toBe('built in out\n');

  // set -e ends the shell too, through the same EXIT trap.
  expect(await chat.fails({ command: 'set -e; cd ..; false; echo never' })).toBe('(no output)\n\nexit status 1');
  expect(chat.session.cwd).toBe('.');
});

test('a command runs as bash -c would run it: several lines, heredocs, its own error messages', async () => {
  const chat = conversation();
  const script = "cat > notes.txt <<'EOF'\nfirst $HOME\nEOF\nwc -l < notes.txt\ncat notes.txt";
  expect(await chat.run({ command: script })).toBe('1\nfirst $HOME\n');
  expect(await chat.fails({ command: 'echo ok\nno_such_command_xyz' })).toBe('ok\nbash: line 2: no_such_command_xyz: command not found\n\nexit status 127');
});

test('stdout and stderr come interleaved, in the order they were written', async () => {
  const chat = conversation();
  expect(await chat.run({ command: 'echo one; echo two >&2; echo three; ls /no/such/path 2>&1 >/dev/null | wc -l; echo four >&2' })).toBe('one\ntwo\nthree\n1\nfour\n');
});

test("the worker's environment is not the commands': ANTHROPIC_API_KEY stays in the worker", async () => {
  const before = process.env.ANTHROPIC_API_KEY;
  process.env.ANTHROPIC_API_KEY = 'sk-ant-worker-secret';
  process.env.DURABLE_CLAUDE_TEST_SECRET = 'another-secret';
  try {
    const chat = conversation({ env: { GIVEN: 'by-options' } });
    const output = await chat.run({ command: 'env; echo "key=${ANTHROPIC_API_KEY-none}"' });
    expect(output).not.toContain('secret');
    expect(output).toContain('key=none');
    const names = output
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => line.slice(0, line.indexOf('=')))
      .filter((name) => name !== 'key');
    expect(names.sort()).toEqual(['GIVEN', 'HOME', 'LANG', 'PATH', 'PWD', 'SHLVL', 'TERM', '_']);
  } finally {
    if (before === undefined) delete process.env.ANTHROPIC_API_KEY;
    else process.env.ANTHROPIC_API_KEY = before;
    delete process.env.DURABLE_CLAUDE_TEST_SECRET;
  }
});

test('a timeout kills the whole process group and says so', async () => {
  // (The timeout only has to outlast the shell's start; the assertions do not depend on timing.)
  const chat = conversation({ timeout: '2s' });
  const pids = path.join(root, 'timeout-pids');
  const content = await chat.fails({ command: `export BEFORE=1; echo $$ > ${pids}; sleep 30 & echo $! >> ${pids}; sleep 30` });
  expect(content).toContain('timed out after 2s: the command and the processes it started were killed');
  const started = pidsIn(pids);
  expect(started).toHaveLength(2);
  // Every process of the command was killed, the one it left in the background too.
  expect(await survivors(started)).toEqual([]);
  // SIGTERM came first, so the shell's EXIT trap saved what the command had done.
  expect(chat.session.env).toEqual({ BEFORE: '1' });
});

test('background processes do not outlive their command', async () => {
  const chat = conversation();
  const output = await chat.run({ command: 'sleep 30 & echo $!' });
  const pid = Number(output.trim());
  expect(pid).toBeGreaterThan(0);
  expect(await survivors([pid])).toEqual([]);
});

test("the command's own wait does not wait for the tool's watchdog", async () => {
  const chat = conversation({ timeout: '20s' });
  expect(await chat.run({ command: 'sleep 0.1 & wait; echo waited' })).toBe('waited\n');
});

test('a command left running by a killed worker is still killed at its timeout', async () => {
  // A worker process of its own, SIGKILLed mid-command: no timer of the worker's is left, only the shell's watchdog.
  const pids = path.join(root, 'orphan-pids');
  const script = path.join(root, 'orphan-worker.ts');
  fs.writeFileSync(
    script,
    `import { bashTool } from ${JSON.stringify(path.resolve(__dirname, '../src/tools/bash'))};
const tool = bashTool({ root: ${JSON.stringify(root)}, needsApproval: false, timeout: '2s' });
void tool.run({ command: 'echo $$ > ${pids}; sleep 30 & echo $! >> ${pids}; sleep 30' }, {
  idempotencyKey: 'orphan:1', toolUseId: 't', workflowId: 'orphan', turn: 1, attempt: 1,
  signal: new AbortController().signal, heartbeat() {}, session: { state: undefined, save() {} },
});
setInterval(() => {}, 1000);
`,
  );
  const worker = spawn(process.execPath, [require.resolve('tsx/cli'), script], { stdio: 'ignore' });
  try {
    while (!fs.existsSync(pids) || pidsIn(pids).length < 2) await new Promise((resolve) => setTimeout(resolve, 50));
    worker.kill('SIGKILL');
    const started = pidsIn(pids);
    expect(started.every(alive)).toBe(true);
    // The watchdog fires 3s after the timeout; waiting for it is bounded by the test's own timeout.
    while (started.some(alive)) await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    worker.kill('SIGKILL');
  }
}, 30_000);

test('cancellation kills the command and fails the call (not an error result)', async () => {
  const chat = conversation();
  const controller = new AbortController();
  const pids = path.join(root, 'abort-pids');
  const call = chat.run({ command: `echo $$ > ${pids}; sleep 30` }, { signal: controller.signal });
  // Abort once the shell is running (its pid file is there), not after a guessed delay.
  while (!fs.existsSync(pids) || fs.readFileSync(pids, 'utf8') === '') await new Promise((resolve) => setTimeout(resolve, 20));
  controller.abort();
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  expect(err).not.toBeInstanceOf(ToolError);
  expect(await survivors(pidsIn(pids))).toEqual([]);
});

test('output beyond maxOutputBytes is cut, its start and end kept, with a note', async () => {
  const chat = conversation({ maxOutputBytes: 2048 });
  const output = await chat.run({ command: 'seq 1 20000' });
  expect(Buffer.byteLength(output)).toBeLessThanOrEqual(2048);
  expect(output).toMatch(/^1\n2\n3\n/);
  expect(output).toMatch(/\n20000\n$/);
  expect(output).toMatch(/\[output cut: the command printed 108894 bytes; the first \d+ and the last \d+ are shown\]/);

  // An error result is cut the same way (it does not go through the registry's limit).
  const failed = await chat.fails({ command: 'seq 1 20000; exit 1' });
  expect(Buffer.byteLength(failed)).toBeLessThanOrEqual(2048 + 50);
  expect(failed).toMatch(/\n20000\n\nexit status 1$/);
});

test('a cwd that no longer exists falls back to the working directory with a note', async () => {
  const chat = conversation();
  await chat.run({ command: 'mkdir gone && cd gone' });
  fs.rmSync(path.join(bashWorkingDirectory(root, chat.workflowId), 'gone'), { recursive: true });
  const output = await chat.run({ command: 'pwd' });
  expect(output).toContain('no longer exists');
  expect(output.endsWith(`\n${bashWorkingDirectory(root, chat.workflowId)}\n`)).toBe(true);
  expect(chat.session.cwd).toBe('.');
});

test('a command that replaces the EXIT trap and exits leaves the state as it was, and says so', async () => {
  const chat = conversation();
  await chat.run({ command: 'export KEPT=1' });
  const output = await chat.run({ command: "trap 'echo bye' EXIT; export LOST=1; exit 0" });
  expect(output).toMatch(/^bye\n\n\[the session state was not saved/);
  expect(chat.session.env).toEqual({ KEPT: '1' });
});

test('a retried call tells the model the command may have partly run', async () => {
  const chat = conversation();
  expect(await chat.run({ command: 'echo again' }, { attempt: 2 })).toMatch(/^\[attempt 2: .*may have partly run\]\nagain\n$/);
});

test('a state that is not this tool’s (another version, hand-edited history) starts a fresh session', async () => {
  const chat = conversation();
  chat.state = { directory: '/somewhere' };
  expect(await chat.run({ command: 'pwd' })).toBe(`${bashWorkingDirectory(root, chat.workflowId)}\n`);
});

test('the input is a command or restart: true, exactly one of them', () => {
  const tool = bashTool({ root });
  expect(tool.parse({ command: 'ls' }).ok).toBe(true);
  expect(tool.parse({ restart: true }).ok).toBe(true);
  for (const bad of [{}, { command: 'ls', restart: true }, { restart: false }, { command: '' }, { command: 1 }, { command: 'ls', cwd: '/' }]) {
    const parsed = tool.parse(bad);
    expect(parsed.ok).toBe(false);
  }
  const neither = tool.parse({});
  expect(!neither.ok && neither.error).toContain('command: required');
  const both = tool.parse({ command: 'ls', restart: true });
  expect(!both.ok && both.error).toContain('restart: no value is allowed here');
});

test('registered, it is the Anthropic-defined bash_20250124 session tool, gated by default', async () => {
  const registry = new ToolRegistry([bashTool({ root })]);
  expect(registry.describe('bash')).toMatchObject({ name: 'bash', anthropicType: 'bash_20250124', session: true, approval: 'always' });
  // The activity outlives the command's own timeout, so a slow command is reported rather than retried.
  expect(registry.describe('bash')!.startToCloseTimeoutMs).toBeGreaterThan(60_000);

  const conditional = bashTool({ root, needsApproval: (input) => input.command?.startsWith('ls') === true });
  expect(await conditional.needsApproval({ command: 'ls -la' })).toBe(true);
  expect(await conditional.needsApproval({ command: 'rm -rf x' })).toBe(false);
  expect(new ToolRegistry([conditional]).describe('bash')).toMatchObject({ approval: 'conditional', anthropicType: 'bash_20250124' });
});

test('bad options are refused when the worker starts', () => {
  expect(() => bashTool({} as BashToolOptions)).toThrow(/root/);
  // The API takes bash_20250124 under one name only.
  expect(() => bashTool({ root, name: 'shell' as 'bash' })).toThrow(/under the name 'bash' only/);
  expect(() => bashTool({ root, timeout: 'soon' })).toThrow(/timeout/);
  expect(() => bashTool({ root, maxOutputBytes: 10 })).toThrow(/maxOutputBytes/);
  expect(() => bashTool({ root, env: { 'NOT A NAME': 'x' } })).toThrow(/variable name/);
});
