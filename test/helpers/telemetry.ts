// The tests' stand-in for AgentPlugin's telemetry wiring: the hooks of an AgentTelemetry on a createAgentWorker worker.
import type { WorkerPlugin } from '@temporalio/worker';
import type { AgentTelemetry } from '../../src/observability';

export function telemetryPlugin(telemetry: AgentTelemetry): WorkerPlugin {
  return {
    name: 'test-telemetry',
    configureWorker: (options) => telemetry.configureWorker({ ...options, activities: telemetry.instrumentActivities(options.activities as Record<string, never>) }),
    runWorker: (worker, next) => telemetry.runWorker(worker, next),
  };
}
