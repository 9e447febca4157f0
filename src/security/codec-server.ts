// The remote codec server the Temporal Web UI and the `temporal` CLI call to show encrypted payloads as plain ones:
// POST …/encode and POST …/decode with a Payloads message as protobuf JSON, answering the same. The keys stay here
// (and on the workers); the UI and the CLI never hold them, and this server only answers callers it authorizes.
import { createHash, timingSafeEqual } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';

const PayloadsProto = temporal.api.common.v1.Payloads;

/** The environment variable holding the bearer token callers must present, unless the server is given another rule. */
export const CODEC_TOKEN_ENV = 'DURABLE_CLAUDE_CODEC_TOKEN';

/** What a codec request is, for an authorize rule: never the payloads themselves. */
export interface CodecRequestInfo {
  operation: 'encode' | 'decode';
  /** The `X-Namespace` header the UI and the CLI send (the namespace whose payloads these are). */
  namespace: string | undefined;
  /** The path as requested, e.g. `/default/decode` when the endpoint was configured with a prefix. */
  path: string;
  /** The browser's `Origin`; undefined for the CLI and other non-browser callers. */
  origin: string | undefined;
  headers: IncomingHttpHeaders;
  request: IncomingMessage;
}

/** Whether a caller may encode or decode: the `Authorization` header as sent (e.g. `Bearer …`), and the request. */
export type CodecAuthorizer = (authorizationHeader: string | undefined, request: CodecRequestInfo) => boolean | Promise<boolean>;

export interface CodecServerOptions {
  /** Applied in order on encode and in reverse on decode, as a worker's data converter applies them. */
  codecs: PayloadCodec[];
  /** Default 8888; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1: reachable from this machine only. */
  host?: string;
  /**
   * Browser origins allowed to call (the Web UI's, e.g. `http://localhost:8233`). `'*'` allows any origin and only
   * when given explicitly; with it no credentials are allowed. Callers that send no `Origin` (the CLI) are not
   * affected: they are held to `authorize` alone.
   */
  allowedOrigins: string[];
  /** Decides every /encode and /decode request. Default: `token`. */
  authorize?: CodecAuthorizer;
  /** A bearer token callers must send (`Authorization: Bearer <token>`). Default: DURABLE_CLAUDE_CODEC_TOKEN. */
  token?: string;
  /** Answer every caller, with no `authorize` and no token: only when chosen explicitly (e.g. behind a proxy that authenticates). */
  allowUnauthenticated?: boolean;
  /** Largest request body accepted (413 beyond it). Default 16 MiB. */
  maxBodyBytes?: number;
  /** One line per refused or failed request (never payload contents). Default: none. */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface CodecServer {
  /** `http://host:port`: the endpoint to give the UI (`--ui-codec-endpoint`) and the CLI (`--codec-endpoint`). */
  url: string;
  port: number;
  close(): Promise<void>;
}

export const DEFAULT_CODEC_SERVER_PORT = 8888;
const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** The request headers a browser asks to send: the UI's (content type, namespace, the forwarded access token and ID token). */
const ALLOWED_HEADERS = 'Content-Type, X-Namespace, Authorization, Authorization-Extras';

/** A failure whose status and message are safe to send: it names no payload contents and no credentials. */
class CodecHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The rule from the options: an authorize function, a bearer token, or (chosen explicitly) none. */
function resolveAuthorizer(options: CodecServerOptions): CodecAuthorizer {
  if (options.authorize) return options.authorize;
  const token = options.token ?? ((options.env ?? process.env)[CODEC_TOKEN_ENV] || undefined);
  if (token !== undefined) {
    if (token.trim() === '') throw new TypeError('the codec server token is empty');
    return bearerTokenAuthorizer(token);
  }
  if (options.allowUnauthenticated) return () => true;
  throw new TypeError(
    `the codec server needs a rule for who may call it: set ${CODEC_TOKEN_ENV} (callers send "Authorization: Bearer <token>"), pass token or authorize, or choose allowUnauthenticated explicitly`,
  );
}

/** Accepts `Authorization: Bearer <token>` for exactly this token; compared in constant time (as digests, so lengths leak nothing). */
export function bearerTokenAuthorizer(token: string): CodecAuthorizer {
  const expected = createHash('sha256').update(token).digest();
  return (header) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match) return false;
    return timingSafeEqual(createHash('sha256').update(match[1]!).digest(), expected);
  };
}

export interface AccessTokenAuthorizerOptions {
  /** The identity provider's key set: its URL (https; http only on loopback), fetched and cached, or the keys. */
  jwks: { url: string } | JSONWebKeySet;
  /** Accepted `iss` value(s). */
  issuer: string | string[];
  /** Required `aud` value(s): the Web UI's access tokens, not any token the provider issued to another application. */
  audience: string | string[];
  /** A further rule over the verified claims (roles, groups…) and the request. Default: any valid token. */
  allow?: (claims: JWTPayload, request: CodecRequestInfo) => boolean | Promise<boolean>;
  /** Seconds of clock skew allowed on exp/nbf. Default 30. */
  clockToleranceSeconds?: number;
}

// Asymmetric only: a key set never holds the shared secret an HS256 token would need, and `none` is never accepted.
const ACCESS_TOKEN_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

const isLoopbackHost = (hostname: string) => hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);

/**
 * Accepts the Web UI's forwarded access token (UI server with OIDC and TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true): a
 * `Bearer` JWT signed by a key of the identity provider's set, from an accepted issuer, unexpired.
 */
export function accessTokenAuthorizer(options: AccessTokenAuthorizerOptions): CodecAuthorizer {
  let getKey: JWTVerifyGetKey;
  if ('url' in options.jwks) {
    let url: URL;
    try {
      url = new URL(options.jwks.url);
    } catch {
      throw new TypeError(`the JWKS URL is not a URL: ${JSON.stringify(options.jwks.url)}`);
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
      throw new TypeError(`the JWKS URL must be https (http only on localhost), got ${url.protocol}//${url.host}`);
    }
    getKey = createRemoteJWKSet(url);
  } else {
    getKey = createLocalJWKSet(options.jwks);
  }
  const issuers = Array.isArray(options.issuer) ? options.issuer : [options.issuer];
  if (issuers.length === 0 || issuers.some((i) => i === '')) throw new TypeError('accessTokenAuthorizer needs the accepted issuer(s)');
  const audiences = Array.isArray(options.audience) ? options.audience : [options.audience];
  if (audiences.length === 0 || audiences.some((a) => typeof a !== 'string' || a === '')) throw new TypeError('accessTokenAuthorizer needs the audience of the accepted tokens');
  return async (header, request) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match) return false;
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(match[1]!, getKey, {
        issuer: issuers,
        audience: audiences,
        algorithms: ACCESS_TOKEN_ALGORITHMS,
        clockTolerance: options.clockToleranceSeconds ?? 30,
        requiredClaims: ['exp'],
      }));
    } catch {
      return false;
    }
    return options.allow ? options.allow(claims, request) : true;
  };
}

/** Any of these rules (e.g. the UI's access token, or the CLI users' shared token). */
export function anyAuthorizer(...rules: CodecAuthorizer[]): CodecAuthorizer {
  return async (header, request) => {
    for (const rule of rules) if (await rule(header, request)) return true;
    return false;
  };
}

function validateOrigins(origins: string[]): void {
  for (const origin of origins) {
    if (origin === '*') continue;
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new TypeError(`allowed origin '${origin}' is not a URL (expected e.g. http://localhost:8233)`);
    }
    // A browser's Origin is scheme://host[:port] and nothing else, so anything more could never match.
    if (parsed.origin !== origin.replace(/\/$/, '')) throw new TypeError(`allowed origin '${origin}' must be scheme://host[:port], e.g. ${parsed.origin}`);
  }
}

/** The protobuf JSON of a Payloads message, as the UI and the CLI send it; malformed input is a 400. */
function parsePayloads(body: Buffer): Payload[] {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new CodecHttpError(400, 'the body is not JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new CodecHttpError(400, 'the body must be a JSON object with a "payloads" array');
  const { payloads } = json as { payloads?: unknown };
  if (payloads !== undefined && !Array.isArray(payloads)) throw new CodecHttpError(400, '"payloads" must be an array');
  for (const [index, payload] of (payloads ?? []).entries()) {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new CodecHttpError(400, `payload ${index} is not an object`);
    const { metadata, data } = payload as { metadata?: unknown; data?: unknown };
    if (data !== undefined && data !== null && !isBase64(data)) throw new CodecHttpError(400, `payload ${index}: "data" must be base64`);
    if (metadata !== undefined && metadata !== null) {
      if (typeof metadata !== 'object' || Array.isArray(metadata)) throw new CodecHttpError(400, `payload ${index}: "metadata" must be an object`);
      for (const [key, value] of Object.entries(metadata)) {
        if (!isBase64(value)) throw new CodecHttpError(400, `payload ${index}: metadata "${key}" must be base64`);
      }
    }
  }
  try {
    return PayloadsProto.fromObject({ payloads: payloads ?? [] }).payloads;
  } catch (err) {
    throw new CodecHttpError(400, `the payloads are not protobuf JSON of temporal.api.common.v1.Payloads (${(err as Error).message})`);
  }
}

// Standard or URL-safe base64, padded or not: what protobuf JSON accepts for bytes.
const isBase64 = (value: unknown): boolean => typeof value === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(value);

/** Protobuf JSON of a Payloads message: bytes as base64, int64 as strings, empty fields left out. */
function payloadsJson(payloads: Payload[]): string {
  const message = PayloadsProto.fromObject({ payloads });
  return JSON.stringify(PayloadsProto.toObject(message, { bytes: String, longs: String, enums: String }));
}

function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new CodecHttpError(413, `the body is over ${limit} bytes`));
      request.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    request.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.byteLength;
      if (size > limit) {
        done = true;
        reject(new CodecHttpError(413, `the body is over ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks));
    });
    request.on('error', reject);
  });
}

/** Encode through every codec in order (as a worker does before sending). */
async function encodeAll(codecs: PayloadCodec[], payloads: Payload[]): Promise<Payload[]> {
  let result = payloads;
  for (const codec of codecs) result = await codec.encode(result);
  return result;
}

/**
 * Decode through every codec in reverse order, one payload at a time: a payload this server cannot decode (a key it
 * does not hold) comes back as it was, so the rest of a history page still reads.
 */
async function decodeAll(codecs: PayloadCodec[], payloads: Payload[], onFailure: (err: unknown) => void): Promise<Payload[]> {
  return Promise.all(
    payloads.map(async (payload) => {
      try {
        let result = [payload];
        for (const codec of [...codecs].reverse()) result = await codec.decode(result);
        if (result.length !== 1) throw new Error(`a codec returned ${result.length} payloads for 1`);
        return result[0]!;
      } catch (err) {
        onFailure(err);
        return payload;
      }
    }),
  );
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Starts the server; resolves once it listens. */
export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  if (options.codecs.length === 0) throw new TypeError('the codec server needs at least one codec');
  validateOrigins(options.allowedOrigins);
  const authorize = resolveAuthorizer(options);
  const anyOrigin = options.allowedOrigins.includes('*');
  const origins = new Set(options.allowedOrigins.filter((o) => o !== '*').map((o) => o.replace(/\/$/, '')));
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = options.log ?? (() => undefined);
  const host = options.host ?? '127.0.0.1';

  /** CORS headers for an allowed origin; false for a browser origin that is not allowed. */
  const corsHeaders = (origin: string | undefined): Record<string, string> | false => {
    if (origin === undefined) return {};
    if (origins.has(origin)) {
      // A listed origin is trusted with credentials (the UI's includeCredentials sends cookies to an authorizer that reads them).
      return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', Vary: 'Origin' };
    }
    if (anyOrigin) return { 'Access-Control-Allow-Origin': '*' };
    return false;
  };

  const send = (response: ServerResponse, status: number, headers: Record<string, string>, body?: string) => {
    response.writeHead(status, { ...headers, 'Cache-Control': 'no-store', ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) });
    response.end(body);
  };
  const sendError = (response: ServerResponse, status: number, headers: Record<string, string>, message: string) =>
    send(response, status, headers, JSON.stringify({ error: message }));

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const origin = headerValue(request.headers, 'origin');
    const path = new URL(request.url ?? '/', 'http://codec.invalid').pathname;
    // Only the last segment says which operation (the protocol: endpoints may be mounted under any prefix).
    const last = path.replace(/\/+$/, '').split('/').pop();
    const operation = last === 'encode' || last === 'decode' ? last : undefined;
    const cors = corsHeaders(origin);

    if (request.method === 'OPTIONS') {
      if (cors === false || operation === undefined) {
        // No Access-Control-Allow-Origin: the browser refuses the request it asked about.
        log(`codec server: refused a preflight from origin ${origin ?? '(none)'} for ${path}`);
        send(response, 403, {});
        return;
      }
      const preflight: Record<string, string> = {
        ...cors,
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': ALLOWED_HEADERS,
        'Access-Control-Max-Age': '600',
      };
      // Chrome's Private Network Access asks before a public page calls a private address; an allowed origin may.
      if (headerValue(request.headers, 'access-control-request-private-network') === 'true') preflight['Access-Control-Allow-Private-Network'] = 'true';
      send(response, 204, preflight);
      return;
    }
    if (request.method === 'GET' && (path === '/health' || path === '/healthz')) {
      send(response, 200, cors === false ? {} : cors, JSON.stringify({ ok: true }));
      return;
    }
    if (operation === undefined) {
      sendError(response, 404, cors === false ? {} : cors, 'not found: POST …/encode or …/decode');
      return;
    }
    if (request.method !== 'POST') {
      sendError(response, 405, { ...(cors === false ? {} : cors), Allow: 'POST, OPTIONS' }, `${operation} takes POST`);
      return;
    }
    if (cors === false) {
      // A browser never sends this after a refused preflight; anything else claiming a foreign origin is refused too.
      log(`codec server: refused ${operation} from origin ${origin}`);
      sendError(response, 403, {}, 'origin not allowed');
      request.resume();
      return;
    }
    const info: CodecRequestInfo = { operation, namespace: headerValue(request.headers, 'x-namespace'), path, origin, headers: request.headers, request };
    let allowed = false;
    try {
      allowed = await authorize(headerValue(request.headers, 'authorization'), info);
    } catch (err) {
      log(`codec server: the authorize rule failed on ${operation} (${(err as Error).message}); refused`);
    }
    if (!allowed) {
      log(`codec server: refused an unauthorized ${operation}${info.namespace ? ` in namespace ${info.namespace}` : ''}`);
      sendError(response, 401, { ...cors, 'WWW-Authenticate': 'Bearer' }, 'unauthorized');
      request.resume();
      return;
    }
    const payloads = parsePayloads(await readBody(request, maxBodyBytes));
    let failures = 0;
    let firstFailure: unknown;
    const result =
      operation === 'encode'
        ? await encodeAll(options.codecs, payloads)
        : await decodeAll(options.codecs, payloads, (err) => {
            failures++;
            firstFailure ??= err;
          });
    if (failures > 0) {
      // The codec's messages name keys, never contents.
      log(`codec server: ${failures} of ${payloads.length} payloads could not be decoded and were returned as they were (${(firstFailure as Error)?.message ?? String(firstFailure)})`);
    }
    send(response, 200, cors, payloadsJson(result));
  };

  const server = http.createServer((request, response) => {
    handle(request, response).catch((err: unknown) => {
      const status = err instanceof CodecHttpError ? err.status : 500;
      const message = err instanceof CodecHttpError ? err.message : 'the codec failed';
      if (!(err instanceof CodecHttpError)) log(`codec server: ${request.method} ${request.url} failed: ${(err as Error)?.message ?? String(err)}`);
      if (response.headersSent) {
        response.destroy();
        return;
      }
      const cors = corsHeaders(headerValue(request.headers, 'origin'));
      sendError(response, status, cors === false ? {} : cors, message);
      request.resume();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_CODEC_SERVER_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
