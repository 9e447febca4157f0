// A worker process observed as one in docker compose would be: the Temporal Runtime's Prometheus endpoint and JSON-line
// logs (installTemporalMetrics, once per process, before anything uses the Runtime), project metrics on their own
// endpoint. Its tool logs one line through the activity logger.
import fs from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import { log } from '@temporalio/activity';
import { NativeConnection } from '@temporalio/worker';
import { z } from 'zod';
import { createTelemetry, installTemporalMetrics, jsonLogger, otlpTelemetry } from '../src/observability';
import { defineTool } from '../src/tools/define-tool';
import { createAgentWorker } from '../src/worker';
import { testStorage } from './helpers/temporal';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

async function main(): Promise<void> {
  const logFile = env('LOG_FILE');
  installTemporalMetrics({ prometheus: env('TEMPORAL_PROMETHEUS'), logger: jsonLogger({ level: 'DEBUG', write: (line) => fs.appendFileSync(logFile, `${line}\n`) }) });
  const telemetry = createTelemetry(otlpTelemetry({ prometheus: env('PROJECT_PROMETHEUS') }));
  const lookup = defineTool({
    name: 'lookup',
    description: 'Look something up',
    input: z.object({ query: z.string() }),
    run: ({ query }) => {
      log.info('Looking up', { query });
      return `found ${query}`;
    },
  });
  const worker = await createAgentWorker({
    connection: await NativeConnection.connect({ address: env('TEMPORAL_ADDRESS') }),
    taskQueue: env('TASK_QUEUE'),
    anthropic: new Anthropic({ apiKey: 'sk-ant-test', baseURL: env('FAKE_API'), maxRetries: 0 }),
    tools: [lookup],
    externalStorage: testStorage(),
    telemetry,
  });
  const running = worker.run();
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => worker.shutdown());
  await running;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
