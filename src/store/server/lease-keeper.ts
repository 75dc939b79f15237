import type { Clock, Logger, TimerHandle } from '../../core/index.js';
import type { StoreCommand } from '../command.js';
import type { ApplyHooks } from './applier.js';
import type { StoreServerLimits } from './limits.js';
import type { LeaseView, LessorPort } from './ports.js';

/**
 * Lease expiry, decided by the leader and applied through the log (etcd's lessor run loop and
 * its revokeExpiredLeases / checkpointScheduledLeases in etcdserver).
 *
 * Every member's lessor learns grants, revocations and checkpoints as they apply. Only the
 * leader keeps expiry times: on becoming leader it promotes the lessor, giving every lease its
 * remaining (checkpointed) or granted TTL plus `extendMs` (an election timeout), so a leader
 * change never expires a lease its holder was keeping alive; on losing leadership it demotes.
 * While leader, every `leaseExpiryIntervalMs` it proposes `leaseRevoke` for expired leases (at
 * most `maxLeaseRevokesPerRound`, never one already in flight) and, every
 * `leaseCheckpointIntervalMs`, the remaining TTLs as `leaseCheckpoint` commands. The keys of a
 * lease are deleted when its revoke applies, on every member alike.
 */
export class LeaseKeeper
  implements Pick<ApplyHooks, 'leaseGranted' | 'leaseRevoked' | 'leaseCheckpointed' | 'leasesReset'>
{
  private leading = false;
  private timer: TimerHandle | undefined;
  private nextCheckpointAt = 0;
  private readonly revoking = new Set<number>();
  private stopped = false;

  /**
   * @param lessor - the lease clock
   * @param propose - proposes a command through raft (resolves when applied here)
   * @param clock - the member's clock
   * @param extendMs - how much a new leader extends every lease (the election timeout)
   */
  constructor(
    private readonly lessor: LessorPort,
    private readonly propose: (cmd: StoreCommand) => Promise<unknown>,
    private readonly clock: Clock,
    private readonly extendMs: number,
    private readonly limits: StoreServerLimits,
    private readonly logger: Logger,
  ) {}

  /** True while this member runs the expiry loop. */
  get isLeader(): boolean {
    return this.leading;
  }

  leaseGranted(id: number, ttl: number): void {
    this.lessor.grant(id, ttl, this.clock.now());
  }

  leasesReset(leases: readonly LeaseView[]): void {
    this.reset(leases);
  }

  leaseRevoked(id: number): void {
    this.lessor.revoke(id);
    this.revoking.delete(id);
  }

  leaseCheckpointed(checkpoints: readonly { id: number; remainingTtl: number }[]): void {
    for (const c of checkpoints) this.lessor.applyCheckpoint(c.id, c.remainingTtl);
  }

  /** Follows the raft role: promote and start the loop on becoming leader, demote on losing it. */
  setLeader(isLeader: boolean): void {
    if (this.stopped || isLeader === this.leading) return;
    this.leading = isLeader;
    if (isLeader) {
      const now = this.clock.now();
      this.lessor.promote(now, this.extendMs);
      this.nextCheckpointAt = now + this.limits.leaseCheckpointIntervalMs;
      this.schedule();
    } else {
      this.lessor.demote();
      this.revoking.clear();
      if (this.timer !== undefined) this.clock.cancel(this.timer);
      this.timer = undefined;
    }
  }

  /**
   * On the leader: refreshes `id`; its granted TTL in seconds.
   * Throws StoreError `notLeader` or `leaseNotFound` (the lessor's).
   */
  renew(id: number): number {
    return this.lessor.renew(id, this.clock.now());
  }

  /** The remaining seconds of `id` (granted TTL when not leader), -1 when unknown. */
  timeToLive(id: number): number {
    return this.lessor.timeToLive(id, this.clock.now());
  }

  /** Replaces the lessor's leases with the store's (start, snapshot restore); re-promotes when leading. */
  reset(leases: readonly LeaseView[]): void {
    const now = this.clock.now();
    this.lessor.reset(leases, now);
    if (this.leading) this.lessor.promote(now, this.extendMs);
  }

  /** Stops the loop for good. */
  stop(): void {
    this.setLeader(false);
    this.stopped = true;
  }

  private schedule(): void {
    this.timer = this.clock.setTimer(this.limits.leaseExpiryIntervalMs, () => {
      this.timer = undefined;
      if (!this.leading) return;
      this.round();
      this.schedule();
    });
  }

  /**
   * One expiry round: revoke what expired (the lessor hands out at most what this round
   * proposes, so none waits out a retry interval unproposed), checkpoint when due (one proposal
   * per round; a full one means more are due, so the next round continues).
   */
  private round(): void {
    const now = this.clock.now();
    for (const id of this.lessor.expired(now, this.limits.maxLeaseRevokesPerRound)) {
      // Reported again after the lessor's retry interval while its revoke is still in flight.
      if (this.revoking.has(id)) continue;
      this.revoking.add(id);
      this.propose({ t: 'leaseRevoke', id }).then(
        () => this.revoking.delete(id),
        (err: unknown) => {
          // Reported again by the lessor after its retry interval if still expired.
          this.revoking.delete(id);
          this.logger.debug({ id, err: String(err) }, 'store: lease revoke proposal failed');
        },
      );
    }
    if (now >= this.nextCheckpointAt) {
      const max = this.limits.maxLeaseCheckpointsPerProposal;
      const checkpoints = this.lessor.checkpoints(now, max);
      this.nextCheckpointAt = checkpoints.length >= max ? now : now + this.limits.leaseCheckpointIntervalMs;
      if (checkpoints.length > 0) {
        this.propose({ t: 'leaseCheckpoint', checkpoints }).catch((err: unknown) => {
          this.logger.debug({ err: String(err) }, 'store: lease checkpoint proposal failed');
        });
      }
    }
  }
}
