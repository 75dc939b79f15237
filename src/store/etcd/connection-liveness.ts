import type { Clock, TimerHandle } from '../../core/clock.js';

/** Limits of one {@link ConnectionLiveness}. */
export interface ConnectionLivenessLimits {
  /** How long the connection may go with no call open before it is closed. */
  readonly idleMs: number;
  /** How often the server pings the connection's peer. */
  readonly keepAliveIntervalMs: number;
  /** How long a ping may go unanswered before the connection is counted dead. */
  readonly keepAliveTimeoutMs: number;
}

/** What a {@link ConnectionLiveness} acts on: one HTTP/2 connection. */
export interface LivenessTarget {
  /**
   * Sends a ping; `onAck` runs once with true when the peer answered, false when the ping failed
   * (the connection closed). Returns false when no ping could be sent.
   */
  ping(onAck: (ok: boolean) => void): boolean;
  /** The connection had no call open for `idleMs`: close it gracefully (GOAWAY, no error). */
  closeIdle(): void;
  /** A ping went unanswered for `keepAliveTimeoutMs`: cut the connection. */
  closeDead(): void;
}

/**
 * Frees the connection slots of clients that are gone or done, as grpc-go's server keepalive
 * (`MaxConnectionIdle`, and the `Time` and `Timeout` etcd sets with `--grpc-keepalive-interval`
 * and `--grpc-keepalive-timeout`) does:
 *
 * - Idle: once the connection has had no call open for `idleMs`, `closeIdle` runs (once). A call
 *   opening restarts the wait. gRPC clients reconnect on their next call, so an idle client loses
 *   nothing; an abandoned one stops holding one of `maxConnections`.
 * - Keep-alive: `keepAliveIntervalMs` after the connection opened, and after each answer, the peer
 *   is pinged; if it has not answered within
 *   `keepAliveTimeoutMs`, `closeDead` runs (once). A peer that vanished (power loss, a network cut)
 *   never closes its watch streams, and TCP alone does not notice it while the server has nothing
 *   to send.
 *
 * Nothing runs after {@link dispose}. Each connection holds two timers at most.
 */
export class ConnectionLiveness {
  private open = 0;
  /** When the last call closed with none left open (valid while `open` is 0). */
  private idleSince: number;
  private idleTimer: TimerHandle | undefined = undefined;
  private pingTimer: TimerHandle | undefined = undefined;
  private ackTimer: TimerHandle | undefined = undefined;
  private done = false;

  constructor(
    private readonly limits: ConnectionLivenessLimits,
    private readonly clock: Clock,
    private readonly target: LivenessTarget,
  ) {
    this.idleSince = clock.now();
    this.idleTimer = clock.setTimer(limits.idleMs, this.checkIdle);
    this.pingTimer = clock.setTimer(limits.keepAliveIntervalMs, this.sendPing);
  }

  /** Calls open on the connection. */
  get calls(): number {
    return this.open;
  }

  /** A call (stream) opened on the connection. */
  callOpened(): void {
    this.open++;
  }

  /** A call (stream) of the connection closed. */
  callClosed(): void {
    if (this.open === 0) return;
    this.open--;
    if (this.open === 0) this.idleSince = this.clock.now();
  }

  /** Stops every timer (the connection closed). */
  dispose(): void {
    this.done = true;
    for (const t of [this.idleTimer, this.pingTimer, this.ackTimer])
      if (t !== undefined) this.clock.cancel(t);
    this.idleTimer = this.pingTimer = this.ackTimer = undefined;
  }

  private readonly checkIdle = (): void => {
    this.idleTimer = undefined;
    if (this.done) return;
    const idleMs = this.clock.now() - this.idleSince;
    if (this.open === 0 && idleMs >= this.limits.idleMs) {
      this.dispose();
      this.target.closeIdle();
      return;
    }
    const wait = this.open === 0 ? this.limits.idleMs - idleMs : this.limits.idleMs;
    this.idleTimer = this.clock.setTimer(wait, this.checkIdle);
  };

  private readonly sendPing = (): void => {
    this.pingTimer = undefined;
    if (this.done) return;
    let answered = false;
    const sent = this.target.ping((ok) => {
      if (answered || this.done) return;
      answered = true;
      if (this.ackTimer !== undefined) this.clock.cancel(this.ackTimer);
      this.ackTimer = undefined;
      if (ok) this.pingTimer = this.clock.setTimer(this.limits.keepAliveIntervalMs, this.sendPing);
    });
    if (!sent) {
      this.pingTimer = this.clock.setTimer(this.limits.keepAliveIntervalMs, this.sendPing);
      return;
    }
    if (answered) return;
    this.ackTimer = this.clock.setTimer(this.limits.keepAliveTimeoutMs, () => {
      this.ackTimer = undefined;
      if (this.done || answered) return;
      answered = true;
      this.dispose();
      this.target.closeDead();
    });
  };
}
