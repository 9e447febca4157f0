// Where each millisecond of a turn goes, durable-claude against the floor (bench/peers/bare-temporal): the same
// scripted conversations on one fresh dev server, one peer after the other, each conversation's history read into
// phases (bench/lib/history-phases.ts), medians per turn. The README's Performance section explains the gap with it.
// `npx tsx bench/floor.ts [--turns 10] [--tools 3] [--tool-ms 0] [--model-ms 0] [--conversations 7] [--native-client]`
// (--native-client: both clients on the worker's NativeConnection, so starts are eager; --no-cost-attribute and
// --no-search-attributes: conversations started without those upserts, to see what they cost).
import Anthropic from '@anthropic-ai/sdk';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { AgentClient, createAgentWorker, defineTool } from '../src';
import { startDevServer } from '../src/dev';
import { FakeMessagesApi } from '../src/testing';
import { historyPhases, millisOf, type HistoryPhases } from './lib/history-phases';
import { BENCH_MODEL } from './lib/protocol';
import { median, round } from './lib/stats';
import { numberFlag as flag, scriptToolLoop } from './lib/tool-loop-script';
import { doWork, TOOL_DESCRIPTION, TOOL_NAME, workInput } from './lib/work-tool';
import { createBareWorker } from './peers/bare-temporal/worker';
import type { bareConversation } from './peers/bare-temporal/workflows';

interface Sample {
  wallMs: number;
  phases: HistoryPhases;
  historyBytes: number;
}

async function main(): Promise<void> {
  const turns = flag('turns', 10);
  const toolsPerTurn = flag('tools', 3);
  const toolMs = flag('tool-ms', 0);
  const modelMs = flag('model-ms', 0);
  const conversations = flag('conversations', 7);
  const nativeClient = process.argv.includes('--native-client');
  // --dump: one conversation's events per peer, each with its time since the one before and its size.
  const dump = process.argv.includes('--dump');
  // --only <peer>: one peer alone (to profile it: node --cpu-prof).
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
  const indexing = {
    ...(process.argv.includes('--no-cost-attribute') ? { costSearchAttribute: false } : {}),
    ...(process.argv.includes('--no-search-attributes') ? { searchAttributes: false, costSearchAttribute: false } : {}),
  };
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const fake = await FakeMessagesApi.start();
  const server = await startDevServer({ ui: false });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  const client = nativeClient ? new Client({ connection: nativeConnection }) : new Client({ connection });
  let seq = 0;
  const script = (label: string): string => {
    const prompt = `floor ${label} #${++seq}`;
    scriptToolLoop(fake, prompt, { turns, toolsPerTurn, toolMs, modelMs });
    return prompt;
  };
  const measure = async (workflowId: string, wallMs: number, first: boolean): Promise<Sample> => {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    if (dump && first) dumpHistory(workflowId, history.events ?? []);
    return { wallMs, phases: historyPhases(history.events ?? []), historyBytes: temporal.api.history.v1.History.encode(history).finish().length };
  };

  // Each peer: a warm-up conversation, then the measured ones.
  async function runPeer(start: (prompt: string) => Promise<{ workflowId: string; done: Promise<unknown> }>): Promise<Sample[]> {
    const samples: Sample[] = [];
    for (let i = 0; i <= conversations; i++) {
      const t0 = performance.now();
      const { workflowId, done } = await start(script(String(i)));
      await done;
      const wallMs = performance.now() - t0;
      if (i > 0) samples.push(await measure(workflowId, wallMs, i === 1));
    }
    return samples;
  }

  const results: Record<string, Sample[]> = {};
  try {
    if (only !== 'bare_temporal') {
      const work = defineTool({ name: TOOL_NAME, description: TOOL_DESCRIPTION, input: workInput, run: doWork });
      const ours = await createAgentWorker({
        connection: nativeConnection,
        taskQueue: 'floor-durable-claude',
        tools: [work],
        anthropic: new Anthropic({ apiKey: 'sk-ant-floor', baseURL: fake.baseURL, maxRetries: 0 }),
      });
      const agent = new AgentClient({ client, taskQueue: 'floor-durable-claude' });
      results.durable_claude = await ours.runUntil(
        runPeer(async (prompt) => {
          const handle = await agent.start({ prompt, model: BENCH_MODEL, maxTokens: 1024, tools: [TOOL_NAME], limits: { maxIterations: turns + 2 }, ...indexing });
          return { workflowId: handle.conversationId, done: handle.result() };
        }),
      );
    }
    if (only !== 'durable_claude') {
      const bare = await createBareWorker({ connection: nativeConnection, taskQueue: 'floor-bare-temporal', fakeURL: fake.baseURL });
      results.bare_temporal = await bare.runUntil(
        runPeer(async (prompt) => {
          const workflowId = `floor-bare-${++seq}`;
          const handle = await client.workflow.start<typeof bareConversation>('bareConversation', {
            taskQueue: 'floor-bare-temporal',
            workflowId,
            args: [{ prompt, maxModelCalls: turns + 2 }],
            ...(nativeClient ? { requestEagerStart: true } : {}),
          });
          return { workflowId, done: handle.result() };
        }),
      );
    }
  } finally {
    await connection.close();
    await nativeConnection.close();
    await server.stop();
    await fake.close();
  }

  // Per turn: a conversation of `turns` tool rounds has turns + 1 model calls; its time is divided by `turns`.
  const perTurn = (samples: Sample[], value: (sample: Sample) => number) => round(median(samples.map(value)) / turns, 2);
  const activityTypes = [...new Set(Object.values(results).flatMap((samples) => samples.flatMap((s) => Object.keys(s.phases.activities))))];
  const rows: Array<[string, (sample: Sample) => number]> = [
    ['wall at the client', (s) => s.wallMs],
    ['history span (first event → last)', (s) => s.phases.spanMs],
    ['workflow tasks', (s) => s.phases.workflowTasks],
    ['workflow task wait (scheduled → started)', (s) => s.phases.workflowTaskWaitMs],
    ['workflow task run (started → completed)', (s) => s.phases.workflowTaskRunMs],
    ...activityTypes.flatMap((name): Array<[string, (sample: Sample) => number]> => [
      [`${name}: wait`, (s) => s.phases.activities[name]?.waitMs ?? 0],
      [`${name}: run`, (s) => s.phases.activities[name]?.runMs ?? 0],
    ]),
    ['local activities (markers)', (s) => s.phases.markers],
    ['history events', (s) => s.phases.events],
    ['history bytes', (s) => s.historyBytes],
  ];
  const peers = Object.keys(results);
  console.log(`${conversations} conversations per peer of ${turns} turns × ${toolsPerTurn} tools (tool ${toolMs} ms, model ${modelMs} ms)${nativeClient ? ', native client' : ''}; medians per turn (ms unless counted)\n`);
  console.log(`| per turn | ${peers.join(' | ')} | difference |`);
  console.log(`|---|${peers.map(() => '---:').join('|')}|---:|`);
  for (const [label, value] of rows) {
    const cells = peers.map((peer) => perTurn(results[peer]!, value));
    console.log(`| ${label} | ${cells.join(' | ')} | ${cells.length > 1 ? round(cells[0]! - cells[1]!, 2) : ''} |`);
  }
}

function dumpHistory(workflowId: string, events: readonly temporal.api.history.v1.IHistoryEvent[]): void {
  const EventType = temporal.api.enums.v1.EventType;
  console.log(`\n${workflowId}: ${events.length} events`);
  let last = events.length > 0 ? millisOf(events[0]!) : 0;
  for (const event of events) {
    const bytes = temporal.api.history.v1.HistoryEvent.encode(event).finish().length;
    console.log(`  ${String(event.eventId).padStart(4)} +${(millisOf(event) - last).toFixed(1).padStart(6)} ms ${String(bytes).padStart(6)} B  ${EventType[event.eventType ?? 0]}`);
    last = millisOf(event);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
