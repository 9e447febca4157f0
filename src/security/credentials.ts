// Decision credentials: signed, short-lived tokens that say who decided a tool call and which decision they are good
// for. The worker verifies them (never the workflow: keys and key sets stay out of history); workflow code sees only
// the VerifiedApprover this returns.
import { createHash, randomUUID } from 'node:crypto';
import {
  SignJWT,
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
  type JWTVerifyGetKey,
  type KeyLike,
} from 'jose';
import { canonicalJson } from '../workflows/json';
import {
  CredentialRefused,
  type ApproverRule,
  type ApproverVerdict,
  type DecisionBinding,
  type DecisionVerifier,
  type DecisionVerifierOptions,
  type VerifiedApprover,
} from './types';

/** The claim a decision token carries its binding in (snake_case, as JWT claims are). */
export const DECISION_CLAIM = 'durable_claude_decision';
/** The issuer of the tokens this library mints, and the one HMAC tokens are checked against by default. */
export const DEFAULT_DECISION_ISSUER = 'durable-claude';
/** Shared keys shorter than this are refused: HS256 is only as strong as its secret. */
export const MIN_HMAC_KEY_BYTES = 32;
/** The algorithms a key set may verify. HMAC never goes to a key set, and a key set never verifies HMAC. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

const HMAC_ALGORITHMS = ['HS256'];
/** Longer tokens are refused before any parsing (the workflow's limit too). */
const MAX_TOKEN_CHARS = 8192;
/** A remote key set is fetched again for an unknown kid at most this often (rotation works; a stream of bogus kids does not hammer the provider). */
const JWKS_COOLDOWN_MS = 1_000;
const JWKS_TIMEOUT_MS = 5_000;

/** SHA-256 (hex) of the canonical JSON of a tool input: what a binding's inputSha256 is (the workflow's inputDigest). */
export function decisionInputHash(input: unknown): string {
  return createHash('sha256').update(canonicalJson(input), 'utf8').digest('hex');
}

/** The OIDC `nonce` that binds an identity provider's ID token to one decision: base64url SHA-256 of the binding. */
export function decisionNonce(binding: DecisionBinding): string {
  const { conversationId, toolUseId, decision, inputSha256 } = binding;
  return createHash('sha256')
    .update(canonicalJson({ conversationId, toolUseId, decision, ...(inputSha256 !== undefined ? { inputSha256 } : {}) }), 'utf8')
    .digest('base64url');
}

// ---------------------------------------------------------------------------------------------------------------
// Verification

type KeySource = { kind: 'hmac'; keys: Map<string, Uint8Array> } | { kind: 'jwks'; getKey: JWTVerifyGetKey; description: string };

function keyBytes(key: string | Uint8Array, what: string): Uint8Array {
  const bytes = typeof key === 'string' ? new TextEncoder().encode(key) : key;
  if (bytes.length < MIN_HMAC_KEY_BYTES) throw new TypeError(`${what} is ${bytes.length} bytes; a decision key needs at least ${MIN_HMAC_KEY_BYTES}`);
  return bytes;
}

function asList(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const list = (Array.isArray(value) ? value : [value]).filter((v) => v !== '');
  return list.length > 0 ? list : undefined;
}

function jwksSource(jwks: NonNullable<DecisionVerifierOptions['jwks']>): Extract<KeySource, { kind: 'jwks' }> {
  if ('url' in jwks) {
    let url: URL;
    try {
      url = new URL(jwks.url);
    } catch {
      throw new TypeError(`the JWKS URL is not a URL: ${JSON.stringify(jwks.url)}`);
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
      throw new TypeError(`the JWKS URL must be https (http only on localhost), got ${url.protocol}//${url.host}`);
    }
    const remote = createRemoteJWKSet(url, {
      cooldownDuration: JWKS_COOLDOWN_MS,
      timeoutDuration: JWKS_TIMEOUT_MS,
      ...(jwks.cacheMaxAgeMs !== undefined ? { cacheMaxAge: jwks.cacheMaxAgeMs } : {}),
    });
    const description = `JWKS ${url.origin}${url.pathname}`;
    const getKey: JWTVerifyGetKey = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (err) {
        // An unknown kid is the token's fault; anything else is the key set's, and the worker says which.
        if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
        throw new CredentialRefused(`the key set at ${url.origin}${url.pathname} could not be read (${err instanceof Error ? err.message : String(err)})`);
      }
    };
    return { kind: 'jwks', getKey, description };
  }
  if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new TypeError('jwks.keys must hold at least one public key');
  for (const key of jwks.keys) {
    if (key.kty === 'oct') throw new TypeError('jwks.keys holds a symmetric (oct) key: shared secrets go in hmacKeys');
    if ('d' in key) throw new TypeError('jwks.keys holds a private key: give the public keys only');
  }
  const local = createLocalJWKSet({ keys: jwks.keys as unknown as JWK[] });
  return { kind: 'jwks', getKey: local, description: `JWKS of ${jwks.keys.length} key${jwks.keys.length === 1 ? '' : 's'}` };
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname === '::1' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

function isoOf(seconds: unknown): string | undefined {
  return typeof seconds === 'number' && Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : undefined;
}

function durationText(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** A value from the token, quoted and cut short: reasons are recorded, and the token is not the recorder's to choose. */
function quoted(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/** jose's failures as reasons safe to record: what failed, never the token or a key. */
function refusalOf(err: unknown): CredentialRefused {
  if (err instanceof CredentialRefused) return err;
  if (err instanceof errors.JWSSignatureVerificationFailed) return new CredentialRefused('signature does not verify');
  if (err instanceof errors.JWTExpired) {
    return new CredentialRefused(err.claim === 'exp' ? `expired at ${isoOf(err.payload.exp) ?? 'an unknown time'}` : 'issued too long ago');
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return new CredentialRefused(`the token has no "${err.claim}" claim`);
    if (err.reason === 'invalid') return new CredentialRefused(`the token's "${err.claim}" claim is not a number`);
    switch (err.claim) {
      case 'aud':
        return new CredentialRefused('issued for another audience');
      case 'iss':
        return new CredentialRefused(`issued by ${quoted(err.payload.iss)}, not an issuer this worker trusts`);
      case 'nbf':
        return new CredentialRefused(`not valid before ${isoOf(err.payload.nbf) ?? 'an unknown time'}`);
      default:
        return new CredentialRefused(`the "${err.claim}" claim does not check out`);
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new CredentialRefused('the token is signed with an algorithm its key does not allow');
  if (err instanceof errors.JWKSNoMatchingKey) return new CredentialRefused("no key in the key set matches the token's kid");
  if (err instanceof errors.JWKSMultipleMatchingKeys) return new CredentialRefused('several keys in the key set match the token: give it a kid');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return new CredentialRefused('not a well-formed JWT');
  if (err instanceof errors.JOSENotSupported || err instanceof errors.JWKInvalid) return new CredentialRefused('the token or its key uses something this worker does not support');
  return new CredentialRefused(`the token does not verify (${err instanceof Error ? err.name : 'unknown error'})`);
}

/** Unset counts as verified (many providers send no flag); anything but true or "true" does not. */
function emailVerified(flag: unknown): boolean {
  return flag === undefined || flag === true || flag === 'true';
}

function stringsOf(value: unknown): string[] {
  // A claim is a list of names; a single string is one name (never split: "not finance" is not "finance").
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v !== '');
  return [];
}

/** A claim by name, or by a dotted path into nested claims (`realm_access.roles`) when no claim has that name. */
function claimOf(payload: JWTPayload, name: string): unknown {
  // Own properties only: a claim named `constructor` or `toString` is not the object's prototype.
  if (Object.hasOwn(payload, name)) return payload[name];
  let value: unknown = payload;
  for (const part of name.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

function claimedBinding(claim: unknown): DecisionBinding {
  if (typeof claim !== 'object' || claim === null || Array.isArray(claim)) throw new CredentialRefused(`the "${DECISION_CLAIM}" claim must be an object`);
  const { conversation_id, tool_use_id, decision, input_sha256 } = claim as Record<string, unknown>;
  if (typeof conversation_id !== 'string' || conversation_id === '') throw new CredentialRefused(`the "${DECISION_CLAIM}" claim has no conversation_id`);
  if (typeof tool_use_id !== 'string' || tool_use_id === '') throw new CredentialRefused(`the "${DECISION_CLAIM}" claim has no tool_use_id`);
  if (decision !== 'approve' && decision !== 'reject') throw new CredentialRefused(`the "${DECISION_CLAIM}" claim's decision must be approve or reject`);
  if (input_sha256 !== undefined && (typeof input_sha256 !== 'string' || !SHA256_HEX.test(input_sha256))) {
    throw new CredentialRefused(`the "${DECISION_CLAIM}" claim's input_sha256 must be a SHA-256 in hex`);
  }
  return { conversationId: conversation_id, toolUseId: tool_use_id, decision, ...(input_sha256 !== undefined ? { inputSha256: input_sha256 } : {}) };
}

/** What differs between the binding a token states and the decision being taken, for the reason. */
function bindingMismatch(actual: DecisionBinding, expected: DecisionBinding): string | undefined {
  if (actual.conversationId !== expected.conversationId) return `it is bound to conversation ${quoted(actual.conversationId)}`;
  if (actual.toolUseId !== expected.toolUseId) return `it is bound to tool call ${quoted(actual.toolUseId)}`;
  if (actual.decision !== expected.decision) return `it is bound to ${actual.decision}, not ${expected.decision}`;
  if (actual.inputSha256 !== undefined && expected.inputSha256 !== undefined && actual.inputSha256 !== expected.inputSha256) {
    return 'it is bound to another input';
  }
  return undefined;
}

function bindingOf(payload: JWTPayload, expected: DecisionBinding | undefined): DecisionBinding {
  let binding: DecisionBinding;
  if (payload[DECISION_CLAIM] !== undefined) {
    binding = claimedBinding(payload[DECISION_CLAIM]);
    const mismatch = expected && bindingMismatch(binding, expected);
    if (mismatch) throw new CredentialRefused(`the token is not for this decision: ${mismatch}`);
  } else if (typeof payload.nonce === 'string') {
    // An ID token from a step-up login carries its binding as a hash: only the decision it hashes can be checked.
    if (!expected) throw new CredentialRefused('the token binds its decision by nonce only, and no decision was given to check it against');
    if (payload.nonce !== decisionNonce(expected)) throw new CredentialRefused("the token's nonce is not this decision's");
    binding = expected;
  } else {
    throw new CredentialRefused(`no decision binding (neither a "${DECISION_CLAIM}" claim nor a nonce)`);
  }
  if (binding.decision === 'approve' && binding.inputSha256 === undefined) throw new CredentialRefused('an approval must bind the input it approves (input_sha256)');
  return binding;
}

/**
 * A verifier of decision credentials for a worker. HS256 tokens verify against `hmacKeys` only, and RS256, ES256
 * and EdDSA tokens against `jwks` only: neither source ever sees the other's algorithms, so an HMAC token signed with
 * a public key gets nowhere, and an unsigned one (`alg: none`) is refused outright.
 */
export function createDecisionVerifier(options: DecisionVerifierOptions): DecisionVerifier {
  const hmacEntries = Object.entries(options.hmacKeys ?? {});
  const hmac = hmacEntries.length > 0 ? new Map(hmacEntries.map(([kid, key]) => [kid, keyBytes(key, `hmacKeys.${kid}`)])) : undefined;
  const jwks = options.jwks ? jwksSource(options.jwks) : undefined;
  if (!hmac && !jwks) throw new TypeError('a decision verifier needs hmacKeys or jwks');
  const issuers = asList(options.issuer);
  if (jwks && !issuers) throw new TypeError('a decision verifier with jwks needs the issuer its tokens must name');
  // With a key set, the configured issuer is the identity provider's: HMAC tokens keep their own, so that a holder of
  // the shared key cannot pass for the provider (a rule's `issuers` tells them apart).
  const hmacIssuers = jwks ? [DEFAULT_DECISION_ISSUER] : (issuers ?? [DEFAULT_DECISION_ISSUER]);
  const audience = asList(options.audience);
  const tolerance = options.clockToleranceSeconds ?? 30;
  const maxLifetime = options.maxLifetimeSeconds ?? 3600;
  if (!(tolerance >= 0)) throw new TypeError('clockToleranceSeconds must be zero or more');
  if (!(maxLifetime > 0)) throw new TypeError('maxLifetimeSeconds must be more than zero');
  const rolesClaim = options.rolesClaim ?? 'roles';
  const groupsClaim = options.groupsClaim ?? 'groups';

  const hmacKey: JWTVerifyGetKey = (header: JWTHeaderParameters) => {
    const kid = header.kid ?? 'default';
    const key = hmac?.get(kid);
    if (!key) throw new CredentialRefused(header.kid === undefined ? 'the token names no kid and there is no default shared key' : `no shared key named ${quoted(kid)}`);
    return key;
  };

  const description = [
    hmac ? `HMAC keys ${[...hmac.keys()].join(', ')} (issuer ${hmacIssuers.join(', ')})` : undefined,
    jwks ? `${jwks.description} (issuer ${issuers!.join(', ')})` : undefined,
    audience ? `audience ${audience.join(', ')}` : undefined,
  ]
    .filter(Boolean)
    .join('; ');

  async function verify(token: string, expected?: DecisionBinding): Promise<VerifiedApprover> {
    if (typeof token !== 'string' || token === '') throw new CredentialRefused('no token');
    if (token.length > MAX_TOKEN_CHARS) throw new CredentialRefused(`the token is longer than ${MAX_TOKEN_CHARS} characters`);
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new CredentialRefused('not a well-formed JWT');
    }
    let method: VerifiedApprover['method'];
    if (alg === 'HS256') {
      if (!hmac) throw new CredentialRefused('an HS256 token, and this worker verifies tokens against a key set only');
      method = 'hmac';
    } else if ((ASYMMETRIC_ALGORITHMS as readonly unknown[]).includes(alg)) {
      if (!jwks) throw new CredentialRefused(`an ${String(alg)} token, and this worker has no key set (it verifies HS256 with shared keys only)`);
      method = 'jwks';
    } else if (typeof alg === 'string' && alg.toLowerCase() === 'none') {
      throw new CredentialRefused('unsigned tokens (alg none) are refused');
    } else {
      throw new CredentialRefused(`algorithm ${quoted(alg)} is not accepted (HS256 with a shared key; ${ASYMMETRIC_ALGORITHMS.join(', ')} with a key set)`);
    }

    let payload: JWTPayload;
    let keyId: string | undefined;
    try {
      const verified = await jwtVerify(token, method === 'hmac' ? hmacKey : jwks!.getKey, {
        algorithms: method === 'hmac' ? HMAC_ALGORITHMS : [...ASYMMETRIC_ALGORITHMS],
        issuer: method === 'hmac' ? hmacIssuers : issuers!,
        ...(audience ? { audience } : {}),
        requiredClaims: ['exp', 'iat', 'sub'],
        clockTolerance: tolerance,
      });
      payload = verified.payload;
      keyId = verified.protectedHeader.kid;
    } catch (err) {
      throw refusalOf(err);
    }

    const exp = payload.exp!;
    const iat = payload.iat!;
    const now = Date.now() / 1000;
    if (iat > now + tolerance) throw new CredentialRefused(`issued in the future (${isoOf(iat)})`);
    if (exp - iat > maxLifetime) throw new CredentialRefused(`lifetime ${durationText(Math.ceil(exp - iat))} exceeds ${durationText(maxLifetime)}`);
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new CredentialRefused('the token names no subject');
    // An ID token bound by nonce is an ordinary login token: without an audience (your OIDC client id) one issued to
    // any other application of the same provider would do.
    if (payload[DECISION_CLAIM] === undefined && method === 'jwks' && !audience) {
      throw new CredentialRefused('a token bound by nonce needs the verifier to require an audience (the OIDC client id): set audience');
    }
    const binding = bindingOf(payload, expected);

    const issuedAt = isoOf(iat);
    return {
      subject: payload.sub,
      issuer: payload.iss!,
      // An address the identity provider says it has not verified is no one's: rules and the audit never see it.
      ...(typeof payload.email === 'string' && payload.email !== '' && emailVerified(payload.email_verified) ? { email: payload.email } : {}),
      ...(typeof payload.name === 'string' ? { name: payload.name } : {}),
      roles: stringsOf(claimOf(payload, rolesClaim)),
      groups: stringsOf(claimOf(payload, groupsClaim)),
      tokenId: typeof payload.jti === 'string' && payload.jti !== '' ? payload.jti : createHash('sha256').update(token, 'utf8').digest('hex'),
      expiresAt: isoOf(exp)!,
      ...(issuedAt ? { issuedAt } : {}),
      method,
      ...(keyId !== undefined ? { keyId } : {}),
      binding,
    };
  }

  return { verify, description };
}

// ---------------------------------------------------------------------------------------------------------------
// Minting (tests, local development, and an approval service of your own)

interface MintCommon {
  /** Default `durable-claude`. */
  issuer?: string;
  subject: string;
  email?: string;
  name?: string;
  roles?: string[];
  groups?: string[];
  binding: DecisionBinding;
  /** Default 300 (five minutes). */
  ttlSeconds?: number;
  audience?: string | string[];
  /** The `jti`; default a random UUID. */
  tokenId?: string;
  /** The key id (`kid`) in the header. */
  keyId?: string;
  /** `claim` (default): the `durable_claude_decision` claim; `nonce`: only `nonce = decisionNonce(binding)`, as an identity provider's ID token would. */
  bindAs?: 'claim' | 'nonce';
  /** When it was issued; default now. */
  issuedAt?: Date;
  notBefore?: Date;
  /** More claims (a custom roles claim, say); they cannot replace the registered ones or the binding. */
  claims?: Record<string, unknown>;
}

export type MintDecisionTokenOptions =
  | (MintCommon & { /** An HS256 shared key (at least 32 bytes). */ key: string | Uint8Array })
  | (MintCommon & { privateKey: KeyLike; algorithm: AsymmetricAlgorithm });

/** Signs a decision token: HS256 with a shared `key`, or `algorithm` with a `privateKey` (verified against a JWKS). */
export async function mintDecisionToken(options: MintDecisionTokenOptions): Promise<string> {
  const { binding } = options;
  const ttl = options.ttlSeconds ?? 300;
  if (!(ttl > 0)) throw new TypeError('ttlSeconds must be more than zero');
  const iat = Math.floor((options.issuedAt ?? new Date()).getTime() / 1000);
  const bound =
    options.bindAs === 'nonce'
      ? { nonce: decisionNonce(binding) }
      : {
          [DECISION_CLAIM]: {
            conversation_id: binding.conversationId,
            tool_use_id: binding.toolUseId,
            decision: binding.decision,
            ...(binding.inputSha256 !== undefined ? { input_sha256: binding.inputSha256 } : {}),
          },
        };
  const payload: JWTPayload = {
    ...options.claims,
    ...(options.email !== undefined ? { email: options.email } : {}),
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.roles !== undefined ? { roles: options.roles } : {}),
    ...(options.groups !== undefined ? { groups: options.groups } : {}),
    ...bound,
  };
  const signing = 'key' in options ? { alg: 'HS256', key: keyBytes(options.key, 'the decision key') } : { alg: options.algorithm, key: options.privateKey };
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: signing.alg, typ: 'JWT', ...(options.keyId !== undefined ? { kid: options.keyId } : {}) })
    .setIssuer(options.issuer ?? DEFAULT_DECISION_ISSUER)
    .setSubject(options.subject)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .setJti(options.tokenId ?? randomUUID());
  if (options.audience !== undefined) jwt.setAudience(options.audience);
  if (options.notBefore) jwt.setNotBefore(Math.floor(options.notBefore.getTime() / 1000));
  return jwt.sign(signing.key);
}

// ---------------------------------------------------------------------------------------------------------------
// Approver rules

function listed(values: string[] | undefined, what: string): string | undefined {
  return values === undefined ? undefined : `${what} ${values.length === 0 ? '(none listed)' : values.join(' or ')}`;
}

/** What a rule asks, for people: its description, or a summary of its conditions. */
export function describeApproverRule(rule: ApproverRule): string {
  if (rule.description) return rule.description;
  const parts = [
    listed(rule.roles, 'role'),
    listed(rule.groups, 'group'),
    listed(rule.emails, 'email'),
    listed(rule.subjects, 'subject'),
    listed(rule.issuers, 'issuer'),
    rule.allow ? 'a custom check' : undefined,
  ].filter((p): p is string => p !== undefined);
  return parts.length > 0 ? parts.join(', and ') : 'any verified approver';
}

/**
 * Whether a verified approver may decide under a rule: every condition the rule sets must hold (an empty list holds
 * for no one: a rule fails closed), then `allow`. A throwing `allow` refuses, with what it threw.
 */
export async function evaluateApprovers(rule: ApproverRule, approver: VerifiedApprover): Promise<ApproverVerdict> {
  const matched: string[] = [];
  const who = approver.email ?? approver.subject;
  const anyOf = (wanted: string[] | undefined, has: string[], what: string, normalize: (s: string) => string = (s) => s): string | undefined => {
    if (wanted === undefined) return undefined;
    const have = new Set(has.map(normalize));
    const hit = wanted.find((w) => have.has(normalize(w)));
    if (hit !== undefined) {
      matched.push(`${what} ${hit}`);
      return undefined;
    }
    const stated = has.length > 0 ? ` (has ${has.join(', ')})` : '';
    return `${who} has no ${what} of ${wanted.length > 0 ? wanted.join(', ') : '(none listed)'}${what === 'role' || what === 'group' ? stated : ''}`;
  };
  const refusal =
    anyOf(rule.roles, approver.roles, 'role') ??
    anyOf(rule.groups, approver.groups, 'group') ??
    anyOf(rule.emails, approver.email !== undefined ? [approver.email] : [], 'email', (s) => s.toLowerCase()) ??
    anyOf(rule.subjects, [approver.subject], 'subject') ??
    anyOf(rule.issuers, [approver.issuer], 'issuer');
  if (refusal) return { allowed: false, reason: refusal };
  if (rule.allow) {
    let allowed: boolean;
    try {
      allowed = (await rule.allow(approver)) === true;
    } catch (err) {
      return { allowed: false, reason: `the approver check failed: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (!allowed) return { allowed: false, reason: `${who} is not allowed by ${rule.description ? `the rule "${rule.description}"` : 'the approver check'}` };
    matched.push('allow');
  }
  return { allowed: true, matched: matched.length > 0 ? matched : ['a verified credential'] };
}

// ---------------------------------------------------------------------------------------------------------------
// Configuration from the environment

export interface EnvDecisionVerifier {
  verifier: DecisionVerifier;
  description: string;
}

const KID = /^[A-Za-z0-9._-]+$/;

/**
 * The shared keys of DURABLE_CLAUDE_DECISION_KEY: one secret (the `default` key), or `kid:secret,kid2:secret2` for
 * rotation (the first one signs). A secret that itself holds `:` is written `default:secret`.
 */
export function parseDecisionKeys(value: string): Array<{ keyId: string; secret: string }> {
  const entries = value.split(',').map((e) => e.trim());
  const named = entries.every((e) => {
    const at = e.indexOf(':');
    return at > 0 && KID.test(e.slice(0, at));
  });
  const keys = named ? entries.map((e) => ({ keyId: e.slice(0, e.indexOf(':')), secret: e.slice(e.indexOf(':') + 1) })) : [{ keyId: 'default', secret: value.trim() }];
  const seen = new Set<string>();
  for (const { keyId, secret } of keys) {
    if (seen.has(keyId)) throw new TypeError(`DURABLE_CLAUDE_DECISION_KEY names key ${keyId} twice`);
    seen.add(keyId);
    if (Buffer.byteLength(secret, 'utf8') < MIN_HMAC_KEY_BYTES) {
      throw new TypeError(`DURABLE_CLAUDE_DECISION_KEY${keys.length > 1 || keyId !== 'default' ? ` (key ${keyId})` : ''} must be at least ${MIN_HMAC_KEY_BYTES} characters (e.g. \`openssl rand -base64 32\`)`);
    }
  }
  return keys;
}

function envList(value: string | undefined): string[] | undefined {
  const list = value?.split(',').map((v) => v.trim()).filter(Boolean);
  return list && list.length > 0 ? list : undefined;
}

/**
 * A verifier from DURABLE_CLAUDE_DECISION_KEY (shared keys), DURABLE_CLAUDE_DECISION_JWKS_URL (a key set, with
 * DURABLE_CLAUDE_DECISION_ISSUER), and DURABLE_CLAUDE_DECISION_AUDIENCE (comma-separated); undefined when neither key
 * source is set. Bad values are a TypeError that says which.
 */
export function decisionVerifierFromEnv(env: NodeJS.ProcessEnv = process.env): EnvDecisionVerifier | undefined {
  const key = env.DURABLE_CLAUDE_DECISION_KEY?.trim() || undefined;
  const jwksUrl = env.DURABLE_CLAUDE_DECISION_JWKS_URL?.trim() || undefined;
  const issuer = envList(env.DURABLE_CLAUDE_DECISION_ISSUER);
  const audience = envList(env.DURABLE_CLAUDE_DECISION_AUDIENCE);
  if (!key && !jwksUrl) {
    if (issuer || audience) throw new TypeError('DURABLE_CLAUDE_DECISION_ISSUER/AUDIENCE are set, but no DURABLE_CLAUDE_DECISION_KEY or DURABLE_CLAUDE_DECISION_JWKS_URL to verify with');
    return undefined;
  }
  if (jwksUrl && !issuer) throw new TypeError('DURABLE_CLAUDE_DECISION_JWKS_URL needs DURABLE_CLAUDE_DECISION_ISSUER: the issuer its tokens must name');
  const options: DecisionVerifierOptions = {
    ...(key ? { hmacKeys: Object.fromEntries(parseDecisionKeys(key).map(({ keyId, secret }) => [keyId, secret])) } : {}),
    ...(jwksUrl ? { jwks: { url: jwksUrl } } : {}),
    ...(issuer ? { issuer } : {}),
    ...(audience ? { audience } : {}),
  };
  let verifier: DecisionVerifier;
  try {
    verifier = createDecisionVerifier(options);
  } catch (err) {
    throw new TypeError(`decision credentials (DURABLE_CLAUDE_DECISION_*): ${(err as Error).message}`, { cause: err });
  }
  return { verifier, description: verifier.description };
}
