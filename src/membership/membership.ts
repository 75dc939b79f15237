import { Gauge } from 'prom-client';
import {
  CairnError,
  type Clock,
  describeError,
  encode,
  type Logger,
  type Metrics,
  Rng,
  silentLogger,
  systemClock,
  type TimerHandle,
} from '../core/index.js';
import {
  ed25519Scheme,
  type NodeId,
  type NodeIdentity,
  type SignatureScheme,
  type SignedRecord,
  signRecord,
  verifyRecord,
} from '../security/index.js';
import { TransportMux } from '../transport/mux.js';
import type { Address, Stream, Transport } from '../transport/types.js';
import { lanConfig, type MembershipProtocolConfig, validateProtocolConfig } from './config.js';
import { PhiAccrualDetector } from './detector/index.js';
import type { DiscoveryProvider } from './discovery/index.js';
import { type EventHandler, EventHub, type IterateOptions } from './events.js';
import { FallbackProber } from './fallback.js';
import { claimGeneration, type GenerationStore } from './generation.js';
import { lanPexConfig, type PexConfig, PexNode } from './pex/index.js';
import { Reconnector, summaryAccusesSelf } from './reconnect.js';
import { ReplayWindows } from './replay-window.js';
import {
  decodeStateMessage,
  decodeStatePayload,
  encodeStateMessage,
  ScuttlebuttState,
  type StateEvent,
  type StateMessage,
} from './state/index.js';
import {
  createSwimSigner,
  decodeCompound,
  decodeSwimMessage,
  isBroadcastMessage,
  memberKey,
  openBroadcast,
  SwimCore,
  type SwimEffects,
  type SwimEvent,
  type SwimInput,
  type SwimMember,
  writeCompound,
} from './swim/index.js';
import { SyncSession } from './sync/session.js';
import type { MemberSummary } from './sync/summary.js';
import type { Member, MembershipEvent, MembershipEventType, StateValue, UserMessage } from './types.js';
import { cachingScheme } from './verify-cache.js';
import {
  CHANNEL_PEX,
  CHANNEL_STATE,
  CHANNEL_SWIM,
  CHANNEL_SYNC,
  CHANNEL_USER,
  decodeDirect,
  decodeDirectPayload,
  decodePiggyback,
  encodeDirectPayload,
  encodePiggyback,
  WIRE_LIMITS,
} from './wire.js';

/** Options of {@link Membership.create}. */
export interface MembershipOptions {
  /** This node's identity: its NodeId and the key that signs its records. */
  identity: NodeIdentity;
  /**
   * Where membership speaks: a transport (or a mux channel of one) for this node alone. Membership
   * takes over its packet and stream handlers; {@link Membership.shutdown} does not close it.
   */
  transport: Transport;
  /** A human-readable name carried in the alive record; default the short node id. */
  name?: string;
  /** Protocol settings; default {@link lanConfig}(). Must match across the cluster. */
  protocol?: MembershipProtocolConfig;
  /** Clock; default the system clock (the simulator passes its virtual clock). */
  clock?: Clock;
  /** Random stream; default seeded from the OS (the simulator passes a seeded one). */
  rng?: Rng;
  /** Logger; default silent. */
  logger?: Logger;
  /** Metrics registry for `cairn_membership_*`; default none. */
  metrics?: Metrics;
  /**
   * This run's generation; default `floor(clock.now())`. With a `generationStore`, the generation
   * is at least the last one stored plus one (and this value, or the clock, otherwise).
   */
  generation?: number;
  /**
   * Where the last generation is kept across restarts (the agent keeps it in its data directory,
   * the simulator on the node's disk). With it, this run's generation is `max(clock.now(),
   * last + 1)`, saved durably before the node announces anything, so a clock stepped back across
   * a restart cannot make the node's peers ignore it. Without it, the clock alone decides.
   */
  generationStore?: GenerationStore;
  /** Signature scheme; default Ed25519. `simulatedScheme` only in large simulations. */
  scheme?: SignatureScheme;
  /** Seed addresses for `join()` without arguments and for re-seeding. */
  seeds?: readonly Address[];
  /** Discovery providers asked for seeds at `join()` and whenever no live peer is known. */
  discovery?: readonly DiscoveryProvider[];
  /** Key/value state set before the node joins (the Scuttlebutt seed's wish). */
  initialState?: Readonly<Record<string, StateValue>>;
  /** Cluster name: Scuttlebutt messages from another cluster are refused. */
  cluster?: string;
  /**
   * Runs gossip peer sampling (PeX) beside SWIM, as a fallback seed source: when no live member is
   * known, re-seeding also tries peers from the PeX view (and re-exchanges with the seeds, which is
   * what reconnects two PeX halves after a long partition). `true` for `lanPexConfig()`.
   */
  pex?: boolean | PexConfig;
}

/** This node's own key/value state. */
export interface LocalState {
  /** Sets `key` (versioned, signed, gossiped at once). */
  set(key: string, value: StateValue): void;
  /** Deletes `key` (a tombstone, gossiped, collected after the grace period). */
  delete(key: string): void;
  /** The current value of `key`. */
  get(key: string): StateValue | undefined;
}

/** Counters of one membership node; all only grow. */
export interface MembershipStats {
  packetsReceived: number;
  packetsSent: number;
  malformed: number;
  rejectedRecords: number;
  syncsStarted: number;
  syncsCompleted: number;
  syncsFailed: number;
  /** Push-pulls started because a peer's state named a node SWIM did not know. */
  triggeredSyncs: number;
  /** Follow-up push-pulls after a sync that brought members this node did not know. */
  catchUpSyncs: number;
  /** Push-pull streams closed for a frame out of phase or over its phase's counts (`sync/session.ts`). */
  syncProtocolErrors: number;
  /** Signature checks push-pull refused because the peer's verification budget was spent. */
  syncOverBudget: number;
  reseeds: number;
  /** Push-pulls with a member declared dead (`reconnectIntervalMs`). */
  reconnects: number;
  userMessages: number;
  /**
   * Direct messages refused as seen before (a duplicate or replay), from an older run of their
   * sender, older than the sender's replay window, or addressed to another node.
   */
  directRefused: number;
  phiSuspicions: number;
}

/** Gossip state limit: user broadcast ids remembered to suppress duplicates. */
const MAX_SEEN_BROADCASTS = 4096;

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
  private readonly counters: MembershipStats = {
    packetsReceived: 0,
    packetsSent: 0,
    malformed: 0,
    rejectedRecords: 0,
    syncsStarted: 0,
    syncsCompleted: 0,
    syncsFailed: 0,
    triggeredSyncs: 0,
    catchUpSyncs: 0,
    syncProtocolErrors: 0,
    syncOverBudget: 0,
    reseeds: 0,
    reconnects: 0,
    userMessages: 0,
    directRefused: 0,
    phiSuspicions: 0,
  };

  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly logger: Logger;
  private readonly scheme: SignatureScheme;
  private readonly identity: NodeIdentity;
  private readonly mux: TransportMux;
  private readonly swimChannel: Transport;
  private readonly stateChannel: Transport;
  private readonly syncChannel: Transport;
  private readonly userChannel: Transport;
  private readonly swim: SwimCore;
  private readonly state: ScuttlebuttState;
  private readonly phi: PhiAccrualDetector | undefined;
  private readonly hub: EventHub;
  private readonly sync: SyncSession;
  private readonly fallback: FallbackProber;
  private readonly pex: PexNode | undefined;
  private readonly reconnector: Reconnector;
  private readonly reconnectRng: Rng;
  private readonly seeds: readonly Address[];
  private readonly discovery: readonly DiscoveryProvider[];
  private readonly stateMtu: number;
  private readonly timers = new Map<string, TimerHandle>();
  private readonly seenBroadcasts = new Set<string>();
  private readonly messageHandlers = new Set<(message: UserMessage) => void>();
  private broadcastSeq = 0;
  /** The sequence of the last direct message sent by this run (each is signed with the next). */
  private directSeq = 0;
  /** What each sender's direct messages already delivered: each is delivered at most once. */
  private readonly directWindows = new ReplayWindows();
  /** Records refused by this driver (SWIM broadcasts, user messages); the state core counts its own. */
  private rejectedHere = 0;
  /** When the last push-pull triggered by an unknown node in a digest started. */
  private lastTriggeredSyncMs = Number.NEGATIVE_INFINITY;
  private stopped = false;
  private inStep = false;
  private readonly pending: SwimInput[] = [];

  private constructor(options: MembershipOptions) {
    this.clock = options.clock ?? systemClock;
    this.rng = options.rng ?? Rng.fromSeed(Rng.randomSeed());
    this.logger = (options.logger ?? silentLogger()).child({ brick: 'membership' });
    // Relayed records (alive records in every push-pull, gossip) are verified once per node.
    this.scheme = cachingScheme(options.scheme ?? ed25519Scheme);
    this.identity = options.identity;
    this.id = options.identity.nodeId;
    this.protocol = validateProtocolConfig(options.protocol ?? lanConfig());
    this.generation = options.generation ?? Math.max(1, Math.floor(this.clock.now()));
    this.seeds = options.seeds ?? [];
    this.discovery = options.discovery ?? [];
    this.hub = new EventHub(this.logger);

    this.mux = new TransportMux(options.transport, { logger: this.logger });
    this.swimChannel = this.mux.channel(CHANNEL_SWIM);
    this.stateChannel = this.mux.channel(CHANNEL_STATE);
    this.syncChannel = this.mux.channel(CHANNEL_SYNC);
    this.userChannel = this.mux.channel(CHANNEL_USER);

    const swimConfig = {
      ...this.protocol.swim,
      mtu: Math.min(this.protocol.swim.mtu, this.swimChannel.mtu),
      // With the phi detector, heartbeats decide who is suspected: SWIM stops probing.
      probing: this.protocol.detector === 'swim' && this.protocol.swim.probing,
    };
    this.swim = new SwimCore({
      self: {
        address: options.transport.localAddress,
        name: options.name ?? this.identity.nodeId.slice(0, 10),
        generation: this.generation,
      },
      signer: createSwimSigner(this.identity, this.scheme),
      config: swimConfig,
      rng: this.rng.child('swim'),
    });
    this.stateMtu = Math.min(this.protocol.state.mtuBytes ?? 1400, this.stateChannel.mtu);
    this.state = new ScuttlebuttState({
      identity: this.identity,
      generation: this.generation,
      config: {
        ...this.protocol.state,
        mtuBytes: this.stateMtu,
        ...(options.cluster === undefined ? {} : { cluster: options.cluster }),
      },
      scheme: this.scheme,
      rng: this.rng.child('state'),
      // SWIM's alive records carry generations to peers (noteNode); heartbeats only feed phi.
      initialHeartbeat: this.protocol.heartbeats,
      // State only of live members: not of minted identities, nor of a member already reaped.
      vouch: (node) => {
        const status = this.swim.member(node)?.status;
        return status === 'alive' || status === 'suspect';
      },
    });
    this.phi = this.protocol.detector === 'phi' ? new PhiAccrualDetector(this.protocol.phi) : undefined;
    this.sync = new SyncSession({
      channel: this.syncChannel,
      state: this.state,
      scheme: this.scheme,
      clock: this.clock,
      timeoutMs: this.protocol.syncTimeoutMs,
      members: (visit) => this.swim.eachMember(visit),
      selfAlive: () => this.swim.member(this.id)!.aliveRecord,
      onAlive: (alive) => this.input({ type: 'join', members: alive }),
      onStateEvents: (events) => this.onStateEvents(events),
      onPush: (summary) => this.refuteIfAccused(summary),
      logger: this.logger,
    });
    this.reconnector = new Reconnector({ timeoutMs: this.protocol.reconnectTimeoutMs });
    this.reconnectRng = this.rng.child('reconnect');
    this.fallback = new FallbackProber({
      channel: this.swimChannel,
      selfId: this.id,
      clock: this.clock,
      report: (input) => this.input(input),
    });

    this.pex =
      options.pex === undefined || options.pex === false
        ? undefined
        : new PexNode({
            transport: this.mux.channel(CHANNEL_PEX),
            clock: this.clock,
            rng: this.rng.child('pex'),
            config: options.pex === true ? lanPexConfig() : options.pex,
            selfId: this.id,
            seeds: this.seeds,
            logger: this.logger,
          });

    this.local = {
      set: (key, value) => {
        this.assertRunning();
        this.onStateEvents(this.state.set(key, value));
      },
      delete: (key) => {
        this.assertRunning();
        this.onStateEvents(this.state.delete(key, this.clock.now()));
      },
      get: (key) => this.state.get(this.id, key),
    };
    for (const [key, value] of Object.entries(options.initialState ?? {})) this.state.set(key, value);

    this.swimChannel.onPacket((from, data) => this.onSwimPacket(from, data));
    this.stateChannel.onPacket((from, data) => this.onStatePacket(from, data));
    this.userChannel.onPacket((_from, data) => this.onDirect(data));
    this.userChannel.onStream((stream) => this.onDirectStream(stream));
    if (options.metrics !== undefined) this.registerMetrics(options.metrics);
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
    this.assertRunning();
    const targets = seeds ?? (await this.discoverSeeds());
    const others = [...new Set(targets)].filter((a) => a !== this.swimChannel.localAddress);
    if (others.length === 0) return 0;
    const results = await Promise.all(others.map((address) => this.pushPull(address)));
    const ok = results.filter(Boolean).length;
    if (ok === 0) {
      throw new CairnError('MEMBERSHIP_NOT_JOINED', `no seed answered: ${others.join(', ')}`, {
        details: { seeds: others },
      });
    }
    return ok;
  }

  /**
   * Leaves gracefully: broadcasts a signed leave and resolves once it has been gossiped to its
   * retransmit limit, or after `timeoutMs`. Other nodes then list this node as `left`, not `dead`.
   */
  async leave(timeoutMs: number): Promise<void> {
    this.assertRunning();
    this.input({ type: 'leave' });
    const deadline = this.clock.now() + timeoutMs;
    const key = `m:${this.id}`;
    const step = Math.max(1, this.protocol.swim.gossipIntervalMs);
    while (this.swim.isBroadcastPending(key) && this.clock.now() < deadline && !this.stopped) {
      await new Promise<void>((resolve) => this.clock.setTimer(step, resolve));
    }
  }

  /** Stops every timer and handler. Does not close the transport it was given. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const handle of this.timers.values()) this.clock.cancel(handle);
    this.timers.clear();
    this.fallback.close();
    this.sync.close();
    this.pex?.stop();
    for (const channel of [this.swimChannel, this.stateChannel, this.syncChannel, this.userChannel]) {
      await channel.close();
    }
    this.hub.close();
  }

  /**
   * Every member this node knows (itself included), with state, incarnation, generation, address
   * and key/value metadata. Dead and left members stay listed until reaped.
   */
  members(): Member[] {
    return this.swim.members().map((m) => this.toMember(m));
  }

  /** One member, or undefined. */
  member(id: NodeId): Member | undefined {
    const m = this.swim.member(id);
    return m === undefined ? undefined : this.toMember(m);
  }

  /** The value of `key` in `node`'s state as this node knows it. */
  lookup(node: NodeId, key: string): StateValue | undefined {
    return this.state.get(node, key);
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
    this.assertRunning();
    const member = this.swim.member(node);
    if (member === undefined) throw new CairnError('MEMBERSHIP_UNKNOWN_NODE', `no member ${node} is known`);
    if (data.length > WIRE_LIMITS.maxUserMessageBytes) {
      throw new CairnError('LIMIT_EXCEEDED', `a user message of ${data.length} bytes is over the limit`);
    }
    const payload = encodeDirectPayload({ kind: 'direct', to: node, generation: this.generation, data });
    const bytes = encode(signRecord(this.identity, ++this.directSeq, payload, this.scheme));
    if (bytes.length <= this.userChannel.mtu) {
      this.userChannel.sendPacket(member.address, bytes);
      return;
    }
    void this.userChannel
      .dial(member.address, { timeoutMs: this.protocol.syncTimeoutMs })
      .then((stream) => {
        stream.send(bytes);
        stream.close();
      })
      .catch((err: unknown) => this.logger.debug({ err: describeError(err), node }, 'direct message lost'));
  }

  /**
   * Broadcasts `data` to every member through gossip (piggybacked, retransmitted log(n) times,
   * re-gossiped by receivers). Best effort and unordered.
   *
   * @throws CairnError `LIMIT_EXCEEDED` when the signed message does not fit one packet
   */
  broadcast(data: Uint8Array): void {
    this.assertRunning();
    const id = `${this.id}:${this.broadcastSeq++}`;
    const item = encodePiggyback({ k: 'ub', id, r: signRecord(this.identity, 0, data, this.scheme) });
    if (!this.fitsOnePacket(item)) {
      throw new CairnError('LIMIT_EXCEEDED', `a broadcast of ${data.length} bytes does not fit one packet`);
    }
    this.remember(id);
    this.input({ type: 'broadcast', key: `ub:${id}`, data: item, eager: true });
  }

  /** Calls `handler` for every event of `type`; returns the unsubscribe function. */
  on<T extends MembershipEventType>(type: T, handler: EventHandler<T>): () => void {
    return this.hub.on(type, handler);
  }

  /** Events as an async iterator (bounded buffer; see {@link IterateOptions}). */
  events(options?: IterateOptions): AsyncIterableIterator<MembershipEvent> {
    return this.hub.iterate(options);
  }

  /** Calls `handler` for every user message (direct or broadcast) received. */
  onMessage(handler: (message: UserMessage) => void): () => void {
    this.messageHandlers.add(handler);
    return () => this.messageHandlers.delete(handler);
  }

  /** Counters of this node (a live view; rejected records are summed over every path when read). */
  get stats(): Readonly<MembershipStats> {
    this.countRejections();
    this.counters.syncProtocolErrors = this.sync.protocolErrors;
    this.counters.syncOverBudget = this.sync.overBudget;
    return this.counters;
  }

  /** SWIM's counters and the local health multiplier (Lifeguard awareness). */
  swimStats(): { awareness: number; incarnation: number; counters: Readonly<Record<string, number>> } {
    return {
      awareness: this.swim.awareness,
      incarnation: this.swim.incarnation,
      counters: this.swim.counters,
    };
  }

  // ---- lifecycle ---------------------------------------------------------------------------------

  private start(): void {
    this.input({ type: 'start' });
    this.every('anti-entropy', this.protocol.antiEntropyIntervalMs, () => this.antiEntropy());
    if (this.protocol.heartbeats) {
      this.every('heartbeat', this.protocol.heartbeatIntervalMs, () =>
        this.onStateEvents(this.state.heartbeat()),
      );
    }
    this.every('push-pull', this.protocol.pushPullIntervalMs, () => this.periodicPushPull());
    this.every('reseed', this.protocol.reseedIntervalMs, () => this.reseedIfAlone());
    // Its own random stream: reconnects draw nothing from the others' (same runs, same traces).
    this.every('reconnect', this.protocol.reconnectIntervalMs, () => this.reconnect(), this.reconnectRng);
    this.every('gc', Math.max(1000, this.protocol.antiEntropyIntervalMs * 10), () => {
      this.state.collectGarbage(this.clock.now());
    });
    if (this.phi !== undefined) this.every('phi', this.protocol.heartbeatIntervalMs, () => this.phiCheck());
  }

  private every(name: string, intervalMs: number, fn: () => void, rng = this.rng): void {
    // A random first delay spreads nodes that start together over the interval.
    const arm = (delay: number) => {
      this.timers.set(
        name,
        this.clock.setTimer(delay, () => {
          if (this.stopped) return;
          arm(intervalMs);
          this.guard(name, fn);
        }),
      );
    };
    arm(rng.float() * intervalMs);
  }

  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error({ err: describeError(err), what }, 'membership task failed');
    }
  }

  private assertRunning(): void {
    if (this.stopped) throw new CairnError('CLOSED', 'membership was shut down');
  }

  // ---- SWIM --------------------------------------------------------------------------------------

  /** Feeds one input to the SWIM core and carries out its effects (re-entrant calls are queued). */
  private input(input: SwimInput): void {
    if (this.stopped) return;
    this.pending.push(input);
    if (this.inStep) return;
    this.inStep = true;
    try {
      for (let next = this.pending.shift(); next !== undefined; next = this.pending.shift()) {
        this.apply(this.swim.step(next, this.clock.now()));
      }
    } finally {
      this.inStep = false;
    }
  }

  private apply(fx: SwimEffects): void {
    for (const packet of fx.packets) {
      this.counters.packetsSent++;
      // A scratch view, valid until the next packet: sendPacket keeps nothing of it.
      this.swimChannel.sendPacket(packet.to, writeCompound(packet.parts));
    }
    for (const probe of fx.fallbackProbes) this.fallback.probe(probe);
    for (const event of fx.events) this.onSwimEvent(event);
    const old = this.timers.get('swim');
    if (old !== undefined) this.clock.cancel(old);
    if (fx.timerAtMs === undefined) {
      this.timers.delete('swim');
    } else {
      const delay = Math.max(0, fx.timerAtMs - this.clock.now());
      this.timers.set(
        'swim',
        this.clock.setTimer(delay, () => this.input({ type: 'tick' })),
      );
    }
  }

  private onSwimPacket(from: Address, data: Uint8Array): void {
    this.counters.packetsReceived++;
    const parts = decodeCompound(data);
    if (!parts.ok) {
      this.counters.malformed++;
      return;
    }
    for (const part of parts.value) {
      const decoded = decodeSwimMessage(part);
      if (!decoded.ok) {
        this.counters.malformed++;
        continue;
      }
      const message = decoded.value;
      if (message.type === 'User') {
        this.onPiggyback(message.data);
      } else if (isBroadcastMessage(message)) {
        const opened = openBroadcast(message, this.scheme);
        if (!opened.ok) {
          this.reject();
          continue;
        }
        this.input({ type: 'message', from, message: opened.value });
      } else {
        this.input({ type: 'message', from, message });
        if (message.type === 'Ack' && message.members !== undefined)
          this.syncIfAckerKnowsMore(from, message.members);
      }
    }
  }

  private onSwimEvent(event: SwimEvent): void {
    if (event.member.id !== this.id)
      this.reconnector.onEvent(event.type, event.member.id, event.member.address, this.clock.now());
    // A newer generation drops the old one's key/value state before anyone sees the member.
    if (event.restarted && event.type !== 'reap') {
      this.onStateEvents(this.state.noteNode(event.member.id, event.member.generation));
    }
    if (event.type === 'reap') {
      this.state.forget(event.member.id);
      this.phi?.remove(event.member.id);
      return;
    }
    const member = this.toMember(event.member);
    switch (event.type) {
      case 'update':
        this.hub.publish({ type: 'alive', member });
        return;
      case 'join':
        if (!member.local) this.pex?.seed([event.member.address]);
        this.hub.publish({ type: 'join', member });
        return;
      case 'alive':
      case 'suspect':
      case 'dead':
      case 'leave':
        if (event.type === 'dead' || event.type === 'leave') this.phi?.remove(event.member.id);
        this.hub.publish({ type: event.type, member });
        return;
    }
  }

  private toMember(m: SwimMember): Member {
    const metadata = this.state.valuesOf(m.id);
    return {
      id: m.id,
      name: m.name,
      address: m.address,
      state: m.status,
      incarnation: m.incarnation,
      generation: m.generation,
      metadata,
      local: m.id === this.id,
      stateSinceMs: m.statusSinceMs,
    };
  }

  // ---- Scuttlebutt -------------------------------------------------------------------------------

  private onStateEvents(events: readonly StateEvent[]): void {
    for (const event of events) {
      switch (event.type) {
        case 'localRecord':
          this.pushRecord(event.record);
          break;
        case 'update':
          if (event.record !== undefined && event.node !== this.id) this.pushRecord(event.record);
          this.hub.publish({
            type: 'update',
            node: event.node,
            key: event.key,
            value: event.value,
            version: event.version,
          });
          break;
        case 'heartbeat':
          if (event.node !== this.id) this.phi?.heartbeat(event.node, this.clock.now());
          break;
        case 'nodeReset':
          break;
      }
    }
  }

  /** Pushes a key/value record eagerly through SWIM's piggyback; heartbeats travel by anti-entropy. */
  private pushRecord(record: SignedRecord): void {
    const payload = decodeStatePayload(record.payload);
    if (payload === undefined || payload.type !== 'kv') return;
    this.input({
      type: 'broadcast',
      key: `kv:${record.node}:${payload.key}`,
      data: encodePiggyback({ k: 'kv', r: record }),
      eager: true,
    });
  }

  private onPiggyback(data: Uint8Array): void {
    const item = decodePiggyback(data);
    if (item === undefined) {
      this.counters.malformed++;
      return;
    }
    if (item.k === 'kv') {
      const before = this.state.stats.applied;
      this.onStateEvents(this.state.applyRecord(item.r, this.clock.now()));
      if (this.state.stats.applied === before) this.countRejections();
      return;
    }
    if (this.seenBroadcasts.has(item.id)) return;
    if (!verifyRecord(item.r, this.scheme) || !item.id.startsWith(`${item.r.node}:`)) {
      this.reject();
      return;
    }
    this.remember(item.id);
    // Re-gossip once (not eagerly) so a broadcast reaches nodes its origin did not pick. One that
    // could not fit this node's packets (a peer with a larger MTU) is delivered, not relayed: the
    // core refuses a part over its MTU by throwing, and peer input never reaches a throw.
    if (this.fitsOnePacket(data)) this.input({ type: 'broadcast', key: `ub:${item.id}`, data });
    this.deliver({ from: item.r.node, data: item.r.payload, kind: 'broadcast' });
  }

  /** True when a piggybacked item fits one SWIM packet of this node with room for a header. */
  private fitsOnePacket(item: Uint8Array): boolean {
    return item.length <= Math.min(this.swim.config.mtu, this.swimChannel.mtu) - 64;
  }

  /** Refreshes `stats.rejectedRecords`: records refused here, in push-pull, and by the state core. */
  private countRejections(): void {
    const r = this.state.stats.rejected;
    this.counters.rejectedRecords =
      this.rejectedHere + this.sync.rejected + r.unsigned + r.forged + r.malformed + r.limit + r.budget;
  }

  private reject(): void {
    this.rejectedHere++;
    this.countRejections();
  }

  private onStatePacket(from: Address, data: Uint8Array): void {
    this.counters.packetsReceived++;
    const message = decodeStateMessage(data);
    if (message === undefined) {
      this.counters.malformed++;
      return;
    }
    const step = this.state.handleMessage(message, this.clock.now(), this.stateMtu);
    this.countRejections();
    if (step.reply !== undefined) this.sendState(from, step.reply);
    this.onStateEvents(step.events);
    this.syncIfPeerKnowsMore(from, message);
  }

  /**
   * A peer's digest or delta names a node SWIM has never heard of: an alive record ran out of
   * retransmits before reaching this node (many nodes joining at once does that). Rather than wait
   * for the periodic push-pull, sync with that peer now, at most once per two anti-entropy
   * intervals, so the join tail is seconds, not a push-pull interval.
   */
  private syncIfPeerKnowsMore(from: Address, message: StateMessage): void {
    const now = this.clock.now();
    if (now - this.lastTriggeredSyncMs < 2 * this.protocol.antiEntropyIntervalMs) return;
    const unknown = (node: NodeId) => node !== this.id && !this.swim.knows(node);
    const named =
      (message.type !== 'Ack' && message.digest.entries.some((e) => unknown(e.node))) ||
      (message.type !== 'Syn' && message.delta.some((d) => unknown(d.node)));
    if (named) this.triggerSync(from);
  }

  /**
   * A direct Ack says the acker lists `members` members up, more than this node does: this node may
   * have missed joins (alive records run out of retransmits in a mass join, and Scuttlebutt digests
   * name only nodes with state). A wide gap (at least max(2, log2 n)) is a mass join: sync with the
   * acker at once. A narrow one looks the same as a join or two that gossip is still spreading, so
   * the node checks again two anti-entropy intervals later and syncs only if it still lists fewer
   * (one check at a time). Syncing at once on any gap would make a single join start a sync on
   * about half of a large cluster. Syncs share the rate limit of {@link syncIfPeerKnowsMore}.
   */
  private syncIfAckerKnowsMore(from: Address, members: number): void {
    const mine = this.swim.upMembers;
    if (members <= mine) return;
    if (members - mine >= Math.max(2, Math.ceil(Math.log2(mine + 1)))) {
      this.triggerSync(from);
      return;
    }
    if (this.timers.has('members-gap')) return;
    this.timers.set(
      'members-gap',
      this.clock.setTimer(2 * this.protocol.antiEntropyIntervalMs, () => {
        this.timers.delete('members-gap');
        if (!this.stopped && this.swim.upMembers < members) this.triggerSync(from);
      }),
    );
  }

  /** Starts a push-pull with `peer` unless one was triggered in the last two anti-entropy intervals. */
  private triggerSync(peer: Address): void {
    const now = this.clock.now();
    if (now - this.lastTriggeredSyncMs < 2 * this.protocol.antiEntropyIntervalMs) return;
    this.lastTriggeredSyncMs = now;
    this.counters.triggeredSyncs++;
    void this.pushPull(peer);
  }

  private sendState(to: Address, message: StateMessage): void {
    const bytes = encodeStateMessage(message);
    if (bytes.length > this.stateChannel.mtu) {
      this.logger.warn({ bytes: bytes.length, mtu: this.stateChannel.mtu }, 'state message over the mtu');
      return;
    }
    this.counters.packetsSent++;
    this.stateChannel.sendPacket(to, bytes);
  }

  private antiEntropy(): void {
    const peer = this.randomPeer();
    if (peer !== undefined) this.sendState(peer.address, this.state.createSyn(this.stateMtu));
  }

  private randomPeer(): SwimMember | undefined {
    return this.swim.randomAlivePeer(this.rng);
  }

  // ---- phi accrual -------------------------------------------------------------------------------

  private phiCheck(): void {
    const phi = this.phi;
    if (phi === undefined) return;
    const now = this.clock.now();
    for (const m of this.swim.members()) {
      if (m.id === this.id || m.status !== 'alive') continue;
      if (!phi.isMonitoring(m.id)) continue;
      if (!phi.isAvailable(m.id, now)) {
        this.counters.phiSuspicions++;
        this.input({ type: 'suspect', id: m.id });
      }
    }
  }

  // ---- push-pull, join and re-seed ---------------------------------------------------------------

  private async pushPull(address: Address): Promise<boolean> {
    this.counters.syncsStarted++;
    const before = this.swim.size;
    const ok = await this.sync.run(address);
    if (ok) this.counters.syncsCompleted++;
    else this.counters.syncsFailed++;
    if (ok && this.swim.size > before) this.catchUp(address);
    return ok;
  }

  /**
   * A sync with `taught` just taught this node members it did not know, so that peer knew more,
   * and in a mass join it keeps learning (every joiner pushed its record to the seed it joined
   * through): sync with it again `catchUpDelayMs` later, and so on until a sync brings nothing
   * new. In a stable cluster nothing triggers it. A sync moves only what one side lacks
   * (`sync/summary.ts`), so a follow-up costs a summary.
   */
  private catchUp(taught: Address): void {
    if (this.stopped || this.timers.has('catch-up')) return;
    this.timers.set(
      'catch-up',
      this.clock.setTimer(this.protocol.catchUpDelayMs, () => {
        this.timers.delete('catch-up');
        if (this.stopped) return;
        this.counters.catchUpSyncs++;
        void this.pushPull(taught);
      }),
    );
  }

  private periodicPushPull(): void {
    const peer = this.randomPeer();
    if (peer !== undefined) void this.pushPull(peer.address);
  }

  /** Peer sampling's view, when PeX runs: the fallback seed source. */
  samplePeers(k: number): Address[] {
    return this.pex === undefined ? [] : this.pex.sample(k).map((d) => d.address);
  }

  private async discoverSeeds(): Promise<Address[]> {
    const out = [...this.seeds, ...this.samplePeers(this.protocol.swim.gossipNodes)];
    for (const provider of this.discovery) {
      try {
        out.push(...(await provider.discover()));
      } catch (err) {
        this.logger.debug({ err: describeError(err), provider: provider.name }, 'discovery failed');
      }
    }
    return out;
  }

  private reseedIfAlone(): void {
    if (this.seeds.length === 0 && this.discovery.length === 0 && this.pex === undefined) return;
    if (this.swim.hasAlivePeer()) return;
    this.counters.reseeds++;
    for (const seed of this.seeds) this.pex?.exchangeWith(seed);
    void this.join().catch((err: unknown) =>
      this.logger.debug({ err: describeError(err) }, 're-seed found no live seed'),
    );
  }

  /** Push-pull with one member declared dead, so halves of a healed partition merge (`reconnect.ts`). */
  private reconnect(): void {
    const target = this.reconnector.pick(this.clock.now(), this.swim.upMembers, this.reconnectRng);
    if (target === undefined) return;
    this.counters.reconnects++;
    void this.pushPull(target.address).then((ok) => {
      const status = this.swim.member(target.id)?.status;
      if (ok) this.reconnector.settled(target.id, status === 'alive' || status === 'suspect');
    });
  }

  /** A push-pull dialer lists this node dead or suspect: refute (a new incarnation) before answering. */
  private refuteIfAccused(summary: MemberSummary): void {
    const self = { key: memberKey(this.id), generation: this.generation, incarnation: this.swim.incarnation };
    if (this.swim.member(this.id)?.status !== 'alive' || !summaryAccusesSelf(summary, self)) return;
    this.input({ type: 'update-local' });
  }

  // ---- user messages -----------------------------------------------------------------------------

  private onDirect(data: Uint8Array): void {
    let record: SignedRecord;
    try {
      record = decodeDirect(data);
    } catch {
      this.counters.malformed++;
      return;
    }
    const payload = decodeDirectPayload(record.payload);
    if (payload === undefined || !verifyRecord(record, this.scheme)) {
      this.reject();
      return;
    }
    // The signature binds recipient, run and sequence: deliver each message once, here only.
    const known = this.swim.member(record.node)?.generation;
    if (
      payload.to !== this.id ||
      this.directWindows.accept(record.node, payload.generation, record.version, known) !== 'fresh'
    ) {
      this.counters.directRefused++;
      return;
    }
    this.deliver({ from: record.node, data: payload.data, kind: 'direct' });
  }

  private onDirectStream(stream: Stream): void {
    stream.onFrame((frame) => {
      this.onDirect(frame);
      stream.close();
    });
  }

  private deliver(received: UserMessage): void {
    this.counters.userMessages++;
    if (this.messageHandlers.size === 0) return;
    // The payload is a view into the packet or frame it came in, which is the transport's again
    // once this handler returns (see PacketHandler); the application gets bytes of its own.
    const message: UserMessage = { ...received, data: new Uint8Array(received.data) };
    for (const handler of this.messageHandlers) {
      try {
        handler(message);
      } catch (err) {
        this.logger.error({ err: describeError(err) }, 'user message handler threw');
      }
    }
  }

  private remember(id: string): void {
    this.seenBroadcasts.add(id);
    if (this.seenBroadcasts.size > MAX_SEEN_BROADCASTS) {
      const oldest = this.seenBroadcasts.values().next().value;
      if (oldest !== undefined) this.seenBroadcasts.delete(oldest);
    }
  }

  private registerMetrics(metrics: Metrics): void {
    const swim = this.swim;
    const stats = () => this.stats;
    new Gauge({
      name: 'cairn_membership_members',
      help: 'Members this node knows, by state.',
      labelNames: ['state'],
      registers: [metrics.registry],
      collect() {
        const byState: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
        for (const m of swim.members()) byState[m.status] = (byState[m.status] ?? 0) + 1;
        for (const [state, n] of Object.entries(byState)) this.set({ state }, n);
      },
    });
    const state = this.state;
    new Gauge({
      name: 'cairn_membership_records_rejected_total',
      help: 'Scuttlebutt records not applied, by reason (a count; it only grows).',
      labelNames: ['reason'],
      registers: [metrics.registry],
      collect() {
        for (const [reason, n] of Object.entries(state.stats.rejected)) this.set({ reason }, n);
      },
    });
    new Gauge({
      name: 'cairn_membership_state_bytes',
      help: 'Bytes of Scuttlebutt records kept, all nodes (bounded by maxStateBytes).',
      registers: [metrics.registry],
      collect() {
        this.set(state.stateBytes);
      },
    });
    new Gauge({
      name: 'cairn_membership_state_nodes',
      help: 'Nodes whose Scuttlebutt state is kept, this node included.',
      registers: [metrics.registry],
      collect() {
        this.set(state.nodes().length);
      },
    });
    new Gauge({
      name: 'cairn_membership_stat',
      help: 'Membership counters (see MembershipStats); they only grow.',
      labelNames: ['counter'],
      registers: [metrics.registry],
      collect() {
        for (const [counter, n] of Object.entries(stats())) this.set({ counter }, n);
      },
    });
  }
}
