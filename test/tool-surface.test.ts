// The rest of Claude's tool-use surface through the durable loop, against the real dev server and the fake Messages
// API: extended thinking, server tools with pause_turn and a code-execution container, Anthropic-defined client
// tools (bash, with a session that outlives its worker) and tool input examples.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BetaContentBlockParam, BetaMessageParam } from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { z } from 'zod';
import { AgentClient, InvalidConversationOptionsError } from '../src/client';
import { reply, serverToolUse, text, thinking, toolUse } from '../src/testing';
import { bashTool } from '../src/tools/bash';
import { defineTool } from '../src/tools/define-tool';
import type { StartConversationOptions } from '../src/client/types';
import type { ConversationOptions, ConversationResult } from '../src/workflows/types';
import { recordHistoryFixture } from './helpers/fixtures';
import { startHarness, uniquePrompt, withWorker, type Harness } from './helpers/harness';
import { uniqueTaskQueue } from './helpers/temporal';
import { spawnWorkerProcess, stopWorkerProcess } from './helpers/worker-process';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => {
  await harness?.close();
});

const lookup = defineTool({
  name: 'lookup',
  description: 'Look something up',
  input: z.object({ query: z.string() }),
  run: ({ query }) => `found ${query}`,
});

const blocksOf = (message: BetaMessageParam | undefined): BetaContentBlockParam[] =>
  message === undefined ? [] : typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : (message.content as BetaContentBlockParam[]);

/** Every request of a conversation, those refused before the fake knew the conversation included. */
const allRequestsFor = (prompt: string) => harness.fake.requests.filter((r) => JSON.stringify(r.body ?? null).includes(prompt));

async function converse(prompt: string, options: Omit<ConversationOptions, 'prompt'>, fixture?: string, tools = [lookup]): Promise<ConversationResult> {
  return withWorker(harness, { tools }, async (agent) => {
    const handle = await agent.start({ prompt, ...options });
    const result = await handle.result();
    if (fixture) await recordHistoryFixture(harness.temporal.client, fixture, handle.conversationId);
    return result;
  });
}

describe('extended thinking', () => {
  for (const threads of [true, false]) {
    test(`a tool round with thinking sends the thinking blocks back unchanged (${threads ? 'threaded' : 'unthreaded'})`, async () => {
      const prompt = uniquePrompt('Think, then look up the tide');
      harness.fake.addScript({
        match: prompt,
        steps: [reply(thinking('The user wants the tide; I should look it up.'), toolUse('lookup', { query: 'tide' })), reply(thinking('Found it.'), text('High tide at 6.'))],
      });
      const result = await converse(
        prompt,
        { tools: ['lookup'], threads, thinking: { type: 'adaptive', display: 'summarized', effort: 'medium' } },
        threads ? 'thinking-tool-round' : undefined,
      );
      expect(result.status).toBe('completed');
      expect(result.text).toBe('High tide at 6.');
      const [, asked] = result.transcript!.messages;
      const thought = blocksOf(asked)[0] as { type: string; thinking: string; signature: string };
      expect(thought.type).toBe('thinking');
      expect(thought.thinking).toBe('The user wants the tide; I should look it up.');
      expect(thought.signature.length).toBeGreaterThan(10);
      expect(result.transcript!.turns[0]!.thinkingBlocks).toBe(1);

      const requests = harness.fake.requestsFor(prompt);
      expect(requests.map((r) => r.status)).toEqual([200, 200]);
      const bodies = requests.map((r) => r.body as { thinking?: unknown; output_config?: unknown; messages: BetaMessageParam[] });
      for (const body of bodies) {
        expect(body.thinking).toEqual({ type: 'adaptive', display: 'summarized' });
        expect(body.output_config).toEqual({ effort: 'medium' });
      }
      if (threads) {
        // The thread holds the reply: the continue sends only the results, and the fake checked the stored blocks.
        expect(requests.map((r) => r.threadKind)).toEqual(['create', 'continue']);
      } else {
        expect(blocksOf(bodies[1]!.messages[1])[0]).toEqual(thought);
      }
    });
  }

  test('a conversation whose thread is refused for thinking runs unthreaded from then on, its history linear', async () => {
    const prompt = uniquePrompt('Think without a thread');
    harness.fake.addScript({
      match: prompt,
      steps: [reply(thinking('Look it up.'), toolUse('lookup', { query: 'a' })), reply(thinking('Again.'), toolUse('lookup', { query: 'b' })), reply(text('Both found.'))],
    });
    // Threads work, except for requests that carry thinking (the reference's thread_unsupported_request).
    harness.fake.setThreadUnsupportedFeatures(['thinking']);
    let result: ConversationResult;
    try {
      result = await converse(prompt, { tools: ['lookup'], thinking: 'adaptive' });
    } finally {
      harness.fake.setThreadUnsupportedFeatures(null);
    }
    expect(result.status).toBe('completed');
    const requests = allRequestsFor(prompt);
    // The first request was refused as a thread and sent again without; every later one goes unthreaded at once.
    expect(requests.map((r) => `${r.threadKind}:${r.status}`)).toEqual(['create:400', 'unthreaded:200', 'unthreaded:200', 'unthreaded:200']);
    expect(result.transcript!.turns.map((t) => t.requestKind)).toEqual(['unthreaded', 'unthreaded', 'unthreaded']);
    expect(result.transcript!.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
    const last = requests[3]!.body as { messages: BetaMessageParam[] };
    expect(last.messages).toHaveLength(5);
  });

  test('forced tool_choice, temperature and a bad budget are refused at start with thinking on', async () => {
    await withWorker(harness, { tools: [lookup] }, async (agent) => {
      const start = (options: Omit<StartConversationOptions, 'prompt'>) => agent.start({ prompt: 'x', tools: ['lookup'], ...options });
      await expect(start({ thinking: 'adaptive', toolChoice: 'any' })).rejects.toThrow(InvalidConversationOptionsError);
      await expect(start({ thinking: 'adaptive', toolChoice: { type: 'tool', name: 'lookup' } })).rejects.toThrow(/only tool_choice 'auto' or 'none' go with thinking/);
      await expect(start({ thinking: 'between_tools', toolChoiceSchedule: [{ turn: 'last', toolChoice: 'any' }] })).rejects.toThrow(/toolChoiceSchedule\[0\] forces tool use/);
      await expect(start({ thinking: 'adaptive', temperature: 0.2 })).rejects.toThrow(/temperature cannot be changed with thinking on/);
      await expect(start({ thinking: { type: 'enabled', budgetTokens: 500 }, model: 'claude-sonnet-4-5' })).rejects.toThrow(/budgetTokens must be a whole number of at least 1024/);
      // The default model thinks adaptively only: a budget or 'disabled' would be the API's 400 on the first call.
      await expect(start({ thinking: { type: 'enabled', budgetTokens: 2048 } })).rejects.toThrow(/refused by claude-sonnet-5-5, whose thinking is adaptive/);
      await expect(start({ thinking: 'disabled', model: 'claude-opus-5-5' })).rejects.toThrow(/use 'adaptive' .* 'between_tools'/);
      await expect(start({ thinking: { type: 'between_tools', effort: 'max' as 'high' } })).rejects.toThrow(/between_tools' runs at effort low, medium or high/);
      // Without thinking, or with it off, a forced choice is fine.
      await expect(start({ thinking: 'disabled', model: 'claude-sonnet-4-5', toolChoice: 'any', conversationId: `forced-${uniqueTaskQueue()}` })).resolves.toBeDefined();
    });
  });

  test("a thinking block altered before it goes back gets the fake's 400 and fails the conversation at once, not retried", async () => {
    const prompt = uniquePrompt('Altered thinking');
    harness.fake.addScript({ match: prompt, steps: [reply(text('never reached'))] });
    const forged: BetaMessageParam[] = [
      { role: 'user', content: prompt },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'I made this up.', signature: 'c2lnbmF0dXJlLXRoYXQtd2FzLW5ldmVyLWlzc3VlZA==' }, { type: 'text', text: 'Hello.' }] },
      { role: 'user', content: 'And now?' },
    ];
    await withWorker(harness, { tools: [] }, async (agent) => {
      const handle = await agent.start({ messages: forged, thinking: 'adaptive' });
      await expect(handle.result()).rejects.toThrow(/signature/i);
    });
    const requests = allRequestsFor(prompt);
    expect(requests.map((r) => r.status)).toEqual([400]);
  });
});

describe('server tools', () => {
  for (const threads of [true, false]) {
    test(`a web search that pauses twice, then calls a custom tool in the same turn (${threads ? 'threaded' : 'unthreaded'})`, async () => {
      const prompt = uniquePrompt('Search three times, then look it up');
      harness.fake.addScript({
        match: prompt,
        steps: [
          {
            content: [
              serverToolUse('web_search', { query: 'tides brest' }),
              serverToolUse('web_search', { query: 'tides brest tomorrow' }),
              serverToolUse('web_search', { query: 'tide tables' }),
              text('Three searches done; checking our own table.'),
              toolUse('lookup', { query: 'tide table' }),
            ],
            pauseAfterServerToolUses: 1,
          },
          reply(text('High tide at 6:12.')),
        ],
      });
      const result = await withWorker(harness, { tools: [lookup] }, async (agent) => {
        const handle = await agent.start({ prompt, tools: ['lookup'], serverTools: ['web_search'], threads });
        const done = await handle.result();
        if (threads) await recordHistoryFixture(harness.temporal.client, 'server-tools-pause-turn', handle.conversationId);
        // Nothing waited for a person: server tools run on Anthropic's side.
        expect(done.transcript!.approvals).toEqual([]);
        return done;
      });
      expect(result.status).toBe('completed');
      expect(result.text).toBe('High tide at 6:12.');
      const { messages, turns } = result.transcript!;
      expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
      // The paused parts joined into one assistant message, every block as it came, in order.
      expect(blocksOf(messages[1]).map((b) => b.type)).toEqual([
        'server_tool_use',
        'web_search_tool_result',
        'server_tool_use',
        'web_search_tool_result',
        'server_tool_use',
        'web_search_tool_result',
        'text',
        'tool_use',
      ]);
      expect(turns.map((t) => t.stopReason)).toEqual(['pause_turn', 'pause_turn', 'tool_use', 'end_turn']);
      expect(turns.slice(0, 3).map((t) => t.serverToolCalls?.map((c) => `${c.name}:${c.resultType}`))).toEqual([
        ['web_search:web_search_tool_result'],
        ['web_search:web_search_tool_result'],
        ['web_search:web_search_tool_result'],
      ]);
      expect(turns[2]!.toolCalls.map((c) => `${c.toolName}:${c.outcome}`)).toEqual(['lookup:ok']);

      const requests = harness.fake.requestsFor(prompt);
      expect(requests.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      const bodies = requests.map((r) => r.body as { tools?: unknown[]; messages: BetaMessageParam[] });
      expect(bodies[0]!.tools).toEqual(expect.arrayContaining([{ type: 'web_search_20250305', name: 'web_search' }]));
      if (threads) {
        // A paused turn resumes with an empty continue; the tool results go as the next continue.
        expect(requests.map((r) => r.threadKind)).toEqual(['create', 'continue', 'continue', 'continue']);
        expect(bodies[1]!.messages).toEqual([]);
        expect(bodies[2]!.messages).toEqual([]);
      } else {
        // Without a thread the paused reply goes back whole, last, as it came.
        expect(requests.map((r) => r.threadKind)).toEqual(['unthreaded', 'unthreaded', 'unthreaded', 'unthreaded']);
        const resumed = bodies[2]!.messages;
        expect(resumed.map((m) => m.role)).toEqual(['user', 'assistant']);
        expect(blocksOf(resumed[1]).map((b) => b.type)).toEqual(['server_tool_use', 'web_search_tool_result', 'server_tool_use', 'web_search_tool_result']);
      }
    });
  }

  test('thinking interleaved with a paused web search goes back whole with the tool results (unthreaded)', async () => {
    const prompt = uniquePrompt('Think, search, think, look up');
    harness.fake.addScript({
      match: prompt,
      steps: [
        {
          content: [
            thinking('Search first.'),
            serverToolUse('web_search', { query: 'q1' }),
            serverToolUse('web_search', { query: 'q2' }),
            thinking('Now our table.'),
            toolUse('lookup', { query: 'table' }),
          ],
          pauseAfterServerToolUses: 1,
        },
        reply(text('Done.')),
      ],
    });
    const result = await converse(prompt, { tools: ['lookup'], serverTools: ['web_search'], threads: false, thinking: { type: 'adaptive', display: 'summarized' } });
    expect(result.status).toBe('completed');
    expect(blocksOf(result.transcript!.messages[1]).map((b) => b.type)).toEqual([
      'thinking',
      'server_tool_use',
      'web_search_tool_result',
      'server_tool_use',
      'web_search_tool_result',
      'thinking',
      'tool_use',
    ]);
    expect(result.transcript!.turns.map((t) => t.stopReason)).toEqual(['pause_turn', 'tool_use', 'end_turn']);
    expect(harness.fake.requestsFor(prompt).map((r) => r.status)).toEqual([200, 200, 200]);
  });

  test('server tools are checked at start: family names, fixed names, client tool types, clashes', async () => {
    await withWorker(harness, { tools: [lookup] }, async (agent) => {
      const start = (serverTools: unknown) => agent.start({ prompt: 'x', tools: ['lookup'], serverTools: serverTools as string[] });
      await expect(start([{ type: 'web_search_20250305', name: 'search' }])).rejects.toThrow(/serverTools\[0\]\.name must be 'web_search'/);
      await expect(start(['bash_20250124'])).rejects.toThrow(/Anthropic-defined client tool, which the worker runs: register it in the worker/);
      await expect(start(['crystal_ball_20250101'])).rejects.toThrow(/unknown server tool type/);
      await expect(start(['web_search', 'web_search_20260318'])).rejects.toThrow(/the name 'web_search' is used twice/);
      await expect(start('web_search')).rejects.toThrow(/serverTools must be a list/);
    });
  });

  test('a code-execution container named by one reply goes back with every later request', async () => {
    const prompt = uniquePrompt('Run some code, then look it up');
    harness.fake.addScript({
      match: prompt,
      steps: [reply(serverToolUse('bash_code_execution', { command: 'python3 -c "print(6*7)"' }), toolUse('lookup', { query: 'answer' })), reply(text('It is 42.'))],
    });
    const result = await converse(prompt, { tools: ['lookup'], serverTools: ['code_execution'] }, 'code-execution-container');
    expect(result.status).toBe('completed');
    const container = result.transcript!.turns[0]!.container;
    expect(container).toMatch(/^container_/);
    const requests = harness.fake.requestsFor(prompt);
    expect(requests.map((r) => r.status)).toEqual([200, 200]);
    expect((requests[0]!.body as { container?: string }).container).toBeUndefined();
    expect((requests[1]!.body as { container?: string }).container).toBe(container);
    for (const request of requests) expect(request.headers['anthropic-beta']).toContain('code-execution-2025-08-25');
  });

  test('the container and a bash session carry across continue-as-new', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bash-can-'));
    const prompt = uniquePrompt('A long chat with code and a shell');
    const exchanges = 6;
    const steps = [];
    for (let i = 1; i <= exchanges; i++) {
      const command = i === 1 ? 'mkdir -p kept && cd kept && export KEPT=yes && echo set' : 'echo "at=$(pwd) kept=$KEPT"';
      steps.push(reply(serverToolUse('bash_code_execution', { command: `echo ${i}` }), toolUse('bash', { command })), reply(text(`answer ${i}`)));
    }
    harness.fake.addScript({ match: prompt, steps });
    const shell = bashTool({ root, needsApproval: false });
    const result = await withWorker(harness, { tools: [shell] }, async (agent) => {
      const { handle } = await agent.startChat({ message: prompt, tools: ['bash'], serverTools: ['code_execution'], continueAsNew: { afterEvents: 20 } });
      for (let i = 2; i <= exchanges; i++) expect((await handle.sendMessage(`message ${i}`)).text).toBe(`answer ${i}`);
      await handle.end('tester');
      return handle.result();
    });
    expect(result.runs).toBeGreaterThan(1);
    const requests = harness.fake.requestsFor(prompt);
    expect(requests.every((r) => r.status === 200)).toBe(true);
    const containers = new Set(requests.slice(1).map((r) => (r.body as { container?: string }).container));
    expect([...containers]).toEqual([result.transcript!.turns[0]!.container]);
    const outputs = result.transcript!.messages.flatMap((m) => blocksOf(m)).flatMap((b) => (b.type === 'tool_result' ? [JSON.stringify(b.content)] : []));
    expect(outputs).toHaveLength(exchanges);
    for (const output of outputs.slice(1)) expect(output).toMatch(/at=\S*\/kept kept=yes/);
  });
});

describe('tool input examples', () => {
  test('an example that does not match the schema stops the worker at start', () => {
    expect(() =>
      defineTool({
        name: 'book_room',
        input: z.object({ room: z.string(), hour: z.number().int() }),
        inputExamples: [{ room: 'Aurora', hour: 'three' }],
        run: () => 'booked',
      }),
    ).toThrow(/book_room\.inputExamples\[0\] does not match the tool's input schema/);
  });

  test('examples and strict go to the API with the beta they need', async () => {
    const bookRoom = defineTool({
      name: 'book_room',
      description: 'Book a meeting room',
      input: z.object({ room: z.string(), hour: z.number().int() }),
      strict: true,
      inputExamples: [{ room: 'Aurora', hour: 15 }],
      run: ({ room, hour }) => `booked ${room} at ${hour}`,
    });
    const prompt = uniquePrompt('Book Aurora for 3pm');
    harness.fake.addScript({ match: prompt, steps: [reply(toolUse('book_room', { room: 'Aurora', hour: 15 })), reply(text('Booked.'))] });
    const result = await converse(prompt, { tools: ['book_room'] }, undefined, [bookRoom]);
    expect(result.status).toBe('completed');
    const [first] = harness.fake.requestsFor(prompt);
    const body = first!.body as { tools: Array<Record<string, unknown>> };
    expect(body.tools[0]).toMatchObject({ name: 'book_room', strict: true, input_examples: [{ room: 'Aurora', hour: 15 }] });
    expect(first!.headers['anthropic-beta']).toContain('advanced-tool-use-2025-11-20');
  });
});

describe('bash: an Anthropic-defined client tool with a durable session', () => {
  test('the tool is declared by type and name, waits for approval, and keeps its working directory across commands', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bash-root-'));
    const prompt = uniquePrompt('Set up a project directory');
    harness.fake.addScript({
      match: prompt,
      steps: [
        reply(toolUse('bash', { command: 'mkdir -p project && cd project && export STAGE=built && echo made' })),
        reply(toolUse('bash', { command: 'pwd && echo "stage=$STAGE"' })),
        reply(text('The project is set up.')),
      ],
    });
    await withWorker(harness, { tools: [bashTool({ root })] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['bash'] });
      const decided: string[] = [];
      for (let i = 0; i < 2; i++) {
        const [call] = await waitForPending(handle, decided);
        expect(call!.toolName).toBe('bash');
        await handle.approve(call!.toolUseId, { by: 'ops@example.com' });
        decided.push(call!.toolUseId);
      }
      const result = await handle.result();
      expect(result.status).toBe('completed');
      const results = result.transcript!.messages.flatMap((m) => blocksOf(m)).filter((b) => b.type === 'tool_result');
      const second = JSON.stringify(results[1]);
      expect(second).toContain(`/project`);
      expect(second).toContain('stage=built');
      await recordHistoryFixture(harness.temporal.client, 'bash-session', handle.conversationId);
    });
    const [first] = harness.fake.requestsFor(prompt);
    expect((first!.body as { tools: unknown[] }).tools).toEqual([{ type: 'bash_20250124', name: 'bash' }]);
  });

  test('the session survives a SIGKILL of its worker: the next worker runs the next command where the last left off', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bash-crash-'));
    const taskQueue = uniqueTaskQueue('bash-crash');
    const prompt = uniquePrompt('Work in a directory across a crash');
    harness.fake.addScript({
      match: prompt,
      steps: [
        reply(toolUse('bash', { command: 'mkdir -p work/deep && cd work/deep && export RUN_ID=r42 && echo "pid=$PPID"' })),
        reply(toolUse('bash', { command: 'echo "cwd=$(pwd) run=$RUN_ID pid=$PPID"' })),
        reply(text('Done.')),
      ],
    });
    const env = {
      TEMPORAL_ADDRESS: harness.temporal.address,
      TASK_QUEUE: taskQueue,
      FAKE_URL: harness.fake.baseURL,
      BUNDLE: process.env.DURABLE_CLAUDE_TEST_BUNDLE!,
      ANTHROPIC_API_KEY: 'sk-ant-bash-crash-key',
      BASH_ROOT: root,
    };
    const agent = new AgentClient({ client: harness.temporal.client, taskQueue });
    const workerScript = path.join(__dirname, 'reliability', 'bash-worker-process.ts');
    const first = await spawnWorkerProcess(workerScript, env);
    let second: ChildProcess | undefined;
    try {
      const handle = await agent.start({ prompt, tools: ['bash'], modelHeartbeatTimeout: '3s' });
      const [call1] = await waitForPending(handle);
      await handle.approve(call1!.toolUseId, { by: 'ops@example.com' });
      const [call2] = await waitForPending(handle, [call1!.toolUseId]);
      // The first command ran and its session is in history; the worker that ran it dies before the second.
      await stopWorkerProcess(first, 'SIGKILL');
      second = await spawnWorkerProcess(workerScript, env);
      await handle.approve(call2!.toolUseId, { by: 'ops@example.com' });
      const result = await handle.result();
      expect(result.status).toBe('completed');
      const outputs = result.transcript!.messages.flatMap((m) => blocksOf(m)).flatMap((b) => (b.type === 'tool_result' ? [JSON.stringify(b.content)] : []));
      expect(outputs[1]).toContain(`cwd=${path.join(fs.realpathSync(root))}`);
      expect(outputs[1]).toMatch(/work\/deep run=r42/);
      // Two different worker processes ran the two commands.
      const pidOf = (output: string) => /pid=(\d+)/.exec(output)?.[1];
      expect(pidOf(outputs[0]!)).toBeDefined();
      expect(pidOf(outputs[1]!)).not.toBe(pidOf(outputs[0]!));
    } finally {
      await stopWorkerProcess(first, 'SIGKILL');
      await stopWorkerProcess(second, 'SIGKILL');
    }
  });
});

type Handle = Awaited<ReturnType<AgentClient['start']>>;

/** The calls waiting for approval, once there are any besides those already decided. */
async function waitForPending(handle: Handle, decided: string[] = []): Promise<Awaited<ReturnType<Handle['pending']>>> {
  for (;;) {
    const pending = (await handle.pending({ timeoutMs: 2_000 }).catch(() => [])).filter((call) => !decided.includes(call.toolUseId));
    if (pending.length > 0) return pending;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
