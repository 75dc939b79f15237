import { type Clock, describeError, type Logger, type TimerHandle } from '../../core/index.js';
import type { Cell } from '../types.js';
import { DEFAULT_LIMITS } from './config.js';
import type { HintPort } from './ports.js';
import type { ReplicaClient } from './replica-client.js';

/** Counters of hinted handoff. */
export interface HandoffStats {
  /** Hints stored. */
  stored: number;
  /** Hints refused by the store (past the window or the size bound): anti-entropy must fix them. */
  dropped: number;
  /** Hints delivered to their target and removed. */
  delivered: number;
  /** Delivery attempts that failed (the hints stay). */
  failedDeliveries: number;
  /** Hints dropped because their target left the ring. */
  forgotten: number;
}

/** Options of {@link HintedHandoff}. */
export interface HandoffOptions {
  readonly hints: HintPort;
  readonly replicas: ReplicaClient;
  readonly clock: Clock;
  readonly logger: Logger;
  /** True when membership shows the node alive. */
  readonly isAlive: (name: string) => boolean;
  readonly replayIntervalMs: number;
  readonly pageEntries: number;
  readonly deliveryTimeoutMs: number;
}

/**
 * Hinted handoff (Dynamo's, as Cassandra runs it): a write a replica missed (dead, failed or timed
 * out) is kept on the coordinator's disk, bounded per target by the hint store's window and size,
 * and replayed, oldest first, once membership shows the target alive: on every membership change
 * and every `replayIntervalMs`. Hints never count toward a consistency level; they shorten the
 * time a replica stays stale, and anti-entropy fixes whatever they miss.
 *
 * Contract: a hint is removed only after its target acknowledged storing it, so a crash during
 * replay delivers it again (the LWW merge makes that harmless). One delivery per target at a
 * time; at most `maxHintReplays` targets at once.
 */
export class HintedHandoff {
  readonly stats: HandoffStats = { stored: 0, dropped: 0, delivered: 0, failedDeliveries: 0, forgotten: 0 };
  private readonly replaying = new Set<string>();
  private readonly forgetting = new Set<string>();
  private readonly writing = new Set<Promise<void>>();
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly options: HandoffOptions) {}

  /** Starts periodic replay. */
  start(): void {
    this.schedule();
  }

  /** Stores a hint in the background (a coordinator does not wait for it). */
  add(target: string, key: Uint8Array, cell: Cell): void {
    if (this.stopped) return;
    const p = this.options.hints.add(target, key, cell).then(
      (kept) => {
        if (kept) this.stats.stored++;
        else this.stats.dropped++;
      },
      (err: unknown) => {
        this.stats.dropped++;
        this.options.logger.warn({ target, err: describeError(err) }, 'could not store a hint');
      },
    );
    this.writing.add(p);
    void p.finally(() => this.writing.delete(p));
  }

  /** Hint bytes waiting, per target. */
  pending(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of this.options.hints.targets()) {
      const bytes = this.options.hints.bytesFor(t);
      if (bytes > 0) out[t] = bytes;
    }
    return out;
  }

  /** Offers the hints of every target membership shows alive (no-op for targets being replayed). */
  replay(): void {
    if (this.stopped) return;
    for (const target of this.options.hints.targets()) {
      if (this.replaying.size >= DEFAULT_LIMITS.maxHintReplays) break;
      if (this.replaying.has(target) || !this.options.isAlive(target)) continue;
      if (this.options.hints.bytesFor(target) === 0) continue;
      this.replaying.add(target);
      this.deliver(target)
        .catch((err: unknown) => {
          // The hint store failed (a crashed or closed disk): the hints stay for the next round.
          this.stats.failedDeliveries++;
          this.options.logger.warn({ target, err: describeError(err) }, 'hint replay failed');
        })
        .finally(() => this.replaying.delete(target));
    }
  }

  /**
   * Drops the hints stored for `targets`, nodes that left the ring (decommissioned, removed or
   * reaped): their ranges are other nodes' now, so the hints would only hold disk and a target slot
   * until they aged out (Cassandra's removenode excises a removed node's hints the same way). Each
   * drop runs in the background; one already running for a target is not started again.
   */
  forget(targets: Iterable<string>): void {
    if (this.stopped) return;
    for (const target of targets) {
      if (this.forgetting.has(target) || this.options.hints.bytesFor(target) === 0) continue;
      this.forgetting.add(target);
      void this.options.hints
        .dropTarget(target)
        .then(
          (n) => {
            this.stats.forgotten += n;
            this.options.logger.info({ target, hints: n }, 'dropped the hints of a node that left the ring');
          },
          (err: unknown) =>
            this.options.logger.warn(
              { target, err: describeError(err) },
              'could not drop the hints of a node that left the ring',
            ),
        )
        .finally(() => this.forgetting.delete(target));
    }
  }

  /** Resolves once hints being stored are stored (for tests and shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.writing]);
  }

  /** Stops replay; hints stay on disk for the next start. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.options.clock.cancel(this.timer);
  }

  private async deliver(target: string): Promise<void> {
    const { hints, replicas, pageEntries, deliveryTimeoutMs, logger } = this.options;
    // Bounded: each page removes what it delivered; a failure ends the round.
    for (let round = 0; round < 10_000 && !this.stopped; round++) {
      const page = await hints.list(target, pageEntries);
      if (page.length === 0) return;
      try {
        await replicas.write(
          target,
          'hint',
          page.map((h) => ({ key: h.key, cell: h.cell })),
          deliveryTimeoutMs,
        );
      } catch (err) {
        this.stats.failedDeliveries++;
        logger.debug({ target, err: describeError(err) }, 'hint delivery failed; will retry');
        return;
      }
      await hints.remove(
        target,
        page.map((h) => h.id),
      );
      this.stats.delivered += page.length;
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.options.clock.setTimer(this.options.replayIntervalMs, () => {
      this.replay();
      this.schedule();
    });
  }
}
