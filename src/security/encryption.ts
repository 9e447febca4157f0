// Payload encryption: an AES-256-GCM PayloadCodec, so Temporal's history (and what external storage holds) carries
// ciphertext instead of prompts, replies and tool results. Every process that reads or writes payloads — worker,
// client, CLI, replay — needs the same keys.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { EncryptionKeyProvider } from './encryption-types';

export type { EncryptionKeyProvider } from './encryption-types';

const PayloadProto = temporal.api.common.v1.Payload;

/** The `encoding` of an encrypted payload; its data is iv ‖ ciphertext ‖ tag of the whole serialized payload. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** The metadata key naming the key a payload was encrypted with. */
export const ENCRYPTION_KEY_ID_METADATA = 'encryption-key-id';
/** The environment variable of `id:base64key` pairs, comma separated; the first encrypts. */
export const ENCRYPTION_KEYS_ENV = 'DURABLE_CLAUDE_ENCRYPTION_KEYS';
/** A file holding the same pairs (commas or newlines between them), for keys kept out of the environment. */
export const ENCRYPTION_KEY_FILE_ENV = 'DURABLE_CLAUDE_ENCRYPTION_KEY_FILE';

const CIPHER = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();
const ENCRYPTED_ENCODING_BYTES = utf8.encode(ENCRYPTED_ENCODING);

/** Whether a payload is one this codec encrypted (by its `encoding` metadata). */
export function isEncryptedPayload(payload: Payload): boolean {
  const encoding = payload.metadata?.encoding;
  return encoding !== undefined && encoding !== null && fromUtf8.decode(encoding) === ENCRYPTED_ENCODING;
}

/** The id of the key a payload was encrypted with; undefined for a payload that is not encrypted. */
export function encryptionKeyIdOf(payload: Payload): string | undefined {
  if (!isEncryptedPayload(payload)) return undefined;
  const id = payload.metadata?.[ENCRYPTION_KEY_ID_METADATA];
  return id ? fromUtf8.decode(id) : undefined;
}

/**
 * Encrypts every payload with AES-256-GCM under the provider's current key (a random 12-byte IV each), and decrypts
 * with whichever key a payload names. Payloads that are not encrypted pass through decode unchanged, so history
 * written before encryption was turned on stays readable.
 */
export class EncryptionCodec implements PayloadCodec {
  // Promises, so concurrent decodes of one key id ask a KMS-backed provider once; a failed lookup is not kept.
  private readonly keys = new Map<string, Promise<Uint8Array>>();

  constructor(private readonly provider: EncryptionKeyProvider) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    if (payloads.length === 0) return payloads;
    const keyId = await this.provider.encryptionKeyId();
    const key = await this.keyOf(keyId);
    const keyIdBytes = utf8.encode(keyId);
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(CIPHER, key, iv);
      const plaintext = PayloadProto.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: ENCRYPTED_ENCODING_BYTES, [ENCRYPTION_KEY_ID_METADATA]: keyIdBytes },
        data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((payload) => this.decodeOne(payload)));
  }

  private async decodeOne(payload: Payload): Promise<Payload> {
    if (!isEncryptedPayload(payload)) return payload;
    const keyId = encryptionKeyIdOf(payload);
    if (keyId === undefined) throw new Error(`an encrypted payload names no key (its "${ENCRYPTION_KEY_ID_METADATA}" metadata is missing)`);
    const key = await this.keyOf(keyId);
    const data = payload.data ?? new Uint8Array();
    if (data.byteLength < IV_BYTES + TAG_BYTES) {
      throw new Error(`an encrypted payload (key "${keyId}") is ${data.byteLength} bytes, too short to hold an IV and a tag`);
    }
    const iv = data.subarray(0, IV_BYTES);
    const tag = data.subarray(data.byteLength - TAG_BYTES);
    const ciphertext = data.subarray(IV_BYTES, data.byteLength - TAG_BYTES);
    let plaintext: Buffer;
    try {
      const decipher = createDecipheriv(CIPHER, key, iv);
      decipher.setAuthTag(tag);
      plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch {
      // GCM says only "unable to authenticate": name the key so a wrong key and a changed payload can be told apart.
      throw new Error(`an encrypted payload failed to decrypt with key "${keyId}": it was changed, or this key "${keyId}" is not the one that encrypted it`);
    }
    return PayloadProto.decode(plaintext);
  }

  private keyOf(id: string): Promise<Uint8Array> {
    let key = this.keys.get(id);
    if (!key) {
      key = (async () => {
        let bytes: Uint8Array;
        try {
          bytes = await this.provider.key(id);
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          throw new Error(`encryption key "${id}" is not available here (${reason}); payloads encrypted with it cannot be read without it`, { cause: err });
        }
        if (bytes.byteLength !== KEY_BYTES) throw new Error(`encryption key "${id}" is ${bytes.byteLength} bytes; AES-256 needs ${KEY_BYTES}`);
        return bytes;
      })();
      this.keys.set(id, key);
      key.catch(() => this.keys.delete(id));
    }
    return key;
  }
}

export interface StaticKeys {
  /** The id of the key that encrypts new payloads; it must be in `keys`. */
  current: string;
  /** Every key that may have encrypted a payload still in history: 32 bytes, raw or base64. */
  keys: Record<string, Uint8Array | string>;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function keyBytes(id: string, value: Uint8Array | string): Uint8Array {
  let bytes: Uint8Array;
  if (typeof value === 'string') {
    const text = value.trim();
    // Never echo the value: it is key material.
    if (!BASE64.test(text) || text.length % 4 !== 0) throw new TypeError(`encryption key "${id}" is not base64`);
    bytes = new Uint8Array(Buffer.from(text, 'base64'));
  } else {
    bytes = new Uint8Array(value);
  }
  if (bytes.byteLength !== KEY_BYTES) {
    throw new TypeError(`encryption key "${id}" is ${bytes.byteLength} bytes; AES-256 needs ${KEY_BYTES} (generate one with \`openssl rand -base64 32\`)`);
  }
  return bytes;
}

/** Keys held in memory. Rotation: a new `current`, with the old keys still listed so old history decrypts. */
export function staticKeyProvider(options: StaticKeys): EncryptionKeyProvider {
  const keys = new Map<string, Uint8Array>();
  for (const [id, value] of Object.entries(options.keys)) {
    if (id.trim() === '') throw new TypeError('an encryption key id is empty');
    keys.set(id, keyBytes(id, value));
  }
  if (!keys.has(options.current)) {
    throw new TypeError(`the current encryption key "${options.current}" is not among the keys (${[...keys.keys()].join(', ') || 'none'})`);
  }
  return {
    encryptionKeyId: async () => options.current,
    key: async (id) => {
      const key = keys.get(id);
      if (!key) throw new Error(`unknown encryption key id "${id}" (known: ${[...keys.keys()].join(', ')})`);
      return key;
    },
  };
}

export interface EnvEncryption {
  codec: EncryptionCodec;
  /** Every key id, the encrypting one first. */
  keyIds: string[];
  /** For logs: which key encrypts and where the keys came from; never key material. */
  description: string;
}

const KEY_ID = /^[A-Za-z0-9._\-/]+$/;

/** `id:base64` pairs, commas or newlines between them, the first the current key. */
function parseKeyList(text: string, source: string): { current: string; keys: Record<string, string> } {
  const entries = text.split(/[,\n\r]+/).map((s) => s.trim()).filter((s) => s !== '' && !s.startsWith('#'));
  if (entries.length === 0) throw new TypeError(`${source} holds no keys (expected id:BASE64KEY, comma separated)`);
  const keys: Record<string, string> = {};
  let current: string | undefined;
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(':');
    const id = colon < 0 ? '' : entry.slice(0, colon).trim();
    // Say which entry by position, never its text: it may hold a key.
    if (colon < 0 || !KEY_ID.test(id)) {
      throw new TypeError(`${source}: entry ${index + 1} is not id:BASE64KEY (ids are letters, digits, . _ - /)`);
    }
    if (Object.hasOwn(keys, id)) throw new TypeError(`${source}: key id "${id}" appears twice`);
    keys[id] = keyBytesAsBase64(id, entry.slice(colon + 1), source);
    current ??= id;
  });
  return { current: current as string, keys };
}

function keyBytesAsBase64(id: string, value: string, source: string): string {
  try {
    return Buffer.from(keyBytes(id, value)).toString('base64');
  } catch (err) {
    throw new TypeError(`${source}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Encryption from the environment: DURABLE_CLAUDE_ENCRYPTION_KEYS="k2:BASE64,k1:BASE64" (the first encrypts, the
 * rest still decrypt), or DURABLE_CLAUDE_ENCRYPTION_KEY_FILE naming a file of the same pairs. Undefined when neither
 * is set; a TypeError (naming no key material) when malformed.
 */
export function encryptionFromEnv(env: NodeJS.ProcessEnv = process.env): EnvEncryption | undefined {
  const inline = env[ENCRYPTION_KEYS_ENV]?.trim() || undefined;
  const file = env[ENCRYPTION_KEY_FILE_ENV]?.trim() || undefined;
  if (inline && file) throw new TypeError(`set one of ${ENCRYPTION_KEYS_ENV} and ${ENCRYPTION_KEY_FILE_ENV}, not both`);
  let parsed: { current: string; keys: Record<string, string> };
  let source: string;
  if (inline) {
    source = ENCRYPTION_KEYS_ENV;
    parsed = parseKeyList(inline, source);
  } else if (file) {
    source = `${ENCRYPTION_KEY_FILE_ENV} (${file})`;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new TypeError(`${source} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    parsed = parseKeyList(text, source);
  } else {
    return undefined;
  }
  const keyIds = Object.keys(parsed.keys);
  const others = keyIds.length > 1 ? `; also decrypts ${keyIds.slice(1).join(', ')}` : '';
  return {
    codec: new EncryptionCodec(staticKeyProvider(parsed)),
    keyIds,
    description: `AES-256-GCM payload encryption with key "${parsed.current}"${others} (from ${source})`,
  };
}

/** A fresh random AES-256 key, base64 (as `openssl rand -base64 32` makes one), for docs and dev setups. */
export function generateEncryptionKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}
