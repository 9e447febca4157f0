// The contract of verified decisions: what a decision credential binds, what the worker's verifier returns, and who
// a tool's policy lets decide. Worker-side only: workflow code sees VerifiedApprover as plain data, never a key.

/** What one decision credential is good for: this conversation, this call, this decision, this exact input. */
export interface DecisionBinding {
  conversationId: string;
  toolUseId: string;
  decision: 'approve' | 'reject';
  /**
   * SHA-256 (hex) of the canonical JSON of the input approved: the call's input, or the edited input when the
   * approver edits it (decisionInputHash). Required to approve; optional to reject.
   */
  inputSha256?: string;
}

/** Who a verified credential says decided, and what it is bound to. This (never the token) is what history keeps. */
export interface VerifiedApprover {
  /** The token's `sub`. */
  subject: string;
  /** The token's `iss`. */
  issuer: string;
  email?: string;
  name?: string;
  /** Roles and groups as the token states them (the claims a policy reads). */
  roles: string[];
  groups: string[];
  /** The token's `jti`, or the SHA-256 of the token when it has none: a credential is used once. */
  tokenId: string;
  /** ISO times from the token's `exp` and `iat`. */
  expiresAt: string;
  issuedAt?: string;
  /** 'hmac' for a shared-key token (HS256), 'jwks' for an asymmetric one verified against a key set. */
  method: 'hmac' | 'jwks';
  keyId?: string;
  binding: DecisionBinding;
}

/**
 * Who may decide a tool's calls. Every listed condition that is set must hold (roles: at least one of them; groups:
 * at least one; emails/subjects/issuers: one of them), and then `allow`, when given.
 */
export interface ApproverRule {
  roles?: string[];
  groups?: string[];
  emails?: string[];
  subjects?: string[];
  issuers?: string[];
  /** A predicate over the verified approver (runs in the worker). */
  allow?: (approver: VerifiedApprover) => boolean | Promise<boolean>;
  /** For people (state, show): what the rule asks, e.g. "finance approvers". Defaults to a summary of the lists. */
  description?: string;
}

/** The verdict of a rule on one approver: the claims it used, or why not. */
export type ApproverVerdict = { allowed: true; matched: string[] } | { allowed: false; reason: string };

export interface DecisionVerifierOptions {
  /** Shared keys for HS256 tokens, by key id (`kid`); the key named `default` also verifies tokens with no kid. */
  hmacKeys?: Record<string, string | Uint8Array>;
  /**
   * An identity provider's (or your approval service's) JSON Web Key Set: a URL fetched and cached by the worker
   * (fetched again for an unknown kid, so rotation works), or the keys themselves.
   */
  jwks?: { url: string; cacheMaxAgeMs?: number } | { keys: Array<Record<string, unknown>> };
  /** Accepted `iss` values (required with jwks). */
  issuer?: string | string[];
  /** Required `aud` value(s), when set. */
  audience?: string | string[];
  /** Seconds of clock skew allowed on exp/iat/nbf. Default 30. */
  clockToleranceSeconds?: number;
  /** Tokens that live longer than this (exp - iat) are refused: a decision credential is short-lived. Default 3600. */
  maxLifetimeSeconds?: number;
  /** Claim names for roles and groups. Defaults 'roles' and 'groups'. */
  rolesClaim?: string;
  groupsClaim?: string;
}

/** A credential that does not verify: the reason is safe to show and record (it never includes the token). */
export class CredentialRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialRefused';
  }
}

export interface DecisionVerifier {
  /**
   * Verifies signature, issuer, audience, expiry and lifetime, and reads the binding. Throws CredentialRefused.
   * `expected` is the decision the caller is taking: a token that binds it only by OIDC `nonce` can be checked
   * against nothing else (the nonce must equal decisionNonce(expected)); a token with the explicit claim must agree
   * with it when given.
   */
  verify(token: string, expected?: DecisionBinding): Promise<VerifiedApprover>;
  /** For log lines: "HMAC keys default, k2; JWKS https://…". */
  readonly description: string;
}
