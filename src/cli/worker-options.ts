// What every worker the CLI starts (dev, demo, worker) shares besides its tools: storage, encryption, verification.
import type { ConfiguredStorage } from '../storage/config';
import type { AgentWorkerOptions } from '../worker';
import type { CliValues } from './values';
import { decisionWorkerOptions } from './decision-options';
import { encryptionWorkerOptions } from './encryption-options';

export function cliWorkerOptions(values: CliValues, stored: ConfiguredStorage | undefined): Partial<AgentWorkerOptions> {
  return {
    ...(stored ? { externalStorage: stored.storage } : {}),
    ...encryptionWorkerOptions(values),
    ...decisionWorkerOptions(values),
  };
}
