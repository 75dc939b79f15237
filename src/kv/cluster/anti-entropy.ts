import { type Clock, describeError, type Logger, type TimerHandle } from '../../core/index.js';
import type { TokenRange } from '../types.js';
import type { RingPort } from './ports.js';
import { pullRange, pushRange, type StreamContext } from './streaming.js';

/** Counters of anti-entropy. */
export interface AntiEntropyStats {
  rounds: number;
  /** Range comparisons made (one Merkle exchange each). */
  rangesCompared: number;
  /** Comparisons that found differing sub-ranges. */
  rangesDiffering: number;
  /** Sub-ranges streamed (both directions). */
  subRangesStreamed: number;
  /** Cells received and sent while streaming differences. */
  cellsPulled: number;
  cellsPushed: number;
  /** Comparisons that failed (peer unreachable, refused, malformed tree). */
  failures: number;
  /** Tombstones and expired cells purged after the grace period. */
  purged: number;
}

/** Options of {@link AntiEntropy}. */
export interface AntiEntropyOptions {
  readonly self: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly stream: StreamContext;
  readonly ring: () => RingPort;
  readonly isAlive: (name: string) => boolean;
  readonly intervalMs: number;
  readonly depth: number;
  readonly treeTimeoutMs: number;
}

/**
 * Anti-entropy (Dynamo's Merkle repair, as Cassandra's repair runs it, but continuous): every
 * `intervalMs`, for each range this node replicates, it asks one other live replica of the range
 * (in turn) for the range's Merkle tree, compares it with its own, and streams only the differing
 * sub-ranges, both ways. The LWW merge makes the exchange idempotent and order-free; tombstones
 * travel like values, so a delete reaches every replica before it may be purged. After a round,
 * cells deleted or expired more than the grace period ago are purged.
 *
 * Contract: a round never throws; a failed comparison is counted and retried next round.
 */
export class AntiEntropy {
  readonly stats: AntiEntropyStats = {
    rounds: 0,
    rangesCompared: 0,
    rangesDiffering: 0,
    subRangesStreamed: 0,
    cellsPulled: 0,
    cellsPushed: 0,
    failures: 0,
    purged: 0,
  };
  private turn = 0;
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: AntiEntropyOptions) {}

  /** Starts periodic rounds (none when `intervalMs` is 0). */
  start(): void {
    if (this.options.intervalMs > 0) this.schedule();
  }

  /** Stops scheduling rounds (a round under way finishes its current page). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.options.clock.cancel(this.timer);
  }

  /** Runs one round now (or joins the one under way). */
  round(): Promise<void> {
    this.running ??= this.runRound().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Compares one range with `peer` and streams the differences; returns the differing sub-ranges. */
  async repairRange(range: TokenRange, peer: string): Promise<TokenRange[]> {
    const { stream, depth, treeTimeoutMs } = this.options;
    this.stats.rangesCompared++;
    const [mine, theirs] = await Promise.all([
      stream.store.merkle(range, depth),
      stream.replicas.merkle(peer, range, depth, treeTimeoutMs),
    ]);
    const differing = mine.diff(theirs);
    if (differing.length === 0) return differing;
    this.stats.rangesDiffering++;
    for (const sub of differing) {
      if (this.stopped) break;
      const pulled = await pullRange(stream, peer, sub, 'repair');
      const pushed = await pushRange(stream, peer, sub, 'repair');
      this.stats.subRangesStreamed++;
      this.stats.cellsPulled += pulled.cells;
      this.stats.cellsPushed += pushed.cells;
    }
    return differing;
  }

  private async runRound(): Promise<void> {
    const { self, ring, isAlive, logger, stream } = this.options;
    this.stats.rounds++;
    const current = ring();
    for (const range of current.rangesOf(self)) {
      if (this.stopped) return;
      const peers = current.replicas(range.end).filter((n) => n !== self && isAlive(n));
      if (peers.length === 0) continue;
      const peer = peers[this.turn++ % peers.length]!;
      try {
        await this.repairRange(range, peer);
      } catch (err) {
        this.stats.failures++;
        logger.debug({ peer, err: describeError(err) }, 'anti-entropy comparison failed');
      }
    }
    try {
      this.stats.purged += await stream.store.purge();
    } catch (err) {
      logger.warn({ err: describeError(err) }, 'tombstone purge failed');
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.options.clock.setTimer(this.options.intervalMs, () => {
      this.round()
        .catch((err: unknown) =>
          this.options.logger.warn({ err: describeError(err) }, 'anti-entropy round failed'),
        )
        .finally(() => this.schedule());
    });
  }
}
