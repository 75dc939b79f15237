import { CairnError, type Clock, type Rng, withLimits } from '../core/index.js';
import { DEFAULT_LIMITS as TRANSPORT_LIMITS } from '../transport/limits.js';
import type { Address, TransportLimits } from '../transport/types.js';
import { DEFAULT_LATENCY, describeLatency, type Latency, sampleLatency, validateLatency } from './latency.js';
import type { Simulator } from './simulator.js';
import type { SimStreamEnd } from './stream.js';
import { SimTransport } from './transport.js';

/** Defaults of the simulated network that are not limits. */
export const SIM_NETWORK_DEFAULTS = Object.freeze({
  /** Largest packet payload: 1400 bytes, as the net transport (a 1500-byte Ethernet frame minus headers). */
  mtu: 1400,
  /** Dial timeout when the caller gives none, in virtual ms, as the net transport. */
  dialTimeoutMs: 10_000,
});

/** Per-link overrides set with {@link SimNetwork.setLink}; unset fields fall back to the network's. */
export interface LinkRule {
  /** One-way latency on this link (packets, connects and frames). */
  readonly latency?: Latency;
  /** Packet loss probability on this link, 0..1. */
  readonly loss?: number;
  /** Packet duplication probability on this link, 0..1. */
  readonly duplicate?: number;
}

/** Network-wide fault settings; each can change during a run with {@link SimNetwork.configure}. */
export interface NetworkSettings {
  /** One-way latency of every link without a rule; default {@link DEFAULT_LATENCY}. */
  latency: Latency;
  /** Packet loss probability, 0..1; default 0. Streams are reliable and never lose frames. */
  loss: number;
  /** Packet duplication probability, 0..1; default 0. */
  duplicate: number;
}

/** Options of a {@link SimNetwork}. */
export interface NetworkOptions extends Partial<NetworkSettings> {
  /** Default MTU of transports; default 1400. */
  mtu?: number;
  /** Default dial timeout, virtual ms; default 10,000. */
  dialTimeoutMs?: number;
  /** Default transport limits (overrides of the transport brick's DEFAULT_LIMITS). */
  limits?: Partial<TransportLimits>;
}

/** Options of one simulated transport. */
export interface SimTransportOptions {
  /** Largest packet payload; default the network's. */
  mtu?: number;
  /** Dial timeout when `dial` is given none, virtual ms; default the network's. */
  dialTimeoutMs?: number;
  /** Limits overrides. */
  limits?: Partial<TransportLimits>;
}

/** Why the simulated network dropped a packet or a frame. */
export type NetworkDropReason =
  | 'loss'
  | 'partition'
  | 'unbound'
  | 'closed'
  | 'crashed'
  | 'queue_full'
  | 'no_handler'
  | 'handler_error';

const DROP_REASONS: readonly NetworkDropReason[] = [
  'loss',
  'partition',
  'unbound',
  'closed',
  'crashed',
  'queue_full',
  'no_handler',
  'handler_error',
];

/** Counters of the whole simulated network. Plain numbers: the hot path adds, tests read. */
export class NetworkStats {
  /** Packets handed to `sendPacket` (before loss, partitions and duplication). */
  packetsSent = 0;
  /** Packets handed to a packet handler. */
  packetsDelivered = 0;
  /** Extra copies made by duplication. */
  packetsDuplicated = 0;
  /** Payload bytes of the packets handed to `sendPacket`. */
  packetBytesSent = 0;
  /** Frames accepted by `send`. */
  framesSent = 0;
  /** Payload bytes of the frames accepted by `send`. */
  frameBytesSent = 0;
  /** Frames handed to a frame handler (or its inbox). */
  framesDelivered = 0;
  /** Streams established. */
  streamsOpened = 0;
  /** Streams broken by a resetting partition or a crash. */
  streamsBroken = 0;
  /** Frames, FINs and resets held back because a partition cut their path (delivered on heal). */
  streamEventsStalled = 0;
  /** Dials refused (nothing listening). */
  dialsRefused = 0;
  /** Dials that timed out. */
  dialsTimedOut = 0;
  /** Packets and frames dropped, by reason; every reason present. */
  readonly dropped: Record<NetworkDropReason, number> = Object.fromEntries(
    DROP_REASONS.map((r) => [r, 0]),
  ) as Record<NetworkDropReason, number>;

  /** Packets plus frames sent. */
  get messagesSent(): number {
    return this.packetsSent + this.framesSent;
  }

  /** Packets plus frames delivered. */
  get messagesDelivered(): number {
    return this.packetsDelivered + this.framesDelivered;
  }

  /** Every drop, all reasons. */
  get messagesDropped(): number {
    let n = 0;
    for (const r of DROP_REASONS) n += this.dropped[r];
    return n;
  }

  /** A plain JSON object of every counter. */
  toJSON(): Record<string, unknown> {
    return {
      packetsSent: this.packetsSent,
      packetBytesSent: this.packetBytesSent,
      packetsDelivered: this.packetsDelivered,
      packetsDuplicated: this.packetsDuplicated,
      framesSent: this.framesSent,
      frameBytesSent: this.frameBytesSent,
      framesDelivered: this.framesDelivered,
      streamsOpened: this.streamsOpened,
      streamsBroken: this.streamsBroken,
      streamEventsStalled: this.streamEventsStalled,
      dialsRefused: this.dialsRefused,
      dialsTimedOut: this.dialsTimedOut,
      dropped: { ...this.dropped },
    };
  }
}

/** How a partition treats streams already open across it. */
export interface PartitionOptions {
  /**
   * `'stall'` (default): the cut black-holes the path, as a firewall that drops: frames, FINs and
   * resets that would cross it wait, in order, and are delivered when the network heals, so only
   * the ends' own timeouts notice (and the sender's buffer fills, so backpressure applies).
   * `'reset'`: both ends of every stream across the cut close at once with
   * `TRANSPORT_UNREACHABLE`, as a firewall that rejects (sends resets).
   */
  readonly streams?: 'stall' | 'reset';
}

interface PartitionRule {
  readonly from: ReadonlySet<string>;
  /** `null`: everyone not in `from`. */
  readonly to: ReadonlySet<string> | null;
  readonly oneWay: boolean;
}

/** A healed rule and when it ended, for {@link SimNetwork.cutSince}. */
interface PastRule {
  readonly rule: PartitionRule;
  readonly until: number;
}

/** True when `rule` cuts packets from host `fromHost` to host `toHost`. */
function ruleCuts(rule: PartitionRule, fromHost: string, toHost: string): boolean {
  const fromIn = rule.from.has(fromHost);
  const toIn = rule.from.has(toHost);
  if (rule.to === null) return fromIn !== toIn && (fromIn || !rule.oneWay);
  if (fromIn && rule.to.has(toHost)) return true;
  return !rule.oneWay && toIn && rule.to.has(fromHost);
}

type LimitsRecord = { [K in keyof TransportLimits]: number };

function mergeLimits(base: TransportLimits, overrides: Partial<TransportLimits>): TransportLimits {
  return withLimits<LimitsRecord>({ ...base }, overrides);
}

function checkProbability(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new CairnError('INVALID_CONFIG', `network ${name} must be within [0, 1], got ${value}`);
  }
  return value;
}

/**
 * The simulated network: transports bound to addresses, links with latency, loss and duplication,
 * partitions, and the counters of everything that crossed it.
 *
 * Endpoints in rules are node names (every transport of that node) or addresses (one standalone
 * transport). Partitions are checked when a packet is sent or a connection attempted, and when a
 * stream's frame, FIN or reset comes due: one whose path is cut waits, with everything after it
 * on that direction of the stream, until {@link SimNetwork.heal} (a black hole, so the ends'
 * timeouts are what notice). A partition made with `{ streams: 'reset' }` instead breaks every
 * open stream that crosses it (both ends close with `TRANSPORT_UNREACHABLE`).
 *
 * Contract: packets may be lost, duplicated, delayed and reordered as configured, never corrupted;
 * frames of one stream are delivered in order, exactly once, until the stream closes. Every random
 * draw comes from the network's child of the simulator's seed, in event order.
 *
 * @example
 * ```ts
 * const sim = new Simulator({ seed: 1, network: { loss: 0.05 } });
 * const a = sim.network.transport('10.0.0.1:7946');
 * const b = sim.network.transport('10.0.0.2:7946');
 * sim.network.partition(['10.0.0.1:7946'], ['10.0.0.2:7946']);
 * ```
 */
export class SimNetwork {
  /** Counters. */
  readonly stats = new NetworkStats();
  /** The network's random stream. */
  readonly rng: Rng;
  /** Default MTU of new transports. */
  readonly mtu: number;
  /** Default dial timeout of new transports. */
  readonly dialTimeoutMs: number;
  /** Default limits of new transports. */
  readonly limits: TransportLimits;
  private settings: NetworkSettings;
  private readonly bound = new Map<Address, SimTransport>();
  private readonly byNode = new Map<number, Set<SimTransport>>();
  private rules: PartitionRule[] = [];
  /** Healed rules, oldest first, at most `maxPartitionHistory`. */
  private past: PastRule[] = [];
  /** End of the newest rule dropped from `past`: before it, `cutSince` cannot tell. */
  private forgottenUntil = Number.NEGATIVE_INFINITY;
  private readonly links = new Map<string, LinkRule>();
  /** Stream ends holding events a partition stalled, in the order they first stalled. */
  private readonly stalledEnds = new Set<SimStreamEnd>();
  private nextId = 1;

  /**
   * @param sim - the simulator whose scheduler delivers this network's events
   * @param options - defaults; see {@link NetworkOptions}
   */
  constructor(
    readonly sim: Simulator,
    options: NetworkOptions = {},
  ) {
    this.rng = sim.rng.child('network');
    this.mtu = options.mtu ?? SIM_NETWORK_DEFAULTS.mtu;
    this.dialTimeoutMs = options.dialTimeoutMs ?? SIM_NETWORK_DEFAULTS.dialTimeoutMs;
    this.limits = mergeLimits(TRANSPORT_LIMITS, options.limits ?? {});
    this.settings = { latency: DEFAULT_LATENCY, loss: 0, duplicate: 0 };
    this.configure(options);
  }

  /** Changes latency, loss or duplication from now on (packets in flight keep their fate). */
  configure(settings: Partial<NetworkSettings>): void {
    this.settings = {
      latency: validateLatency(settings.latency ?? this.settings.latency),
      loss: checkProbability('loss', settings.loss ?? this.settings.loss),
      duplicate: checkProbability('duplicate', settings.duplicate ?? this.settings.duplicate),
    };
  }

  /** The current network-wide settings. */
  get current(): Readonly<NetworkSettings> {
    return this.settings;
  }

  /** One line describing the settings, for run headers. */
  describe(): string {
    const s = this.settings;
    return `latency=${describeLatency(s.latency)} loss=${s.loss} duplicate=${s.duplicate} partitions=${this.rules.length} links=${this.links.size}`;
  }

  /**
   * Opens a standalone transport (owned by no node: pauses and crashes do not apply to it) at
   * `address`. Throws `INVALID_ARGUMENT` when the address is taken.
   */
  transport(address: Address, options: SimTransportOptions = {}): SimTransport {
    return this.attach(address, -1, 0, this.sim.clock, options);
  }

  /** @internal Opens a transport owned by node `node` (incarnation `inc`). */
  attach(
    address: Address,
    node: number,
    inc: number,
    clock: Clock,
    options: SimTransportOptions,
  ): SimTransport {
    if (this.bound.has(address))
      throw new CairnError('INVALID_ARGUMENT', `address ${address} is in use on the simulated network`);
    const host = node >= 0 ? `node:${this.sim.nodeName(node)}` : `addr:${address}`;
    const t = new SimTransport(this, {
      id: this.nextId++,
      address,
      host,
      node,
      inc,
      clock,
      mtu: options.mtu ?? this.mtu,
      dialTimeoutMs: options.dialTimeoutMs ?? this.dialTimeoutMs,
      limits: mergeLimits(this.limits, options.limits ?? {}),
    });
    this.bound.set(address, t);
    if (node >= 0) {
      let set = this.byNode.get(node);
      if (set === undefined) {
        set = new Set();
        this.byNode.set(node, set);
      }
      set.add(t);
    }
    return t;
  }

  /** The transport bound at `address`, if any. */
  lookup(address: Address): SimTransport | undefined {
    return this.bound.get(address);
  }

  /** @internal Removes a closed or crashed transport. */
  unbind(t: SimTransport): void {
    if (this.bound.get(t.localAddress) === t) this.bound.delete(t.localAddress);
    this.byNode.get(t.node)?.delete(t);
  }

  // ---------------------------------------------------------------- rules

  /**
   * Cuts every link between `groupA` and `groupB`, both ways. Without `groupB`, cuts `groupA` from
   * everyone else. Open streams across the cut stall until heal (or break with `streams: 'reset'`).
   */
  partition(groupA: readonly string[], groupB?: readonly string[], options: PartitionOptions = {}): void {
    this.addRule(groupA, groupB, false, options);
  }

  /**
   * Cuts the links from `from` to `to` only: packets the other way still pass. Open streams stall
   * in the cut direction only (or break with `streams: 'reset'`).
   */
  partitionOneWay(
    from: readonly string[] | string,
    to: readonly string[] | string,
    options: PartitionOptions = {},
  ): void {
    this.addRule(typeof from === 'string' ? [from] : from, typeof to === 'string' ? [to] : to, true, options);
  }

  /** Cuts one node (or address) from everyone. */
  isolate(endpoint: string, options: PartitionOptions = {}): void {
    this.addRule([endpoint], undefined, false, options);
  }

  /**
   * Removes every partition (link rules stay; see {@link SimNetwork.clearLinks}). Stream events
   * the partitions stalled are delivered now, each stream direction in its order, ahead of every
   * other event of this instant.
   */
  heal(): void {
    const now = this.sim.now;
    for (const rule of this.rules) this.past.push({ rule, until: now });
    const max = this.sim.limits.maxPartitionHistory;
    if (this.past.length > max) {
      const dropped = this.past.splice(0, this.past.length - max);
      this.forgottenUntil = dropped[dropped.length - 1]!.until;
    }
    this.rules = [];
    if (this.stalledEnds.size === 0) return;
    const events = [];
    for (const end of this.stalledEnds) events.push(...end.releaseStalled());
    this.stalledEnds.clear();
    this.sim.requeueNow(events);
  }

  /** @internal `end` holds a stalled event; {@link heal} releases it. */
  stalled(end: SimStreamEnd): void {
    this.stats.streamEventsStalled++;
    this.stalledEnds.add(end);
  }

  /** True when any partition is in force. */
  get partitioned(): boolean {
    return this.rules.length > 0;
  }

  /** Sets (or with `undefined` removes) the rule of the directed link `from -> to`. */
  setLink(from: string, to: string, rule: LinkRule | undefined): void {
    const key = `${this.hostOf(from)}>${this.hostOf(to)}`;
    if (rule === undefined) {
      this.links.delete(key);
      return;
    }
    if (rule.latency !== undefined) validateLatency(rule.latency);
    if (rule.loss !== undefined) checkProbability('link loss', rule.loss);
    if (rule.duplicate !== undefined) checkProbability('link duplicate', rule.duplicate);
    this.links.set(key, rule);
  }

  /** Removes every link rule. */
  clearLinks(): void {
    this.links.clear();
  }

  /** True when packets from host `fromHost` to host `toHost` are cut. */
  blocked(fromHost: string, toHost: string): boolean {
    for (const rule of this.rules) if (ruleCuts(rule, fromHost, toHost)) return true;
    return false;
  }

  /**
   * True when a partition cut packets from `from` to `to` (node names or addresses) at any moment
   * from virtual time `sinceMs` until now. Before the oldest remembered partition
   * (`maxPartitionHistory`) the answer is true: it cannot be ruled out. For safety checkers
   * ("could these two nodes talk during the last W ms?").
   */
  cutSince(from: string, to: string, sinceMs: number): boolean {
    if (sinceMs <= this.forgottenUntil) return true;
    const a = this.hostOf(from);
    const b = this.hostOf(to);
    if (this.blocked(a, b)) return true;
    for (let i = this.past.length - 1; i >= 0; i--) {
      const p = this.past[i]!;
      if (p.until < sinceMs) break; // ends are in heal order, so older ones ended earlier
      if (ruleCuts(p.rule, a, b)) return true;
    }
    return false;
  }

  /** @internal The link rule from host to host, if any. */
  link(fromHost: string, toHost: string): LinkRule | undefined {
    return this.links.size === 0 ? undefined : this.links.get(`${fromHost}>${toHost}`);
  }

  /** @internal Draws a one-way latency for the link. */
  latency(fromHost: string, toHost: string): number {
    const rule = this.link(fromHost, toHost);
    return sampleLatency(rule?.latency ?? this.settings.latency, this.rng);
  }

  /** @internal Loss and duplication of the link. */
  packetFaults(fromHost: string, toHost: string): { loss: number; duplicate: number } {
    const rule = this.link(fromHost, toHost);
    if (rule === undefined) return this.settings;
    return { loss: rule.loss ?? this.settings.loss, duplicate: rule.duplicate ?? this.settings.duplicate };
  }

  private hostOf(endpoint: string): string {
    if (this.sim.nodeIndex(endpoint) >= 0) return `node:${endpoint}`;
    return this.bound.get(endpoint)?.host ?? `addr:${endpoint}`;
  }

  private addRule(
    from: readonly string[],
    to: readonly string[] | undefined,
    oneWay: boolean,
    options: PartitionOptions,
  ): void {
    const streams = options.streams ?? 'stall';
    if (streams !== 'stall' && streams !== 'reset')
      throw new CairnError(
        'INVALID_ARGUMENT',
        `partition streams must be "stall" or "reset", got ${String(streams)}`,
      );
    const rule: PartitionRule = {
      from: new Set(from.map((e) => this.hostOf(e))),
      to: to === undefined ? null : new Set(to.map((e) => this.hostOf(e))),
      oneWay,
    };
    this.rules.push(rule);
    if (streams === 'reset') this.breakStreams();
  }

  /** Breaks every open stream whose path is now cut in either direction. */
  private breakStreams(): void {
    for (const t of this.bound.values()) t.breakCutStreams();
  }

  // ---------------------------------------------------------------- node lifecycle

  /** @internal Abruptly closes every transport of a crashed node. */
  crashNode(node: number): void {
    const set = this.byNode.get(node);
    if (set === undefined) return;
    for (const t of [...set]) t.crash();
    this.byNode.delete(node);
  }

  /** @internal Closes every transport of a node that stops gracefully. */
  async closeNode(node: number): Promise<void> {
    const set = this.byNode.get(node);
    if (set === undefined) return;
    for (const t of [...set]) await t.close();
    this.byNode.delete(node);
  }
}
