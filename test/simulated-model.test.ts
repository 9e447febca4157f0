// The offline simulated model (what `durable-claude chat`, `run` and the demo talk to without an API key), through
// the client's chat API, a real worker with the example tools, and the fake Messages API.
import { setTimeout as sleep } from 'node:timers/promises';
import { DEMO_PROMPT, DEMO_RECIPIENT, simulatedModelScript } from '../src/demo/scripted-model';
import { exampleTools, type SentEmail } from '../src/examples/tools';
import type { Transcript } from '../src/workflows/types';
import { startHarness, withWorker, type Harness } from './helpers/harness';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ defaultScript: simulatedModelScript() });
});
afterAll(() => harness.close());

const outbox = new Map<string, SentEmail>();
const tools = exampleTools({ outbox });
const toolNames = tools.map((tool) => tool.name);

/** What the example weather tool says for a place, to compare the model's answer with. */
async function weatherIn(location: string): Promise<{ conditions: string; temperature: number }> {
  const tool = tools.find((t) => t.name === 'get_weather')!;
  const parsed = tool.parse({ location });
  if (!parsed.ok) throw new Error(parsed.error);
  return (await tool.run(parsed.value, {} as never)) as { conditions: string; temperature: number };
}

/** The tool calls the model made, in order, from the transcript's assistant messages. */
function toolUsesOf(transcript: Transcript): Array<{ name: string; input: unknown }> {
  return transcript.messages.flatMap((message) =>
    message.role === 'assistant' && typeof message.content !== 'string'
      ? message.content.flatMap((block) => (block.type === 'tool_use' ? [{ name: block.name, input: block.input }] : []))
      : [],
  );
}

describe('the simulated model in a chat', () => {
  test('answers each message, not the first one again', async () => {
    const replies = await withWorker(harness, { tools }, async (agent) => {
      const { handle, reply: first } = await agent.startChat({ message: 'Hello there, simulated friend', tools: toolNames });
      const second = await handle.sendMessage('Tell me something new');
      const third = await handle.sendMessage('One more thing');
      await handle.end('test');
      await handle.result();
      return [first.text, second.text, third.text];
    });
    expect(replies[0]).toContain('You said: "Hello there, simulated friend"');
    expect(replies[1]).toContain('You said: "Tell me something new"');
    expect(replies[2]).toContain('You said: "One more thing"');
    expect(replies.slice(1).some((r) => r.includes('Hello there'))).toBe(false);
  });

  test('uses the example tools for the message at hand, and answers from their results', async () => {
    const { replies, transcript } = await withWorker(harness, { tools }, async (agent) => {
      const { handle, reply: first } = await agent.startChat({ message: 'Hi!', tools: toolNames });
      const weather = await handle.sendMessage("What's the weather in Tokyo right now?");
      const time = await handle.sendMessage('And what time is it in London?');
      await handle.end('test');
      const result = await handle.result();
      return { replies: [first.text, weather.text, time.text], transcript: result.transcript! };
    });
    expect(toolUsesOf(transcript)).toEqual([
      { name: 'get_weather', input: { location: 'Tokyo', unit: 'celsius' } },
      { name: 'get_time', input: { timezone: 'Europe/London' } },
    ]);
    const tokyo = await weatherIn('Tokyo');
    expect(replies[0]).toContain('You said: "Hi!"');
    expect(replies[1]).toContain(`Tokyo: ${tokyo.conditions}, ${tokyo.temperature}°C`);
    expect(replies[2]).toContain('Local time in Europe/London');
  });

  test('runs the demo task when it is sent mid-chat, parallel lookups and the approved email included', async () => {
    const { reply, transcript } = await withWorker(harness, { tools }, async (agent) => {
      const { handle } = await agent.startChat({ message: 'Good morning', tools: toolNames });
      const answer = handle.sendMessage(DEMO_PROMPT);
      let pending = await handle.pending();
      while (pending.length === 0) {
        await sleep(50);
        pending = await handle.pending();
      }
      expect(pending.map((p) => p.toolName)).toEqual(['send_email']);
      await handle.approve(pending[0]!.toolUseId, { by: 'test' });
      const reply = await answer;
      await handle.end('test');
      return { reply, transcript: (await handle.result()).transcript! };
    });
    expect(reply.text).toBe(`Done: the summary went to ${DEMO_RECIPIENT} (sent).`);
    expect(transcript.turns.map((turn) => turn.toolCalls.map((call) => call.toolName))).toEqual([[], ['get_weather', 'get_time'], ['send_email'], []]);
    expect([...outbox.values()].map((email) => email.to)).toContain(DEMO_RECIPIENT);
  });
});

describe('the simulated model in a single run', () => {
  test('answers a question about the weather with the weather tool', async () => {
    const result = await withWorker(harness, { tools }, async (agent) => (await agent.start({ prompt: 'Is it raining in Paris?', tools: toolNames })).result());
    const paris = await weatherIn('Paris');
    expect(result.status).toBe('completed');
    expect(toolUsesOf(result.transcript!)).toEqual([{ name: 'get_weather', input: { location: 'Paris', unit: 'celsius' } }]);
    expect(result.text).toContain(`Paris: ${paris.conditions}, ${paris.temperature}°C`);
  });

  test('runs the demo task as the demo shows it: two lookups at once, then the email once approved', async () => {
    const result = await withWorker(harness, { tools }, async (agent) => {
      const handle = await agent.start({ prompt: DEMO_PROMPT, tools: toolNames });
      let pending = await handle.pending();
      while (pending.length === 0) {
        await sleep(50);
        pending = await handle.pending();
      }
      await handle.approve(pending[0]!.toolUseId, { by: 'test' });
      return handle.result();
    });
    expect(result.status).toBe('completed');
    expect(result.transcript!.turns.map((turn) => turn.toolCalls.map((call) => call.toolName))).toEqual([['get_weather', 'get_time'], ['send_email'], []]);
    expect(result.text).toBe(`Done: the summary went to ${DEMO_RECIPIENT} (sent).`);
  });
});
