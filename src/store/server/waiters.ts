import { assert } from '../../core/index.js';
import { StoreError } from '../errors.js';

/**
 * Proposals of this member awaiting their apply, by request id (etcd's `wait.Wait`).
 *
 * The applier calls {@link trigger} with each applied command's request id and result; the
 * waiter, if this member registered one, settles with it. A waiter is removed exactly once: on
 * trigger, on {@link cancel} (timeout, abort, propose failure) or on {@link failAll} (stop).
 * A result for an id nobody waits on (another member's proposal, or one that timed out) is
 * ignored. At most `max` waiters are held: {@link register} refuses more with `tooManyRequests`.
 */
export class Waiters<T> {
  private readonly pending = new Map<number, { resolve: (v: T) => void; reject: (e: Error) => void }>();

  /** @param max - the most waiters held at once (maxPendingProposals) */
  constructor(private readonly max: number) {}

  /** Waiters held now. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Registers a waiter for `id` and returns the promise it settles.
   *
   * @throws StoreError `tooManyRequests` when `max` waiters are pending
   */
  register(id: number): Promise<T> {
    assert(!this.pending.has(id), `request id ${id} is already awaited`);
    if (this.pending.size >= this.max) throw new StoreError('tooManyRequests');
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
    });
  }

  /** True when a waiter for `id` is pending. */
  has(id: number): boolean {
    return this.pending.has(id);
  }

  /** Settles the waiter for `id` with `value`; a no-op when none is pending. */
  trigger(id: number, value: T): void {
    const w = this.pending.get(id);
    if (w === undefined) return;
    this.pending.delete(id);
    w.resolve(value);
  }

  /** Rejects the waiter for `id` with `error`; a no-op when none is pending. */
  cancel(id: number, error: Error): void {
    const w = this.pending.get(id);
    if (w === undefined) return;
    this.pending.delete(id);
    w.reject(error);
  }

  /** Rejects every pending waiter with `error` (the server is stopping). */
  failAll(error: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const w of all) w.reject(error);
  }
}
