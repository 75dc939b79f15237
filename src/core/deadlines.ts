import type { Clock, TimerHandle } from './clock.js';

/** Something with a deadline: the clock reading at which it expires. */
export interface Deadlined {
  readonly at: number;
}

/** How a {@link FifoDeadlines} treats its entries. */
export interface FifoDeadlinesOptions<T extends Deadlined> {
  /** Called once for a live entry whose deadline passed; must not throw. */
  readonly expire: (entry: T) => void;
  /** False once an entry no longer needs its deadline (its wait ended another way). */
  readonly live: (entry: T) => boolean;
  /**
   * Queued entries, live or not, at which `add` first sweeps out every entry that is no longer
   * live (default: none; dead entries then leave only from the front).
   */
  readonly sweepAt?: number;
}

/** Dead entries left at the front before the queue is copied down (amortises `shift`). */
const COMPACT_AT = 1024;

/**
 * Deadlines that arrive in the order they are added, served by one timer. Meant for waits that
 * all get the same timeout from a monotonic clock (a coordinator's writes, a member's raft
 * proposals): a Node timer per wait costs more than the rest of the waiting, and a FIFO queue
 * armed for its oldest live entry replaces them all. Should `at` ever decrease between adds (a
 * clock stepping back), a later entry expires when the one ahead of it does: late by at most the
 * step, never early.
 *
 * Entries that stop being live leave lazily: from the front as they are passed over, on a sweep
 * once `sweepAt` are queued, or all at once with {@link clear}. Without `sweepAt` the queue holds
 * the live entries plus the dead ones behind the oldest live entry, that is at most the entries
 * added in one timeout.
 *
 * @example
 * ```ts
 * const q = new FifoDeadlines<Wait>(clock, { expire: (w) => w.end(true), live: (w) => !w.done });
 * q.add(wait); // wait.at = clock.now() + timeoutMs
 * ```
 */
export class FifoDeadlines<T extends Deadlined> {
  /** Entries from `head` on; the slots before it are cleared (undefined) so nothing passed over is kept. */
  private queue: (T | undefined)[] = [];
  private head = 0;
  private timer: TimerHandle | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    private readonly options: FifoDeadlinesOptions<T>,
  ) {}

  /** Entries queued, live or not (for tests and bounds). */
  get size(): number {
    return this.queue.length - this.head;
  }

  /** Watches `entry`'s deadline. */
  add(entry: T): void {
    this.dropDeadFront();
    const sweepAt = this.options.sweepAt;
    if (sweepAt !== undefined && this.size >= sweepAt) {
      const live = this.options.live;
      const old = this.queue;
      this.queue = old.slice(this.head).filter((e) => live(e!));
      old.length = 0; // the abandoned array keeps nothing reachable either
      this.head = 0;
    }
    this.queue.push(entry);
    this.arm();
  }

  /** Drops every entry and the timer (e.g. when nothing is waiting any more). */
  clear(): void {
    if (this.timer !== undefined) this.clock.cancel(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.queue.length = 0;
    this.head = 0;
  }

  private dropDeadFront(): void {
    const q = this.queue;
    const live = this.options.live;
    while (this.head < q.length && !live(q[this.head]!)) q[this.head++] = undefined;
    this.compact();
  }

  private compact(): void {
    const q = this.queue;
    if (this.head === q.length) {
      q.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AT && this.head * 2 >= q.length) {
      this.queue = q.slice(this.head);
      q.length = 0; // the abandoned array keeps nothing reachable either
      this.head = 0;
    }
  }

  /** Sets the timer for the front entry, unless one is set for that moment or earlier. */
  private arm(): void {
    if (this.head >= this.queue.length) return;
    const at = this.queue[this.head]!.at;
    if (this.timer !== undefined && this.timerAt <= at) return;
    if (this.timer !== undefined) this.clock.cancel(this.timer);
    this.timerAt = at;
    this.timer = this.clock.setTimer(Math.max(0, at - this.clock.now()), this.fire);
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    const { live, expire } = this.options;
    // Reads this.queue each turn: `expire` may add entries, and an add may sweep the queue.
    while (this.head < this.queue.length) {
      const e = this.queue[this.head]!;
      const alive = live(e);
      if (alive && e.at > now) break;
      // Cleared, not only passed: until the next compaction the array would otherwise keep every
      // entry passed over, and all an entry holds (a coordinator's write, its promise and the
      // client's request) would outlive young-generation collections and be promoted.
      this.queue[this.head++] = undefined;
      if (alive) expire(e);
    }
    this.dropDeadFront();
    this.arm();
  };
}
