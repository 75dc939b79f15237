import { withLimits } from '../core/limits.js';

/*
 * Limits the security brick enforces. Each bounds memory or CPU that hostile input could
 * otherwise claim; going over one is an explicit rejection (`LIMIT_EXCEEDED` for a caller's own
 * request, the brick's typed error for a malformed token or message), never a silent truncation.
 */
const defaults = {
  /** UTF-8 bytes of the cluster label bound into sealed messages (memberlist allows 255). */
  maxLabelBytes: 255,
  /** Payload of one signed record: records ride in gossip, so they stay far below a frame. */
  maxRecordPayloadBytes: 64 * 1024,
  /** Parsed public keys kept per process: a 10,000-node cluster fits with room for churn. */
  maxCachedPublicKeys: 16_384,
  /** Keys in one keyring: a primary plus older keys during a rotation. */
  maxKeys: 16,
  /** Characters of a token's text form: it travels in HTTP headers and in RESP `AUTH`. */
  maxTokenChars: 4096,
  /** Caveats in one token: each attenuation adds one, and each costs one HMAC to verify. */
  maxCaveats: 32,
  /** Encoded bytes of one caveat (and characters of a key prefix). */
  maxCaveatBytes: 1024,
  /** Names in one list caveat (operations, apps, environments, audiences); at most 255 by format. */
  maxCaveatEntries: 64,
  /** Characters of one name in a caveat (operation, app, environment, audience) or of a token's location. */
  maxNameChars: 256,
  /** Token ids revoked at once; an entry leaves when the token it revokes would have expired. */
  maxRevokedTokens: 100_000,
};

/** Every limit of the security brick with its default; frozen. */
export const DEFAULT_LIMITS: SecurityLimits = Object.freeze(defaults);

/** The security limits, each a number (overrides need not equal the defaults' literal types). */
export type SecurityLimits = { readonly [K in keyof typeof defaults]: number };

/** {@link DEFAULT_LIMITS} with `overrides` applied; unknown names and non-positive values throw `INVALID_CONFIG`. */
export function securityLimits(overrides: Partial<SecurityLimits> = {}): SecurityLimits {
  return withLimits<SecurityLimits>(DEFAULT_LIMITS, overrides);
}
