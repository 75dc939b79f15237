import { CairnError, toHex } from '../../core/index.js';
import { RaftError } from '../errors.js';
import type { ReadState } from '../types.js';

interface Waiter {
  resolve(index: number): void;
  reject(err: unknown): void;
  /** The confirmed read index, once known. */
  index: number;
  detach(): void;
}

interface Batch {
  readonly ctx: Uint8Array;
  readonly waiters: Waiter[];
  sentAt: number;
}

/** What the batcher needs from the driver. */
export interface ReadIndexPort {
  /** Asks the core for a read index with `ctx`; false when the core dropped it at once. */
  request(ctx: Uint8Array): boolean;
  /** The index the state machine has applied. */
  applied(): number;
  /** A fresh, unique request context. */
  nextContext(): Uint8Array;
}

/**
 * Linearizable reads, batched as etcd's `linearizableReadLoop` batches them: callers that arrive
 * while a read-index request is in flight wait together for the next one, so a heartbeat round
 * serves any number of concurrent readers.
 *
 * Life of a read: queued -> in a batch sent to the core with a unique context -> the core's
 * `ReadState` for that context gives the index a quorum confirmed -> resolved once the state
 * machine has applied up to it. A batch unanswered after `retryMs` (the core drops read requests
 * without a leader, and a leader change loses them) is sent again under a new context.
 *
 * Bounded: at most `maxPending` callers wait in all; more are refused with `PROPOSAL_DROPPED`.
 */
export class ReadIndexBatcher {
  private queued: Waiter[] = [];
  private readonly inflight = new Map<string, Batch>();
  private confirmed: Waiter[] = [];
  private pending = 0;

  constructor(
    private readonly port: ReadIndexPort,
    private readonly limits: { maxPending: number; maxInFlight: number; retryMs: number },
  ) {}

  /** Callers waiting in all (queued, in flight, or waiting to be applied). */
  get size(): number {
    return this.pending;
  }

  /** A read index for one caller; see the class comment. */
  read(now: number, signal?: AbortSignal): Promise<number> {
    if (signal?.aborted) return Promise.reject(cancelled());
    if (this.pending >= this.limits.maxPending) {
      return Promise.reject(
        new RaftError('PROPOSAL_DROPPED', `${this.pending} reads are waiting, the limit maxPendingReads`),
      );
    }
    return new Promise<number>((resolve, reject) => {
      const onAbort = () => {
        if (this.remove(waiter)) reject(cancelled());
      };
      const waiter: Waiter = {
        index: -1,
        resolve: (i) => {
          waiter.detach();
          resolve(i);
        },
        reject: (e) => {
          waiter.detach();
          reject(e);
        },
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queued.push(waiter);
      this.pending++;
      this.flush(now);
    });
  }

  /** Sends the queued callers as one batch when fewer than `maxInFlight` batches are out. */
  flush(now: number): void {
    if (this.queued.length === 0 || this.inflight.size >= this.limits.maxInFlight) return;
    const waiters = this.queued;
    this.queued = [];
    this.send({ ctx: this.port.nextContext(), waiters, sentAt: now });
  }

  /** Re-sends batches older than `retryMs` under fresh contexts; call on every tick. */
  retry(now: number): void {
    for (const [key, batch] of [...this.inflight]) {
      if (now - batch.sentAt < this.limits.retryMs) continue;
      this.inflight.delete(key);
      this.send({ ctx: this.port.nextContext(), waiters: batch.waiters, sentAt: now });
    }
    this.flush(now);
  }

  /** Takes the core's answers; resolves whoever the state machine already covers. */
  onReadStates(states: readonly ReadState[], now: number): void {
    for (const rs of states) {
      const key = toHex(rs.requestCtx);
      const batch = this.inflight.get(key);
      if (batch === undefined) continue; // an answer to a context we retried or gave up
      this.inflight.delete(key);
      for (const w of batch.waiters) {
        w.index = rs.index;
        this.confirmed.push(w);
      }
    }
    this.onApplied();
    this.flush(now);
  }

  /** Resolves the confirmed reads whose index is now applied. */
  onApplied(): void {
    if (this.confirmed.length === 0) return;
    const applied = this.port.applied();
    const still: Waiter[] = [];
    for (const w of this.confirmed) {
      if (w.index <= applied) {
        this.pending--;
        w.resolve(w.index);
      } else {
        still.push(w);
      }
    }
    this.confirmed = still;
  }

  /** Rejects every caller with `err`. */
  rejectAll(err: unknown): void {
    const all = [...this.queued, ...[...this.inflight.values()].flatMap((b) => b.waiters), ...this.confirmed];
    this.queued = [];
    this.inflight.clear();
    this.confirmed = [];
    this.pending = 0;
    for (const w of all) w.reject(err);
  }

  private send(batch: Batch): void {
    if (batch.waiters.length === 0) return;
    this.inflight.set(toHex(batch.ctx), batch);
    // A request the core drops at once stays in flight and is retried after retryMs.
    this.port.request(batch.ctx);
  }

  private remove(w: Waiter): boolean {
    const from = (list: Waiter[]): boolean => {
      const i = list.indexOf(w);
      if (i < 0) return false;
      list.splice(i, 1);
      return true;
    };
    let found = from(this.queued) || from(this.confirmed);
    if (!found) for (const b of this.inflight.values()) if (from(b.waiters)) found = true;
    if (found) this.pending--;
    return found;
  }
}

function cancelled(): CairnError {
  return new CairnError('CANCELLED', 'the read was cancelled');
}
