// The README's backend example, taken from README.md and run as a user would: its own worker and client, connected
// by the environment (TEMPORAL_ADDRESS, ANTHROPIC_BASE_URL), against the test dev server and the fake Messages API.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as temporalWorker from '@temporalio/worker';
import type { NativeConnection, Worker } from '@temporalio/worker';
import ts from 'typescript';
import * as zod from 'zod';
import * as durableClaude from '../src';
import type { AgentClient, ConversationHandle } from '../src/client';
import { reply, text, toolUse } from '../src/testing';
import type { ConversationResult } from '../src/workflows/types';
import { startHarness, type Harness } from './helpers/harness';

/** The ```ts block under "## Backend code" in README.md. */
function backendSnippet(): string {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((part) => part.startsWith('Backend code\n'));
  const block = section?.match(/^```ts\n([\s\S]*?)^```$/m)?.[1];
  if (!block) throw new Error('README.md has no ```ts block under "## Backend code"');
  return block;
}

/** What the snippet leaves in scope, handed back by a line the test adds after it. */
interface SnippetScope {
  connection: NativeConnection;
  worker: Worker;
  agent: AgentClient;
  chat: ConversationHandle;
  status: ConversationResult['status'];
  text: string;
}

interface Refund {
  orderId: string;
  cents: number;
  idempotencyKey: string;
}

/** Runs the snippet as an async function body: `durable-claude` is this repository's main entry, `payments` the user's service. */
async function runSnippet(payments: { refund(orderId: string, cents: number, options: { idempotencyKey: string }): Promise<unknown> }): Promise<SnippetScope> {
  const body = `${backendSnippet()}\nreturn { connection, worker, agent, chat, status, text, usage };`;
  const { outputText } = ts.transpileModule(body, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } });
  const modules: Record<string, unknown> = { 'durable-claude': durableClaude, '@temporalio/worker': temporalWorker, zod };
  const load = (name: string): unknown => {
    if (!(name in modules)) throw new Error(`The README snippet imports ${name}; add it to the modules the test provides`);
    return modules[name];
  };
  const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (...params: string[]) => (...args: unknown[]) => Promise<SnippetScope>;
  return new AsyncFunction('require', 'exports', 'payments', outputText)(load, {}, payments);
}

/**
 * Type errors in the snippet, checked as a user's ESM app would see them: `durable-claude` resolves to this
 * repository's main entry, and `payments` is declared as the user's own service.
 */
function snippetTypeErrors(): string[] {
  const root = path.join(__dirname, '..');
  const fileName = path.join(root, 'test', 'readme-backend-snippet.mts');
  const prelude = 'declare const payments: { refund(orderId: string, cents: number, options: { idempotencyKey: string }): Promise<{ refundId: string }> };\n';
  const source = prelude + backendSnippet();
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    esModuleInterop: true,
    types: ['node'],
    paths: { 'durable-claude': [path.join(root, 'src', 'index.ts')] },
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === fileName ? ts.createSourceFile(name, source, languageVersion, true) : getSourceFile(name, languageVersion, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const program = ts.createProgram([fileName], options, host);
  const snippetFile = program.getSourceFile(fileName)!;
  return [...program.getSyntacticDiagnostics(snippetFile), ...program.getSemanticDiagnostics(snippetFile)].map((d) => {
    const line = d.start === undefined ? '?' : snippetFile.getLineAndCharacterOfPosition(d.start).line; // line 0 is the prelude
    return `README snippet line ${line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

test("the README's backend snippet runs as written: the model asks for a refund over $100, alice approves it, the result comes back", async () => {
  harness.fake.addScript({
    match: 'Refund order 981, it arrived broken.',
    steps: [reply(text('I will refund order 981.'), toolUse('refund_order', { orderId: '981', cents: 12_900 })), reply(text('Refunded $129.00 for order 981.'))],
  });
  process.env.TEMPORAL_ADDRESS = harness.temporal.address;
  process.env.TEMPORAL_NAMESPACE = 'default';
  process.env.ANTHROPIC_BASE_URL = harness.fake.baseURL;
  process.env.ANTHROPIC_API_KEY = 'sk-ant-test-key-never-in-history';
  const refunds: Refund[] = [];
  const payments = {
    async refund(orderId: string, cents: number, { idempotencyKey }: { idempotencyKey: string }) {
      refunds.push({ orderId, cents, idempotencyKey });
      return { refundId: `re_${refunds.length}`, orderId, cents };
    },
  };

  const scope = await runSnippet(payments);
  try {
    expect(scope.status).toBe('completed');
    expect(scope.text).toBe('Refunded $129.00 for order 981.');
    expect(refunds).toEqual([{ orderId: '981', cents: 12_900, idempotencyKey: expect.any(String) }]);
    const { approvals } = await scope.chat.transcript();
    expect(approvals).toEqual([expect.objectContaining({ decision: 'approved', by: 'alice@example.com', toolName: 'refund_order' })]);
  } finally {
    scope.worker.shutdown();
    while (!['STOPPED', 'FAILED'].includes(scope.worker.getState())) await sleep(50);
    await scope.connection.close();
    await scope.agent.client.connection.close();
  }
});

test("the README's backend snippet type-checks against the package's own types", () => {
  expect(snippetTypeErrors()).toEqual([]);
});
