import { CairnError } from '../../core/index.js';

/** One item's outcome in a batch's answer: its result, or why that item failed. */
export type ItemOutcome<R> =
  | { readonly ok: true; readonly value: R }
  | { readonly ok: false; readonly error: unknown };

/**
 * Receives one item's outcome, once. A whole batch's failure reaches each of its items as one shared
 * outcome object; callers only read it.
 */
export type ItemDone<R> = (outcome: ItemOutcome<R>) => void;

/** Runs `fn` once the current batching window closes. */
export type Defer = (fn: () => void) => void;

/** Bounds of one batch. */
export interface BatchBounds {
  /** Items in one batch; a full batch is sent at once. */
  readonly maxItems: number;
  /** Bytes of one batch's items (as `sizeOf` counts them); an item that would pass it starts a new batch. */
  readonly maxBytes: number;
}

/** What a {@link Batcher} needs. */
export interface BatcherOptions<I, R> {
  /**
   * Sends one batch to `target`; resolves with one outcome per item, in order, or rejects when the
   * whole batch failed (the rpc failed, the replica refused the sender): then every item fails
   * with that error. A reply with another number of outcomes fails every item too.
   */
  send(target: string, items: readonly I[], deadlineMs: number): Promise<readonly ItemOutcome<R>[]>;
  /** An item's size on the wire, roughly (bytes). */
  sizeOf(item: I): number;
  /** When a batch leaves; see {@link Batcher}. */
  defer: Defer;
  bounds: BatchBounds;
  /**
   * Batching windows a batch stays open for (default 1): with more, it also gathers the calls of
   * the next windows, so a busy node sends fewer, larger messages, at the cost of that many
   * `defer` hops of latency (an idle event loop turns in microseconds).
   */
  windows?: number;
  /**
   * Receives what an item's callback threw (a bug: callbacks must not throw), after every item of
   * its batch had its outcome; default: rethrown from a microtask, as an uncaught error.
   */
  report?: (err: unknown) => void;
}

interface Queued<I, R> {
  readonly item: I;
  readonly done: ItemDone<R>;
}

/**
 * Where one lane and target's open batch lives. A sent batch's slot is emptied, not deleted from
 * its map: a Map that deletes or clears entries gets new tables, and the abandoned ones, once old
 * enough to sit in the old generation, still point at the batches they held, so every young object
 * a batch reaches (its items, their callbacks, the requests behind them) survives young-generation
 * collections and is promoted. A heap profile of a coordinator under SET load found a quarter of
 * what it allocated promoted this way.
 */
interface Slot<I, R> {
  batch: OpenBatch<I, R> | undefined;
}

/** Slots kept per lane before the empty ones are dropped (targets that left the cluster). */
const MAX_IDLE_SLOTS = 256;

interface OpenBatch<I, R> {
  readonly target: string;
  readonly queued: Queued<I, R>[];
  bytes: number;
  deadlineMs: number;
}

/**
 * Gathers the calls to each replica made during one batching window into one message per target
 * and lane (e.g. the kind of write): one rpc, one frame and one socket write carry many clients'
 * requests, and one reply their answers. With `defer` = `setImmediate` the window is one turn of
 * the event loop, so requests read from many client connections in that turn travel together;
 * with `queueMicrotask` it is the current task (what simulation uses: deterministic).
 *
 * Contract: every `add` calls its `done` exactly once, later (never from within `add`), with its
 * own item's outcome; a callback that throws does not keep the batch's other items from theirs
 * (what it threw goes to `report`). Items of one lane and target leave in the order added. Batches
 * leave once `windows` windows closed since the first call that found none open (or at once when
 * full). A batch holds at most `maxItems` items and
 * `maxBytes` bytes (one item larger than that travels alone). The batch's deadline is the longest
 * of its items' (each caller also waits on its own deadline).
 */
export class Batcher<I, R> {
  /** Open batches' slots by lane, then target (no key string built per call). */
  private readonly open = new Map<string, Map<string, Slot<I, R>>>();
  private scheduled = false;
  /** Windows closed since the open batches' first call. */
  private windowsClosed = 0;
  private readonly windows: number;
  private readonly closeWindow = (): void => {
    if (++this.windowsClosed < this.windows) this.options.defer(this.closeWindow);
    else this.flushAll();
  };
  private readonly flushAll = (): void => {
    this.scheduled = false;
    this.windowsClosed = 0;
    const batches: OpenBatch<I, R>[] = [];
    for (const byTarget of this.open.values()) {
      for (const slot of byTarget.values()) {
        if (slot.batch === undefined) continue;
        batches.push(slot.batch);
        slot.batch = undefined;
      }
      if (byTarget.size > MAX_IDLE_SLOTS) byTarget.clear(); // every slot is empty now
    }
    for (const b of batches) this.dispatch(b);
  };

  constructor(private readonly options: BatcherOptions<I, R>) {
    this.windows = Math.max(1, options.windows ?? 1);
  }

  /**
   * Queues `item` for `target` in `lane`; `done` receives its outcome. A callback rather than a
   * promise: this is the per-request path, and each promise costs its reaction jobs and objects.
   */
  add(target: string, lane: string, item: I, deadlineMs: number, done: ItemDone<R>): void {
    const { bounds, sizeOf } = this.options;
    const size = sizeOf(item);
    let open = this.open.get(lane);
    if (open === undefined) {
      open = new Map();
      this.open.set(lane, open);
    }
    let slot = open.get(target);
    if (slot === undefined) {
      slot = { batch: undefined };
      open.set(target, slot);
    }
    let batch = slot.batch;
    if (batch !== undefined && batch.bytes + size > bounds.maxBytes) {
      slot.batch = undefined;
      this.dispatch(batch);
      batch = undefined;
    }
    if (batch === undefined) {
      batch = { target, queued: [], bytes: 0, deadlineMs };
      slot.batch = batch;
    }
    batch.queued.push({ item, done });
    batch.bytes += size;
    batch.deadlineMs = Math.max(batch.deadlineMs, deadlineMs);
    if (batch.queued.length >= bounds.maxItems) {
      slot.batch = undefined;
      this.dispatch(batch);
    } else if (!this.scheduled) {
      this.scheduled = true;
      this.options.defer(this.closeWindow);
    }
  }

  /** {@link add} as a promise of the item's value. */
  addAsync(target: string, lane: string, item: I, deadlineMs: number): Promise<R> {
    return new Promise<R>((resolve, reject) =>
      this.add(target, lane, item, deadlineMs, (o) => (o.ok ? resolve(o.value) : reject(o.error))),
    );
  }

  private dispatch(batch: OpenBatch<I, R>): void {
    const { queued } = batch;
    const items: I[] = new Array(queued.length);
    for (let i = 0; i < queued.length; i++) items[i] = queued[i]!.item;
    let sent: Promise<readonly ItemOutcome<R>[]>;
    try {
      sent = this.options.send(batch.target, items, batch.deadlineMs);
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      (outcomes) => {
        if (outcomes.length !== queued.length) {
          const error = new CairnError(
            'DECODE_FAILED',
            `kv node "${batch.target}" answered a batch of ${queued.length} with ${outcomes.length} outcomes`,
          );
          const outcome: ItemOutcome<R> = { ok: false, error };
          for (const q of queued) this.settle(q, outcome);
          return;
        }
        for (let i = 0; i < queued.length; i++) this.settle(queued[i]!, outcomes[i]!);
      },
      (error: unknown) => {
        const outcome: ItemOutcome<R> = { ok: false, error };
        for (const q of queued) this.settle(q, outcome);
      },
    );
  }

  private settle(q: Queued<I, R>, outcome: ItemOutcome<R>): void {
    try {
      q.done(outcome);
    } catch (err) {
      const report = this.options.report;
      if (report !== undefined) report(err);
      else
        queueMicrotask(() => {
          throw err;
        });
    }
  }
}
