// A process that starts a dev server and then ends badly, for the test that no server outlives its host.
// argv[2]: 'hang' (to be SIGKILLed), 'throw' (an uncaught exception) or 'exit' (process.exit without stop()).
import { startDevServer } from '../../src/devserver';

void (async () => {
  const server = await startDevServer({ ui: false });
  process.stdout.write(`${JSON.stringify({ pid: server.pid })}\n`);
  const ending = process.argv[2];
  if (ending === 'throw') setTimeout(() => { throw new Error('the host crashed'); }, 100);
  else if (ending === 'exit') setTimeout(() => process.exit(3), 100);
  else setInterval(() => undefined, 60_000);
})();
