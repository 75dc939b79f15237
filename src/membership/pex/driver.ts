import {
  assert,
  type Clock,
  describeError,
  type Logger,
  type Rng,
  type TimerHandle,
} from '../../core/index.js';
import type { Transport } from '../../transport/types.js';
import { lanPexConfig, type PexConfig } from './config.js';
import { PexCore, type PexCounters, type PexEffects, type PexInput } from './core.js';
import { DEFAULT_LIMITS, type PexLimits } from './limits.js';
import { decodePexMessage, encodePexMessage, type PexDescriptor } from './messages.js';

/** Options of {@link PexNode}. */
export interface PexNodeOptions {
  /** The packet channel; PeX uses only packets, never streams. */
  readonly transport: Transport;
  /** Every timer goes through this clock (the simulator's virtual clock in simulation). */
  readonly clock: Clock;
  /** Every random choice comes from this stream. */
  readonly rng: Rng;
  /** Protocol parameters (default `lanPexConfig()`). */
  readonly config?: PexConfig;
  /** Limits (default {@link DEFAULT_LIMITS}). */
  readonly limits?: PexLimits;
  /** Own address as peers reach it (default `transport.localAddress`). */
  readonly self?: string;
  /** Own node id attached to the fresh descriptor (default: none). */
  readonly selfId?: string;
  /** Initial addresses for the view (default: none; call {@link PexNode.seed} later). */
  readonly seeds?: readonly string[];
  /**
   * Install the transport's packet handler (default true). Pass false when another component
   * owns the handler and forwards PeX packets to {@link PexNode.receive}.
   */
  readonly installHandler?: boolean;
  /** Logger for dropped packets and send failures (default: none). */
  readonly logger?: Logger;
}

/** Counters of a {@link PexNode}: the core's plus the driver's. All only grow. */
export interface PexNodeCounters extends PexCounters {
  /** Packets that failed to decode or validate; dropped. */
  malformed: number;
  /** Packets that `sendPacket` refused (closed transport); dropped. */
  sendErrors: number;
}

/**
 * Runs the peer sampling core over a {@link Transport}'s packet channel and a {@link Clock}.
 *
 * Each exchange is one PexPush packet and one PexPull packet. The buffer is bounded by
 * count (c/2 descriptors including our own) and by bytes: `min(limits.maxBufferBytes,
 * transport.mtu)` for the whole encoded message, so a descriptor that would overflow it is left
 * for a later exchange. A PexPush without a PexPull within `exchangeTimeoutMs` is a failed
 * exchange (counted in `timeouts`); with H > 0 its peer is evicted from the view.
 *
 * Contract: effects are carried out in the order the core documents (send, then re-arm the one
 * timer). Malformed packets are counted and dropped; nothing a peer sends makes this class throw.
 * After {@link stop}, no packet is sent, no timer is pending, and arriving packets are ignored;
 * the transport stays open (its owner closes it).
 *
 * @example
 * ```ts
 * const pex = new PexNode({ transport, clock: systemClock, rng: Rng.fromSeed(seed).child('pex'),
 *   seeds: ['10.0.0.2:7946'] });
 * const peers = pex.sample(3).map((d) => d.address); // fallback seeds for membership
 * ```
 */
export class PexNode {
  private readonly core: PexCore;
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly limits: PexLimits;
  private readonly logger: Logger | undefined;
  private readonly extra = { malformed: 0, sendErrors: 0 };
  private timer: TimerHandle | undefined;
  private timerAtMs = Number.NaN;
  private stopped = false;

  constructor(options: PexNodeOptions) {
    this.transport = options.transport;
    this.clock = options.clock;
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.logger = options.logger;
    this.core = new PexCore({
      self: options.self ?? options.transport.localAddress,
      ...(options.selfId === undefined ? {} : { selfId: options.selfId }),
      config: options.config ?? lanPexConfig(),
      rng: options.rng,
      nowMs: options.clock.now(),
      limits: this.limits,
      maxMessageBytes: options.transport.mtu,
    });
    if (options.installHandler !== false) {
      options.transport.onPacket((from, data) => this.receive(from, data));
    }
    const seeds = options.seeds ?? [];
    this.apply(
      seeds.length > 0 ? this.core.step({ type: 'seed', addresses: seeds }, this.clock.now()) : undefined,
    );
  }

  /** The protocol parameters in force. */
  get config(): PexConfig {
    return this.core.config;
  }

  /** A copy of the current view (at most c descriptors). */
  view(): PexDescriptor[] {
    return this.core.viewEntries();
  }

  /**
   * Up to `k` distinct peers drawn uniformly from the view: the peer sampling service's
   * `getPeer()`, and the fallback seed source membership calls when it knows no peer.
   *
   * @param k - how many (fewer are returned when the view is smaller)
   */
  sample(k: number): PexDescriptor[] {
    return this.core.sample(k);
  }

  /**
   * Adds addresses to the view as fresh descriptors (random removal keeps it at c).
   *
   * @throws CairnError `INVALID_ARGUMENT` when an address is not `host:port`; nothing is added
   */
  seed(addresses: readonly string[]): void {
    this.input({ type: 'seed', addresses });
  }

  /** Removes an address from the view (e.g. membership declared it dead); no-op when absent. */
  remove(address: string): void {
    this.input({ type: 'remove', address });
  }

  /**
   * Starts an exchange with `address` now, even if it is not in the view. The way back into the
   * overlay after a partition long enough for healing to forget the other side: exchange with a
   * seed (see DESIGN.md, "Partitions"). Ignored for self or a peer already being exchanged with.
   *
   * @throws CairnError `INVALID_ARGUMENT` when `address` is not `host:port`
   */
  exchangeWith(address: string): void {
    this.input({ type: 'exchange', address });
  }

  /** A snapshot of the counters. */
  counters(): PexNodeCounters {
    return { ...this.core.counters, ...this.extra };
  }

  /** Stops exchanging: cancels the timer and ignores packets from now on. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) this.clock.cancel(this.timer);
    this.timer = undefined;
  }

  /**
   * Handles one arriving packet. Called by the installed handler, or by the owner of the
   * transport's handler when `installHandler` is false. Never throws for bad input.
   */
  receive(from: string, data: Uint8Array): void {
    if (this.stopped) return;
    const message = decodePexMessage(data, this.limits);
    if (message === undefined) {
      this.extra.malformed++;
      this.logger?.debug({ from, bytes: data.length }, 'dropped a malformed PeX packet');
      return;
    }
    this.input({ type: 'message', from, message });
  }

  private input(input: PexInput): void {
    if (this.stopped && (input.type === 'message' || input.type === 'exchange' || input.type === 'tick'))
      return;
    this.apply(this.core.step(input, this.clock.now()));
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAtMs = Number.NaN;
    if (this.stopped) return;
    this.apply(this.core.step({ type: 'tick' }, this.clock.now()));
  }

  private apply(effects: PexEffects | undefined): void {
    if (this.stopped) return;
    for (const send of effects?.sends ?? []) {
      const bytes = encodePexMessage(send.message);
      assert(bytes.length <= this.transport.mtu, `PeX message of ${bytes.length} bytes exceeds the MTU`);
      try {
        this.transport.sendPacket(send.to, bytes);
      } catch (err) {
        this.extra.sendErrors++;
        this.logger?.warn({ to: send.to, err: describeError(err) }, 'PeX packet not sent');
      }
    }
    const at = effects?.timerAtMs ?? this.core.nextTimerAtMs();
    if (at === this.timerAtMs && this.timer !== undefined) return;
    if (this.timer !== undefined) this.clock.cancel(this.timer);
    this.timerAtMs = at;
    this.timer = this.clock.setTimer(Math.max(0, at - this.clock.now()), () => this.onTimer());
  }
}
