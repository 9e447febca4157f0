// One real Temporal dev server, one nats-server with JetStream (the live-output event store) and one workflow bundle
// for the whole test run: starting any of them per test file would cost seconds each on a 2-core machine.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import { TELEMETRY_WORKFLOW_MODULES } from '../../src/observability/workflow-modules';
import { devServerDynamicConfigArgs, findTemporalCli, scratchDbFilename, scratchDbPragmaArgs } from '../../src/devserver';
import { startEventServer, type EventServer } from '../../src/event-server';
import { AGENT_SEARCH_ATTRIBUTES } from '../../src/search-attributes';

export default async function globalSetup(): Promise<void> {
  // Started (and, on a machine without one, built) while the Temporal server starts.
  const eventServer = startEventServer();
  eventServer.catch(() => undefined); // Awaited below; this only keeps an early failure from going unhandled.
  const cli = await findTemporalCli();
  // A scratch file, never SQLite's in-memory mode: see scratchDbFilename.
  const dbFilename = scratchDbFilename('durable-claude-test-db');
  process.env.DURABLE_CLAUDE_TEST_DB = dbFilename;
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli.path },
      dbFilename,
      searchAttributes: [...AGENT_SEARCH_ATTRIBUTES],
      extraArgs: [...devServerDynamicConfigArgs(), ...scratchDbPragmaArgs()],
    },
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-claude-test-'));
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    // As every worker bundles it (AgentPlugin): telemetry's workflow interceptor module.
    workflowInterceptorModules: [...TELEMETRY_WORKFLOW_MODULES],
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} } as never,
  });
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, bundle.code);
  (globalThis as { __temporalEnv?: TestWorkflowEnvironment }).__temporalEnv = env;
  const events = await eventServer;
  (globalThis as { __eventServer?: EventServer }).__eventServer = events;
  process.env.DURABLE_CLAUDE_TEST_EVENTS_URL = events.url;
  process.env.TEMPORAL_TEST_ADDRESS = env.address;
  process.env.TEMPORAL_TEST_CLI = cli.path;
  process.env.DURABLE_CLAUDE_TEST_BUNDLE = bundlePath;
  process.env.DURABLE_CLAUDE_TEST_DIR = dir;
}
