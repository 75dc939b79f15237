import { assertNever, type Rng } from '../core/index.js';
import type { NodeId } from '../security/index.js';
import type { Address } from '../transport/types.js';
import type { SwimEventType } from './swim/index.js';
import type { MemberSummary } from './sync/summary.js';

/** Limits of the {@link Reconnector}. */
export interface ReconnectLimits {
  /**
   * Members declared dead remembered for reconnecting. Each tick tries one at random, so more
   * entries only make each one rarer; after a larger loss the entries kept still reach the other
   * side, and one merge brings back every member that side knows.
   */
  readonly maxReconnectMembers: number;
}

/** Default {@link ReconnectLimits}. */
export const DEFAULT_RECONNECT_LIMITS: ReconnectLimits = Object.freeze({ maxReconnectMembers: 1024 });

interface Entry {
  readonly address: Address;
  /** When this node learned of the death (ms, on the driver's clock). */
  readonly sinceMs: number;
}

/**
 * Which member declared dead to try next, so that two sides of a partition that declared each
 * other dead (and perhaps reaped each other) merge after it heals (Serf's reconnect). Pure: the
 * driver feeds it membership changes and asks it, every `reconnectIntervalMs`, for an address to
 * push-pull with.
 *
 * Rules:
 * - a member declared dead is remembered with its address, also after SWIM reaps it, for
 *   `timeoutMs` after the death; a member that is alive again, or left gracefully, is forgotten
 *   (a node that left is never reconnected);
 * - at most `maxReconnectMembers` entries: over it, the oldest death is forgotten;
 * - each tick tries with probability `dead / up` (`up` counts the live members, this node
 *   included), as Serf does, so the cluster as a whole tries each dead member about once per
 *   interval whatever its size, and the smaller side of a split always tries;
 * - the driver calls {@link settled} after a completed exchange with the address: if the member is
 *   not up again, whoever answered there (another node now, or one that refused) is not retried.
 *
 * @example
 * ```ts
 * const r = new Reconnector({ timeoutMs: 86_400_000 });
 * r.noteDead(id, '10.0.0.7:7946', now);
 * const target = r.pick(now, upMembers, rng); // then push-pull with target.address
 * ```
 */
export class Reconnector {
  private readonly entries = new Map<NodeId, Entry>();
  private readonly timeoutMs: number;
  private readonly limits: ReconnectLimits;

  /**
   * @param options.timeoutMs - how long after a death the member is tried (`reconnectTimeoutMs`)
   * @param options.limits - default {@link DEFAULT_RECONNECT_LIMITS}
   */
  constructor(options: { timeoutMs: number; limits?: ReconnectLimits }) {
    this.timeoutMs = options.timeoutMs;
    this.limits = options.limits ?? DEFAULT_RECONNECT_LIMITS;
  }

  /** Members remembered. */
  get size(): number {
    return this.entries.size;
  }

  /** Whether `id` is remembered. */
  has(id: NodeId): boolean {
    return this.entries.has(id);
  }

  /** Member `id` at `address` was declared dead (by this node or by a claim it learned). */
  noteDead(id: NodeId, address: Address, nowMs: number): void {
    this.entries.delete(id);
    this.entries.set(id, { address, sinceMs: nowMs });
    if (this.entries.size > this.limits.maxReconnectMembers) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  /** Member `id` is up again, or left: not to be reconnected. */
  forget(id: NodeId): void {
    this.entries.delete(id);
  }

  /**
   * Follows one SWIM event about another member: a death is remembered, a member up again (join,
   * refutation, suspicion at a newer incarnation, update) or gone gracefully (leave) is forgotten, a reap changes nothing (the
   * entry outlives the table's).
   */
  onEvent(type: SwimEventType, id: NodeId, address: Address, nowMs: number): void {
    switch (type) {
      case 'dead':
        this.noteDead(id, address, nowMs);
        return;
      case 'join':
      case 'alive':
      case 'suspect':
      case 'update':
      case 'leave':
        this.forget(id);
        return;
      case 'reap':
        return;
      default:
        assertNever(type, 'SWIM event type');
    }
  }

  /**
   * The member to push-pull with this tick, or undefined: none remembered, or the coin said no.
   * Drops entries older than the timeout first.
   *
   * @param upMembers - members alive or suspect, this node included
   */
  pick(nowMs: number, upMembers: number, rng: Rng): { id: NodeId; address: Address } | undefined {
    for (const [id, e] of this.entries) {
      if (nowMs - e.sinceMs >= this.timeoutMs) this.entries.delete(id);
    }
    const n = this.entries.size;
    if (n === 0) return undefined;
    if (rng.float() >= n / Math.max(1, upMembers)) return undefined;
    let k = rng.int(n);
    for (const [id, e] of this.entries) if (k-- === 0) return { id, address: e.address };
    return undefined;
  }

  /**
   * An exchange with `id`'s address completed. If `id` is still not up, what answered there did
   * not bring it back (another node holds the address now): stop trying it.
   */
  settled(id: NodeId, up: boolean): void {
    if (!up) this.entries.delete(id);
  }
}

/**
 * Whether a push-pull dialer's summary says this node is suspect or dead at its current
 * generation and incarnation (or later): the dialer saw it die and never saw a refutation, as
 * happens to each side of a partition once gossip to the dead has stopped. The listener then
 * refutes before answering, so its answer carries the refutation (memberlist's push-pull merge
 * turns a remote death of the local node into a refutation the same way).
 */
export function summaryAccusesSelf(
  summary: MemberSummary,
  self: { key: number; generation: number; incarnation: number },
): boolean {
  const j = summary.find(self.key);
  if (j === undefined) return false;
  const status = summary.status(j);
  if (status !== 'suspect' && status !== 'dead') return false;
  return summary.generation(j) === self.generation && summary.incarnation(j) >= self.incarnation;
}
