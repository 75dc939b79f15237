import type { Clock, TimerHandle } from '../../core/clock.js';

/** Limits of one {@link ConnectionBudget}. */
export interface ConnectionBudgetLimits {
  /** Response bytes the connection may hold unsent before it is `over`. */
  readonly maxQueuedResponseBytes: number;
  /** Request bytes its calls may hold before a call that adds more is refused. */
  readonly maxBufferedRequestBytes: number;
  /** How long it may stay over with nothing given back before `onStalled`. */
  readonly stallMs: number;
}

/**
 * The bytes one HTTP/2 connection of the etcd API makes the server hold, counted so that they can
 * be bounded per connection (see grpc-server.ts):
 *
 * - Response bytes written and unsent (`queued`): what its calls wrote (a unary reply's frame, a
 *   stream's messages) that the session has not handed to the socket yet. A client that opens
 *   many streams and never reads leaves all of it queued in Node's buffers.
 * - Request bytes held (`requestBytes`): partial messages its calls' readers gather, and unary
 *   requests waiting for the client's half-close. A client that starts many requests and never
 *   finishes them leaves those in memory.
 *
 * Accounting (grpc-call.ts): a unary reply counts from its write until its stream closes (the
 * trailers follow the data, so the stream closes once the reply left the session); a streaming
 * write counts until the stream's write callback, which Node calls once the bytes went to the
 * socket (or the stream was destroyed). A call gives back what it still holds when its stream
 * closes, so a callback Node never calls cannot leak the count.
 *
 * Contract:
 * - `over` is true while `queued` exceeds `limit`; callers refuse new work on the connection then.
 * - {@link whenBelow} runs its callback once `queued` is back at or under `limit` (at once if it
 *   already is not over), in the order they were registered.
 * - While over, if no byte is given back for `stallMs`, `onStalled` runs once (the server then
 *   closes the connection); any byte given back restarts that wait.
 * - `requestBytes` is a plain counter the calls keep; `requestLimit` is its bound.
 */
export class ConnectionBudget {
  /** Response bytes written to the connection's streams and not yet given back. */
  queued = 0;
  /** Request bytes the connection's calls hold (partial messages, unary requests not yet ended). */
  requestBytes = 0;
  readonly limit: number;
  readonly requestLimit: number;
  private readonly stallMs: number;
  private waiters: (() => void)[] = [];
  private timer: TimerHandle | undefined = undefined;
  /** When bytes were last given back while the stall timer ran. */
  private progressAt = 0;
  private stalled = false;

  constructor(
    limits: ConnectionBudgetLimits,
    private readonly clock: Clock,
    private readonly onStalled: () => void,
  ) {
    this.limit = limits.maxQueuedResponseBytes;
    this.requestLimit = limits.maxBufferedRequestBytes;
    this.stallMs = limits.stallMs;
  }

  /** True while more than `limit` bytes are queued. */
  get over(): boolean {
    return this.queued > this.limit;
  }

  /** `bytes` were written to one of the connection's streams. */
  add(bytes: number): void {
    this.queued += bytes;
    if (this.queued > this.limit && this.timer === undefined && !this.stalled) this.armStallTimer();
  }

  /** `bytes` left the connection (or their stream was destroyed). */
  release(bytes: number): void {
    this.queued -= bytes;
    if (this.timer !== undefined) this.progressAt = this.clock.now();
    if (this.waiters.length > 0 && this.queued <= this.limit) this.wake();
  }

  /** Runs `fn` once the connection is no longer over its limit. */
  whenBelow(fn: () => void): void {
    if (this.queued <= this.limit) fn();
    else this.waiters.push(fn);
  }

  /** Stops the stall timer and forgets the waiters (the connection closed). */
  dispose(): void {
    if (this.timer !== undefined) this.clock.cancel(this.timer);
    this.timer = undefined;
    this.waiters = [];
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const fn of waiters) fn();
  }

  private armStallTimer(): void {
    this.progressAt = this.clock.now();
    this.timer = this.clock.setTimer(this.stallMs, () => this.checkStall());
  }

  private checkStall(): void {
    this.timer = undefined;
    if (this.queued <= this.limit) return;
    const idleMs = this.clock.now() - this.progressAt;
    if (idleMs >= this.stallMs) {
      this.stalled = true;
      this.onStalled();
      return;
    }
    this.timer = this.clock.setTimer(this.stallMs - idleMs, () => this.checkStall());
  }
}
