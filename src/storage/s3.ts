// A storage driver on S3 or an S3-compatible server (MinIO in docker-compose), for production workers and clients.
// Objects and references follow Temporal's S3 driver layout (`v0/ns/…/wi/…/d/sha256/<hash>`, a claim of bucket, key
// and content hash), so Temporal's own S3 drivers in other SDKs can resolve what this one stored.
import type * as AwsS3 from '@aws-sdk/client-s3';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { ExternalStorage, StorageDriverClaim, type Payload, type StorageDriver, type StorageDriverRetrieveContext, type StorageDriverStoreContext, type StorageDriverTargetInfo } from '@temporalio/common';
import { HASH_ALGORITHM, checkedHash, decodeVerified, encodePayload } from './payload-bytes';
import { DEFAULT_PAYLOAD_SIZE_THRESHOLD } from './threshold';

export const S3_DRIVER_NAME = 'aws.s3driver';

type S3Sdk = typeof AwsS3;
let loadedSdk: S3Sdk | undefined;
/** The AWS SDK, loaded on first use: importing durable-claude costs nothing for those who do not use S3 (~0.3 s). */
function s3Sdk(): S3Sdk {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loadedSdk ??= require('@aws-sdk/client-s3') as S3Sdk;
  return loadedSdk;
}
/** Larger payloads are refused rather than stored, as Temporal's S3 drivers do. */
const DEFAULT_MAX_PAYLOAD_BYTES = 50 * 1024 * 1024;

export interface S3StorageOptions {
  bucket: string;
  /** Prepended to every object key (e.g. `durable-claude/`). */
  prefix?: string;
  /** An S3-compatible server's URL (MinIO: `http://minio:9000`); default AWS's endpoint for the region. */
  endpoint?: string;
  /** Default: AWS_REGION, else us-east-1. */
  region?: string;
  /** Bucket in the path (`host/bucket/key`) rather than the host name; what most S3-compatible servers want. */
  forcePathStyle?: boolean;
  /** Default: the AWS SDK's chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, instance roles). */
  credentials?: S3ClientConfig['credentials'];
  /** A client of your own (then endpoint, region, forcePathStyle and credentials are not used). */
  client?: S3Client;
  /** Payloads of at least this many bytes are stored in S3. Default DEFAULT_PAYLOAD_SIZE_THRESHOLD (128 KiB). */
  payloadSizeThreshold?: number;
  /** A payload larger than this is refused (the task fails) instead of stored. Default 50 MiB. */
  maxPayloadBytes?: number;
}

/** A key segment in S3's safe characters (letters, digits and `! - _ . * ' ( )`); absent or empty is `null`. */
function segment(value: string | undefined): string {
  return value ? encodeURIComponent(value).replace(/~/g, '%7E') : 'null';
}

function contextSegments(target: StorageDriverTargetInfo | undefined): string {
  if (target?.kind === 'workflow') return `/ns/${segment(target.namespace)}/wt/${segment(target.type)}/wi/${segment(target.id)}/ri/${segment(target.runId)}`;
  if (target?.kind === 'activity') return `/ns/${segment(target.namespace)}/at/${segment(target.type)}/ai/${segment(target.id)}/ri/${segment(target.runId)}`;
  return '';
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

export class S3StorageDriver implements StorageDriver {
  readonly name = S3_DRIVER_NAME;
  readonly type = S3_DRIVER_NAME;
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  readonly #maxPayloadBytes: number;

  constructor(options: Omit<S3StorageOptions, 'payloadSizeThreshold'>) {
    if (typeof options.bucket !== 'string' || options.bucket === '') throw new TypeError('s3Storage needs a bucket');
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    this.#maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.client =
      options.client ??
      new (s3Sdk().S3Client)({
        region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
        ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
        ...(options.forcePathStyle !== undefined ? { forcePathStyle: options.forcePathStyle } : {}),
        ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      });
  }

  async store(context: StorageDriverStoreContext, payloads: Payload[]): Promise<StorageDriverClaim[]> {
    const segments = contextSegments(context.target);
    const abortSignal = context.abortSignal;
    return Promise.all(
      payloads.map(async (payload) => {
        const { bytes, sha256 } = encodePayload(payload);
        if (bytes.length > this.#maxPayloadBytes) {
          throw new Error(`s3Storage: a payload of ${bytes.length} bytes is over the limit of ${this.#maxPayloadBytes} (maxPayloadBytes)`);
        }
        const key = `${this.prefix}v0${segments}/d/${HASH_ALGORITHM}/${sha256}`;
        try {
          // Named by content: an object already there (a retried task) holds these bytes, so it is not sent again.
          if (!(await this.#exists(key, abortSignal))) {
            await this.client.send(new (s3Sdk().PutObjectCommand)({ Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.length }), abortSignal ? { abortSignal } : {});
          }
        } catch (err) {
          throw new Error(`s3Storage: storing s3://${this.bucket}/${key} failed: ${(err as Error).message}`, { cause: err });
        }
        return new StorageDriverClaim({ bucket: this.bucket, key, hashAlgorithm: HASH_ALGORITHM, hashValue: sha256 });
      }),
    );
  }

  async retrieve(context: StorageDriverRetrieveContext, claims: StorageDriverClaim[]): Promise<Payload[]> {
    const abortSignal = context.abortSignal;
    return Promise.all(
      claims.map(async (claim) => {
        const sha256 = checkedHash(claim.claimData, 's3Storage');
        const { bucket, key } = claim.claimData;
        if (!bucket || !key) throw new Error(`s3Storage: the reference names no bucket and key (claim ${JSON.stringify(claim.claimData)})`);
        let bytes: Uint8Array;
        try {
          const object = await this.client.send(new (s3Sdk().GetObjectCommand)({ Bucket: bucket, Key: key }), abortSignal ? { abortSignal } : {});
          if (!object.Body) throw new Error('the object has no body');
          bytes = await object.Body.transformToByteArray();
        } catch (err) {
          throw new Error(`s3Storage: reading s3://${bucket}/${key} failed: ${(err as Error).message}`, { cause: err });
        }
        return decodeVerified(bytes, sha256, `s3://${bucket}/${key}`);
      }),
    );
  }

  async #exists(key: string, abortSignal: AbortSignal | undefined): Promise<boolean> {
    try {
      await this.client.send(new (s3Sdk().HeadObjectCommand)({ Bucket: this.bucket, Key: key }), abortSignal ? { abortSignal } : {});
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
}

/** Temporal external storage in an S3 bucket. */
export function s3Storage(options: S3StorageOptions): ExternalStorage {
  const { payloadSizeThreshold, ...driverOptions } = options;
  return new ExternalStorage({ drivers: [new S3StorageDriver(driverOptions)], payloadSizeThreshold: payloadSizeThreshold ?? DEFAULT_PAYLOAD_SIZE_THRESHOLD });
}
