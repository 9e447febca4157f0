// The bench's floor: a tool-use loop with a conversation's activity shape and nothing else — one activity per model
// call, the reply's tool calls as parallel activities, their results in the next call. What this costs per turn is
// what Temporal itself costs on the machine; durable-claude's figures beside it show what is ours.
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { BareActivities, BareConversationInput, BareConversationResult, BareToolUse } from './types';

// Bounded timeouts and retries, as a conversation's activities have (their values change nothing when nothing fails).
const { callModel } = proxyActivities<Pick<BareActivities, 'callModel'>>({ startToCloseTimeout: '10 minutes', retry: { maximumAttempts: 8 } });
const { runTool } = proxyActivities<Pick<BareActivities, 'runTool'>>({ startToCloseTimeout: '10 minutes', retry: { maximumAttempts: 3 } });

export async function bareConversation({ prompt, maxModelCalls }: BareConversationInput): Promise<BareConversationResult> {
  let reply = await callModel({ prompt });
  let modelCalls = 1;
  for (;;) {
    const uses: BareToolUse[] = reply.content.flatMap((block) => (block.type === 'tool_use' ? [{ id: block.id!, name: block.name!, input: block.input }] : []));
    if (uses.length === 0) return { modelCalls, stopReason: reply.stopReason };
    if (modelCalls >= maxModelCalls) throw ApplicationFailure.nonRetryable(`still calling tools after ${modelCalls} model calls`);
    const results = await Promise.all(uses.map((use) => runTool(use)));
    reply = await callModel({
      prompt,
      previousMessageId: reply.id,
      toolResults: results.map((result) => ({ type: 'tool_result', tool_use_id: result.toolUseId, content: result.content })),
    });
    modelCalls++;
  }
}
