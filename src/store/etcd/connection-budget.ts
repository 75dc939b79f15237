import type { Clock, TimerHandle } from '../../core/clock.js';
import { GRPC } from '../errors.js';
import type { GrpcStatus } from './grpc-wire.js';

/** Limits of one {@link ConnectionBudget}. */
export interface ConnectionBudgetLimits {
  /** Response bytes the connection may hold unsent before it is `over`. */
  readonly maxQueuedResponseBytes: number;
  /** Request bytes its calls may hold before a call that adds more is refused. */
  readonly maxBufferedRequestBytes: number;
  /** How long it may stay over with nothing given back before `onStalled`. */
  readonly stallMs: number;
}

/** Limits of a {@link ServerBudget}. */
export interface ServerBudgetLimits {
  /** Response bytes all connections together may hold unsent. */
  readonly maxQueuedResponseBytes: number;
  /** Request bytes all connections' calls together may hold. */
  readonly maxBufferedRequestBytes: number;
  /**
   * What one connection may hold of either kind without being refused for the server's totals:
   * while a total is over its limit, only connections holding more than this are held back.
   */
  readonly connectionShareBytes: number;
  /** How long a connection held back for the totals may give back nothing before it is cut. */
  readonly stallMs: number;
}

/**
 * The bytes all connections of one server hold together, bounded so that `maxConnections`
 * connections, each within its own limits, cannot make the node hold their product.
 *
 * Contract:
 * - While the queued total is over its limit, every connection holding more than
 *   `connectionShareBytes` of queued responses is `over` (its new calls are refused, its streams
 *   wait); connections holding less go on, so a client that reads its answers is not refused
 *   for what others hold. The same rule holds for request bytes (`requestOver`). Together the
 *   node holds at most the total plus `connectionShareBytes` per connection, and one reply per
 *   call admitted before the bound was crossed.
 * - A waiter of a connection that is over only because of the total runs once the total is back
 *   at or under its limit (or the connection drained to its share).
 * - While the queued total is over, it checks the connections every `stallMs`: one that held more
 *   than its share at two checks in a row and gave back no byte between them is reported stalled
 *   (its `onStalled` runs once), so a reader that stalls is cut within twice `stallMs`.
 */
export class ServerBudget {
  /** Response bytes written on any connection and not yet given back. */
  queued = 0;
  /** Request bytes every connection's calls hold. */
  requestBytes = 0;
  readonly limit: number;
  readonly requestLimit: number;
  readonly share: number;
  private readonly stallMs: number;
  private readonly connections = new Set<ConnectionBudget>();
  /** Connections with waiters, woken when the total drops back under its limit. */
  private readonly waiting = new Set<ConnectionBudget>();
  private timer: TimerHandle | undefined = undefined;

  constructor(
    limits: ServerBudgetLimits,
    private readonly clock: Clock,
  ) {
    this.limit = limits.maxQueuedResponseBytes;
    this.requestLimit = limits.maxBufferedRequestBytes;
    this.share = limits.connectionShareBytes;
    this.stallMs = limits.stallMs;
  }

  /** True while the queued total exceeds its limit. */
  get over(): boolean {
    return this.queued > this.limit;
  }

  /** True while the request bytes held exceed their limit. */
  get requestOver(): boolean {
    return this.requestBytes > this.requestLimit;
  }

  /** Open connections counted (for tests). */
  get size(): number {
    return this.connections.size;
  }

  /** Stops the stall check and forgets every connection (the server closed). */
  dispose(): void {
    if (this.timer !== undefined) this.clock.cancel(this.timer);
    this.timer = undefined;
    this.connections.clear();
    this.waiting.clear();
  }

  /** @internal A connection opened. */
  attach(connection: ConnectionBudget): void {
    this.connections.add(connection);
  }

  /** @internal A connection closed: what it still counted was given back by its calls. */
  detach(connection: ConnectionBudget): void {
    this.connections.delete(connection);
    this.waiting.delete(connection);
  }

  /** @internal */
  add(bytes: number): void {
    this.queued += bytes;
    if (this.queued > this.limit && this.timer === undefined) this.armStallCheck();
  }

  /** @internal */
  release(bytes: number): void {
    const wasOver = this.queued > this.limit;
    this.queued -= bytes;
    if (wasOver && this.queued <= this.limit && this.waiting.size > 0) {
      for (const c of [...this.waiting]) c.wakeIfBelow();
    }
  }

  /** @internal The connection has waiters that the total may be holding back. */
  wait(connection: ConnectionBudget): void {
    this.waiting.add(connection);
  }

  /** @internal */
  unwait(connection: ConnectionBudget): void {
    this.waiting.delete(connection);
  }

  private armStallCheck(): void {
    for (const c of this.connections) c.markStallCheck();
    this.timer = this.clock.setTimer(this.stallMs, () => this.checkStalls());
  }

  private checkStalls(): void {
    this.timer = undefined;
    if (!this.over) return;
    for (const c of [...this.connections]) c.checkSharedStall();
    this.timer = this.clock.setTimer(this.stallMs, () => this.checkStalls());
  }
}

/**
 * The bytes one HTTP/2 connection of the etcd API makes the server hold, counted so that they can
 * be bounded per connection (see grpc-server.ts), and within a {@link ServerBudget} for all of
 * them:
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
 * - `over` is true while `queued` exceeds `limit`, or exceeds the server's share while the
 *   server's total is over its own limit; callers refuse new work on the connection then.
 * - {@link whenBelow} runs its callback once the connection is no longer `over` (at once if it is
 *   not), in the order they were registered.
 * - While over its own limit, if no byte is given back for `stallMs`, `onStalled` runs once (the
 *   server then closes the connection); any byte given back restarts that wait. The server budget
 *   reports the same for a connection held back by the totals.
 * - {@link addRequestBytes} keeps the request count (here and in the server's total);
 *   `requestOver` says whether the connection may hold no more.
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
  /** Times bytes were given back (the server's stall check compares it between checks). */
  private releases = 0;
  /** `releases` at the server's last stall check, or -1 when the connection held its share then. */
  private releasesAtCheck = -1;

  constructor(
    limits: ConnectionBudgetLimits,
    private readonly clock: Clock,
    private readonly onStalled: () => void,
    private readonly server?: ServerBudget,
  ) {
    this.limit = limits.maxQueuedResponseBytes;
    this.requestLimit = limits.maxBufferedRequestBytes;
    this.stallMs = limits.stallMs;
    server?.attach(this);
  }

  /** True while the connection may queue no more responses (see the class contract). */
  get over(): boolean {
    if (this.queued > this.limit) return true;
    const server = this.server;
    return server !== undefined && this.queued > server.share && server.queued > server.limit;
  }

  /** True while the connection's calls may hold no more request bytes. */
  get requestOver(): boolean {
    if (this.requestBytes > this.requestLimit) return true;
    const server = this.server;
    return server !== undefined && this.requestBytes > server.share && server.requestOver;
  }

  /** `bytes` were written to one of the connection's streams. */
  add(bytes: number): void {
    this.queued += bytes;
    this.server?.add(bytes);
    if (this.queued > this.limit && this.timer === undefined && !this.stalled) this.armStallTimer();
  }

  /** `bytes` left the connection (or their stream was destroyed). */
  release(bytes: number): void {
    this.queued -= bytes;
    this.releases++;
    this.server?.release(bytes);
    if (this.timer !== undefined) this.progressAt = this.clock.now();
    if (this.waiters.length > 0 && !this.over) this.wake();
  }

  /** Adds `delta` (negative to give back) to the request bytes the connection's calls hold. */
  addRequestBytes(delta: number): void {
    this.requestBytes += delta;
    if (this.server !== undefined) this.server.requestBytes += delta;
  }

  /** Runs `fn` once the connection is no longer over its limit. */
  whenBelow(fn: () => void): void {
    if (!this.over) {
      fn();
      return;
    }
    this.waiters.push(fn);
    this.server?.wait(this);
  }

  /** The RESOURCE_EXHAUSTED answer to a call refused because the connection is `over`. */
  queuedRefusal(): GrpcStatus {
    if (this.queued > this.limit)
      return {
        code: GRPC.RESOURCE_EXHAUSTED,
        details: `grpc: the connection has ${this.queued} response bytes unsent, over its limit of ${this.limit}: read the responses of its other calls first`,
      };
    const server = this.server;
    return {
      code: GRPC.RESOURCE_EXHAUSTED,
      details: `grpc: the server has ${server?.queued} response bytes unsent, over its limit of ${server?.limit}, and this connection holds ${this.queued} of them: read the responses of its other calls first`,
    };
  }

  /** The RESOURCE_EXHAUSTED answer to a call whose request bytes took the connection over. */
  requestRefusal(): GrpcStatus {
    if (this.requestBytes > this.requestLimit)
      return {
        code: GRPC.RESOURCE_EXHAUSTED,
        details: `grpc: the connection's calls hold ${this.requestBytes} request bytes not yet complete, over its limit of ${this.requestLimit}`,
      };
    const server = this.server;
    return {
      code: GRPC.RESOURCE_EXHAUSTED,
      details: `grpc: the server's calls hold ${server?.requestBytes} request bytes not yet complete, over its limit of ${server?.requestLimit}, and this connection's ${this.requestBytes} of them`,
    };
  }

  /** Stops the stall timer, forgets the waiters and leaves the server's count (the connection closed). */
  dispose(): void {
    if (this.timer !== undefined) this.clock.cancel(this.timer);
    this.timer = undefined;
    this.waiters = [];
    this.server?.detach(this);
  }

  /** @internal Called by the server budget when its total may have dropped under its limit. */
  wakeIfBelow(): void {
    if (this.waiters.length > 0 && !this.over) this.wake();
  }

  /** @internal The server starts checking for stalls: remember where this connection stands. */
  markStallCheck(): void {
    this.releasesAtCheck = this.holdsShare() ? this.releases : -1;
  }

  /**
   * @internal The server's periodic check while its total is over: a connection that held more
   * than its share at the last check and now, with nothing given back in between, is stalled.
   */
  checkSharedStall(): void {
    const holding = this.holdsShare();
    if (holding && this.releasesAtCheck === this.releases && !this.stalled) {
      this.stalled = true;
      this.onStalled();
      return;
    }
    this.releasesAtCheck = holding ? this.releases : -1;
  }

  /** True when the connection holds more queued bytes than the server lets it keep while over. */
  private holdsShare(): boolean {
    return this.server !== undefined && this.queued > this.server.share;
  }

  private wake(): void {
    this.server?.unwait(this);
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
