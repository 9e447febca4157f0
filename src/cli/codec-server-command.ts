// `durable-claude codec-server`: the Web UI's and temporal CLI's /encode and /decode endpoint, with the workers' keys.
import { accessTokenAuthorizer, anyAuthorizer, bearerTokenAuthorizer, CODEC_TOKEN_ENV, DEFAULT_CODEC_SERVER_PORT, startCodecServer, type CodecAuthorizer } from '../security/codec-server';
import { encryptionFromEnv, ENCRYPTION_KEY_FILE_ENV, ENCRYPTION_KEYS_ENV } from '../security/encryption';
import { stringOption, warn, write, type Command } from './command';
import type { CliValues } from './values';
import { CliError, ExitCode } from './errors';

/** The Web UI of `temporal server start-dev` (and of `durable-claude dev`) on its default port. */
const DEFAULT_UI_ORIGIN = 'http://localhost:8233';

const USAGE = `Usage: durable-claude codec-server [--port ${DEFAULT_CODEC_SERVER_PORT}] [--host 127.0.0.1] [--allow-origin ORIGIN]…
                                   [--jwks URL --issuer ISS --audience AUD] [--no-auth]

Decrypts payloads for the Temporal Web UI and the temporal CLI (POST /encode, /decode), with the workers' keys:
  ${ENCRYPTION_KEYS_ENV}="k2:BASE64,k1:BASE64" (or ${ENCRYPTION_KEY_FILE_ENV})
Callers send "Authorization: Bearer $${CODEC_TOKEN_ENV}", or (--jwks) the Web UI forwards its users' OIDC access
tokens (TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true, https endpoint), verified against the issuer's key set; either works
when both are set. --no-auth answers anyone who can reach it.
  --allow-origin   a browser origin that may call it (the Web UI's; default ${DEFAULT_UI_ORIGIN}); repeatable; '*' for any
Then: temporal server start-dev --ui-codec-endpoint URL, or temporal workflow show --codec-endpoint URL --codec-auth "Bearer …"`;

function portOption(values: CliValues): number {
  const raw = stringOption(values, 'port');
  if (raw === undefined) return DEFAULT_CODEC_SERVER_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw CliError.usage(`--port must be a port number, got '${raw}'`);
  return port;
}

/** A repeatable option's values, commas also separating them. */
function listOption(values: CliValues, name: string): string[] {
  const given = values[name];
  const list = Array.isArray(given) ? given : typeof given === 'string' ? [given] : [];
  return list.flatMap((o) => o.split(',')).map((o) => o.trim()).filter((o) => o !== '');
}

function originsOption(values: CliValues): string[] {
  const list = listOption(values, 'allow-origin');
  return list.length > 0 ? list : [DEFAULT_UI_ORIGIN];
}

/** Stays up until SIGINT/SIGTERM. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

const codecServer: Command = {
  usage: USAGE,
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'allow-origin': { type: 'string', multiple: true },
    'no-auth': { type: 'boolean' },
    jwks: { type: 'string' },
    issuer: { type: 'string', multiple: true },
    audience: { type: 'string', multiple: true },
  },
  async run(_positionals, values) {
    let encryption: ReturnType<typeof encryptionFromEnv>;
    try {
      encryption = encryptionFromEnv(process.env);
    } catch (err) {
      throw CliError.usage((err as Error).message);
    }
    if (!encryption) throw CliError.usage(`no encryption keys: set ${ENCRYPTION_KEYS_ENV}="id:BASE64KEY,…" (or ${ENCRYPTION_KEY_FILE_ENV}) as the workers have them`);
    const token = process.env[CODEC_TOKEN_ENV] || undefined;
    const noAuth = values['no-auth'] === true;
    const jwks = stringOption(values, 'jwks');
    const issuers = listOption(values, 'issuer');
    const audiences = listOption(values, 'audience');
    if (jwks === undefined && (issuers.length > 0 || audiences.length > 0)) throw CliError.usage('--issuer and --audience go with --jwks URL');
    if (token === undefined && jwks === undefined && !noAuth) {
      throw CliError.usage(`no caller authentication: set ${CODEC_TOKEN_ENV} (callers send "Authorization: Bearer <token>"), pass --jwks URL --issuer ISS, or pass --no-auth to answer anyone who can reach the server`);
    }
    if (noAuth && (token !== undefined || jwks !== undefined)) throw CliError.usage(`--no-auth contradicts ${token !== undefined ? CODEC_TOKEN_ENV : '--jwks'}: choose one`);
    const rules: CodecAuthorizer[] = [];
    const callers: string[] = [];
    if (token !== undefined) {
      rules.push(bearerTokenAuthorizer(token));
      callers.push(`"Authorization: Bearer $${CODEC_TOKEN_ENV}"`);
    }
    if (jwks !== undefined) {
      if (issuers.length === 0) throw CliError.usage('--jwks needs --issuer (the identity provider whose tokens are accepted)');
      // Without an audience any token the provider issued, to any application, would open every conversation.
      if (audiences.length === 0) throw CliError.usage('--jwks needs --audience (the audience of the Web UI\'s access tokens, so tokens issued to other applications are refused)');
      try {
        rules.push(accessTokenAuthorizer({ jwks: { url: jwks }, issuer: issuers, audience: audiences }));
      } catch (err) {
        throw CliError.usage((err as Error).message);
      }
      callers.push(`access tokens from ${issuers.join(', ')} (keys at ${jwks})`);
    }
    const host = stringOption(values, 'host') ?? '127.0.0.1';
    const allowedOrigins = originsOption(values);
    let server: Awaited<ReturnType<typeof startCodecServer>>;
    try {
      server = await startCodecServer({
        codecs: [encryption.codec],
        port: portOption(values),
        host,
        allowedOrigins,
        ...(rules.length > 0 ? { authorize: anyAuthorizer(...rules) } : { allowUnauthenticated: true }),
        log: warn,
      });
    } catch (err) {
      if (err instanceof TypeError) throw CliError.usage(err.message);
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw CliError.usage(`${host}:${stringOption(values, 'port') ?? DEFAULT_CODEC_SERVER_PORT} is in use: pass --port`);
      throw err;
    }
    write(`codec server         ${server.url}  (POST /encode, /decode)`);
    write(`encryption           ${encryption.description}`);
    write(`browser origins      ${allowedOrigins.join(', ')}`);
    write(`callers              ${callers.length > 0 ? callers.join(' or ') : 'anyone who can reach it (--no-auth)'}`);
    if (noAuth && host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') warn(`codec server: --no-auth on ${host}: anyone who reaches this address can decrypt payloads`);
    write(`web ui:              temporal server start-dev --ui-codec-endpoint ${server.url}  (or TEMPORAL_CODEC_ENDPOINT for the UI image)`);
    write(`temporal cli:        temporal workflow show --workflow-id ID --codec-endpoint ${server.url}${token !== undefined ? ` --codec-auth "Bearer $${CODEC_TOKEN_ENV}"` : ''}`);
    await untilSignal();
    await server.close();
    return ExitCode.ok;
  },
};

export const codecServerCommands: Record<string, Command> = { 'codec-server': codecServer };
