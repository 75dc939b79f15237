import { CairnError } from '../core/index.js';
import { EventHeap, type SimEvent } from './events.js';

/**
 * The event queue under the simulator: a binary heap of event records with sequence numbering,
 * lazy cancellation and a wake-up hook for the background loop.
 *
 * Contract: events come out in `(at, seq)` order; `seq` is assigned at `enqueue` from one
 * counter, so the order is a function of the calls alone. Cancelled events are skipped when they
 * reach the top and compacted away when they are over half the queue. Over `maxEvents`, `enqueue`
 * throws `LIMIT_EXCEEDED`.
 */
export class Scheduler {
  private readonly heap = new EventHeap();
  private seqCounter = 0;
  private heldSeq = 0;
  private cancelled = 0;
  private wakeup: (() => void) | undefined;

  /** @param maxEvents - the queue's bound */
  constructor(private readonly maxEvents: number) {}

  /** Events queued, cancelled ones not yet removed included. */
  get size(): number {
    return this.heap.size;
  }

  /** Queues an event, giving it the next sequence number; wakes an idle background loop. */
  enqueue(ev: SimEvent): SimEvent {
    if (this.heap.size >= this.maxEvents) {
      throw new CairnError('LIMIT_EXCEEDED', `event queue is full: maxEvents=${this.maxEvents}`, {
        details: { limit: 'maxEvents', max: this.maxEvents },
      });
    }
    ev.seq = this.seqCounter++;
    this.heap.push(ev);
    const wake = this.wakeup;
    if (wake !== undefined) {
      this.wakeup = undefined;
      wake();
    }
    return ev;
  }

  /**
   * Re-queues held events at `at`, in the given order, before every other event of that instant:
   * their sequence numbers are below all others (a fresh range under every earlier one).
   */
  requeueFirst(events: readonly SimEvent[], at: number): void {
    let seq = this.heldSeq - events.length;
    this.heldSeq = seq;
    for (const ev of events) {
      ev.at = at;
      ev.seq = seq++;
      if (!ev.cancelled) this.heap.push(ev);
    }
  }

  /** Marks a queued timer or call cancelled; a fired one (no function left) is a no-op. */
  cancel(ev: SimEvent): void {
    if (ev.cancelled || ev.fn === null) return;
    ev.cancelled = true;
    ev.fn = null;
    this.cancelled++;
    if (this.cancelled > 4096 && this.cancelled * 2 > this.heap.size) {
      this.heap.compact();
      this.cancelled = 0;
    }
  }

  /** Time of the next live event, or undefined. */
  peekAt(): number | undefined {
    this.skipCancelled();
    return this.heap.peek()?.at;
  }

  /** Removes and returns the next live event due at or before `end`. */
  popDue(end: number): SimEvent | undefined {
    this.skipCancelled();
    const top = this.heap.peek();
    if (top === undefined || top.at > end) return undefined;
    this.heap.pop();
    return top;
  }

  /** Resolves when the next event is queued (or `wake()` is called). */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.wakeup = resolve;
    });
  }

  /** Ends a pending `idle()`. */
  wake(): void {
    const wake = this.wakeup;
    this.wakeup = undefined;
    wake?.();
  }

  private skipCancelled(): void {
    for (;;) {
      const top = this.heap.peek();
      if (top === undefined || !top.cancelled) return;
      this.heap.pop();
      if (this.cancelled > 0) this.cancelled--;
    }
  }
}
