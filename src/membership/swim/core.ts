import { assert, assertNever, CairnError, checkLimit, type Rng } from '../../core/index.js';
import type { NodeId } from '../../security/index.js';
import { tryParseAddress } from '../../transport/address.js';
import { NODE_NAME_PATTERN } from '../node-name.js';
import { arrayHeaderBytes, partCost } from './compound.js';
import { type SwimConfig, validateSwimConfig } from './config.js';
import { DeadlineQueue } from './deadlines.js';
import { DEFAULT_LIMITS, type SwimLimits } from './limits.js';
import { applyAwarenessDelta } from './math.js';
import { memberKey } from './member-key.js';
import { MemberEntry, MemberTable } from './members.js';
import { encodeSwimMessage, type ProbeMessage, type SwimSigner, type VerifiedBroadcast } from './messages.js';
import { encodePart, Outbox, type OutboxHost, userBroadcastKey } from './outbox.js';
import { PROBE_TIMEOUT_TIMER, PROBE_TIMER, Prober, type ProberHost, RELAY_TIMER_PREFIX } from './prober.js';
import { SUSPICION_TIMER_PREFIX, Suspicions, type SuspicionsHost } from './suspicions.js';
import type { SwimCounters, SwimEffects, SwimInput, SwimMember, SwimMemberView } from './types.js';
import { MemberUpdates, REAP_TIMER_PREFIX, type UpdatesHost } from './updates.js';

/** Options of {@link SwimCore}. */
export interface SwimCoreOptions {
  /** The local node: its address as peers reach it, its name, and this run's generation. */
  readonly self: { readonly address: string; readonly name: string; readonly generation: number };
  /** Signs the local node's records and accusations; its `nodeId` is the local id. */
  readonly signer: SwimSigner;
  /** Protocol parameters; validated. */
  readonly config: SwimConfig;
  /** Every random choice (probe order, relays, gossip targets, timer stagger). */
  readonly rng: Rng;
  /** Limits (default {@link DEFAULT_LIMITS}). */
  readonly limits?: SwimLimits;
}

/** Random tries of {@link SwimCore.randomAlivePeer} before it counts the alive members. */
const PEER_TRIES = 8;
const GOSSIP = 'gossip';

/**
 * The pure SWIM + Lifeguard core: failure detection, suspicion and dissemination for one node.
 *
 * Contract: synchronous, run to completion, deterministic for a given `Rng` seed and input
 * sequence; no IO, no clock reads, no timers of its own. Each input returns {@link SwimEffects}
 * which the driver carries out in the order documented there. The driver decodes and validates
 * packets and verifies every broadcast's signature before feeding it in (`openBroadcast`); the
 * core then applies the ordering rules (generation, incarnation, status precedence) and rejects
 * stale claims, counting them. API inputs with bad arguments throw `INVALID_ARGUMENT` or
 * `LIMIT_EXCEEDED` before changing anything.
 *
 * @example
 * ```ts
 * const core = new SwimCore({ self, signer: createSwimSigner(identity), config: lanSwimConfig(), rng });
 * let fx = core.step({ type: 'start' }, clock.now());
 * fx = core.step({ type: 'join', members: seedsAlive }, clock.now());
 * // later, when the timer fires:
 * fx = core.step({ type: 'tick' }, clock.now());
 * ```
 */
export class SwimCore {
  /** The validated config. */
  readonly config: SwimConfig;
  /** The limits in force. */
  readonly limits: SwimLimits;
  /** The local node id. */
  readonly selfId: NodeId;
  private readonly stats: SwimCounters = {
    probes: 0,
    probesFailed: 0,
    indirectPings: 0,
    fallbackProbes: 0,
    fallbackOnlyAcks: 0,
    nacksReceived: 0,
    nacksMissed: 0,
    refutations: 0,
    reannouncements: 0,
    corrections: 0,
    downNotices: 0,
    suspicionsRaised: 0,
    deathsDeclared: 0,
    staleClaims: 0,
    unknownSubjects: 0,
    strangerAccusations: 0,
    misdirectedPings: 0,
    unmatchedAcks: 0,
    relaysRejected: 0,
    membersRejected: 0,
    broadcastsEvicted: 0,
    packetsSent: 0,
  };
  private readonly signer: SwimSigner;
  private readonly rng: Rng;
  private readonly table = new MemberTable();
  private readonly timers = new DeadlineQueue();
  private readonly self: MemberEntry;
  private readonly outbox: Outbox;
  private readonly suspicions: Suspicions;
  private readonly updates: MemberUpdates;
  private readonly prober: Prober;
  private awarenessScore = 0;
  private now = 0;
  private started = false;
  private leaving = false;
  private busy = false;

  constructor(options: SwimCoreOptions) {
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.config = validateSwimConfig(options.config, this.limits);
    this.signer = options.signer;
    this.rng = options.rng;
    this.selfId = options.signer.nodeId;
    const { address, name, generation } = options.self;
    checkArgs(this.limits, address, name);
    if (!Number.isSafeInteger(generation) || generation < 0) {
      throw new CairnError('INVALID_ARGUMENT', `generation must be a safe integer >= 0, got ${generation}`);
    }
    const record = this.signer.alive({ generation, incarnation: 0, address, name });
    const key = memberKey(this.selfId);
    this.self = new MemberEntry({ node: this.selfId, key, name, address, generation, record }, 0, 'alive');
    this.table.add(this.self, 0);
    const host = this.host();
    this.outbox = new Outbox(host);
    this.suspicions = new Suspicions(host);
    this.updates = new MemberUpdates(host, this.outbox, this.suspicions);
    this.prober = new Prober(host);
  }

  /** Counters; read-only to callers. */
  get counters(): Readonly<SwimCounters> {
    return this.stats;
  }

  /** The local health multiplier (Lifeguard awareness), 0..awarenessMaxMultiplier-1. */
  get awareness(): number {
    return this.awarenessScore;
  }

  /** The local node's current incarnation. */
  get incarnation(): number {
    return this.self.incarnation;
  }

  /** Entries in the member table, the local node included. */
  get size(): number {
    return this.table.size;
  }

  /** Members alive or suspect, the local node included (what a direct Ack reports as `members`). */
  get upMembers(): number {
    return this.table.upCount;
  }

  /** Broadcasts waiting in the queue. */
  get queuedBroadcasts(): number {
    return this.outbox.queue.size;
  }

  /** A snapshot of the member `id`, or `undefined`. */
  member(id: NodeId): SwimMember | undefined {
    const e = this.table.get(id);
    return e === undefined ? undefined : this.table.view(e);
  }

  /** True when `id` is in the table (in any state), without building a snapshot. */
  knows(id: NodeId): boolean {
    return this.table.get(id) !== undefined;
  }

  /**
   * Calls `visit` with every member, the local node included, without building snapshots (push-pull
   * summarizes every member on each exchange). The entry passed is live: read it during the call
   * only, and do not step the core from inside `visit`.
   */
  eachMember(visit: (member: SwimMemberView) => void): void {
    for (const e of this.table.all()) visit(e);
  }

  /** Snapshots of every member, the local node included, in no particular order. */
  members(): SwimMember[] {
    return this.table.all().map((e) => this.table.view(e));
  }

  /**
   * A uniformly random alive member other than this node, without building a snapshot of every
   * member (the driver asks on every anti-entropy and push-pull tick). Rejection sampling over the
   * table first (each try is uniform over the table, so an accepted one is uniform over the alive
   * peers), then, if a few tries found none (few alive), an exact pick over a count.
   *
   * @param rng - the caller's random stream (not the core's: the core's draws stay its own)
   * @returns undefined when no other member is alive
   */
  randomAlivePeer(rng: Rng): SwimMember | undefined {
    const all = this.table.all();
    for (let i = 0; i < PEER_TRIES; i++) {
      const e = all[rng.int(all.length)]!;
      if (e !== this.self && e.status === 'alive') return this.table.view(e);
    }
    let count = 0;
    for (const e of all) if (e !== this.self && e.status === 'alive') count++;
    if (count === 0) return undefined;
    let k = rng.int(count);
    for (const e of all) {
      if (e !== this.self && e.status === 'alive' && k-- === 0) return this.table.view(e);
    }
    return undefined;
  }

  /** True when some member other than this node is alive. */
  hasAlivePeer(): boolean {
    for (const e of this.table.all()) if (e !== this.self && e.status === 'alive') return true;
    return false;
  }

  /**
   * True while a broadcast with this queue key is still being retransmitted: the driver's
   * `leave(timeoutMs)` waits until `isBroadcastPending(memberBroadcastKey(selfId))` is false.
   */
  isBroadcastPending(key: string): boolean {
    return this.outbox.queue.has(key);
  }

  /** Keyed deadlines the core holds (for tests and debugging). */
  deadlines(): Array<{ key: string; atMs: number }> {
    return this.timers.entries();
  }

  /**
   * Feeds one input; returns the effects to carry out.
   *
   * @param input - see {@link SwimInput}
   * @param nowMs - the driver's clock; a value earlier than a previous step's is treated as equal
   */
  step(input: SwimInput, nowMs: number): SwimEffects {
    assert(!this.busy, 'SwimCore.step re-entered from inside a step');
    if (input.type !== 'start' && !this.started) {
      throw new CairnError('INVALID_ARGUMENT', `SwimCore: feed 'start' before '${input.type}'`);
    }
    this.busy = true;
    try {
      this.now = Math.max(this.now, nowMs);
      this.dispatch(input);
      return this.flush();
    } finally {
      this.busy = false;
    }
  }

  private dispatch(input: SwimInput): void {
    switch (input.type) {
      case 'start':
        this.onStart();
        return;
      case 'tick':
        this.onTick();
        return;
      case 'message':
        this.onMessage(input.from, input.message);
        return;
      case 'suspect':
        this.onSuspectApi(input.id);
        return;
      case 'fallback-ack':
        this.prober.onFallback(input.seq, true);
        return;
      case 'fallback-failed':
        this.prober.onFallback(input.seq, false);
        return;
      case 'join':
        checkLimit('maxJoinRecords', input.members.length, this.limits.maxJoinRecords, 'records in one join');
        for (const m of input.members) this.updates.onAlive(m, false);
        return;
      case 'leave':
        this.onLeaveApi();
        return;
      case 'update-local':
        this.onUpdateLocal(input.address, input.name);
        return;
      case 'broadcast':
        this.onBroadcastApi(input.key, input.data, input.eager === true);
        return;
      case 'gossip-now':
        this.outbox.gossipRound();
        return;
      default:
        assertNever(input, 'SwimInput');
    }
  }

  private flush(): SwimEffects {
    return this.outbox.take(this.timers.next());
  }

  // Lifecycle and API ---------------------------------------------------------------------------

  private onStart(): void {
    if (this.started) throw new CairnError('INVALID_ARGUMENT', 'SwimCore: start was already fed');
    this.started = true;
    this.table.setStatus(this.self, this.self.status, this.now);
    this.outbox.enqueueRecord(this.selfId, 'Alive', this.self.aliveRecord);
    // Random stagger, so that nodes started together do not probe and gossip in lockstep.
    if (this.config.probing)
      this.timers.set(PROBE_TIMER, this.now + this.rng.int(this.config.probeIntervalMs));
    this.timers.set(GOSSIP, this.now + this.rng.int(this.config.gossipIntervalMs));
  }

  private onLeaveApi(): void {
    if (this.leaving) return;
    this.leaving = true;
    const record = this.signer.leave({
      generation: this.self.generation,
      incarnation: this.self.incarnation,
    });
    this.updates.setStatus(this.self, 'left');
    this.outbox.enqueueRecord(this.selfId, 'Leave', record);
    this.prober.stop();
    // Told directly, not only gossiped: the transmit limit is reached within one or two gossip
    // rounds (two sends at 6 members on the local preset), and a node stopping right after that
    // has left its leave with a few relays, who may all miss one member; that member then
    // finds the node gone and declares it dead.
    const notice = encodePart({ type: 'Leave', record });
    const up = this.table.sample(this.rng, this.limits.maxLeaveNotices, (e) => e.up && e !== this.self);
    for (const e of up) this.outbox.sendOnly(e.address, notice);
    // Eager, like a death: gossiped now rather than at the next gossip tick.
    this.outbox.gossipRound();
  }

  private onUpdateLocal(address: string | undefined, name: string | undefined): void {
    if (this.leaving) throw new CairnError('INVALID_ARGUMENT', 'SwimCore: cannot update after leave');
    checkArgs(this.limits, address ?? this.self.address, name ?? this.self.name);
    this.updates.announceSelf(
      this.self.incarnation + 1,
      address ?? this.self.address,
      name ?? this.self.name,
    );
    this.outbox.emit('update', this.self, 'alive', false);
  }

  private onSuspectApi(id: NodeId): void {
    const e = this.table.get(id);
    if (e === undefined || e === this.self || e.status !== 'alive') {
      this.stats.unknownSubjects++;
      return;
    }
    this.updates.suspectAfterFailedProbe(e);
  }

  private onBroadcastApi(key: string, data: Uint8Array, eager: boolean): void {
    const part = encodeSwimMessage({ type: 'User', data });
    // A part that cannot fit in an otherwise empty packet could never be sent.
    checkLimit('mtu', arrayHeaderBytes(1) + partCost(part.length), this.config.mtu, 'broadcast packet size');
    this.stats.broadcastsEvicted += this.outbox.queue.enqueue(userBroadcastKey(key), part);
    if (eager) this.outbox.gossipRound();
  }

  // Timers ----------------------------------------------------------------------------------------

  private onTick(): void {
    // Bounded: each firing removes its key, and handlers set new keys in the future except a
    // confirmation moving a suspicion deadline into the past. Anything still due after the bound
    // makes `timerAtMs` <= now, so the driver fires again at once.
    const bound = 2 * this.timers.size + 16;
    for (let i = 0; i < bound; i++) {
      const key = this.timers.popDue(this.now);
      if (key === undefined) return;
      this.fire(key);
    }
  }

  private fire(key: string): void {
    if (key === PROBE_TIMER) {
      this.prober.onTick(this.leaving);
      return;
    }
    if (key === PROBE_TIMEOUT_TIMER) {
      this.prober.onProbeTimeout();
      return;
    }
    if (key === GOSSIP) {
      this.timers.set(GOSSIP, this.now + this.config.gossipIntervalMs);
      this.outbox.gossipRound();
      return;
    }
    const id = key.slice(2);
    if (key.startsWith(SUSPICION_TIMER_PREFIX)) {
      this.updates.onSuspicionTimeout(id);
      return;
    }
    if (key.startsWith(RELAY_TIMER_PREFIX)) {
      this.prober.onRelayTimer(Number(id));
      return;
    }
    if (key.startsWith(REAP_TIMER_PREFIX)) {
      this.updates.onReap(id);
      return;
    }
    assert(false, `unknown timer key ${key}`);
  }

  // Messages --------------------------------------------------------------------------------------

  private onMessage(from: string, message: ProbeMessage | VerifiedBroadcast): void {
    switch (message.type) {
      case 'Ping':
        this.prober.onPing(from, message.seq, message.target, message.from);
        return;
      case 'PingReq':
        this.prober.onPingReq(from, message.seq, message.target, message.targetAddress);
        return;
      case 'Ack':
        this.prober.onAck(message.seq);
        // The acker does not list us as alive (it missed our alive record): send it directly.
        if (message.needAlive === true && !this.leaving) this.updates.correct(from, this.self.aliveRecord);
        return;
      case 'Nack':
        this.prober.onNack(message.seq, message.from);
        return;
      case 'Alive':
        this.updates.onAlive(message);
        return;
      case 'Leave':
        this.updates.onLeave(message);
        return;
      case 'Suspect':
      case 'Dead':
        this.updates.onAccusation(message, from);
        return;
      default:
        assertNever(message, 'SWIM message');
    }
  }

  // Hosts of the helpers --------------------------------------------------------------------------

  /**
   * What the core's helpers (prober, outbox, suspicions, member updates) share: its state, read
   * through functions where it changes (the step's time, leaving, awareness), and the calls one
   * helper makes into another, resolved when made (every helper exists before the first step).
   */
  private host(): ProberHost & OutboxHost & SuspicionsHost & UpdatesHost {
    return {
      config: this.config,
      limits: this.limits,
      rng: this.rng,
      signer: this.signer,
      selfId: this.selfId,
      self: this.self,
      table: this.table,
      timers: this.timers,
      stats: this.stats,
      now: () => this.now,
      leaving: () => this.leaving,
      awareness: () => this.awarenessScore,
      adjustAwareness: (delta) => this.adjustAwareness(delta),
      send: (to, parts) => this.outbox.send(to, parts),
      part: (message) => encodePart(message),
      requestFallback: (probe) => this.outbox.requestFallback(probe),
      accusationOf: (id) => this.suspicions.accusationOf(id),
      accusationAgainst: (e) => this.updates.accusationAgainst(e),
      sendDownNotice: (to, e) => this.updates.sendDownNotice(to, e),
      probeFailed: (target) => this.updates.suspectAfterFailedProbe(target),
      probeSoon: (e) => this.prober.probeSoon(e),
      addToOrder: (e) => this.prober.addToOrder(e),
    };
  }

  private adjustAwareness(delta: number): void {
    this.awarenessScore = applyAwarenessDelta(this.awarenessScore, delta, this.config.awarenessMaxMultiplier);
  }
}

function checkArgs(limits: SwimLimits, address: string, name: string): void {
  if (
    typeof address !== 'string' ||
    address.length > limits.maxAddressLength ||
    tryParseAddress(address) === undefined
  ) {
    throw new CairnError(
      'INVALID_ARGUMENT',
      `address must be a host:port address of at most ${limits.maxAddressLength} characters, got ${JSON.stringify(String(address).slice(0, 80))}`,
    );
  }
  if (typeof name !== 'string' || name.length > limits.maxNameLength || !NODE_NAME_PATTERN.test(name)) {
    throw new CairnError(
      'INVALID_ARGUMENT',
      `name must be 1-${limits.maxNameLength} characters matching ${NODE_NAME_PATTERN}, got ${JSON.stringify(String(name).slice(0, 80))}`,
    );
  }
}
