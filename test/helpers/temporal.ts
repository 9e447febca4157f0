// Shared access to the test run's Temporal dev server (started once in global-setup) and a worker per test.
import { randomUUID } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { createAgentWorker, type AgentWorkerOptions } from '../../src/worker';

export interface TestTemporal {
  client: Client;
  connection: Connection;
  nativeConnection: NativeConnection;
  address: string;
  close(): Promise<void>;
}

export async function connectTestTemporal(): Promise<TestTemporal> {
  const address = process.env.TEMPORAL_TEST_ADDRESS;
  if (!address) throw new Error('TEMPORAL_TEST_ADDRESS is not set: run the tests through jest (global-setup starts the server)');
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  return {
    client,
    connection,
    nativeConnection,
    address,
    async close() {
      await connection.close();
      await nativeConnection.close();
    },
  };
}

export function uniqueTaskQueue(prefix = 'test'): string {
  return `${prefix}-${randomUUID()}`;
}

/** The SDK as the worker uses it, pointed at the fake API. maxRetries 0: Temporal owns retries. */
export function fakeAnthropic(baseURL: string, apiKey = 'sk-ant-test-key-never-in-history'): Anthropic {
  return new Anthropic({ apiKey, baseURL, maxRetries: 0 });
}

export async function createTestWorker(
  temporal: TestTemporal,
  options: Omit<AgentWorkerOptions, 'connection'> & { taskQueue: string },
): Promise<Worker> {
  const bundlePath = process.env.DURABLE_CLAUDE_TEST_BUNDLE;
  return createAgentWorker({
    ...options,
    connection: temporal.nativeConnection,
    ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : {}),
    model: { heartbeatIntervalMs: 1_000, ...options.model },
  });
}
