import { MinHeap } from '../../core/min-heap.js';

/**
 * Keyed deadlines in one structure: the core's timers.
 *
 * A core needs many timers (one probe, one gossip, one per suspicion, one per PingReq relay, one
 * per dead member awaiting reaping). Rather than one driver timer each, the core keeps them here
 * and asks the driver for a single wake-up at {@link DeadlineQueue.next}. Setting a key replaces
 * its deadline; due keys come out in deadline order, ties in the order they were set.
 *
 * A binary min-heap (core's `MinHeap`) with lazy deletion: replaced or cancelled entries stay in the
 * heap until they surface and are skipped, and the heap is rebuilt when stale entries outnumber
 * live ones, so memory stays within a constant factor of the live keys.
 */

interface Entry {
  readonly at: number;
  readonly order: number;
  readonly key: string;
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}

/** See the module comment. */
export class DeadlineQueue {
  private readonly heap = new MinHeap<Entry>(before);
  private readonly live = new Map<string, Entry>();
  private order = 0;

  /** Live keys. */
  get size(): number {
    return this.live.size;
  }

  /** Sets (or replaces) the deadline of `key`, in ms on the core's clock. */
  set(key: string, atMs: number): void {
    const entry: Entry = { at: atMs, order: this.order++, key };
    this.live.set(key, entry);
    this.heap.push(entry);
    if (this.heap.size > 64 && this.heap.size > 2 * this.live.size) this.rebuild();
  }

  /** Cancels `key`; returns whether it was set. */
  cancel(key: string): boolean {
    return this.live.delete(key);
  }

  /** The deadline of `key`, or `undefined`. */
  get(key: string): number | undefined {
    return this.live.get(key)?.at;
  }

  /** The earliest live deadline, or `undefined` when none is set. */
  next(): number | undefined {
    this.dropStale();
    return this.heap.peek()?.at;
  }

  /** Removes and returns the earliest key due at or before `nowMs`, or `undefined`. */
  popDue(nowMs: number): string | undefined {
    this.dropStale();
    const top = this.heap.peek();
    if (top === undefined || top.at > nowMs) return undefined;
    this.heap.pop();
    this.live.delete(top.key);
    return top.key;
  }

  /** Every live key with its deadline, earliest first (for tests and debugging). */
  entries(): Array<{ key: string; atMs: number }> {
    return [...this.live.values()]
      .sort((a, b) => (before(a, b) ? -1 : 1))
      .map((e) => ({ key: e.key, atMs: e.at }));
  }

  private dropStale(): void {
    for (;;) {
      const top = this.heap.peek();
      if (top === undefined || this.live.get(top.key) === top) return;
      this.heap.pop();
    }
  }

  private rebuild(): void {
    this.heap.retain((e) => this.live.get(e.key) === e);
  }
}
