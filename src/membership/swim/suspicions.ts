import type { NodeId } from '../../security/index.js';
import type { SwimConfig } from './config.js';
import type { DeadlineQueue } from './deadlines.js';
import { expectedConfirmations, suspicionTimeoutMinMs, suspicionTimeoutMs } from './math.js';
import type { MemberEntry, MemberTable } from './members.js';

/** Prefix of suspicion timer keys (`s:<id>`) in the core's {@link DeadlineQueue}. */
export const SUSPICION_TIMER_PREFIX = 's:';

interface Suspicion {
  readonly startMs: number;
  readonly k: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** The accuser that started it, then each independent confirmer. */
  readonly accusers: NodeId[];
  /** The encoded accusation, sent to the suspect itself with probes (buddy system). */
  readonly accusation: Uint8Array;
}

/** What the suspicions need from their core. */
export interface SuspicionsHost {
  readonly config: SwimConfig;
  readonly table: MemberTable;
  readonly timers: DeadlineQueue;
  /** The step's time. */
  now(): number;
  /** Lifeguard: probes a new suspect ahead of the round-robin order. */
  probeSoon(e: MemberEntry): void;
}

/**
 * Lifeguard's suspicion timers: one per suspect member, with a timeout that starts at
 * `suspicionMaxTimeoutMult` times the minimum and shrinks towards the minimum with each
 * independent confirmation (up to `suspicionConfirmations`). Without Lifeguard the timeout is the
 * minimum and confirmations are not counted. Owned by {@link SwimCore}; not exported.
 */
export class Suspicions {
  private readonly byNode = new Map<NodeId, Suspicion>();

  constructor(private readonly h: SuspicionsHost) {}

  /** The encoded accusation of a member this node holds suspect, or undefined. */
  accusationOf(id: NodeId): Uint8Array | undefined {
    return this.byNode.get(id)?.accusation;
  }

  /**
   * Another accusation of a suspect: starts its suspicion if none runs, or counts a confirmation.
   * Returns true when the accusation was news (a confirmation from a new accuser): re-gossip it.
   */
  confirmOrStart(e: MemberEntry, from: NodeId, accusation: Uint8Array): boolean {
    const s = this.byNode.get(e.id);
    if (s === undefined) {
      this.start(e, from, accusation);
      return false;
    }
    return this.confirm(e.id, s, from);
  }

  /** Starts the suspicion of `e`, accused by `from`. */
  start(e: MemberEntry, from: NodeId, accusation: Uint8Array): void {
    const h = this.h;
    const n = h.table.size;
    const minMs = suspicionTimeoutMinMs(h.config.suspicionMult, n, h.config.probeIntervalMs);
    const lifeguard = h.config.lifeguard;
    const k = lifeguard ? expectedConfirmations(h.config.suspicionConfirmations, n) : 0;
    const maxMs = lifeguard ? h.config.suspicionMaxTimeoutMult * minMs : minMs;
    const now = h.now();
    const s: Suspicion = { startMs: now, k, minMs, maxMs, accusers: [from], accusation };
    this.byNode.set(e.id, s);
    h.timers.set(SUSPICION_TIMER_PREFIX + e.id, now + suspicionTimeoutMs(0, k, minMs, maxMs));
    if (lifeguard && h.config.probing) h.probeSoon(e);
  }

  /** Counts an independent confirmation; returns true when it was new (then it is re-gossiped). */
  private confirm(id: NodeId, s: Suspicion, from: NodeId): boolean {
    if (s.accusers.length - 1 >= s.k || s.accusers.includes(from)) return false;
    s.accusers.push(from);
    const timeout = suspicionTimeoutMs(s.accusers.length - 1, s.k, s.minMs, s.maxMs);
    this.h.timers.set(SUSPICION_TIMER_PREFIX + id, s.startMs + timeout);
    return true;
  }

  /** Ends the suspicion of `id` and its timer, if one runs. */
  clear(id: NodeId): void {
    if (this.byNode.delete(id)) this.h.timers.cancel(SUSPICION_TIMER_PREFIX + id);
  }

  /** Forgets the suspicion of `id` whose timer just fired. */
  expired(id: NodeId): void {
    this.byNode.delete(id);
  }
}
