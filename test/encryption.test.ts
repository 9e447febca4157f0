// Payload encryption: the AES-256-GCM codec on its own (round trip, tampering, unknown keys, rotation, the
// environment's key list), then conversations on a worker that encrypts: what Temporal stores (history, external
// storage, `temporal workflow show`) holds no trace of the conversation, while every reader with the keys (the
// client, the CLI, replay, export) reads it whole.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { defaultPayloadConverter, StorageDriverClaim, type Payload } from '@temporalio/common';
import { visit, walkGetWorkflowExecutionHistoryResponse } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import { AgentClient } from '../src/client';
import { decodedHistory } from '../src/client/export';
import { chainHistories } from '../src/client/run-chain';
import { cliEncryption } from '../src/cli/encryption-options';
import { CliError, ExitCode } from '../src/cli/errors';
import { main } from '../src/cli/main';
import { parseHistory, replayHistory } from '../src/replay';
import {
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  encryptionFromEnv,
  encryptionKeyIdOf,
  generateEncryptionKey,
  isEncryptedPayload,
  staticKeyProvider,
} from '../src/security/encryption';
import type { EncryptionKeyProvider } from '../src/security/encryption-types';
import { reply, text, toolUse } from '../src/testing';
import { readTranscriptSegment } from '../src/storage';
import { defineTool } from '../src/tools/define-tool';
import type { ConversationOptions } from '../src/workflows/types';
import { temporalCli, type ProcessRun } from './helpers/process';
import { startHarness, storedHistory, toolResultsOf, withWorker, type Harness } from './helpers/harness';
import { testStorage, testStorageDir, uniqueTaskQueue } from './helpers/temporal';

const PayloadProto = temporal.api.common.v1.Payload;
const History = temporal.api.history.v1.History;
type HistoryT = temporal.api.history.v1.IHistory;

const utf8 = (s: string) => new TextEncoder().encode(s);
const jsonPayload = (value: unknown): Payload => ({ metadata: { encoding: utf8('json/plain') }, data: utf8(JSON.stringify(value)) });
const serialized = (payload: Payload) => Buffer.from(PayloadProto.encode(payload).finish());
/** A marker unique to this run, so a search of stored bytes cannot match another test's data. */
const marker = (name: string) => `${name}-${Math.random().toString(36).slice(2, 10)}`;

const K1 = generateEncryptionKey();
const K2 = generateEncryptionKey();

describe('EncryptionCodec', () => {
  const codec = new EncryptionCodec(staticKeyProvider({ current: 'k1', keys: { k1: K1 } }));

  test('round trip: every payload comes back exactly, encrypted in between (binary/encrypted, key id, no plaintext)', async () => {
    const secret = marker('round-trip-secret');
    const payloads: Payload[] = [
      jsonPayload({ prompt: secret }),
      { metadata: { encoding: utf8('binary/plain'), messageType: utf8('x.y.Z') }, data: utf8(secret) },
      { metadata: { encoding: utf8('binary/null') } },
      jsonPayload('é — ünïcode ✓ '.repeat(1000)),
    ];
    const encoded = await codec.encode(payloads);
    expect(encoded).toHaveLength(payloads.length);
    for (const payload of encoded) {
      expect(Buffer.from(payload.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
      expect(Buffer.from(payload.metadata!['encryption-key-id']!).toString()).toBe('k1');
      expect(Object.keys(payload.metadata!).sort()).toEqual(['encoding', 'encryption-key-id']);
      expect(serialized(payload).includes(secret)).toBe(false);
      expect(isEncryptedPayload(payload)).toBe(true);
      expect(encryptionKeyIdOf(payload)).toBe('k1');
    }
    const decoded = await codec.decode(encoded);
    expect(decoded.map(serialized)).toEqual(payloads.map(serialized));
    // A fresh IV each time: the same payload twice is two different ciphertexts.
    const [again] = await codec.encode([payloads[0]!]);
    expect(Buffer.from(again!.data!).equals(Buffer.from(encoded[0]!.data!))).toBe(false);
    expect(await codec.encode([])).toEqual([]);
  });

  test('a changed byte anywhere (IV, ciphertext, tag) or a cut payload is refused, naming the key', async () => {
    const [encrypted] = await codec.encode([jsonPayload('tamper me')]);
    const data = Buffer.from(encrypted!.data!);
    for (const index of [0, 12, 20, data.length - 1]) {
      const changed = Buffer.from(data);
      changed[index] = changed[index]! ^ 0x01;
      await expect(codec.decode([{ ...encrypted!, data: changed }])).rejects.toThrow(/failed to decrypt with key "k1": it was changed/);
    }
    await expect(codec.decode([{ ...encrypted!, data: data.subarray(0, 20) }])).rejects.toThrow(/too short/);
    // The key id is not a free label: another key of the provider does not open it.
    const two = new EncryptionCodec(staticKeyProvider({ current: 'k1', keys: { k1: K1, k2: K2 } }));
    await expect(two.decode([{ ...encrypted!, metadata: { ...encrypted!.metadata, 'encryption-key-id': utf8('k2') } }])).rejects.toThrow(/key "k2"/);
  });

  test('an unknown key id is a clear error naming it; a payload without a key id too', async () => {
    const [encrypted] = await new EncryptionCodec(staticKeyProvider({ current: 'gone', keys: { gone: K2 } })).encode([jsonPayload('x')]);
    await expect(codec.decode([encrypted!])).rejects.toThrow(/encryption key "gone" is not available here \(unknown encryption key id "gone" \(known: k1\)\)/);
    await expect(codec.decode([{ metadata: { encoding: utf8(ENCRYPTED_ENCODING) }, data: encrypted!.data! }])).rejects.toThrow(/names no key/);
  });

  test('payloads that are not encrypted pass through decode unchanged (history written before encryption)', async () => {
    const plain = [jsonPayload({ old: true }), { metadata: { encoding: utf8('binary/null') } }, {}];
    const decoded = await codec.decode(plain);
    expect(decoded).toHaveLength(3);
    decoded.forEach((payload, i) => expect(payload).toBe(plain[i]));
  });

  test('rotation: a provider with current k2 and k1 still listed reads both, and encrypts new payloads with k2', async () => {
    const before = new EncryptionCodec(staticKeyProvider({ current: 'k1', keys: { k1: K1 } }));
    const [old] = await before.encode([jsonPayload('written under k1')]);
    const rotated = new EncryptionCodec(staticKeyProvider({ current: 'k2', keys: { k2: K2, k1: Buffer.from(K1, 'base64') } }));
    const [fresh] = await rotated.encode([jsonPayload('written under k2')]);
    expect(encryptionKeyIdOf(old!)).toBe('k1');
    expect(encryptionKeyIdOf(fresh!)).toBe('k2');
    const decoded = await rotated.decode([old!, fresh!]);
    expect(decoded.map((p) => JSON.parse(Buffer.from(p.data!).toString()) as unknown)).toEqual(['written under k1', 'written under k2']);
    // The old codec cannot read what the new key wrote: every process needs the new key list before it is used.
    await expect(before.decode([fresh!])).rejects.toThrow(/"k2"/);
  });

  test('keys are looked up once per id (a KMS-backed provider is asked once), and a failed lookup is asked again', async () => {
    const asked: string[] = [];
    let fail = true;
    const provider: EncryptionKeyProvider = {
      encryptionKeyId: async () => 'kms-1',
      key: async (id) => {
        asked.push(id);
        if (id === 'flaky' && fail) {
          fail = false;
          throw new Error('KMS unreachable');
        }
        return Buffer.from(K1, 'base64');
      },
    };
    const kms = new EncryptionCodec(provider);
    const encoded = await kms.encode([jsonPayload(1), jsonPayload(2)]);
    await Promise.all([kms.decode(encoded), kms.decode(encoded), kms.encode([jsonPayload(3)])]);
    expect(asked).toEqual(['kms-1']);
    const flaky = { ...encoded[0]!, metadata: { ...encoded[0]!.metadata, 'encryption-key-id': utf8('flaky') } };
    await expect(kms.decode([flaky])).rejects.toThrow(/encryption key "flaky" is not available here \(KMS unreachable\)/);
    // Same bytes as kms-1, so the second lookup succeeds and decrypts.
    await expect(kms.decode([flaky])).resolves.toHaveLength(1);
    expect(asked).toEqual(['kms-1', 'flaky', 'flaky']);
    const short: EncryptionKeyProvider = { encryptionKeyId: async () => 's', key: async () => new Uint8Array(16) };
    await expect(new EncryptionCodec(short).encode([jsonPayload(1)])).rejects.toThrow(/encryption key "s" is 16 bytes; AES-256 needs 32/);
  });

  test('staticKeyProvider checks its keys: 32 bytes each, base64 when a string, the current one among them', () => {
    expect(() => staticKeyProvider({ current: 'a', keys: { a: Buffer.alloc(16).toString('base64') } })).toThrow(/"a" is 16 bytes; AES-256 needs 32/);
    expect(() => staticKeyProvider({ current: 'a', keys: { a: 'not base64!' } })).toThrow(/"a" is not base64/);
    expect(() => staticKeyProvider({ current: 'b', keys: { a: K1 } })).toThrow(/current encryption key "b" is not among the keys \(a\)/);
    expect(() => staticKeyProvider({ current: 'a', keys: { a: new Uint8Array(33) } })).toThrow(/33 bytes/);
    expect(Buffer.from(generateEncryptionKey(), 'base64')).toHaveLength(32);
    expect(generateEncryptionKey()).not.toBe(generateEncryptionKey());
  });

  test('encryptionFromEnv: the first key encrypts; malformed settings are TypeErrors that never print key material', async () => {
    expect(encryptionFromEnv({})).toBeUndefined();
    expect(encryptionFromEnv({ DURABLE_CLAUDE_ENCRYPTION_KEYS: '  ' })).toBeUndefined();
    const env = encryptionFromEnv({ DURABLE_CLAUDE_ENCRYPTION_KEYS: ` k2:${K2} , k1:${K1}` })!;
    expect(env.keyIds).toEqual(['k2', 'k1']);
    expect(env.description).toBe('AES-256-GCM payload encryption with key "k2"; also decrypts k1 (from DURABLE_CLAUDE_ENCRYPTION_KEYS)');
    expect(env.description).not.toContain(K2);
    const [encoded] = await env.codec.encode([jsonPayload('env')]);
    expect(encryptionKeyIdOf(encoded!)).toBe('k2');

    const shortKey = Buffer.alloc(16, 7).toString('base64');
    const bad: Array<[string, RegExp]> = [
      [`k1${K1}`, /entry 1 is not id:BASE64KEY/],
      [`k1:${K1},${K2}`, /entry 2 is not id:BASE64KEY/],
      [`k1:${shortKey}`, /key "k1" is 16 bytes; AES-256 needs 32/],
      [`k1:${K1.slice(0, -2)}!!`, /key "k1" is not base64/],
      [`k1:${K1},k1:${K2}`, /key id "k1" appears twice/],
      [`bad id:${K1}`, /entry 1 is not id:BASE64KEY/],
      [',,', /holds no keys/],
    ];
    for (const [value, message] of bad) {
      let error: unknown;
      try {
        encryptionFromEnv({ DURABLE_CLAUDE_ENCRYPTION_KEYS: value });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toMatch(/^DURABLE_CLAUDE_ENCRYPTION_KEYS/);
      for (const material of [K1, K2, shortKey, K1.slice(0, 20), K2.slice(0, 20)]) expect((error as Error).message).not.toContain(material);
    }
  });

  test('encryptionFromEnv reads DURABLE_CLAUDE_ENCRYPTION_KEY_FILE (one pair a line, # comments), and refuses both at once', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-claude-keys-'));
    try {
      const file = path.join(dir, 'keys');
      fs.writeFileSync(file, `# newest first\nk3:${K2}\nk1:${K1}\n`);
      const fromFile = encryptionFromEnv({ DURABLE_CLAUDE_ENCRYPTION_KEY_FILE: file })!;
      expect(fromFile.keyIds).toEqual(['k3', 'k1']);
      expect(fromFile.description).toContain(`from DURABLE_CLAUDE_ENCRYPTION_KEY_FILE (${file})`);
      expect(() => encryptionFromEnv({ DURABLE_CLAUDE_ENCRYPTION_KEY_FILE: path.join(dir, 'missing') })).toThrow(/cannot be read: ENOENT/);
      expect(() => encryptionFromEnv({ DURABLE_CLAUDE_ENCRYPTION_KEY_FILE: file, DURABLE_CLAUDE_ENCRYPTION_KEYS: `k1:${K1}` })).toThrow(/not both/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the CLI's encryption: a malformed key list is a usage error (exit 2); one codec per setting", () => {
    let error: unknown;
    try {
      cliEncryption({ DURABLE_CLAUDE_ENCRYPTION_KEYS: 'k1:tooshort' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).code).toBe(ExitCode.usage);
    expect((error as Error).message).not.toContain('tooshort');
    const env = { DURABLE_CLAUDE_ENCRYPTION_KEYS: `k1:${K1}` };
    expect(cliEncryption(env)!.codec).toBe(cliEncryption({ ...env })!.codec);
    expect(cliEncryption({})).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Conversations on an encrypting worker, against the real dev server and the fake Messages API.

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness?.close());

const MARKER_RECORDED = temporal.api.enums.v1.EventType.EVENT_TYPE_MARKER_RECORDED;
/** What Temporal's core SDK writes into markers itself, past the codec: patch ids, a local activity's bookkeeping. */
const CORE_MARKER_FIELDS: Record<string, string> = { core_patch: 'patch-data', core_local_activity: 'data' };

/**
 * Every payload of a history as the server holds it, but for what codecs never see: search attributes, headers,
 * and the marker fields Temporal's core SDK writes itself (a local activity's result is the workflow's: encrypted).
 */
async function payloadsOf(history: HistoryT): Promise<Payload[]> {
  const copy = History.decode(History.encode(history).finish());
  for (const event of copy.events) {
    const marker = event.eventType === MARKER_RECORDED ? event.markerRecordedEventAttributes : undefined;
    if (!marker) continue;
    const field = CORE_MARKER_FIELDS[marker.markerName ?? ''];
    expect(field).toBeDefined();
    if (field && marker.details) delete marker.details[field];
  }
  const found: Payload[] = [];
  const response: temporal.api.workflowservice.v1.IGetWorkflowExecutionHistoryResponse = { history: copy };
  await visit(response, walkGetWorkflowExecutionHistoryResponse, {
    transformPayloads: async (payloads) => (found.push(...payloads), payloads),
    transformPayload: async (payload) => (found.push(payload), payload),
    skipHeaders: true,
    skipSearchAttributes: true,
  });
  return found;
}

const REFERENCE_TYPE = 'temporal.api.sdk.v1.ExternalStorageReference';
const isReference = (p: Payload) => p.metadata?.messageType !== undefined && Buffer.from(p.metadata.messageType!).toString() === REFERENCE_TYPE;
/** The file a reference's object is in, in the tests' filesystem store. */
function storedFileOf(reference: Payload): string {
  const { claimData } = JSON.parse(Buffer.from(reference.data!).toString()) as { claimData: { hashValue: string } };
  return path.join(testStorageDir(), 'sha256', claimData.hashValue.slice(0, 2), claimData.hashValue);
}

/** `temporal workflow show` (Temporal's own CLI, no codec), text or JSON. */
function temporalShow(workflowId: string, json: boolean): Promise<ProcessRun> {
  return temporalCli(['workflow', 'show', '--address', harness.temporal.address, '--workflow-id', workflowId, ...(json ? ['--output', 'json'] : [])]);
}

/** Every base64 `data` field of `temporal workflow show --output json`, decoded. */
function showJsonPayloadBytes(value: unknown, found: Buffer[] = []): Buffer[] {
  if (Array.isArray(value)) for (const v of value) showJsonPayloadBytes(v, found);
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'data' && typeof v === 'string') found.push(Buffer.from(v, 'base64'));
      else showJsonPayloadBytes(v, found);
    }
  }
  return found;
}

const k1Codec = new EncryptionCodec(staticKeyProvider({ current: 'k1', keys: { k1: K1 } }));
const encryptingClient = (taskQueue: string, codec = k1Codec) =>
  new AgentClient({ connection: harness.temporal.connection, namespace: 'default', taskQueue, externalStorage: testStorage(), payloadCodec: codec });
const encryptingWorker = (codec = k1Codec) => ({ payloadCodec: codec });

describe('a conversation on an encrypting worker', () => {
  const secrets = {
    prompt: marker('PROMPT-NIGHTJAR'),
    input: marker('tool-input-secret'),
    result: marker('tool-result-secret'),
    big: marker('big-result-secret'),
    answer: marker('final-answer-secret'),
  };
  const prompt = `${secrets.prompt}: look up the launch code and read the archive`;
  const bigResult = Array.from({ length: 4_000 }, (_, i) => `${secrets.big} line ${i}`).join('\n'); // ~150 KB: offloaded
  const tools = [
    defineTool({ name: 'lookup', description: 'Look something up', input: z.object({ query: z.string() }), run: ({ query }) => `${secrets.result} for ${query}` }),
    defineTool({ name: 'read_archive', description: 'Read the archive', input: z.object({}), run: () => bigResult }),
  ];
  const taskQueue = uniqueTaskQueue('encryption');
  let conversationId: string;
  let transcript: Awaited<ReturnType<ReturnType<AgentClient['getHandle']>['transcript']>>;
  let raw: HistoryT;

  beforeAll(async () => {
    harness.fake.addScript({ match: secrets.prompt, steps: [reply(toolUse('lookup', { query: secrets.input }), toolUse('read_archive', {})), reply(text(secrets.answer))] });
    const agent = encryptingClient(taskQueue);
    await withWorker(harness, { tools, taskQueue, ...encryptingWorker() }, async () => {
      const handle = await agent.start({ prompt, tools: ['lookup', 'read_archive'] });
      conversationId = handle.conversationId;
      expect((await handle.result()).status).toBe('completed');
      transcript = await handle.transcript();
    });
    raw = await storedHistory(harness, conversationId);
  });

  test('the model and the client see plaintext: the worker decrypts what it needs, the client reads the transcript', () => {
    const [first, second] = harness.fake.requestsFor(secrets.prompt);
    expect(JSON.stringify(first!.body)).toContain(prompt);
    expect(JSON.stringify(second!.body)).toContain(secrets.result);
    expect(transcript.messages[0]!.content).toBe(prompt);
    const results = toolResultsOf(transcript.messages[2]!.content);
    expect(results.map((r) => r.content)).toEqual([`${secrets.result} for ${secrets.input}`, bigResult]);
    expect(JSON.stringify(transcript.messages[3]!.content)).toContain(secrets.answer);
  });

  test('history as the server stores it: every payload encrypted (or a reference to an encrypted object), no trace of any of it', async () => {
    const payloads = await payloadsOf(raw);
    expect(payloads.length).toBeGreaterThan(10);
    const references = payloads.filter(isReference);
    for (const payload of payloads.filter((p) => !isReference(p))) {
      expect(Buffer.from(payload.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
      expect(encryptionKeyIdOf(payload)).toBe('k1');
    }
    const bytes = Buffer.from(History.encode(raw).finish());
    for (const secret of Object.values(secrets)) expect(bytes.includes(secret)).toBe(false);
    // The 150 KB result went to external storage encrypted: the store holds ciphertext too.
    expect(references.length).toBeGreaterThanOrEqual(1);
    for (const reference of references) {
      const stored = fs.readFileSync(storedFileOf(reference));
      expect(isEncryptedPayload(PayloadProto.decode(stored))).toBe(true);
      expect(stored.includes(secrets.big)).toBe(false);
    }
    // The control: decrypted, the same search finds what the conversation said.
    const decrypted = Buffer.from(History.encode(await decodedHistory(raw, [k1Codec])).finish());
    for (const secret of [secrets.prompt, secrets.input, secrets.result, secrets.answer]) expect(decrypted.includes(secret)).toBe(true);
  });

  test('the workflow summary (the prompt\'s first words) is encrypted too: describe() without the codec cannot read it', async () => {
    const description = await harness.temporal.client.workflow.getHandle(conversationId).describe();
    await expect(description.staticSummary()).rejects.toThrow(/binary\/encrypted/);
    const withKeys = await encryptingClient(taskQueue).client.workflow.getHandle(conversationId).describe();
    await expect(withKeys.staticSummary()).resolves.toContain(secrets.prompt);
  });

  test('`temporal workflow show` (no codec), as text and as JSON with every payload decoded, shows none of it', async () => {
    for (const json of [false, true]) {
      const shown = await temporalShow(conversationId, json);
      expect(shown.code).toBe(0);
      for (const secret of Object.values(secrets)) expect(shown.stdout).not.toContain(secret);
      if (json) {
        const data = showJsonPayloadBytes(JSON.parse(shown.stdout));
        expect(data.length).toBeGreaterThan(10);
        for (const bytes of data) for (const secret of Object.values(secrets)) expect(bytes.includes(secret)).toBe(false);
      }
    }
  });

  test('replay needs the codec: with it the history replays, without it the workflow cannot read its input', async () => {
    const ok = await replayHistory(raw, { dataConverter: { externalStorage: testStorage(), payloadCodecs: [k1Codec] } });
    expect(ok).toMatchObject({ ok: true });
    const blind = await replayHistory(raw, { dataConverter: { externalStorage: testStorage() } });
    expect(blind.ok).toBe(false);
  });

  test('export decrypts: the file is readable (and says it holds plaintext)', async () => {
    const exported = await encryptingClient(taskQueue).getHandle(conversationId).export();
    expect(exported.payloadsDecoded).toBe(true);
    const history = exported.history as { events: Array<{ workflowExecutionStartedEventAttributes?: { input?: { payloads?: Array<{ data: string }> } } }> };
    const input = history.events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    expect(Buffer.from(input.data, 'base64').toString()).toContain(secrets.prompt);
    expect(exported.readable!.join('\n')).toContain(secrets.result);
    // The decrypted export replays; its large payloads are still references to encrypted objects, so with the keys.
    const fromFile = parseHistory(exported.history);
    expect(await replayHistory(fromFile, { dataConverter: { externalStorage: testStorage(), payloadCodecs: [k1Codec] } })).toMatchObject({ ok: true });
  });

  test('rotation: a client and worker on k2 (k1 still listed) read the k1 conversation and write new ones under k2', async () => {
    const rotated = new EncryptionCodec(staticKeyProvider({ current: 'k2', keys: { k2: K2, k1: K1 } }));
    const rotatedQueue = uniqueTaskQueue('encryption-rotated');
    const agent = encryptingClient(rotatedQueue, rotated);
    const next = marker('PROMPT-ROTATED');
    harness.fake.addScript({ match: next, steps: [reply(text('rotated answer'))] });
    const newId = await withWorker(harness, { taskQueue: rotatedQueue, ...encryptingWorker(rotated) }, async () => {
      const old = await agent.getHandle(conversationId).result();
      expect(old.status).toBe('completed');
      const handle = await agent.start({ prompt: next });
      await handle.result();
      expect((await handle.transcript()).messages[0]!.content).toBe(next);
      return handle.conversationId;
    });
    const payloads = (await payloadsOf(await storedHistory(harness, newId))).filter((p) => !isReference(p));
    expect(new Set(payloads.map(encryptionKeyIdOf))).toEqual(new Set(['k2']));
    // A process that was not given k2 cannot read it, and says which key it lacks.
    await expect(decodedHistory(await storedHistory(harness, newId), [k1Codec])).rejects.toThrow(/encryption key "k2" is not available here/);
  });
});

test('a Client given to AgentClient carries its own codec: payloadCodec next to it is refused, saying where it goes', () => {
  expect(() => new AgentClient({ client: harness.temporal.client, payloadCodec: k1Codec })).toThrow(/dataConverter of the Client you give \(new Client\(\{ dataConverter: \{ payloadCodecs: \[codec\] \} \}\)\)/);
});

test('a conversation written before encryption was turned on stays readable by a client with the codec', async () => {
  const taskQueue = uniqueTaskQueue('encryption-before');
  const prompt = marker('PROMPT-PLAIN');
  harness.fake.addScript({ match: prompt, steps: [reply(text('plain answer'))] });
  const id = await withWorker(harness, { taskQueue }, async (plain) => {
    const handle = await plain.start({ prompt });
    await handle.result();
    return handle.conversationId;
  });
  const handle = encryptingClient(taskQueue).getHandle(id);
  expect((await handle.result()).status).toBe('completed');
  const exported = await handle.export();
  expect(exported.transcript!.messages[0]!.content).toBe(prompt);
  // …and the raw history is plaintext (nothing encrypted it), as expected.
  expect(Buffer.from(History.encode(await storedHistory(harness, id)).finish()).includes(prompt)).toBe(true);
});

/** A tool whose first attempt fails with a message that carries `secret`. */
function flakyTool(secret: string) {
  return defineTool({
    name: 'flaky',
    description: 'Fails once',
    input: z.object({}),
    run: (_input, { attempt }) => {
      if (attempt === 1) throw new Error(`upstream refused ${secret}`);
      return 'fine';
    },
  });
}

test("a codec given as a bare payload codec (worker.dataConverter) leaves failure messages in plaintext", async () => {
  // A failure's message and stack trace are not payloads: Temporal's default failure converter keeps them as text,
  // past the codec. The worker's `payloadCodec` option sets a converter that encodes them (the next test).
  const taskQueue = uniqueTaskQueue('encryption-failure');
  const secret = marker('error-message-secret');
  const prompt = marker('PROMPT-FLAKY');
  const tools = [
    flakyTool(secret),
  ];
  harness.fake.addScript({ match: prompt, steps: [reply(toolUse('flaky', {})), reply(text('done'))] });
  const agent = encryptingClient(taskQueue);
  const id = await withWorker(harness, { tools, taskQueue, worker: { dataConverter: { payloadCodecs: [k1Codec] } } }, async () => {
    const handle = await agent.start({ prompt, tools: ['flaky'] });
    expect((await handle.result()).status).toBe('completed');
    return handle.conversationId;
  });
  const bytes = Buffer.from(History.encode(await storedHistory(harness, id)).finish());
  expect(bytes.includes(prompt)).toBe(false);
  expect(bytes.includes(secret)).toBe(true);
});

test("the worker's payloadCodec option encrypts failure messages too (encodeCommonAttributes): a failing tool leaves no trace", async () => {
  const taskQueue = uniqueTaskQueue('encryption-failure-encoded');
  const flakySecret = marker('flaky-message-secret');
  const brokenSecret = marker('broken-message-secret');
  const prompt = marker('PROMPT-BROKEN');
  const tools = [
    flakyTool(flakySecret),
    defineTool({
      name: 'broken',
      description: 'Always fails',
      input: z.object({}),
      retry: { maximumAttempts: 1 },
      run: () => {
        throw new Error(`disk full at ${brokenSecret}`);
      },
    }),
  ];
  harness.fake.addScript({ match: prompt, steps: [reply(toolUse('flaky', {}), toolUse('broken', {})), reply(text('done'))] });
  const agent = encryptingClient(taskQueue);
  const { id, transcript } = await withWorker(harness, { tools, taskQueue, ...encryptingWorker() }, async () => {
    const handle = await agent.start({ prompt, tools: ['flaky', 'broken'] });
    expect((await handle.result()).status).toBe('completed');
    return { id: handle.conversationId, transcript: await handle.transcript() };
  });
  // The workflow still read the failure (encodedAttributes decode wherever they are read) and told the model.
  expect(JSON.stringify(toolResultsOf(transcript.messages[2]!.content))).toContain(brokenSecret);
  const history = await storedHistory(harness, id);
  const bytes = Buffer.from(History.encode(history).finish());
  for (const secret of [prompt, flakySecret, brokenSecret]) expect(bytes.includes(secret)).toBe(false);
  const failures = (history.events ?? []).map((e) => e.activityTaskFailedEventAttributes?.failure ?? e.activityTaskStartedEventAttributes?.lastFailure).filter((f) => f);
  expect(failures.length).toBeGreaterThanOrEqual(2);
  for (const failure of failures) {
    expect(failure!.message).toBe('Encoded failure');
    expect(isEncryptedPayload(failure!.encodedAttributes!)).toBe(true);
  }
});

test('a long encrypted chat: the transcript segments archived at each hand-over are encrypted in storage, and read back whole', async () => {
  const taskQueue = uniqueTaskQueue('encryption-archive');
  const secret = marker('archived-chat-secret');
  const page = 'lorem ipsum dolor sit amet '.repeat(110); // ~750 tokens as the fake counts: compaction comes quickly
  const readPage = defineTool({ name: 'read_page', description: 'Read a page', input: z.object({ page: z.number().int() }), run: ({ page: n }) => `page ${n} ${secret}: ${page}` });
  const textOf = (content: unknown): string => (typeof content === 'string' ? content : Array.isArray(content) ? content.map((b: { type?: string; text?: string }) => (b.type === 'text' ? (b.text ?? '') : '')).join('') : '');
  const first = `${secret} message 0`;
  harness.fake.addScript({
    match: secret,
    steps: ({ request }) => {
      const last = request.messages[request.messages.length - 1]!;
      const asked = [...request.messages].reverse().find((m) => m.role === 'user' && textOf(m.content).trim() !== '');
      const said = textOf(asked?.content);
      if (Array.isArray(last.content) && last.content.some((b) => b.type === 'tool_result')) return reply(text(`answer to ${said.slice(-12)}`));
      return reply(toolUse('read_page', { page: Number(/message (\d+)/.exec(said)?.[1] ?? 0) }));
    },
  });
  const agent = encryptingClient(taskQueue);
  const exchanges = 8;
  const { id, whole, runId } = await withWorker(harness, { tools: [readPage], taskQueue, ...encryptingWorker() }, async () => {
    const { handle, reply: firstReply } = await agent.startChat({ message: first, tools: ['read_page'], compaction: { atInputTokens: 1_500 }, continueAsNew: { afterEvents: 40 } });
    await handle.followReply(firstReply);
    for (let i = 1; i < exchanges; i++) await handle.sendMessage(`${secret} message ${i}`);
    expect((await handle.state()).runs).toBeGreaterThanOrEqual(2);
    const whole = await handle.transcript();
    const { runId } = await handle.describe();
    await handle.end('done');
    await handle.result();
    return { id: handle.conversationId, whole, runId };
  });
  // The client with the keys reads the whole transcript, archived start included.
  expect(whole.messages).toHaveLength(4 * exchanges);
  expect(textOf(whole.messages[0]!.content)).toBe(first);
  expect(JSON.stringify(whole.messages[2]!.content)).toContain(`page 0 ${secret}`);

  // The latest run's start names the archive; its newest segment is an encrypted object in the store.
  const runs = await chainHistories(harness.temporal.client.workflow, id, runId);
  expect(runs.length).toBeGreaterThanOrEqual(2);
  const latestStart = (await decodedHistory(runs[runs.length - 1]!.history, [k1Codec])).events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
  const archive = defaultPayloadConverter.fromPayload<ConversationOptions>(latestStart).continuation?.archive;
  expect(archive).toBeDefined();
  const [stored] = await testStorage().getDriver(archive!.last.driver)!.retrieve({}, [new StorageDriverClaim(archive!.last.claim)]);
  expect(isEncryptedPayload(stored!)).toBe(true);
  expect(serialized(stored!).includes(secret)).toBe(false);
  await expect(readTranscriptSegment(testStorage(), archive!.last)).rejects.toThrow(/binary\/encrypted/);
  expect((await readTranscriptSegment(testStorage(), archive!.last, [k1Codec])).messages.length).toBeGreaterThan(0);
  // …and no run's history holds any of it.
  for (const { history } of runs) expect(Buffer.from(History.encode(history).finish()).includes(secret)).toBe(false);
});

describe('the CLI with DURABLE_CLAUDE_ENCRYPTION_KEYS', () => {
  const saved = process.env.DURABLE_CLAUDE_ENCRYPTION_KEYS;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-claude-encryption-cli-'));
  afterAll(() => {
    if (saved === undefined) delete process.env.DURABLE_CLAUDE_ENCRYPTION_KEYS;
    else process.env.DURABLE_CLAUDE_ENCRYPTION_KEYS = saved;
    fs.rmSync(scratch, { recursive: true, force: true });
  });
  const taskQueue = uniqueTaskQueue('encryption-cli');

  /** One command, run in this process (the worker answering its queries runs here too), with or without keys. */
  async function cli(args: string[], keys: string | undefined): Promise<{ code: number; stdout: string; stderr: string }> {
    if (keys === undefined) delete process.env.DURABLE_CLAUDE_ENCRYPTION_KEYS;
    else process.env.DURABLE_CLAUDE_ENCRYPTION_KEYS = keys;
    let stdout = '';
    let stderr = '';
    const out = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += chunk.toString()), true)) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += chunk.toString()), true)) as typeof process.stderr.write;
    try {
      const code = await main([...args, '--address', harness.temporal.address, '--task-queue', taskQueue, '--events', 'off', '--storage-dir', testStorageDir()]);
      return { code, stdout, stderr };
    } finally {
      process.stdout.write = out;
      process.stderr.write = err;
    }
  }

  test('pending, approve, show, list, export, replay and fork work on an encrypted conversation; without the keys they cannot read it', async () => {
    const keys = `k2:${K2},k1:${K1}`;
    const codec = encryptionFromEnv({ DURABLE_CLAUDE_ENCRYPTION_KEYS: keys })!.codec;
    const secretPrompt = marker('PROMPT-CLI');
    const secretInput = marker('launch-target');
    const tools = [defineTool({ name: 'launch', description: 'Launch', input: z.object({ target: z.string() }), needsApproval: true, run: ({ target }) => `launched at ${target}` })];
    harness.fake.addScript({ match: secretPrompt, steps: [reply(toolUse('launch', { target: secretInput })), reply(text('Launched.'))] });
    const agent = encryptingClient(taskQueue, codec);
    await withWorker(harness, { tools, taskQueue, ...encryptingWorker(codec) }, async () => {
      const handle = await agent.start({ prompt: secretPrompt, tools: ['launch'] });
      const id = handle.conversationId;
      const [waiting] = await (async () => {
        for await (const approval of handle.approvals()) return [approval];
        return [];
      })();
      expect(waiting!.input).toEqual({ target: secretInput });

      const pending = await cli(['pending', id, '--json'], keys);
      expect([pending.code, pending.stderr]).toEqual([0, '']);
      expect(pending.stdout).toContain(secretInput);
      const blindPending = await cli(['pending', id, '--json'], undefined);
      expect(blindPending.stdout).not.toContain(secretInput);
      expect(blindPending.code).toBe(ExitCode.usage);
      expect(blindPending.stderr).toMatch(/payloads are encrypted and this command has no keys: set DURABLE_CLAUDE_ENCRYPTION_KEYS/);

      const decider = marker('ops-person');
      const approved = await cli(['approve', id, waiting!.toolUseId, '--by', decider], keys);
      expect([approved.code, approved.stderr]).toEqual([0, '']);
      expect((await handle.result()).status).toBe('completed');
      // Who decided travels in the decide Update's arguments: encrypted, like the call's input.
      const rawBytes = Buffer.from(History.encode(await storedHistory(harness, id)).finish());
      for (const secret of [secretPrompt, secretInput, decider]) expect(rawBytes.includes(secret)).toBe(false);

      const shown = await cli(['show', id], keys);
      expect([shown.code, shown.stderr]).toEqual([0, '']);
      expect(shown.stdout).toContain(`launched at ${secretInput}`);
      const blind = await cli(['show', id], undefined);
      expect(blind.code).toBe(ExitCode.usage);
      expect(blind.stderr).toMatch(/payloads are encrypted and this command has no keys/);
      expect(blind.stdout).not.toContain(secretInput);

      // Visibility is eventually consistent: ask again (a bounded number of times) until the list has it.
      let listed = await cli(['list', '--json', '--query', `WorkflowId = '${id}'`], keys);
      for (let i = 0; i < 50 && listed.code === 0 && !listed.stdout.includes(id); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        listed = await cli(['list', '--json', '--query', `WorkflowId = '${id}'`], keys);
      }
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain(id);

      const out = path.join(scratch, 'export.json');
      const exported = await cli(['export', id, '--out', out], keys);
      expect(exported.code).toBe(0);
      expect(exported.stderr).toMatch(/holds the conversation decrypted \(plaintext\)/);
      const file = JSON.parse(fs.readFileSync(out, 'utf8')) as { payloadsDecoded: boolean; readable: string[] };
      expect(file.payloadsDecoded).toBe(true);
      expect(file.readable.join('\n')).toContain(secretInput);

      const replayed = await cli(['replay', id], keys);
      expect([replayed.code, replayed.stdout]).toEqual([0, expect.stringContaining('replays cleanly')]);
      // `temporal workflow show` output (encrypted) replays with the keys, not without.
      const shownJson = await temporalShow(id, true);
      const historyFile = path.join(scratch, 'history.json');
      fs.writeFileSync(historyFile, shownJson.stdout);
      expect(shownJson.stdout).not.toContain(secretInput);
      const fromFile = await cli(['replay', '--file', historyFile], keys);
      expect([fromFile.code, fromFile.stdout]).toEqual([0, expect.stringContaining('replays cleanly')]);
      const blindReplay = await cli(['replay', '--file', historyFile], undefined);
      // Missing keys are a usage error that says what to set, not a divergence of the workflow code.
      expect(blindReplay.code).toBe(ExitCode.usage);
      expect(blindReplay.stderr).toMatch(/this history is encrypted \(key k2\): set DURABLE_CLAUDE_ENCRYPTION_KEYS/);
      const wrongKeys = await cli(['replay', '--file', historyFile], `k9:${generateEncryptionKey()}`);
      expect(wrongKeys.code).toBe(ExitCode.usage);
      expect(wrongKeys.stderr).toMatch(/cannot decrypt this history: encryption key "k2" is not available here/);

      const forked = await cli(['fork', id, '--turn', '1', '--id', `${id}-fork`], keys);
      expect([forked.code, forked.stderr]).toEqual([0, '']);
      const fork = agent.getHandle(`${id}-fork`);
      expect((await fork.result()).status).toBe('completed');
      expect(JSON.stringify((await fork.transcript()).messages)).toContain(secretInput);
      const forkBytes = Buffer.from(History.encode(await storedHistory(harness, `${id}-fork`)).finish());
      expect(forkBytes.includes(secretPrompt)).toBe(false);
      expect(forkBytes.includes(secretInput)).toBe(false);
    });
  });

  test('a malformed key list stops every command with exit 2, and the message shows no key material', async () => {
    const result = await cli(['list'], `k1:${K1.slice(0, 30)}`);
    expect(result.code).toBe(ExitCode.usage);
    expect(result.stderr).toMatch(/DURABLE_CLAUDE_ENCRYPTION_KEYS: encryption key "k1"/);
    expect(result.stderr).not.toContain(K1.slice(0, 30));
  });
});
