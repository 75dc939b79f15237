import { withLimits } from '../../core/index.js';
import { StoreError } from '../errors.js';
import { DEFAULT_LIMITS, type MvccLimits } from './limits.js';

/** A lease as the store knows it (see `MvccStore.leases()`). */
export interface LeaseInfo {
  readonly id: number;
  /** Granted TTL in seconds. */
  readonly ttl: number;
  /** Last checkpointed remaining TTL in seconds, when one was applied. */
  readonly remainingTtl?: number;
  /** Attached keys, sorted. */
  readonly keys: readonly Uint8Array[];
}

/** Options of a {@link Lessor}. */
export interface LessorOptions {
  /** How long before an expired lease whose revoke did not apply is reported again, ms (default 3000, etcd's expiredLeaseRetryInterval). */
  retryMs?: number;
  /** How often a lease's remaining TTL is checkpointed, ms (default 300000, etcd's 5 minutes). */
  checkpointIntervalMs?: number;
  limits?: Partial<MvccLimits>;
}

interface Held {
  ttl: number;
  remainingTtl: number;
  /** Expiry time in ms on the caller's clock; meaningful only while primary. */
  expiry: number;
  /** Not reported by `expired()` before this time (a revoke is in flight). */
  retryAt: number;
  nextCheckpoint: number;
}

/**
 * Leader-side lease expiry, as etcd's lessor: pure, with time passed in (ms on one monotonic
 * clock). Only the primary (the leader) tracks expiries; the others only know which leases
 * exist. On promotion every lease gets `now + (checkpointed remaining TTL or granted TTL) +
 * extendMs`, which is how leases survive a leader change without expiring early.
 *
 * Contract: the driver mirrors the applied lease commands into the lessor (`grant` after a grant
 * applies, `revoke` after a revoke applies, `applyCheckpoint` for checkpoints) and proposes a
 * revoke for every id `expired()` returns. Expired leases are reported again after `retryMs`
 * until a revoke applies.
 *
 * @example
 * ```ts
 * const lessor = new Lessor();
 * lessor.promote(clock.now(), 0);
 * lessor.grant(7, 10, clock.now());
 * lessor.renew(7, clock.now()); // 10
 * lessor.expired(clock.now() + 11_000); // [7]
 * ```
 */
export class Lessor {
  private readonly leases = new Map<number, Held>();
  private primaryState = false;
  private readonly retryMs: number;
  private readonly checkpointIntervalMs: number;
  private readonly limits: MvccLimits;

  constructor(options: LessorOptions = {}) {
    this.retryMs = options.retryMs ?? 3000;
    this.checkpointIntervalMs = options.checkpointIntervalMs ?? 300_000;
    this.limits = withLimits(DEFAULT_LIMITS, options.limits ?? {});
  }

  get primary(): boolean {
    return this.primaryState;
  }

  get size(): number {
    return this.leases.size;
  }

  /** Replaces the known leases with the store's (after open or restore). Expiries reset when primary. */
  reset(leases: readonly LeaseInfo[], now: number): void {
    this.leases.clear();
    for (const l of leases) this.add(l.id, l.ttl, l.remainingTtl ?? 0, now);
  }

  /** A grant applied. */
  grant(id: number, ttl: number, now: number): void {
    this.add(id, ttl, 0, now);
  }

  /** A revoke applied. */
  revoke(id: number): void {
    this.leases.delete(id);
  }

  /** A checkpoint applied: the remaining TTL a new leader will start from (0 clears it). */
  applyCheckpoint(id: number, remainingTtl: number): void {
    const l = this.leases.get(id);
    if (l !== undefined) l.remainingTtl = remainingTtl;
  }

  /**
   * A keep-alive: the lease's expiry becomes now + its granted TTL. Returns the TTL.
   *
   * @throws StoreError `notLeader` when not primary; `leaseNotFound` for an unknown or already
   *   expired lease (etcd refuses to renew a lease whose revoke is pending)
   */
  renew(id: number, now: number): number {
    if (!this.primaryState) throw new StoreError('notLeader');
    const l = this.leases.get(id);
    if (l === undefined || l.expiry <= now) throw new StoreError('leaseNotFound');
    l.expiry = now + l.ttl * 1000;
    l.remainingTtl = 0;
    l.retryAt = 0;
    return l.ttl;
  }

  /** Remaining whole seconds (etcd truncates), -1 when unknown; the granted TTL when not primary. */
  timeToLive(id: number, now: number): number {
    const l = this.leases.get(id);
    if (l === undefined) return -1;
    if (!this.primaryState) return l.ttl;
    return Math.max(0, Math.floor((l.expiry - now) / 1000));
  }

  /**
   * Leases past their expiry, earliest first, at most `max` (default `maxExpiredPerCall`); each
   * is not reported again for `retryMs`. Empty unless primary.
   */
  expired(now: number, max = this.limits.maxExpiredPerCall): number[] {
    if (!this.primaryState) return [];
    const due: Array<[number, Held]> = [];
    for (const [id, l] of this.leases) if (l.expiry <= now && l.retryAt <= now) due.push([id, l]);
    due.sort((a, b) => a[1].expiry - b[1].expiry || a[0] - b[0]);
    const out = due.slice(0, max);
    for (const [, l] of out) l.retryAt = now + this.retryMs;
    return out.map(([id]) => id);
  }

  /**
   * Remaining TTLs to propose as a `leaseCheckpoint`, for leases whose checkpoint interval has
   * passed, at most `max`. Empty unless primary.
   */
  checkpoints(now: number, max = this.limits.maxCheckpointsPerCall): { id: number; remainingTtl: number }[] {
    if (!this.primaryState) return [];
    const out: { id: number; remainingTtl: number }[] = [];
    for (const [id, l] of this.leases) {
      if (out.length >= max) break;
      if (l.nextCheckpoint > now || l.expiry <= now) continue;
      l.nextCheckpoint = now + this.checkpointIntervalMs;
      out.push({ id, remainingTtl: Math.ceil((l.expiry - now) / 1000) });
    }
    return out;
  }

  /** Becomes primary: every lease expires at now + (remaining or granted TTL) + extendMs. */
  promote(now: number, extendMs: number): void {
    this.primaryState = true;
    for (const l of this.leases.values()) {
      const ttl = l.remainingTtl > 0 ? l.remainingTtl : l.ttl;
      l.expiry = now + ttl * 1000 + extendMs;
      l.retryAt = 0;
      l.nextCheckpoint = now + this.checkpointIntervalMs;
    }
  }

  /** Stops being primary: expiries are forgotten. */
  demote(): void {
    this.primaryState = false;
    for (const l of this.leases.values()) l.expiry = Number.POSITIVE_INFINITY;
  }

  private add(id: number, ttl: number, remainingTtl: number, now: number): void {
    const base = remainingTtl > 0 ? remainingTtl : ttl;
    this.leases.set(id, {
      ttl,
      remainingTtl,
      expiry: this.primaryState ? now + base * 1000 : Number.POSITIVE_INFINITY,
      retryAt: 0,
      nextCheckpoint: now + this.checkpointIntervalMs,
    });
  }
}
