import type { Clock, Logger, TimerHandle } from '../core/index.js';

/**
 * Logs rejected connections, streams or frames without letting a flood of them flood the log.
 *
 * The first rejection after a quiet period is logged at once, with its details; the ones that
 * follow within `intervalMs` are only counted, and one summary line per interval gives the counts
 * by reason. An interval with no rejection ends the summaries, so the next one is logged in full
 * again. A flood of N rejections over T ms costs at most `1 + T / intervalMs` lines; the metric
 * counters (`cairn_transport_dropped_total{reason}`) still count every one.
 *
 * @example
 * ```ts
 * const rejects = new RejectLog(logger, clock, 10_000, 'rejecting inbound connection');
 * rejects.note('hello_timeout', { peer: '10.0.0.7:51234' });
 * ```
 */
export class RejectLog {
  private counts = new Map<string, number>();
  private timer: TimerHandle | undefined;

  /**
   * @param logger - where lines go (level warn)
   * @param clock - times the summary interval
   * @param intervalMs - length of one summary interval (default in `NET_DEFAULTS.rejectLogIntervalMs`)
   * @param message - the message of the line logged in full
   */
  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly message: string,
  ) {}

  /** Records one rejection: logged in full when none came in the current interval, else counted. */
  note(reason: string, details: Record<string, unknown>): void {
    if (this.timer === undefined) {
      this.logger.warn({ reason, ...details }, this.message);
      this.timer = this.clock.setTimer(this.intervalMs, () => this.summarize());
      return;
    }
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }

  /** Logs what is still counted and stops the interval (the owner is closing). */
  close(): void {
    if (this.timer !== undefined) this.clock.cancel(this.timer);
    this.timer = undefined;
    this.flush();
  }

  private summarize(): void {
    this.timer = undefined;
    if (this.flush()) this.timer = this.clock.setTimer(this.intervalMs, () => this.summarize());
  }

  /** Logs the counts, if any, and clears them; returns whether there were any. */
  private flush(): boolean {
    if (this.counts.size === 0) return false;
    let total = 0;
    for (const n of this.counts.values()) total += n;
    this.logger.warn(
      { rejected: Object.fromEntries(this.counts), total, intervalMs: this.intervalMs },
      `${this.message}: ${total} more in the last interval`,
    );
    this.counts = new Map();
    return true;
  }
}
