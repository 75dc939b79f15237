import { assert, assertNever, CairnError, type Rng } from '../../core/index.js';
import { type PexConfig, validatePexConfig } from './config.js';
import { DEFAULT_LIMITS, type PexLimits } from './limits.js';
import {
  descriptorWireBytes,
  isPexAddress,
  MAX_EXCHANGE_ID,
  MESSAGE_OVERHEAD_BYTES,
  type PexDescriptor,
  type PexMessage,
  type PexPull,
  type PexPush,
} from './messages.js';
import {
  assertViewInvariants,
  buildBuffer,
  mergeView,
  selectPeer,
  type ViewEntry,
  type ViewParams,
} from './view.js';

/** An input to {@link PexCore.step}. */
export type PexInput =
  /** The timer the core asked for has fired (early or late firings are harmless). */
  | { readonly type: 'tick' }
  /** A decoded, validated message arrived from `from` (the packet's source address). */
  | { readonly type: 'message'; readonly from: string; readonly message: PexMessage }
  /** API: add these addresses to the view as fresh descriptors. */
  | { readonly type: 'seed'; readonly addresses: readonly string[] }
  /** API: forget this address (for instance, membership declared it dead). */
  | { readonly type: 'remove'; readonly address: string }
  /**
   * API: start an exchange with this address now, whether or not it is in the view (used to
   * reconnect through a seed after a partition). Ignored for self, for a peer with an exchange
   * already pending, or when `maxPendingExchanges` are pending.
   */
  | { readonly type: 'exchange'; readonly address: string };

/** One message to send. */
export interface PexSend {
  readonly to: string;
  readonly message: PexMessage;
}

/**
 * What the driver must do after a step, in this order: send every message in `sends` (order
 * does not matter: each is an independent packet), then (re)arm its single timer to fire at
 * `timerAtMs` (absolute, on the same clock as the `nowMs` passed in), replacing any earlier timer.
 */
export interface PexEffects {
  readonly sends: readonly PexSend[];
  readonly timerAtMs: number;
}

/** Counters of a core; all only grow. */
export interface PexCounters {
  /** Exchanges this node started (PexPush sent). */
  exchangesStarted: number;
  /** Exchanges this node started that completed (matching PexPull merged). */
  exchangesCompleted: number;
  /** PexPush messages this node answered as the passive side. */
  exchangesAnswered: number;
  /** Exchanges that got no reply within `exchangeTimeoutMs`. */
  timeouts: number;
  /** Valid messages ignored: replies to unknown or expired exchanges, messages from self. */
  ignored: number;
}

/** Options of {@link PexCore}. */
export interface PexCoreOptions {
  /** Own address, as peers reach it; never kept in the view and sent as the fresh descriptor. */
  readonly self: string;
  /** Own node id to attach to the fresh descriptor (default: none). */
  readonly selfId?: string;
  /** Protocol parameters; validated. */
  readonly config: PexConfig;
  /** Randomness for peer selection, permutation and removal; sampling uses `rng.child('sample')`. */
  readonly rng: Rng;
  /** The time the core starts at; the first exchange is at a random offset within one interval. */
  readonly nowMs: number;
  /** Limits (default {@link DEFAULT_LIMITS}). */
  readonly limits?: PexLimits;
  /** Largest encoded message the channel carries, e.g. the transport MTU (default: no extra cap). */
  readonly maxMessageBytes?: number;
}

interface Pending {
  readonly peer: string;
  /** The cycle (count of exchange ticks) in which the PexPush was sent. */
  readonly cycle: number;
  readonly sent: readonly string[];
  readonly deadlineMs: number;
}

/**
 * The pure core of the peer sampling service (Jelasity et al., TOCS 2007), push-pull with
 * healing H and swap S.
 *
 * Contract: synchronous and deterministic for a given `Rng` seed and input sequence; no IO, no
 * timers, no clock reads. Every step returns {@link PexEffects}; the view invariants (at most c
 * entries, no self, no duplicate address, ages in 0..maxAge) are asserted after each step. API
 * inputs with bad arguments throw `INVALID_ARGUMENT` before changing anything; messages are
 * expected to be validated already (see `decodePexMessage`).
 *
 * @example
 * ```ts
 * const core = new PexCore({ self: '10.0.0.1:7946', config: lanPexConfig(), rng, nowMs: 0 });
 * let fx = core.step({ type: 'seed', addresses: ['10.0.0.2:7946'] }, 0);
 * fx = core.step({ type: 'tick' }, fx.timerAtMs); // sends a PexPush to 10.0.0.2:7946
 * ```
 */
export class PexCore {
  /** The validated config. */
  readonly config: PexConfig;
  /** The limits in force. */
  readonly limits: PexLimits;
  /** Counters; read-only to callers. */
  readonly counters: Readonly<PexCounters>;
  private readonly stats: PexCounters;
  private readonly params: ViewParams;
  private readonly selfDescriptor: PexDescriptor;
  private readonly rng: Rng;
  private readonly sampleRng: Rng;
  private readonly maxEntries: number;
  private readonly maxEntryBytes: number;
  private view: ViewEntry[] = [];
  private readonly pending = new Map<number, Pending>();
  /** Peers whose exchange timed out, with the cycle their PexPush was sent in. */
  private readonly failed = new Map<string, number>();
  private cycle = 0;
  private nextExchangeAtMs: number;
  private nextId: number;

  constructor(options: PexCoreOptions) {
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.config = validatePexConfig(options.config, this.limits);
    if (!isPexAddress(options.self, this.limits.maxAddressLength)) {
      throw new CairnError(
        'INVALID_ARGUMENT',
        `own address "${String(options.self)}" is not a host:port address`,
      );
    }
    this.params = {
      self: options.self,
      viewSize: this.config.viewSize,
      healing: this.config.healing,
      swap: this.config.swap,
    };
    this.selfDescriptor =
      options.selfId === undefined
        ? { address: options.self, age: 0 }
        : { address: options.self, id: options.selfId, age: 0 };
    this.rng = options.rng;
    this.sampleRng = options.rng.child('sample');
    this.maxEntries = Math.max(
      1,
      Math.min(Math.floor(this.config.viewSize / 2), this.limits.maxBufferEntries),
    );
    const maxBytes = Math.min(
      this.limits.maxBufferBytes,
      options.maxMessageBytes ?? Number.POSITIVE_INFINITY,
    );
    this.maxEntryBytes = maxBytes - MESSAGE_OVERHEAD_BYTES;
    if (descriptorWireBytes(this.selfDescriptor) > this.maxEntryBytes) {
      throw new CairnError(
        'INVALID_CONFIG',
        `a ${maxBytes}-byte message cannot carry this node's own descriptor; raise the MTU or maxBufferBytes`,
      );
    }
    this.nextExchangeAtMs = options.nowMs + this.rng.int(this.config.exchangeIntervalMs);
    this.nextId = this.rng.u32();
    this.stats = {
      exchangesStarted: 0,
      exchangesCompleted: 0,
      exchangesAnswered: 0,
      timeouts: 0,
      ignored: 0,
    };
    this.counters = this.stats;
  }

  /** A copy of the current view. */
  viewEntries(): PexDescriptor[] {
    return this.view.map((e) => (e.id === undefined ? { address: e.address, age: e.age } : { ...e }));
  }

  /** The time the core next wants a `tick`, absolute. */
  nextTimerAtMs(): number {
    let at = this.nextExchangeAtMs;
    for (const p of this.pending.values()) at = Math.min(at, p.deadlineMs);
    return at;
  }

  /** Up to `k` distinct descriptors drawn uniformly from the view (from a separate rng stream). */
  sample(k: number): PexDescriptor[] {
    if (!Number.isSafeInteger(k) || k < 0) {
      throw new CairnError('INVALID_ARGUMENT', `sample size must be a non-negative integer, got ${k}`);
    }
    return this.sampleRng
      .sample(this.view, k)
      .map((e) => (e.id === undefined ? { address: e.address, age: e.age } : { ...e }));
  }

  /**
   * Feeds one input at time `nowMs` and returns what to do.
   *
   * @param input - the input
   * @param nowMs - the current time on the driver's clock; must not go backwards
   */
  step(input: PexInput, nowMs: number): PexEffects {
    const sends: PexSend[] = [];
    switch (input.type) {
      case 'tick':
        this.onTick(nowMs, sends);
        break;
      case 'message':
        this.onMessage(input.from, input.message, sends);
        break;
      case 'seed':
        this.onSeed(input.addresses);
        break;
      case 'remove':
        this.view = this.view.filter((e) => e.address !== input.address);
        break;
      case 'exchange':
        this.onExchange(input.address, nowMs, sends);
        break;
      default:
        assertNever(input, 'PeX input');
    }
    assertViewInvariants(this.view, this.params, this.limits.maxAge);
    return { sends, timerAtMs: this.nextTimerAtMs() };
  }

  private onTick(nowMs: number, sends: PexSend[]): void {
    for (const [id, p] of this.pending) {
      if (p.deadlineMs > nowMs) continue;
      this.pending.delete(id);
      this.stats.timeouts++;
      this.failed.set(p.peer, p.cycle);
    }
    this.forgetFailures();
    this.ageFailed();
    if (nowMs < this.nextExchangeAtMs) return;
    // One exchange per interval; after a long pause we do not burst to catch up.
    this.nextExchangeAtMs = Math.max(this.nextExchangeAtMs + this.config.exchangeIntervalMs, nowMs);
    if (this.nextExchangeAtMs === nowMs) this.nextExchangeAtMs += this.config.exchangeIntervalMs;
    this.cycle++;
    for (const e of this.view) e.age = Math.min(e.age + 1, this.limits.maxAge);
    if (this.pending.size >= this.limits.maxPendingExchanges) return;
    const busy = new Set<string>();
    for (const p of this.pending.values()) busy.add(p.peer);
    const peer = selectPeer(this.view, this.config.peerSelection, this.rng, busy, this.failed);
    if (peer !== undefined) this.startExchange(peer.address, nowMs, sends);
  }

  private onExchange(address: string, nowMs: number, sends: PexSend[]): void {
    if (!isPexAddress(address, this.limits.maxAddressLength)) {
      throw new CairnError(
        'INVALID_ARGUMENT',
        `"${String(address).slice(0, 80)}" is not a host:port address`,
      );
    }
    if (address === this.params.self || this.pending.size >= this.limits.maxPendingExchanges) return;
    for (const p of this.pending.values()) if (p.peer === address) return;
    this.startExchange(address, nowMs, sends);
  }

  private startExchange(peer: string, nowMs: number, sends: PexSend[]): void {
    const entries = this.buffer(peer);
    const id = this.nextId;
    this.nextId = id === MAX_EXCHANGE_ID ? 0 : id + 1;
    this.pending.set(id, {
      peer,
      cycle: this.cycle,
      sent: entries.slice(1).map((d) => d.address),
      deadlineMs: nowMs + this.config.exchangeTimeoutMs,
    });
    this.stats.exchangesStarted++;
    const push: PexPush = { type: 'PexPush', id, entries };
    sends.push({ to: peer, message: push });
  }

  private onMessage(from: string, message: PexMessage, sends: PexSend[]): void {
    if (from === this.params.self) {
      this.stats.ignored++;
      return;
    }
    switch (message.type) {
      case 'PexPush': {
        const entries = this.buffer(from);
        const pull: PexPull = { type: 'PexPull', id: message.id, entries };
        sends.push({ to: from, message: pull });
        this.stats.exchangesAnswered++;
        this.merge(
          message.entries,
          entries.slice(1).map((d) => d.address),
        );
        break;
      }
      case 'PexPull': {
        const p = this.pending.get(message.id);
        if (p === undefined || p.peer !== from) {
          this.stats.ignored++;
          return;
        }
        this.pending.delete(message.id);
        this.stats.exchangesCompleted++;
        this.merge(message.entries, p.sent);
        break;
      }
      default:
        assertNever(message, 'PeX message');
    }
  }

  private onSeed(addresses: readonly string[]): void {
    for (const a of addresses) {
      if (!isPexAddress(a, this.limits.maxAddressLength)) {
        throw new CairnError(
          'INVALID_ARGUMENT',
          `seed "${String(a).slice(0, 80)}" is not a host:port address`,
        );
      }
    }
    // Seeds enter as fresh descriptors; over c, random removal (no healing or swapping applies).
    const seeds = addresses.map((address) => ({ address, age: 0 }));
    this.view = mergeView(this.view, seeds, [], { ...this.params, healing: 0, swap: 0 }, this.rng);
  }

  /**
   * Drops failure marks that no longer apply: the address left the view, or its descriptor is
   * younger than the failed exchange (the peer, or someone who heard from it, spoke since).
   */
  private forgetFailures(): void {
    if (this.failed.size === 0) return;
    const ages = new Map<string, number>();
    for (const e of this.view) ages.set(e.address, e.age);
    for (const [address, cycle] of this.failed) {
      const age = ages.get(address);
      if (age === undefined || age <= this.cycle - cycle) this.failed.delete(address);
    }
  }

  /**
   * A peer that did not answer is made the oldest entry of the view, so the healing rule drops it
   * at the next merge that overflows the view (H > 0), and the same peer is not selected again
   * until a fresher descriptor replaces it. It is not evicted outright: under packet loss a live
   * peer often misses one exchange, and evicting on every timeout drains views until nodes fall
   * out of the overlay (measured: 10% loss left nodes with in-degree 0). With H = 0 nothing is
   * ever dropped for age, as in the paper's swapper.
   */
  private ageFailed(): void {
    if (this.failed.size === 0) return;
    if (this.config.healing > 0 && this.view.length >= this.config.viewSize) {
      // A full view refills at the next merge, so evicting here cannot drain it.
      const i = this.view.findIndex((e) => this.failed.has(e.address));
      if (i >= 0) {
        this.failed.delete(this.view[i]!.address);
        this.view.splice(i, 1);
      }
    }
    let oldest = 0;
    for (const e of this.view) if (!this.failed.has(e.address)) oldest = Math.max(oldest, e.age);
    const age = Math.min(oldest + 1, this.limits.maxAge);
    for (const e of this.view) if (this.failed.has(e.address) && e.age < age) e.age = age;
  }

  private buffer(exclude: string): PexDescriptor[] {
    return buildBuffer(
      this.view,
      this.selfDescriptor,
      this.params,
      this.rng,
      exclude,
      this.maxEntries,
      this.maxEntryBytes,
    );
  }

  private merge(received: readonly PexDescriptor[], sent: readonly string[]): void {
    assert(received.length <= this.limits.maxBufferEntries, 'merge of an unvalidated buffer');
    this.view = mergeView(this.view, received, sent, this.params, this.rng);
  }
}
