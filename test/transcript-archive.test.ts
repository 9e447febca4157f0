// A long chat's transcript start leaves the workflow: at each hand-over (continue-as-new) the messages a compaction
// summarized, and the turn records but the last, go to the worker's external storage as one segment linked to the
// one before. The next run holds only what the model sees; every read (transcript, pages, the CLI, fork) still gets
// the whole transcript from the segments, and a client without the storage gets a clear error.
import { z } from 'zod';
import { AgentClient } from '../src/client';
import { defineTool } from '../src/tools/define-tool';
import { reply, text, toolUse } from '../src/testing';
import { readTranscriptSegment } from '../src/storage';
import { transcriptQuery } from '../src/workflows/definitions';
import type { ConversationOptions, MessageParam, Transcript } from '../src/workflows/types';
import { recordChainFixtures } from './helpers/fixtures';
import { startHarness, toolResultsOf, uniquePrompt, withWorker, type Harness } from './helpers/harness';
import { testStorage } from './helpers/temporal';

/** About 750 tokens as the fake counts them (JSON length / 4): two results pass the compaction threshold. */
const PAGE = 'lorem ipsum dolor sit amet '.repeat(110);
const readPage = defineTool({
  name: 'read_page',
  description: 'Read one page of a long document',
  input: z.object({ page: z.number().int() }),
  run: ({ page }) => `page ${page}: ${PAGE}`,
});

function textOf(message: MessageParam | undefined): string {
  if (!message) return '';
  if (typeof message.content === 'string') return message.content;
  return (message.content ?? []).map((b) => (b.type === 'text' ? b.text : '')).join('');
}

/** Each user message gets a read_page call, then an answer naming the message: two model turns per exchange. */
function readThenAnswer(harness: Harness, prompt: string): void {
  harness.fake.addScript({
    match: prompt,
    steps: ({ request }) => {
      const last = request.messages[request.messages.length - 1]!;
      const asked = [...request.messages].reverse().find((m) => m.role === 'user' && textOf(m as MessageParam).trim() !== '');
      const said = textOf(asked as MessageParam);
      if (Array.isArray(last.content) && last.content.some((b) => b.type === 'tool_result')) return reply(text(`answer to ${said.slice(0, 40)}`));
      return reply(toolUse('read_page', { page: Number(/(\d+)/.exec(said)?.[1] ?? 0) }));
    },
  });
}

/** The latest run's carried state, as its start event holds it. */
async function latestContinuation(harness: Harness, conversationId: string): Promise<NonNullable<ConversationOptions['continuation']>> {
  const history = await harness.temporal.client.workflow.getHandle(conversationId).fetchHistory();
  const payload = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
  const options = await harness.temporal.client.options.loadedDataConverter.payloadConverter.fromPayload<ConversationOptions>(payload);
  return options.continuation!;
}

describe('a long chat archives what the model no longer sees at each hand-over', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(() => harness.close());

  test('the next run carries only the model-facing part; transcript(), pages, the CLI view and fork read the archive', async () => {
    const prompt = uniquePrompt('Archive chat 0');
    readThenAnswer(harness, prompt);
    const exchanges = 10;
    const { conversationId, whole } = await withWorker(harness, { tools: [readPage] }, async (agent) => {
      const { handle, reply: first } = await agent.startChat({
        message: prompt,
        tools: ['read_page'],
        compaction: { atInputTokens: 1_500 },
        continueAsNew: { afterEvents: 40 },
      });
      await handle.followReply(first);
      for (let i = 1; i < exchanges; i++) {
        const answer = await handle.sendMessage(`message ${i}`);
        expect(answer.text).toBe(`answer to message ${i}`);
      }
      const state = await handle.state();
      expect(state.runs).toBeGreaterThanOrEqual(3);
      expect(state.turn).toBe(2 * exchanges);

      // The latest run was handed a small part: the archive holds the start, linked segment to segment.
      const carried = await latestContinuation(harness, handle.conversationId);
      expect(carried.archive).toBeDefined();
      const archive = carried.archive!;
      expect(archive.messages).toBeGreaterThan(0);
      expect(archive.turns).toBeGreaterThan(0);
      // What it carries starts where the archive ends, and is the smaller part (the model sees only that).
      expect(archive.messages + carried.messages.length).toBeLessThanOrEqual(4 * exchanges);
      expect(carried.messages.length).toBeLessThan(archive.messages);
      const newest = await readTranscriptSegment(testStorage(), archive.last);
      expect(newest.conversationId).toBe(handle.conversationId);
      expect(newest.fromMessage + newest.messages.length).toBe(archive.messages);
      expect(newest.previous).not.toBeNull();

      // The whole transcript, in order, as if nothing had left the workflow.
      const whole = await handle.transcript();
      expect(whole.messages).toHaveLength(4 * exchanges);
      expect(whole.turns.map((t) => t.turn)).toEqual(Array.from({ length: 2 * exchanges }, (_, i) => i + 1));
      for (const record of whole.turns) expect(whole.messages[record.messageIndex]!.role).toBe('assistant');
      for (let i = 1; i < exchanges; i++) {
        expect(textOf(whole.messages[4 * i])).toBe(`message ${i}`);
        expect(toolResultsOf(whole.messages[4 * i + 2]!.content)[0]!.content).toContain(`page ${i}: lorem`);
        expect(textOf(whole.messages[4 * i + 3])).toBe(`answer to message ${i}`);
      }
      expect(whole.compactions?.some((c) => c.outcome === 'compacted')).toBe(true);
      // Small pages walk the same transcript, segment by segment.
      const paged = await handle.transcript({ pageBytes: 500 });
      expect(paged).toEqual(whole);

      // The workflow's own answer leaves the archived range empty and says where it is.
      const raw: Transcript = await handle.transcriptPage({ fromMessage: 0, maxBytes: 500 }, { readArchive: false });
      expect(raw.messages).toEqual([]);
      expect(raw.page!.nextMessage).toBe(archive.messages);
      expect(raw.page!.archived).toEqual(archive);

      // Without the storage, the archived range is refused with what to do, not returned short.
      const bare = new AgentClient({ connection: harness.temporal.connection, taskQueue: 'unused' });
      await expect(bare.getHandle(handle.conversationId).transcriptPage({ fromMessage: 0, maxBytes: 500 })).rejects.toThrow(/archived in the workers' external storage/);

      // Fork from a turn whose messages are archived (as a single exchange, not a chat, so it ends by itself).
      const fork = await agent.fork(handle.conversationId, { turn: 4, prompt: 'and page 99?', chat: false });
      const forked = await fork.result();
      expect(forked.status).toBe('completed');
      expect(forked.transcript!.messages.slice(0, 8)).toEqual(whole.messages.slice(0, 8));

      // The unpaged query (what `temporal workflow query --type transcript` asks) says where the rest is.
      const held = await handle.workflow.query(transcriptQuery);
      expect(held.page).toMatchObject({ fromMessage: archive.messages, nextMessage: null, archived: archive });
      expect(held.messages).toEqual(whole.messages.slice(archive.messages));

      await handle.end('done');
      const result = await handle.result();
      expect(result.status).toBe('completed');
      // The result holds what the workflow held and where the start is; show and export make it whole without a worker.
      expect(result.transcriptOmitted).toBe(true);
      expect(result.transcriptTail!.page!.archived).toEqual(archive);
      const rebuilt = await handle.withArchivedStart(result.transcriptTail!);
      expect(rebuilt.messages).toEqual(whole.messages);
      expect(rebuilt.turns).toEqual(whole.turns);
      expect(rebuilt.page).toBeUndefined();
      expect(await recordChainFixtures(harness.temporal.client, 'transcript-archive-chat', handle.conversationId)).toBeGreaterThanOrEqual(3);
      return { conversationId: handle.conversationId, whole };
    });
    // The worker is gone: a snapshot (what show and export read) still has the whole transcript.
    const reader = new AgentClient({ client: harness.temporal.client, taskQueue: 'no-worker-here' });
    const snapshot = await reader.getHandle(conversationId).snapshot({ timeoutMs: 2_000 });
    expect(snapshot.transcript.messages).toEqual(whole.messages);
    expect(snapshot.transcript.turns).toEqual(whole.turns);
    expect(snapshot.state.status).toBe('completed');
  });
});

describe('the approval audit is read in slices too', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(() => harness.close());

  const notify = defineTool({ name: 'notify', description: 'Notify a person', input: z.object({ to: z.string() }), needsApproval: true, run: ({ to }) => `notified ${to}` });

  test('a page carries the decisions that fit its bytes and says where the rest start; transcript() joins them', async () => {
    const prompt = uniquePrompt('Notify four people');
    const people = ['ann', 'bob', 'cy', 'di'];
    harness.fake.addScript({ match: prompt, steps: [reply(...people.map((to) => toolUse('notify', { to }))), reply(text('All notified.'))] });
    await withWorker(harness, { tools: [notify] }, async (agent) => {
      const handle = await agent.start({ prompt, tools: ['notify'] });
      let pending = await handle.pending();
      for (let i = 0; i < 400 && pending.length < people.length; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        pending = await handle.pending();
      }
      for (const call of pending) await handle.approve(call.toolUseId, { by: `approver of ${(call.input as { to: string }).to}`, reason: 'fine' });
      const result = await handle.result();
      expect(result.status).toBe('completed');
      expect(result.transcript!.approvals).toHaveLength(people.length);
      // The queries of a closed conversation replay it, and replay may time a request differently from the live run
      // (requestedAt follows a local activity's activation): slices are compared with the query's own whole audit.
      const audit = (await handle.transcriptPage({ fromMessage: 0 })).approvals;
      expect(audit.map((d) => [d.toolUseId, d.by])).toEqual(result.transcript!.approvals.map((d) => [d.toolUseId, d.by]));

      // One budget per page: the first message spends it, so turns and decisions start on pages of their own.
      const first = await handle.transcriptPage({ fromMessage: 0, maxBytes: 1 });
      expect(first.messages).toHaveLength(1);
      expect(first.approvals).toEqual([]);
      expect(first.page!.nextApproval).toBe(0);
      expect(first.page!.nextTurn).toBe(0);
      const total = first.page!.totalMessages;
      const slice = await handle.transcriptPage({ fromMessage: total, fromApproval: 0, maxBytes: 1 });
      expect(slice.approvals).toEqual(audit.slice(0, 1));
      expect(slice.page!.nextApproval).toBe(1);
      const rest = await handle.transcriptPage({ fromMessage: total, fromApproval: 1, maxBytes: 1 });
      expect(rest.approvals).toEqual(audit.slice(1, 2));
      // A page big enough holds the messages, the turn records and the whole audit.
      const roomy = await handle.transcriptPage({ fromMessage: 0 });
      expect(roomy.approvals).toEqual(audit);
      expect(roomy.page!.nextApproval).toBeNull();
      expect((await handle.transcript({ pageBytes: 1 })).approvals).toEqual(audit);
      await expect(handle.transcriptPage({ fromApproval: -1 })).rejects.toThrow(/fromApproval must be a whole number/);
    });
  });
});

