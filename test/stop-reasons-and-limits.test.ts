import { z } from 'zod';
import { defineTool } from '../src/tools/define-tool';
import { reply, text, toolUse } from '../src/testing';
import { startHarness, uniquePrompt, withWorker, type Harness, toolResultsOf } from './helpers/harness';
import { recordHistoryFixture } from './helpers/fixtures';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

const lookups: string[] = [];
const lookup = defineTool({
  name: 'lookup',
  description: 'Look something up',
  input: z.object({ query: z.string() }),
  run: ({ query }) => {
    lookups.push(query);
    return `result for ${query}`;
  },
});

async function converse(prompt: string, options: Record<string, unknown> = {}, fixture?: string) {
  return withWorker(harness, { tools: [lookup] }, async (agent) => {
    const handle = await agent.start({ prompt, tools: ['lookup'], ...options });
    const result = await handle.result();
    if (fixture) await recordHistoryFixture(harness.temporal.client, fixture, handle.conversationId);
    return result;
  });
}

describe('stop reasons', () => {
  test('stop_sequence finishes the conversation as completed', async () => {
    const prompt = uniquePrompt('Count to three');
    harness.fake.addScript({ match: prompt, steps: [{ content: [text('one, two')], stop_reason: 'stop_sequence' }] });
    const result = await converse(prompt, { stopSequences: ['three'] });
    expect(result).toMatchObject({ status: 'completed', stopReason: 'stop_sequence', text: 'one, two' });
  });

  test('max_tokens with a cut-off tool_use repeats the call with a higher max_tokens (a bounded ladder)', async () => {
    const prompt = uniquePrompt('Look up a long thing');
    harness.fake.addScript({
      match: prompt,
      steps: ({ turnIndex, request }) => {
        if (turnIndex === 0) {
          return request.max_tokens < 4000
            ? { content: [text('Looking it up'), toolUse('lookup', { query: 'long' })], stop_reason: 'max_tokens' }
            : reply(text('Looking it up'), toolUse('lookup', { query: 'long' }));
        }
        return reply(text('Found it.'));
      },
    });
    const result = await converse(prompt, { maxTokens: 1000 }, 'max-tokens-ladder');
    expect(result.status).toBe('completed');
    expect(result.transcript!.turns[0]!.maxTokensTried).toEqual([1000, 2000, 4000]);
    const sent = harness.fake.requestsFor(prompt).map((r) => (r.body as { max_tokens: number }).max_tokens);
    expect(sent.slice(0, 3)).toEqual([1000, 2000, 4000]);
    expect(lookups).toContain('long');
  });

  test('max_tokens on text finishes the conversation marked truncated', async () => {
    const prompt = uniquePrompt('Write an essay');
    harness.fake.addScript({ match: prompt, steps: [{ content: [text('Once upon a')], stop_reason: 'max_tokens' }] });
    const result = await converse(prompt);
    expect(result).toMatchObject({ status: 'truncated', stopReason: 'max_tokens', text: 'Once upon a' });
  });

  test('refusal finishes with status refused and is not retried', async () => {
    const prompt = uniquePrompt('Something the model refuses');
    harness.fake.addScript({ match: prompt, steps: [{ content: [text('I can’t help with that.')], stop_reason: 'refusal' }] });
    const result = await converse(prompt, {}, 'refusal');
    expect(result.status).toBe('refused');
    expect(harness.fake.requestsFor(prompt)).toHaveLength(1);
  });

  test('pause_turn continues with the paused content (an empty continue on a thread)', async () => {
    const prompt = uniquePrompt('Research this at length');
    harness.fake.addScript({
      match: prompt,
      steps: [{ content: [text('Searching… ')], stop_reason: 'pause_turn' }, reply(text('Here is what I found.'))],
    });
    const result = await converse(prompt, {}, 'pause-turn');
    expect(result.status).toBe('completed');
    const messages = result.transcript!.messages;
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(result.text).toBe('Searching… Here is what I found.');
    const requests = harness.fake.requestsFor(prompt);
    expect(requests.map((r) => r.threadKind)).toEqual(['create', 'continue']);
    expect((requests[1]!.body as { messages: unknown[] }).messages).toEqual([]);
  });

  test('model_context_window_exceeded finishes with its own status', async () => {
    const prompt = uniquePrompt('A conversation that outgrew the context window');
    harness.fake.addScript({ match: prompt, steps: [{ content: [text('partial')], stop_reason: 'model_context_window_exceeded' }] });
    const result = await converse(prompt);
    expect(result.status).toBe('context_window_exceeded');
  });
});

describe('limits', () => {
  test('max iterations ends the conversation with status max_iterations, not a crash', async () => {
    const prompt = uniquePrompt('Never stop looking things up');
    harness.fake.addScript({ match: prompt, steps: ({ turnIndex }) => reply(toolUse('lookup', { query: `q${turnIndex}` })) });
    const result = await converse(prompt, { limits: { maxIterations: 3 } }, 'limit-max-iterations');
    expect(result.status).toBe('max_iterations');
    expect(result.turns).toBe(3);
    // The third reply's calls are not run: no model call is left to read their results.
    expect(lookups).not.toContain('q2');
  });

  test('calls past the per-turn cap get an is_error result that explains the cap', async () => {
    const prompt = uniquePrompt('Look up three things at once');
    harness.fake.addScript({
      match: prompt,
      steps: [
        reply(toolUse('lookup', { query: 'a' }), toolUse('lookup', { query: 'b' }), toolUse('lookup', { query: 'c' })),
        reply(text('done')),
      ],
    });
    const result = await converse(prompt, { limits: { maxToolCallsPerTurn: 2 } }, 'limit-tool-calls-per-turn');
    const results = toolResultsOf(result.transcript!.messages[2]!.content);
    expect(results).toHaveLength(3);
    expect(results[0]!.is_error).toBeUndefined();
    expect(results[1]!.is_error).toBeUndefined();
    expect(results[2]).toMatchObject({ is_error: true });
    expect(results[2]!.content).toMatch(/limit is 2 per turn/);
    expect(result.transcript!.turns[0]!.toolCalls.map((c) => c.outcome)).toEqual(['ok', 'ok', 'over_limit']);
  });

  test('a token budget ends the conversation with status token_budget_exceeded', async () => {
    const prompt = uniquePrompt('Spend tokens');
    harness.fake.addScript({
      match: prompt,
      steps: ({ turnIndex }) => ({ content: [toolUse('lookup', { query: `t${turnIndex}` })], usage: { input_tokens: 600, output_tokens: 100 } }),
    });
    const result = await converse(prompt, { limits: { tokenBudget: 1500 } }, 'limit-token-budget');
    expect(result.status).toBe('token_budget_exceeded');
    expect(result.turns).toBe(3);
    expect(result.usage.inputTokens + result.usage.outputTokens).toBeGreaterThanOrEqual(1500);
  });

  test('tool_choice follows a per-turn schedule: none on the last allowed turn', async () => {
    const prompt = uniquePrompt('Research, then answer');
    harness.fake.addScript({
      match: prompt,
      steps: ({ request, turnIndex }) =>
        request.tool_choice?.type === 'none' ? reply(text('Final answer.')) : reply(toolUse('lookup', { query: `r${turnIndex}` })),
    });
    const result = await converse(prompt, {
      toolChoice: { type: 'auto', disable_parallel_tool_use: true },
      limits: { maxIterations: 3 },
      toolChoiceSchedule: [{ turn: 'last', toolChoice: 'none' }],
    }, 'tool-choice-schedule');
    expect(result).toMatchObject({ status: 'completed', text: 'Final answer.', turns: 3 });
    const choices = harness.fake.requestsFor(prompt).map((r) => (r.body as { tool_choice?: unknown }).tool_choice);
    expect(choices).toEqual([
      { type: 'auto', disable_parallel_tool_use: true },
      { type: 'auto', disable_parallel_tool_use: true },
      { type: 'none' },
    ]);
  });
});
