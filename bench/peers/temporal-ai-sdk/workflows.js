// The peer's workflow, the way @temporalio/ai-sdk's samples write one: the AI SDK's generateText loop inside the
// workflow, the model through temporalProvider (an activity per call), each tool an activity.
import { generateText, stepCountIs, tool } from 'ai';
import { temporalProvider } from '@temporalio/ai-sdk/workflow';
import { proxyActivities } from '@temporalio/workflow';
import { z } from 'zod';

const { work } = proxyActivities({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 3 } });

export async function aiSdkAgent({ prompt, model, maxSteps }) {
  const result = await generateText({
    model: temporalProvider.languageModel(model),
    prompt,
    maxOutputTokens: 1024,
    tools: {
      work: tool({
        description: 'Do a unit of work and return its result.',
        inputSchema: z.object({ turn: z.number(), call: z.number(), ms: z.number(), bytes: z.number() }),
        execute: (input) => work(input),
      }),
    },
    stopWhen: stepCountIs(maxSteps),
  });
  return { text: result.text, steps: result.steps.length };
}
