import { withLimits } from '../../core/index.js';

/**
 * Limits of the discovery providers. Every answer, file and peer set is bounded; an input over a
 * limit is rejected as a whole (counted in `overLimit`, logged, last good answer kept), never
 * silently truncated.
 */
export const DEFAULT_LIMITS: DiscoveryLimits = Object.freeze({
  /** Most addresses one provider answer may hold: a seed list is a handful of nodes, 1,024 is a misconfiguration. */
  maxAddressesPerAnswer: 1024,
  /** Largest seed file read: 1,024 addresses with comments fit in a few tens of KB; 1 MiB bounds the read. */
  maxFileBytes: 1024 * 1024,
  /** Most peers an mDNS provider remembers: mDNS is for a LAN segment, not a datacentre. */
  maxMdnsPeers: 1024,
  /** Longest TTL honoured from an mDNS record, in seconds: RFC 6762's 75 minutes for non-host records. */
  maxMdnsTtlSeconds: 4500,
  /** Most providers in one composite or reseeder: each is queried in parallel on every re-seed. */
  maxProviders: 16,
  /** Most attempts one `Reseeder.seeds()` call makes: retries are bounded, the caller decides what next. */
  maxReseedAttempts: 64,
  /** Most change listeners per provider: more is a subscription leak. */
  maxListeners: 64,
});

/** The discovery limits; see {@link DEFAULT_LIMITS} for the meaning of each. */
export type DiscoveryLimits = {
  readonly maxAddressesPerAnswer: number;
  readonly maxFileBytes: number;
  readonly maxMdnsPeers: number;
  readonly maxMdnsTtlSeconds: number;
  readonly maxProviders: number;
  readonly maxReseedAttempts: number;
  readonly maxListeners: number;
};

/** Merges limit overrides into the discovery {@link DEFAULT_LIMITS}; see core's `withLimits`. */
export function discoveryLimits(overrides: Partial<DiscoveryLimits> = {}): DiscoveryLimits {
  return withLimits(DEFAULT_LIMITS, overrides);
}
