import { CairnError, type Clock, type Logger, type Rng, systemClock, withLimits } from '../core/index.js';
import { type PoolLimits, StreamPool } from '../transport/pool.js';
import type { Address, Stream, Transport } from '../transport/types.js';
import { RpcChannel, type RpcChannelOptions } from './channel.js';
import { callError } from './errors.js';
import { DEFAULT_DEADLINE_MS, DEFAULT_LIMITS, type RpcLimits } from './limits.js';
import type { CallOptions, MethodTable, RpcMethod } from './method.js';

/** Options of an {@link RpcClient}. */
export interface RpcClientOptions {
  /** Clock for deadlines and redial backoff; default the system clock. */
  clock?: Clock;
  /** Jitter of the redial backoff; pass one derived from the run's seed for replayable runs. */
  rng?: Rng;
  /** Overrides of {@link DEFAULT_LIMITS} for the client's channels. */
  limits?: Partial<RpcLimits>;
  /** Overrides of the stream pool's limits (`maxStreams` bounds the peers held open; backoff). */
  poolLimits?: Partial<PoolLimits>;
  /** Dial timeout in ms; default the transport's (a call's own deadline still applies). */
  dialTimeoutMs?: number;
  /** Deadline of a call that gives none, in ms; default 30 s. */
  defaultDeadlineMs?: number;
  /** Logger; default silent. */
  logger?: Logger;
  /** Handlers for calls the peers make back over the client's streams; default none. */
  methods?: MethodTable;
}

/**
 * Calls peers by address over one transport, keeping one channel (one stream) per peer.
 *
 * Streams come from a {@link StreamPool}: the first call to an address dials, concurrent calls
 * share that dial, later calls reuse the channel while its stream is open, and a closed stream is
 * replaced on the next call. After a failed dial the address backs off (exponential, jittered);
 * calls during the backoff fail at once with `TRANSPORT_UNREACHABLE` instead of dialling again.
 *
 * Contract: the call's deadline and signal cover the dial too. A dial that fails rejects the call
 * with the transport's error (`TRANSPORT_UNREACHABLE`, `TIMEOUT`, `TRANSPORT_CLOSED`), which tells
 * the caller the request was never sent; every other outcome is an {@link RpcChannel.call}
 * outcome. The pool holds at most `poolLimits.maxStreams` streams (default 256) and closes the
 * least recently used one to make room: its pending calls reject with RPC_CONNECTION_LOST. After
 * {@link close}, calls reject with CLOSED.
 *
 * @example
 * ```ts
 * const client = new RpcClient(transport, { clock, rng: root.child('rpc') });
 * const reply = await client.call('10.0.0.2:7000', Echo, { text: 'hi' }, { deadlineMs: 500 });
 * ```
 */
export class RpcClient {
  /** The limits of the client's channels. */
  readonly limits: RpcLimits;
  private readonly clock: Clock;
  private readonly defaultDeadlineMs: number;
  private readonly pool: StreamPool;
  private readonly channelOptions: RpcChannelOptions;
  private readonly channels = new Map<Address, RpcChannel>();
  private closed = false;

  /**
   * @param transport - the transport to dial through
   * @param options - see {@link RpcClientOptions}
   */
  constructor(transport: Transport, options: RpcClientOptions = {}) {
    this.limits = withLimits(DEFAULT_LIMITS, options.limits);
    this.clock = options.clock ?? systemClock;
    this.defaultDeadlineMs = options.defaultDeadlineMs ?? DEFAULT_DEADLINE_MS;
    const { methods, logger, rng, poolLimits, dialTimeoutMs } = options;
    this.channelOptions = {
      clock: this.clock,
      limits: this.limits,
      defaultDeadlineMs: this.defaultDeadlineMs,
      ...(methods === undefined ? {} : { methods }),
      ...(logger === undefined ? {} : { logger }),
    };
    this.pool = new StreamPool(transport, {
      clock: this.clock,
      onOpen: (stream, address) => this.attach(stream, address),
      ...(rng === undefined ? {} : { rng }),
      // PoolLimits is typed with its default literals; any positive number is valid (checked by the pool).
      ...(poolLimits === undefined ? {} : { limits: poolLimits }),
      ...(dialTimeoutMs === undefined ? {} : { dialTimeoutMs }),
    });
  }

  /**
   * Calls `method` on the peer at `address`.
   *
   * @param address - the peer's transport address
   * @param method - the method descriptor
   * @param request - the request
   * @param options - deadline (covering the dial; default `defaultDeadlineMs`) and cancellation
   */
  async call<Req, Res>(
    address: Address,
    method: RpcMethod<Req, Res>,
    request: Req,
    options: CallOptions = {},
  ): Promise<Res> {
    const budget = options.deadlineMs ?? this.defaultDeadlineMs;
    const existing = this.channels.get(address);
    if (existing?.open) return existing.call(method, request, { ...options, deadlineMs: budget });
    const start = this.clock.now();
    const channel = await this.connectWithin(address, method.name, budget, options.signal);
    const left = Math.max(0, budget - (this.clock.now() - start));
    return channel.call(method, request, { ...options, deadlineMs: left });
  }

  /**
   * The open channel to `address`, dialling when there is none: to pin several calls to one
   * stream, or to watch `channel.closed`.
   */
  async channel(address: Address): Promise<RpcChannel> {
    if (this.closed) throw new CairnError('CLOSED', 'the rpc client is closed');
    const existing = this.channels.get(address);
    if (existing?.open) return existing;
    let stream: Stream;
    try {
      stream = await this.pool.get(address);
    } catch (err) {
      if (this.closed) throw new CairnError('CLOSED', 'the rpc client is closed', { cause: err });
      throw err;
    }
    const channel = this.channels.get(address);
    if (channel !== undefined && channel.stream === stream) return channel;
    // A stream the pool opened before this client attached (cannot happen with our own pool).
    throw new CairnError('ASSERTION_FAILED', `no rpc channel for the pooled stream to ${address}`);
  }

  /** Peers with an open channel. */
  get size(): number {
    return this.channels.size;
  }

  /** Closes every channel and the pool; later calls reject with CLOSED. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
    await this.pool.close();
  }

  private attach(stream: Stream, address: Address): void {
    const channel = new RpcChannel(stream, this.channelOptions);
    this.channels.set(address, channel);
    void channel.closed.then(() => {
      if (this.channels.get(address) === channel) this.channels.delete(address);
    });
  }

  private connectWithin(
    address: Address,
    name: string,
    budget: number,
    signal: AbortSignal | undefined,
  ): Promise<RpcChannel> {
    if (!(budget >= 0) || budget > this.limits.maxDeadlineMs) {
      const text = `deadlineMs of "${name}" must be in [0, ${this.limits.maxDeadlineMs}], got ${budget}`;
      return Promise.reject(new CairnError('INVALID_ARGUMENT', text));
    }
    if (signal?.aborted) {
      const text = `the call of "${name}" was cancelled before it started`;
      return Promise.reject(callError('RPC_CANCELLED', text, name, address));
    }
    const connecting = this.channel(address);
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        this.clock.cancel(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const timer = this.clock.setTimer(budget, () => {
        cleanup();
        const text = `the call of "${name}" ran out of time connecting to ${address}`;
        reject(callError('RPC_DEADLINE_EXCEEDED', text, name, address));
      });
      const onAbort = () => {
        cleanup();
        const text = `the call of "${name}" was cancelled while connecting to ${address}`;
        reject(callError('RPC_CANCELLED', text, name, address));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      connecting.then(
        (channel) => {
          cleanup();
          resolve(channel);
        },
        (err: unknown) => {
          cleanup();
          reject(err);
        },
      );
    });
  }
}
