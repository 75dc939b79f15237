/**
 * Event records and the binary heap that orders them.
 *
 * The simulator's queue holds {@link SimEvent} records, not closures: a packet in flight is one
 * object with its bytes and two transport ids, so ten thousand nodes cost memory proportional to
 * the messages in flight and nothing more. Events are ordered by virtual time, then by the sequence
 * number given when they were scheduled, so two events at the same instant run in the order they
 * were created: the order is a function of the seed alone.
 */

/** Kinds of events; the number is mixed into the trace hash, so these values never change. */
export const EventKind = Object.freeze({
  /** A clock timer: runs `fn`. */
  timer: 1,
  /** A simulator-internal call (resume a paused node, a fault injection): runs `fn`. */
  call: 2,
  /** A packet arrives at a transport. */
  packet: 3,
  /** A dial's connection request arrives at the listener. */
  connect: 4,
  /** The listener's acceptance arrives back at the dialer. */
  established: 5,
  /** The dial was refused (nothing listens at the address). */
  refused: 6,
  /** A stream frame arrives. */
  frame: 7,
  /** A clean close (FIN) arrives after the frames sent before it. */
  fin: 8,
  /** An error close (reset, partition, crash) reaches one end of a stream. */
  reset: 9,
  /** A stream's send buffer went below its high-water mark: run the sender's drain handler. */
  drain: 10,
});

/** A value of {@link EventKind}. */
export type EventKindValue = (typeof EventKind)[keyof typeof EventKind];

/** Readable names of event kinds, for the trace log. */
export const EVENT_KIND_NAMES: Readonly<Record<number, string>> = Object.freeze(
  Object.fromEntries(Object.entries(EventKind).map(([name, value]) => [value, name])),
);

/**
 * Receives events of the kinds it scheduled. Long-lived objects (a transport, a stream end)
 * implement it, so an event needs no closure of its own.
 */
export interface EventSink {
  /** Handles a due event. */
  handle(ev: SimEvent): void;
  /** Called instead of `handle` when the event's node crashed since it was scheduled. */
  discard?(ev: SimEvent): void;
  /**
   * Called before `handle`; true means the sink keeps the event to hand back later (a partition
   * stalls a stream), so it is neither delivered nor mixed into the trace now.
   */
  hold?(ev: SimEvent): boolean;
  /** One line for the trace log. */
  describe?(ev: SimEvent): string;
}

/**
 * One scheduled event. A single class with every field keeps V8's objects monomorphic; unused
 * fields keep their defaults.
 *
 * Contract: `at`, `seq`, `node` and `inc` are set before the event is queued and never change,
 * except that held events (their node was paused) are re-queued at the resume time, in the order
 * they were due, with sequence numbers below every other event's (so they run first at that
 * instant, which keeps per-stream order).
 */
export class SimEvent {
  /** Virtual time (ms) at which the event is due. */
  at = 0;
  /** Insertion sequence number: the tie-break at equal `at`. */
  seq = 0;
  /** One of {@link EventKind}. */
  kind: number = EventKind.call;
  /** The index of the node that handles the event, or -1 for the simulator itself. */
  node = -1;
  /** The node's incarnation when the event was scheduled; a crash makes older events stale. */
  inc = 0;
  /** Set by `cancel`; a cancelled event is skipped when it reaches the top of the heap. */
  cancelled = false;
  /** The function of a timer or call event. */
  fn: (() => void) | null = null;
  /** The receiver of a network event. */
  sink: EventSink | null = null;
  /** Sender's transport id (network events). */
  from = 0;
  /** Receiver's transport id (network events). */
  to = 0;
  /** Payload bytes (packets and frames). */
  data: Uint8Array | null = null;
  /** Kind-specific extra value (an error for resets, a dial record for connects). */
  aux: unknown = undefined;
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * A binary min-heap of {@link SimEvent} ordered by `(at, seq)`.
 *
 * `push` and `pop` are O(log n) with no allocation beyond the array's growth. Cancelled events stay
 * in the heap until they reach the top or until {@link EventHeap.compact} removes them.
 */
export class EventHeap {
  private items: SimEvent[] = [];

  /** Number of events in the heap, cancelled ones included. */
  get size(): number {
    return this.items.length;
  }

  /** The earliest event, without removing it. */
  peek(): SimEvent | undefined {
    return this.items[0];
  }

  /** Adds an event. */
  push(ev: SimEvent): void {
    const items = this.items;
    let i = items.length;
    items.push(ev);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!before(ev, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = ev;
  }

  /** Removes and returns the earliest event. */
  pop(): SimEvent | undefined {
    const items = this.items;
    const top = items[0];
    if (top === undefined) return undefined;
    const last = items.pop()!;
    if (items.length > 0) this.siftDown(last);
    return top;
  }

  /** Removes every cancelled event and restores the heap order (Floyd's heapify, O(n)). */
  compact(): number {
    const before = this.items.length;
    this.items = this.items.filter((ev) => !ev.cancelled);
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.siftDownFrom(i);
    return before - this.items.length;
  }

  /** Removes every event. */
  clear(): void {
    this.items = [];
  }

  private siftDown(ev: SimEvent): void {
    this.items[0] = ev;
    this.siftDownFrom(0);
  }

  private siftDownFrom(start: number): void {
    const items = this.items;
    const n = items.length;
    const ev = items[start]!;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      let c = items[left]!;
      if (right < n) {
        const r = items[right]!;
        if (before(r, c)) {
          child = right;
          c = r;
        }
      }
      if (!before(c, ev)) break;
      items[i] = c;
      i = child;
    }
    items[i] = ev;
  }
}
