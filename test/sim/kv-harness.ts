import { CairnError, type Clock, fromUtf8, type Rng, type TimerHandle, utf8 } from '../../src/core/index.js';
import type { KvConfig } from '../../src/kv/cluster/config.js';
import { defaultEngines } from '../../src/kv/cluster/engines.js';
import { KvNode } from '../../src/kv/cluster/kv-node.js';
import type { HlcPort, KvEngines, ReplicaPort } from '../../src/kv/cluster/ports.js';
import type { KvMember, KvMembershipView } from '../../src/kv/cluster/ring-tracker.js';
import { isKvError } from '../../src/kv/errors.js';
import { tokenOf } from '../../src/kv/ring/partitioner.js';
import { Ring } from '../../src/kv/ring/ring.js';
import type { Cell, Version } from '../../src/kv/types.js';
import type { StateValue } from '../../src/membership/types.js';
import { defaultNodeAddress, type SimNodeContext, type Simulator } from '../../src/sim/index.js';
import type { Address } from '../../src/transport/types.js';

/**
 * The kv swarm's cluster: every node is a simulator node running the production `KvNode`
 * (coordinator, replica service, hinted handoff, anti-entropy, ring tracker) on its `SimDisk`
 * (unsynced writes lost on crash), its simulated transport and its virtual clock.
 *
 * Membership is simulated, not the real gossip protocol: {@link LaggedMembership} gives each node
 * its own view of who is alive, derived from what the simulator knows (a node down, paused, or cut
 * from the observer in either direction is unreachable) and changed only after a detection lag
 * drawn per change (dead after 0.5-2 s, like SWIM's suspicion timeout; alive again after
 * 0.1-0.6 s, like a refutation spreading). Why: the kv layer only reads `alive`/`dead` and ring
 * adverts from membership, whose own correctness its swarm checks; simulating it keeps every
 * virtual millisecond of CPU for the store, while the lag and the per-node views keep what matters
 * to the store: coordinators that think a dead replica alive (requests time out, hints are stored
 * late) or a live one dead (hints for a node that is up), and nodes that disagree. As in real
 * membership, which exchanges live members only, a node that (re)starts lists only the members up
 * at the time (those it reaches, and those a peer it reaches sees up); one down then is unknown to
 * it (no state, no advert) until it, or a peer it reaches, sees it up. A restarted node starts a
 * new generation: its peers drop its old state values at once and see its advert again only once
 * it publishes it.
 *
 * The harness watches each node through thin engine wrappers: its replica store (to read every
 * stored cell after heal) and its hybrid clock (to learn the version of each client write as the
 * coordinator makes it). A node's clock can be pushed far off ({@link setFarOffset}) on top of
 * the simulator's skew, for the clock-skew refusal check.
 */

/** Settings of one run's cluster. */
export interface KvClusterConfig {
  readonly nodes: number;
  /** The kv config of every node. */
  readonly kv: Partial<KvConfig>;
}

/** Detection lags of the simulated membership, ms. */
export const MEMBERSHIP_LAG = Object.freeze({
  deadMinMs: 500,
  deadMaxMs: 2_000,
  aliveMinMs: 100,
  aliveMaxMs: 600,
  /** How often views are compared with the truth. */
  pollMs: 50,
});

interface ObserverView {
  readonly alive: Map<string, boolean>;
  /**
   * Members this incarnation has seen up: real membership exchanges live members only, so a node
   * that (re)starts while another is down does not list it (nor see its state) until it is up.
   */
  readonly known: Set<string>;
  readonly pending: Map<string, { to: boolean; at: number }>;
  readonly listeners: Set<() => void>;
}

/**
 * Per-node membership views that follow the simulator's truth with a lag (see the file comment).
 * Ring adverts (state values) are one table every view reads; a change is announced to every
 * live node's listeners on the next simulator step (never re-entrantly).
 */
export class LaggedMembership {
  private readonly members = new Map<string, { address: Address; values: Map<string, StateValue> }>();
  private readonly views = new Map<string, ObserverView>();

  constructor(
    private readonly sim: Simulator,
    private readonly rng: Rng,
  ) {
    const poll = () => {
      this.poll();
      this.sim.schedule(MEMBERSHIP_LAG.pollMs, poll);
    };
    this.sim.schedule(MEMBERSHIP_LAG.pollMs, poll);
  }

  add(name: string, address: Address): void {
    this.members.set(name, { address, values: new Map() });
    for (const v of this.views.values()) {
      v.alive.set(name, true);
      v.known.add(name);
    }
    this.views.set(name, {
      alive: new Map([...this.members.keys()].map((n) => [n, true])),
      known: new Set(this.members.keys()),
      pending: new Map(),
      listeners: new Set(),
    });
  }

  /** Whether `observer` currently sees `target` alive. */
  sees(observer: string, target: string): boolean {
    return this.views.get(observer)?.alive.get(target) ?? false;
  }

  /** The view of one incarnation of node `name`: inert once that incarnation is gone. */
  viewFor(name: string, live: () => boolean): KvMembershipView {
    const view = this.views.get(name);
    if (view === undefined) throw new CairnError('NOT_FOUND', `no member ${name}`);
    // A restarted process learns the current state from a peer at once, of the members up only:
    // those it reaches, and those a peer it reaches sees up (SWIM's alive records; it finds out
    // itself, after the detection lag, that it cannot reach them).
    view.known.clear();
    view.pending.clear();
    view.listeners.clear();
    // A new incarnation starts a new membership generation: peers drop its old state values at
    // once, and see its advert again only when it publishes one.
    const own = this.members.get(name)!.values;
    for (const key of [...own.keys()]) if (key.startsWith('kv.')) own.delete(key);
    for (const n of this.views.keys()) this.notify(n);
    for (const n of this.members.keys()) {
      const up = n === name || this.reachable(name, n);
      view.alive.set(n, up);
      if (up) view.known.add(n);
    }
    this.learnFromPeers(name, view);
    return {
      members: () =>
        [...this.members]
          .filter(([n]) => view.known.has(n))
          .map(
            ([n, m]): KvMember => ({
              name: n,
              address: m.address,
              state: view.alive.get(n) === false ? 'dead' : 'alive',
              lookup: (key: string) => m.values.get(key),
            }),
          ),
      publish: (values) => {
        if (!live()) return;
        const own = this.members.get(name)!.values;
        for (const key of [...own.keys()]) if (key.startsWith('kv.')) own.delete(key);
        for (const [key, value] of values) own.set(key, value);
        for (const n of this.views.keys()) this.notify(n);
      },
      onChange: (listener) => {
        const wrapped = () => {
          if (live()) listener();
        };
        view.listeners.add(wrapped);
        return () => view.listeners.delete(wrapped);
      },
    };
  }

  private reachable(observer: string, target: string): boolean {
    if (observer === target) return true;
    const net = this.sim.network;
    return (
      this.sim.nodeState(target) === 'up' &&
      !net.blocked(`node:${observer}`, `node:${target}`) &&
      !net.blocked(`node:${target}`, `node:${observer}`)
    );
  }

  /**
   * Adds to `observer`'s view the members that a peer it reaches knows and sees up, listed up (as
   * SWIM's alive records and Scuttlebutt's state of live members spread); returns true when it
   * learned any.
   */
  private learnFromPeers(observer: string, view: ObserverView): boolean {
    let learned = false;
    for (const t of this.members.keys()) {
      if (view.known.has(t)) continue;
      for (const [p, peer] of this.views) {
        if (p === observer || p === t || this.sim.nodeState(p) !== 'up' || !this.reachable(observer, p))
          continue;
        if (peer.known.has(t) && peer.alive.get(t) === true) {
          view.known.add(t);
          view.alive.set(t, true);
          learned = true;
          break;
        }
      }
    }
    return learned;
  }

  private notify(observer: string): void {
    const view = this.views.get(observer);
    if (view === undefined || view.listeners.size === 0) return;
    this.sim.schedule(0, () => {
      for (const l of [...view.listeners]) l();
    });
  }

  private poll(): void {
    const now = this.sim.now;
    for (const [o, view] of this.views) {
      if (this.sim.nodeState(o) !== 'up') continue;
      let changed = this.learnFromPeers(o, view);
      for (const t of this.members.keys()) {
        const truth = this.reachable(o, t);
        const seen = view.alive.get(t) ?? true;
        const pending = view.pending.get(t);
        if (truth === seen) {
          view.pending.delete(t);
        } else if (pending === undefined || pending.to !== truth) {
          const [min, max] = truth
            ? [MEMBERSHIP_LAG.aliveMinMs, MEMBERSHIP_LAG.aliveMaxMs]
            : [MEMBERSHIP_LAG.deadMinMs, MEMBERSHIP_LAG.deadMaxMs];
          view.pending.set(t, { to: truth, at: now + min + this.rng.float() * (max - min) });
        } else if (now >= pending.at) {
          view.alive.set(t, truth);
          if (truth) view.known.add(t);
          view.pending.delete(t);
          changed = true;
        }
      }
      if (changed) this.notify(o);
    }
  }
}

/** A clock `offset()` ms off the node's virtual clock (timers unchanged: they are relative). */
class OffsetClock implements Clock {
  constructor(
    private readonly inner: Clock,
    private readonly offset: () => number,
  ) {}
  now(): number {
    return this.inner.now() + this.offset();
  }
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    return this.inner.setTimer(delayMs, fn);
  }
  cancel(handle: TimerHandle): void {
    this.inner.cancel(handle);
  }
}

/** One node's slot: kept across its restarts. */
export interface KvSlot {
  readonly name: string;
  readonly address: Address;
  incarnation: number;
  node: KvNode | undefined;
  store: ReplicaPort | undefined;
  /** Versions the node's hybrid clock makes while a client call is being issued. */
  capture: Version[] | undefined;
  /** Extra clock offset set by the harness (far skew), ms. */
  farOffsetMs: number;
  /** When the far offset was last set (true time). */
  farSince: number | undefined;
  /** Last state seen by {@link KvSimCluster.tick}, and since when. */
  lastState: 'up' | 'paused' | 'down';
  lastStateAt: number;
  /** The disk's lost-batch count at this incarnation's start. */
  lostBatches: number;
  /** Decommissioned and stopped for good: no longer one of {@link KvSimCluster.names}. */
  left: boolean;
}

/** A crash that lost unsynced batches. */
export interface LossyCrash {
  readonly node: string;
  readonly at: number;
}

export class KvSimCluster {
  readonly membership: LaggedMembership;
  readonly slots = new Map<string, KvSlot>();
  readonly lossyCrashes: LossyCrash[] = [];
  /** Times at which any node went down or paused, or any partition was seen, per node (true time). */
  readonly disturbedAt = new Map<string, number>();
  /** Node start failures: a violation. */
  readonly startFailures: string[] = [];
  readonly rf: number;

  constructor(
    readonly sim: Simulator,
    rng: Rng,
    readonly config: KvClusterConfig,
  ) {
    this.membership = new LaggedMembership(sim, rng.child('membership'));
    this.rf = config.kv.rf ?? 3;
  }

  /** The first nodes: the ring's seeds, which start normal. */
  private seeds: readonly string[] = [];

  /** Adds every node (all seeds: a new cluster starts normal in any order) and runs until all started. */
  async start(): Promise<void> {
    const names = Array.from({ length: this.config.nodes }, (_, i) => `n${i + 1}`);
    this.seeds = names;
    for (const name of names) this.addSlot(name);
    const ok = await this.sim.runUntil(() => names.every((n) => this.slots.get(n)?.node !== undefined), {
      maxMs: 10_000,
    });
    if (!ok) throw new CairnError('TIMEOUT', `kv nodes did not start: ${this.startFailures.join('; ')}`);
  }

  /**
   * Adds a node that is not a seed: it starts (as the simulator runs) and joins the ring,
   * streaming its ranges while the cluster serves.
   */
  join(name: string): void {
    if (this.slots.has(name)) throw new CairnError('INVALID_ARGUMENT', `node ${name} exists`);
    this.addSlot(name);
  }

  /**
   * Decommissions node `name` (through its running incarnation) and, once it has left the ring,
   * stops it for good. The promise may never settle when the node crashes meanwhile (its
   * incarnation's timers never fire again): callers retry on the next incarnation.
   */
  async decommission(name: string): Promise<void> {
    const slot = this.slots.get(name);
    const node = this.node(name);
    if (slot === undefined || node === undefined)
      throw new CairnError('SIM_NODE_DOWN', `node ${name} is down`);
    await node.decommission();
    slot.left = true;
    await this.sim.stopNode(name);
  }

  /**
   * Stops node `name` for good without decommissioning (a machine lost): it keeps its place on the
   * ring until some node removes it (`KvNode.removeNode`); clients and checks leave it out.
   */
  async retire(name: string): Promise<void> {
    const slot = this.slots.get(name);
    if (slot === undefined) throw new CairnError('INVALID_ARGUMENT', `no node ${name}`);
    slot.left = true;
    await this.sim.stopNode(name);
  }

  /** Whether node `name` was decommissioned (or retired) and stopped. */
  hasLeft(name: string): boolean {
    return this.slots.get(name)?.left ?? false;
  }

  private addSlot(name: string): void {
    const slot: KvSlot = {
      name,
      address: '',
      incarnation: 0,
      node: undefined,
      store: undefined,
      capture: undefined,
      farOffsetMs: 0,
      farSince: undefined,
      lastState: 'up',
      lastStateAt: this.sim.now,
      lostBatches: 0,
      left: false,
    };
    this.slots.set(name, slot);
    // Membership knows the node before its process starts (the factory runs inside addNode).
    const expected = defaultNodeAddress(this.sim.nodeNames().length);
    (slot as { address: Address }).address = expected;
    this.membership.add(name, expected);
    const seeds = this.seeds;
    const address = this.sim.addNode(name, (ctx) => this.startNode(slot, ctx, seeds));
    if (address !== expected)
      throw new CairnError('INVALID_ARGUMENT', `${name}: address ${address}, expected ${expected}`);
  }

  /** The nodes clients use and the checks read: every node but those decommissioned. */
  names(): string[] {
    return [...this.slots.values()].filter((s) => !s.left).map((s) => s.name);
  }

  /** The running node `name`, or undefined while it is down. */
  node(name: string): KvNode | undefined {
    const slot = this.slots.get(name);
    if (slot === undefined || this.sim.nodeState(name) === 'down') return undefined;
    return slot.node;
  }

  /**
   * Notes node state changes (call after every simulator event): when nodes went down or paused,
   * and partitions touching them, for the far-skew check.
   */
  tick(): void {
    const now = this.sim.now;
    const partitioned = this.sim.network.partitioned;
    for (const slot of this.slots.values()) {
      if (slot.left) continue;
      const state = this.sim.nodeState(slot.name);
      if (state !== slot.lastState) {
        slot.lastState = state;
        slot.lastStateAt = now;
      }
      if (state !== 'up' || partitioned) this.disturbedAt.set(slot.name, now);
    }
  }

  /** Pushes `name`'s clock `offsetMs` off (on top of the simulator's skew); 0 puts it back. */
  setFarOffset(name: string, offsetMs: number): void {
    const slot = this.slots.get(name);
    if (slot === undefined) throw new CairnError('NOT_FOUND', `no node ${name}`);
    slot.farOffsetMs = offsetMs;
    slot.farSince = offsetMs === 0 ? undefined : this.sim.now;
  }

  /**
   * True when node `name` must refuse to coordinate now: its clock is far off since at least
   * `settleMs` ago, and since then every node stayed up and no partition was in force (so its
   * anti-entropy and request exchanges brought it fresh readings from every peer).
   */
  mustRefuse(name: string, settleMs: number): boolean {
    const slot = this.slots.get(name);
    if (slot?.farSince === undefined) return false;
    const since = slot.farSince;
    if (this.sim.now < since + settleMs) return false;
    for (const n of this.names()) {
      const t = this.disturbedAt.get(n);
      if (t !== undefined && t >= since) return false;
    }
    return true;
  }

  /**
   * Calls `issue` (which must call one KvApi method of `node` synchronously) and returns the first
   * version the node's hybrid clock made meanwhile: a write's version (made before any replica
   * request), or undefined when the coordinator refused first.
   */
  issue<T>(
    name: string,
    issue: (node: KvNode) => Promise<T>,
  ): { promise: Promise<T>; version: Version | undefined } {
    const slot = this.slots.get(name);
    const node = this.node(name);
    if (slot === undefined || node === undefined)
      throw new CairnError('SIM_NODE_DOWN', `node ${name} is down`);
    const capture: Version[] = [];
    slot.capture = capture;
    let promise: Promise<T>;
    try {
      promise = issue(node);
    } finally {
      slot.capture = undefined;
    }
    return { promise, version: capture[0] };
  }

  /**
   * True when at least `replicas` distinct replicas of `key` lost unsynced batches in crashes
   * within [from, to].
   */
  exposed(
    key: string,
    from: number,
    to: number,
    replicas: number,
    replicasOf: (key: string) => readonly string[],
  ): boolean {
    const of = new Set(replicasOf(key));
    const hit = new Set<string>();
    for (const c of this.lossyCrashes) if (c.at >= from && c.at <= to && of.has(c.node)) hit.add(c.node);
    return hit.size >= replicas;
  }

  /** The ring as `via` (or the first running node) sees it, as a Ring. */
  ring(via?: string): Ring {
    const name = via ?? this.names().find((n) => this.node(n) !== undefined);
    const node = name === undefined ? undefined : this.node(name);
    if (node === undefined) throw new CairnError('SIM_NODE_DOWN', 'no kv node is running');
    const info = node.ring();
    return Ring.build(info.nodes, info.rf);
  }

  /**
   * Every cell every running node stores, by node then key; nodes that left (decommissioned or
   * retired) are left out like in `names()`: a retired node the fault injector restarted after its
   * removal runs on its stale cells, off the ring.
   */
  async storedCells(): Promise<Map<string, Map<string, Cell>>> {
    const out = new Map<string, Map<string, Cell>>();
    for (const slot of this.slots.values()) {
      const store = slot.left || this.node(slot.name) === undefined ? undefined : slot.store;
      if (store === undefined) continue;
      const cells = new Map<string, Cell>();
      let after: Uint8Array | undefined;
      for (let page = 0; page < 10_000; page++) {
        const got = await store.scan(
          { start: 0n, end: 0n },
          after === undefined ? { limit: 512 } : { after, limit: 512 },
        );
        for (const e of got.entries) cells.set(fromUtf8(e.key), e.cell);
        if (got.next === undefined) break;
        after = got.next;
      }
      out.set(slot.name, cells);
    }
    return out;
  }

  /** A key's natural replicas on `ring`. */
  static replicasOf(ring: Ring, key: string): readonly string[] {
    return ring.replicas(tokenOf(utf8(key)));
  }

  private async startNode(slot: KvSlot, ctx: SimNodeContext, seeds: readonly string[]): Promise<KvNode> {
    const sim = this.sim;
    const index = sim.nodeIndex(slot.name);
    const live = () => sim.incarnationOf(index) === ctx.incarnation && sim.nodeState(slot.name) !== 'down';
    slot.incarnation = ctx.incarnation;
    slot.node = undefined;
    slot.store = undefined;
    const lost = ctx.disk.stats.lostBatches;
    if (ctx.incarnation > 0 && lost > slot.lostBatches) {
      // The crash happened when the node was last seen going down.
      this.lossyCrashes.push({ node: slot.name, at: slot.lastState === 'down' ? slot.lastStateAt : sim.now });
    }
    slot.lostBatches = lost;
    const engines: KvEngines = {
      ...defaultEngines,
      hybridClock: (options) => {
        const real = defaultEngines.hybridClock(options);
        const port: HlcPort = {
          now: () => {
            const v = real.now();
            if (live()) slot.capture?.push(v);
            return v;
          },
          observe: (remote) => real.observe(remote),
        };
        return port;
      },
      openReplicaStore: async (options) => {
        const store = await defaultEngines.openReplicaStore(options);
        if (live()) slot.store = store;
        return store;
      },
    };
    try {
      const node = await KvNode.start({
        name: slot.name,
        transport: ctx.transport(),
        view: this.membership.viewFor(slot.name, live),
        storage: ctx.disk,
        clock: new OffsetClock(ctx.clock, () => slot.farOffsetMs),
        rng: ctx.rng,
        logger: ctx.logger,
        config: { ...this.config.kv, seeds },
        engines,
      });
      if (live()) slot.node = node;
      return node;
    } catch (err) {
      if (live() && isKvError(err, 'INVALID_ARGUMENT') && /was decommissioned/.test(err.message)) {
        // The node finished its decommission (stored `left`) and crashed before its caller saw
        // the promise settle: the fault injector restarted it, and it refuses to serve its stale
        // cells, as it must. It has left: stop it for good, like a decommission that returned.
        slot.left = true;
        void this.sim.stopNode(slot.name);
      } else if (live()) this.startFailures.push(`${slot.name}#${ctx.incarnation}: ${String(err)}`);
      throw err;
    }
  }
}
