// Worker-side activities, built by factories that close over what only the worker holds: the SDK client (and
// its API key) and the tool code.
import type Anthropic from '@anthropic-ai/sdk';
import type { ExternalStorage, PayloadCodec } from '@temporalio/common';
import type { AgentTool } from '../tools/define-tool';
import type { DecisionVerifier } from '../security/types';
import { ToolRegistry } from '../tools/registry';
import { createDecisionActivities } from './decisions';
import { createModelActivities, type ModelActivityOptions } from './model';
import { createPayloadStorageActivities } from './payload-storage';
import { createToolActivities } from './tools';
import { createTranscriptArchiveActivities } from './transcript-archive';
import type { AgentActivities } from './types';
import type { AgentTelemetry } from '../observability';

export { createModelActivities, classifyModelError, retryDelayMs, type ModelActivityOptions } from './model';
export { MESSAGE_THREADS_BETA } from '../message-threads';
export { createToolActivities } from './tools';
export type * from './types';

export interface AgentActivitiesOptions extends Omit<ModelActivityOptions, 'anthropic'> {
  anthropic: Anthropic;
  tools: ToolRegistry | Iterable<AgentTool>;
  /** The worker's external storage threshold (bytes), or null/absent without external storage. */
  payloadsOffloadedAbove?: number | null;
  /** The worker's external storage, where a long conversation's older transcript goes at a hand-over. */
  externalStorage?: ExternalStorage;
  /** The worker's payload codecs, for what the activities store themselves (archived transcript segments). */
  payloadCodecs?: readonly PayloadCodec[];
  /** Verifies decision credentials (tools with approvers need it). */
  decisionVerifier?: DecisionVerifier;
  /** Model-call and tool spans and metrics (createTelemetry); the SDK's own call spans go to the same tracer provider. */
  telemetry?: AgentTelemetry;
}

export function createAgentActivities({ anthropic: givenAnthropic, tools, payloadsOffloadedAbove, externalStorage, payloadCodecs, decisionVerifier, telemetry, ...modelOptions }: AgentActivitiesOptions): AgentActivities {
  const registry = tools instanceof ToolRegistry ? tools : new ToolRegistry(tools);
  const anthropic = telemetry ? withTelemetry(givenAnthropic, telemetry) : givenAnthropic;
  const activities: AgentActivities = {
    ...createModelActivities({ anthropic, ...modelOptions }),
    ...createToolActivities(registry, modelOptions.events ? { events: modelOptions.events } : {}),
    ...createDecisionActivities({ registry, ...(decisionVerifier ? { verifier: decisionVerifier } : {}) }),
    ...createPayloadStorageActivities({ offloadsAbove: payloadsOffloadedAbove !== undefined ? payloadsOffloadedAbove : (externalStorage?.payloadSizeThreshold ?? null) }),
    ...createTranscriptArchiveActivities({ externalStorage, ...(payloadCodecs ? { payloadCodecs } : {}) }),
  };
  return telemetry ? telemetry.instrumentActivities(activities) : activities;
}

/**
 * The SDK's own call spans (anthropic.messages.create, with HTTP details) go to our tracer provider and run inside
 * our model-call span, so they are its children; they record content only when captureContent asks for it.
 */
function withTelemetry(anthropic: Anthropic, telemetry: AgentTelemetry): Anthropic {
  const { openTelemetry } = anthropic;
  if (openTelemetry.traces.enabled === false) return anthropic;
  const { tracerProvider } = telemetry.options;
  return anthropic.withOptions({
    openTelemetry: {
      ...openTelemetry,
      ...(tracerProvider ? { tracerProvider } : {}),
      traces: { ...openTelemetry.traces, contentMode: telemetry.options.captureContent ? 'content' : 'metadata_only' },
    },
  });
}
