// Where a turn's time goes: runs one durable-claude conversation on a fresh dev server against the fake API and
// prints its history as a timeline (ms since start, ms since the previous event), next to the fake API's view of
// each model request. This is how the per-turn overhead was profiled before optimising (see the README's
// Performance section). `npx tsx bench/timeline.ts [--turns 5] [--tools 4] [--tool-ms 200] [--model-ms 300]`
import Anthropic from '@anthropic-ai/sdk';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { AgentClient, createAgentWorker, defineTool } from '../src';
import { startDevServer } from '../src/dev';
import { FakeMessagesApi } from '../src/testing';
import { BENCH_MODEL } from './lib/protocol';
import { numberFlag as flag, scriptToolLoop } from './lib/tool-loop-script';
import { doWork, TOOL_DESCRIPTION, TOOL_NAME, workInput } from './lib/work-tool';

const EventType = temporal.api.enums.v1.EventType;
const millisOf = (event: temporal.api.history.v1.IHistoryEvent): number =>
  Number(event.eventTime?.seconds ?? 0) * 1000 + Math.floor((event.eventTime?.nanos ?? 0) / 1e6);

async function main(): Promise<void> {
  const turns = flag('turns', 5);
  const toolsPerTurn = flag('tools', 4);
  const toolMs = flag('tool-ms', 200);
  const modelMs = flag('model-ms', 300);
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const fake = await FakeMessagesApi.start();
  const server = await startDevServer({ ui: false });
  const work = defineTool({ name: TOOL_NAME, description: TOOL_DESCRIPTION, input: workInput, run: doWork });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const worker = await createAgentWorker({
    connection: nativeConnection,
    taskQueue: 'timeline',
    tools: [work],
    anthropic: new Anthropic({ apiKey: 'sk-ant-timeline', baseURL: fake.baseURL, maxRetries: 0 }),
  });
  const running = worker.run();
  const connection = await Connection.connect({ address: server.address });
  const agent = new AgentClient({ client: new Client({ connection }), taskQueue: 'timeline' });
  try {
    // A warm-up conversation first, so the timeline shows a warm worker (workflow bundle loaded, connections open).
    for (const prompt of ['timeline warm-up', 'timeline']) {
      scriptToolLoop(fake, prompt, { turns, toolsPerTurn, toolMs, modelMs });
      const t0 = Date.now();
      const handle = await agent.start({ prompt, model: BENCH_MODEL, tools: [TOOL_NAME], limits: { maxIterations: turns + 2 } });
      await handle.result();
      if (prompt !== 'timeline') continue;
      const wall = Date.now() - t0;
      const events = (await handle.fetchHistory()).events ?? [];
      const start = millisOf(events[0]!);
      console.log(`${turns} turns × ${toolsPerTurn} tools (tool ${toolMs} ms, model ${modelMs} ms): ${wall} ms from start() to result(), ${events.length} events`);
      console.log('   ms  +prev  event');
      let previous = start;
      for (const event of events) {
        const name = EventType[event.eventType ?? 0]?.replace('EVENT_TYPE_', '') ?? String(event.eventType);
        const activity = event.activityTaskScheduledEventAttributes?.activityType?.name ?? '';
        console.log(`${String(millisOf(event) - start).padStart(5)} ${String(millisOf(event) - previous).padStart(6)}  ${event.eventId} ${name} ${activity}`);
        previous = millisOf(event);
      }
      console.log('\nmodel requests as the fake API saw them (ms since start: received → ended):');
      for (const request of fake.requests.filter((r) => r.conversationKey === prompt)) {
        console.log(`  ${request.threadKind.padEnd(10)} ${request.receivedAt - start} → ${(request.endedAt ?? Number.NaN) - start}`);
      }
    }
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
    await nativeConnection.close();
    await server.stop();
    await fake.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
