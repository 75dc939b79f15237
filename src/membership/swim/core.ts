import { assert, assertNever, CairnError, checkLimit, type Rng } from '../../core/index.js';
import type { NodeId, SignedRecord } from '../../security/index.js';
import { tryParseAddress } from '../../transport/address.js';
import { SharedStringCache, sharedEncoding } from '../intern.js';
import { NODE_NAME_PATTERN } from '../node-name.js';
import type { Claim, MemberStatus } from './claims.js';
import { decideClaim } from './claims.js';
import { arrayHeaderBytes, CompoundBuilder, partCost } from './compound.js';
import { type SwimConfig, validateSwimConfig } from './config.js';
import { DeadlineQueue } from './deadlines.js';
import { DEFAULT_LIMITS, type SwimLimits } from './limits.js';
import {
  applyAwarenessDelta,
  expectedConfirmations,
  retransmitLimit,
  suspicionTimeoutMinMs,
  suspicionTimeoutMs,
} from './math.js';
import { memberKey } from './member-key.js';
import { MemberEntry, MemberTable } from './members.js';
import {
  encodeSwimMessage,
  type ProbeMessage,
  type SwimMessage,
  type SwimSigner,
  type VerifiedAccusation,
  type VerifiedAlive,
  type VerifiedBroadcast,
  type VerifiedLeave,
} from './messages.js';
import { PROBE_TIMEOUT_TIMER, PROBE_TIMER, Prober, type ProberHost, RELAY_TIMER_PREFIX } from './prober.js';
import { TransmitLimitedQueue } from './queue.js';
import type {
  SwimCounters,
  SwimEffects,
  SwimEvent,
  SwimEventType,
  SwimFallbackProbe,
  SwimInput,
  SwimMember,
  SwimMemberView,
  SwimPacket,
} from './types.js';

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

/** The broadcast-queue key of membership statements about `id` (a newer one invalidates older). */
export function memberBroadcastKey(id: NodeId): string {
  // One string per member id in the process: every node queues a broadcast about every member.
  return memberKeys.get(id);
}

const memberKeys = new SharedStringCache((id) => `m:${id}`);

/** The broadcast-queue key of an item enqueued by the layer above under `key`. */
export function userBroadcastKey(key: string): string {
  return `u:${key}`;
}

interface Suspicion {
  readonly startMs: number;
  readonly k: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** The accuser that started it, then each independent confirmer. */
  readonly accusers: NodeId[];
  /** The encoded accusation, sent to the suspect itself with probes (buddy system). */
  readonly accusation: Uint8Array;
}

/** Random tries of {@link SwimCore.randomAlivePeer} before it counts the alive members. */
const PEER_TRIES = 8;
const GOSSIP = 'gossip';
const SUSPICION = 's:';
const REAP = 'x:';

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
  private readonly queue: TransmitLimitedQueue;
  private readonly timers = new DeadlineQueue();
  private readonly suspicions = new Map<NodeId, Suspicion>();
  /**
   * The encoded leave of each member listed `left`, sent back to a node that accuses it (it missed
   * the leave). At most one per table entry: dropped when the status changes or the entry is reaped.
   */
  private readonly leaveParts = new Map<NodeId, Uint8Array>();
  private readonly self: MemberEntry;
  private readonly prober: Prober;
  private awarenessScore = 0;
  private now = 0;
  private started = false;
  private leaving = false;
  private busy = false;
  private packets: SwimPacket[] = [];
  private fallbacks: SwimFallbackProbe[] = [];
  private events: SwimEvent[] = [];

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
    this.queue = new TransmitLimitedQueue(this.limits.maxBroadcastsQueued);
    this.prober = new Prober(this.proberHost());
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
    return this.queue.size;
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
    return this.queue.has(key);
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
        for (const m of input.members) this.onAlive(m, false);
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
        this.gossipRound();
        return;
      default:
        assertNever(input, 'SwimInput');
    }
  }

  private flush(): SwimEffects {
    const fx: SwimEffects = {
      packets: this.packets,
      fallbackProbes: this.fallbacks,
      events: this.events,
      timerAtMs: this.timers.next(),
    };
    this.packets = [];
    this.fallbacks = [];
    this.events = [];
    return fx;
  }

  // Lifecycle and API ---------------------------------------------------------------------------

  private onStart(): void {
    if (this.started) throw new CairnError('INVALID_ARGUMENT', 'SwimCore: start was already fed');
    this.started = true;
    this.table.setStatus(this.self, this.self.status, this.now);
    this.enqueueRecord(this.selfId, 'Alive', this.self.aliveRecord);
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
    this.setStatus(this.self, 'left');
    this.enqueueRecord(this.selfId, 'Leave', record);
    this.prober.stop();
    // Told directly, not only gossiped: the transmit limit is reached within one or two gossip
    // rounds (two sends at 6 members on the local preset), and a node stopping right after that
    // has left its leave with a few relays, who may all miss one member; that member then
    // finds the node gone and declares it dead.
    const notice = this.part({ type: 'Leave', record });
    const up = this.table.sample(this.rng, this.limits.maxLeaveNotices, (e) => e.up && e !== this.self);
    for (const e of up) this.sendOnly(e.address, notice);
    // Eager, like a death: gossiped now rather than at the next gossip tick.
    this.gossipRound();
  }

  private onUpdateLocal(address: string | undefined, name: string | undefined): void {
    if (this.leaving) throw new CairnError('INVALID_ARGUMENT', 'SwimCore: cannot update after leave');
    checkArgs(this.limits, address ?? this.self.address, name ?? this.self.name);
    this.announceSelf(this.self.incarnation + 1, address ?? this.self.address, name ?? this.self.name);
    this.emit('update', this.self, 'alive', false);
  }

  private onSuspectApi(id: NodeId): void {
    const e = this.table.get(id);
    if (e === undefined || e === this.self || e.status !== 'alive') {
      this.stats.unknownSubjects++;
      return;
    }
    this.suspectAfterFailedProbe(e);
  }

  private onBroadcastApi(key: string, data: Uint8Array, eager: boolean): void {
    const part = encodeSwimMessage({ type: 'User', data });
    // A part that cannot fit in an otherwise empty packet could never be sent.
    checkLimit('mtu', arrayHeaderBytes(1) + partCost(part.length), this.config.mtu, 'broadcast packet size');
    this.stats.broadcastsEvicted += this.queue.enqueue(userBroadcastKey(key), part);
    if (eager) this.gossipRound();
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
      this.gossipRound();
      return;
    }
    const id = key.slice(2);
    if (key.startsWith(SUSPICION)) {
      this.onSuspicionTimeout(id);
      return;
    }
    if (key.startsWith(RELAY_TIMER_PREFIX)) {
      this.prober.onRelayTimer(Number(id));
      return;
    }
    if (key.startsWith(REAP)) {
      this.onReap(id);
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
        if (message.needAlive === true && !this.leaving) this.correct(from, this.self.aliveRecord);
        return;
      case 'Nack':
        this.prober.onNack(message.seq, message.from);
        return;
      case 'Alive':
        this.onAlive(message);
        return;
      case 'Leave':
        this.onLeave(message);
        return;
      case 'Suspect':
      case 'Dead':
        this.onAccusation(message, from);
        return;
      default:
        assertNever(message, 'SWIM message');
    }
  }

  // Host of the prober ---------------------------------------------------------------------------

  private proberHost(): ProberHost {
    return {
      config: this.config,
      limits: this.limits,
      rng: this.rng,
      selfId: this.selfId,
      table: this.table,
      timers: this.timers,
      stats: this.stats,
      now: () => this.now,
      awareness: () => this.awarenessScore,
      adjustAwareness: (delta) => this.adjustAwareness(delta),
      send: (to, parts) => this.send(to, parts),
      part: (message) => this.part(message),
      requestFallback: (probe) => this.fallbacks.push(probe),
      accusationOf: (id) => this.suspicions.get(id)?.accusation,
      accusationAgainst: (e) => this.accusationAgainst(e),
      probeFailed: (target) => this.suspectAfterFailedProbe(target),
    };
  }

  private accusationAgainst(e: MemberEntry): Uint8Array | undefined {
    // Telling a pinging suspect it is suspected is the buddy system in reverse: Lifeguard only.
    if (e.status === 'suspect')
      return this.config.lifeguard ? this.suspicions.get(e.id)?.accusation : undefined;
    if (e.status !== 'dead') return undefined;
    const record = this.signer.dead({ target: e.id, generation: e.generation, incarnation: e.incarnation });
    return this.part({ type: 'Dead', record });
  }

  private adjustAwareness(delta: number): void {
    this.awarenessScore = applyAwarenessDelta(this.awarenessScore, delta, this.config.awarenessMaxMultiplier);
  }

  /** Our own probe of `t` (or another detector) found no sign of life: accuse it, signed by us. */
  private suspectAfterFailedProbe(t: MemberEntry): void {
    this.stats.suspicionsRaised++;
    const fields = { target: t.id, generation: t.generation, incarnation: t.incarnation };
    const record = this.signer.suspect(fields);
    this.onAccusation({ type: 'Suspect', from: this.selfId, record, ...fields });
  }

  // Claims ----------------------------------------------------------------------------------------

  /**
   * An alive record. `gossiped` is false for records learned by push-pull: those are not queued for
   * gossip when they only add a member or repeat what was known, because the peer that gave them
   * already knows them and every node gossips its own alive record (and every node that learns one
   * by gossip relays it). Queueing them made each sync after a mass join bury later updates and
   * deaths under hundreds of alive records. A sync that clears a suspicion or death is relayed.
   */
  private onAlive(m: VerifiedAlive, gossiped = true): void {
    if (m.node === this.selfId) {
      // Our own record: only one newer than ours (never made by this run) needs an answer.
      if (!this.leaving && m.generation === this.self.generation && m.incarnation > this.self.incarnation) {
        this.refute(m.incarnation);
      }
      return;
    }
    const e = this.table.get(m.node, m.key);
    if (e === undefined) {
      this.addMember(m, gossiped);
      return;
    }
    if (
      decideClaim(e, { generation: m.generation, incarnation: m.incarnation, status: 'alive' }) !== 'apply'
    ) {
      this.stats.staleClaims++;
      return;
    }
    const previous = e.status;
    const restarted = m.generation > e.generation;
    const moved = m.address !== e.address || m.name !== e.name;
    e.desc = m;
    e.incarnation = m.incarnation;
    this.clearSuspicion(e.id);
    this.timers.cancel(REAP + e.id);
    if (previous !== 'alive') this.setStatus(e, 'alive');
    if (previous === 'dead' || previous === 'left') this.prober.addToOrder(e);
    if (gossiped || previous !== 'alive') this.enqueueRecord(e.id, 'Alive', m.record);
    if (previous === 'dead' || previous === 'left') this.emit('join', e, previous, restarted);
    else if (previous === 'suspect') this.emit('alive', e, previous, restarted);
    else if (moved || restarted) this.emit('update', e, previous, restarted);
  }

  private addMember(m: VerifiedAlive, relay: boolean): void {
    if (this.table.size >= this.limits.maxMembers) {
      this.stats.membersRejected++;
      return;
    }
    const e = new MemberEntry(m, m.incarnation, 'alive');
    this.table.add(e, this.now);
    this.prober.addToOrder(e);
    if (relay) this.enqueueRecord(e.id, 'Alive', m.record);
    this.emit('join', e, undefined, false);
  }

  /** A suspicion or death; `from` is the packet's source address (undefined for our own). */
  private onAccusation(m: VerifiedAccusation, from?: string): void {
    if (m.target === this.selfId) {
      this.onAccusedSelf(m.generation, m.incarnation, from);
      return;
    }
    if (!this.mayAccuse(m.from)) {
      this.stats.strangerAccusations++;
      return;
    }
    const e = this.table.get(m.target);
    if (e === undefined) {
      this.stats.unknownSubjects++;
      return;
    }
    const status: MemberStatus = m.type === 'Suspect' ? 'suspect' : 'dead';
    const claim: Claim = { generation: m.generation, incarnation: m.incarnation, status };
    const decision = decideClaim(e, claim);
    if (decision === 'unknown-generation') {
      this.stats.unknownSubjects++;
      return;
    }
    if (decision === 'stale') {
      this.stats.staleClaims++;
      // The sender accuses an incarnation the member has refuted: it missed the refutation. Or it
      // accuses a member that left: it missed the leave, and would declare the member dead.
      if (from !== undefined && e.generation === m.generation) {
        if (e.status === 'alive') this.correct(from, e.aliveRecord);
        const leave = e.status === 'left' ? this.leaveParts.get(e.id) : undefined;
        if (leave !== undefined) {
          this.stats.corrections++;
          this.sendOnly(from, leave);
        }
      }
      return;
    }
    const part = this.part({ type: m.type, record: m.record });
    if (decision === 'confirm') {
      const s = this.suspicions.get(e.id);
      if (s === undefined) this.startSuspicion(e, m.from, part);
      else if (this.confirm(e.id, s, m.from)) this.enqueuePart(e.id, part);
      return;
    }
    const previous = e.status;
    e.incarnation = m.incarnation;
    if (status === 'suspect') {
      this.setStatus(e, 'suspect');
      this.startSuspicion(e, m.from, part);
      this.enqueuePart(e.id, part);
      this.emit('suspect', e, previous, false);
      return;
    }
    this.markDown(e, 'dead');
    this.enqueuePart(e.id, part);
    // Eager, like key/value updates: forwarded at once (once per node, the first time it learns of
    // the death) instead of at the next gossip tick, so a death reaches every member in a few
    // network hops rather than a few gossip intervals.
    this.gossipRound();
    this.emit('dead', e, previous, false);
  }

  /**
   * Whether an accusation signed by `accuser` counts: only a member this node lists alive, suspect
   * or dead (dead until reaped: a member declared dead may still be up and probing) may accuse
   * another. Without this, any key (no keyring, or a leaked cluster key) could sign deaths of live
   * members and make them flap. A joiner whose alive record has not reached this node yet is not
   * listed: its accusations are dropped here until it is, which only delays them (the other
   * members that know it relay them, and its own alive record follows on the same gossip).
   * Accusations of the local node are answered whoever signed them (`onAccusedSelf`): refuting
   * costs one alive record, and refusing would leave this node accused by everyone who does list
   * the accuser.
   */
  private mayAccuse(accuser: NodeId): boolean {
    const e = this.table.get(accuser);
    return e !== undefined && e.status !== 'left';
  }

  private onLeave(m: VerifiedLeave): void {
    if (m.node === this.selfId) {
      this.onAccusedSelf(m.generation, m.incarnation, undefined);
      return;
    }
    const e = this.table.get(m.node);
    if (e === undefined) {
      this.stats.unknownSubjects++;
      return;
    }
    if (
      decideClaim(e, { generation: m.generation, incarnation: m.incarnation, status: 'left' }) !== 'apply'
    ) {
      this.stats.staleClaims++;
      return;
    }
    const previous = e.status;
    const restarted = m.generation > e.generation;
    // A leave of a newer generation than the alive record held (a restart missed): the record is
    // kept for its address, under the leave's generation.
    if (restarted) e.desc = { ...e.desc, generation: m.generation };
    e.incarnation = m.incarnation;
    this.markDown(e, 'left');
    this.leaveParts.set(
      e.id,
      sharedEncoding('Leave', m.record, () => this.part({ type: 'Leave', record: m.record })),
    );
    this.enqueueRecord(e.id, 'Leave', m.record);
    this.emit('leave', e, previous, restarted);
  }

  /**
   * A suspicion, death or leave of the local node arrived. One about the current incarnation is
   * refuted with a higher one. One about an older incarnation is already refuted, but its sender
   * evidently missed the refutation (gossip is probabilistic): the current alive record is queued
   * again, unless it still is, so it rides on the next packets (the Ack to a buddy-system ping
   * first). Memberlist leaves such gaps to push-pull; re-announcing closes them within a probe.
   */
  private onAccusedSelf(generation: number, incarnation: number, from: string | undefined): void {
    if (this.leaving || generation !== this.self.generation) return;
    if (incarnation >= this.self.incarnation) {
      this.refute(incarnation);
      return;
    }
    if (from !== undefined) this.correct(from, this.self.aliveRecord);
    if (!this.queue.has(memberBroadcastKey(this.selfId))) {
      this.stats.reannouncements++;
      this.enqueueRecord(this.selfId, 'Alive', this.self.aliveRecord);
    }
  }

  /**
   * Sends a member's current alive record straight back to a sender that accused an incarnation
   * the member already refuted (Cairn's correction; memberlist leaves it to push-pull). A node
   * relays an accusation only until a newer record replaces it in its queue, so a stale one
   * received means the sender is behind: one packet brings it up to date.
   */
  private correct(to: string, aliveRecord: SignedRecord): void {
    this.stats.corrections++;
    this.send(to, [this.part({ type: 'Alive', record: aliveRecord })]);
  }

  /** Answers a suspicion or death of the local node: a fresh alive at a higher incarnation. */
  private refute(accusedIncarnation: number): void {
    this.stats.refutations++;
    this.announceSelf(Math.max(this.self.incarnation, accusedIncarnation) + 1);
    if (this.config.lifeguard) {
      this.adjustAwareness(1);
    }
  }

  private announceSelf(incarnation: number, address = this.self.address, name = this.self.name): void {
    const s = this.self;
    const generation = s.generation;
    const record = this.signer.alive({ generation, incarnation, address, name });
    s.incarnation = incarnation;
    s.desc = { node: this.selfId, key: s.key, name, address, generation, record };
    this.enqueueRecord(this.selfId, 'Alive', record);
  }

  // Suspicion (Lifeguard) -------------------------------------------------------------------------

  private startSuspicion(e: MemberEntry, from: NodeId, accusation: Uint8Array): void {
    const n = this.table.size;
    const minMs = suspicionTimeoutMinMs(this.config.suspicionMult, n, this.config.probeIntervalMs);
    const lifeguard = this.config.lifeguard;
    const k = lifeguard ? expectedConfirmations(this.config.suspicionConfirmations, n) : 0;
    const maxMs = lifeguard ? this.config.suspicionMaxTimeoutMult * minMs : minMs;
    const s: Suspicion = { startMs: this.now, k, minMs, maxMs, accusers: [from], accusation };
    this.suspicions.set(e.id, s);
    this.timers.set(SUSPICION + e.id, this.now + suspicionTimeoutMs(0, k, minMs, maxMs));
    if (lifeguard && this.config.probing) this.prober.probeSoon(e);
  }

  /** Counts an independent confirmation; returns true when it was new (then it is re-gossiped). */
  private confirm(id: NodeId, s: Suspicion, from: NodeId): boolean {
    if (s.accusers.length - 1 >= s.k || s.accusers.includes(from)) return false;
    s.accusers.push(from);
    const timeout = suspicionTimeoutMs(s.accusers.length - 1, s.k, s.minMs, s.maxMs);
    this.timers.set(SUSPICION + id, s.startMs + timeout);
    return true;
  }

  private clearSuspicion(id: NodeId): void {
    if (this.suspicions.delete(id)) this.timers.cancel(SUSPICION + id);
  }

  private onSuspicionTimeout(id: NodeId): void {
    this.suspicions.delete(id);
    const e = this.table.get(id);
    if (e === undefined || e.status !== 'suspect') return;
    this.stats.deathsDeclared++;
    const record = this.signer.dead({ target: id, generation: e.generation, incarnation: e.incarnation });
    this.markDown(e, 'dead');
    this.enqueuePart(id, this.part({ type: 'Dead', record }));
    this.gossipRound(); // eager: a death is news every member waits for
    this.emit('dead', e, 'suspect', false);
  }

  private markDown(e: MemberEntry, status: 'dead' | 'left'): void {
    this.clearSuspicion(e.id);
    this.setStatus(e, status);
    this.timers.set(REAP + e.id, this.now + this.config.reapAfterMs);
  }

  private onReap(id: NodeId): void {
    const e = this.table.get(id);
    if (e === undefined || e.up || e === this.self) return;
    this.leaveParts.delete(id);
    // The event's view is taken while the entry is still in the table (it holds since-when).
    this.emit('reap', e, e.status, false);
    this.table.remove(e);
  }

  // Dissemination ---------------------------------------------------------------------------------

  private gossipRound(): void {
    if (this.queue.size === 0 && this.table.upCount === this.table.size) return;
    const deadline = this.now - this.config.gossipToTheDeadMs;
    const targets = this.table.sample(
      this.rng,
      this.config.gossipNodes,
      (e) => e !== this.self && (e.up || (e.status === 'dead' && this.table.sinceOf(e) >= deadline)),
    );
    for (const t of targets) {
      // A member listed dead gets its death even when nothing is queued: if it is alive (a
      // healed partition), it refutes at once, and its refutation is what heals the views.
      // Sending only queued broadcasts left the heal to whether a queue still held something.
      if (t.status === 'dead') this.send(t.address, [this.accusationAgainst(t)!]);
      else if (this.queue.size > 0) this.send(t.address, []);
    }
  }

  /** Sends `priority` parts to `to`, filled up to the MTU with queued broadcasts. */
  private send(to: string, priority: Uint8Array[]): void {
    const packet = new CompoundBuilder(this.config.mtu, this.limits.maxPartsPerPacket);
    for (const part of priority) assert(packet.add(part), 'a priority part does not fit in the MTU');
    this.queue.fill(packet, retransmitLimit(this.config.retransmitMult, this.table.size));
    if (packet.parts.length === 0) return;
    this.packets.push({ to, parts: packet.parts });
    this.stats.packetsSent++;
  }

  /** Sends one part alone, without piggybacked broadcasts. */
  private sendOnly(to: string, part: Uint8Array): void {
    this.packets.push({ to, parts: [part] });
    this.stats.packetsSent++;
  }

  private part(message: SwimMessage): Uint8Array {
    return encodeSwimMessage(message);
  }

  private enqueueRecord(subject: NodeId, type: 'Alive' | 'Leave', record: SignedRecord): void {
    // Records are shared between the nodes of a process (../intern.ts), so are their encodings.
    this.enqueuePart(
      subject,
      sharedEncoding(type, record, () => this.part({ type, record })),
    );
  }

  private enqueuePart(subject: NodeId, part: Uint8Array): void {
    this.stats.broadcastsEvicted += this.queue.enqueue(memberBroadcastKey(subject), part);
  }

  private setStatus(e: MemberEntry, status: MemberStatus): void {
    if (status !== 'left' && this.leaveParts.size > 0) this.leaveParts.delete(e.id);
    this.table.setStatus(e, status, this.now);
  }

  private emit(
    type: SwimEventType,
    e: MemberEntry,
    previousStatus: MemberStatus | undefined,
    restarted: boolean,
  ): void {
    this.events.push(
      previousStatus === undefined
        ? { type, member: this.table.view(e), restarted }
        : { type, member: this.table.view(e), previousStatus, restarted },
    );
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
