import { CairnError, type Clock, Rng, sleep, systemClock, withLimits } from '../core/index.js';
import type { Address, Stream, Transport } from './types.js';

/** Limits of a {@link StreamPool}; defaults in {@link POOL_LIMITS}. */
export interface PoolLimits {
  readonly maxStreams: number;
  readonly maxTrackedAddresses: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

/** Default {@link PoolLimits}. */
export const POOL_LIMITS: PoolLimits = Object.freeze({
  /** Pooled streams; past it the least recently used one is closed. 256 peers covers a large LAN cluster's working set. */
  maxStreams: 256,
  /** Addresses whose failures are remembered for backoff; bounds memory under churn of dead peers. */
  maxTrackedAddresses: 4096,
  /** First re-dial delay after a failure, in ms; doubled per consecutive failure. */
  backoffBaseMs: 100,
  /** Longest re-dial delay, in ms: a restarted peer is found again within 30 s. */
  backoffMaxMs: 30_000,
});

/** Options for {@link StreamPool}. */
export interface StreamPoolOptions {
  /** Clock for backoff; default the system clock. */
  clock?: Clock;
  /** Randomness for backoff jitter; default a randomly seeded Rng (pass one for replayable runs). */
  rng?: Rng;
  /** Overrides of {@link POOL_LIMITS}. */
  limits?: Partial<PoolLimits>;
  /** Dial timeout in ms; default the transport's. */
  dialTimeoutMs?: number;
  /**
   * Called once for each newly dialed stream before any caller of `get` receives it: the place
   * to set `onFrame`/`onClose` for the connection.
   */
  onOpen?: (stream: Stream, address: Address) => void;
}

/** Options for {@link StreamPool.get}. */
export interface PoolGetOptions {
  /** Gives up waiting with `CANCELLED` (the shared dial itself goes on for other callers). */
  signal?: AbortSignal;
  /**
   * While the address is backing off after a failure: `false` (default) rejects at once with
   * `TRANSPORT_UNREACHABLE`; `true` waits for the backoff to end and then dials.
   */
  waitForReady?: boolean;
}

interface Failure {
  count: number;
  retryAt: number;
}

/**
 * Connection reuse and reconnect over any {@link Transport}: one open stream per address.
 *
 * `get(address)` returns the pooled open stream, or dials one; concurrent callers share one dial.
 * A closed stream is noticed on the next `get` and replaced. After a failed dial the address backs
 * off exponentially (base 100 ms, doubling, capped at 30 s) with equal jitter (half fixed, half
 * random), and a success resets it. The pool holds at most `maxStreams` streams and closes the
 * least recently used one to make room.
 *
 * Contract: the pool never sets handlers on a stream; `onOpen` is where the owner sets them.
 * An evicted stream is closed cleanly (queued frames are flushed). After `close()`, `get` rejects
 * with `TRANSPORT_CLOSED`.
 *
 * @example
 * ```ts
 * const pool = new StreamPool(transport, { rng: root.child('pool'), onOpen: (s) => s.onFrame(onReply) });
 * (await pool.get(peer)).send(request);
 * ```
 */
export class StreamPool {
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly limits: PoolLimits;
  private readonly options: StreamPoolOptions;
  private readonly streams = new Map<Address, Stream>();
  private readonly dialing = new Map<Address, Promise<Stream>>();
  private readonly failures = new Map<Address, Failure>();
  private readonly shutdown = new AbortController();
  private closed = false;

  /**
   * @param transport - the transport to dial with
   * @param options - clock, rng, limits, dial timeout and the `onOpen` hook
   */
  constructor(transport: Transport, options: StreamPoolOptions = {}) {
    this.transport = transport;
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.rng = options.rng ?? Rng.fromSeed(Rng.randomSeed());
    this.limits = withLimits<Record<keyof PoolLimits, number>>(POOL_LIMITS, options.limits);
  }

  /** Pooled streams (open or not yet noticed closed). */
  get size(): number {
    return this.streams.size;
  }

  /** The pooled open stream to `address`, without dialing. */
  peek(address: Address): Stream | undefined {
    const stream = this.streams.get(address);
    return stream?.open ? stream : undefined;
  }

  /**
   * The open stream to `address`, dialing when there is none.
   *
   * Rejects with the dial's error (`TRANSPORT_UNREACHABLE`, `TIMEOUT`, ...), with
   * `TRANSPORT_UNREACHABLE` while the address backs off (unless `waitForReady`), `CANCELLED` on
   * abort and `TRANSPORT_CLOSED` once the pool is closed.
   */
  get(address: Address, options: PoolGetOptions = {}): Promise<Stream> {
    if (this.closed) return Promise.reject(new CairnError('TRANSPORT_CLOSED', 'stream pool is closed'));
    const stream = this.streams.get(address);
    if (stream !== undefined) {
      this.streams.delete(address);
      if (stream.open) {
        this.streams.set(address, stream); // most recently used goes last
        return Promise.resolve(stream);
      }
    }
    let dial = this.dialing.get(address);
    if (dial === undefined) {
      const failure = this.failures.get(address);
      const waitMs = failure === undefined ? 0 : failure.retryAt - this.clock.now();
      if (waitMs > 0 && options.waitForReady !== true) {
        return Promise.reject(
          new CairnError(
            'TRANSPORT_UNREACHABLE',
            `${address} failed ${failure!.count} time(s); next dial in ${Math.ceil(waitMs)} ms`,
          ),
        );
      }
      dial = this.dial(address, waitMs);
      this.dialing.set(address, dial);
      const forget = () => this.dialing.delete(address);
      dial.then(forget, forget);
    }
    return withSignal(dial, options.signal, address);
  }

  /** Closes every pooled stream and refuses further `get`s. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.shutdown.abort();
    for (const stream of this.streams.values()) stream.close();
    this.streams.clear();
    this.failures.clear();
    await Promise.allSettled([...this.dialing.values()]);
  }

  private async dial(address: Address, waitMs: number): Promise<Stream> {
    if (waitMs > 0) await sleep(this.clock, waitMs, this.shutdown.signal);
    let stream: Stream;
    try {
      const timeout = this.options.dialTimeoutMs;
      stream = await this.transport.dial(address, {
        signal: this.shutdown.signal,
        ...(timeout === undefined ? {} : { timeoutMs: timeout }),
      });
    } catch (err) {
      if (!this.closed) this.recordFailure(address);
      throw this.closed
        ? new CairnError('TRANSPORT_CLOSED', 'stream pool closed while dialing', { cause: err })
        : err;
    }
    if (this.closed) {
      stream.close();
      throw new CairnError('TRANSPORT_CLOSED', 'stream pool closed while dialing');
    }
    this.failures.delete(address);
    this.insert(address, stream);
    this.options.onOpen?.(stream, address);
    return stream;
  }

  private insert(address: Address, stream: Stream): void {
    while (this.streams.size >= this.limits.maxStreams) {
      const [oldest, victim] = this.streams.entries().next().value as [Address, Stream];
      this.streams.delete(oldest);
      victim.close();
    }
    this.streams.set(address, stream);
  }

  private recordFailure(address: Address): void {
    const previous = this.failures.get(address);
    const count = (previous?.count ?? 0) + 1;
    this.failures.delete(address);
    if (this.failures.size >= this.limits.maxTrackedAddresses) {
      const oldest = this.failures.keys().next().value as Address;
      this.failures.delete(oldest);
    }
    this.failures.set(address, { count, retryAt: this.clock.now() + this.backoffMs(count) });
  }

  /** Equal jitter: half of the exponential delay is fixed, the other half random. */
  private backoffMs(failures: number): number {
    const { backoffBaseMs, backoffMaxMs } = this.limits;
    const delay = Math.min(backoffMaxMs, backoffBaseMs * 2 ** Math.min(failures - 1, 30));
    return delay / 2 + this.rng.float() * (delay / 2);
  }
}

function withSignal(
  dial: Promise<Stream>,
  signal: AbortSignal | undefined,
  address: Address,
): Promise<Stream> {
  if (signal === undefined) return dial;
  if (signal.aborted)
    return Promise.reject(new CairnError('CANCELLED', `waiting for a stream to ${address} was cancelled`));
  return new Promise((resolve, reject) => {
    const onAbort = () =>
      reject(new CairnError('CANCELLED', `waiting for a stream to ${address} was cancelled`));
    signal.addEventListener('abort', onAbort, { once: true });
    dial.then(
      (s) => {
        signal.removeEventListener('abort', onAbort);
        resolve(s);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
