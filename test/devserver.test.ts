import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
