// A file whose process ends above this resident size is named in the output: the next one to look at if a run
// comes near the machine's memory (jest's own memory limit sees the JS heap only).
const REPORT_ABOVE_BYTES = 4 * 1024 ** 3;

afterAll(() => {
  const { rss } = process.memoryUsage();
  if (rss > REPORT_ABOVE_BYTES) {
    process.stderr.write(`[memory] ${expect.getState().testPath ?? 'a test file'} ended with ${Math.round(rss / 1024 ** 2)} MB resident\n`);
  }
});
