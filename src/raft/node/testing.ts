import { decode, encode, type Seed, toHex, v } from '../../core/index.js';
import { type NetworkOptions, Simulator } from '../../sim/index.js';
import { SegmentLogStore } from '../log/index.js';
import type { ConfState, Entry, NodeId, RaftLogStore, Snapshot } from '../types.js';
import { MemoryRaftLogStore } from './memory-log-store.js';
import type { RaftApplier, RaftNodeOptions } from './options.js';
import { RaftNode } from './raft-node.js';

/**
 * Test helpers of the raft driver: a small key/value state machine and a cluster of
 * {@link RaftNode}s on the simulator. Not part of the public API.
 */

const PUT = v.object({ k: v.string({ maxLength: 256 }), v: v.string({ maxLength: 4096 }) });
const IMAGE = v.object({
  i: v.uint(),
  kv: v.array(v.tuple(v.string(), v.string()), { maxLength: 1_000_000 }),
});

/**
 * Runs `fn` and, when it fails, prints the seed and the command that replays it (`CAIRN_SEED`,
 * narrowed to the test `name` of `file`).
 */
export async function replayable(
  file: string,
  seed: number,
  name: string,
  fn: () => Promise<void>,
): Promise<void> {
  try {
    await fn();
  } catch (err) {
    process.stderr.write(
      `FAIL [${name}] seed=${seed}\nreplay: CAIRN_SEED=${seed} node --import tsx --test --test-name-pattern=${JSON.stringify(name)} ${file}\n`,
    );
    throw err;
  }
}

/**
 * The lagging-follower scenario of the snapshot tests: one put everywhere, then a follower
 * crashed while 60 more puts let the leader compact its log past them (its snapshot at index 40
 * or later). Returns the crashed follower's id; the caller restarts it.
 */
export async function compactWhileDown(c: SimRaftCluster): Promise<NodeId> {
  await c.awaitLeader();
  await c.put('x', 'before');
  await c.awaitConverged([1, 2, 3], (kv) => kv.kv.size === 1);
  const lagging = [1, 2, 3].find((id) => id !== c.leader()!.id)!;
  c.crash(lagging);
  for (let i = 0; i < 60; i++) await c.put(`k${i}`, 'v'.repeat(40));
  await c.sim.runUntil(() => c.leader()!.status().snapshotIndex >= 40, { maxMs: 20_000 });
  return lagging;
}

/**
 * The learner-after-compaction scenario of the snapshot tests: 30 puts, the leader's snapshot at
 * index 20 or later, then node 4 added as a learner and caught up. Returns the learner.
 */
export async function learnerAfterCompaction(c: SimRaftCluster): Promise<RaftNode> {
  const leader = await c.awaitLeader();
  for (let i = 0; i < 30; i++) await c.put(`k${i}`, `${i}`);
  await c.sim.runUntil(() => leader.status().snapshotIndex >= 20);
  await c.settle(leader.proposeConfChange({ type: 'addLearner', nodeId: 4 }));
  await c.awaitConverged([1, 2, 3, 4], (kv) => kv.kv.size === 30);
  return c.nodes.get(4)!;
}

/** Encodes a `put` command of the {@link KvApplier}. */
export function kvPut(key: string, value: string): Uint8Array {
  return encode({ k: key, v: value });
}

/**
 * A key/value state machine: normal entries are `{k, v}` puts. Idempotent by index (an entry at
 * or below the applied index is skipped), so it tolerates replays. `durable` keeps its state
 * across a simulated crash (as a store with its own synced storage would); otherwise a restart
 * begins empty and replays from the snapshot and the log.
 */
export class KvApplier implements RaftApplier {
  readonly kv = new Map<string, string>();
  applied = 0;
  /** Conf changes seen, in order, as `type:node`. */
  readonly confs: string[] = [];
  /** Entries given to apply, counting replays. */
  applyCalls = 0;
  /** Entries given again at or below the applied index (skipped: idempotent by index). */
  replays = 0;
  restores = 0;
  /** The index of the last snapshot restored, 0 for none. */
  lastRestoredIndex = 0;

  /**
   * @param witness - shared by every node's applier: the entry applied at each index, first come;
   *   an applier that applies another entry at the same index throws (state machine safety)
   */
  constructor(private readonly witness?: Map<number, string>) {}

  async apply(entries: readonly Entry[]): Promise<void> {
    for (const e of entries) {
      this.applyCalls++;
      if (e.index <= this.applied) {
        this.replays++;
        continue;
      }
      if (e.index !== this.applied + 1) throw new Error(`kv applier: gap, ${e.index} after ${this.applied}`);
      this.applied = e.index;
      if (this.witness !== undefined) {
        const mine = `${e.term}:${e.type}:${toHex(e.data)}`;
        const seen = this.witness.get(e.index);
        if (seen === undefined) this.witness.set(e.index, mine);
        else if (seen !== mine)
          throw new Error(`state machine safety: index ${e.index} applied as ${seen} and ${mine}`);
      }
      if (e.type === 'conf') {
        this.confs.push(`conf@${e.index}`);
      } else if (e.data.length > 0) {
        const put = decode(e.data, PUT);
        this.kv.set(put.k, put.v);
      }
    }
  }

  async snapshot(): Promise<Uint8Array> {
    return encode({ i: this.applied, kv: [...this.kv] });
  }

  async restore(snapshot: Snapshot): Promise<void> {
    const image = decode(snapshot.data, IMAGE);
    this.kv.clear();
    for (const [k, val] of image.kv) this.kv.set(k, val);
    this.applied = snapshot.meta.index;
    this.restores++;
    this.lastRestoredIndex = snapshot.meta.index;
  }

  appliedIndex(): number {
    return this.applied;
  }

  /** The state as one comparable string. */
  fingerprint(): string {
    return JSON.stringify([...this.kv].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}

/**
 * A {@link KvApplier} with durable state of its own, as the store's: `persist(index)` records the
 * state as of `index` as what survives a crash ({@link afterCrash}), so the driver's compaction
 * snapshots hold only metadata. Apply and restore change only the live state (unsynced writes).
 */
export class PersistingKvApplier extends KvApplier {
  /** Calls of persist. */
  persists = 0;
  /** Calls of snapshot (images built: only for sends on this path). */
  images = 0;
  private durable: { applied: number; kv: [string, string][] } = { applied: 0, kv: [] };

  constructor(private readonly sharedWitness?: Map<number, string>) {
    super(sharedWitness);
  }

  async persist(index: number): Promise<void> {
    if (index !== this.applied) throw new Error(`persist(${index}) but applied is ${this.applied}`);
    this.durable = { applied: index, kv: [...this.kv] };
    this.persists++;
  }

  override async snapshot(): Promise<Uint8Array> {
    this.images++;
    return super.snapshot();
  }

  /** The applied index that survives a crash. */
  get durableIndex(): number {
    return this.durable.applied;
  }

  /** A new incarnation holding what was persisted, as after a crash. */
  afterCrash(): PersistingKvApplier {
    const next = new PersistingKvApplier(this.sharedWitness);
    next.durable = this.durable;
    next.applied = this.durable.applied;
    for (const [k, val] of this.durable.kv) next.kv.set(k, val);
    return next;
  }
}

/** Options of {@link SimRaftCluster}. */
export interface SimRaftClusterOptions {
  seed: Seed;
  /** Voters at bootstrap, ids 1..voters. */
  voters: number;
  /** Nodes created at start beyond the voters (joining later, no bootstrap). Default 0. */
  extra?: number;
  network?: NetworkOptions;
  /** Overrides for every node. */
  node?: Partial<RaftNodeOptions>;
  /**
   * `memory` (default): a {@link MemoryRaftLogStore} per node kept across restarts (a crash drops
   * its unsynced writes); `segment`: the durable {@link SegmentLogStore} on the node's simulated
   * files, reopened at each restart (a crash loses unsynced bytes or tears the tail).
   */
  logStore?: 'memory' | 'segment';
  /** Called with each node (incarnation) once started. */
  onStart?: (node: RaftNode) => void;
  /** Shared by every applier; see {@link KvApplier}. */
  witness?: Map<number, string>;
  /**
   * `kv` (default): {@link KvApplier}s, full-image snapshots; `persisting`:
   * {@link PersistingKvApplier}s, metadata-only snapshots, and a crash keeps what was persisted.
   */
  applier?: 'kv' | 'persisting';
}

/** Simulator node name of raft node `id`. */
export function nodeName(id: NodeId): string {
  return `n${id}`;
}

/** A cluster of raft nodes with {@link KvApplier}s on the simulator. */
export class SimRaftCluster {
  readonly sim: Simulator;
  readonly stores = new Map<NodeId, RaftLogStore>();
  readonly appliers = new Map<NodeId, KvApplier>();
  readonly nodes = new Map<NodeId, RaftNode>();
  readonly bootstrap: ConfState;

  constructor(private readonly options: SimRaftClusterOptions) {
    this.sim = new Simulator({
      seed: options.seed,
      ...(options.network ? { network: options.network } : {}),
    });
    const voters = Array.from({ length: options.voters }, (_, i) => i + 1);
    this.bootstrap = { voters, learners: [] };
    const total = options.voters + (options.extra ?? 0);
    for (let id = 1; id <= total; id++) this.add(id, id <= options.voters);
  }

  private add(id: NodeId, bootstrap: boolean): void {
    const segment = this.options.logStore === 'segment';
    if (!segment) this.stores.set(id, new MemoryRaftLogStore());
    this.sim.addNode(nodeName(id), async (ctx) => {
      if (segment) this.stores.set(id, await SegmentLogStore.open({ files: ctx.files }));
      const applier =
        this.appliers.get(id) ??
        (this.options.applier === 'persisting'
          ? new PersistingKvApplier(this.options.witness)
          : new KvApplier(this.options.witness));
      this.appliers.set(id, applier);
      const node = await RaftNode.start({
        id,
        transport: ctx.transport(),
        resolve: (peer) =>
          peer >= 1 && peer <= this.sim.nodeNames().length ? this.sim.addressOf(nodeName(peer)) : undefined,
        clock: ctx.clock,
        rng: ctx.rng,
        logStore: this.stores.get(id)!,
        applier,
        ...(bootstrap ? { bootstrap: this.bootstrap } : {}),
        logger: ctx.logger,
        ...this.options.node,
      });
      this.nodes.set(id, node);
      this.options.onStart?.(node);
      return { node, stop: () => node.stop() };
    });
  }

  /** The node that is up and leader in the highest term, if any. */
  leader(): RaftNode | undefined {
    let best: RaftNode | undefined;
    for (const [id, node] of this.nodes) {
      if (this.sim.nodeState(nodeName(id)) !== 'up') continue;
      const s = node.status();
      if (s.role === 'leader' && (best === undefined || s.term > best.status().term)) best = node;
    }
    return best;
  }

  /** Runs until a leader is known to every up node; returns it. */
  async awaitLeader(maxMs = 20_000): Promise<RaftNode> {
    const ok = await this.sim.runUntil(
      () => {
        const l = this.leader();
        if (l === undefined) return false;
        const { voters, learners } = l.status().confState;
        return [...voters, ...learners].every((id) => {
          const n = this.nodes.get(id);
          return n === undefined || this.sim.nodeState(nodeName(id)) !== 'up' || n.status().lead === l.id;
        });
      },
      { maxMs },
    );
    if (!ok) throw new Error(`no leader within ${maxMs} ms`);
    return this.leader()!;
  }

  /**
   * Crashes node `id`: the simulator drops it, and its memory log store loses unsynced writes; a
   * {@link PersistingKvApplier} keeps what it persisted, another applier is lost unless
   * `loseApplied: false`.
   */
  crash(id: NodeId, options: { loseApplied?: boolean } = {}): void {
    this.sim.crash(nodeName(id));
    this.nodes.delete(id);
    const store = this.stores.get(id);
    if (store instanceof MemoryRaftLogStore) store.crash();
    const applier = this.appliers.get(id);
    if (applier instanceof PersistingKvApplier) this.appliers.set(id, applier.afterCrash());
    else if (options.loseApplied !== false) this.appliers.delete(id);
  }

  /** Restarts a crashed node. */
  restart(id: NodeId): void {
    this.sim.restart(nodeName(id));
  }

  /** Runs until every listed node applied the same state as the leader and `check` holds. */
  async awaitConverged(
    ids: readonly NodeId[],
    check: (kv: KvApplier) => boolean,
    maxMs = 30_000,
  ): Promise<void> {
    const ok = await this.sim.runUntil(
      () => {
        const prints = ids.map((id) => this.appliers.get(id));
        if (prints.some((a) => a === undefined || !check(a))) return false;
        const first = prints[0]!.fingerprint();
        return prints.every((a) => a!.fingerprint() === first);
      },
      { maxMs },
    );
    if (!ok) {
      const states = ids.map(
        (id) => `${id}: applied ${this.appliers.get(id)?.applied} keys ${this.appliers.get(id)?.kv.size}`,
      );
      throw new Error(`not converged within ${maxMs} ms (${states.join('; ')})`);
    }
  }

  /**
   * Runs the simulator until `promise` settles (or `maxMs` pass) and returns its outcome: the
   * way to await a node's call whose answer needs simulated time.
   */
  async settle<T>(promise: Promise<T>, maxMs = 30_000): Promise<T> {
    let done = false;
    const tracked = promise.finally(() => {
      done = true;
    });
    tracked.catch(() => {});
    await this.sim.runUntil(() => done, { maxMs });
    if (!done) throw new Error(`not settled within ${maxMs} ms`);
    return tracked;
  }

  /** Throws when a node stopped on a storage or apply failure (a bug in a test run). */
  checkHealthy(): void {
    for (const [id, node] of this.nodes) {
      if (node.error !== undefined)
        throw new Error(`node ${id} failed: ${String(node.error)}`, { cause: node.error });
    }
  }

  /**
   * Writes `key` through the current leader (running the simulator until one is known) and waits
   * until that leader applied it. `propose` only promises that the core took the proposal: a
   * leader deposed before the entry committed loses it, so a write not applied within two seconds
   * is proposed again (applying a put twice changes nothing).
   */
  async put(key: string, value: string): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const leader = this.leader() ?? (await this.awaitLeader());
      try {
        await leader.propose(kvPut(key, value));
        const applied = await this.sim.runUntil(() => this.appliers.get(leader.id)?.kv.get(key) === value, {
          maxMs: 2_000,
        });
        if (applied) return;
      } catch {
        await this.sim.runFor(200);
      }
    }
    throw new Error(`could not write ${key}`);
  }
}
