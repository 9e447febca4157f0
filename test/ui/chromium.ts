// Which Chromium the Web UI test drives: CHROMIUM_PATH if set, else the one npm installed (@sparticuz/chromium ships
// it brotli-compressed in its tarball, for Linux x64), else a system Chromium. Nothing is downloaded.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';

export interface ChromiumExecutable {
  path: string;
  source: 'CHROMIUM_PATH' | '@sparticuz/chromium' | 'system';
}

const SYSTEM_CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

// Flags for a headless run as root in a container: no setuid sandbox to start, no GPU, no calls home.
export const HEADLESS_CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function findChromium(env: NodeJS.ProcessEnv = process.env): Promise<ChromiumExecutable> {
  const fromEnv = env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH is set to ${fromEnv}, which does not exist`);
    return { path: fromEnv, source: 'CHROMIUM_PATH' };
  }
  const bundled = await bundledChromium(env);
  if (bundled) return { path: bundled, source: '@sparticuz/chromium' };
  const system = SYSTEM_CHROMIUM_PATHS.find((candidate) => fs.existsSync(candidate));
  if (system) return { path: system, source: 'system' };
  throw new Error(
    `No Chromium: @sparticuz/chromium ships one for Linux x64 only (this is ${process.platform} ${process.arch}); ` +
      `install a Chromium and set CHROMIUM_PATH`,
  );
}

// Inflates the package's chromium.br once per package version into the project's cache; a temp file renamed into
// place means an interrupted extraction never leaves a half-written binary that a later run would trust.
async function bundledChromium(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  let entry: string;
  try {
    entry = require.resolve('@sparticuz/chromium');
  } catch {
    return undefined;
  }
  const packageRoot = path.resolve(path.dirname(entry), '..', '..');
  const compressed = path.join(packageRoot, 'bin', 'chromium.br');
  if (!fs.existsSync(compressed)) return undefined;
  const { version } = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  const cacheDir = env.DURABLE_CLAUDE_CACHE_DIR ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'durable-claude');
  const target = path.join(cacheDir, `chromium-${version}`, 'chromium');
  if (fs.existsSync(target)) return target;
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const partial = `${target}.${process.pid}.partial`;
  try {
    await pipeline(fs.createReadStream(compressed), createBrotliDecompress(), fs.createWriteStream(partial, { mode: 0o755 }));
    fs.renameSync(partial, target);
  } finally {
    fs.rmSync(partial, { force: true });
  }
  return target;
}
