// The demo's simulated model: a script for the fake Messages API that behaves like Claude on the demo task. It reads
// the real tool results from the conversation, so what it writes follows what the tools (and the approver) did.
import type { BetaContentBlockParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { reply, text, toolUse } from '../testing/fake-messages-api/builders';
import type { Script, StepContext } from '../testing/fake-messages-api/types';

export const DEMO_PROMPT = "What's the weather and the local time in Paris right now? Then email a two-line summary to team@example.com.";
export const DEMO_RECIPIENT = 'team@example.com';

interface ToolResult {
  toolUseId: string;
  content: string;
  isError: boolean;
}

function lastToolResults(context: StepContext): ToolResult[] {
  const last = context.request.messages[context.request.messages.length - 1];
  if (!last || last.role !== 'user' || typeof last.content === 'string') return [];
  return (last.content as BetaContentBlockParam[]).flatMap((block) => {
    if (block.type !== 'tool_result') return [];
    const content = typeof block.content === 'string' ? block.content : (block.content ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('');
    return [{ toolUseId: block.tool_use_id, content, isError: block.is_error === true }];
  });
}

function parsed(content: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(content);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function demoStep(context: StepContext) {
  switch (context.turnIndex) {
    case 0:
      return reply(
        text("I'll check the weather and the local time in Paris at the same time."),
        toolUse('get_weather', { location: 'Paris, France', unit: 'celsius' }),
        toolUse('get_time', { timezone: 'Europe/Paris' }),
      );
    case 1: {
      const [weather, time] = lastToolResults(context).map((r) => parsed(r.content));
      const summary = `Paris: ${String(weather?.conditions ?? 'unknown')}, ${String(weather?.temperature ?? '?')}°C.\nLocal time: ${String(time?.time ?? 'unknown')}.`;
      return reply(
        text(`Here's what I found:\n${summary}\nI'll email this to ${DEMO_RECIPIENT}; sending email needs your approval.`),
        toolUse('send_email', { to: DEMO_RECIPIENT, subject: 'Paris right now', body: summary }),
      );
    }
    default: {
      const [outcome] = lastToolResults(context);
      if (!outcome) return reply(text('Done.'));
      if (outcome.isError) return reply(text(`I did not send the email: ${outcome.content}`));
      return reply(text(`Done: the summary went to ${DEMO_RECIPIENT} (${parsed(outcome.content).status ?? 'sent'}).`));
    }
  }
}

/** Answers any conversation: the demo task as above, anything else with a note that the model is simulated. */
export function simulatedModelScript(): Script {
  return {
    match: () => true,
    steps: (context) => {
      const first = context.conversationKey;
      if (first.startsWith(DEMO_PROMPT.slice(0, 40))) return demoStep(context);
      return reply(
        text(`(simulated model) You said: "${first.slice(0, 200)}". Set ANTHROPIC_API_KEY to talk to Claude; without it, durable-claude answers with this offline stand-in.`),
      );
    },
  };
}
