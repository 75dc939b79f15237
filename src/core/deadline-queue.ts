import type { Clock, TimerHandle } from './clock.js';

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

class Entry implements DeadlineEntry {
  dead = false;
  constructor(
    readonly at: number,
    readonly fire: () => void,
    private readonly queue: DeadlineQueue,
  ) {}

  cancel(): void {
    if (this.dead) return;
    this.dead = true;
    this.queue.onCancel();
  }
}

/** Cancelled entries tolerated before a rebuild is considered: below it a rebuild costs more than it frees. */
const REBUILD_MIN_CANCELLED = 64;

/** Node's timers cannot wait longer than 2^31-1 ms: a later deadline re-arms on the way. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class DeadlineQueue {
  private heap: Entry[] = [];
  private cancelled = 0;
  private timer: TimerHandle | undefined = undefined;
  /** When the armed timer fires. */
  private timerAt = Number.POSITIVE_INFINITY;
  private readonly onTimerBound = () => this.onTimer();

  constructor(private readonly clock: Clock) {}

  /** Entries held, cancelled ones not yet dropped included (for tests). */
  get size(): number {
    return this.heap.length;
  }

  /** Calls `fire` once `delayMs` from now has passed, unless cancelled first. */
  add(delayMs: number, fire: () => void): DeadlineEntry {
    const e = new Entry(this.clock.now() + Math.max(0, delayMs), fire, this);
    this.push(e);
    if (e.at < this.timerAt) this.arm();
    return e;
  }

  /** Forgets every entry and the timer (the server is closing). */
  clear(): void {
    for (const e of this.heap) e.dead = true;
    this.heap = [];
    this.cancelled = 0;
    if (this.timer !== undefined) this.clock.cancel(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  /** @internal called by an entry when it is cancelled. */
  onCancel(): void {
    this.cancelled++;
    if (this.cancelled > REBUILD_MIN_CANCELLED && this.cancelled * 2 > this.heap.length) this.rebuild();
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    const due: Entry[] = [];
    while (this.heap.length > 0 && (this.heap[0]!.dead || this.heap[0]!.at <= now)) {
      const e = this.pop();
      if (e.dead) this.cancelled--;
      else due.push(e);
    }
    for (const e of due) e.dead = true;
    if (this.heap.length > 0) this.arm();
    for (const e of due) e.fire();
  }

  private arm(): void {
    this.dropDeadTop();
    if (this.heap.length === 0) return;
    const at = this.heap[0]!.at;
    if (this.timer !== undefined) this.clock.cancel(this.timer);
    this.timerAt = at;
    this.timer = this.clock.setTimer(
      Math.min(MAX_TIMER_MS, Math.max(0, at - this.clock.now())),
      this.onTimerBound,
    );
  }

  private dropDeadTop(): void {
    while (this.heap.length > 0 && this.heap[0]!.dead) {
      this.pop();
      this.cancelled--;
    }
  }

  private rebuild(): void {
    const live = this.heap.filter((e) => !e.dead);
    this.heap = [];
    this.cancelled = 0;
    for (const e of live) this.push(e);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.at <= e.at) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = e;
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]!.at < h[l]!.at ? r : l;
      if (h[c]!.at >= last.at) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }
}
