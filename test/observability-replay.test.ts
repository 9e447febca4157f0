// Turning telemetry on for a fleet whose conversations started without it: every recorded history replays with the
// telemetry's workflow interceptor modules in the bundle (they add no command and no yield on these histories).
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { TELEMETRY_WORKFLOW_MODULES } from '../src/observability';
import { parseHistory, replayHistory } from '../src/replay';
import { FIXTURES_DIR } from './helpers/fixtures';

jest.setTimeout(300_000);

const fixtures = fs.readdirSync(FIXTURES_DIR).filter((f) => f.endsWith('.json')).sort();

test('every recorded history replays on a worker with telemetry', async () => {
  expect(fixtures.length).toBeGreaterThan(10);
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows'), workflowInterceptorModules: [...TELEMETRY_WORKFLOW_MODULES], logger: { trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => console.error(m), log() {} } });
  const failures: string[] = [];
  for (const file of fixtures) {
    const outcome = await replayHistory(parseHistory(fs.readFileSync(path.join(FIXTURES_DIR, file), 'utf8')), { workflowBundle: { code } });
    if (!outcome.ok) failures.push(`${file}: ${'error' in outcome ? String((outcome as { error: unknown }).error) : 'failed'}`);
  }
  expect(failures).toEqual([]);
});
