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
 * fails). Only successes are cached: a flood of forgeries cannot evict good entries by being
 * cached itself, only by its volume of good ones. Signatures this node makes are cached too, so
 * its own records echoed back by peers are free. Bounded: the oldest entry goes first.
 */

/** Limits of {@link cachingScheme}. */
export const VERIFY_CACHE_LIMITS = Object.freeze({
  /** Verified signatures remembered per node: a few per member of a 1,000-node cluster. */
  maxEntries: 4096,
});

interface Entry {
  readonly node: NodeId;
  readonly data: Uint8Array;
}

/** Counters of a {@link cachingScheme}. */
export interface VerifyCacheStats {
  hits: number;
  misses: number;
}

/** A {@link SignatureScheme} with a verification cache and its counters. */
export interface CachingScheme extends SignatureScheme {
  readonly stats: VerifyCacheStats;
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
): CachingScheme {
  const entries = new Map<string, Entry>();
  const stats: VerifyCacheStats = { hits: 0, misses: 0 };
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
      stats.misses++;
      const ok = scheme.verify(nodeId, data, signature);
      if (ok) remember(key, nodeId, data);
      return ok;
    },
  };
}

function keyOf(signature: Uint8Array): string {
  return Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString('latin1');
}
