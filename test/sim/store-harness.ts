import { CairnError } from '../../src/core/index.js';
import { SegmentLogStore } from '../../src/raft/log/segment-log.js';
import { RaftNode } from '../../src/raft/node/raft-node.js';
import type { Entry, Snapshot } from '../../src/raft/types.js';
import { defaultNodeAddress, type SimNodeContext, type Simulator } from '../../src/sim/index.js';
import type { Member } from '../../src/store/api.js';
import { Lessor, MvccStore } from '../../src/store/mvcc/index.js';
import type { StoreEngines, StoreServerOptions } from '../../src/store/server/options.js';
import type { MvccPort, RaftApplierPort, RaftPort } from '../../src/store/server/ports.js';
import { StoreServer } from '../../src/store/server/store-server.js';
import type { Address } from '../../src/transport/types.js';
import { LogView, ObservedLogStore, StoreSafety, stateHash } from './store-safety.js';
import { WatchChecker } from './store-watch.js';

/**
 * The store swarm's cluster: every member is a simulator node running the production
 * StoreServer (RaftNode on the segment log over the node's simulated files, MvccStore on the
 * node's SimDisk, the Lessor) on the simulated network. A crash loses unsynced writes (the
 * simulator may tear the last one); a restart reopens the same disk and files.
 *
 * The harness watches each member through thin wrappers (see store-safety.ts): the durable log
 * (what was written, committed and acknowledged), the raft applier (entries applied, and the
 * MVCC state after each apply) and the raft status (leaders per term).
 *
 * Seeds: `CAIRN_SEED=<s>` runs one seed; `CAIRN_LONG=1` runs the long sweep (see `sweep.ts`).
 */

/** Raft and store settings of every member (short timers: more elections per virtual second). */
export interface StoreClusterConfig {
  /** Initial voters; default 3. */
  readonly voters: number;
  readonly tickMs: number;
  readonly electionTicks: number;
  /** Applied entries between snapshots (small: snapshots and compaction happen in every run). */
  readonly snapshotEntries: number;
  /** Entries kept below a snapshot (small: lagging members catch up by snapshot transfer). */
  readonly snapshotCatchUpEntries: number;
  /**
   * Members' raft drivers send (and gather an I/O phase's proposals) on a zero-delay timer of
   * their clock, as the agent does on `setImmediate` (`RaftNodeOptions.scheduleSends`); off, at
   * once. Default off.
   */
  readonly scheduleSends?: boolean;
  /**
   * Members' raft drivers are given no `persist` (the applier's other calls only), so their
   * compaction snapshots carry the store's full image, the path of appliers without their own
   * durable state. Default off: metadata-only snapshots, images built at send time.
   */
  readonly fullImageSnapshots?: boolean;
}

export const DEFAULT_CLUSTER: StoreClusterConfig = {
  voters: 3,
  tickMs: 50,
  electionTicks: 10,
  snapshotEntries: 40,
  snapshotCatchUpEntries: 10,
};

/** One member's slot: kept across its restarts. */
export interface MemberSlot {
  readonly name: string;
  readonly id: number;
  readonly address: Address;
  readonly view: LogView;
  /** The incarnation whose objects are current; older ones are ignored. */
  incarnation: number;
  /** Set once removed from the cluster (its node is then stopped for good). */
  removed: boolean;
  server: StoreServer | undefined;
  raft: RaftPort | undefined;
  mvcc: MvccPort | undefined;
}

/** What a node's factory returns. */
interface MemberHandle {
  readonly server: StoreServer;
  stop(): Promise<void>;
}

export class StoreCluster {
  readonly safety = new StoreSafety();
  readonly watches = new WatchChecker(this.safety);
  /** Snapshot work seen through the members' appliers (every incarnation). */
  readonly snapshotCounts = {
    /** Compaction snapshots made durable through `persist` (metadata-only). */
    persisted: 0,
    /** Images built (`snapshot()`): for sends, or full-image compaction snapshots. */
    images: 0,
    /** Snapshots installed (`restore()`): a member caught up by a snapshot. */
    restores: 0,
  };
  readonly slots = new Map<string, MemberSlot>();
  private readonly addresses = new Map<number, Address>();
  private readonly bootstrapMembers: Member[];

  constructor(
    readonly sim: Simulator,
    readonly config: StoreClusterConfig = DEFAULT_CLUSTER,
  ) {
    const ids = Array.from({ length: config.voters }, (_, i) => i + 1);
    this.bootstrapMembers = ids.map((id) => ({
      id,
      name: `n${id}`,
      peerUrls: [peerUrl(`n${id}`)],
      clientUrls: [],
      isLearner: false,
    }));
    for (const id of ids) this.addMember(`n${id}`, id, true);
  }

  /** Slots of members not removed, in creation order. */
  members(): MemberSlot[] {
    return [...this.slots.values()].filter((s) => !s.removed);
  }

  /** The running server of `slot`, or undefined while it is down or starting. */
  serverOf(slot: MemberSlot): StoreServer | undefined {
    if (this.sim.nodeState(slot.name) === 'down') return undefined;
    return slot.server;
  }

  /** A name for the next member's node. */
  nextName(): string {
    return `n${this.sim.nodeNames().length + 1}`;
  }

  /** The node address the next `addNode` will get. */
  nextAddress(): Address {
    return defaultNodeAddress(this.sim.nodeNames().length);
  }

  /**
   * Starts a simulator node for member `id` (added to the cluster already, or a bootstrap voter).
   */
  addMember(name: string, id: number, bootstrap: boolean): MemberSlot {
    const address = this.nextAddress();
    this.addresses.set(id, address);
    const slot: MemberSlot = {
      name,
      id,
      address,
      view: new LogView(name, this.safety),
      incarnation: 0,
      removed: false,
      server: undefined,
      raft: undefined,
      mvcc: undefined,
    };
    this.slots.set(name, slot);
    const at = this.sim.addNode(name, (ctx) => this.startMember(slot, ctx, bootstrap));
    if (at !== address)
      throw new CairnError('INVALID_ARGUMENT', `${name}: address ${at}, expected ${address}`);
    return slot;
  }

  /** Checks that run after simulator events: leaders per term by status, and kept violations. */
  check(): string | undefined {
    for (const slot of this.slots.values()) {
      const raft = this.serverOf(slot) === undefined ? undefined : slot.raft;
      if (raft === undefined) continue;
      const s = raft.status();
      if (s.role === 'leader') this.safety.leader(s.term, slot.id, slot.name);
    }
    return this.safety.violations[0];
  }

  private async startMember(
    slot: MemberSlot,
    ctx: SimNodeContext,
    bootstrap: boolean,
  ): Promise<MemberHandle> {
    slot.incarnation = ctx.incarnation;
    slot.server = undefined;
    slot.raft = undefined;
    slot.mvcc = undefined;
    const live = () => slot.incarnation === ctx.incarnation && this.sim.nodeState(slot.name) !== 'down';
    try {
      const segments = await SegmentLogStore.open({ files: ctx.files });
      const logStore = new ObservedLogStore(segments, slot.view, live);
      const options: StoreServerOptions = {
        id: slot.id,
        name: slot.name,
        transport: ctx.transport(),
        resolve: (peer) => this.addresses.get(peer),
        clock: ctx.clock,
        rng: ctx.rng,
        storage: ctx.disk,
        logStore,
        ...(bootstrap ? { bootstrap: { voters: this.bootstrapMembers.map((m) => m.id), learners: [] } } : {}),
        members: this.bootstrapMembers,
        peerUrls: [peerUrl(slot.name)],
        tickMs: this.config.tickMs,
        electionTicks: this.config.electionTicks,
        snapshotEntries: this.config.snapshotEntries,
      };
      const server = await StoreServer.start(options, this.engines(slot, live));
      if (live()) {
        slot.server = server;
        await this.openWatch(slot, server, ctx);
      }
      return {
        server,
        stop: async () => {
          await server.stop();
          await logStore.close();
        },
      };
    } catch (err) {
      if (live()) this.safety.violation(`${slot.name} failed to start: ${String(err)}`);
      throw err;
    }
  }

  /**
   * Opens this incarnation's watch on the checked keys ([a, d)): from now, or from the oldest
   * revision the member still holds (a catch-up from history). A learner refuses: no watch.
   */
  private async openWatch(slot: MemberSlot, server: StoreServer, ctx: SimNodeContext): Promise<void> {
    const fromHistory = ctx.rng.child('watch').chance(0.5);
    const startRevision = fromHistory ? server.localStatus().compactRevision + 1 : 0;
    const log = this.watches.open(slot.name, startRevision);
    try {
      await server.watch(
        { key: new TextEncoder().encode('a'), rangeEnd: new TextEncoder().encode('d'), startRevision },
        log.onResponse,
      );
    } catch {
      // A learner (or a stopping member) serves no watch.
    }
  }

  /**
   * The production engines (as `defaultEngines`, plus `snapshotCatchUpEntries`), each wrapped so
   * the safety checks see the member's applies, MVCC states and leadership.
   */
  private engines(slot: MemberSlot, live: () => boolean): StoreEngines {
    const safety = this.safety;
    const counts = this.snapshotCounts;
    const record = async (mvcc: MvccPort) => {
      const { revision, hash } = await stateHash(mvcc);
      if (live()) safety.appliedState(slot.name, mvcc.appliedIndex, revision, hash);
    };
    return {
      openMvcc: async (storage, header) => {
        const mvcc = await MvccStore.open(storage, { header });
        if (live()) slot.mvcc = mvcc;
        await record(mvcc);
        return mvcc;
      },
      newLessor: () => new Lessor(),
      startRaft: async ({ options, transport, applier }) => {
        const observed: RaftApplierPort = {
          apply: async (entries: readonly Entry[]) => {
            if (live()) safety.appliedEntries(slot.name, entries);
            await applier.apply(entries);
            if (slot.mvcc !== undefined && live()) await record(slot.mvcc);
          },
          snapshot: () => {
            counts.images++;
            return applier.snapshot();
          },
          restore: async (snapshot: Snapshot) => {
            counts.restores++;
            await applier.restore(snapshot);
            if (slot.mvcc !== undefined && live()) await record(slot.mvcc);
          },
          appliedIndex: () => applier.appliedIndex(),
          ...(applier.persist === undefined || this.config.fullImageSnapshots === true
            ? {}
            : {
                persist: (index: number) => {
                  counts.persisted++;
                  return applier.persist!(index);
                },
              }),
        };
        const node = await RaftNode.start({
          id: options.id,
          transport,
          resolve: options.resolve,
          clock: options.clock,
          rng: options.rng.child('raft'),
          logStore: options.logStore,
          applier: observed,
          ...(options.bootstrap === undefined ? {} : { bootstrap: options.bootstrap }),
          tickMs: this.config.tickMs,
          electionTicks: this.config.electionTicks,
          snapshotEntries: this.config.snapshotEntries,
          snapshotCatchUpEntries: this.config.snapshotCatchUpEntries,
          ...(this.config.scheduleSends === true
            ? { scheduleSends: (run: () => void) => void options.clock.setTimer(0, run) }
            : {}),
        });
        node.onStatusChange((s) => {
          if (s.role === 'leader' && live()) safety.leader(s.term, slot.id, slot.name);
        });
        const port: RaftPort = {
          get id() {
            return node.id;
          },
          propose: (data, signal) => node.propose(data, signal),
          readIndex: (signal) => node.readIndex(signal),
          proposeConfChange: (cc, signal) => node.proposeConfChange(cc, signal),
          status: () => node.status(),
          currentTerm: () => node.currentTerm(),
          leader: () => node.leader(),
          isLearner: (id) => node.isLearner(id),
          onStatusChange: (listener) => node.onStatusChange((s) => listener(s)),
          stop: () => node.stop(),
        };
        if (live()) slot.raft = port;
        return port;
      },
    };
  }
}

/** A member's peer URL (what `member add` takes). */
export function peerUrl(name: string): string {
  return `http://${name}.sim:2380`;
}
