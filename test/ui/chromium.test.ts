// The Web UI test's browser comes with `npm install`: no system Chromium needed, CHROMIUM_PATH still overrides it.
import { execFileSync } from 'node:child_process';
import { findChromium } from './chromium';

const linuxX64 = process.platform === 'linux' && process.arch === 'x64';

(linuxX64 ? test : test.skip)('without CHROMIUM_PATH, the Chromium from @sparticuz/chromium is used and runs', async () => {
  const chromium = await findChromium({ ...process.env, CHROMIUM_PATH: undefined });
  expect(chromium.source).toBe('@sparticuz/chromium');
  expect(execFileSync(chromium.path, ['--version'], { encoding: 'utf8' })).toMatch(/^Chromium \d+\./);
});

test('CHROMIUM_PATH overrides the bundled Chromium', async () => {
  const chromium = await findChromium({ ...process.env, CHROMIUM_PATH: process.execPath });
  expect(chromium).toEqual({ path: process.execPath, source: 'CHROMIUM_PATH' });
});

test('a CHROMIUM_PATH that does not exist is an error that names it', async () => {
  await expect(findChromium({ ...process.env, CHROMIUM_PATH: '/nonexistent/chromium' })).rejects.toThrow('/nonexistent/chromium');
});
