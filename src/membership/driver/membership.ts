import {
  type Clock,
  type Logger,
  Rng,
  silentLogger,
  systemClock,
  type TimerHandle,
} from '../../core/index.js';
import { ed25519Scheme, type NodeId } from '../../security/index.js';
import { TransportMux } from '../../transport/mux.js';
import type { Address } from '../../transport/types.js';
import { lanConfig, type MembershipProtocolConfig, validateProtocolConfig } from '../config.js';
import { PhiAccrualDetector } from '../detector/index.js';
import { type EventHandler, EventHub, type IterateOptions } from '../events.js';
import { FallbackProber } from '../fallback.js';
import { claimGeneration } from '../generation.js';
import { lanPexConfig, PexNode } from '../pex/index.js';
import { Reconnector } from '../reconnect.js';
import { ScuttlebuttState } from '../state/index.js';
import { createSwimSigner, SwimCore } from '../swim/index.js';
import { SyncSession } from '../sync/session.js';
import type { Member, MembershipEvent, MembershipEventType, StateValue, UserMessage } from '../types.js';
import { cachingScheme } from '../verify-cache.js';
import { CHANNEL_PEX, CHANNEL_STATE, CHANNEL_SWIM, CHANNEL_SYNC, CHANNEL_USER } from '../wire.js';
import { AntiEntropyDriver } from './anti-entropy.js';
import { assertRunning, type Driver, type DriverShared } from './context.js';
import type { LocalState, MembershipOptions, MembershipStats } from './options.js';
import { PushPullDriver } from './push-pull.js';
import { DriverStats, registerMetrics } from './stats.js';
import { SwimDriver, toMember } from './swim-driver.js';
import { every } from './timers.js';
import { UserMessages } from './user-messages.js';

export type { LocalState, MembershipOptions, MembershipStats } from './options.js';

/**
 * A membership node: SWIM failure detection with Lifeguard, Scuttlebutt key/value state, an
 * optional phi-accrual detector, push-pull sync, discovery and re-seeding, on one transport.
 *
 * Contract: every timer runs on the injected clock and every random choice on the injected rng, so a
 * node in the simulator is deterministic. Malformed, forged or stale input is counted and dropped;
 * nothing a peer sends can throw out of a handler. Events are published after the packets of the
 * step that produced them were sent.
 *
 * @example
 * ```ts
 * const m = await Membership.create({ identity, transport, protocol: lanConfig() });
 * m.on('join', (e) => console.log('joined:', e.member.name));
 * await m.join(['10.0.0.2:7946']);
 * m.local.set('role', 'kv');
 * ```
 */
export class Membership {
  /** This node's id. */
  readonly id: NodeId;
  /** This run's generation. */
  readonly generation: number;
  /** The protocol settings in force. */
  readonly protocol: MembershipProtocolConfig;
  /** This node's own key/value state. */
  readonly local: LocalState;
  /** Everything the driver's parts share, the parts included. */
  private readonly d: Driver;
  private readonly fallback: FallbackProber;
  /** The reconnect timer's own random stream, shared with the reconnector's picks. */
  private readonly reconnectRng: Rng;

  private constructor(options: MembershipOptions) {
    const clock: Clock = options.clock ?? systemClock;
    const rng = options.rng ?? Rng.fromSeed(Rng.randomSeed());
    const logger: Logger = (options.logger ?? silentLogger()).child({ brick: 'membership' });
    // Relayed records (alive records in every push-pull, gossip) are verified once per node.
    const scheme = cachingScheme(options.scheme ?? ed25519Scheme);
    const identity = options.identity;
    this.id = identity.nodeId;
    this.protocol = validateProtocolConfig(options.protocol ?? lanConfig());
    this.generation = options.generation ?? Math.max(1, Math.floor(clock.now()));
    const seeds = options.seeds ?? [];
    const hub = new EventHub(logger);

    const mux = new TransportMux(options.transport, { logger });
    const channels = {
      swim: mux.channel(CHANNEL_SWIM),
      state: mux.channel(CHANNEL_STATE),
      sync: mux.channel(CHANNEL_SYNC),
      user: mux.channel(CHANNEL_USER),
    };

    const swimConfig = {
      ...this.protocol.swim,
      mtu: Math.min(this.protocol.swim.mtu, channels.swim.mtu),
      // With the phi detector, heartbeats decide who is suspected: SWIM stops probing.
      probing: this.protocol.detector === 'swim' && this.protocol.swim.probing,
    };
    const swim = new SwimCore({
      self: {
        address: options.transport.localAddress,
        name: options.name ?? identity.nodeId.slice(0, 10),
        generation: this.generation,
      },
      signer: createSwimSigner(identity, scheme),
      config: swimConfig,
      rng: rng.child('swim'),
    });
    const stateMtu = Math.min(this.protocol.state.mtuBytes ?? 1400, channels.state.mtu);
    const state = new ScuttlebuttState({
      identity,
      generation: this.generation,
      config: {
        ...this.protocol.state,
        mtuBytes: stateMtu,
        ...(options.cluster === undefined ? {} : { cluster: options.cluster }),
      },
      scheme,
      rng: rng.child('state'),
      // SWIM's alive records carry generations to peers (noteNode); heartbeats only feed phi.
      initialHeartbeat: this.protocol.heartbeats,
      // State only of live members: not of minted identities, nor of a member already reaped.
      vouch: (node) => {
        const status = swim.member(node)?.status;
        return status === 'alive' || status === 'suspect';
      },
    });
    const phi = this.protocol.detector === 'phi' ? new PhiAccrualDetector(this.protocol.phi) : undefined;
    const pex =
      options.pex === undefined || options.pex === false
        ? undefined
        : new PexNode({
            transport: mux.channel(CHANNEL_PEX),
            clock,
            rng: rng.child('pex'),
            config: options.pex === true ? lanPexConfig() : options.pex,
            selfId: this.id,
            seeds,
            logger,
          });
    // Two phases: the shared state first, then the parts, which reach each other through it.
    const timers = new Map<string, TimerHandle>();
    const shared: DriverShared = {
      id: this.id,
      generation: this.generation,
      protocol: this.protocol,
      identity,
      clock,
      rng,
      logger,
      scheme,
      channels,
      swim,
      state,
      stateMtu,
      phi,
      pex,
      hub,
      timers,
      stopped: false,
    };
    const d = shared as Driver;
    this.d = d;
    d.stats = new DriverStats(d);
    d.sync = new SyncSession({
      channel: channels.sync,
      state,
      scheme,
      clock,
      timeoutMs: this.protocol.syncTimeoutMs,
      members: (visit) => swim.eachMember(visit),
      selfAlive: () => swim.member(this.id)!.aliveRecord,
      onAlive: (alive) => d.swimDriver.input({ type: 'join', members: alive }),
      onStateEvents: (events) => d.antiEntropy.onStateEvents(events),
      onPush: (summary) => d.pushPull.refuteIfAccused(summary),
      logger,
    });
    const reconnector = new Reconnector({ timeoutMs: this.protocol.reconnectTimeoutMs });
    this.reconnectRng = rng.child('reconnect');
    this.fallback = new FallbackProber({
      channel: channels.swim,
      selfId: this.id,
      clock,
      report: (input) => d.swimDriver.input(input),
    });
    d.swimDriver = new SwimDriver(d, this.fallback, reconnector);
    d.antiEntropy = new AntiEntropyDriver(d);
    d.pushPull = new PushPullDriver(d, {
      seeds,
      discovery: options.discovery ?? [],
      reconnector,
      reconnectRng: this.reconnectRng,
    });
    d.messages = new UserMessages(d);

    this.local = {
      set: (key, value) => {
        assertRunning(d);
        d.antiEntropy.onStateEvents(state.set(key, value));
      },
      delete: (key) => {
        assertRunning(d);
        d.antiEntropy.onStateEvents(state.delete(key, clock.now()));
      },
      get: (key) => state.get(this.id, key),
    };
    for (const [key, value] of Object.entries(options.initialState ?? {})) state.set(key, value);

    channels.swim.onPacket((from, data) => d.swimDriver.onSwimPacket(from, data));
    channels.state.onPacket((from, data) => d.antiEntropy.onStatePacket(from, data));
    channels.user.onPacket((_from, data) => d.messages.onDirect(data));
    channels.user.onStream((stream) => d.messages.onDirectStream(stream));
    if (options.metrics !== undefined) registerMetrics(options.metrics, d);
  }

  /**
   * Creates a membership node. It does not contact anyone until {@link join} (or, with seeds or
   * discovery configured, until the first re-seed), but answers peers at once.
   *
   * @throws CairnError `INVALID_CONFIG` naming the bad field; the generation store's errors
   */
  static async create(options: MembershipOptions): Promise<Membership> {
    const store = options.generationStore;
    const now = options.generation ?? (options.clock ?? systemClock).now();
    const m = new Membership(
      store === undefined ? options : { ...options, generation: await claimGeneration(store, now) },
    );
    m.start();
    return m;
  }

  /**
   * Joins the cluster through `seeds` (default: the configured seeds and discovery providers): a
   * push-pull sync with each, in parallel. Resolves with the number of seeds that answered.
   *
   * @throws CairnError `MEMBERSHIP_NOT_JOINED` when seeds were given and none answered
   */
  async join(seeds?: readonly Address[]): Promise<number> {
    return this.d.pushPull.join(seeds);
  }

  /**
   * Leaves gracefully: broadcasts a signed leave and resolves once it has been gossiped to its
   * retransmit limit, or after `timeoutMs`. Other nodes then list this node as `left`, not `dead`.
   */
  async leave(timeoutMs: number): Promise<void> {
    const d = this.d;
    assertRunning(d);
    d.swimDriver.input({ type: 'leave' });
    const deadline = d.clock.now() + timeoutMs;
    const key = `m:${this.id}`;
    const step = Math.max(1, this.protocol.swim.gossipIntervalMs);
    while (d.swim.isBroadcastPending(key) && d.clock.now() < deadline && !d.stopped) {
      await new Promise<void>((resolve) => d.clock.setTimer(step, resolve));
    }
  }

  /** Stops every timer and handler. Does not close the transport it was given. Idempotent. */
  async shutdown(): Promise<void> {
    const d = this.d;
    if (d.stopped) return;
    d.stopped = true;
    for (const handle of d.timers.values()) d.clock.cancel(handle);
    d.timers.clear();
    this.fallback.close();
    d.sync.close();
    d.pex?.stop();
    for (const channel of [d.channels.swim, d.channels.state, d.channels.sync, d.channels.user]) {
      await channel.close();
    }
    d.hub.close();
  }

  /**
   * Every member this node knows (itself included), with state, incarnation, generation, address
   * and key/value metadata. Dead and left members stay listed until reaped.
   */
  members(): Member[] {
    return this.d.swim.members().map((m) => toMember(this.d, m));
  }

  /** One member, or undefined. */
  member(id: NodeId): Member | undefined {
    const m = this.d.swim.member(id);
    return m === undefined ? undefined : toMember(this.d, m);
  }

  /** The value of `key` in `node`'s state as this node knows it. */
  lookup(node: NodeId, key: string): StateValue | undefined {
    return this.d.state.get(node, key);
  }

  /**
   * Sends `data` to one member: a packet when it fits, otherwise a stream. Signed with the
   * recipient, this run's generation and a sequence number, so the receiver knows the sender and
   * delivers the message at most once (a replay is refused). Best effort: no acknowledgement (use
   * `cairn/rpc` for request/response).
   *
   * @throws CairnError `MEMBERSHIP_UNKNOWN_NODE`, `LIMIT_EXCEEDED`
   */
  send(node: NodeId, data: Uint8Array): void {
    this.d.messages.send(node, data);
  }

  /**
   * Broadcasts `data` to every member through gossip (piggybacked, retransmitted log(n) times,
   * re-gossiped by receivers). Best effort and unordered.
   *
   * @throws CairnError `LIMIT_EXCEEDED` when the signed message does not fit one packet
   */
  broadcast(data: Uint8Array): void {
    this.d.messages.broadcast(data);
  }

  /** Calls `handler` for every event of `type`; returns the unsubscribe function. */
  on<T extends MembershipEventType>(type: T, handler: EventHandler<T>): () => void {
    return this.d.hub.on(type, handler);
  }

  /** Events as an async iterator (bounded buffer; see {@link IterateOptions}). */
  events(options?: IterateOptions): AsyncIterableIterator<MembershipEvent> {
    return this.d.hub.iterate(options);
  }

  /** Calls `handler` for every user message (direct or broadcast) received. */
  onMessage(handler: (message: UserMessage) => void): () => void {
    return this.d.messages.onMessage(handler);
  }

  /** Counters of this node (a live view; rejected records are summed over every path when read). */
  get stats(): Readonly<MembershipStats> {
    return this.d.stats.snapshot();
  }

  /** SWIM's counters and the local health multiplier (Lifeguard awareness). */
  swimStats(): { awareness: number; incarnation: number; counters: Readonly<Record<string, number>> } {
    return {
      awareness: this.d.swim.awareness,
      incarnation: this.d.swim.incarnation,
      counters: this.d.swim.counters,
    };
  }

  /** Peer sampling's view, when PeX runs: the fallback seed source. */
  samplePeers(k: number): Address[] {
    return this.d.pushPull.samplePeers(k);
  }

  private start(): void {
    const d = this.d;
    const protocol = this.protocol;
    d.swimDriver.input({ type: 'start' });
    every(d, 'anti-entropy', protocol.antiEntropyIntervalMs, () => d.antiEntropy.antiEntropy());
    if (protocol.heartbeats) {
      every(d, 'heartbeat', protocol.heartbeatIntervalMs, () =>
        d.antiEntropy.onStateEvents(d.state.heartbeat()),
      );
    }
    every(d, 'push-pull', protocol.pushPullIntervalMs, () => d.pushPull.periodicPushPull());
    every(d, 'reseed', protocol.reseedIntervalMs, () => d.pushPull.reseedIfAlone());
    // Its own random stream: reconnects draw nothing from the others' (same runs, same traces).
    every(d, 'reconnect', protocol.reconnectIntervalMs, () => d.pushPull.reconnect(), this.reconnectRng);
    every(d, 'gc', Math.max(1000, protocol.antiEntropyIntervalMs * 10), () => {
      d.state.collectGarbage(d.clock.now());
    });
    if (d.phi !== undefined) every(d, 'phi', protocol.heartbeatIntervalMs, () => d.antiEntropy.phiCheck());
  }
}
