import { CairnError } from '../../core/index.js';
import type { StateValue } from '../../membership/types.js';
import type { SimNodeContext, Simulator } from '../../sim/index.js';
import type { Address } from '../../transport/types.js';
import { type KvConfig, testKvConfig } from './config.js';
import { KvNode, type KvNodeOptions } from './kv-node.js';
import type { KvMember, KvMembershipView } from './ring-tracker.js';

/**
 * Test helpers for the cluster layer (not exported from `index.ts`): a fake membership that tests
 * drive by hand (mark nodes dead or alive; adverts propagate at once, or only when released), and
 * a cluster of KvNodes on the simulator's network and disks.
 */

interface FakeEntry {
  readonly name: string;
  readonly address: Address;
  state: KvMember['state'];
  values: Map<string, StateValue>;
}

/**
 * A membership every node of a test shares: one table of members, their states and state values.
 * Changes notify every listener at once (never re-entrantly).
 */
export class FakeMembership {
  private readonly entries = new Map<string, FakeEntry>();
  private readonly listeners = new Set<() => void>();
  /** Members each viewer does not list (it never learned them, or reaped them), by viewer. */
  private readonly unknown = new Map<string, Set<string>>();
  private notifying = false;
  private dirty = false;

  /** Adds (or revives) a member. */
  add(name: string, address: Address): void {
    const prior = this.entries.get(name);
    if (prior === undefined) this.entries.set(name, { name, address, state: 'alive', values: new Map() });
    else prior.state = 'alive';
    // A member up is learned by everyone again.
    for (const hidden of this.unknown.values()) hidden.delete(name);
    this.changed();
  }

  /**
   * `viewer` no longer lists `name` at all, as real membership after it reaped a dead member, or
   * after a restart of `viewer` while `name` was down (membership exchanges live members only):
   * neither its state nor its values are seen there until `name` is added (up) again.
   */
  forget(viewer: string, name: string): void {
    let hidden = this.unknown.get(viewer);
    if (hidden === undefined) {
      hidden = new Set();
      this.unknown.set(viewer, hidden);
    }
    hidden.add(name);
    this.changed();
  }

  /** Every member but `name` forgets it (membership reaped it everywhere). */
  reap(name: string): void {
    for (const viewer of this.entries.keys()) if (viewer !== name) this.forget(viewer, name);
  }

  /** Sets a member's state. */
  setState(name: string, state: KvMember['state']): void {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new CairnError('NOT_FOUND', `no member ${name}`);
    entry.state = state;
    this.changed();
  }

  /** Sets a raw state value of a member (hostile adverts in tests). */
  setValue(name: string, key: string, value: StateValue | undefined): void {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new CairnError('NOT_FOUND', `no member ${name}`);
    if (value === undefined) entry.values.delete(key);
    else entry.values.set(key, value);
    this.changed();
  }

  /**
   * The view member `name` sees; with `live`, the view is inert once it returns false (a crashed
   * incarnation's listeners are not called and its publishes are dropped, as for a dead process).
   */
  viewFor(name: string, live: () => boolean = () => true): KvMembershipView {
    return {
      members: () =>
        [...this.entries.values()]
          .filter((e) => this.unknown.get(name)?.has(e.name) !== true)
          .map((e) => ({
            name: e.name,
            address: e.address,
            state: e.state,
            lookup: (key: string) => e.values.get(key),
          })),
      publish: (values) => {
        const entry = this.entries.get(name);
        if (entry === undefined || !live()) return;
        for (const key of [...entry.values.keys()]) if (key.startsWith('kv.')) entry.values.delete(key);
        for (const [key, value] of values) entry.values.set(key, value);
        this.changed();
      },
      onChange: (listener) => {
        const wrapped = () => {
          if (live()) listener();
        };
        this.listeners.add(wrapped);
        return () => this.listeners.delete(wrapped);
      },
    };
  }

  /**
   * Notifies every listener now (a test's next line sees the change, as if gossip were instant);
   * a change made by a listener is delivered after the current round, never re-entrantly.
   */
  private changed(): void {
    if (this.notifying) {
      this.dirty = true;
      return;
    }
    this.notifying = true;
    try {
      for (let round = 0; round < 100; round++) {
        this.dirty = false;
        for (const l of [...this.listeners]) l();
        if (!this.dirty) break;
      }
    } finally {
      this.notifying = false;
    }
  }
}

/** Options of {@link SimKvCluster}. */
export interface SimKvClusterOptions {
  readonly config?: Partial<KvConfig>;
  /** Extra node options (engines wrappers, ...). */
  readonly nodeOptions?: (name: string) => Partial<KvNodeOptions>;
}

/**
 * KvNodes on a simulator: each node's storage is its SimDisk (kept across crashes, unsynced writes
 * lost), its transport a simulated one, its clock the node's virtual clock. The fake membership
 * follows the simulator: {@link crash} marks the node dead, {@link restart} alive again.
 */
export class SimKvCluster {
  readonly membership = new FakeMembership();
  readonly config: KvConfig;

  constructor(
    readonly sim: Simulator,
    private readonly options: SimKvClusterOptions = {},
  ) {
    this.config = testKvConfig(options.config);
  }

  /** Adds a node and starts it (the simulator must run for its start to complete). */
  add(name: string): void {
    const address = this.sim.addNode(name, (ctx) => this.startNode(ctx));
    this.membership.add(name, address);
  }

  /** Adds nodes and runs the simulator until every one has started. */
  async addAll(names: readonly string[]): Promise<void> {
    for (const n of names) this.add(n);
    const ok = await this.sim.runUntil(() => names.every((n) => this.sim.handle(n) !== undefined), {
      maxMs: 10_000,
    });
    if (!ok) throw new CairnError('TIMEOUT', `nodes ${names.join(', ')} did not start`);
  }

  /** The running node `name`. */
  node(name: string): KvNode {
    const node = this.sim.handle<KvNode>(name);
    if (node === undefined) throw new CairnError('NOT_FOUND', `kv node ${name} is not running`);
    return node;
  }

  /** Crashes a node and marks it dead in membership. */
  crash(name: string): void {
    this.sim.crash(name);
    this.membership.setState(name, 'dead');
  }

  /** Restarts a crashed node (same disk) and marks it alive once it runs. */
  async restart(name: string): Promise<void> {
    this.sim.restart(name);
    const ok = await this.sim.runUntil(() => this.sim.handle(name) !== undefined, { maxMs: 10_000 });
    if (!ok) throw new CairnError('TIMEOUT', `node ${name} did not restart`);
    this.membership.setState(name, 'alive');
  }

  /**
   * Runs the simulator until `promise` settles (at most `maxMs` virtual ms), and returns its value.
   *
   * @throws the promise's rejection, or TIMEOUT when it did not settle
   */
  async run<T>(promise: Promise<T>, maxMs = 60_000): Promise<T> {
    let settled = false;
    const watched = promise.finally(() => {
      settled = true;
    });
    watched.catch(() => {});
    await this.sim.runUntil(() => settled, { maxMs });
    if (!settled) throw new CairnError('TIMEOUT', `the operation did not finish within ${maxMs} virtual ms`);
    return watched;
  }

  private async startNode(ctx: SimNodeContext): Promise<KvNode> {
    const sim = this.sim;
    const index = sim.nodeIndex(ctx.name);
    const live = () => sim.incarnationOf(index) === ctx.incarnation && sim.nodeState(ctx.name) !== 'down';
    return KvNode.start({
      name: ctx.name,
      transport: ctx.transport(),
      view: this.membership.viewFor(ctx.name, live),
      storage: ctx.disk,
      clock: ctx.clock,
      rng: ctx.rng,
      logger: ctx.logger,
      config: this.config,
      ...this.options.nodeOptions?.(ctx.name),
    });
  }
}
