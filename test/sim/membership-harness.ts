import { type Clock, describeError, Rng, type Seed } from '../../src/core/index.js';
import {
  type MemberState,
  Membership,
  type MembershipEvent,
  type MembershipOptions,
  type MembershipProtocolConfig,
  type StateValue,
  storageGenerationStore,
  testConfig,
} from '../../src/membership/index.js';
import {
  type NodeId,
  NodeIdentity,
  type SignatureScheme,
  simulatedScheme,
} from '../../src/security/index.js';
import { type NetworkOptions, type SimNodeContext, Simulator } from '../../src/sim/index.js';
import type { Address, Transport } from '../../src/transport/types.js';
import { replayCommand } from './sweep.js';

/**
 * Shared harness of the membership simulation tests (`test/sim/membership*.test.ts`): a cluster
 * of real `Membership` drivers on the simulator, a cheap per-observer view fed by each node's
 * events (so convergence predicates cost O(1) amortised per simulator event, even at 1,000
 * nodes), safety checks on every event, and seed sweeping with a replay line on failure.
 *
 * Seeds come from `sweep.ts`: `CAIRN_SEED=<s>` runs one seed; `CAIRN_LONG=1` runs the long sweep;
 * `CAIRN_SEEDS` and `CAIRN_SEED_START` choose the count and the first; otherwise the short sweep.
 */

export { LONG, replayCommand, sweepSeeds } from './sweep.js';

/**
 * Runs `fn` for every seed; on the first failure prints `seed=<s>` and the replay command to
 * stderr and throws an error carrying both (and the original as `cause`).
 */
export async function forEachSeed(
  file: string,
  name: string,
  seeds: readonly Seed[],
  fn: (seed: Seed) => Promise<void>,
): Promise<void> {
  for (const seed of seeds) {
    try {
      await fn(seed);
    } catch (err) {
      const message = `FAIL [${name}] seed=${String(seed)}: ${describeError(err)}\nreplay: ${replayCommand(file, seed, name)}`;
      process.stderr.write(`${message}\n`);
      throw new Error(message, { cause: err });
    }
  }
}

const STATE_CODE: Record<MemberState, number> = { alive: 1, suspect: 2, dead: 3, left: 4 };
const CODE_STATE = ['none', 'alive', 'suspect', 'dead', 'left'] as const;

/** Options of {@link MembershipCluster.create}. */
export interface ClusterOptions {
  /** The run's seed (simulator and identities). */
  seed: Seed;
  /** Run on this simulator (a swarm's) instead of a new one; `network` is then ignored. */
  sim?: Simulator;
  /** Nodes created at start, named `n0..n{size-1}`. */
  size: number;
  /** Protocol; default `testConfig()`. */
  protocol?: MembershipProtocolConfig;
  /** Signature scheme; default `simulatedScheme` (the forgery tests pass Ed25519). */
  scheme?: SignatureScheme;
  /** Network defaults (latency, loss). */
  network?: NetworkOptions;
  /** Identities beyond `size` to reserve (for nodes added later); default 4. */
  spareIdentities?: number;
  /** Builds the membership transport of node `index` (e.g. sealed); default `ctx.transport()`. */
  transport?: (ctx: SimNodeContext, identity: number) => Transport;
  /** Initial key/value state of identity `i`. */
  initialState?: (identity: number) => Record<string, StateValue> | undefined;
  /** Further options of identity `i`'s node (seeds, PeX, ...), applied last. */
  options?: (identity: number) => Partial<MembershipOptions>;
  /**
   * Keep each node's generation on its simulated disk (`storageGenerationStore`), as the agent keeps
   * it in its data directory, so a restart claims `max(clock, last + 1)`; default off (the disk's
   * events would change every recorded trace hash).
   */
  persistGeneration?: boolean;
}

interface SimMember {
  /** Identity index (subject index in every view). */
  readonly identity: number;
  membership: Membership | undefined;
  /** Per subject identity: state code (0 = unknown), generation, incarnation, time of last change. */
  readonly state: Uint8Array;
  readonly generation: Float64Array;
  readonly incarnation: Float64Array;
  /** Per subject: when its state last changed, on this observer's clock (reaping runs on it). */
  readonly since: Float64Array;
  /** The observer's clock (skewed if the run skews it). */
  clock: Clock | undefined;
  aliveOthers: number;
  /** Deaths this node declared itself (its `deathsDeclared` counter) that were attributed. */
  declared: number;
}

/** A death a node declared itself (its own suspicion timer ran out), not one it learned. */
export interface DeathDeclaration {
  /** Sim node name of the declarer. */
  readonly observer: string;
  /** Identity index of the subject. */
  readonly subject: number;
  /** The generation declared dead. */
  readonly generation: number;
  readonly atMs: number;
}

/** A dead event whose subject the test did not take down. */
export interface FalseDeath {
  readonly observer: string;
  readonly subject: string;
  readonly atMs: number;
}

/**
 * A cluster of membership nodes on one simulator. Nodes are sim nodes named `n<i>` (and
 * `n<i>.<k>` for a node added later with identity `i`); identities are derived from the seed.
 *
 * Safety checks run inside every node's event callbacks and collect {@link violations}:
 * - per observer and subject, `(generation, incarnation)` never decreases, and at equal order a
 *   `dead`/`left` member does not come back `alive`/`suspect` before it could have been reaped;
 * - every `dead` event about a subject the test did not crash, stop, pause or make leave is a
 *   false death ({@link falseDeaths}), which the no-fault tests assert to be empty.
 */
export class MembershipCluster {
  readonly sim: Simulator;
  readonly protocol: MembershipProtocolConfig;
  readonly identities: NodeIdentity[];
  readonly ids: NodeId[];
  /** Sim node names, in creation order. */
  readonly names: string[] = [];
  /** Safety violations seen so far (empty when all is well). */
  readonly violations: string[] = [];
  /** Dead events about subjects the test did not take down. */
  readonly falseDeaths: FalseDeath[] = [];
  /** Deaths declared by the observer's own suspicion timer, in order (see {@link DeathDeclaration}). */
  readonly declarations: DeathDeclaration[] = [];
  /** Dead events in total (all observers, all subjects). */
  deadEvents = 0;
  /** Suspect events in total. */
  suspectEvents = 0;
  /** Identities the test took down (crash, stop, leave) or paused; deaths of these are expected. */
  readonly expectedDown = new Set<number>();
  private readonly members: SimMember[] = [];
  private readonly byName = new Map<string, SimMember>();
  private readonly indexOfId = new Map<NodeId, number>();
  private readonly options: ClusterOptions;
  private readonly capacity: number;
  /** Per identity: the generation of its latest start (0 before the first). */
  private readonly lastGeneration: number[];

  private constructor(options: ClusterOptions) {
    this.options = options;
    this.protocol = options.protocol ?? testConfig();
    this.sim =
      options.sim ??
      new Simulator({
        seed: options.seed,
        settle: true,
        ...(options.network ? { network: options.network } : {}),
      });
    this.capacity = options.size + (options.spareIdentities ?? 4);
    const idRng = Rng.fromSeed(options.seed).child('membership-harness:identities');
    this.identities = Array.from({ length: this.capacity }, () => NodeIdentity.fromSeed(idRng.bytes(32)));
    this.ids = this.identities.map((i) => i.nodeId);
    this.lastGeneration = new Array<number>(this.capacity).fill(0);
    for (const [i, id] of this.ids.entries()) this.indexOfId.set(id, i);
  }

  /** Creates the cluster and its first `size` nodes (not joined yet; see {@link joinAll}). */
  static async create(options: ClusterOptions): Promise<MembershipCluster> {
    const c = new MembershipCluster(options);
    for (let i = 0; i < options.size; i++) c.addNode(i);
    await c.sim.runFor(1);
    return c;
  }

  /**
   * Adds a sim node running identity `identity` (a fresh name; a new address unless `address`
   * is given). Used at start and for "same identity, new address" rejoins.
   */
  addNode(identity: number, address?: Address): string {
    const name = this.names.some((n) => n === `n${identity}`)
      ? `n${identity}.${this.names.filter((n) => n.startsWith(`n${identity}.`)).length + 1}`
      : `n${identity}`;
    const entry: SimMember = {
      identity,
      membership: undefined,
      state: new Uint8Array(this.capacity),
      generation: new Float64Array(this.capacity),
      incarnation: new Float64Array(this.capacity),
      since: new Float64Array(this.capacity),
      clock: undefined,
      aliveOthers: 0,
      declared: 0,
    };
    this.names.push(name);
    this.byName.set(name, entry);
    this.members.push(entry);
    this.sim.addNode(name, (ctx) => this.factory(ctx, entry), address === undefined ? {} : { address });
    return name;
  }

  private async factory(ctx: SimNodeContext, entry: SimMember): Promise<Membership> {
    // A restart starts with an empty view, as the restarted process does.
    entry.state.fill(0);
    entry.generation.fill(0);
    entry.incarnation.fill(0);
    entry.aliveOthers = 0;
    entry.declared = 0;
    entry.membership = undefined;
    entry.clock = ctx.clock;
    const i = entry.identity;
    const initialState = this.options.initialState?.(i);
    const m = await Membership.create({
      identity: this.identities[i]!,
      transport: this.options.transport?.(ctx, i) ?? ctx.transport(),
      clock: ctx.clock,
      rng: ctx.rng,
      protocol: this.protocol,
      scheme: this.options.scheme ?? simulatedScheme,
      name: ctx.name,
      ...(initialState === undefined ? {} : { initialState }),
      ...(this.options.persistGeneration === true
        ? { generationStore: storageGenerationStore(ctx.disk) }
        : {}),
      ...this.options.options?.(i),
    });
    // Generations of one identity grow with every start (a restart must not reuse or go back).
    const last = this.lastGeneration[i]!;
    if (m.generation <= last)
      this.violations.push(
        `${ctx.name} started with generation ${m.generation}, not above its previous ${last}, at t=${this.sim.now}`,
      );
    this.lastGeneration[i] = Math.max(last, m.generation);
    const observe = (e: MembershipEvent) => this.observe(ctx.name, entry, e);
    for (const type of ['join', 'alive', 'suspect', 'dead', 'leave'] as const) m.on(type, observe);
    entry.membership = m;
    return m;
  }

  private observe(observer: string, o: SimMember, e: MembershipEvent): void {
    if (e.type === 'update') return;
    const s = this.indexOfId.get(e.member.id);
    if (s === undefined) return; // not one of ours (e.g. a forger's own identity)
    const code = STATE_CODE[e.member.state];
    const gen = e.member.generation;
    const inc = e.member.incarnation;
    const now = this.sim.now;
    const local = o.clock?.now() ?? now;
    const old = o.state[s]!;
    const subject = `n${s}`;
    if (old !== 0) {
      const og = o.generation[s]!;
      const oi = o.incarnation[s]!;
      if (gen < og || (gen === og && inc < oi)) {
        this.violations.push(
          `${observer} saw ${subject} go back from (gen ${og}, inc ${oi}) to (gen ${gen}, inc ${inc}) at t=${now}`,
        );
      } else if (
        gen === og &&
        inc === oi &&
        old >= 3 &&
        code <= 2 &&
        local - o.since[s]! < this.protocol.swim.reapAfterMs
      ) {
        this.violations.push(
          `${observer} saw ${subject} come back ${CODE_STATE[code]} from ${CODE_STATE[old]} at the same incarnation ${inc} at t=${now}`,
        );
      }
    }
    if (e.type === 'dead') {
      this.deadEvents++;
      // The driver publishes after the core's step, so a death this node's own timer declared has
      // already raised its counter: one counted declaration per such event.
      const declared = o.membership?.swimStats().counters.deathsDeclared ?? 0;
      if (declared > o.declared) {
        o.declared++;
        this.declarations.push({ observer, subject: s, generation: gen, atMs: now });
      }
      if (!this.expectedDown.has(s)) this.falseDeaths.push({ observer, subject, atMs: now });
    }
    if (e.type === 'suspect') this.suspectEvents++;
    if (s !== o.identity) {
      if (old === 1) o.aliveOthers--;
      if (code === 1) o.aliveOthers++;
    }
    o.state[s] = code;
    o.generation[s] = gen;
    o.incarnation[s] = inc;
    if (code !== old) o.since[s] = local;
  }

  /** The membership of sim node `name` (or `n<identity>`), or undefined while it is not running. */
  running(name: string): Membership | undefined {
    if (this.sim.nodeState(name) === 'down') return undefined;
    return this.byName.get(name)?.membership;
  }

  /** The membership of sim node `name` (or `n<identity>`); throws when it is not running. */
  node(which: string | number): Membership {
    const name = typeof which === 'number' ? `n${which}` : which;
    const m = this.byName.get(name)?.membership;
    if (m === undefined) throw new Error(`node ${name} is not running`);
    return m;
  }

  /** Identity index of a sim node name. */
  identityOf(name: string): number {
    const e = this.byName.get(name);
    if (e === undefined) throw new Error(`no node ${name}`);
    return e.identity;
  }

  /** Names of sim nodes that are up (not crashed or stopped; paused ones count as up). */
  upNames(): string[] {
    return this.names.filter(
      (n) => this.sim.nodeState(n) !== 'down' && this.byName.get(n)?.membership !== undefined,
    );
  }

  /** How `observer` (a sim node name) sees identity `subject`, from its events: undefined = unknown. */
  seen(observer: string, subject: number): MemberState | undefined {
    const code = this.byName.get(observer)?.state[subject] ?? 0;
    return code === 0 ? undefined : CODE_STATE[code as 1 | 2 | 3 | 4];
  }

  /** How many other identities `observer` sees alive, from its events. */
  aliveOthers(observer: string): number {
    return this.byName.get(observer)?.aliveOthers ?? 0;
  }

  /**
   * A cheap predicate: every observer sees exactly `expected` other members alive. A cursor
   * remembers the first observer that did not, so repeated checks are O(1) amortised.
   */
  everyoneSeesAlive(observers: readonly string[], expected: (observer: string) => number): () => boolean {
    let cursor = 0;
    return () => {
      for (let k = 0; k < observers.length; k++) {
        const name = observers[(cursor + k) % observers.length]!;
        if (this.aliveOthers(name) !== expected(name)) {
          cursor = (cursor + k) % observers.length;
          return false;
        }
      }
      return true;
    };
  }

  /**
   * Runs until `predicate` holds, at most `maxMs` virtual; returns the virtual ms it took.
   *
   * @throws Error naming `what` when the deadline passes
   */
  async waitFor(what: string, predicate: () => boolean, maxMs: number): Promise<number> {
    const t0 = this.sim.now;
    const held = await this.sim.runUntil(predicate, { maxMs });
    if (!held)
      throw new Error(
        `${what}: did not happen within ${maxMs} ms virtual (t=${this.sim.elapsedMs.toFixed(0)})`,
      );
    return this.sim.now - t0;
  }

  /**
   * Every node except `via` joins through `via` (default n0) at once; resolves with the virtual
   * ms until every node lists every other node alive (checked from events, then confirmed with
   * `members()`).
   */
  async joinAll(options: { via?: number; maxMs?: number } = {}): Promise<number> {
    const via = options.via ?? 0;
    const seed = this.sim.addressOf(`n${via}`);
    const names = this.upNames();
    const failures: string[] = [];
    for (const name of names) {
      if (name === `n${via}`) continue;
      this.node(name)
        .join([seed])
        .catch((err: unknown) => failures.push(`${name}: ${describeError(err)}`));
    }
    const n = names.length;
    const ms = await this.waitFor(
      `join of ${n} nodes`,
      this.everyoneSeesAlive(names, () => n - 1),
      options.maxMs ?? 60_000,
    );
    if (failures.length > 0)
      throw new Error(`join failed on ${failures.length} nodes: ${failures.slice(0, 3).join('; ')}`);
    this.assertMembersAlive(names, names);
    return ms;
  }

  /**
   * Confirms with `members()` (not the event view) that every observer lists every subject
   * alive; throws naming the first one that does not.
   */
  assertMembersAlive(observers: readonly string[], subjects: readonly string[]): void {
    const want = subjects.map((s) => this.node(s).id);
    for (const o of observers) {
      const m = this.node(o);
      for (const id of want) {
        const member = m.member(id);
        if (member?.state !== 'alive') {
          throw new Error(`${o} lists ${this.nameOf(id)} as ${member?.state ?? 'unknown'}, not alive`);
        }
      }
    }
  }

  /** `n<identity>` of a node id, or the id. */
  nameOf(id: NodeId): string {
    const i = this.indexOfId.get(id);
    return i === undefined ? id : `n${i}`;
  }

  /** Crashes sim node `name` and marks its identity as expected down. */
  crash(name: string): void {
    this.expectedDown.add(this.identityOf(name));
    this.sim.crash(name);
  }

  /** Throws listing the safety violations, if any. */
  assertSafe(): void {
    if (this.violations.length > 0) {
      throw new Error(
        `${this.violations.length} safety violations, first: ${this.violations.slice(0, 3).join('; ')}`,
      );
    }
  }

  /** Throws listing the false deaths, if any. */
  assertNoFalseDeaths(): void {
    if (this.falseDeaths.length > 0) {
      const f = this.falseDeaths
        .slice(0, 3)
        .map((d) => `${d.observer} declared ${d.subject} dead at t=${d.atMs}`);
      throw new Error(`${this.falseDeaths.length} false deaths, first: ${f.join('; ')}`);
    }
  }
}
