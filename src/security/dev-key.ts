// The local development decision key: `durable-claude dev` makes it once, its worker verifies with it, and
// `durable-claude token` / `approve --sign` sign with it. A file in the project's .temporal directory, readable by its
// owner only; never for production (set DURABLE_CLAUDE_DECISION_KEY or a JWKS there).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { MIN_HMAC_KEY_BYTES } from './credentials';

export const DEV_DECISION_KEY_FILE = path.join('.temporal', 'decision-key');
/** The dev key verifies tokens with no kid, as a single DURABLE_CLAUDE_DECISION_KEY does. */
export const DEV_DECISION_KEY_ID = 'default';

export interface DevDecisionKey {
  file: string;
  keyId: string;
  secret: string;
}

function read(file: string): DevDecisionKey {
  const secret = fs.readFileSync(file, 'utf8').trim();
  if (Buffer.byteLength(secret, 'utf8') < MIN_HMAC_KEY_BYTES) {
    throw new TypeError(`the dev decision key ${file} is shorter than ${MIN_HMAC_KEY_BYTES} characters: delete it and run \`durable-claude dev\` again`);
  }
  return { file, keyId: DEV_DECISION_KEY_ID, secret };
}

/** The dev key in `cwd`, when `durable-claude dev` has made one. */
export function devDecisionKeyIfPresent(cwd = process.cwd()): DevDecisionKey | undefined {
  const file = path.resolve(cwd, DEV_DECISION_KEY_FILE);
  return fs.existsSync(file) ? read(file) : undefined;
}

/** The dev key in `cwd`, made (mode 0600) when absent. */
export function ensureDevDecisionKey(cwd = process.cwd()): DevDecisionKey & { created: boolean } {
  const file = path.resolve(cwd, DEV_DECISION_KEY_FILE);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  try {
    // `wx`: two `dev` processes starting at once must not each write a key and leave the other's tokens invalid.
    fs.writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 });
    return { ...read(file), created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { ...read(file), created: false };
  }
}
