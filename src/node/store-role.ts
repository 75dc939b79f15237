import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Clock,
  describeError,
  type Logger,
  Rng,
  type Storage,
  systemClock,
  type TimerHandle,
} from '../core/index.js';
import { NodeLogFiles } from '../raft/log/node-files.js';
import { SegmentLogStore } from '../raft/log/segment-log.js';
import type { NodeId } from '../raft/types.js';
import { LevelStorage } from '../storage/level.js';
import type { StoreClient, Member as StoreMember } from '../store/api.js';
import { StoreError } from '../store/errors.js';
import { type EtcdServer, serveEtcd } from '../store/etcd/server.js';
import { defaultEngines } from '../store/server/engines.js';
import { StoreServer } from '../store/server/store-server.js';
import type { AgentConfig } from './config.js';
import { type MembershipRole, runningMembership } from './membership-role.js';
import { formatHostPort } from './ports.js';
import type { Role, RoleContext, RoleHealth, RoleState } from './role.js';
import { clientRootKeys } from './root-keys.js';
import {
  bootstrapPlan,
  encodeAdvert,
  formatMemberId,
  learnersToAdd,
  memberIdFromName,
  STORE_STATE_KEY,
  type StorePeer,
  storePeers,
} from './store-bootstrap.js';
import type { StoreMemberJson, StoreStatusJson } from './store-http.js';

/** The mux channel of the gossip transport the store speaks on (membership's is 1). */
export const STORE_CHANNEL = 8;

/** Timings of the role's background work. */
export const STORE_ROLE_TIMINGS = Object.freeze({
  /** How often the leader looks for live store nodes to add as learners, ms. */
  learnerScanMs: 1_000,
});

/**
 * A `StoreClient` that forwards every call to the member once it exists: the etcd API binds its
 * port before the member starts (the member publishes the bound port as its client URL), and
 * answers etcd's `stopped` until then.
 */
function deferredClient(get: () => StoreClient | undefined): StoreClient {
  return new Proxy({} as StoreClient, {
    get: (_target, key) => {
      return (...args: unknown[]) => {
        const client = get();
        if (client === undefined) {
          if (key === 'close') return Promise.resolve();
          return Promise.reject(new StoreError('stopped'));
        }
        const method = (client as unknown as Record<PropertyKey, unknown>)[key];
        if (typeof method !== 'function') return Promise.reject(new StoreError('notCapable'));
        return (method as (...a: unknown[]) => unknown).apply(client, args);
      };
    },
  });
}

/**
 * The `store` role: a member of the consistent store on this node.
 *
 * It builds on the membership role: raft and the leader-forwarded calls ride a channel of the
 * gossip transport (sealed when a keyring is set), and peers are found through the member list (see
 * `store-bootstrap.ts`). Data lives under `<dataDir>/store/`: the raft log in `wal/` (segment files,
 * fsync with group commit), the MVCC state in `db/` (LevelDB). It serves the etcd v3 API on
 * `bind.etcdPort`. On loopback that API needs no credentials; bound anywhere else, every call must
 * carry a capability token minted from `security.tokenRootKeys`, and the role refuses to start
 * without those keys.
 */
export class StoreRole implements Role {
  readonly name = 'store' as const;
  private state: RoleState = 'stopped';
  private detail: string | undefined;
  private server: StoreServer | undefined;
  private etcd: EtcdServer | undefined;
  private storage: Storage | undefined;
  private logStore: SegmentLogStore | undefined;
  private membership: MembershipRole | undefined;
  private scanTimer: TimerHandle | undefined;
  private adding: Promise<void> | undefined;
  private logger: Logger | undefined;
  private etcdAddress = '';
  private advertised: string | undefined;
  private readonly clock: Clock;

  constructor(
    private readonly config: AgentConfig,
    options: { clock?: Clock } = {},
  ) {
    this.clock = options.clock ?? systemClock;
  }

  /** The running store (the in-process client of this member), or undefined. */
  get store(): StoreServer | undefined {
    return this.state === 'running' ? this.server : undefined;
  }

  /** The port the etcd API listens on (the real one when configured as 0), once running. */
  get etcdPort(): number | undefined {
    return this.etcd?.port;
  }

  async start(ctx: RoleContext): Promise<void> {
    this.state = 'starting';
    this.logger = ctx.logger;
    let running: ReturnType<typeof runningMembership>;
    try {
      running = runningMembership(ctx.started, 'store');
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
    const { role: membership, mux } = running;
    this.membership = membership;
    const auth = this.authOptions();
    const id = memberIdFromName(ctx.name);
    const dir = join(ctx.config.dataDir, 'store');
    await mkdir(join(dir, 'wal'), { recursive: true });
    await mkdir(join(dir, 'db'), { recursive: true });
    const host = this.config.advertiseHost ?? this.config.bind.host;
    try {
      const storage = await LevelStorage.open(join(dir, 'db'));
      this.storage = storage;
      this.logStore = await SegmentLogStore.open({
        files: await NodeLogFiles.open(join(dir, 'wal')),
        logger: ctx.logger,
      });
      const fresh = await this.isFresh(this.logStore);
      const plan = bootstrapPlan(ctx.name, this.config.store.initialCluster);
      const bootstrap =
        fresh && plan.kind === 'bootstrap'
          ? { voters: plan.voters.map((v) => v.id), learners: [] }
          : undefined;
      const members: StoreMember[] =
        plan.kind === 'bootstrap'
          ? plan.voters.map((v) => ({
              id: v.id,
              name: v.name,
              peerUrls: [],
              clientUrls: [],
              isLearner: false,
            }))
          : [];
      this.etcd = await serveEtcd({
        store: deferredClient(() => this.server),
        host: this.config.bind.host,
        port: this.config.bind.etcdPort,
        ...(auth === undefined ? {} : { auth }),
        logger: ctx.logger,
      });
      this.server = await StoreServer.start(
        {
          id,
          name: ctx.name,
          transport: mux.channel(STORE_CHANNEL),
          resolve: (peer) => this.resolve(peer),
          clock: this.clock,
          rng: Rng.fromSeed(`${ctx.identity.nodeId}:${this.clock.now()}`),
          storage,
          logStore: this.logStore,
          ...(bootstrap === undefined ? {} : { bootstrap, members }),
          peerUrls: membership.gossipAddress === undefined ? [] : [`http://${membership.gossipAddress}`],
          clientUrls: [`http://${formatHostPort(host, this.etcd.port)}`],
          tickMs: this.config.store.tickMs,
          scheduleSends: setImmediate,
          electionTicks: this.config.store.electionTicks,
          logger: ctx.logger,
        },
        defaultEngines(),
      );
      this.etcdAddress = formatHostPort(host, this.etcd.port);
      await this.publishAdvert();
      ctx.logger.info(
        {
          id: formatMemberId(id),
          etcd: this.etcd.endpoint,
          bootstrap: bootstrap !== undefined,
          plan: plan.kind,
          auth: auth !== undefined,
        },
        'store started',
      );
    } catch (err) {
      this.state = 'failed';
      this.detail = describeError(err);
      await this.release();
      throw err;
    }
    this.state = 'running';
    this.scheduleScan();
  }

  async stop(): Promise<void> {
    this.state = 'stopping';
    if (this.scanTimer !== undefined) this.clock.cancel(this.scanTimer);
    await this.adding;
    await this.release();
    this.state = 'stopped';
  }

  health(): RoleHealth {
    if (this.state !== 'running' || this.server === undefined) {
      return { state: this.state, ...(this.detail === undefined ? {} : { detail: this.detail }) };
    }
    const s = this.server.localStatus();
    return {
      state: 'running',
      detail:
        s.leader === 0 ? 'no leader' : s.leader === s.id ? 'leader' : s.isLearner ? 'learner' : 'follower',
      counts: {
        term: s.term,
        commit: s.commit,
        applied: s.applied,
        revision: s.revision,
        members: s.members.length,
      },
    };
  }

  /** What `GET /v1/store/status` shows, or undefined while the store does not run. */
  statusJson(): StoreStatusJson | undefined {
    const server = this.store;
    if (server === undefined) return undefined;
    const s = server.localStatus();
    const byId = new Map(s.members.map((m) => [m.id, m]));
    const json = (m: StoreMember): StoreMemberJson => ({
      id: formatMemberId(m.id),
      name: m.name,
      clientUrls: [...m.clientUrls],
      peerUrls: [...m.peerUrls],
      isLearner: m.isLearner,
    });
    const leader = byId.get(s.leader);
    return {
      id: formatMemberId(s.id),
      name: s.name,
      leader: s.leader === 0 ? '' : formatMemberId(s.leader),
      leaderName: leader?.name ?? '',
      role:
        s.leader === 0 ? 'no leader' : s.leader === s.id ? 'leader' : s.isLearner ? 'learner' : 'follower',
      term: s.term,
      commitIndex: s.commit,
      appliedIndex: s.applied,
      revision: s.revision,
      compactRevision: s.compactRevision,
      members: s.members.filter((m) => !m.isLearner).map(json),
      learners: s.members.filter((m) => m.isLearner).map(json),
    };
  }

  /** Token verification for the etcd API, or undefined on loopback without keys. */
  private authOptions(): Parameters<typeof serveEtcd>[0]['auth'] {
    const keys = clientRootKeys(this.config, 'the etcd API');
    return keys === undefined ? undefined : { rootKeys: keys, clock: this.clock };
  }

  /** A node that never stored raft state: it may bootstrap. */
  private async isFresh(log: SegmentLogStore): Promise<boolean> {
    const loaded = await log.load();
    return loaded.snapshot === undefined && loaded.entries.length === 0 && loaded.hardState.term === 0;
  }

  /** Where member `id` receives raft traffic: its gossip address, from the member list. */
  private resolve(id: NodeId): string | undefined {
    return this.peers().find((p) => p.id === id)?.address;
  }

  private peers(): StorePeer[] {
    const node = this.membership?.membership;
    return node === undefined ? [] : storePeers(node.members());
  }

  private scheduleScan(): void {
    if (this.state !== 'running') return;
    this.scanTimer = this.clock.setTimer(STORE_ROLE_TIMINGS.learnerScanMs, () => {
      this.adding = this.addLearners()
        .catch((err: unknown) =>
          this.logger?.warn({ err: describeError(err) }, 'adding a learner failed; will retry'),
        )
        .finally(() => {
          this.adding = undefined;
          this.scheduleScan();
        });
    });
  }

  /**
   * Publishes (or refreshes) this node's advert: its member id, etcd address and the group it
   * belongs to (none until a bootstrap or the leader's conf change made it a member).
   */
  private async publishAdvert(): Promise<void> {
    const server = this.server;
    const node = this.membership?.membership;
    if (server === undefined || node === undefined) return;
    const s = server.localStatus();
    const inGroup = s.members.some((m) => m.id === s.id);
    // The local status, not status(): that one measures the database's files (a stat of each),
    // and this runs every second.
    const clusterId = inGroup ? s.clusterId : 0;
    const text = encodeAdvert({
      id: formatMemberId(s.id),
      etcd: this.etcdAddress,
      cluster: clusterId === 0 ? '' : formatMemberId(clusterId),
    });
    if (text === this.advertised) return;
    node.local.set(STORE_STATE_KEY, text);
    this.advertised = text;
  }

  /** On the leader: adds one live store node that is not in the group yet, as a learner. */
  private async addLearners(): Promise<void> {
    const server = this.store;
    if (server === undefined) return;
    await this.publishAdvert();
    const s = server.localStatus();
    if (s.leader !== s.id) return;
    // One learner at a time (etcd's maxLearners): the next waits until this one is promoted.
    if (s.members.some((m) => m.isLearner)) return;
    const group = new Set(s.members.map((m) => m.id));
    for (const peer of learnersToAdd(this.peers(), group)) {
      this.logger?.info({ name: peer.name, id: formatMemberId(peer.id) }, 'adding a store node as a learner');
      await server.addLearner({
        id: peer.id,
        name: peer.name,
        peerUrls: [`http://${peer.address}`],
        clientUrls: [`http://${peer.etcd}`],
        isLearner: true,
      });
    }
  }

  private async release(): Promise<void> {
    const errors: string[] = [];
    const step = async (what: string, fn: (() => Promise<unknown>) | undefined) => {
      if (fn === undefined) return;
      try {
        await fn();
      } catch (err) {
        errors.push(`${what}: ${describeError(err)}`);
      }
    };
    const { etcd, server, logStore, storage } = this;
    this.etcd = undefined;
    this.server = undefined;
    this.logStore = undefined;
    this.storage = undefined;
    await step('etcd API', etcd && (() => etcd.close()));
    await step('store', server && (() => server.stop()));
    await step('raft log', logStore && (() => logStore.close()));
    await step('storage', storage && (() => storage.close()));
    if (errors.length > 0) this.logger?.warn({ errors }, 'the store stopped with errors');
  }
}
