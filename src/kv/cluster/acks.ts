import { type Clock, FifoDeadlines } from '../../core/index.js';

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
 * The deadlines of a coordinator's write waits, with one timer for all of them: every wait gets
 * the same timeout, so a FIFO queue serves them (see core's {@link FifoDeadlines}; a wait ends
 * timed out at its deadline unless it ended before).
 */
export class AckDeadlines extends FifoDeadlines<AckWait> {
  constructor(clock: Clock) {
    super(clock, { expire: (w) => w.end(true), live: (w) => !w.done });
  }
}
