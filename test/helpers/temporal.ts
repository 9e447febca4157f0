// Shared access to the test run's Temporal dev server (started once in global-setup) and a worker per test.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { Client, Connection } from '@temporalio/client';
import type { ExternalStorage } from '@temporalio/common';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { fileSystemStorage } from '../../src/storage';
import { createAgentWorker, type AgentWorkerOptions } from '../../src/worker';

/**
 * The tests' external storage: one directory for the whole run (global-setup's scratch directory, removed at the
 * end), shared by every worker and client, as a deployment shares one bucket.
 */
export function testStorageDir(): string {
  return path.join(process.env.DURABLE_CLAUDE_TEST_DIR ?? os.tmpdir(), 'payloads');
}

let storage: ExternalStorage | undefined;
export function testStorage(): ExternalStorage {
  storage ??= fileSystemStorage({ directory: testStorageDir() });
  return storage;
}

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
  // Reads resolve the references the tests' workers leave in history (large tool results, transcripts).
  const client = new Client({ connection, namespace: 'default', dataConverter: { externalStorage: testStorage() } });
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

/** A test worker; with the tests' external storage unless `externalStorage: false` asks for a worker without. */
export async function createTestWorker(
  temporal: TestTemporal,
  options: Omit<AgentWorkerOptions, 'connection' | 'externalStorage'> & { taskQueue: string; externalStorage?: ExternalStorage | false },
): Promise<Worker> {
  const bundlePath = process.env.DURABLE_CLAUDE_TEST_BUNDLE;
  const { externalStorage = testStorage(), ...rest } = options;
  return createAgentWorker({
    ...rest,
    ...(externalStorage ? { externalStorage } : {}),
    connection: temporal.nativeConnection,
    ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : {}),
    model: { heartbeatIntervalMs: 1_000, ...options.model },
  });
}
