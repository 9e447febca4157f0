// The bare_temporal worker, as the bench's peer process (peer.ts) and bench/floor.ts run it: its own workflow bundle
// and the worker options durable-claude's AgentPlugin sets (src/plugin.ts: activity slots, heartbeat throttle), so
// the two workers differ in what they run, not how they are set up.
import path from 'node:path';
import { bundleWorkflowCode, Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createBareActivities } from './activities';

export interface BareWorkerOptions {
  connection: NativeConnection;
  taskQueue: string;
  /** The fake Messages API the model activity posts to. */
  fakeURL: string;
  /** Worker options on top (the bench's BENCH_WORKER_OPTIONS). */
  overrides?: Partial<WorkerOptions>;
}

export async function createBareWorker({ connection, taskQueue, fakeURL, overrides = {} }: BareWorkerOptions): Promise<Worker> {
  const bundle = await bundleWorkflowCode({
    workflowsPath: path.join(__dirname, 'workflows.ts'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never,
  });
  return Worker.create({
    connection,
    taskQueue,
    workflowBundle: bundle,
    activities: createBareActivities(fakeURL),
    maxConcurrentActivityTaskExecutions: 200,
    maxConcurrentLocalActivityExecutions: 200,
    defaultHeartbeatThrottleInterval: '1s',
    maxHeartbeatThrottleInterval: '2s',
    ...overrides,
  });
}
