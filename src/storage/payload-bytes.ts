// What both drivers store: a payload's protobuf bytes, named by their SHA-256, so a retried store (an activity that
// ran twice, a workflow task that was retried) writes the same object instead of a second one.
import { createHash } from 'node:crypto';
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

const PayloadProto = temporal.api.common.v1.Payload;

export const HASH_ALGORITHM = 'sha256';
const SHA256_HEX = /^[0-9a-f]{64}$/;

export function encodePayload(payload: Payload): { bytes: Uint8Array; sha256: string } {
  const bytes = PayloadProto.encode(payload).finish();
  return { bytes, sha256: sha256Hex(bytes) };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A claim's hash, checked before it names a file or an object: claims come from history, which anyone may write. */
export function checkedHash(claimData: Record<string, string>, driver: string): string {
  const { hashAlgorithm, hashValue } = claimData;
  if (hashAlgorithm !== HASH_ALGORITHM || hashValue === undefined || !SHA256_HEX.test(hashValue)) {
    throw new Error(`${driver}: the reference names no sha256 content hash (claim ${JSON.stringify(claimData)})`);
  }
  return hashValue;
}

/** The stored bytes back as a payload, after checking they are the bytes the reference names. */
export function decodeVerified(bytes: Uint8Array, expectedSha256: string, where: string): Payload {
  const actual = sha256Hex(bytes);
  if (actual !== expectedSha256) {
    throw new Error(`${where} holds different bytes than its reference names (sha256 ${actual}, expected ${expectedSha256})`);
  }
  return PayloadProto.decode(bytes);
}
