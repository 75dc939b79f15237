import type { Clock, TimerHandle } from '../../core/index.js';

/** How a write's wait for acknowledgements ended. */
export interface AckOutcome {
  /** Replicas that acknowledged before the wait ended. */
  readonly acks: number;
  /** Why replicas failed, by name (those that failed before the wait ended); empty when none did. */
  readonly failures: ReadonlyMap<string, unknown>;
  /** True when the deadline (or the signal) ended the wait before `needed` acknowledgements. */
  readonly timedOut: boolean;
}

const NO_FAILURES: ReadonlyMap<string, unknown> = new Map();

/**
 * One write's wait for `needed` acknowledgements out of `total` calls: what `gather` does for a
 * write, without a map of answers, a closure per call or a timer of its own (the
 * {@link AckDeadlines} it is registered with holds one timer for every wait). Ends, once, when
 * `needed` calls acknowledged, when every call settled, at its deadline, or when `signal` aborts.
 */
export class AckWait {
  private acks = 0;
  private settled = 0;
  private failures: Map<string, unknown> | undefined;
  /** True once the wait ended; later answers are ignored. */
  done = false;
  /** The clock reading at which the wait times out. */
  readonly at: number;
  private readonly resolve: (o: AckOutcome) => void;
  /** Pass as a call's fulfilment handler (the same function for every call of the wait). */
  readonly ack = (): void => {
    if (this.done) return;
    this.acks++;
    this.settled++;
    this.check();
  };
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly needed: number,
    private readonly total: number,
    at: number,
    resolve: (o: AckOutcome) => void,
    signal?: AbortSignal,
  ) {
    this.at = at;
    this.resolve = resolve;
    this.signal = signal;
    if (signal !== undefined) {
      this.onAbort = () => this.end(true);
      signal.addEventListener('abort', this.onAbort, { once: true });
    } else this.onAbort = undefined;
  }

  /** Records `name`'s failure. */
  fail(name: string, err: unknown): void {
    if (this.done) return;
    if (this.failures === undefined) this.failures = new Map();
    this.failures.set(name, err);
    this.settled++;
    this.check();
  }

  /** Ends the wait now if it is already decided (no call, or an aborted signal). */
  check(): void {
    if (this.done) return;
    if (this.signal?.aborted === true) this.end(true);
    else if (this.acks >= this.needed || this.settled >= this.total) this.end(false);
  }

  /** Ends the wait (the deadline passed when `timedOut`). */
  end(timedOut: boolean): void {
    if (this.done) return;
    this.done = true;
    if (this.onAbort !== undefined) this.signal?.removeEventListener('abort', this.onAbort);
    this.resolve({ acks: this.acks, failures: this.failures ?? NO_FAILURES, timedOut });
  }
}

/**
 * The deadlines of a coordinator's write waits, with one timer for all of them. Every wait gets
 * the same timeout, so deadlines arrive in the order waits are added and the queue is FIFO: the
 * timer is set for the oldest wait still running, and ended waits at the head are dropped as new
 * ones are added. (Should the clock step back, a wait behind a later deadline times out when
 * that one does: late by at most the step, never early.)
 *
 * Bound: the queue holds the running waits plus the ended ones behind the oldest running wait,
 * that is at most the waits added in one timeout.
 */
export class AckDeadlines {
  private queue: AckWait[] = [];
  private head = 0;
  private timer: TimerHandle | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(private readonly clock: Clock) {}

  /** Watches `wait`'s deadline (`wait.at`). */
  add(wait: AckWait): void {
    this.dropEnded();
    this.queue.push(wait);
    this.arm();
  }

  private dropEnded(): void {
    const q = this.queue;
    while (this.head < q.length && q[this.head]!.done) this.head++;
    if (this.head === q.length) {
      q.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= q.length) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
  }

  /** Sets the timer for the oldest running wait, unless one is set for that moment or earlier. */
  private arm(): void {
    if (this.head >= this.queue.length) return;
    const at = this.queue[this.head]!.at;
    if (this.timer !== undefined && this.timerAt <= at) return;
    if (this.timer !== undefined) this.clock.cancel(this.timer);
    this.timerAt = at;
    this.timer = this.clock.setTimer(Math.max(0, at - this.clock.now()), this.fire);
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    const q = this.queue;
    while (this.head < q.length) {
      const w = q[this.head]!;
      if (!w.done && w.at > now) break;
      this.head++;
      w.end(true);
    }
    this.dropEnded();
    this.arm();
  };
}
