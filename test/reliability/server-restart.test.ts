// The Temporal server itself crashes mid-run: the dev server keeps its state in a SQLite file, is SIGKILLed and
// started again on the same file and port. The worker and the client reconnect; every conversation completes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Anthropic from '@anthropic-ai/sdk';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { z } from 'zod';
import { AgentClient } from '../../src/client';
import { freePort, startDevServer, type DevServer } from '../../src/devserver';
import { defineTool } from '../../src/tools/define-tool';
import { FakeMessagesApi, reply, text, toolUse } from '../../src/testing';
import { createAgentWorker } from '../../src/worker';
import { writeFigures } from './figures';

const CONVERSATIONS = 10;
const RESTARTS = process.env.DURABLE_CLAUDE_SOAK ? 5 : 2;

test(`server restart: ${CONVERSATIONS} conversations complete across ${RESTARTS} SIGKILLs of the Temporal server`, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'server-restart-'));
  const dbFilename = path.join(dir, 'temporal.db');
  const port = await freePort();
  const fake = await FakeMessagesApi.start({ latency: { firstTokenMs: 300, chunkMs: 10 } });
  const start = () => startDevServer({ dbFilename, port, ui: false });
  let server: DevServer = await start();
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  const agent = new AgentClient({ client: new Client({ connection }), taskQueue: 'restart' });
  const lookup = defineTool({
    name: 'lookup',
    description: 'Look up',
    input: z.object({ q: z.string() }),
    run: async ({ q }) => {
      await sleep(200);
      return `found ${q}`;
    },
  });
  const worker = await createAgentWorker({
    connection: nativeConnection,
    taskQueue: 'restart',
    tools: [lookup],
    anthropic: new Anthropic({ apiKey: 'sk-ant-restart-test', baseURL: fake.baseURL, maxRetries: 0 }),
    workflowBundle: { codePath: process.env.DURABLE_CLAUDE_TEST_BUNDLE! },
  });
  const running = worker.run();
  try {
    const handles = [];
    for (let i = 0; i < CONVERSATIONS; i++) {
      const prompt = `Restart test ${i} ${port}`;
      fake.addScript({
        match: prompt,
        steps: [0, 1, 2, 3].map((turn) => (turn < 3 ? reply(toolUse('lookup', { q: `${i}-${turn}` })) : reply(text(`finished ${i}`)))),
      });
      handles.push(await agent.start({ prompt, tools: ['lookup'], conversationId: `restart-${i}`, modelRetry: { initialInterval: '200ms', maximumInterval: '1s', maximumAttempts: 50 } }));
    }
    for (let restart = 0; restart < RESTARTS; restart++) {
      await sleep(1500);
      await server.kill();
      await sleep(1000);
      server = await start();
    }
    const results = await Promise.all(
      handles.map(async (handle) => {
        // The result long-poll may break while the server is down; ask again until it answers.
        for (let attempt = 0; ; attempt++) {
          try {
            return await handle.result();
          } catch (err) {
            if (attempt > 60) throw err;
            await sleep(500);
          }
        }
      }),
    );
    expect(results.map((r) => r.status)).toEqual(Array(CONVERSATIONS).fill('completed'));
    results.forEach((r, i) => expect(r.text).toBe(`finished ${i}`));
    expect(results.every((r) => r.turns === 4 && r.transcript!.messages.length === 8)).toBe(true);
    writeFigures('server-restart', { conversations: CONVERSATIONS, serverKills: RESTARTS, completed: results.length });
  } finally {
    worker.shutdown();
    await running.catch(() => undefined);
    await connection.close();
    await nativeConnection.close();
    await server.stop();
    await fake.close();
  }
}, 300_000);
