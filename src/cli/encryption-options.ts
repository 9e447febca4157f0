// Payload encryption for the workers and clients the CLI starts: the keys come from the environment
// (DURABLE_CLAUDE_ENCRYPTION_KEYS or DURABLE_CLAUDE_ENCRYPTION_KEY_FILE), which every process of a deployment shares.
import type { PayloadCodec } from '@temporalio/common';
import { ENCRYPTION_KEY_FILE_ENV, ENCRYPTION_KEYS_ENV, encryptionFromEnv, type EnvEncryption } from '../security/encryption';
import type { AgentWorkerOptions } from '../worker';
import type { CliValues } from './connect';
import { CliError } from './errors';

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
