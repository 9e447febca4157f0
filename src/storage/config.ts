// External storage from flags and the environment, read the same way by the worker (runWorker, docker-compose), the
// CLI and `durable-claude dev`, so the process that stores a payload and the ones that read it agree on where it is.
import fs from 'node:fs';
import path from 'node:path';
import type { ExternalStorage } from '@temporalio/common';
import { fileSystemStorage } from './filesystem';
import { s3Storage } from './s3';

/**
 * Where `durable-claude dev` keeps payloads by default: next to its database (`.temporal/dev.db`). The CLI, run from
 * the same directory with nothing configured, reads from here when it exists.
 */
export const DEV_STORAGE_DIR = path.join('.temporal', 'payloads');

export interface StorageSettings {
  /** A directory for fileSystemStorage (--storage-dir, DURABLE_CLAUDE_STORAGE_DIR). */
  directory?: string;
  /** An S3 bucket for s3Storage (DURABLE_CLAUDE_S3_BUCKET); the other S3 settings come from the environment. */
  s3Bucket?: string;
  /** `off` (--storage off, DURABLE_CLAUDE_STORAGE=off): no external storage even where a default applies. */
  off?: boolean;
}

export interface ConfiguredStorage {
  storage: ExternalStorage;
  /** For log lines: `directory /x/y` or `s3://bucket/prefix`. */
  description: string;
}

function positiveInteger(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new TypeError(`${name} must be a whole number of bytes, got ${JSON.stringify(raw)}`);
  return value;
}

function flag(name: string, raw: string | undefined): boolean | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (/^(1|true|yes)$/i.test(raw)) return true;
  if (/^(0|false|no)$/i.test(raw)) return false;
  throw new TypeError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

/**
 * The external storage that flags and the environment name, or undefined for none:
 * - DURABLE_CLAUDE_STORAGE=off: none.
 * - DURABLE_CLAUDE_STORAGE_DIR (or `directory`): a filesystem store there.
 * - DURABLE_CLAUDE_S3_BUCKET: S3, with DURABLE_CLAUDE_S3_PREFIX, DURABLE_CLAUDE_S3_ENDPOINT (an S3-compatible server),
 *   DURABLE_CLAUDE_S3_REGION (else AWS_REGION), DURABLE_CLAUDE_S3_FORCE_PATH_STYLE (default true with an endpoint) and
 *   the AWS SDK's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, profiles, roles).
 * - otherwise `defaultDirectory`, when given.
 * DURABLE_CLAUDE_STORAGE_THRESHOLD sets the size (bytes) from which payloads are stored; default 128 KiB.
 */
export function storageFromEnv(
  settings: StorageSettings = {},
  options: { env?: NodeJS.ProcessEnv; defaultDirectory?: string } = {},
): ConfiguredStorage | undefined {
  const env = options.env ?? process.env;
  if (settings.off || env.DURABLE_CLAUDE_STORAGE === 'off') return undefined;
  const payloadSizeThreshold = positiveInteger('DURABLE_CLAUDE_STORAGE_THRESHOLD', env.DURABLE_CLAUDE_STORAGE_THRESHOLD);
  const threshold = payloadSizeThreshold !== undefined ? { payloadSizeThreshold } : {};
  const directory = settings.directory ?? (env.DURABLE_CLAUDE_STORAGE_DIR || undefined);
  const bucket = settings.s3Bucket ?? (env.DURABLE_CLAUDE_S3_BUCKET || undefined);
  if (directory !== undefined && bucket !== undefined) {
    throw new TypeError('Both a storage directory and an S3 bucket are set (DURABLE_CLAUDE_STORAGE_DIR, DURABLE_CLAUDE_S3_BUCKET): choose one');
  }
  if (bucket !== undefined) {
    const endpoint = env.DURABLE_CLAUDE_S3_ENDPOINT || undefined;
    const prefix = env.DURABLE_CLAUDE_S3_PREFIX ?? '';
    const region = env.DURABLE_CLAUDE_S3_REGION || env.AWS_REGION || undefined;
    const forcePathStyle = flag('DURABLE_CLAUDE_S3_FORCE_PATH_STYLE', env.DURABLE_CLAUDE_S3_FORCE_PATH_STYLE) ?? endpoint !== undefined;
    return {
      storage: s3Storage({ bucket, prefix, forcePathStyle, ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}), ...threshold }),
      description: `s3://${bucket}/${prefix}${endpoint ? ` at ${endpoint}` : ''}`,
    };
  }
  const chosen = directory ?? options.defaultDirectory;
  if (chosen === undefined) return undefined;
  const resolved = path.resolve(chosen);
  return { storage: fileSystemStorage({ directory: resolved, ...threshold }), description: `directory ${resolved}` };
}

/** The CLI's default when nothing is configured: the dev store, if `durable-claude dev` ran here. */
export function devStorageDirIfPresent(cwd = process.cwd()): string | undefined {
  const dir = path.resolve(cwd, DEV_STORAGE_DIR);
  return fs.existsSync(dir) ? dir : undefined;
}
