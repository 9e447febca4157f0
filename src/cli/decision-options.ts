// Verified decisions for the workers the CLI starts (filled in by the verified-decisions work).
import type { AgentWorkerOptions } from '../worker';
import type { CliValues } from './connect';

/** Worker options that verify decision credentials, from flags and the environment; empty when none is configured. */
export function decisionWorkerOptions(_values: CliValues): Partial<AgentWorkerOptions> {
  return {};
}
