// A storage driver on a local directory: the embedded default for `durable-claude dev`, the demo and the tests.
// Every process that reads the conversation (workers, clients, the CLI, a replay) must see the same directory.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ExternalStorage, StorageDriverClaim, type Payload, type StorageDriver, type StorageDriverRetrieveContext, type StorageDriverStoreContext } from '@temporalio/common';
import { HASH_ALGORITHM, checkedHash, decodeVerified, encodePayload } from './payload-bytes';
import { DEFAULT_PAYLOAD_SIZE_THRESHOLD } from './threshold';

export const FILE_SYSTEM_DRIVER_NAME = 'durable-claude.fs';

export interface FileSystemStorageOptions {
  /** Where payloads are kept (created if missing). Objects are named by content: `sha256/ab/abcd…`. */
  directory: string;
  /** Payloads of at least this many bytes are stored here. Default DEFAULT_PAYLOAD_SIZE_THRESHOLD (128 KiB). */
  payloadSizeThreshold?: number;
}

function fileOf(directory: string, sha256: string): string {
  return path.join(directory, HASH_ALGORITHM, sha256.slice(0, 2), sha256);
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

/** Write-then-rename, so a reader never sees part of a file, and fsync first, so a crash cannot leave one. */
async function writeAtomically(file: string, bytes: Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await fs.open(tmp, 'wx');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

export class FileSystemStorageDriver implements StorageDriver {
  readonly name = FILE_SYSTEM_DRIVER_NAME;
  readonly type = 'durable-claude.filesystem';
  readonly directory: string;

  constructor(directory: string) {
    if (typeof directory !== 'string' || directory === '') throw new TypeError('fileSystemStorage needs a directory');
    this.directory = path.resolve(directory);
  }

  async store(_context: StorageDriverStoreContext, payloads: Payload[]): Promise<StorageDriverClaim[]> {
    return Promise.all(
      payloads.map(async (payload) => {
        const { bytes, sha256 } = encodePayload(payload);
        const file = fileOf(this.directory, sha256);
        // Same name, same bytes: a payload already stored (a retried task) is not written again.
        if (!(await exists(file))) await writeAtomically(file, bytes);
        return new StorageDriverClaim({ hashAlgorithm: HASH_ALGORITHM, hashValue: sha256 });
      }),
    );
  }

  async retrieve(_context: StorageDriverRetrieveContext, claims: StorageDriverClaim[]): Promise<Payload[]> {
    return Promise.all(
      claims.map(async (claim) => {
        const sha256 = checkedHash(claim.claimData, 'fileSystemStorage');
        const file = fileOf(this.directory, sha256);
        let bytes: Buffer;
        try {
          bytes = await fs.readFile(file);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          throw new Error(
            code === 'ENOENT'
              ? `fileSystemStorage: payload ${sha256} is not in ${this.directory}: is this the directory the worker stores to?`
              : `fileSystemStorage: cannot read ${file}: ${(err as Error).message}`,
            { cause: err },
          );
        }
        return decodeVerified(bytes, sha256, file);
      }),
    );
  }
}

/** Temporal external storage on a local directory. */
export function fileSystemStorage(options: FileSystemStorageOptions): ExternalStorage {
  return new ExternalStorage({
    drivers: [new FileSystemStorageDriver(options.directory)],
    payloadSizeThreshold: options.payloadSizeThreshold ?? DEFAULT_PAYLOAD_SIZE_THRESHOLD,
  });
}
