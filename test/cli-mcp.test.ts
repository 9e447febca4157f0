// The CLI's MCP flags: --mcp and --mcp-url parsed into server configurations (splitting, names, errors), and the
// built CLI with real MCP servers: `tools` lists what a worker would offer, `worker --mcp` serves an MCP tool to a
// conversation started with `run`.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, ExitCode } from '../src/cli/errors';
import { describeMcpServer, MCP_AUTHORIZATION_ENV, mcpServerConfigs, sanitizeServerName, serverNameProblem, splitCommandLine } from '../src/cli/mcp-options';
import { reply, text, toolUse } from '../src/testing';
import { freePort } from '../src/devserver';
import { startHarness, uniquePrompt, type Harness } from './helpers/harness';
import { uniqueTaskQueue } from './helpers/temporal';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'lib', 'cli', 'main.js');
const FIXTURE = 'test/fixtures/mcp/test-server.mjs';
const EVERYTHING = 'node_modules/@modelcontextprotocol/server-everything/dist/index.js';

/** The usage error some flags get, or undefined when they are accepted. */
function refusal(values: Parameters<typeof mcpServerConfigs>[0], env: NodeJS.ProcessEnv = {}): string | undefined {
  try {
    mcpServerConfigs(values, env);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).code).toBe(ExitCode.usage);
    return (err as CliError).message;
  }
}

const names = (values: Parameters<typeof mcpServerConfigs>[0]) => mcpServerConfigs(values, {}).map((config) => config.name);

describe('splitting a --mcp command line', () => {
  test('blanks separate words; quotes and backslashes keep them together; no shell expansion', () => {
    expect(splitCommandLine('npx -y @modelcontextprotocol/server-filesystem /tmp')).toEqual(['npx', '-y', '@modelcontextprotocol/server-filesystem', '/tmp']);
    expect(splitCommandLine('  node\tserver.js   --flag  ')).toEqual(['node', 'server.js', '--flag']);
    expect(splitCommandLine(`node "my dir/server.js" 'it''s' a\\ b`)).toEqual(['node', 'my dir/server.js', 'its', 'a b']);
    expect(splitCommandLine(`say 'single "keeps" \\ literally'`)).toEqual(['say', 'single "keeps" \\ literally']);
    expect(splitCommandLine(`say "double \\"escapes\\" \\\\ only \\n"`)).toEqual(['say', 'double "escapes" \\ only \\n']);
    expect(splitCommandLine(`a '' "" b`)).toEqual(['a', '', '', 'b']);
    expect(splitCommandLine(`pre"mid"'dle'post`)).toEqual(['premiddlepost']);
    expect(splitCommandLine('echo $HOME * | cat; rm')).toEqual(['echo', '$HOME', '*', '|', 'cat;', 'rm']);
    expect(splitCommandLine('one \\\n two')).toEqual(['one', 'two']);
    expect(splitCommandLine('')).toEqual([]);
  });

  test('an unbalanced quote or a trailing backslash is an error that says where', () => {
    expect(() => splitCommandLine(`node 'server.js`)).toThrow(`unbalanced single quote (the ' at character 6 is never closed)`);
    expect(() => splitCommandLine(`node "server.js`)).toThrow('unbalanced double quote (the " at character 6 is never closed)');
    expect(() => splitCommandLine(`node "a\\"`)).toThrow(/unbalanced double quote/);
    expect(() => splitCommandLine('node server.js \\')).toThrow('a backslash at the end escapes nothing');
  });
});

describe('--mcp and --mcp-url as MCP server configurations', () => {
  test('--mcp: the first word is the command, the rest its arguments; NAME= names the server', () => {
    expect(mcpServerConfigs({ mcp: ['files=npx -y some-server /tmp'] }, {})).toEqual([{ name: 'files', command: 'npx', args: ['-y', 'some-server', '/tmp'] }]);
    expect(mcpServerConfigs({ mcp: [`db="/opt/my tools/db-server" --ro`] }, {})).toEqual([{ name: 'db', command: '/opt/my tools/db-server', args: ['--ro'] }]);
    expect(mcpServerConfigs({ mcp: ['db= node db.js'] }, {})).toEqual([{ name: 'db', command: 'node', args: ['db.js'] }]);
    // '=' after a '/' belongs to a path, and NAME= is only the first word.
    expect(mcpServerConfigs({ mcp: ['./bin/a=b --x=y'] }, {})).toEqual([{ name: 'a-b', command: './bin/a=b', args: ['--x=y'] }]);
  });

  test('without NAME=, the name is the script or package, without directory, extension, scope or version', () => {
    const derive = (line: string) => names({ mcp: [line] })[0];
    expect(derive(`node ${FIXTURE} stdio`)).toBe('test-server');
    expect(derive('npx -y @modelcontextprotocol/server-filesystem /tmp')).toBe('server-filesystem');
    expect(derive('npx -y @scope/pkg@1.2.3')).toBe('pkg');
    expect(derive('npx --package @x/y-cli y-mcp')).toBe('y-mcp');
    expect(derive('pnpm dlx mcp-remote https://x')).toBe('mcp-remote');
    expect(derive('/usr/local/bin/mcp-server-git --repository .')).toBe('mcp-server-git');
    expect(derive('uvx mcp-server-fetch')).toBe('mcp-server-fetch');
    expect(derive('uvx --from git+https://github.com/x/y.git y-server')).toBe('y-server');
    expect(derive('uv run python -m mcp_server_time')).toBe('mcp-server-time');
    expect(derive('python3 -m pkg.weather')).toBe('weather');
    expect(derive('python server.py')).toBe('server');
    expect(derive('npx tsx ./tools/calendar.ts')).toBe('calendar');
    expect(derive('docker run -i --rm -e TOKEN ghcr.io/github/github-mcp-server:latest')).toBe('github-mcp-server');
    expect(derive('env DEBUG=1 node ./weather.mjs')).toBe('weather');
    // Backslashes escape as in a shell: a Windows path goes in quotes.
    expect(derive(`'C:\\tools\\node.exe' srv.js`)).toBe('srv');
    expect(derive('C:\\tools\\srv.exe')).toBe('C-toolssrv');
    // index.js and the like say nothing: the package's directory names it.
    expect(derive(`node ${EVERYTHING} stdio`)).toBe('server-everything');
    // Anything else becomes letters, digits and '-'.
    expect(derive('node ./My_Server.v2.js')).toBe('My-Server-v2');
    expect(derive('node ./___.js')).toBe('mcp');
  });

  test('two servers that would get one name: the later ones get -2, -3; a given name is kept and never reused', () => {
    expect(names({ mcp: ['node a/weather.js', 'node b/weather.js', 'node c/weather.js'] })).toEqual(['weather', 'weather-2', 'weather-3']);
    expect(names({ mcp: ['node a/weather.js', 'weather=node b/other.js'] })).toEqual(['weather-2', 'weather']);
    expect(names({ mcp: ['node weather.js'], 'mcp-url': ['https://weather.example/mcp'] })).toEqual(['weather', 'weather-2']);
  });

  test('two servers given one name are refused, naming both', () => {
    expect(refusal({ mcp: ['files=node a.js', 'files=node b.js'] })).toBe(`two MCP servers are named 'files' (--mcp "files=node a.js" and --mcp "files=node b.js"): give each its own NAME=`);
    expect(refusal({ mcp: ['x=node a.js'], 'mcp-url': ['x=https://h.example/mcp'] })).toMatch(/^two MCP servers are named 'x' \(--mcp "x=node a.js" and --mcp-url "x=https:\/\/h.example\/mcp"\)/);
  });

  test('bad names, empty commands and unbalanced quotes are refused with the flag and what was given', () => {
    expect(refusal({ mcp: [''] })).toMatch(/^--mcp "": no command to start: give it as --mcp "NAME=COMMAND ARGS…"/);
    expect(refusal({ mcp: ['   '] })).toMatch(/^--mcp " {3}": no command to start/);
    expect(refusal({ mcp: ['files='] })).toMatch(/^--mcp "files=": no command to start for 'files'/);
    expect(refusal({ mcp: ['files=""'] })).toMatch(/^--mcp "files=\\"\\"": no command to start for 'files'/);
    expect(refusal({ mcp: [`node 'x`] })).toBe(`--mcp "node 'x": unbalanced single quote (the ' at character 6 is never closed)`);
    expect(refusal({ mcp: ['a__b=node x.js'] })).toBe(`--mcp "a__b=node x.js": the server name 'a__b' contains '__' (it separates the server's name from the tool's)`);
    expect(refusal({ mcp: ['my.files=node x.js'] })).toMatch(/^--mcp "my.files=node x.js": the server name 'my.files' must be letters, digits, '-' and single '_'/);
    expect(refusal({ mcp: [`${'n'.repeat(65)}=node x.js`] })).toMatch(/the server name 'n{65}' is longer than 64 characters/);
  });

  test('server names: letters, digits, - and single _, starting with a letter or digit, at most 64', () => {
    for (const good of ['files', 'my-files', 'my_files', 'a1', '1password', 'x'.repeat(64)]) expect(serverNameProblem(good)).toBeUndefined();
    for (const bad of ['', '-x', '_x', 'x_', 'a__b', 'a b', 'a.b', 'é', 'x'.repeat(65)]) expect(serverNameProblem(bad)).toBeDefined();
    expect(sanitizeServerName('@scope/Some.Thing__v2!')).toBe('scope-Some-Thing-v2');
    expect(sanitizeServerName('x'.repeat(100))).toHaveLength(60);
  });

  test('--mcp-url: an http(s) URL, NAME= optional, else named after its host', () => {
    expect(mcpServerConfigs({ 'mcp-url': ['https://mcp.example.com/mcp'] }, {})).toEqual([{ name: 'example', url: 'https://mcp.example.com/mcp' }]);
    expect(mcpServerConfigs({ 'mcp-url': ['crm=http://127.0.0.1:3000/mcp?token=a=b'] }, {})).toEqual([{ name: 'crm', url: 'http://127.0.0.1:3000/mcp?token=a=b' }]);
    expect(names({ 'mcp-url': ['http://localhost:3000/mcp', 'http://localhost:3001/mcp', 'http://127.0.0.1:9/mcp', 'https://www.tools.example.org/mcp', 'http://[::1]:8080/mcp'] })).toEqual([
      'localhost',
      'localhost-2',
      '127-0-0-1',
      'tools-example',
      '1',
    ]);
  });

  test('bad URLs are refused; credentials belong in the environment, not the URL', () => {
    expect(refusal({ 'mcp-url': ['localhost:3000'] })).toMatch(/^--mcp-url "localhost:3000": the URL must be http:\/\/ or https:\/\//);
    expect(refusal({ 'mcp-url': ['not a url'] })).toBe(`--mcp-url "not a url": 'not a url' is not a URL: give an http:// or https:// URL, e.g. https://mcp.example.com/mcp`);
    expect(refusal({ 'mcp-url': ['ws://h.example/mcp'] })).toMatch(/must be http:\/\/ or https:\/\/ \(Streamable HTTP\), got ws:\/\//);
    expect(refusal({ 'mcp-url': ['crm='] })).toMatch(/^--mcp-url "crm=": no URL for 'crm'/);
    expect(refusal({ 'mcp-url': ['a__b=https://h.example/mcp'] })).toMatch(/the server name 'a__b' contains '__'/);
    expect(refusal({ 'mcp-url': ['https://user:secret@h.example/mcp'] })).toMatch(new RegExp(`put no credentials in the URL: set ${MCP_AUTHORIZATION_ENV} instead`));
  });

  test(`the Authorization header comes from ${MCP_AUTHORIZATION_ENV} by name: its value is never in the configuration`, () => {
    const secret = 'Bearer very-secret-token';
    const configs = mcpServerConfigs({ 'mcp-url': ['https://h.example/mcp'], mcp: ['node x.js'] }, { [MCP_AUTHORIZATION_ENV]: secret });
    expect(configs).toEqual([
      { name: 'x', command: 'node', args: ['x.js'] },
      { name: 'h', url: 'https://h.example/mcp', headers: { Authorization: { env: MCP_AUTHORIZATION_ENV } } },
    ]);
    expect(JSON.stringify(configs)).not.toContain('very-secret-token');
    // Unset or blank: no header.
    expect(mcpServerConfigs({ 'mcp-url': ['https://h.example/mcp'] }, { [MCP_AUTHORIZATION_ENV]: ' ' })).toEqual([{ name: 'h', url: 'https://h.example/mcp' }]);
  });

  test('no flags: no servers; a server is described as given', () => {
    expect(mcpServerConfigs({}, {})).toEqual([]);
    const [stdio, remote] = mcpServerConfigs({ mcp: [`files=node "my dir/s.js" --root=/tmp 'it''s'`], 'mcp-url': ['https://h.example/mcp'] }, {});
    expect(describeMcpServer(stdio!)).toBe(`node 'my dir/s.js' --root=/tmp its`);
    expect(describeMcpServer(remote!)).toBe('https://h.example/mcp');
  });
});

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts the built CLI in the repository's directory (the fixture paths are relative to it). */
function cliProcess(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000) {
  const merged: NodeJS.ProcessEnv = { ...process.env, DURABLE_CLAUDE_EVENTS: undefined, ...env };
  for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { done, stdout: () => stdout, stderr: () => stderr, signal: (name: NodeJS.Signals) => child.kill(name) };
}

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => cliProcess(args, env).done;

/** What the test server logged (MCP_TEST_CALLS). */
function logged(file: string): Array<{ kind: string; tool?: string; pid: number }> {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { kind: string; tool?: string; pid: number });
}

/** Every one of these processes has exited (within a few seconds). */
async function expectExited(pids: number[]): Promise<void> {
  expect(pids.length).toBeGreaterThan(0);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 50 && pids.some(alive); i++) await sleep(100);
  expect(pids.filter(alive)).toEqual([]);
}

interface Row {
  name: string;
  source: string;
  server?: string;
  mcpName?: string;
  needsApproval: boolean | string;
  approvalSource: string;
  approvalReason: string;
}

describe('durable-claude tools', () => {
  beforeAll(() => {
    if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: build first (npm run build)`);
  });

  test('--json: the example tools, then the MCP server’s, each with its approval and where it comes from', async () => {
    const out = await cli(['tools', '--mcp', `node ${FIXTURE} stdio`, '--json']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const rows = JSON.parse(out.stdout) as Row[];
    expect(rows.slice(0, 3)).toEqual([
      expect.objectContaining({ name: 'get_weather', source: 'built-in', needsApproval: false, approvalSource: 'defineTool' }),
      expect.objectContaining({ name: 'get_time', source: 'built-in', needsApproval: false, approvalSource: 'defineTool' }),
      expect.objectContaining({ name: 'send_email', source: 'built-in', needsApproval: true, approvalSource: 'defineTool', approvalReason: 'defineTool: needsApproval' }),
    ]);
    const byName = new Map(rows.map((row) => [row.name, row]));
    expect(byName.get('test-server__lookup')).toEqual({
      name: 'test-server__lookup',
      source: 'mcp',
      server: 'test-server',
      mcpName: 'lookup',
      description: 'Look something up (read-only)',
      needsApproval: false,
      approvalSource: 'annotations',
      approvalReason: 'annotations: readOnlyHint',
      annotations: { readOnlyHint: true },
    });
    expect(byName.get('test-server__delete_record')).toMatchObject({ needsApproval: true, approvalSource: 'annotations', approvalReason: 'annotations: destructiveHint' });
    expect(byName.get('test-server__append_note')).toMatchObject({ needsApproval: false, approvalReason: 'annotations: readOnlyHint=false, destructiveHint=false, openWorldHint=false' });
    expect(byName.get('test-server__unannotated')).toMatchObject({ needsApproval: true, approvalReason: "annotations: none (MCP's defaults: may be destructive)" });
    expect(rows.filter((row) => row.source === 'mcp').every((row) => row.server === 'test-server' && row.name === `test-server__${row.mcpName}`)).toBe(true);
  });

  test('people get a table and a summary; two servers, one named with NAME=', async () => {
    const out = await cli(['tools', '--mcp', `db=node ${FIXTURE} stdio`, '--mcp', `node ${EVERYTHING} stdio`]);
    // server-everything announces a changed tool list as it starts; the listing again that this begins can still be
    // under way when tools closes the servers, and says so (a warning, not a failure).
    expect(out.stderr.split('\n').filter((line) => line !== '' && !/could not list its tools again \(notified\)/.test(line))).toEqual([]);
    expect(out.code).toBe(0);
    const lines = out.stdout.split('\n');
    expect(lines[0]).toMatch(/^NAME +FROM +APPROVAL +DESCRIPTION$/);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^send_email +built-in +yes · defineTool: needsApproval +Send an email/),
        expect.stringMatching(/^db__lookup +mcp db +no · annotations: readOnlyHint +Look something up \(read-only\)$/),
        expect.stringMatching(/^db__delete_record +mcp db +yes · annotations: destructiveHint +Delete a record for good$/),
        expect.stringMatching(/^server-everything__echo +mcp server-everything +(yes|no) · annotations/),
        `  db (${lines.filter((line) => line.startsWith('db__')).length} tools: node ${FIXTURE} stdio)`,
        expect.stringMatching(new RegExp(`^ {2}server-everything \\(\\d+ tools: node ${EVERYTHING} stdio\\)$`)),
      ]),
    );
    expect(out.stdout).toMatch(/\n3 built-in tools, \d+ from 2 MCP servers:\n/);
  });

  test('without MCP servers: the example tools only, and a hint', async () => {
    const out = await cli(['tools']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('3 built-in tools (add MCP servers with --mcp or --mcp-url)');
  });

  test('--mcp-url with the Authorization header from the environment', async () => {
    const server = spawn(process.execPath, [FIXTURE, 'http'], { cwd: ROOT, env: { ...process.env, MCP_TEST_PORT: '0', MCP_TEST_REQUIRE_AUTH: 'tok-123' }, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let seen = '';
        server.stdout.on('data', (d: Buffer) => {
          seen += d.toString();
          const match = /listening (\d+)/.exec(seen);
          if (match) resolve(Number(match[1]));
        });
        server.once('exit', (code) => reject(new Error(`the test server exited with ${code}`)));
      });
      const url = `crm=http://127.0.0.1:${port}/mcp`;
      const authorized = await cli(['tools', '--mcp-url', url, '--json'], { [MCP_AUTHORIZATION_ENV]: 'Bearer tok-123' });
      expect(authorized.stderr).toBe('');
      expect(authorized.code).toBe(0);
      expect((JSON.parse(authorized.stdout) as Row[]).map((row) => row.name)).toContain('crm__lookup');
      // Without it the server says 401: a server that cannot be used, exit 4.
      const refused = await cli(['tools', '--mcp-url', url], { [MCP_AUTHORIZATION_ENV]: undefined });
      expect(refused.code).toBe(ExitCode.unreachable);
      expect(refused.stderr).toMatch(/^durable-claude tools: MCP server 'crm' \(http:\/\/127\.0\.0\.1:\d+\) could not be reached/);
    } finally {
      server.kill('SIGTERM');
    }
  });

  test('bad flags exit 2 with the reason and the usage, before any server starts', async () => {
    const unbalanced = await cli(['tools', '--mcp', 'node "x']);
    expect(unbalanced.code).toBe(ExitCode.usage);
    expect(unbalanced.stderr).toContain('durable-claude tools: --mcp "node \\"x": unbalanced double quote');
    expect(unbalanced.stderr).toContain('usage: durable-claude tools');
    expect((await cli(['tools', '--mcp', ''])).stderr).toMatch(/--mcp "": no command to start/);
    expect((await cli(['tools', '--mcp-url', 'nope'])).code).toBe(ExitCode.usage);
    const twice = await cli(['tools', '--mcp', `a=node ${FIXTURE}`, '--mcp', `a=node ${FIXTURE}`]);
    expect(twice.code).toBe(ExitCode.usage);
    expect(twice.stderr).toMatch(/two MCP servers are named 'a'/);
    expect((await cli(['tools', 'extra'])).code).toBe(ExitCode.usage);
    // The same flags on worker and dev are checked before they connect to anything (an address nothing listens on).
    const worker = await cli(['worker', '--mcp', "node 'x", '--address', '127.0.0.1:1'], { ANTHROPIC_API_KEY: 'sk-test' });
    expect(worker.code).toBe(ExitCode.usage);
    expect(worker.stderr).toContain(`durable-claude worker: --mcp "node 'x": unbalanced single quote`);
    const dev = await cli(['dev', '--mcp-url', 'ftp://x', '--port', '1']);
    expect(dev.code).toBe(ExitCode.usage);
    expect(dev.stderr).toContain('durable-claude dev: --mcp-url "ftp://x": the URL must be http:// or https://');
  });

  test('a server that does not start: its name, why, what it printed, exit 4', async () => {
    const missing = await cli(['tools', '--mcp', 'no-such-mcp-server-command --x']);
    expect(missing.code).toBe(ExitCode.unreachable);
    expect(missing.stderr).toMatch(/^durable-claude tools: MCP server 'no-such-mcp-server-command' \(no-such-mcp-server-command\) could not be reached.*ENOENT/);
    const crashes = await cli(['tools', '--mcp', 'broken=node -e "console.error(\'no config found\'); process.exit(3)"']);
    expect(crashes.code).toBe(ExitCode.unreachable);
    expect(crashes.stderr).toMatch(/MCP server 'broken'/);
    expect(crashes.stderr).toContain('no config found');
  });

  test('the usage lists the command and the flags', async () => {
    const help = await cli(['--help']);
    expect(help.stdout).toMatch(/\n {2}tools \[--mcp …\]… \[--mcp-url …\]… \[--json\]\n/);
    expect(help.stdout).toContain('[--mcp "[NAME=]COMMAND ARGS"]… [--mcp-url [NAME=]URL]…');
    expect(help.stdout).toContain(MCP_AUTHORIZATION_ENV);
    for (const command of ['dev', 'worker', 'tools']) {
      const usage = await cli([command, '--help']);
      expect(usage.code).toBe(0);
      expect(usage.stdout).toContain('--mcp "[NAME=]COMMAND ARGS…"');
      expect(usage.stdout).toContain('--mcp-url [NAME=]URL');
    }
  });
});

describe('worker --mcp serves an MCP tool to a conversation started with run', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(() => harness?.close());

  test('the model calls a read-only MCP tool and a destructive one (approved with --yes); the worker says which servers it has', async () => {
    const taskQueue = uniqueTaskQueue('cli-mcp');
    const common = ['--address', harness.temporal.address, '--task-queue', taskQueue, '--storage-dir', 'off'];
    const env = { ANTHROPIC_API_KEY: 'sk-ant-test-key', ANTHROPIC_AUTH_TOKEN: undefined, ANTHROPIC_BASE_URL: harness.fake.baseURL };
    const prompt = uniquePrompt('Look up order 42, then delete it');
    harness.fake.addScript({
      match: prompt,
      steps: [reply(text('Looking.'), toolUse('db__lookup', { query: 'order 42' })), reply(toolUse('db__delete_record', { id: '42' })), reply(text('Deleted order 42.'))],
    });
    // The server gets a minimal environment: `env` passes it where to log (and the pid it runs as).
    const calls = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cli-mcp-')), 'calls.jsonl');
    const worker = cliProcess(['worker', '--mcp', `db=env MCP_TEST_CALLS=${calls} node ${FIXTURE} stdio`, ...common], env, 90_000);
    try {
      for (let i = 0; i < 300 && !worker.stdout().includes('Ctrl+C'); i++) await sleep(100);
      expect(worker.stderr()).toBe('');
      expect(worker.stdout()).toMatch(new RegExp(`worker on task queue ${taskQueue} .*, MCP servers db \\(\\d+ tools: env MCP_TEST_CALLS=\\S+ node ${FIXTURE} stdio\\); Ctrl\\+C to stop`));
      const ran = await cli(['run', prompt, '--tools', 'get_weather,db__*', '--yes', '--by', 'ci', ...common], env);
      expect(ran.stderr).toBe('');
      expect(ran.code).toBe(0);
      const lines = ran.stdout.split('\n');
      expect(lines).toEqual(
        expect.arrayContaining([
          '  → db__lookup {"query":"order 42"}',
          expect.stringMatching(/^ {2}← db__lookup: .*found order 42/),
          expect.stringMatching(/^ {2}⏸ db__delete_record waits for approval/),
          '  ✔ approved by ci',
          expect.stringMatching(/^ {2}← db__delete_record: .*deleted 42/),
          'claude › Deleted order 42.',
        ]),
      );
      // The lookup ran without asking: read-only by its annotations.
      expect(lines.filter((line) => /waits for approval/.test(line))).toHaveLength(1);
      expect(logged(calls).filter((entry) => entry.kind === 'call').map((entry) => entry.tool)).toEqual(['lookup', 'delete_record']);
    } finally {
      worker.signal('SIGINT');
      const stopped = await worker.done;
      expect(stopped.code).toBe(0);
    }
    // The worker stopped the server it started.
    await expectExited(logged(calls).filter((entry) => entry.kind === 'started').map((entry) => entry.pid));
  }, 120_000);
});

describe('dev --mcp', () => {
  test('the dev stack’s worker offers the MCP tools, says so, and stops the servers with it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-mcp-dev-'));
    const calls = path.join(dir, 'calls.jsonl');
    const ports = ['--port', String(await freePort()), '--ui-port', String(await freePort()), '--events-port', String(await freePort()), '--live-port', String(await freePort())];
    const env = { ANTHROPIC_API_KEY: undefined, ANTHROPIC_AUTH_TOKEN: undefined, TEMPORAL_ADDRESS: undefined };
    // The server adds a tool once it has been up a while, and says so.
    const server = `env MCP_TEST_CALLS=${calls} MCP_TEST_ADD_TOOL_AFTER_MS=1500 node ${FIXTURE} stdio`;
    const dev = cliProcess(['dev', '--db-file', path.join(dir, 'dev.db'), ...ports, '--mcp', server], env, 120_000);
    try {
      for (let i = 0; i < 600 && !dev.stdout().includes('try:'); i++) await sleep(100);
      expect(dev.stdout()).toMatch(/^worker +task queue durable-claude, tools: get_weather, get_time, send_email, test-server__lookup, test-server__delete_record, /m);
      const listed = new RegExp(`^MCP servers +test-server \\((\\d+) tools: env MCP_TEST_CALLS=\\S+ MCP_TEST_ADD_TOOL_AFTER_MS=1500 node ${FIXTURE} stdio\\) {3}\\(in a conversation: --tools 'get_weather,get_time,send_email,test-server__\\*'\\)$`, 'm').exec(dev.stdout());
      expect(listed).not.toBeNull();
      for (let i = 0; i < 100 && !dev.stderr().includes('changed its tools'); i++) await sleep(100);
      // Before the worker's line was printed or after: one tool more than without it.
      const before = Number(listed![1]) - (dev.stdout().includes('test-server__late') ? 1 : 0);
      expect(dev.stderr()).toContain(`MCP server test-server changed its tools: ${before + 1} tools now, for conversations that start from here on`);
    } finally {
      dev.signal('SIGINT');
    }
    const stopped = await dev.done;
    expect(stopped.code).toBe(0);
    expect(stopped.stderr).not.toMatch(/durable-claude dev:/);
    await expectExited(logged(calls).filter((entry) => entry.kind === 'started').map((entry) => entry.pid));
  }, 150_000);
});
