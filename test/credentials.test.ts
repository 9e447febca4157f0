// Decision credentials as a worker verifies them: shared-key tokens, key sets over a real local HTTP server (with
// rotation), bindings by claim and by OIDC nonce, and approver rules.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type KeyLike } from 'jose';
import { inputDigestOf } from '../src/activities/tools';
import {
  createDecisionVerifier,
  decisionInputHash,
  decisionNonce,
  decisionVerifierFromEnv,
  describeApproverRule,
  evaluateApprovers,
  mintDecisionToken,
  parseDecisionKeys,
} from '../src/security/credentials';
import { CredentialRefused, type DecisionBinding, type VerifiedApprover } from '../src/security/types';

const KEY = 'k'.repeat(16) + 'a-test-secret-of-32-bytes-or-more';
const OTHER_KEY = 'o'.repeat(40);
const input = { to: 'team@example.com', subject: 'Paris', body: 'Sunny.' };
const binding: DecisionBinding = { conversationId: 'conv-1', toolUseId: 'toolu_1', decision: 'approve', inputSha256: decisionInputHash(input) };
const hmacVerifier = createDecisionVerifier({ hmacKeys: { default: KEY } });

/** The refusal of a verification, which must happen and must not echo the token. */
async function refusal(verifier: { verify(token: string, expected?: DecisionBinding): Promise<VerifiedApprover> }, token: string, expected?: DecisionBinding): Promise<string> {
  const err: unknown = await verifier.verify(token, expected).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CredentialRefused);
  const message = (err as CredentialRefused).message;
  if (token !== '') expect(message).not.toContain(token);
  const signature = token.split('.')[2];
  if (signature) expect(message).not.toContain(signature);
  return message;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('decision binding helpers', () => {
  test('the input hash is the digest the activity checks', () => {
    expect(decisionInputHash(input)).toBe(inputDigestOf(input));
    expect(decisionInputHash({ b: 1, a: [1, { d: 2, c: 3 }] })).toBe(decisionInputHash({ a: [1, { c: 3, d: 2 }], b: 1 }));
  });

  test('the nonce is base64url SHA-256 of the binding, insensitive to key order and unset fields', () => {
    const nonce = decisionNonce(binding);
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(decisionNonce({ inputSha256: binding.inputSha256, decision: 'approve', toolUseId: 'toolu_1', conversationId: 'conv-1' })).toBe(nonce);
    expect(decisionNonce({ ...binding, decision: 'reject' })).not.toBe(nonce);
    expect(decisionNonce({ conversationId: 'c', toolUseId: 't', decision: 'reject', inputSha256: undefined })).toBe(decisionNonce({ conversationId: 'c', toolUseId: 't', decision: 'reject' }));
  });
});

describe('HS256 tokens', () => {
  test('a minted token verifies, with who decided and what it binds', async () => {
    const token = await mintDecisionToken({ key: KEY, subject: 'alice', email: 'alice@example.com', name: 'Alice', roles: ['finance'], groups: ['ops', 'eu'], binding, tokenId: 'jti-1' });
    const approver = await hmacVerifier.verify(token);
    expect(approver).toMatchObject({
      subject: 'alice',
      issuer: 'durable-claude',
      email: 'alice@example.com',
      name: 'Alice',
      roles: ['finance'],
      groups: ['ops', 'eu'],
      tokenId: 'jti-1',
      method: 'hmac',
      binding,
    });
    expect(approver.keyId).toBeUndefined();
    expect(Date.parse(approver.expiresAt) - Date.parse(approver.issuedAt!)).toBe(300_000);
    // The same token checked against the decision it is for.
    await expect(hmacVerifier.verify(token, binding)).resolves.toMatchObject({ subject: 'alice' });
    expect(hmacVerifier.description).toBe('HMAC keys default (issuer durable-claude)');
  });

  test('a token signed with another key does not verify', async () => {
    const token = await mintDecisionToken({ key: OTHER_KEY, subject: 'mallory', binding });
    expect(await refusal(hmacVerifier, token)).toBe('signature does not verify');
  });

  test('a tampered payload does not verify', async () => {
    const token = await mintDecisionToken({ key: KEY, subject: 'alice', binding });
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${header}.${b64({ ...claims, sub: 'mallory' })}.${signature}`;
    expect(await refusal(hmacVerifier, forged)).toBe('signature does not verify');
  });

  test('expired, not yet valid, issued in the future, and too long-lived tokens are refused', async () => {
    const expired = await mintDecisionToken({ key: KEY, subject: 'alice', binding, issuedAt: new Date(Date.now() - 600_000), ttlSeconds: 60 });
    expect(await refusal(hmacVerifier, expired)).toMatch(/^expired at \d{4}-\d\d-\d\dT/);
    const early = await mintDecisionToken({ key: KEY, subject: 'alice', binding, notBefore: new Date(Date.now() + 600_000) });
    expect(await refusal(hmacVerifier, early)).toMatch(/^not valid before \d{4}-/);
    const future = await mintDecisionToken({ key: KEY, subject: 'alice', binding, issuedAt: new Date(Date.now() + 600_000) });
    expect(await refusal(hmacVerifier, future)).toMatch(/^issued in the future/);
    const long = await mintDecisionToken({ key: KEY, subject: 'alice', binding, ttlSeconds: 7200 });
    expect(await refusal(hmacVerifier, long)).toBe('lifetime 2h exceeds 1h');
    const strict = createDecisionVerifier({ hmacKeys: { default: KEY }, maxLifetimeSeconds: 120 });
    expect(await refusal(strict, await mintDecisionToken({ key: KEY, subject: 'alice', binding }))).toBe('lifetime 5m exceeds 2m');
  });

  test('exp, iat and sub are required', async () => {
    const sign = (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(KEY));
    const bound = { durable_claude_decision: { conversation_id: 'c', tool_use_id: 't', decision: 'reject' }, iss: 'durable-claude', sub: 'alice' };
    expect(await refusal(hmacVerifier, await sign({ ...bound, iat: nowSeconds() }))).toBe('the token has no "exp" claim');
    expect(await refusal(hmacVerifier, await sign({ ...bound, exp: nowSeconds() + 60 }))).toBe('the token has no "iat" claim');
    expect(await refusal(hmacVerifier, await sign({ ...bound, sub: undefined, iat: nowSeconds(), exp: nowSeconds() + 60 }))).toBe('the token has no "sub" claim');
    // With all of them, a reject needs no input hash; and with no jti, the token's id is its SHA-256.
    const token = await sign({ ...bound, iat: nowSeconds(), exp: nowSeconds() + 60 });
    const approver = await hmacVerifier.verify(token);
    expect(approver.binding).toEqual({ conversationId: 'c', toolUseId: 't', decision: 'reject' });
    expect(approver.tokenId).toMatch(/^[0-9a-f]{64}$/);
  });

  test('a token with no binding, or an approval that does not bind its input, is refused', async () => {
    const bare = await new SignJWT({ roles: ['finance'] }).setProtectedHeader({ alg: 'HS256' }).setIssuer('durable-claude').setSubject('alice').setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(KEY));
    expect(await refusal(hmacVerifier, bare)).toMatch(/^no decision binding/);
    const noHash = await mintDecisionToken({ key: KEY, subject: 'alice', binding: { conversationId: 'c', toolUseId: 't', decision: 'approve' } });
    expect(await refusal(hmacVerifier, noHash)).toMatch(/must bind the input/);
  });

  test('a token for another decision is refused when the decision is given', async () => {
    const token = await mintDecisionToken({ key: KEY, subject: 'alice', binding });
    expect(await refusal(hmacVerifier, token, { ...binding, toolUseId: 'toolu_2' })).toMatch(/not for this decision: it is bound to tool call "toolu_1"/);
    expect(await refusal(hmacVerifier, token, { ...binding, decision: 'reject' })).toMatch(/bound to approve, not reject/);
    expect(await refusal(hmacVerifier, token, { ...binding, inputSha256: decisionInputHash({ ...input, to: 'all@example.com' }) })).toMatch(/another input/);
  });

  test('unsigned tokens (alg none) are refused', async () => {
    const claims = { iss: 'durable-claude', sub: 'mallory', iat: nowSeconds(), exp: nowSeconds() + 60, durable_claude_decision: { conversation_id: 'c', tool_use_id: 't', decision: 'reject' } };
    for (const alg of ['none', 'None', 'NONE']) {
      expect(await refusal(hmacVerifier, `${b64({ alg, typ: 'JWT' })}.${b64(claims)}.`)).toBe('unsigned tokens (alg none) are refused');
    }
    expect(await refusal(hmacVerifier, `${b64({ alg: 'HS512' })}.${b64(claims)}.c2ln`)).toMatch(/^algorithm "HS512" is not accepted/);
    expect(await refusal(hmacVerifier, 'not-a-jwt')).toBe('not a well-formed JWT');
    expect(await refusal(hmacVerifier, '')).toBe('no token');
  });

  test('issuer and audience are checked', async () => {
    const token = await mintDecisionToken({ key: KEY, subject: 'alice', binding, issuer: 'someone-else' });
    expect(await refusal(hmacVerifier, token)).toBe('issued by "someone-else", not an issuer this worker trusts');
    const withAudience = createDecisionVerifier({ hmacKeys: { default: KEY }, audience: 'payments-agent' });
    expect(await refusal(withAudience, await mintDecisionToken({ key: KEY, subject: 'alice', binding, audience: 'other-agent' }))).toBe('issued for another audience');
    expect(await refusal(withAudience, await mintDecisionToken({ key: KEY, subject: 'alice', binding }))).toBe('the token has no "aud" claim');
    await expect(withAudience.verify(await mintDecisionToken({ key: KEY, subject: 'alice', binding, audience: ['x', 'payments-agent'] }))).resolves.toMatchObject({ subject: 'alice' });
    const ownIssuer = createDecisionVerifier({ hmacKeys: { default: KEY }, issuer: 'approvals.example.com' });
    await expect(ownIssuer.verify(await mintDecisionToken({ key: KEY, subject: 'alice', binding, issuer: 'approvals.example.com' }))).resolves.toMatchObject({ issuer: 'approvals.example.com' });
  });

  test('keys by kid: a rotated-in key verifies its tokens, the old one still does, an unknown kid does not', async () => {
    const verifier = createDecisionVerifier({ hmacKeys: { k2: OTHER_KEY, k1: KEY } });
    await expect(verifier.verify(await mintDecisionToken({ key: OTHER_KEY, keyId: 'k2', subject: 'alice', binding }))).resolves.toMatchObject({ keyId: 'k2' });
    await expect(verifier.verify(await mintDecisionToken({ key: KEY, keyId: 'k1', subject: 'alice', binding }))).resolves.toMatchObject({ keyId: 'k1' });
    expect(await refusal(verifier, await mintDecisionToken({ key: KEY, keyId: 'k3', subject: 'alice', binding }))).toBe('no shared key named "k3"');
    expect(await refusal(verifier, await mintDecisionToken({ key: KEY, subject: 'alice', binding }))).toBe('the token names no kid and there is no default shared key');
    // A token signed with k1's secret but claiming k2 is not k2's.
    expect(await refusal(verifier, await mintDecisionToken({ key: KEY, keyId: 'k2', subject: 'alice', binding }))).toBe('signature does not verify');
  });

  test('roles and groups: arrays, a single string as one name, custom and nested claims', async () => {
    const custom = createDecisionVerifier({ hmacKeys: { default: KEY }, rolesClaim: 'realm_access.roles', groupsClaim: 'https://example.com/groups' });
    const token = await mintDecisionToken({ key: KEY, subject: 'alice', binding, claims: { realm_access: { roles: ['approver', 7, 'admin'] }, 'https://example.com/groups': 'not finance' } });
    // A free-text claim is not a list: "not finance" must not match a rule for "finance".
    await expect(custom.verify(token)).resolves.toMatchObject({ roles: ['approver', 'admin'], groups: ['not finance'] });
    await expect(hmacVerifier.verify(token)).resolves.toMatchObject({ roles: [], groups: [] });
  });

  test('an email the provider has not verified is left out', async () => {
    const unverified = await mintDecisionToken({ key: KEY, subject: 'alice', email: 'ceo@example.com', binding, claims: { email_verified: false } });
    expect((await hmacVerifier.verify(unverified)).email).toBeUndefined();
    const verified = await mintDecisionToken({ key: KEY, subject: 'alice', email: 'alice@example.com', binding, claims: { email_verified: true } });
    expect((await hmacVerifier.verify(verified)).email).toBe('alice@example.com');
    // Some providers send the flag as a string.
    const stringly = await mintDecisionToken({ key: KEY, subject: 'alice', email: 'ceo@example.com', binding, claims: { email_verified: 'false' } });
    expect((await hmacVerifier.verify(stringly)).email).toBeUndefined();
    // Claims are read as the token's own: a roles claim named after a prototype property is just absent.
    const odd = createDecisionVerifier({ hmacKeys: { default: KEY }, rolesClaim: 'toString', groupsClaim: 'a.constructor' });
    await expect(odd.verify(await mintDecisionToken({ key: KEY, subject: 'alice', binding, claims: { a: {} } }))).resolves.toMatchObject({ roles: [], groups: [] });
  });

  test('short or missing keys are a TypeError', () => {
    expect(() => createDecisionVerifier({ hmacKeys: { default: 'short' } })).toThrow(/hmacKeys.default is 5 bytes; a decision key needs at least 32/);
    expect(() => createDecisionVerifier({})).toThrow(/needs hmacKeys or jwks/);
    expect(() => createDecisionVerifier({ jwks: { keys: [{ kty: 'EC' }] } })).toThrow(/needs the issuer/);
    return expect(mintDecisionToken({ key: 'short', subject: 'a', binding })).rejects.toThrow(TypeError);
  });
});

interface KeyPair {
  kid: string;
  privateKey: KeyLike;
  jwk: JWK;
}

/** A public key as DecisionVerifierOptions.jwks.keys holds it (plain JSON). */
const keyEntry = (pair: KeyPair): Record<string, unknown> => JSON.parse(JSON.stringify(pair.jwk)) as Record<string, unknown>;

async function es256(kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

/** A key set served over HTTP on localhost, as an identity provider serves its jwks_uri; `keys` can change. */
async function jwksServer(initial: JWK[]) {
  let keys = initial;
  let fetches = 0;
  const server = http.createServer((req, res) => {
    fetches++;
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    serve(next: JWK[]) {
      keys = next;
    },
    fetches: () => fetches,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const ISSUER = 'https://idp.example.com';

describe('tokens verified against a JWKS', () => {
  let first: KeyPair;
  let second: KeyPair;
  let idp: Awaited<ReturnType<typeof jwksServer>>;
  beforeAll(async () => {
    first = await es256('2026-01');
    second = await es256('2026-02');
    idp = await jwksServer([first.jwk]);
  });
  afterAll(() => idp.close());

  test('an ES256 token verifies against the served key set; rotation needs no restart', async () => {
    const verifier = createDecisionVerifier({ jwks: { url: idp.url }, issuer: ISSUER, audience: 'durable-claude-worker' });
    expect(verifier.description).toBe(`JWKS ${idp.url} (issuer ${ISSUER}); audience durable-claude-worker`);
    const token = await mintDecisionToken({ privateKey: first.privateKey, algorithm: 'ES256', keyId: first.kid, issuer: ISSUER, audience: 'durable-claude-worker', subject: 'idp|alice', email: 'alice@example.com', binding });
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'idp|alice', issuer: ISSUER, method: 'jwks', keyId: first.kid, binding });
    const fetched = idp.fetches();
    expect(fetched).toBeGreaterThanOrEqual(1);
    // Cached: a second token under the same key fetches nothing.
    await verifier.verify(await mintDecisionToken({ privateKey: first.privateKey, algorithm: 'ES256', keyId: first.kid, issuer: ISSUER, audience: 'durable-claude-worker', subject: 'idp|bob', binding }));
    expect(idp.fetches()).toBe(fetched);

    // The provider rotates: it now serves only the new key. Past the refetch cooldown (1 s), a token under the new
    // kid makes the verifier fetch the set again.
    idp.serve([second.jwk]);
    await sleep(1_100);
    const rotated = await mintDecisionToken({ privateKey: second.privateKey, algorithm: 'ES256', keyId: second.kid, issuer: ISSUER, audience: 'durable-claude-worker', subject: 'idp|alice', binding });
    await expect(verifier.verify(rotated)).resolves.toMatchObject({ keyId: second.kid });
    expect(idp.fetches()).toBe(fetched + 1);
    // A token under a kid the set never had is refused.
    const stranger = await es256('unknown');
    expect(await refusal(verifier, await mintDecisionToken({ privateKey: stranger.privateKey, algorithm: 'ES256', keyId: 'unknown', issuer: ISSUER, audience: 'durable-claude-worker', subject: 'x', binding }))).toBe(
      "no key in the key set matches the token's kid",
    );
  });

  test("a token signed with another key under the set's kid does not verify", async () => {
    const verifier = createDecisionVerifier({ jwks: { keys: [keyEntry(first)] }, issuer: ISSUER });
    const impostor = await es256(first.kid);
    expect(await refusal(verifier, await mintDecisionToken({ privateKey: impostor.privateKey, algorithm: 'ES256', keyId: first.kid, issuer: ISSUER, subject: 'x', binding }))).toBe('signature does not verify');
  });

  test('the issuer is required and checked', async () => {
    const verifier = createDecisionVerifier({ jwks: { keys: [keyEntry(first)] }, issuer: ISSUER });
    const token = await mintDecisionToken({ privateKey: first.privateKey, algorithm: 'ES256', keyId: first.kid, subject: 'x', binding });
    expect(await refusal(verifier, token)).toBe('issued by "durable-claude", not an issuer this worker trusts');
  });

  test('algorithm confusion: an HS256 token never meets a public key', async () => {
    const publicKeyText = JSON.stringify(first.jwk);
    const claims = { iss: ISSUER, sub: 'mallory', iat: nowSeconds(), exp: nowSeconds() + 60, durable_claude_decision: { conversation_id: 'c', tool_use_id: 't', decision: 'reject' } };
    // Signed with the public key as the HMAC secret, under the set's kid.
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: first.kid }).sign(new TextEncoder().encode(publicKeyText));
    const jwksOnly = createDecisionVerifier({ jwks: { keys: [keyEntry(first)] }, issuer: ISSUER });
    expect(await refusal(jwksOnly, forged)).toBe('an HS256 token, and this worker verifies tokens against a key set only');
    const both = createDecisionVerifier({ jwks: { keys: [keyEntry(first)] }, issuer: ISSUER, hmacKeys: { default: KEY } });
    expect(await refusal(both, forged)).toBe(`no shared key named "${first.kid}"`);
    // And an asymmetric token on a worker with shared keys only.
    const es = await mintDecisionToken({ privateKey: first.privateKey, algorithm: 'ES256', keyId: first.kid, subject: 'x', binding });
    expect(await refusal(hmacVerifier, es)).toMatch(/^an ES256 token, and this worker has no key set/);
    // A key set may not smuggle in a shared secret or a private key.
    expect(() => createDecisionVerifier({ jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }, issuer: ISSUER })).toThrow(/symmetric/);
    expect(() => createDecisionVerifier({ jwks: { keys: [{ ...first.jwk, d: 'x' }] }, issuer: ISSUER })).toThrow(/private key/);
  });

  test('a key set that cannot be fetched is a refusal that says where', async () => {
    const gone = await jwksServer([]);
    const url = gone.url.replace('/.well-known/jwks.json', '/missing');
    await gone.close();
    const verifier = createDecisionVerifier({ jwks: { url }, issuer: ISSUER });
    const token = await mintDecisionToken({ privateKey: first.privateKey, algorithm: 'ES256', keyId: first.kid, issuer: ISSUER, subject: 'x', binding });
    expect(await refusal(verifier, token)).toMatch(new RegExp(`^the key set at ${url.replace(/[.?*+^$()[\]{}|\\/]/g, '\\$&')} could not be read`));
  });

  test('only https key sets, except on localhost', () => {
    expect(() => createDecisionVerifier({ jwks: { url: 'http://idp.example.com/jwks' }, issuer: ISSUER })).toThrow(/must be https/);
    expect(() => createDecisionVerifier({ jwks: { url: 'not a url' }, issuer: ISSUER })).toThrow(/not a URL/);
    expect(createDecisionVerifier({ jwks: { url: 'https://idp.example.com/jwks' }, issuer: ISSUER }).description).toBe(`JWKS https://idp.example.com/jwks (issuer ${ISSUER})`);
  });

  test('an ID token bound by nonce verifies against the decision it hashes, and only that one', async () => {
    const verifier = createDecisionVerifier({ jwks: { keys: [keyEntry(first)] }, issuer: ISSUER, audience: 'approvals-app' });
    const idToken = await mintDecisionToken({ privateKey: first.privateKey, algorithm: 'ES256', keyId: first.kid, issuer: ISSUER, audience: 'approvals-app', subject: 'idp|alice', binding, bindAs: 'nonce', claims: { groups: ['finance-approvers'] } });
    // Without an audience, any application's login token from the same provider would do: refused.
    const anyAudience = createDecisionVerifier({ jwks: { keys: [keyEntry(first)] }, issuer: ISSUER });
    expect(await refusal(anyAudience, idToken, binding)).toMatch(/bound by nonce needs the verifier to require an audience/);
    const payload = JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(payload.nonce).toBe(decisionNonce(binding));
    expect(payload.durable_claude_decision).toBeUndefined();
    await expect(verifier.verify(idToken, binding)).resolves.toMatchObject({ subject: 'idp|alice', groups: ['finance-approvers'], binding });
    expect(await refusal(verifier, idToken)).toMatch(/binds its decision by nonce only/);
    expect(await refusal(verifier, idToken, { ...binding, inputSha256: decisionInputHash({ ...input, to: 'all@example.com' }) })).toBe("the token's nonce is not this decision's");
    expect(await refusal(verifier, idToken, { ...binding, toolUseId: 'toolu_2' })).toBe("the token's nonce is not this decision's");
  });
});

describe('approver rules', () => {
  const alice: VerifiedApprover = {
    subject: 'idp|alice',
    issuer: ISSUER,
    email: 'Alice@Example.com',
    roles: ['finance', 'viewer'],
    groups: ['eu'],
    tokenId: 'j1',
    expiresAt: '2026-12-03T10:00:00.000Z',
    method: 'jwks',
    binding,
  };

  test('roles, groups, emails, subjects and issuers: every set condition must hold', async () => {
    await expect(evaluateApprovers({ roles: ['admin', 'finance'] }, alice)).resolves.toEqual({ allowed: true, matched: ['role finance'] });
    await expect(evaluateApprovers({ roles: ['admin'] }, alice)).resolves.toEqual({ allowed: false, reason: 'Alice@Example.com has no role of admin (has finance, viewer)' });
    await expect(evaluateApprovers({ roles: ['finance'], groups: ['us'] }, alice)).resolves.toEqual({ allowed: false, reason: 'Alice@Example.com has no group of us (has eu)' });
    await expect(evaluateApprovers({ emails: ['alice@example.com'], issuers: [ISSUER] }, alice)).resolves.toEqual({ allowed: true, matched: ['email alice@example.com', `issuer ${ISSUER}`] });
    await expect(evaluateApprovers({ subjects: ['idp|bob'] }, alice)).resolves.toMatchObject({ allowed: false, reason: 'Alice@Example.com has no subject of idp|bob' });
    await expect(evaluateApprovers({ issuers: ['durable-claude'] }, alice)).resolves.toMatchObject({ allowed: false });
    // An empty list holds for no one; a rule with no conditions admits any verified approver.
    await expect(evaluateApprovers({ roles: [] }, alice)).resolves.toMatchObject({ allowed: false });
    await expect(evaluateApprovers({}, alice)).resolves.toEqual({ allowed: true, matched: ['a verified credential'] });
  });

  test('a predicate decides last; a throwing one refuses with what it threw', async () => {
    await expect(evaluateApprovers({ roles: ['finance'], allow: (a) => a.groups.includes('eu') }, alice)).resolves.toEqual({ allowed: true, matched: ['role finance', 'allow'] });
    await expect(evaluateApprovers({ allow: async () => false, description: 'EU finance leads' }, alice)).resolves.toEqual({ allowed: false, reason: 'Alice@Example.com is not allowed by the rule "EU finance leads"' });
    await expect(
      evaluateApprovers(
        {
          allow: () => {
            throw new Error('directory unavailable');
          },
        },
        alice,
      ),
    ).resolves.toEqual({ allowed: false, reason: 'the approver check failed: directory unavailable' });
    // The predicate does not run when a listed condition already fails.
    let ran = false;
    await evaluateApprovers({ roles: ['admin'], allow: () => (ran = true) }, alice);
    expect(ran).toBe(false);
  });

  test('a rule described for people', () => {
    expect(describeApproverRule({ roles: ['finance', 'admin'], groups: ['eu'], allow: () => true })).toBe('role finance or admin, and group eu, and a custom check');
    expect(describeApproverRule({ emails: ['a@example.com'], description: 'the CFO' })).toBe('the CFO');
    expect(describeApproverRule({})).toBe('any verified approver');
  });
});

describe('configuration from the environment', () => {
  test('nothing set: no verifier', () => {
    expect(decisionVerifierFromEnv({})).toBeUndefined();
    expect(decisionVerifierFromEnv({ DURABLE_CLAUDE_DECISION_KEY: '  ' })).toBeUndefined();
  });

  test('one shared key, or several by kid for rotation', async () => {
    const one = decisionVerifierFromEnv({ DURABLE_CLAUDE_DECISION_KEY: KEY })!;
    expect(one.description).toBe('HMAC keys default (issuer durable-claude)');
    await expect(one.verifier.verify(await mintDecisionToken({ key: KEY, subject: 'alice', binding }))).resolves.toMatchObject({ subject: 'alice' });
    const rotating = decisionVerifierFromEnv({ DURABLE_CLAUDE_DECISION_KEY: `new:${OTHER_KEY},old:${KEY}`, DURABLE_CLAUDE_DECISION_AUDIENCE: 'a1, a2' })!;
    expect(rotating.description).toBe('HMAC keys new, old (issuer durable-claude); audience a1, a2');
    await expect(rotating.verifier.verify(await mintDecisionToken({ key: KEY, keyId: 'old', subject: 'alice', binding, audience: 'a2' }))).resolves.toMatchObject({ keyId: 'old' });
    expect(parseDecisionKeys(`default:${'x:y'.repeat(12)}`)).toEqual([{ keyId: 'default', secret: 'x:y'.repeat(12) }]);
    // A secret that merely looks like `a:b` elsewhere stays one secret when its parts are not all kid:secret.
    expect(parseDecisionKeys(`${'z'.repeat(33)}`)).toEqual([{ keyId: 'default', secret: 'z'.repeat(33) }]);
  });

  test('a key set needs its issuer; bad values say which', () => {
    expect(() => decisionVerifierFromEnv({ DURABLE_CLAUDE_DECISION_JWKS_URL: 'https://idp.example.com/jwks' })).toThrow(/needs DURABLE_CLAUDE_DECISION_ISSUER/);
    expect(() => decisionVerifierFromEnv({ DURABLE_CLAUDE_DECISION_KEY: 'too-short' })).toThrow(/DURABLE_CLAUDE_DECISION_KEY must be at least 32 characters/);
    expect(() => decisionVerifierFromEnv({ DURABLE_CLAUDE_DECISION_KEY: `a:${KEY},a:${KEY}` })).toThrow(/names key a twice/);
    expect(() => decisionVerifierFromEnv({ DURABLE_CLAUDE_DECISION_JWKS_URL: 'ftp://idp', DURABLE_CLAUDE_DECISION_ISSUER: ISSUER })).toThrow(TypeError);
    expect(() => decisionVerifierFromEnv({ DURABLE_CLAUDE_DECISION_ISSUER: ISSUER })).toThrow(/no DURABLE_CLAUDE_DECISION_KEY or DURABLE_CLAUDE_DECISION_JWKS_URL/);
    const both = decisionVerifierFromEnv({ DURABLE_CLAUDE_DECISION_KEY: KEY, DURABLE_CLAUDE_DECISION_JWKS_URL: 'https://idp.example.com/jwks', DURABLE_CLAUDE_DECISION_ISSUER: ISSUER })!;
    expect(both.description).toBe(`HMAC keys default (issuer durable-claude); JWKS https://idp.example.com/jwks (issuer ${ISSUER})`);
  });
});
