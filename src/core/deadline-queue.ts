import type { Clock, TimerHandle } from './clock.js';
import { MinHeap } from './min-heap.js';

/**
 * Deadlines of any order on one clock timer (the etcd API's gRPC calls: each client picks its own
 * `grpc-timeout`). For waits that all share one timeout, core's `FifoDeadlines` is cheaper.
 *
 * Why: a Node timer per call (what grpc-js arms for each `grpc-timeout`) is a timer-list insert,
 * a removal and an object per call; deadlines that are not in arrival order need a binary
 * min-heap on the deadline, and one timer is armed for the earliest. A cancelled entry stays in
 * the heap, flagged, until it reaches the top or until cancelled entries outnumber live ones,
 * when the heap is rebuilt without them: memory stays proportional to the entries in flight.
 *
 * Contract: `fire` of an entry runs at most once, on the clock's timer callback, no earlier than
 * its deadline, and never after {@link DeadlineEntry.cancel}. A deadline already past fires on
 * the next timer turn, not inside {@link add}.
 */
export interface DeadlineEntry {
  /** Forgets the deadline; a no-op once fired or cancelled. */
  cancel(): void;
}

const NOTHING = (): void => {};

class Entry implements DeadlineEntry {
  dead = false;
  constructor(
    readonly at: number,
    public fire: () => void,
    private readonly queue: DeadlineQueue,
  ) {}

  cancel(): void {
    if (this.dead) return;
    this.dead = true;
    // A cancelled entry may wait in the heap (or in an abandoned heap array) for a while: it must
    // not keep what its callback captured alive meanwhile.
    this.fire = NOTHING;
    this.queue.onCancel();
  }
}

/** Cancelled entries tolerated before a rebuild is considered: below it a rebuild costs more than it frees. */
const REBUILD_MIN_CANCELLED = 64;

/** Node's timers cannot wait longer than 2^31-1 ms: a later deadline re-arms on the way. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class DeadlineQueue {
  private readonly heap = new MinHeap<Entry>((a, b) => a.at < b.at);
  private cancelled = 0;
  private timer: TimerHandle | undefined = undefined;
  /** When the armed timer fires. */
  private timerAt = Number.POSITIVE_INFINITY;
  private readonly onTimerBound = () => this.onTimer();

  constructor(private readonly clock: Clock) {}

  /** Entries held, cancelled ones not yet dropped included (for tests). */
  get size(): number {
    return this.heap.size;
  }

  /** Calls `fire` once `delayMs` from now has passed, unless cancelled first. */
  add(delayMs: number, fire: () => void): DeadlineEntry {
    const e = new Entry(this.clock.now() + Math.max(0, delayMs), fire, this);
    this.heap.push(e);
    if (e.at < this.timerAt) this.arm();
    return e;
  }

  /** Forgets every entry and the timer (the server is closing). */
  clear(): void {
    for (const e of this.heap.values()) e.dead = true;
    this.heap.clear();
    this.cancelled = 0;
    if (this.timer !== undefined) this.clock.cancel(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  /** @internal called by an entry when it is cancelled. */
  onCancel(): void {
    this.cancelled++;
    if (this.cancelled > REBUILD_MIN_CANCELLED && this.cancelled * 2 > this.heap.size) this.rebuild();
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    const due: Entry[] = [];
    for (
      let top = this.heap.peek();
      top !== undefined && (top.dead || top.at <= now);
      top = this.heap.peek()
    ) {
      const e = this.heap.pop()!;
      if (e.dead) this.cancelled--;
      else due.push(e);
    }
    for (const e of due) e.dead = true;
    if (this.heap.size > 0) this.arm();
    for (const e of due) e.fire();
  }

  private arm(): void {
    this.dropDeadTop();
    const top = this.heap.peek();
    if (top === undefined) return;
    const at = top.at;
    if (this.timer !== undefined) this.clock.cancel(this.timer);
    this.timerAt = at;
    this.timer = this.clock.setTimer(
      Math.min(MAX_TIMER_MS, Math.max(0, at - this.clock.now())),
      this.onTimerBound,
    );
  }

  private dropDeadTop(): void {
    while (this.heap.peek()?.dead === true) {
      this.heap.pop();
      this.cancelled--;
    }
  }

  private rebuild(): void {
    this.heap.retain((e) => !e.dead);
    this.cancelled = 0;
  }
}
