import type { VerifyBudget } from '../verify-cache.js';

/**
 * Signature checks a peer may make this node spend through push-pull: a token bucket per peer and
 * one for all peers together. An Ed25519 check costs about 0.2 ms, so a frame of 16,384 forged
 * records stalled the event loop for about 3 s, long enough to miss acks and be declared dead.
 * With these buckets one frame costs at most `perPeerBurst` checks, and a node spends at most
 * `totalPerSecond` checks a second on push-pull however many peers (or forged addresses) send.
 * Checks answered from the verification cache cost no token; records refused for want of one are
 * dropped unverified, and gossip or a later sync brings them again.
 *
 * Peers are keyed by the host of the stream's remote address, which a dialer states itself (the
 * transport's hello is not authenticated): the per-peer bucket is fairness between honest peers,
 * the total bucket is the bound.
 */

/** A peer's budget: {@link VerifyBudget} and whether it is spent. */
export interface PeerBudget extends VerifyBudget {
  /** True when no check can be made now (the peer's or the total bucket is empty). */
  spent(): boolean;
}

/** Limits of {@link SyncBudget}. */
export const SYNC_BUDGET_LIMITS = Object.freeze({
  /** Checks one peer may cause at once: about 0.2 s of Ed25519, under the local preset's probe interval. */
  perPeerBurst: 1024,
  /** Checks one peer may cause per second after its burst: about 10% of a core. */
  perPeerPerSecond: 512,
  /** Checks all peers together may cause at once: about 0.4 s of Ed25519. */
  totalBurst: 2048,
  /** Checks all peers together may cause per second: about 20% of a core. */
  totalPerSecond: 1024,
  /** Peers whose buckets are remembered; the least recently used goes first (a fresh peer starts full). */
  maxPeers: 1024,
});

/** The limits of a {@link SyncBudget}, each a number. */
export type SyncBudgetLimits = { readonly [K in keyof typeof SYNC_BUDGET_LIMITS]: number };

/** A token bucket: `burst` tokens at most, refilled at `perSecond`. */
class Bucket {
  private tokens: number;
  private atMs: number;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.atMs = nowMs;
  }

  refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.atMs);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.perSecond) / 1000);
    this.atMs = nowMs;
  }

  has(): boolean {
    return this.tokens >= 1;
  }

  take(): void {
    this.tokens -= 1;
  }
}

/**
 * The verification budgets of push-pull (see the module comment).
 *
 * @example
 * ```ts
 * const budget = new SyncBudget();
 * scheme.charging(budget.of('10.0.0.7:7946', clock.now()), () => takeRecords());
 * ```
 */
export class SyncBudget {
  private readonly peers = new Map<string, Bucket>();
  private total: Bucket | undefined;

  constructor(private readonly limits: SyncBudgetLimits = SYNC_BUDGET_LIMITS) {}

  /** The budget of the peer at `address` at `nowMs`: a token needs one in its bucket and the total. */
  of(address: string, nowMs: number): PeerBudget {
    const l = this.limits;
    this.total ??= new Bucket(l.totalBurst, l.totalPerSecond, nowMs);
    this.total.refill(nowMs);
    const key = hostOf(address);
    let peer = this.peers.get(key);
    if (peer === undefined) {
      peer = new Bucket(l.perPeerBurst, l.perPeerPerSecond, nowMs);
      if (this.peers.size >= l.maxPeers) this.peers.delete(this.peers.keys().next().value!);
    } else {
      this.peers.delete(key);
      peer.refill(nowMs);
    }
    this.peers.set(key, peer);
    const total = this.total;
    const own = peer;
    return {
      take: () => {
        if (!own.has() || !total.has()) return false;
        own.take();
        total.take();
        return true;
      },
      spent: () => !own.has() || !total.has(),
    };
  }
}

/** The host of `host:port` or `[v6]:port` (the whole string when there is no port). */
function hostOf(address: string): string {
  const colon = address.lastIndexOf(':');
  return colon <= 0 ? address : address.slice(0, colon);
}
