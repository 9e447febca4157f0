// The CLI as users run it: the built `durable-claude` binary as a child process, against the real dev server.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { exampleTools } from '../src/examples/tools';
import { reply, text, toolUse } from '../src/testing';
import { startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';
import { uniqueTaskQueue } from './helpers/temporal';
import { freePort } from '../src/devserver';
import { DEMO_PROMPT } from '../src/demo/scripted-model';

const BIN = path.join(__dirname, '..', 'lib', 'cli', 'main.js');

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts the built CLI; `input` is written to its stdin (no terminal attached, as in scripts and CI). */
function cliProcess(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}) {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  child.stdin.end(options.input ?? '');
  return { done, stdout: () => stdout, signal: (name: NodeJS.Signals) => child.kill(name) };
}

/** Runs the built CLI to its end. */
function cli(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  return cliProcess(args, options).done;
}

let harness: Harness;
let taskQueue: string;
let common: string[];
beforeAll(async () => {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: npm test builds it first (npm run build)`);
  harness = await startHarness();
  taskQueue = uniqueTaskQueue('cli');
  common = ['--address', harness.temporal.address, '--task-queue', taskQueue];
});
afterAll(() => harness.close());

const tools = exampleTools();
const serve = <T>(fn: () => Promise<T>) => withWorker(harness, { tools, taskQueue }, () => fn());

function weatherScript(prompt: string, lastReplyMs = 0) {
  harness.fake.addScript({
    match: prompt,
    steps: [
      reply(text('Checking both.'), toolUse('get_weather', { location: 'Paris' }), toolUse('get_time', { timezone: 'Europe/Paris' })),
      reply(toolUse('send_email', { to: 'team@example.com', subject: 'Paris', body: 'Sunny.' })),
      { ...reply(text('Emailed the team.')), latency: { firstTokenMs: lastReplyMs } },
    ],
  });
}

describe('durable-claude CLI', () => {
  test('run --yes prints each turn as it happens and a summary, and approves the gated call', async () => {
    const prompt = uniquePrompt('Weather and time in Paris, then email');
    weatherScript(prompt);
    const out = await serve(() => cli(['run', prompt, '--yes', '--by', 'ci-bot', '--id', `cli-run-${Date.now()}`, ...common]));
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const lines = out.stdout.split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        'claude › Checking both.',
        '  → get_weather {"location":"Paris"}',
        '  → get_time {"timezone":"Europe/Paris"}',
        expect.stringMatching(/^ {2}← get_weather: \{"location":"Paris","temperature":\d+/),
        expect.stringMatching(/^ {2}⏸ send_email waits for approval \(toolu_/),
        '  ✔ approved by ci-bot',
        'claude › Emailed the team.',
      ]),
    );
    expect(out.stdout).toMatch(/✔ completed · 3 turns · [\d,]+ input \+ [\d,]+ cache read \+ [\d,]+ cache write \/ [\d,]+ output tokens · \$[\d.]+ · [\d.]+s · conversation cli-run-/);
  });

  test('run --wait, then pending, approve and show from other processes', async () => {
    const prompt = uniquePrompt('Weather, time and email, decided elsewhere');
    // The last answer takes a while, so a second click arrives while the conversation still runs.
    weatherScript(prompt, 3000);
    const id = `cli-wait-${Date.now()}`;
    await serve(async () => {
      const running = cli(['run', prompt, '--wait', '--id', id, ...common]);
      let listed: { toolUseId: string; toolName: string }[] = [];
      for (let i = 0; i < 100 && listed.length === 0; i++) {
        await sleep(200);
        const pending = await cli(['pending', id, '--json', ...common]);
        // 3 (not found) until the other process has started the conversation; anything else is a failure.
        if (pending.code === 3) continue;
        expect(pending.code).toBe(0);
        listed = JSON.parse(pending.stdout) as typeof listed;
      }
      expect(listed[0]!.toolName).toBe('send_email');
      const everyone = await cli(['pending', ...common]);
      expect(everyone.stdout).toContain(id);
      const bad = await cli(['approve', id, listed[0]!.toolUseId, '--input', '{not json', ...common]);
      expect(bad.code).toBe(2);
      const approved = await cli(['approve', id, listed[0]!.toolUseId, '--by', 'ops@example.com', ...common]);
      expect(approved).toMatchObject({ code: 0, stdout: expect.stringContaining('approved send_email') });
      const again = await cli(['approve', id, listed[0]!.toolUseId, '--by', 'ops@example.com', ...common]);
      expect(again.code).toBe(6);
      expect(again.stderr).toMatch(/already approved by ops@example.com/);
      const finished = await running;
      expect(finished.code).toBe(0);
      expect(finished.stdout).toContain('decide with: durable-claude approve');
    });
    // No worker runs now: a completed conversation is shown from its result.
    const shown = await cli(['show', id, ...common]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^conversation cli-wait-\d+ · completed · 3 turns/);
    expect(shown.stdout).toMatch(/approval: .* approved send_email \(toolu_.*\) by ops@example.com via update/);
    const listed = await cli(['list', '--status', 'completed', '--query', `WorkflowId = '${id}'`, ...common]);
    expect(listed.stdout).toMatch(new RegExp(`completed +0 pending +\\$[\\d.]+  ${id}`));
  });

  test('a conversation whose worker is gone: pending and show say so (exit 9) instead of hanging', async () => {
    const prompt = uniquePrompt('Email while the worker goes away');
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('send_email', { to: 'y@example.com', subject: 's', body: 'b' })), reply(text('Sent.'))] });
    const id = `cli-orphan-${Date.now()}`;
    const orphanQueue = uniqueTaskQueue('cli-orphan');
    const orphanCommon = ['--address', harness.temporal.address, '--task-queue', orphanQueue];
    let pendingCalls: Array<{ toolUseId: string }> = [];
    await withWorker(harness, { tools, taskQueue: orphanQueue }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['send_email'], conversationId: id });
      for (let i = 0; i < 100 && pendingCalls.length === 0; i++) {
        await sleep(100);
        pendingCalls = await handle.pending();
      }
    });
    // A duration as the rest of the project writes them (the workflow options' parser); '1500' works too.
    const env = { DURABLE_CLAUDE_QUERY_TIMEOUT_MS: '1.5s' };
    try {
      const one = await cli(['pending', id, ...orphanCommon], { env });
      expect(one.code).toBe(9);
      expect(one.stderr).toMatch(/No worker answered a query on conversation cli-orphan-\d+ within 1.5s; is a worker running on its task queue\?/);
      const shown = await cli(['show', id, ...orphanCommon], { env });
      expect(shown.code).toBe(9);
      // Across conversations it is still counted, with the reason its calls are not listed.
      let all = await cli(['pending', ...orphanCommon], { env });
      for (let i = 0; i < 50 && !all.stderr.includes(id); i++) {
        await sleep(200);
        all = await cli(['pending', ...orphanCommon], { env });
      }
      expect(all.code).toBe(0);
      expect(all.stderr).toMatch(new RegExp(`${id}  1 waiting, not listed: No worker answered`));
      expect((await cli(['pending', id, ...orphanCommon], { env: { DURABLE_CLAUDE_QUERY_TIMEOUT_MS: 'soon' } })).code).toBe(2);
      // The decide Update needs a worker to answer; a signal is stored by Temporal and applied by the next worker.
      const unconfirmed = await cli(['approve', id, pendingCalls[0]!.toolUseId, '--by', 'ops', ...orphanCommon], { env });
      expect(unconfirmed.code).toBe(9);
      expect(unconfirmed.stderr).toMatch(/No worker answered the decision .* not confirmed: .* send it as a signal too/);
      expect((await cli(['approve', id, pendingCalls[0]!.toolUseId, '--by', ' ', '--signal', ...orphanCommon])).code).toBe(6);
      const queued = await cli(['approve', id, pendingCalls[0]!.toolUseId, '--by', 'ops', '--signal', ...orphanCommon]);
      expect(queued).toMatchObject({ code: 0, stdout: expect.stringContaining(`sent approve of ${pendingCalls[0]!.toolUseId} by ops as a signal`) });
      const result = await withWorker(harness, { tools, taskQueue: orphanQueue }, (agent) => agent.getHandle(id).result());
      expect(result.status).toBe('completed');
      // One decision on record: the unconfirmed Update (if the server kept it) or the signal, whichever came first.
      expect(result.transcript!.approvals).toEqual([expect.objectContaining({ toolUseId: pendingCalls[0]!.toolUseId, decision: 'approved', by: 'ops' })]);
    } finally {
      await harness.temporal.client.workflow
        .getHandle(id)
        .terminate('test cleanup: its worker is gone')
        .catch(() => undefined);
    }
  });

  test('run with no worker yet says so, keeps waiting, and carries on when one starts', async () => {
    const prompt = uniquePrompt('Weather once a worker starts');
    // The answer takes a while, so the follower sees the worker answer before the conversation ends.
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('get_weather', { location: 'Oslo' })), { ...reply(text('Cold in Oslo.')), latency: { firstTokenMs: 3000 } }] });
    const lateQueue = uniqueTaskQueue('cli-late');
    const running = cliProcess(['run', prompt, '--yes', ...['--address', harness.temporal.address, '--task-queue', lateQueue]], {
      env: { DURABLE_CLAUDE_QUERY_TIMEOUT_MS: '1000' },
    });
    for (let i = 0; i < 150 && !running.stdout().includes('no worker answers'); i++) await sleep(100);
    expect(running.stdout()).toContain("no worker answers on this conversation's task queue; waiting for one");
    await withWorker(harness, { tools, taskQueue: lateQueue }, async () => {
      const finished = await running.done;
      expect(finished.code).toBe(0);
      expect(finished.stdout).toContain('a worker answers again');
      expect(finished.stdout).toContain('claude › Cold in Oslo.');
      expect(finished.stdout).toMatch(/✔ completed · 2 turns/);
    });
  });

  test('reject needs a reason; the reason reaches the model', async () => {
    const prompt = uniquePrompt('Email to be rejected');
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('send_email', { to: 'x@example.com', subject: 's', body: 'b' })), reply(text('Understood, not sent.'))] });
    const id = `cli-reject-${Date.now()}`;
    await serve(async () => {
      const running = cli(['run', prompt, '--wait', '--id', id, ...common]);
      let toolUseId: string | undefined;
      for (let i = 0; i < 100 && !toolUseId; i++) {
        await sleep(200);
        const pending = await cli(['pending', id, '--json', ...common]);
        if (pending.code === 3) continue; // not started yet
        toolUseId = (JSON.parse(pending.stdout) as Array<{ toolUseId: string }>)[0]?.toolUseId;
      }
      expect((await cli(['reject', id, toolUseId!, ...common])).code).toBe(2);
      expect((await cli(['reject', id, toolUseId!, '--reason', 'wrong recipient', ...common])).code).toBe(0);
      const finished = await running;
      expect(finished.stdout).toContain('✗ send_email: The user rejected this tool call (decided by');
      expect(finished.stdout).toContain('wrong recipient');
    });
  });

  test('chat reads messages from stdin until /end', async () => {
    const prompt = uniquePrompt('Hello chat');
    harness.fake.addScript({ match: prompt, steps: [reply(text('Hi! What can I do?')), reply(text('Goodbye.'))] });
    const out = await serve(() => cli(['chat', '--tools', '', ...common], { input: `${prompt}\nThat is all\n/end\n` }));
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('claude › Hi! What can I do?');
    expect(out.stdout).toContain('claude › Goodbye.');
    expect(out.stdout).toMatch(/completed · 2 turns/);
  });

  test('chat decides a call waiting for approval while the answer waits: --yes approves, otherwise the next line does', async () => {
    for (const [flags, input, said] of [
      [['--yes'], '', '✔ send_email approved by tester'],
      [[], 'y\n', '✔ approved by tester'],
    ] as const) {
      const prompt = uniquePrompt('Chat that emails');
      harness.fake.addScript({
        match: prompt,
        steps: [reply(toolUse('send_email', { to: 'ada@example.com', subject: 'Hi', body: 'Hello Ada' })), reply(text('Sent it.'))],
      });
      const out = await serve(() => cli(['chat', ...flags, '--by', 'tester', ...common], { input: `${prompt}\n${input}/end\n` }));
      expect(out.code).toBe(0);
      expect(out.stdout).toContain(said);
      expect(out.stdout).toContain('claude › Sent it.');
    }
  });

  test('replay <id> and replay --file (a `temporal workflow show --output json` file)', async () => {
    const prompt = uniquePrompt('Replay me');
    harness.fake.addScript({ match: prompt, steps: [reply(text('fine'))] });
    const id = `cli-replay-${Date.now()}`;
    await serve(() => cli(['run', prompt, '--yes', '--id', id, ...common]));
    const byId = await cli(['replay', id, ...common]);
    expect(byId.code).toBe(0);
    expect(byId.stdout).toMatch(/replays cleanly against the current workflow code \(\d+ events\)/);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'replay-')), 'history.json');
    const shown = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.env.TEMPORAL_TEST_CLI!, ['workflow', 'show', '--address', harness.temporal.address, '--workflow-id', id, '--output', 'json']);
      let json = '';
      child.stdout.on('data', (d: Buffer) => (json += d.toString()));
      child.on('close', (code) => (code === 0 ? resolve(json) : reject(new Error(`temporal workflow show exited ${code}`))));
    });
    fs.writeFileSync(file, shown);
    const byFile = await cli(['replay', '--file', file]);
    expect(byFile.code).toBe(0);
    fs.writeFileSync(file, '{"nope": true}');
    const notHistory = await cli(['replay', '--file', file]);
    expect(notHistory.code).toBe(2);
    expect(notHistory.stderr).toMatch(/not a Temporal history/);
  });

  test('export writes one file with the transcript and the history', async () => {
    const prompt = uniquePrompt('Export via CLI');
    harness.fake.addScript({ match: prompt, steps: [reply(text('exported'))] });
    const id = `cli-export-${Date.now()}`;
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'export-')), 'bug.json');
    await serve(async () => {
      await cli(['run', prompt, '--yes', '--id', id, ...common]);
      const exported = await cli(['export', id, '--out', out, ...common]);
      expect(exported.code).toBe(0);
    });
    const file = JSON.parse(fs.readFileSync(out, 'utf8')) as { readable: string[]; history: { events: unknown[] }; status: string };
    expect(file.status).toBe('completed');
    expect(file.readable).toContain('claude › exported');
    expect(file.history.events.length).toBeGreaterThan(5);
  });

  test('clear errors and exit codes: unknown id, unreachable server, missing API key, bad arguments', async () => {
    const unknown = await cli(['show', 'no-such-conversation', ...common]);
    expect(unknown).toMatchObject({ code: 3, stderr: expect.stringContaining('No conversation with id no-such-conversation') });
    const unreachable = await cli(['list', '--address', '127.0.0.1:1']);
    expect(unreachable.code).toBe(4);
    expect(unreachable.stderr).toMatch(/cannot reach Temporal at 127\.0\.0\.1:1/);
    const noKey = await cli(['worker', ...common], { env: { ANTHROPIC_API_KEY: undefined, ANTHROPIC_AUTH_TOKEN: undefined } });
    expect(noKey.code).toBe(7);
    expect(noKey.stderr).toMatch(/ANTHROPIC_API_KEY is not set/);
    expect((await cli(['run'])).code).toBe(2);
    expect((await cli(['run', 'x', '--max-tokens', 'many', ...common])).code).toBe(2);
    expect((await cli(['frobnicate'])).code).toBe(2);
    const badOption = await cli(['list', '--colour', 'red']);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/Unknown option '--colour'/);
    const badStart = await cli(['run', 'x', '--tools', 'bad name!', ...common]);
    expect(badStart.code).toBe(2);
    expect(badStart.stderr).toMatch(/tools\[0\] must be a tool name/);
  });

  test('dev serves a dev server, the Web UI, an event store, live output over SSE and a worker, keeps its data across restarts and stops cleanly on SIGINT', async () => {
    const dbFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cli-dev-')), 'dev.db');
    const port = await freePort();
    const ports = ['--events-port', String(await freePort()), '--live-port', String(await freePort())];
    const env = { ANTHROPIC_API_KEY: undefined, ANTHROPIC_AUTH_TOKEN: undefined, TEMPORAL_ADDRESS: undefined, DURABLE_CLAUDE_EVENTS: undefined };
    const startDev = async () => {
      const dev = cliProcess(['dev', '--db-file', dbFile, '--port', String(port), '--ui-port', String(await freePort()), ...ports], { env, timeoutMs: 120_000 });
      for (let i = 0; i < 600 && !dev.stdout().includes('try:'); i++) await sleep(100);
      expect(dev.stdout()).toMatch(/Temporal Web UI +http:\/\/127\.0\.0\.1:\d+/);
      const eventsUrl = /event store +(nats:\/\/\S+)/.exec(dev.stdout())?.[1];
      const liveUrl = /live output \(SSE\) +(http:\/\/\S+)\/conversations/.exec(dev.stdout())?.[1];
      expect(eventsUrl).toBeDefined();
      expect(liveUrl).toBeDefined();
      return { dev, eventsUrl: eventsUrl!, liveUrl: liveUrl! };
    };
    const devCommon = ['--address', `127.0.0.1:${port}`, '--task-queue', 'durable-claude'];
    const first = await startDev();
    const id = `cli-dev-${Date.now()}`;
    const ran = await cli(['run', DEMO_PROMPT, '--yes', '--id', id, '--events', first.eventsUrl, ...devCommon], { env });
    expect(ran.code).toBe(0);
    expect(ran.stdout).toMatch(/✔ completed · 3 turns/);
    expect(ran.stdout).toContain('  ⚙ get_weather running');
    // The same conversation's events over Server-Sent Events, and its page.
    const sse = await fetch(`${first.liveUrl}/conversations/${id}/events`);
    expect(sse.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const body = await sse.text();
    expect(body).toMatch(/^id: \d+\nevent: turn_started\n/m);
    expect(body).toContain('event: text_delta');
    expect(body).toMatch(/event: end\n/);
    const page = await fetch(`${first.liveUrl}/conversations/${id}`);
    expect(await page.text()).toContain('new EventSource');
    first.dev.signal('SIGINT');
    const stopped = await first.dev.done;
    expect(stopped.code).toBe(0);
    expect(stopped.stderr).not.toMatch(/Cannot close connection|durable-claude dev:/);
    // Same files, new servers: the conversation is still there, read from its result, and its live output too.
    const second = await startDev();
    const shown = await cli(['show', id, ...devCommon], { env });
    const watched = await cli(['watch', id, '--from-start', '--events', second.eventsUrl, ...devCommon], { env });
    second.dev.signal('SIGTERM');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^conversation ${id} · completed · 3 turns`));
    expect(watched.code).toBe(0);
    expect(watched.stdout).toContain('⏸ send_email waits for approval');
    expect((await second.dev.done).code).toBe(0);
  }, 150_000);

  test('the demo runs to completion non-interactively with --yes, on its own dev server and the simulated model', async () => {
    const out = await cli(['demo', '--yes'], { env: { ANTHROPIC_API_KEY: undefined, ANTHROPIC_AUTH_TOKEN: undefined, TEMPORAL_ADDRESS: undefined }, timeoutMs: 120_000 });
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('model: SIMULATED');
    expect(out.stdout).toMatch(/→ get_weather .*\n {2}→ get_time/);
    expect(out.stdout).toContain('⏸ send_email waits for approval');
    expect(out.stdout).toMatch(/✔ completed · 3 turns/);
    expect(out.stdout).toMatch(/See the whole history in the Temporal Web UI: http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/demo-\d+\/[\w-]+\/history/);
  }, 150_000);
});

test('the CLI modules import no module that imports them back', () => {
  const dir = path.join(__dirname, '..', 'src', 'cli');
  const importsOf = (file: string) =>
    [...fs.readFileSync(path.join(dir, file), 'utf8').matchAll(/^import [^;]*? from '\.\/([\w-]+)'/gm)].map((m) => `${m[1]}.ts`);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ts'));
  const cycles: string[] = [];
  const visit = (file: string, trail: string[]) => {
    for (const next of importsOf(file)) {
      if (next === trail[0]) cycles.push([...trail, next].join(' → '));
      else if (!trail.includes(next) && files.includes(next)) visit(next, [...trail, next]);
    }
  };
  for (const file of files) visit(file, [file]);
  expect(cycles).toEqual([]);
});
