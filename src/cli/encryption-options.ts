// Payload encryption for the workers and clients the CLI starts (filled in by the encryption work).
import type { AgentWorkerOptions } from '../worker';
import type { CliValues } from './connect';

/** Worker options that encrypt payloads, from flags and the environment; empty when encryption is off. */
export function encryptionWorkerOptions(_values: CliValues): Partial<AgentWorkerOptions> {
  return {};
}
