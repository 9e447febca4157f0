// The codec server as the Temporal Web UI and the `temporal` CLI call it: the remote codec protocol with the real
// EncryptionCodec, CORS for the UI's origin only, bearer auth, and the real CLI showing an encrypted conversation.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { AgentClient } from '../src/client';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { accessTokenAuthorizer, anyAuthorizer, bearerTokenAuthorizer, startCodecServer, type CodecServer } from '../src/security/codec-server';
import { EncryptionCodec, generateEncryptionKey, staticKeyProvider } from '../src/security/encryption';
import { reply, text } from '../src/testing';
import { temporalCli } from './helpers/process';
import { startHarness, uniquePrompt, type Harness } from './helpers/harness';
import { createTestWorker, fakeAnthropic, uniqueTaskQueue } from './helpers/temporal';

const UI_ORIGIN = 'http://localhost:8233';
const TOKEN = `codec-token-${Math.random().toString(36).slice(2)}`;
const KEY = generateEncryptionKey();
const codec = new EncryptionCodec(staticKeyProvider({ current: 'k1', keys: { k1: KEY } }));

let harness: Harness;
let server: CodecServer;
const logged: string[] = [];

beforeAll(async () => {
  harness = await startHarness();
  server = await startCodecServer({ codecs: [codec], port: 0, allowedOrigins: [UI_ORIGIN], token: TOKEN, log: (line) => logged.push(line) });
});
afterAll(async () => {
  await server?.close();
  await harness?.close();
});

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

async function call(route: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${route}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', Authorization: `Bearer ${TOKEN}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('the remote codec protocol', () => {
  test('encode then decode gives back the payloads, as protobuf JSON; the encoded ones hold no plaintext', async () => {
    const secret = 'the vault combination is 31-4-15';
    const plain: JsonPayload[] = [
      { metadata: { encoding: b64('json/plain') }, data: b64(JSON.stringify({ secret })) },
      // An empty payload (protobuf JSON leaves empty bytes out).
      { metadata: { encoding: b64('binary/null') } },
    ];
    const encoded = await call('/encode', { payloads: plain });
    expect(encoded.status).toBe(200);
    expect(encoded.headers.get('content-type')).toBe('application/json');
    const { payloads: ciphertext } = (await encoded.json()) as { payloads: JsonPayload[] };
    expect(ciphertext).toHaveLength(2);
    for (const payload of ciphertext) {
      expect(unb64(payload.metadata!.encoding!)).toBe('binary/encrypted');
      expect(unb64(payload.metadata!['encryption-key-id']!)).toBe('k1');
      expect(unb64(payload.data!)).not.toContain('vault');
    }
    // Under a path prefix (the UI's endpoint may name the namespace): only the last segment counts.
    const decoded = await call('/namespaces/default/decode', { payloads: ciphertext });
    expect(decoded.status).toBe(200);
    expect(await decoded.json()).toEqual({ payloads: plain });
  });

  test('what the SDK writes decodes to what it wrote; a payload that is not encrypted passes through', async () => {
    const [encrypted] = await codec.encode([defaultPayloadConverter.toPayload({ prompt: 'hello' })]);
    const asJson = (p: typeof encrypted) => ({
      metadata: Object.fromEntries(Object.entries(p!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
      data: Buffer.from(p!.data!).toString('base64'),
    });
    const plainPayload = { metadata: { encoding: b64('json/plain') }, data: b64('"as it was"') };
    const response = await call('/decode', { payloads: [asJson(encrypted), plainPayload] });
    const { payloads } = (await response.json()) as { payloads: JsonPayload[] };
    expect(JSON.parse(unb64(payloads[0]!.data!))).toEqual({ prompt: 'hello' });
    expect(payloads[1]).toEqual(plainPayload);
  });

  test('a payload under a key this server does not hold comes back as it was; the others still decode', async () => {
    const other = new EncryptionCodec(staticKeyProvider({ current: 'retired', keys: { retired: generateEncryptionKey() } }));
    const foreign = (await (await call('/encode', { payloads: [{ data: b64('x') }] })).json()) as { payloads: JsonPayload[] };
    const [unknownKey] = await other.encode([defaultPayloadConverter.toPayload('elsewhere')]);
    const unknownJson = {
      metadata: Object.fromEntries(Object.entries(unknownKey!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
      data: Buffer.from(unknownKey!.data!).toString('base64'),
    };
    logged.length = 0;
    const response = await call('/decode', { payloads: [unknownJson, foreign.payloads[0]] });
    expect(response.status).toBe(200);
    const { payloads } = (await response.json()) as { payloads: JsonPayload[] };
    expect(payloads[0]).toEqual(unknownJson);
    expect(payloads[1]).toEqual({ data: b64('x') });
    expect(logged.join('\n')).toMatch(/1 of 2 payloads could not be decoded.*"retired"/);
  });

  test('malformed bodies are a 400, an empty list is fine, an oversized body a 413, other routes 404/405', async () => {
    expect((await call('/decode', '{not json')).status).toBe(400);
    expect((await call('/decode', '[1,2]')).status).toBe(400);
    expect((await call('/decode', { payloads: 'no' })).status).toBe(400);
    expect((await call('/decode', { payloads: [{ data: '!!not base64!!' }] })).status).toBe(400);
    expect((await call('/decode', { payloads: [{ metadata: { encoding: 7 } }] })).status).toBe(400);
    const bad = await call('/decode', '{not json');
    expect(await bad.json()).toEqual({ error: 'the body is not JSON' });
    const empty = await call('/decode', { payloads: [] });
    expect([empty.status, await empty.json()]).toEqual([200, {}]);

    const small = await startCodecServer({ codecs: [codec], port: 0, allowedOrigins: [UI_ORIGIN], token: TOKEN, maxBodyBytes: 1024 });
    try {
      const response = await fetch(`${small.url}/decode`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ payloads: [{ data: b64('x'.repeat(4096)) }] }),
      });
      expect(response.status).toBe(413);
    } finally {
      await small.close();
    }
    expect((await fetch(`${server.url}/decode`)).status).toBe(405);
    expect((await fetch(`${server.url}/elsewhere`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});

describe('CORS: the Web UI origin only', () => {
  const preflight = (origin: string, extra: Record<string, string> = {}) =>
    fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace,authorization', ...extra },
    });

  test('a preflight from the allowed origin gets its origin, the headers the UI sends, and credentials', async () => {
    const response = await preflight(UI_ORIGIN);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
    const allowed = response.headers.get('access-control-allow-headers')!.toLowerCase().split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['content-type', 'x-namespace', 'authorization']));
    expect(response.headers.get('vary')).toBe('Origin');
    // Chrome's Private Network Access question is answered for an allowed origin.
    const pna = await preflight(UI_ORIGIN, { 'Access-Control-Request-Private-Network': 'true' });
    expect(pna.headers.get('access-control-allow-private-network')).toBe('true');
  });

  test('a preflight from any other origin is refused, and so is a request claiming one', async () => {
    for (const origin of ['http://evil.example', 'http://localhost:8234', 'https://localhost:8233']) {
      const response = await preflight(origin, { 'Access-Control-Request-Private-Network': 'true' });
      expect([origin, response.status, response.headers.get('access-control-allow-origin'), response.headers.get('access-control-allow-private-network')]).toEqual([origin, 403, null, null]);
    }
    const posted = await call('/decode', { payloads: [] }, { Origin: 'http://evil.example' });
    expect([posted.status, posted.headers.get('access-control-allow-origin')]).toEqual([403, null]);
    // The allowed origin's own requests carry the header the browser checks.
    const ok = await call('/decode', { payloads: [] }, { Origin: UI_ORIGIN });
    expect([ok.status, ok.headers.get('access-control-allow-origin')]).toEqual([200, UI_ORIGIN]);
  });

  test("'*' only when given: any origin, without credentials; an origin with a path is refused at start", async () => {
    const open = await startCodecServer({ codecs: [codec], port: 0, allowedOrigins: ['*'], token: TOKEN });
    try {
      const response = await fetch(`${open.url}/decode`, { method: 'OPTIONS', headers: { Origin: 'http://anywhere.example', 'Access-Control-Request-Method': 'POST' } });
      expect([response.status, response.headers.get('access-control-allow-origin'), response.headers.get('access-control-allow-credentials')]).toEqual([204, '*', null]);
    } finally {
      await open.close();
    }
    await expect(startCodecServer({ codecs: [codec], port: 0, allowedOrigins: ['http://localhost:8233/ui'], token: TOKEN })).rejects.toThrow(/scheme:\/\/host\[:port\]/);
  });
});

describe('authorization', () => {
  test('no token or a wrong one is a 401 (with CORS headers, so the UI can tell); the right one decodes', async () => {
    const withoutToken = await fetch(`${server.url}/decode`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: UI_ORIGIN }, body: '{"payloads":[]}' });
    expect([withoutToken.status, withoutToken.headers.get('www-authenticate'), withoutToken.headers.get('access-control-allow-origin')]).toEqual([401, 'Bearer', UI_ORIGIN]);
    for (const header of [`Bearer ${TOKEN}x`, `Basic ${b64(`user:${TOKEN}`)}`, TOKEN, 'Bearer ']) {
      expect([header, (await call('/encode', { payloads: [] }, { Authorization: header })).status]).toEqual([header, 401]);
    }
    expect((await call('/encode', { payloads: [] }, { Authorization: `bearer ${TOKEN}` })).status).toBe(200);
    // Refusals are logged without the credentials.
    expect(logged.join('\n')).not.toContain(TOKEN);
  });

  test('without a token or an authorize rule the server does not start, unless no auth is chosen explicitly', async () => {
    await expect(startCodecServer({ codecs: [codec], port: 0, allowedOrigins: [UI_ORIGIN], env: {} })).rejects.toThrow(/DURABLE_CLAUDE_CODEC_TOKEN/);
    const fromEnv = await startCodecServer({ codecs: [codec], port: 0, allowedOrigins: [UI_ORIGIN], env: { DURABLE_CLAUDE_CODEC_TOKEN: 'from-env' } });
    const open = await startCodecServer({ codecs: [codec], port: 0, allowedOrigins: [UI_ORIGIN], env: {}, allowUnauthenticated: true });
    try {
      const post = (url: string, headers: Record<string, string> = {}) => fetch(`${url}/decode`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: '{"payloads":[]}' });
      expect((await post(fromEnv.url)).status).toBe(401);
      expect((await post(fromEnv.url, { Authorization: 'Bearer from-env' })).status).toBe(200);
      expect((await post(open.url)).status).toBe(200);
    } finally {
      await fromEnv.close();
      await open.close();
    }
  });

  test('an authorize rule sees the header, the operation and the namespace', async () => {
    const seen: string[] = [];
    const custom = await startCodecServer({
      codecs: [codec],
      port: 0,
      allowedOrigins: [UI_ORIGIN],
      authorize: (header, request) => {
        seen.push(`${request.operation} ${request.namespace} ${header}`);
        return header === 'Bearer reader' && request.operation === 'decode' && request.namespace === 'default';
      },
    });
    try {
      const post = (op: string, namespace: string) =>
        fetch(`${custom.url}/${op}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Namespace': namespace, Authorization: 'Bearer reader' }, body: '{"payloads":[]}' });
      expect((await post('decode', 'default')).status).toBe(200);
      expect((await post('encode', 'default')).status).toBe(401);
      expect((await post('decode', 'other')).status).toBe(401);
      expect(seen).toEqual(['decode default Bearer reader', 'encode default Bearer reader', 'decode other Bearer reader']);
    } finally {
      await custom.close();
    }
  });
});

describe("the Web UI's forwarded access token (OIDC), checked against the identity provider's key set", () => {
  const ISSUER = 'https://idp.example.test';
  let jwksServer: http.Server;
  let jwksUrl: string;
  let signingKey: KeyLike;
  let otherKey: KeyLike;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    signingKey = pair.privateKey;
    otherKey = (await generateKeyPair('ES256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'ES256', use: 'sig' };
    // The identity provider's published keys, over local HTTP.
    jwksServer = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => jwksServer.close(() => resolve())));

  const token = (claims: Record<string, unknown>, options: { key?: KeyLike; issuer?: string; expiresIn?: string; audience?: string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
      .setIssuer(options.issuer ?? ISSUER)
      .setSubject('alice')
      .setAudience(options.audience ?? 'temporal-ui')
      .setIssuedAt()
      .setExpirationTime(options.expiresIn ?? '5m')
      .sign(options.key ?? signingKey);

  test('a valid token from the issuer decodes; another issuer, audience or key, an expired token or a failed rule are 401', async () => {
    const oidc = await startCodecServer({
      codecs: [codec],
      port: 0,
      allowedOrigins: ['https://temporal-ui.example.test'],
      authorize: anyAuthorizer(
        accessTokenAuthorizer({ jwks: { url: jwksUrl }, issuer: ISSUER, audience: 'temporal-ui', allow: (claims, request) => (claims.groups as string[] | undefined)?.includes(`readers:${request.namespace}`) === true }),
        bearerTokenAuthorizer(TOKEN),
      ),
    });
    try {
      const status = async (authorization: string, namespace = 'default') =>
        (await fetch(`${oidc.url}/decode`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Namespace': namespace, Authorization: authorization }, body: '{"payloads":[]}' })).status;
      const reader = { groups: ['readers:default'] };
      expect(await status(`Bearer ${await token(reader)}`)).toBe(200);
      expect(await status(`Bearer ${await token(reader)}`, 'payments')).toBe(401);
      expect(await status(`Bearer ${await token({ groups: [] })}`)).toBe(401);
      expect(await status(`Bearer ${await token(reader, { issuer: 'https://elsewhere.test' })}`)).toBe(401);
      expect(await status(`Bearer ${await token(reader, { audience: 'another-app' })}`)).toBe(401);
      expect(await status(`Bearer ${await token(reader, { key: otherKey })}`)).toBe(401);
      expect(await status(`Bearer ${await token(reader, { expiresIn: '-5m' })}`)).toBe(401);
      // alg none: an unsigned token with the right claims.
      const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: ISSUER, aud: 'temporal-ui', exp: 4e9, ...reader })).toString('base64url')}.`;
      expect(await status(`Bearer ${unsigned}`)).toBe(401);
      // The shared token still works for the CLI's users.
      expect(await status(`Bearer ${TOKEN}`)).toBe(200);
    } finally {
      await oidc.close();
    }
  });

  test('the key set must be https, or http on loopback only', () => {
    expect(() => accessTokenAuthorizer({ jwks: { url: 'http://idp.example.test/jwks' }, issuer: ISSUER, audience: 'temporal-ui' })).toThrow(/must be https/);
    expect(() => accessTokenAuthorizer({ jwks: { url: 'https://idp.example.test/jwks' }, issuer: ISSUER, audience: [] })).toThrow(/needs the audience/);
  });
});

/** The CLI's JSON with every base64 string in it decoded too (the CLI prints json/plain payloads as base64). */
function withPayloadsDecoded(output: string): string {
  const decoded = [...output.matchAll(/"([A-Za-z0-9+/]{8,}={0,2})"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'));
  return [output, ...decoded].join('\n');
}

test('temporal workflow show: an encrypted conversation reads with --codec-endpoint and --codec-auth, and not without', async () => {
  const secret = `swordfish-${Math.random().toString(36).slice(2, 10)}`;
  const prompt = uniquePrompt(`The launch code is ${secret}; repeat it back`);
  const answer = `Understood: ${secret.toUpperCase()}`;
  harness.fake.addScript({ match: prompt, steps: [reply(text(answer))] });
  const taskQueue = uniqueTaskQueue('codec');
  const worker = await createTestWorker(harness.temporal, { taskQueue, tools: [], externalStorage: false, payloadCodec: codec, anthropic: fakeAnthropic(harness.fake.baseURL) });
  // The client encrypts what it sends (the prompt) with the same codec.
  const client = new Client({ connection: harness.temporal.connection, namespace: 'default', dataConverter: { payloadCodecs: [codec] } });
  const agent = new AgentClient({ client, taskQueue });
  const id = `codec-show-${Date.now()}`;
  const result = await worker.runUntil(async () => (await agent.start({ prompt, conversationId: id })).result());
  expect(result.status).toBe('completed');

  const show = ['workflow', 'show', '--address', harness.temporal.address, '--namespace', 'default', '--workflow-id', id, '--output', 'json'];
  const encrypted = await temporalCli(show);
  expect([encrypted.code, encrypted.stderr]).toEqual([0, '']);
  expect(encrypted.stdout).toContain('YmluYXJ5L2VuY3J5cHRlZA=='); // base64 of binary/encrypted
  // Not in the output, nor in any payload's bytes.
  expect(withPayloadsDecoded(encrypted.stdout)).not.toContain(secret);
  expect(withPayloadsDecoded(encrypted.stdout)).not.toContain(secret.toUpperCase());

  const decoded = await temporalCli([...show, '--codec-endpoint', server.url, '--codec-auth', `Bearer ${TOKEN}`]);
  expect([decoded.code, decoded.stderr]).toEqual([0, '']);
  expect(decoded.stdout).not.toContain('YmluYXJ5L2VuY3J5cHRlZA==');
  expect(withPayloadsDecoded(decoded.stdout)).toContain(`The launch code is ${secret}`);
  expect(withPayloadsDecoded(decoded.stdout)).toContain(answer);

  // A wrong token: the codec refuses each call (the CLI retries until its timeout, then fails); nothing is shown.
  logged.length = 0;
  const refused = await temporalCli([...show, '--codec-endpoint', server.url, '--codec-auth', 'Bearer wrong', '--command-timeout', '3s']);
  expect(refused.code).not.toBe(0);
  expect(withPayloadsDecoded(`${refused.stdout}${refused.stderr}`)).not.toContain(secret);
  expect(logged.join('\n')).toMatch(/refused an unauthorized decode in namespace default/);
}, 120_000);

describe('durable-claude codec-server', () => {
  const MAIN = path.join(__dirname, '..', 'src', 'cli', 'main.ts');
  /** The CLI from source (the built lib may lag behind), with only the environment given. */
  function cliProcess(args: string[], env: NodeJS.ProcessEnv) {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'codec-server', ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    return { child, done, stdout: () => stdout, stderr: () => stderr };
  }
  const keys = { DURABLE_CLAUDE_ENCRYPTION_KEYS: `k1:${KEY}` };

  test('refuses to start without keys, or without auth unless --no-auth (exit 2, saying why)', async () => {
    const noKeys = cliProcess(['--port', '0'], { DURABLE_CLAUDE_CODEC_TOKEN: TOKEN });
    expect(await noKeys.done).toBe(2);
    expect(noKeys.stderr()).toMatch(/no encryption keys: set DURABLE_CLAUDE_ENCRYPTION_KEYS/);
    const noAuth = cliProcess(['--port', '0'], keys);
    expect(await noAuth.done).toBe(2);
    expect(noAuth.stderr()).toMatch(/set DURABLE_CLAUDE_CODEC_TOKEN .* or pass --no-auth/);
    const jwksAlone = cliProcess(['--port', '0', '--jwks', 'https://idp.example.test/jwks'], keys);
    expect(await jwksAlone.done).toBe(2);
    expect(jwksAlone.stderr()).toMatch(/--jwks needs --issuer/);
    const noAudience = cliProcess(['--port', '0', '--jwks', 'https://idp.example.test/jwks', '--issuer', 'https://idp.example.test'], keys);
    expect(await noAudience.done).toBe(2);
    expect(noAudience.stderr()).toMatch(/--jwks needs --audience/);
    const both = cliProcess(['--port', '0', '--no-auth'], { ...keys, DURABLE_CLAUDE_CODEC_TOKEN: TOKEN });
    expect(await both.done).toBe(2);
    expect(both.stderr()).toMatch(/--no-auth contradicts DURABLE_CLAUDE_CODEC_TOKEN/);
    const badKeys = cliProcess(['--port', '0'], { DURABLE_CLAUDE_ENCRYPTION_KEYS: 'k1:c2hvcnQ=', DURABLE_CLAUDE_CODEC_TOKEN: TOKEN });
    expect(await badKeys.done).toBe(2);
    expect(badKeys.stderr()).toMatch(/"k1" is 5 bytes/);
    expect(badKeys.stderr()).not.toContain('c2hvcnQ=');
  }, 60_000);

  test('with keys and a token it prints its URL, decodes for the token only, and stops on SIGTERM', async () => {
    const cli = cliProcess(['--port', '0', '--allow-origin', 'http://localhost:8080'], { ...keys, DURABLE_CLAUDE_CODEC_TOKEN: TOKEN });
    let url: string | undefined;
    // The banner's lines are separate writes: wait for its last one (the origins) too, not the URL's alone.
    const bannerDone = () => url !== undefined && cli.stdout().includes('browser origins');
    for (let i = 0; i < 300 && !bannerDone() && cli.child.exitCode === null; i++) {
      url = /codec server\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(cli.stdout())?.[1];
      if (!bannerDone()) await new Promise((r) => setTimeout(r, 100));
    }
    expect([url, cli.stderr()]).toEqual([expect.stringMatching(/^http:/), '']);
    expect(cli.stdout()).toContain('browser origins      http://localhost:8080');
    expect(cli.stdout()).not.toContain(KEY);
    const [encrypted] = await codec.encode([defaultPayloadConverter.toPayload('from the worker')]);
    const body = JSON.stringify({
      payloads: [{ metadata: Object.fromEntries(Object.entries(encrypted!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])), data: Buffer.from(encrypted!.data!).toString('base64') }],
    });
    const post = (headers: Record<string, string>) => fetch(`${url}/decode`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
    expect((await post({})).status).toBe(401);
    const ok = await post({ Authorization: `Bearer ${TOKEN}` });
    const { payloads } = (await ok.json()) as { payloads: JsonPayload[] };
    expect(JSON.parse(unb64(payloads[0]!.data!))).toBe('from the worker');
    const preflight = await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { Origin: 'http://localhost:8080', 'Access-Control-Request-Method': 'POST' } });
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:8080');
    cli.child.kill('SIGTERM');
    expect(await cli.done).toBe(0);
  }, 60_000);
});
