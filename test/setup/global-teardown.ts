import fs from 'node:fs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { removeScratchDb } from '../../src/devserver';
import type { EventServer } from '../../src/event-server';

export default async function globalTeardown(): Promise<void> {
  await Promise.all([
    (globalThis as { __temporalEnv?: TestWorkflowEnvironment }).__temporalEnv?.teardown(),
    (globalThis as { __eventServer?: EventServer }).__eventServer?.stop(),
  ]);
  if (process.env.DURABLE_CLAUDE_TEST_DB) removeScratchDb(process.env.DURABLE_CLAUDE_TEST_DB);
  const dir = process.env.DURABLE_CLAUDE_TEST_DIR;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
