// The peer's workflows, the way @temporalio/ai-sdk's samples write one: the AI SDK's loop inside the workflow, the
// model through the Temporal provider (an activity per call), each tool an activity.
// - aiSdkAgent: generateText (no live output).
// - aiSdkStreamingAgent: streamText with the provider's `streamingTopic`, so the streaming model activity publishes
//   each stream part to the workflow's Workflow Stream (@temporalio/workflow-streams), where clients subscribe.
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { TemporalProvider, temporalProvider } from '@temporalio/ai-sdk/workflow';
import { WorkflowStream } from '@temporalio/workflow-streams/workflow';
import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import { z } from 'zod';

const { work } = proxyActivities({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 3 } });

const tools = {
  work: tool({
    description: 'Do a unit of work and return its result.',
    inputSchema: z.object({ turn: z.number(), call: z.number(), ms: z.number(), bytes: z.number() }),
    execute: (input) => work(input),
  }),
};

export async function aiSdkAgent({ prompt, model, maxSteps, system }) {
  const result = await generateText({
    model: temporalProvider.languageModel(model),
    ...(system !== undefined ? { system } : {}),
    prompt,
    maxOutputTokens: 1024,
    tools,
    stopWhen: stepCountIs(maxSteps),
  });
  return { text: result.text, steps: result.steps.length };
}

/** The bench's subscriber says it has read the whole stream, so the workflow may end (its log goes with it). */
export const subscriberDoneSignal = defineSignal('subscriberDone');

export async function aiSdkStreamingAgent({ prompt, model, maxSteps, streamingTopic, streamingBatchInterval }) {
  // Registers the stream's publish signal, poll Update and offset query on this workflow.
  new WorkflowStream();
  let subscriberDone = false;
  setHandler(subscriberDoneSignal, () => void (subscriberDone = true));
  const provider = new TemporalProvider({ languageModel: { streamingTopic, ...(streamingBatchInterval ? { streamingBatchInterval } : {}) } });
  const result = streamText({
    model: provider.languageModel(model),
    prompt,
    maxOutputTokens: 1024,
    tools,
    stopWhen: stepCountIs(maxSteps),
  });
  const [text, steps] = await Promise.all([result.text, result.steps]);
  // A subscriber that has not polled the last items yet would lose them if the run ended now.
  await condition(() => subscriberDone, '1 minute');
  return { text, steps: steps.length };
}
