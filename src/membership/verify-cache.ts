import { createHash } from 'node:crypto';
import { bytesEqual } from '../core/index.js';
import type { NodeId, NodeIdentity, SignatureScheme } from '../security/index.js';

/**
 * A signature scheme that remembers which signatures it has verified, so a record relayed many
 * times (alive records in every push-pull, accusations and key/value records in gossip) costs one
 * Ed25519 check per node, not one per copy received.
 *
 * Contract: `verify` returns exactly what the wrapped scheme returns. A hit needs the same
 * signature, node id and signed bytes as an earlier successful check (compared in full, so a
 * valid signature replayed over other bytes or in another node's name is verified again and
 * fails). Signatures this node makes are cached too, so its own records echoed back by peers are
 * free. Bounded: the oldest entry goes first.
 *
 * Failures are cached apart (their own bounded table, keyed by signature, holding the node id and
 * a SHA-256 of the signed bytes, compared in full on a hit), so a forged record replayed many
 * times costs one verification, and a flood of forgeries can only evict other failures, never a
 * verified record.
 *
 * Budget: {@link CachingScheme.charging} runs a piece of work under a {@link VerifyBudget}; each
 * check that reaches the wrapped scheme there (a miss of both tables) first takes a token, and
 * without one the check answers false unverified (counted in `overBudget`, not cached). Hits cost
 * nothing. This is how push-pull bounds the signature checks one peer can make a node spend.
 */

/** Limits of {@link cachingScheme}. */
export const VERIFY_CACHE_LIMITS = Object.freeze({
  /** Verified signatures remembered per node: a few per member of a 1,000-node cluster. */
  maxEntries: 4096,
  /** Failed signatures remembered per node: a replayed forgery costs one check, 100 B each. */
  maxFailures: 4096,
});

/** Where {@link CachingScheme.charging} takes a token for each signature check it lets through. */
export interface VerifyBudget {
  /** Takes one token; false when none is left (the check is then not made). */
  take(): boolean;
}

interface Entry {
  readonly node: NodeId;
  readonly data: Uint8Array;
}

interface Failure {
  readonly node: NodeId;
  /** SHA-256 of the signed bytes: a failure's bytes are a peer's choice, up to a frame's size. */
  readonly digest: Uint8Array;
}

/** Counters of a {@link cachingScheme}. */
export interface VerifyCacheStats {
  /** Checks answered true from the table of verified signatures. */
  hits: number;
  /** Checks made by the wrapped scheme. */
  misses: number;
  /** Checks answered false from the table of failed signatures. */
  failureHits: number;
  /** Checks refused unverified because the budget in force had no token left. */
  overBudget: number;
}

/** A {@link SignatureScheme} with a verification cache and its counters. */
export interface CachingScheme extends SignatureScheme {
  readonly stats: VerifyCacheStats;
  /**
   * Runs `work` (synchronously) with `budget` in force: every check in it that misses both tables
   * takes a token first, and answers false unverified without one. Calls do not nest.
   */
  charging<T>(budget: VerifyBudget, work: () => T): T;
}

/**
 * Wraps `scheme` with a bounded cache of successful verifications.
 *
 * @param scheme - the scheme that signs and verifies
 * @param maxEntries - entries kept; default {@link VERIFY_CACHE_LIMITS}.maxEntries
 * @example
 * ```ts
 * const scheme = cachingScheme(ed25519Scheme);
 * scheme.verify(record.node, bytes, record.signature); // checked
 * scheme.verify(record.node, bytes, record.signature); // remembered
 * ```
 */
export function cachingScheme(
  scheme: SignatureScheme,
  maxEntries: number = VERIFY_CACHE_LIMITS.maxEntries,
  maxFailures: number = VERIFY_CACHE_LIMITS.maxFailures,
): CachingScheme {
  const entries = new Map<string, Entry>();
  const failures = new Map<string, Failure>();
  const stats: VerifyCacheStats = { hits: 0, misses: 0, failureHits: 0, overBudget: 0 };
  let budget: VerifyBudget | undefined;
  const fail = (key: string, node: NodeId, data: Uint8Array) => {
    if (maxFailures < 1) return;
    failures.delete(key);
    failures.set(key, { node, digest: sha256(data) });
    if (failures.size > maxFailures) failures.delete(failures.keys().next().value!);
  };
  const remember = (key: string, node: NodeId, data: Uint8Array) => {
    if (maxEntries < 1) return;
    entries.delete(key);
    entries.set(key, { node, data: Uint8Array.from(data) });
    if (entries.size > maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest !== undefined) entries.delete(oldest);
    }
  };
  return {
    name: scheme.name,
    stats,
    sign(identity: NodeIdentity, data: Uint8Array): Uint8Array {
      const signature = scheme.sign(identity, data);
      remember(keyOf(signature), identity.nodeId, data);
      return signature;
    },
    verify(nodeId: NodeId, data: Uint8Array, signature: Uint8Array): boolean {
      const key = keyOf(signature);
      const hit = entries.get(key);
      if (hit !== undefined && hit.node === nodeId && bytesEqual(hit.data, data)) {
        stats.hits++;
        return true;
      }
      const failed = failures.get(key);
      if (failed !== undefined && failed.node === nodeId && bytesEqual(failed.digest, sha256(data))) {
        stats.failureHits++;
        return false;
      }
      if (budget !== undefined && !budget.take()) {
        stats.overBudget++;
        return false;
      }
      stats.misses++;
      const ok = scheme.verify(nodeId, data, signature);
      if (ok) remember(key, nodeId, data);
      else fail(key, nodeId, data);
      return ok;
    },
    charging<T>(next: VerifyBudget, work: () => T): T {
      const outer = budget;
      budget = next;
      try {
        return work();
      } finally {
        budget = outer;
      }
    },
  };
}

function sha256(data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest();
}

function keyOf(signature: Uint8Array): string {
  return Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString('latin1');
}
