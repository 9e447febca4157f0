// The `rate_limit` scenario: a fleet (two workers on one task queue) runs a burst of conversations against a fake
// API that answers 429 above the organisation's rate. Once without a limit (every worker calls the model as fast
// as its conversations ask), once with `modelCalls: { maxPerSecond }` at that rate (Temporal's server hands out
// model-call tasks no faster, across both workers). Figures: the 429s each way, and how close the limited run's
// request rate comes to the limit. Runs in the harness process, with its own fake API and task queues.
import Anthropic from '@anthropic-ai/sdk';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { AgentClient, createAgentWorker, defineTool, type ModelCallsOptions } from '../../src';
import { FakeMessagesApi, reply, text, toolUse, type RecordedRequest } from '../../src/testing';
import { BENCH_MODEL } from './protocol';
import type { ScenarioFigures } from './report';
import { round } from './stats';
import { doWork, TOOL_DESCRIPTION, TOOL_NAME, workInput } from './work-tool';

export interface RateLimitShape {
  conversations: number;
  /** Tool rounds per conversation: model calls are this plus one. */
  toolRounds: number;
  /** The fake API's limit (requests per second; a second's worth at once) and the limit the fleet is given. */
  requestsPerSecond: number;
  /** Workers on the task queue (a fleet, in one process). */
  workers: number;
}

export const RATE_LIMIT_FULL: RateLimitShape = { conversations: 200, toolRounds: 1, requestsPerSecond: 20, workers: 2 };
export const RATE_LIMIT_QUICK: RateLimitShape = { conversations: 40, toolRounds: 1, requestsPerSecond: 20, workers: 2 };

export function rateLimitTitle(shape: RateLimitShape): string {
  return (
    `${shape.conversations} conversations × ${shape.toolRounds + 1} model calls at once on ${shape.workers} workers, against an API that answers 429 above ` +
    `${shape.requestsPerSecond} requests/s; without a limit, then with modelCalls: { maxPerSecond: ${shape.requestsPerSecond} }`
  );
}

interface RunFigures {
  responses429: number;
  /** Model requests answered 200. */
  served: number;
  completed: number;
  wallSeconds: number;
  /** Answered requests per second, from the first request to the last. */
  requestsPerSecond: number;
}

let sequence = 0;

export interface RateLimitEnvironment {
  address: string;
  bundlePath: string;
  log: (line: string) => void;
}

export async function runRateLimitScenario(environment: RateLimitEnvironment, shape: RateLimitShape): Promise<ScenarioFigures> {
  try {
    // 429s are the point here: the runtime's warning per failed attempt would bury the bench's own lines.
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // The harness already made the runtime (another scenario): its logger stays.
  }
  const fake = await FakeMessagesApi.start({ rateLimit: { requestsPerSecond: shape.requestsPerSecond } });
  const connection = await Connection.connect({ address: environment.address });
  try {
    const client = new Client({ connection });
    const run = async (label: string, modelCalls: ModelCallsOptions | undefined): Promise<RunFigures> => {
      fake.setRateLimit({ requestsPerSecond: shape.requestsPerSecond });
      const figures = await runFleet(fake, environment.address, client, environment.bundlePath, shape, modelCalls);
      environment.log(
        `rate_limit ${label}: ${figures.completed}/${shape.conversations} completed in ${figures.wallSeconds} s, ${figures.served} requests at ${figures.requestsPerSecond}/s, ${figures.responses429} × 429`,
      );
      return figures;
    };
    const without = await run('without limit', undefined);
    const limited = await run('with limit', { maxPerSecond: shape.requestsPerSecond });
    return {
      durable_claude: {
        responses_429_without_limit: without.responses429,
        responses_429_with_limit: limited.responses429,
        throughput_to_limit_ratio: round(limited.requestsPerSecond / shape.requestsPerSecond, 3),
        requests_served_with_limit: limited.served,
        requests_per_second_with_limit: limited.requestsPerSecond,
        requests_per_second_without_limit: without.requestsPerSecond,
        wall_s_without_limit: without.wallSeconds,
        wall_s_with_limit: limited.wallSeconds,
        completed_without_limit: without.completed,
        completed_with_limit: limited.completed,
      },
    };
  } finally {
    // A failure above is the one to report, not a connection that a failed worker still holds.
    await connection.close().catch((err: unknown) => environment.log(`rate_limit: closing the client connection: ${String(err)}`));
    await fake.close();
  }
}

async function runFleet(
  fake: FakeMessagesApi,
  address: string,
  client: Client,
  bundlePath: string,
  shape: RateLimitShape,
  modelCalls: ModelCallsOptions | undefined,
): Promise<RunFigures> {
  const run = ++sequence;
  const taskQueue = `bench-rate-limit-${process.pid}-${run}`;
  const work = defineTool({ name: TOOL_NAME, description: TOOL_DESCRIPTION, input: workInput, run: doWork });
  const workers: Worker[] = [];
  // A connection per worker, as on machines of their own (one connection takes one worker per task queue).
  const connections: NativeConnection[] = [];
  for (let i = 0; i < shape.workers; i++) connections.push(await NativeConnection.connect({ address }));
  for (let i = 0; i < shape.workers; i++) {
    workers.push(
      await createAgentWorker({
        connection: connections[i]!,
        taskQueue,
        tools: [work],
        anthropic: new Anthropic({ apiKey: 'sk-ant-bench', baseURL: fake.baseURL, maxRetries: 0 }),
        workflowBundle: { codePath: bundlePath },
        ...(modelCalls ? { modelCalls } : {}),
        worker: { identity: `bench-rate-limit-${run}-worker-${i}` },
      }),
    );
  }
  const running = workers.map((worker) => worker.run());
  const agent = new AgentClient({ client, taskQueue });
  const prompts = Array.from({ length: shape.conversations }, (_, i) => `bench rate_limit run ${run} #${i}: ${shape.toolRounds} tool rounds`);
  for (const prompt of prompts) {
    fake.addScript({
      match: prompt,
      steps: ({ turnIndex }) => (turnIndex < shape.toolRounds ? reply(toolUse(TOOL_NAME, { turn: turnIndex, call: 0, ms: 0, bytes: 16 })) : reply(text('Done.'))),
    });
  }
  const before = fake.rateLimitedResponses;
  const started = performance.now();
  let completed: number;
  try {
    const handles = await Promise.all(
      prompts.map((prompt) =>
        agent.start({
          prompt,
          model: BENCH_MODEL,
          maxTokens: 256,
          tools: [TOOL_NAME],
          // Without a limit a call may meet many 429s before its turn: enough attempts that every conversation ends.
          modelRetry: { maximumAttempts: 100 },
        }),
      ),
    );
    const results = await Promise.allSettled(handles.map((handle) => handle.result()));
    completed = results.filter((result) => result.status === 'fulfilled' && result.value.status === 'completed').length;
  } finally {
    for (const worker of workers) worker.shutdown();
    await Promise.allSettled(running);
    await Promise.allSettled(connections.map((c) => c.close()));
  }
  const wallSeconds = round((performance.now() - started) / 1000, 2);
  const ours = new Set(prompts);
  const served = fake.requests.filter((r: RecordedRequest) => r.path === '/v1/messages' && r.status === 200 && r.conversationKey !== undefined && ours.has(r.conversationKey));
  const times = served.map((r) => r.receivedAt).sort((a, b) => a - b);
  const spanSeconds = times.length > 1 ? (times[times.length - 1]! - times[0]!) / 1000 : 0;
  return {
    responses429: fake.rateLimitedResponses - before,
    served: served.length,
    completed,
    wallSeconds,
    requestsPerSecond: spanSeconds > 0 ? round((served.length - 1) / spanSeconds, 2) : 0,
  };
}
