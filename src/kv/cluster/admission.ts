import { CairnError, type Clock } from '../../core/index.js';

/**
 * Admission of calls to one replica: at most `maxActive` at a time per target, the rest wait in
 * FIFO order, each at most until its own deadline.
 *
 * The rpc channel to a peer refuses a call at once when `maxInFlightPerChannel` calls are in flight
 * (`RPC_OVERLOADED`). Under pipelined client load (hundreds of requests in flight per node) that
 * refusal would count as the replica failing, and a QUORUM write would time out while every replica
 * is healthy. Waiting here instead turns overload into latency, bounded by the request's deadline,
 * and keeps room on the channel for hints, anti-entropy and streaming. The waiting queue is
 * bounded too (`maxWaiting` per target): past it, a call is refused as overloaded.
 */
export class Admission {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(
    private readonly clock: Clock,
    private readonly maxActive: number,
    private readonly maxWaiting: number,
  ) {}

  /**
   * Resolves with a release function once a slot for `target` is free; rejects with
   * `RPC_DEADLINE_EXCEEDED` when `deadlineMs` passes first, `RPC_OVERLOADED` when the queue is full.
   * The release function must be called exactly once.
   */
  acquire(target: string, deadlineMs: number): Promise<() => void> {
    const n = this.active.get(target) ?? 0;
    if (n < this.maxActive) {
      this.active.set(target, n + 1);
      return Promise.resolve(this.releaser(target));
    }
    const queue = this.waiting.get(target) ?? [];
    if (queue.length >= this.maxWaiting) {
      return Promise.reject(
        new CairnError('RPC_OVERLOADED', `${queue.length} calls are waiting for kv node "${target}"`),
      );
    }
    this.waiting.set(target, queue);
    return new Promise((resolve, reject) => {
      const admit = () => {
        this.clock.cancel(timer);
        resolve(this.releaser(target));
      };
      const timer = this.clock.setTimer(Math.max(0, deadlineMs), () => {
        const i = queue.indexOf(admit);
        if (i >= 0) queue.splice(i, 1);
        reject(
          new CairnError(
            'RPC_DEADLINE_EXCEEDED',
            `no call slot to kv node "${target}" within ${Math.round(deadlineMs)} ms`,
          ),
        );
      });
      queue.push(admit);
    });
  }

  /** Calls in flight to `target` (for tests and status). */
  activeFor(target: string): number {
    return this.active.get(target) ?? 0;
  }

  private releaser(target: string): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.get(target)?.shift();
      if (next !== undefined) {
        next(); // the slot passes straight to the next waiter
        return;
      }
      if (this.waiting.get(target)?.length === 0) this.waiting.delete(target);
      const n = (this.active.get(target) ?? 1) - 1;
      if (n <= 0) this.active.delete(target);
      else this.active.set(target, n);
    };
  }
}
