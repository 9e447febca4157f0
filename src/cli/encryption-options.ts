// Payload encryption for the workers and clients the CLI starts: the keys come from the environment
// (DURABLE_CLAUDE_ENCRYPTION_KEYS or DURABLE_CLAUDE_ENCRYPTION_KEY_FILE), which every process of a deployment shares.
import type { PayloadCodec } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { decodedHistory, encryptionKeyIdsIn } from '../client/export';
import { ENCRYPTED_ENCODING, ENCRYPTION_KEY_FILE_ENV, ENCRYPTION_KEYS_ENV, encryptionFromEnv, type EnvEncryption } from '../security/encryption';
import type { AgentWorkerOptions } from '../worker';
import type { CliValues } from './values';
import { CliError } from './errors';

const SET_KEYS = `set ${ENCRYPTION_KEYS_ENV} (or ${ENCRYPTION_KEY_FILE_ENV}) to the workers' keys`;

// One codec per key setting: its key cache then serves every client and worker of this process.
let cached: { setting: string; encryption: EnvEncryption | undefined } | undefined;

/** The encryption the environment configures, undefined when none; malformed keys are a usage error (exit 2). */
export function cliEncryption(env: NodeJS.ProcessEnv = process.env): EnvEncryption | undefined {
  const setting = `${env[ENCRYPTION_KEYS_ENV] ?? ''}\u0000${env[ENCRYPTION_KEY_FILE_ENV] ?? ''}`;
  if (cached?.setting === setting) return cached.encryption;
  let encryption: EnvEncryption | undefined;
  try {
    encryption = encryptionFromEnv(env);
  } catch (err) {
    // encryptionFromEnv's messages name key ids and positions, never key material.
    throw CliError.usage((err as Error).message);
  }
  cached = { setting, encryption };
  return encryption;
}

/** The codec clients and replays of this CLI read and write payloads with; undefined when encryption is off. */
export function cliPayloadCodec(_values: CliValues): PayloadCodec | undefined {
  return cliEncryption()?.codec;
}

/** For a worker's start-up line: which key encrypts (never key material); undefined when encryption is off. */
export function encryptionDescription(_values: CliValues): string | undefined {
  return cliEncryption()?.description;
}

/** Worker options that encrypt payloads, from the environment; empty when encryption is off. */
export function encryptionWorkerOptions(values: CliValues): Partial<AgentWorkerOptions> {
  const payloadCodec = cliPayloadCodec(values);
  return payloadCodec ? { payloadCodec } : {};
}

/**
 * A clear usage error for a read that met an encrypted payload without the keys (the SDK says only "Unknown
 * encoding: binary/encrypted"); undefined for any other error.
 */
export function missingKeysError(err: unknown): CliError | undefined {
  for (let cause: unknown = err; cause instanceof Error; cause = (cause as { cause?: unknown }).cause) {
    if (cause.message.includes(`Unknown encoding: ${ENCRYPTED_ENCODING}`)) {
      return CliError.usage(`this conversation's payloads are encrypted and this command has no keys: ${SET_KEYS}`);
    }
  }
  return undefined;
}

/**
 * Before a replay: an encrypted history without the keys (or with keys that do not open it) is a usage error that
 * says so, not a "divergence" of the workflow code.
 */
export async function checkHistoriesReadable(histories: temporal.api.history.v1.IHistory[], codecs: readonly PayloadCodec[]): Promise<void> {
  for (const history of histories) {
    if (codecs.length === 0) {
      const ids = await encryptionKeyIdsIn(history);
      if (ids.size > 0) throw CliError.usage(`this history is encrypted (key ${[...ids].join(', ')}): ${SET_KEYS}`);
      continue;
    }
    try {
      await decodedHistory(history, codecs);
    } catch (err) {
      throw CliError.usage(`cannot decrypt this history: ${(err as Error).message}`);
    }
  }
}
