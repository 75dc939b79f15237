import type { Seed } from '../../core/index.js';
import { SegmentLogStore } from '../../raft/log/index.js';
import { Simulator } from '../../sim/index.js';
import type { Member } from '../api.js';
import { defaultEngines } from './engines.js';
import type { StoreServerOptions } from './options.js';
import { StoreServer } from './store-server.js';

/**
 * Test harness: store members on the simulator as in production: the real RaftNode, MvccStore
 * and Lessor, the durable segment log on the node's simulated files and the MVCC store on its
 * SimDisk, peers on the simulated network. A crash (`sim.crash`) loses unsynced writes of both;
 * a restart reopens them and starts the member again (its bootstrap is ignored: the log has state).
 */

/** Options of {@link SimStoreCluster}. */
export interface SimStoreClusterOptions {
  readonly seed: Seed;
  /** Bootstrap voters, ids 1..voters; default 3. */
  readonly voters?: number;
  /** Members created later with {@link SimStoreCluster.join} get ids after the voters. */
  readonly maxMembers?: number;
  /** Overrides for every member. */
  readonly member?: Partial<StoreServerOptions>;
  /**
   * Latencies of each member's log files, virtual ms; default 0.2 write, 1 sync, so a crash can
   * catch unsynced log bytes (and tear them), not only unsynced disk batches.
   */
  readonly files?: { readonly writeLatencyMs?: number; readonly syncLatencyMs?: number };
}

/** Simulator node name of member `id`. */
export function memberName(id: number): string {
  return `s${id}`;
}

/** A store cluster on the simulator. */
export class SimStoreCluster {
  readonly sim: Simulator;
  readonly voters: number[];
  private readonly servers = new Map<number, StoreServer>();
  private readonly logs = new Map<number, SegmentLogStore>();

  constructor(private readonly options: SimStoreClusterOptions) {
    this.sim = new Simulator({ seed: options.seed });
    this.voters = Array.from({ length: options.voters ?? 3 }, (_, i) => i + 1);
    for (const id of this.voters) this.add(id, true);
  }

  /** The bootstrap members' shared metadata. */
  bootstrapMembers(): Member[] {
    return this.voters.map((id) => this.memberOf(id, false));
  }

  /** The metadata member `id` has (or will have) in the table. */
  memberOf(id: number, isLearner: boolean): Member {
    return {
      id,
      name: memberName(id),
      peerUrls: [`http://10.0.0.${id}:7946`],
      clientUrls: [`http://10.0.0.${id}:2379`],
      isLearner,
    };
  }

  /** Creates member `id` (not a bootstrap voter): it waits for the leader to reach it. */
  join(id: number): void {
    this.add(id, false);
  }

  private add(id: number, bootstrap: boolean): void {
    const self = this.memberOf(id, false);
    this.sim.addNode(
      memberName(id),
      async (ctx) => {
        const logStore = await SegmentLogStore.open({ files: ctx.files });
        this.logs.set(id, logStore);
        const server = await StoreServer.start(
          {
            id,
            name: self.name,
            transport: ctx.transport(),
            resolve: (peer) => this.resolve(peer),
            clock: ctx.clock,
            rng: ctx.rng,
            storage: ctx.disk,
            logStore,
            peerUrls: self.peerUrls,
            clientUrls: self.clientUrls,
            ...(bootstrap
              ? { bootstrap: { voters: this.voters, learners: [] }, members: this.bootstrapMembers() }
              : {}),
            logger: ctx.logger,
            ...this.options.member,
          },
          defaultEngines(),
        );
        this.servers.set(id, server);
        return {
          server,
          stop: async () => {
            await server.stop();
            await logStore.close();
          },
        };
      },
      { files: { writeLatencyMs: 0.2, syncLatencyMs: 1, ...this.options.files } },
    );
  }

  private resolve(id: number): string | undefined {
    const name = memberName(id);
    return this.sim.nodeNames().includes(name) ? this.sim.addressOf(name) : undefined;
  }

  /** Member `id`'s server when it is up. */
  server(id: number): StoreServer | undefined {
    const name = memberName(id);
    if (!this.sim.nodeNames().includes(name) || this.sim.nodeState(name) !== 'up') return undefined;
    return this.sim.handle<{ server: StoreServer }>(name)?.server;
  }

  /** Member `id`'s server; throws when it is down. */
  up(id: number): StoreServer {
    const s = this.server(id);
    if (s === undefined) throw new Error(`member ${id} is not up`);
    return s;
  }

  /** Ids of the members that are up. */
  upIds(): number[] {
    return [...this.servers.keys()].filter((id) => this.server(id) !== undefined).sort((a, b) => a - b);
  }

  /** The up member that leads the highest term, if any. */
  leader(): StoreServer | undefined {
    let best: StoreServer | undefined;
    for (const id of this.upIds()) {
      const s = this.up(id).localStatus();
      if (s.leader === id && (best === undefined || s.term > best.localStatus().term)) best = this.up(id);
    }
    return best;
  }

  /** Runs until every up member follows one leader; returns it. */
  async awaitLeader(maxMs = 20_000): Promise<StoreServer> {
    const ok = await this.sim.runUntil(
      () => {
        const l = this.leader();
        return l !== undefined && this.upIds().every((id) => this.up(id).localStatus().leader === l.id);
      },
      { maxMs },
    );
    if (!ok) throw new Error(`no leader followed by every up member within ${maxMs} ms`);
    return this.leader()!;
  }

  /** Runs until every member in `ids` has applied through the leader's commit index. */
  async awaitApplied(ids: readonly number[], maxMs = 20_000): Promise<void> {
    const ok = await this.sim.runUntil(
      () => {
        const l = this.leader();
        if (l === undefined) return false;
        const commit = l.localStatus().commit;
        return ids.every((id) => (this.server(id)?.localStatus().applied ?? -1) >= commit);
      },
      { maxMs },
    );
    if (!ok) throw new Error(`members ${ids.join(',')} did not catch up within ${maxMs} ms`);
  }

  /** Runs the simulator until `p` settles (or `maxMs` of virtual time pass); returns its outcome. */
  async run<T>(p: Promise<T>, maxMs = 30_000): Promise<T> {
    let done = false;
    const settled = p.finally(() => {
      done = true;
    });
    settled.catch(() => {});
    await this.sim.runUntil(() => done, { maxMs });
    if (!done) throw new Error(`a call did not settle within ${maxMs} ms of virtual time`);
    return settled;
  }

  /** Crashes member `id`: unsynced writes of its log and disk are lost. */
  crash(id: number): void {
    this.sim.crash(memberName(id));
  }

  /** Restarts member `id` from its files and disk; runs until it is up again. */
  async restart(id: number, maxMs = 10_000): Promise<StoreServer> {
    const before = this.servers.get(id);
    this.sim.restart(memberName(id));
    const ok = await this.sim.runUntil(
      () => {
        const s = this.server(id);
        return s !== undefined && s !== before;
      },
      { maxMs },
    );
    if (!ok) throw new Error(`member ${id} did not restart within ${maxMs} ms`);
    return this.up(id);
  }

  /** Stops every member that is up (graceful). */
  async stopAll(): Promise<void> {
    for (const id of this.upIds()) await this.run(this.sim.stopNode(memberName(id)));
  }
}
