// Requests cancelled while the server runs their SQL (client deadlines, killed workers and CLIs do this) must not
// break the dev server. With the SQLite driver the official CLI v1.5.1 ships, such a cancel left the connection
// failing every later statement with "interrupted (9)"; this is why deploy/temporal-cli raises the driver, and why
// dev servers never use SQLite's in-memory mode (see scratchDbFilename).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startDevServer, type DevServer } from '../../src/devserver';
import { writeFigures } from './figures';

const CALLS = 3000;
const CONCURRENCY = 30;
const WORKFLOWS = 100;

let server: DevServer;
let connection: Connection;
let logFile: string;
beforeAll(async () => {
  logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cancelled-requests-')), 'server.log');
  // Its own server: this load would trip the shared one's rate limits under the other test files.
  server = await startDevServer({ ui: false, logFile });
  connection = await Connection.connect({ address: server.address });
});
afterAll(async () => {
  await connection?.close();
  await server?.stop();
});

test(`the dev server keeps answering after ${CALLS} requests cancelled by 1–15 ms deadlines`, async () => {
  const client = new Client({ connection });
  // Workflows that never run (no worker): rows for describe, history and visibility to read.
  for (let i = 0; i < WORKFLOWS; i++) await client.workflow.start('nothing', { taskQueue: 'nobody-polls', workflowId: `cancelled-${i}` });
  const service = connection.workflowService;
  const namespace = 'default';
  let cancelled = 0;
  for (let sent = 0; sent < CALLS; sent += CONCURRENCY) {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, (_, i) => {
        const execution = { workflowId: `cancelled-${(sent + i) % WORKFLOWS}` };
        const call = () =>
          i % 3 === 0
            ? service.listWorkflowExecutions({ namespace, pageSize: 100, query: '' }).then(() => undefined)
            : i % 3 === 1
              ? service.describeWorkflowExecution({ namespace, execution }).then(() => undefined)
              : service.getWorkflowExecutionHistory({ namespace, execution }).then(() => undefined);
        return connection.withDeadline(Date.now() + 1 + Math.floor(Math.random() * 15), call).catch(() => void (cancelled += 1));
      }),
    );
  }
  // Most calls were cut short, so the test did what it says.
  expect(cancelled).toBeGreaterThan(CALLS / 4);

  // Every kind of call still works: point reads, history, visibility and a write.
  const described = await client.workflow.getHandle('cancelled-7').describe();
  expect(described.status.name).toBe('RUNNING');
  expect((await client.workflow.getHandle('cancelled-8').fetchHistory()).events?.length).toBeGreaterThan(0);
  await client.workflow.start('nothing', { taskQueue: 'nobody-polls', workflowId: 'after-the-storm' });
  let listed = 0;
  for await (const _ of client.workflow.list({ query: `WorkflowId = 'after-the-storm'` })) listed += 1;
  for (let i = 0; i < 50 && listed === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    for await (const _ of client.workflow.list({ query: `WorkflowId = 'after-the-storm'` })) listed += 1;
  }
  expect(listed).toBe(1);
  const log = fs.readFileSync(logFile, 'utf8');
  expect(log).not.toMatch(/interrupted \(9\)|no such table/);
  writeFigures('cancelled-requests', { calls: CALLS, cancelled, serverHealthyAfter: 'yes' });
});
