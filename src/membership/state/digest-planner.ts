import type { NodeId } from '../../security/index.js';
import { internId } from '../intern.js';
import { digestEntryOf, fillDigest } from './delta.js';
import type { StateLimits } from './limits.js';
import type { Digest, DigestEntry } from './messages.js';
import type { NodeState } from './node-state.js';
import type { StateStore } from './store.js';

/**
 * Which nodes a {@link ScuttlebuttState}'s digests name, in what order: the local node, then the
 * nodes a peer was seen ahead on (asked for first), then the others round-robin, so that a digest
 * cut short by the MTU still covers every node over a few rounds.
 */
export class DigestPlanner {
  /** Nodes a peer's digest showed ahead of us, with what it showed: asked for first. */
  private readonly wanted = new Map<NodeId, DigestEntry>();
  private cursor = 0;

  constructor(
    private readonly store: StateStore,
    private readonly local: NodeState,
    private readonly limits: StateLimits,
  ) {}

  /** The digest within `budgetBytes` encoded bytes; `partial` when not all nodes fit. */
  digest(budgetBytes: number): Digest {
    const total = this.store.nodes.size;
    return fillDigest(this.digestOrder(), total, budgetBytes, this.limits.maxDigestEntries);
  }

  /** Stops asking for `node` (it was forgotten). */
  forget(node: NodeId): void {
    this.wanted.delete(node);
  }

  /** Asks for `e.node` first in the next digests, until a state at least as new as `e` is held. */
  want(e: DigestEntry): void {
    // The process's copy of the id: one decoded from a digest is a slice of the whole packet.
    const node = internId(e.node);
    if (this.wanted.size >= this.limits.maxWantedNodes && !this.wanted.has(node)) {
      this.wanted.delete(this.wanted.keys().next().value!);
    }
    this.wanted.set(node, {
      node,
      generation: e.generation,
      maxVersion: e.maxVersion,
      gcVersion: e.gcVersion,
      heartbeat: e.heartbeat,
    });
  }

  /**
   * Remembers nodes a peer is ahead on, so our next digests ask for them first: nodes we have never
   * heard of, newer generations and key/value writes. A newer heartbeat alone does not count: every
   * node beats every interval, so every peer is always ahead on some heartbeat, and wanting those
   * would put every node in `wanted` for good (O(n) work per digest). Heartbeats come through the
   * round-robin part of the digest.
   */
  noteDigest(digest: Digest): void {
    for (const e of digest.entries) {
      if (e.node === this.local.node || e.generation === 0) continue;
      const s = this.store.nodes.get(e.node);
      const ahead =
        s === undefined ||
        e.generation > s.generation ||
        (e.generation === s.generation && e.maxVersion > s.maxVersion);
      if (ahead) this.want(e);
    }
  }

  private *digestOrder(): Generator<DigestEntry> {
    const store = this.store;
    yield digestEntryOf(this.local);
    // No copy of the map: deleting the visited entry is safe while iterating, and the consumer
    // usually stops after an MTU's worth.
    for (const [node, target] of this.wanted) {
      const s = store.nodes.get(node);
      const caughtUp =
        s !== undefined &&
        (s.generation > target.generation ||
          (s.generation === target.generation && s.maxVersion >= target.maxVersion));
      if (caughtUp) {
        this.wanted.delete(node);
        continue;
      }
      yield s === undefined
        ? { node, generation: 0, maxVersion: 0, gcVersion: 0, heartbeat: 0 }
        : digestEntryOf(s);
    }
    // Round-robin over the rest, compacting forgotten nodes out of the order as we go.
    if (store.order.length > store.nodes.size * 2)
      store.order = store.order.filter((n) => store.nodes.has(n));
    const n = store.order.length;
    for (let i = 0; i < n; i++) {
      const node = store.order[this.cursor % n]!;
      this.cursor = (this.cursor + 1) % n;
      const s = store.nodes.get(node);
      if (s !== undefined && s !== this.local) yield digestEntryOf(s);
    }
  }
}
