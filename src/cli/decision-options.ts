// Verified decisions for the workers the CLI starts, and signing for the commands that make decision tokens
// (`token`, `approve --sign`): both from DURABLE_CLAUDE_DECISION_* or, in local development, the dev key file.
import type { ConversationHandle } from '../client';
import {
  DEFAULT_DECISION_ISSUER,
  createDecisionVerifier,
  decisionInputHash,
  decisionVerifierFromEnv,
  mintDecisionToken,
  parseDecisionKeys,
} from '../security/credentials';
import { DEV_DECISION_KEY_FILE, devDecisionKeyIfPresent } from '../security/dev-key';
import type { DecisionBinding, DecisionVerifier } from '../security/types';
import type { AgentWorkerOptions } from '../worker';
import { DURATION_HINT, parseDurationMs } from '../workflows/duration';
import { queryTimeoutMs, stringOption } from './command';
import type { CliValues } from './values';
import { CliError } from './errors';

/** The verifier a CLI worker uses, and a line saying where its keys come from; undefined when none is configured. */
export function cliDecisionVerifier(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): { verifier: DecisionVerifier; description: string } | undefined {
  let fromEnv: ReturnType<typeof decisionVerifierFromEnv>;
  try {
    fromEnv = decisionVerifierFromEnv(env);
  } catch (err) {
    throw CliError.usage((err as Error).message);
  }
  if (fromEnv) return fromEnv;
  const dev = devKey(cwd);
  if (!dev) return undefined;
  const verifier = createDecisionVerifier({ hmacKeys: { [dev.keyId]: dev.secret } });
  return { verifier, description: `the dev key ${DEV_DECISION_KEY_FILE} (HS256, issuer ${DEFAULT_DECISION_ISSUER})` };
}

function devKey(cwd: string): ReturnType<typeof devDecisionKeyIfPresent> {
  try {
    return devDecisionKeyIfPresent(cwd);
  } catch (err) {
    throw CliError.usage((err as Error).message);
  }
}

/** Worker options that verify decision credentials, from the environment or the dev key; empty when neither is there. */
export function decisionWorkerOptions(_values: CliValues): Partial<AgentWorkerOptions> {
  const configured = cliDecisionVerifier();
  return configured ? { decisionVerifier: configured.verifier } : {};
}

export interface SigningKey {
  key: string;
  keyId?: string;
  issuer: string;
  audience?: string[];
  /** Where the key came from, for messages. */
  source: string;
}

/**
 * The key the CLI signs decision tokens with, as the CLI's workers verify them: the first of
 * DURABLE_CLAUDE_DECISION_KEY (its kid when it names one), else the dev key file.
 */
export function signingKey(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): SigningKey {
  const audience = env.DURABLE_CLAUDE_DECISION_AUDIENCE?.split(',').map((a) => a.trim()).filter(Boolean);
  const withAudience = audience && audience.length > 0 ? { audience } : {};
  const configured = env.DURABLE_CLAUDE_DECISION_KEY?.trim();
  if (configured) {
    let first: { keyId: string; secret: string };
    try {
      first = parseDecisionKeys(configured)[0]!;
    } catch (err) {
      throw CliError.usage((err as Error).message);
    }
    // With a key set configured, the issuer setting is the identity provider's; shared-key tokens keep their own.
    const issuer = env.DURABLE_CLAUDE_DECISION_JWKS_URL?.trim() ? undefined : env.DURABLE_CLAUDE_DECISION_ISSUER?.split(',')[0]?.trim();
    return { key: first.secret, ...(first.keyId !== 'default' ? { keyId: first.keyId } : {}), issuer: issuer || DEFAULT_DECISION_ISSUER, ...withAudience, source: 'DURABLE_CLAUDE_DECISION_KEY' };
  }
  const dev = devKey(cwd);
  if (!dev) {
    throw CliError.usage(
      `no key to sign with: set DURABLE_CLAUDE_DECISION_KEY (the workers' shared key), or run \`durable-claude dev\` here once to make the dev key ${DEV_DECISION_KEY_FILE}`,
    );
  }
  return { key: dev.secret, issuer: DEFAULT_DECISION_ISSUER, ...withAudience, source: DEV_DECISION_KEY_FILE };
}

/** Comma-separated names (--roles, --groups); undefined when the flag was not given. */
export function listOption(values: CliValues, name: string): string[] | undefined {
  const given = stringOption(values, name);
  if (given === undefined) return undefined;
  const list = given.split(',').map((v) => v.trim()).filter(Boolean);
  if (list.length === 0) throw CliError.usage(`--${name} needs at least one name (comma-separated)`);
  return list;
}

/** The workers refuse tokens that live longer than this (their default maxLifetimeSeconds). */
const MAX_TTL_SECONDS = 3600;

export function ttlSecondsOption(values: CliValues): number | undefined {
  const given = stringOption(values, 'ttl');
  if (given === undefined) return undefined;
  const ms = parseDurationMs(given);
  if (ms === undefined || ms < 1000) throw CliError.usage(`--ttl must be ${DURATION_HINT} of at least a second, got '${given}'`);
  const seconds = Math.floor(ms / 1000);
  if (seconds > MAX_TTL_SECONDS) throw CliError.usage(`--ttl ${given} is longer than the ${MAX_TTL_SECONDS / 60} minutes a worker accepts: a decision token is short-lived`);
  return seconds;
}

export type InputOption = { given: true; value: unknown } | { given: false };

/** Whether a token for this decision needs the conversation: an approval of the call's own input binds that input. */
export function bindingNeedsConversation(decision: 'approve' | 'reject', input: InputOption): boolean {
  return decision === 'approve' && !input.given;
}

/**
 * What a token for this decision binds. An approval binds the input it approves: `input` when the approver edits it,
 * else the pending call's input as the conversation reports it (`handle` is needed then).
 */
export async function decisionBinding(
  target: { conversationId: string; toolUseId: string; decision: 'approve' | 'reject' },
  input: InputOption,
  handle?: ConversationHandle,
): Promise<DecisionBinding> {
  const { conversationId, toolUseId, decision } = target;
  const base = { conversationId, toolUseId, decision };
  if (input.given) return { ...base, inputSha256: decisionInputHash(input.value) };
  if (decision === 'reject') return base;
  if (!handle) throw new Error('decisionBinding: an approval of the pending input needs the conversation handle');
  const pending = await handle.pending({ timeoutMs: queryTimeoutMs() });
  const call = pending.find((p) => p.toolUseId === toolUseId);
  if (!call) {
    const waiting = pending.length > 0 ? ` (waiting: ${pending.map((p) => p.toolUseId).join(', ')})` : ' (nothing is waiting)';
    throw CliError.usage(`tool call ${toolUseId} is not waiting for approval in ${conversationId}${waiting}; to sign for an input yourself, give --input JSON`);
  }
  return { ...base, inputSha256: decisionInputHash(call.input) };
}

export interface SignRequest {
  subject: string;
  binding: DecisionBinding;
  email?: string;
  name?: string;
  roles?: string[];
  groups?: string[];
  ttlSeconds?: number;
}

/** A decision token signed with the CLI's key (signingKey()). */
export function signDecision(request: SignRequest, key: SigningKey = signingKey()): Promise<string> {
  return mintDecisionToken({
    key: key.key,
    ...(key.keyId !== undefined ? { keyId: key.keyId } : {}),
    issuer: key.issuer,
    ...(key.audience ? { audience: key.audience } : {}),
    subject: request.subject,
    binding: request.binding,
    ...(request.email !== undefined ? { email: request.email } : {}),
    ...(request.name !== undefined ? { name: request.name } : {}),
    ...(request.roles !== undefined ? { roles: request.roles } : {}),
    ...(request.groups !== undefined ? { groups: request.groups } : {}),
    ...(request.ttlSeconds !== undefined ? { ttlSeconds: request.ttlSeconds } : {}),
  });
}
