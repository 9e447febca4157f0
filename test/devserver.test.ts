import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cachedTemporalCliPath, locateTemporalCli, TEMPORAL_CLI_VERSION } from '../src/devserver';
import { connectTestTemporal, type TestTemporal } from './helpers/temporal';

describe('the Temporal CLI finder', () => {
  const cli = process.env.TEMPORAL_TEST_CLI!;
  let scratch: string;
  beforeEach(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'finder-'));
  });
  afterEach(() => fs.rmSync(scratch, { recursive: true, force: true }));

  test('TEMPORAL_CLI wins over PATH and the cache', () => {
    const found = locateTemporalCli({ TEMPORAL_CLI: cli, PATH: '', DURABLE_CLAUDE_CACHE_DIR: scratch });
    expect(found).toEqual({ path: cli, source: 'env' });
  });

  test('a TEMPORAL_CLI that is not executable is a clear error, not a silent fallback', () => {
    expect(() => locateTemporalCli({ TEMPORAL_CLI: path.join(scratch, 'missing') })).toThrow(/TEMPORAL_CLI=.*not an executable/);
  });

  test('then `temporal` on PATH', () => {
    fs.symlinkSync(cli, path.join(scratch, 'temporal'));
    expect(locateTemporalCli({ PATH: scratch, DURABLE_CLAUDE_CACHE_DIR: path.join(scratch, 'cache') })).toEqual({
      path: path.join(scratch, 'temporal'),
      source: 'path',
    });
  });

  test('a Temporal binary in the temp directory is never picked up', () => {
    const planted = path.join(os.tmpdir(), `temporal-sdk-typescript-planted-${process.pid}`);
    fs.writeFileSync(planted, '#!/bin/sh\necho planted\n', { mode: 0o755 });
    try {
      expect(locateTemporalCli({ PATH: '', DURABLE_CLAUDE_CACHE_DIR: scratch })).toBeUndefined();
    } finally {
      fs.rmSync(planted, { force: true });
    }
  });

  test("then this machine's cache", () => {
    const env = { PATH: '', DURABLE_CLAUDE_CACHE_DIR: scratch };
    const cached = cachedTemporalCliPath(env);
    fs.mkdirSync(path.dirname(cached), { recursive: true });
    fs.symlinkSync(cli, cached);
    expect(locateTemporalCli(env)).toEqual({ path: cached, source: 'cache' });
    expect(cached).toContain(`temporal-cli-${TEMPORAL_CLI_VERSION}`);
  });

  test('the binary the tests run on is the official CLI with an embedded server', () => {
    const version = spawnSync(cli, ['--version'], { encoding: 'utf8' }).stdout;
    expect(version).toMatch(/temporal version \d+\.\d+\.\d+ \(Server \d+\.\d+\.\d+, UI \d+\.\d+\.\d+\)/);
  });
});

describe('the test dev server', () => {
  let temporal: TestTemporal;
  beforeAll(async () => {
    temporal = await connectTestTemporal();
  });
  afterAll(() => temporal.close());

  test('is a real Temporal server with the agent search attributes registered', async () => {
    const info = await temporal.connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toMatch(/^1\.\d+\.\d+/);
    const { customAttributes } = await temporal.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(['AgentStatus', 'AgentPendingApprovals']));
  });
});

/** Whether a process with this pid exists (a zombie counts as gone: it runs nothing). */
function isRunning(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitUntil(done: () => boolean, timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

const onLinux = process.platform === 'linux' ? describe : describe.skip;

onLinux('a dev server started by a process that dies', () => {
  const host = path.join(__dirname, 'helpers', 'dev-server-host.ts');

  test.each([
    ['is SIGKILLed', 'hang'],
    ['throws an uncaught exception', 'throw'],
    ['calls process.exit without stopping it', 'exit'],
  ])('stops with its host when the host %s, and takes its scratch database along', async (_how, ending) => {
    const child = spawn(process.execPath, ['--import', 'tsx', host, ending], { stdio: ['ignore', 'pipe', 'pipe'] });
    let printed = '';
    child.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    child.stderr.resume();
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    while (!printed.includes('\n')) {
      if (child.exitCode !== null) throw new Error(`the host exited (${child.exitCode}) before starting a server`);
      await sleep(50);
    }
    const { pid } = JSON.parse(printed) as { pid: number };
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(args).toContain('start-dev');
    const dbFilename = args[args.indexOf('--db-filename') + 1]!;
    expect(fs.existsSync(dbFilename)).toBe(true);
    if (ending === 'hang') child.kill('SIGKILL');
    await exited;
    const serverGone = await waitUntil(() => !isRunning(pid));
    if (!serverGone) process.kill(pid, 'SIGKILL');
    expect(serverGone).toBe(true);
    // The watchdog removes the database once the server has exited.
    expect(await waitUntil(() => !fs.existsSync(path.dirname(dbFilename)), 10_000)).toBe(true);
  });
});
