// A worker in its own process with the bash tool registered, so a test can SIGKILL it between two commands of one
// session and show that the next worker starts the next command where the last one left the session.
import Anthropic from '@anthropic-ai/sdk';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { bashTool } from '../../src/tools/bash';
import { createAgentWorker } from '../../src/worker';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const connection = await NativeConnection.connect({ address: env('TEMPORAL_ADDRESS') });
  const worker = await createAgentWorker({
    connection,
    taskQueue: env('TASK_QUEUE'),
    tools: [bashTool({ root: env('BASH_ROOT') })],
    anthropic: new Anthropic({ apiKey: env('ANTHROPIC_API_KEY'), baseURL: env('FAKE_URL'), maxRetries: 0 }),
    workflowBundle: { codePath: env('BUNDLE') },
    // A killed worker's sticky queue holds workflow tasks until this passes; then any worker takes them.
    worker: { stickyQueueScheduleToStartTimeout: '1s', shutdownGraceTime: '1s' },
  });
  process.stdout.write(`ready ${process.pid}\n`);
  await worker.run();
  await connection.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
