import type { Clock } from '../../core/index.js';
import { KvError } from '../errors.js';

/**
 * Clock skew detection from peers' hybrid-clock readings.
 *
 * Every replica rpc carries the sender's reading, so each node sees, per peer, the offset
 * `peer reading - own clock` at the moment the message arrived (network delay makes a peer look a
 * little behind; a threshold of hundreds of ms dwarfs it). A node refuses to coordinate when most
 * of its peers (those it knows alive, or heard from recently if more) are off by more than `maxOffsetMs` in the same direction:
 * then it is the odd one out (its versions would be refused by replicas, or would shadow later
 * writes everywhere), and it says by how much and against how many peers. One fast or slow peer
 * does not stop the others: it is a minority of each one's peers.
 *
 * Readings older than `readingTtlMs` no longer count, so a node whose clock was fixed recovers.
 *
 * A clock that steps makes older readings wrong: an offset is measured against this node's clock
 * as it was when the reading arrived. So when a peer's new offset differs from its previous
 * recent one by more than `maxOffsetMs` (a step of this node's clock or of the peer's; one reading
 * cannot tell which), every other peer's reading is dropped: they were taken before the step and
 * no longer say whether this node agrees with them. Otherwise a node whose own clock jumped ahead
 * would keep counting a peer it heard just before the jump as agreeing, for the whole reading TTL,
 * and coordinate with a clock the rest of the cluster disagrees with (judging TTLs seconds early).
 */
export class SkewMonitor {
  private readonly offsets = new Map<string, { offsetMs: number; at: number }>();
  private stepCount = 0;

  /**
   * @param clock - this node's physical clock
   * @param maxOffsetMs - largest tolerated offset
   * @param readingTtlMs - how long a reading counts
   * @param knownPeers - how many live peers this node knows of: the verdict needs a majority of
   *   them (or of the peers heard from, if more), so one skewed peer that happens to be the only
   *   one heard from yet cannot make a healthy node refuse
   * @param maxPeers - peers remembered (older entries are forgotten first)
   */
  constructor(
    private readonly clock: Clock,
    private readonly maxOffsetMs: number,
    private readonly readingTtlMs: number,
    private readonly knownPeers: () => number = () => 0,
    private readonly maxPeers = 4096,
  ) {}

  /** Records a reading (the wall part of a peer's HLC) from `peer`. */
  record(peer: string, remoteWallMs: number): void {
    const now = this.clock.now();
    const offsetMs = remoteWallMs - now;
    const previous = this.offsets.get(peer);
    if (
      previous !== undefined &&
      now - previous.at <= this.readingTtlMs &&
      Math.abs(offsetMs - previous.offsetMs) > this.maxOffsetMs
    ) {
      this.stepCount++;
      this.offsets.clear();
    } else this.offsets.delete(peer);
    this.offsets.set(peer, { offsetMs, at: now });
    if (this.offsets.size > this.maxPeers) {
      const oldest = this.offsets.keys().next().value;
      if (oldest !== undefined) this.offsets.delete(oldest);
    }
  }

  /** Clock steps seen: a peer's offset moved by more than `maxOffsetMs` between recent readings. */
  get steps(): number {
    return this.stepCount;
  }

  /** Peers with a recent reading. */
  heard(): number {
    let n = 0;
    for (const _ of this.fresh()) n++;
    return n;
  }

  /** True when some peer has a recent reading ({@link heard} > 0, without counting). */
  heardAny(): boolean {
    const now = this.clock.now();
    for (const o of this.offsets.values()) if (now - o.at <= this.readingTtlMs) return true;
    return false;
  }

  /** Forgets a peer (it left the cluster). */
  forget(peer: string): void {
    this.offsets.delete(peer);
  }

  /** The recent offsets, per peer (positive: the peer is ahead). */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [peer, o] of this.fresh()) out[peer] = Math.round(o.offsetMs);
    return out;
  }

  /**
   * Why this node must not coordinate, or undefined when its clock agrees with most peers.
   */
  verdict(): string | undefined {
    // Every request asks: the common answer (no recent reading out of bounds) costs one pass
    // without allocating, and without asking how many peers are known.
    if (!this.anyFreshOutOfBounds()) return undefined;
    const fresh = [...this.fresh()];
    if (fresh.length === 0) return undefined;
    const peers = Math.max(fresh.length, this.knownPeers());
    const ahead = fresh.filter(([, o]) => o.offsetMs > this.maxOffsetMs);
    const behind = fresh.filter(([, o]) => o.offsetMs < -this.maxOffsetMs);
    const describe = (list: typeof fresh, word: string) => {
      const worst = Math.max(...list.map(([, o]) => Math.abs(o.offsetMs)));
      return (
        `this node's clock ${word} ${list.length} of ${peers} peers by up to ${Math.round(worst)} ms ` +
        `(maxClockOffsetMs=${this.maxOffsetMs}); it refuses to coordinate until its clock is fixed`
      );
    };
    if (ahead.length * 2 > peers) return describe(ahead, 'trails');
    if (behind.length * 2 > peers) return describe(behind, 'is ahead of');
    return undefined;
  }

  /** Throws KvError CLOCK_SKEW when {@link verdict} finds this node's clock off. */
  check(): void {
    const why = this.verdict();
    if (why !== undefined) throw new KvError('CLOCK_SKEW', why);
  }

  private anyFreshOutOfBounds(): boolean {
    const now = this.clock.now();
    for (const o of this.offsets.values()) {
      if (now - o.at <= this.readingTtlMs && Math.abs(o.offsetMs) > this.maxOffsetMs) return true;
    }
    return false;
  }

  private *fresh(): Iterable<[string, { offsetMs: number; at: number }]> {
    const now = this.clock.now();
    for (const entry of this.offsets) if (now - entry[1].at <= this.readingTtlMs) yield entry;
  }
}
