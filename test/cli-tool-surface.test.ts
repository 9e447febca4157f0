// The CLI's side of the rest of the tool surface: the thinking, server-tool and beta flags as conversation options,
// and how show, the follower and the live view print thinking and server tool blocks. No Temporal needed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../src/cli/main';
import { DEMO_PROMPT, simulatedModelScript } from '../src/demo/scripted-model';
import { exampleTools } from '../src/examples/tools';
import type { ContentBlockSpec, ResponseStep, StepContext } from '../src/testing/fake-messages-api/types';
import { bashTool } from '../src/tools/bash';
import { LiveView } from '../src/cli/live-view';
import { toolSurfaceSettings } from '../src/cli/tool-surface-options';
import { CliError, ExitCode } from '../src/cli/errors';
import { describeMessage, transcriptLines, turnSurfaceLine } from '../src/format';
import type { ConversationEvent } from '../src/streaming/events';
import type { ContentBlockParam, MessageParam, Transcript, TurnRecord } from '../src/workflows/types';
import { startHarness, withWorker, type Harness } from './helpers/harness';

/** The usage error a set of flags gets, or undefined when they are accepted. */
function refusal(values: Parameters<typeof toolSurfaceSettings>[0]): string | undefined {
  try {
    toolSurfaceSettings(values);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).code).toBe(ExitCode.usage);
    return (err as CliError).message;
  }
}

describe('the tool-surface flags of run and chat', () => {
  test('no flags: no options (the model default applies)', () => {
    expect(toolSurfaceSettings({})).toEqual({});
  });

  test('--thinking takes the three types and budget:N', () => {
    expect(toolSurfaceSettings({ thinking: 'adaptive' })).toEqual({ thinking: 'adaptive' });
    expect(toolSurfaceSettings({ thinking: 'between_tools' })).toEqual({ thinking: 'between_tools' });
    expect(toolSurfaceSettings({ thinking: 'disabled' })).toEqual({ thinking: 'disabled' });
    expect(toolSurfaceSettings({ thinking: 'budget:4096' })).toEqual({ thinking: { type: 'enabled', budgetTokens: 4096 } });
    expect(toolSurfaceSettings({ thinking: 'budget:2048', 'thinking-display': 'summarized' })).toEqual({ thinking: { type: 'enabled', budgetTokens: 2048, display: 'summarized' } });
  });

  test('--effort alone means adaptive thinking at that effort; with a type it sets that type’s effort', () => {
    expect(toolSurfaceSettings({ effort: 'low' })).toEqual({ thinking: { type: 'adaptive', effort: 'low' } });
    expect(toolSurfaceSettings({ effort: 'max', 'thinking-display': 'omitted' })).toEqual({ thinking: { type: 'adaptive', effort: 'max', display: 'omitted' } });
    expect(toolSurfaceSettings({ thinking: 'adaptive', effort: 'xhigh' })).toEqual({ thinking: { type: 'adaptive', effort: 'xhigh' } });
    expect(toolSurfaceSettings({ thinking: 'between_tools', effort: 'medium' })).toEqual({ thinking: { type: 'between_tools', effort: 'medium' } });
    expect(toolSurfaceSettings({ 'thinking-display': 'summarized' })).toEqual({ thinking: { type: 'adaptive', display: 'summarized' } });
  });

  test('bad thinking flags are refused with a sentence naming the flag', () => {
    expect(refusal({ thinking: 'sometimes' })).toBe("--thinking must be adaptive, between_tools, disabled or budget:N (N thinking tokens, e.g. budget:4096), got 'sometimes'");
    expect(refusal({ thinking: 'enabled' })).toMatch(/^--thinking must be adaptive/);
    expect(refusal({ thinking: 'budget:lots' })).toMatch(/^--thinking budget:N needs N, a whole number of thinking tokens/);
    expect(refusal({ thinking: 'budget:0' })).toMatch(/^--thinking budget:N needs N/);
    expect(refusal({ thinking: 'budget:1.5' })).toMatch(/^--thinking budget:N needs N/);
    expect(refusal({ effort: 'extreme' })).toBe("--effort must be one of low, medium, high, xhigh, max, got 'extreme'");
    expect(refusal({ 'thinking-display': 'full' })).toBe("--thinking-display must be summarized or omitted, got 'full'");
    expect(refusal({ thinking: 'disabled', effort: 'low' })).toBe('--effort does not go with --thinking disabled');
    expect(refusal({ thinking: 'disabled', 'thinking-display': 'omitted' })).toBe('--thinking-display does not go with --thinking disabled');
    expect(refusal({ thinking: 'budget:4096', effort: 'high' })).toMatch(/^--effort goes with --thinking adaptive or between_tools/);
    expect(refusal({ thinking: 'between_tools', effort: 'max' })).toMatch(/^--thinking between_tools runs at effort low, medium or high; for max use --thinking adaptive/);
    expect(refusal({ thinking: 'between_tools', 'thinking-display': 'summarized' })).toMatch(/^--thinking-display goes with --thinking adaptive or budget:N/);
  });

  test('--server-tool is repeatable (commas too) and takes families and versioned types', () => {
    expect(toolSurfaceSettings({ 'server-tool': ['web_search'] })).toEqual({ serverTools: ['web_search'] });
    expect(toolSurfaceSettings({ 'server-tool': ['web_search_20250305', 'code_execution,web_fetch', 'web_search_20250305'] })).toEqual({
      serverTools: ['web_search_20250305', 'code_execution', 'web_fetch'],
    });
  });

  test('bad server tools are refused, the client tools among them with where they belong', () => {
    expect(refusal({ 'server-tool': ['browser'] })).toMatch(/^--server-tool browser: unknown server tool type "browser"; known families: web_search, web_fetch, code_execution/);
    expect(refusal({ 'server-tool': ['bash_20250124'] })).toMatch(/^--server-tool bash_20250124: bash_20250124 is an Anthropic-defined client tool, which the worker runs: register it in the worker/);
    expect(refusal({ 'server-tool': [''] })).toMatch(/^--server-tool needs a server tool type/);
  });

  test('--beta is repeatable and must look like an anthropic-beta value', () => {
    expect(toolSurfaceSettings({ beta: ['interleaved-thinking-2025-05-14', 'context-1m-2025-08-07'] })).toEqual({ betas: ['interleaved-thinking-2025-05-14', 'context-1m-2025-08-07'] });
    expect(refusal({ beta: ['not a beta!'] })).toBe("--beta must be an anthropic-beta value such as interleaved-thinking-2025-05-14, got 'not a beta!'");
  });

  test('everything at once', () => {
    expect(toolSurfaceSettings({ thinking: 'adaptive', effort: 'medium', 'server-tool': ['web_search'], beta: ['advanced-tool-use-2025-11-20'] })).toEqual({
      thinking: { type: 'adaptive', effort: 'medium' },
      serverTools: ['web_search'],
      betas: ['advanced-tool-use-2025-11-20'],
    });
  });

  describe('through the command line', () => {
    let stderr: string;
    let spy: jest.SpyInstance;
    beforeEach(() => {
      stderr = '';
      spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
        stderr += chunk.toString();
        return true;
      });
    });
    afterEach(() => spy.mockRestore());

    test('a bad value exits 2 with the reason and the usage, before connecting to anything', async () => {
      // An address nothing listens on: reaching it would exit 4, so 2 shows the flags were checked first.
      const unreachable = ['--address', '127.0.0.1:1'];
      expect(await main(['run', 'hello', '--thinking', 'always', ...unreachable])).toBe(ExitCode.usage);
      expect(stderr).toContain("durable-claude run: --thinking must be adaptive, between_tools, disabled or budget:N (N thinking tokens, e.g. budget:4096), got 'always'");
      expect(stderr).toContain('[--thinking adaptive|between_tools|disabled|budget:N]');
      stderr = '';
      expect(await main(['run', 'hello', '--server-tool', 'teleport', ...unreachable])).toBe(ExitCode.usage);
      expect(stderr).toMatch(/durable-claude run: --server-tool teleport: unknown server tool type/);
      stderr = '';
      expect(await main(['chat', '--effort', 'maximal', ...unreachable])).toBe(ExitCode.usage);
      expect(stderr).toContain("durable-claude chat: --effort must be one of low, medium, high, xhigh, max, got 'maximal'");
    });

    test('a flag given without its value is refused by the parser', async () => {
      expect(await main(['run', 'hello', '--thinking'])).toBe(ExitCode.usage);
      expect(stderr).toMatch(/durable-claude run: Option '--thinking <value>' argument missing/);
    });
  });
});

const assistant = (content: string | ContentBlockParam[]): MessageParam => ({ role: 'assistant', content });

describe('show: thinking and server tool blocks', () => {
  test('thinking is thinking, not text: its text clipped to one line, or what is left of it', () => {
    const lines = describeMessage(
      assistant([
        { type: 'thinking', thinking: 'The user wants the weather.\nI should call get_weather.', signature: 'sig_1' },
        { type: 'thinking', thinking: '', signature: 'sig_2' },
        { type: 'redacted_thinking', data: 'opaque' },
        { type: 'thinking', thinking: 'x'.repeat(500), signature: 'sig_3' },
        { type: 'text', text: 'Sunny.' },
      ]),
      new Map(),
    );
    expect(lines.slice(0, 3)).toEqual(['  thinking › The user wants the weather. I should call get_weather.', '  thinking › (omitted; signature kept)', '  thinking › (redacted)']);
    expect(lines[3]).toMatch(/^ {2}thinking › x{199}…$/);
    expect(lines[4]).toBe('claude › Sunny.');
    expect(lines.filter((line) => line.startsWith('claude ›'))).toEqual(['claude › Sunny.']);
  });

  test('a server tool call and its result say they ran on Anthropic’s side, with a count or the error code', () => {
    const names = new Map<string, string>();
    const lines = describeMessage(
      assistant([
        { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'durable execution' } },
        {
          type: 'web_search_tool_result',
          tool_use_id: 'srvtoolu_1',
          content: [1, 2, 3].map((k) => ({ type: 'web_search_result' as const, url: `https://example.com/${k}`, title: `Result ${k}`, encrypted_content: 'enc' })),
        },
        { type: 'server_tool_use', id: 'srvtoolu_2', name: 'web_search', input: { query: 'again' } },
        { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_2', content: { type: 'web_search_tool_result_error', error_code: 'max_uses_exceeded' } },
        { type: 'server_tool_use', id: 'srvtoolu_3', name: 'web_fetch', input: { url: 'https://example.com/1' } },
        {
          type: 'web_fetch_tool_result',
          tool_use_id: 'srvtoolu_3',
          content: { type: 'web_fetch_result', url: 'https://example.com/1', content: { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'hi' } } },
        },
        { type: 'server_tool_use', id: 'srvtoolu_4', name: 'bash_code_execution', input: { command: 'echo hi' } },
        { type: 'bash_code_execution_tool_result', tool_use_id: 'srvtoolu_4', content: { type: 'bash_code_execution_result', stdout: 'hi\n', stderr: '', return_code: 0, content: [] } },
        { type: 'code_execution_tool_result', tool_use_id: 'srvtoolu_9', content: { type: 'code_execution_tool_result_error', error_code: 'execution_time_exceeded' } },
        { type: 'container_upload', file_id: 'file_1' },
        { type: 'text', text: 'Found three.' },
      ]),
      names,
    );
    expect(lines).toEqual([
      `  ⇢ web_search {"query":"durable execution"} (ran on Anthropic's side)`,
      '  ⇠ web_search: 3 results',
      `  ⇢ web_search {"query":"again"} (ran on Anthropic's side)`,
      '  ⇠ web_search: error max_uses_exceeded',
      `  ⇢ web_fetch {"url":"https://example.com/1"} (ran on Anthropic's side)`,
      '  ⇠ web_fetch: fetched https://example.com/1',
      `  ⇢ bash_code_execution {"command":"echo hi"} (ran on Anthropic's side)`,
      '  ⇠ bash_code_execution: exit 0 · hi',
      // A result whose call is not in view is named after its block type.
      '  ⇠ code_execution: error execution_time_exceeded',
      '  [container_upload]',
      'claude › Found three.',
    ]);
    expect(names.get('srvtoolu_1')).toBe('web_search');
  });

  test('a turn that used the tool surface gets a line after its reply; other turns none', () => {
    const turn = (n: number, messageIndex: number, extra: Partial<TurnRecord> = {}): TurnRecord => ({
      turn: n,
      messageIndex,
      model: 'claude-sonnet-5-5',
      stopReason: 'end_turn',
      requestKind: 'create',
      maxTokensTried: [],
      usage: { inputTokens: 1, outputTokens: 1, cacheReadInputTokens: 0, cacheCreationInputTokens: 0, cacheCreation1hInputTokens: 0, costUsd: 0 },
      durationMs: 1,
      toolCalls: [],
      ...extra,
    });
    const transcript: Transcript = {
      messages: [
        { role: 'user', content: 'Search the web for Temporal' },
        assistant([
          { type: 'thinking', thinking: 'Search first.', signature: 'sig' },
          { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'Temporal' } },
          { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [] },
          { type: 'text', text: 'Nothing found.' },
        ]),
        { role: 'user', content: 'Thanks' },
        assistant('You are welcome.'),
      ],
      turns: [
        turn(1, 1, { thinkingBlocks: 1, serverToolCalls: [{ id: 'srvtoolu_1', name: 'web_search', resultType: 'web_search_tool_result' }], container: 'container_abc' }),
        turn(2, 3),
      ],
      approvals: [],
    };
    expect(transcriptLines(transcript)).toEqual([
      'user   › Search the web for Temporal',
      '  thinking › Search first.',
      `  ⇢ web_search {"query":"Temporal"} (ran on Anthropic's side)`,
      '  ⇠ web_search: 0 results',
      'claude › Nothing found.',
      '  · turn 1 · server tools: web_search ×1 · 1 thinking block · container container_abc',
      'user   › Thanks',
      'claude › You are welcome.',
    ]);
    expect(
      turnSurfaceLine({
        turn: 3,
        serverToolCalls: [
          { id: 'a', name: 'web_search', resultType: 'web_search_tool_result', errorCode: 'too_many_requests' },
          { id: 'b', name: 'web_search' },
          { id: 'c', name: 'code_execution', resultType: 'code_execution_tool_result' },
        ],
        thinkingBlocks: 2,
      }),
    ).toBe('  · turn 3 · server tools: web_search ×2 (too_many_requests, 1 paused before its result), code_execution ×1 · 2 thinking blocks');
    expect(turnSurfaceLine({ turn: 4 })).toBeUndefined();
  });
});

describe('the live view: thinking streams as thinking', () => {
  const base = { conversationId: 'c', runId: 'r', turn: 1, offset: 0, at: '2026-01-01T00:00:00Z', call: '1', attempt: 1 };
  const render = (events: Array<Record<string, unknown>>, options: { dimThinking?: boolean } = {}) => {
    let out = '';
    const view = new LiveView({ out: (text) => (out += text), ...options });
    view.render({ ...base, type: 'model_call_started', model: 'claude-sonnet-5-5', maxTokens: 1024 } as ConversationEvent);
    for (const event of events) view.render({ ...base, ...event } as ConversationEvent);
    view.finish();
    return out;
  };

  test('thinking deltas go on a thinking line, never into the answer', () => {
    const out = render([
      { type: 'thinking_delta', index: 0, thinking: 'Weather first,\nthen ' },
      { type: 'thinking_delta', index: 0, thinking: 'the time.' },
      { type: 'content_block_finished', index: 0, blockType: 'thinking' },
      { type: 'text_delta', index: 1, text: 'Checking.' },
      { type: 'content_block_finished', index: 1, blockType: 'text' },
    ]);
    expect(out).toBe('  thinking › Weather first, then the time.\nclaude › Checking.\n');
  });

  test('on a terminal the thinking is dimmed; omitted and redacted thinking say so', () => {
    const dimmed = render([{ type: 'thinking_delta', index: 0, thinking: 'hmm' }, { type: 'content_block_finished', index: 0, blockType: 'thinking' }], { dimThinking: true });
    expect(dimmed).toBe('\u001b[2m  thinking › hmm\u001b[22m\n');
    const hidden = render([
      { type: 'content_block_finished', index: 0, blockType: 'thinking' },
      { type: 'content_block_finished', index: 1, blockType: 'redacted_thinking' },
    ]);
    expect(hidden).toBe('  thinking › (omitted)\n  thinking › (redacted)\n');
  });

  test('a server tool call says it runs on Anthropic’s side, and its result block is announced', () => {
    const out = render([
      { type: 'tool_use_started', index: 0, toolUseId: 'srvtoolu_1', name: 'web_search' },
      { type: 'tool_input_delta', index: 0, toolUseId: 'srvtoolu_1', partialJson: '{"query":"x"}' },
      { type: 'content_block_finished', index: 0, blockType: 'server_tool_use' },
      { type: 'content_block_finished', index: 1, blockType: 'web_search_tool_result' },
    ]);
    expect(out).toBe(`  → web_search {"query":"x"} (runs on Anthropic's side)\n  ⇠ web_search result (from Anthropic's side)\n`);
  });
});

describe('the simulated model uses the tool surface the request asks for', () => {
  const step = (request: Partial<StepContext['request']>): ContentBlockSpec[] => {
    const steps = simulatedModelScript().steps as (context: StepContext) => ResponseStep;
    return steps({ turnIndex: 0, attempt: 1, conversationKey: 'k', request: { model: 'claude-sonnet-5-5', max_tokens: 1024, messages: [], ...request } }).content;
  };
  const ask = (text: string) => [{ role: 'user' as const, content: text }];
  const webSearch = { type: 'web_search_20250305', name: 'web_search' };
  const bash = { type: 'bash_20250124', name: 'bash' };
  const weather = { name: 'get_weather', description: 'w', input_schema: { type: 'object' } };

  test('without any of it: the same replies as before (no thinking, no search, no shell)', () => {
    expect(step({ messages: ask('Search the web for Temporal and run `ls`'), tools: [weather] })).toEqual([
      { type: 'text', text: `(simulated model) You said: "Search the web for Temporal and run \`ls\`". I am an offline stand-in: set ANTHROPIC_API_KEY to talk to Claude. Ask me something like "What's the weather in Tokyo?" to see a tool call.` },
    ]);
    expect(step({ messages: ask(DEMO_PROMPT), tools: [weather] }).map((b) => b.type)).toEqual(['text', 'tool_use', 'tool_use']);
  });

  test('thinking on: every reply starts with an unsigned thinking block (the fake signs it)', () => {
    for (const thinking of [{ type: 'adaptive' }, { type: 'enabled', budget_tokens: 2048 }, { type: 'between_tools' }]) {
      const [first, ...rest] = step({ messages: ask("What's the weather in Tokyo?"), tools: [weather], thinking });
      expect(first).toEqual({ type: 'thinking', thinking: `The user says: "What's the weather in Tokyo?". Next: get_weather.` });
      expect(rest.map((b) => b.type)).toEqual(['text', 'tool_use']);
    }
    expect(step({ messages: ask('Hi'), thinking: { type: 'disabled' } }).map((b) => b.type)).toEqual(['text']);
  });

  test('a web search server tool and a message that asks to search: the call, then an answer citing the results', () => {
    const content = step({ messages: ask('Please search the web for durable execution?'), tools: [webSearch] });
    expect(content[0]).toEqual({ type: 'server_tool_use', name: 'web_search', input: { query: 'durable execution' } });
    expect(content[1]).toMatchObject({ type: 'text', text: expect.stringContaining('[1] durable execution (result 1) — https://example.com/durable-execution/1') });
    expect(content).toHaveLength(2);
    // The query ends where a second request begins, which the example tools answer in the same reply.
    const both = step({ messages: ask("Search the web for durable execution, and what's the weather in Tokyo?"), tools: [webSearch, weather] });
    expect(both.map((b) => b.type)).toEqual(['server_tool_use', 'text', 'text', 'tool_use']);
    expect(both[0]).toMatchObject({ input: { query: 'durable execution' } });
    expect(both[3]).toMatchObject({ name: 'get_weather', input: { location: 'Tokyo' } });
    expect(step({ messages: ask('Can you look up the tallest building in Europe?'), tools: [webSearch] })[0]).toMatchObject({ input: { query: 'the tallest building in Europe' } });
    // Not asked to search: no search.
    expect(step({ messages: ask('Hello'), tools: [webSearch] }).map((b) => b.type)).toEqual(['text']);
  });

  test('a bash tool and a message that asks to run a command: a bash call with the command', () => {
    for (const [message, command] of [
      ['Run `ls -la /tmp` for me', 'ls -la /tmp'],
      ['please run the command: echo hello', 'echo hello'],
      ['Execute "uname -a", please', 'uname -a'],
    ] as const) {
      const content = step({ messages: ask(message), tools: [bash] });
      expect(content).toEqual([{ type: 'text', text: `(simulated model) I'll run \`${command}\` in the shell.` }, { type: 'tool_use', name: 'bash', input: { command } }]);
    }
  });

  describe('end to end, through a worker and the fake', () => {
    let harness: Harness;
    let root: string;
    beforeAll(async () => {
      harness = await startHarness({ defaultScript: simulatedModelScript() });
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-tool-surface-bash-'));
    });
    afterAll(async () => {
      await harness?.close();
      fs.rmSync(root, { recursive: true, force: true });
    });

    test('thinking, a web search and a shell command, and show prints each as what it is', async () => {
      const tools = [...exampleTools(), bashTool({ root, needsApproval: false })];
      const result = await withWorker(harness, { tools }, async (agent) => {
        const { handle, reply: first } = await agent.startChat({
          message: 'Search the web for durable execution',
          tools: ['get_weather', 'bash'],
          serverTools: ['web_search'],
          thinking: { type: 'adaptive', display: 'summarized' },
        });
        expect(first.text).toContain('[1] durable execution (result 1) — https://example.com/durable-execution/1');
        const second = await handle.sendMessage('Now run `echo hello from bash`');
        expect(second.text).toContain('hello from bash');
        await handle.end('test');
        return handle.result();
      });
      const transcript = result.transcript!;
      const lines = transcriptLines(transcript);
      expect(lines).toEqual(
        expect.arrayContaining([
          'user   › Search the web for durable execution',
          '  thinking › The user says: "Search the web for durable execution". Next: web_search.',
          `  ⇢ web_search {"query":"durable execution"} (ran on Anthropic's side)`,
          '  ⇠ web_search: 3 results',
          '  · turn 1 · server tools: web_search ×1 · 1 thinking block',
          '  → bash {"command":"echo hello from bash"}',
          expect.stringMatching(/^ {2}← bash: .*hello from bash/),
          '  thinking › I have what bash returned. I can answer now.',
        ]),
      );
      expect(lines.some((line) => line.startsWith('claude ›') && line.includes('The user says'))).toBe(false);
    });
  });
});
