import { type Clock, type Logger, silentLogger, sleep, withLimits } from '../../core/index.js';
import { RpcClient, RpcServer } from '../../rpc/index.js';
import { TransportMux } from '../../transport/mux.js';
import type { Transport } from '../../transport/types.js';
import type {
  CallOptions,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  HashKVResponse,
  LeaseGrantResponse,
  LeaseTimeToLiveResponse,
  Member,
  MemberListResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  StatusResponse,
  StoreClient,
  TxnRequest,
  TxnResponse,
  Watch,
  WatchRequest,
  WatchResponse,
} from '../api.js';
import type { StoreCommand } from '../command.js';
import { StoreError } from '../errors.js';
import { encodeMemberAttributes, encodeMemberUpdate, StoreApplier } from './applier.js';
import { dbSizeOf } from './db-size.js';
import {
  errorName,
  forwardedError,
  LeaseKeepAlive,
  LeaseTimeToLive,
  MemberPromote,
  ReconfigCheck,
} from './forward.js';
import { clusterIdOf, memberIdOf, RequestIds } from './ids.js';
import { LeaseKeeper } from './lease-keeper.js';
import { DEFAULT_LIMITS, STORE_VERSION, type StoreServerLimits } from './limits.js';
import { encodeMemberContext, MemberTable } from './members.js';
import type { StoreEngines, StoreServerOptions } from './options.js';
import {
  type ApplyOutcome,
  type MvccPort,
  type RaftPort,
  raftCode,
  resultBody,
  resultError,
} from './ports.js';
import { PrefixedStorage } from './prefixed-storage.js';
import { cancelled, Proposer } from './proposer.js';
import { type ReconfigChange, reconfigRefusal } from './reconfig-check.js';
import { allSerializable, hasWrites } from './responses.js';
import { Waiters } from './waiters.js';

/** Mux protocol of raft messages inside the store's transport. */
export const RAFT_CHANNEL = 1;
/** Mux protocol of the calls a follower forwards to the leader. */
export const FORWARD_CHANNEL = 2;
/** Storage prefix of the MVCC store's keys ('m'). */
const MVCC_PREFIX = Uint8Array.of(0x6d);
/** Storage prefix of the server's own keys ('s'). */
const SERVER_PREFIX = Uint8Array.of(0x73);

/** What `cairn store status` shows of one member. */
export interface StoreLocalStatus {
  readonly id: number;
  readonly name: string;
  /** The cluster id, 0 until this member belongs to a group. */
  readonly clusterId: number;
  readonly leader: number;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  /** Index of the latest snapshot in the raft log (0 when none). */
  readonly snapshotIndex: number;
  readonly revision: number;
  readonly compactRevision: number;
  readonly isLearner: boolean;
  readonly members: readonly Member[];
  readonly learners: readonly number[];
}

/**
 * The embedded consistent store: etcd's EtcdServer in Cairn's shape. It implements
 * {@link StoreClient} over a raft driver and an MVCC state machine.
 *
 * - Writes (put, delete, txn, compact, lease grant/revoke) are proposed through raft as
 *   commands with a request id; the member that proposed one answers its client when it applies
 *   it, with a header `{clusterId, memberId, revision, raftTerm}`.
 * - Reads are linearizable by default (a ReadIndex round shared by concurrent reads, then the
 *   local MVCC store); serializable reads are answered at once by any member, learners included.
 * - Watches run on the local MVCC hub of the member the client is connected to.
 * - Leases expire on the leader (see {@link LeaseKeeper}); keep-alive and time-to-live are
 *   answered by the leader, a follower forwards them over the store's rpc channel.
 * - Members are raft's configuration plus metadata carried in conf change contexts.
 *
 * Contract: every method rejects with a {@link StoreError} named after etcd's error, or with
 * CairnError `CANCELLED` when the caller's signal aborts (a write may still apply). After
 * {@link stop}, calls reject with `stopped`.
 */
export class StoreServer implements StoreClient {
  readonly id: number;
  readonly limits: StoreServerLimits;
  private raftPort: RaftPort | undefined;
  private readonly waiters: Waiters<ApplyOutcome>;
  private readonly proposer: Proposer;
  private readonly keeper: LeaseKeeper;
  private readonly watches = new Set<Watch>();
  private readonly rpcServer: RpcServer;
  private readonly rpcClient: RpcClient;
  private readonly unsubscribe: (() => void)[] = [];
  private stopped = false;
  /** The election timeout, ms: how recently a peer must have been heard to count as active. */
  private readonly electionMs: number;
  /** The applier RaftNode drives. */
  readonly applier: StoreApplier;

  private constructor(
    private readonly options: StoreServerOptions,
    private readonly mvcc: MvccPort,
    private readonly members: MemberTable,
    private readonly clock: Clock,
    private readonly logger: Logger,
    engines: StoreEngines,
    private readonly forwardTransport: Transport,
  ) {
    this.id = options.id;
    this.limits = withLimits(DEFAULT_LIMITS, options.limits ?? {});
    this.waiters = new Waiters(this.limits.maxPendingProposals);
    const ids = new RequestIds(options.id, this.clock.now());
    this.requestIds = ids;
    this.proposer = new Proposer(this.lazyRaft(), this.waiters, ids, this.clock, this.limits);
    const electionMs = (options.tickMs ?? 100) * (options.electionTicks ?? 10);
    this.electionMs = electionMs;
    this.keeper = new LeaseKeeper(
      engines.newLessor(mvcc),
      (cmd) => this.proposer.propose(cmd),
      this.clock,
      electionMs,
      this.limits,
      logger,
    );
    this.applier = new StoreApplier(
      mvcc,
      members,
      this.waiters,
      {
        leaseGranted: (id, ttl) => this.keeper.leaseGranted(id, ttl),
        leaseRevoked: (id) => this.keeper.leaseRevoked(id),
        leaseCheckpointed: (cps) => this.keeper.leaseCheckpointed(cps),
        leasesReset: (leases) => this.keeper.leasesReset(leases),
        membersChanged: () => {},
      },
      logger,
      this.limits,
    );
    this.rpcServer = new RpcServer({ clock: this.clock, logger })
      .handle(LeaseKeepAlive, async ({ id }) => {
        try {
          return { ttl: await this.leaderKeepAlive(id) };
        } catch (err) {
          return { ttl: 0, ...errorName(err) };
        }
      })
      .handle(LeaseTimeToLive, async ({ id, keys }) => {
        try {
          const r = await this.leaderTimeToLive(id, keys);
          return { ttl: r.ttl, grantedTtl: r.grantedTtl, keys: [...r.keys] };
        } catch (err) {
          return { ttl: -1, grantedTtl: 0, keys: [], ...errorName(err) };
        }
      })
      .handle(MemberPromote, async ({ id }) => {
        try {
          await this.leaderPromote(id);
          return {};
        } catch (err) {
          return errorName(err);
        }
      })
      .handle(ReconfigCheck, async (req) => {
        try {
          this.leaderReconfigCheck(
            req.kind === 'add' ? { kind: 'add', isLearner: req.isLearner } : { kind: 'remove', id: req.id },
          );
          return {};
        } catch (err) {
          return errorName(err);
        }
      });
    this.keeper.reset(mvcc.leases());
    this.rpcServer.listen(forwardTransport);
    this.rpcClient = new RpcClient(forwardTransport, {
      clock: this.clock,
      rng: options.rng.child('store-forward'),
      logger,
    });
  }

  private readonly requestIds: RequestIds;
  /** The MVCC store's and the server's views of the Storage (their byte counts make dbSize). */
  private storageViews: readonly PrefixedStorage[] = [];

  /**
   * Starts a member: opens the MVCC store and the member table on `storage`, starts the raft
   * driver on a channel of `transport`, and (on a bootstrap member's first start) seeds the
   * member table from `members`.
   *
   * @param options - see {@link StoreServerOptions}
   * @param engines - how to build raft, MVCC and the lessor (default: the real ones)
   * @example
   * ```ts
   * const server = await StoreServer.start({ id: 1, name: 'a', transport, resolve, clock, rng,
   *   storage, logStore, bootstrap: { voters: [1, 2, 3], learners: [] }, members }, engines);
   * await server.put({ key: utf8('k'), value: utf8('v') });
   * ```
   */
  static async start(options: StoreServerOptions, engines: StoreEngines): Promise<StoreServer> {
    const logger = options.logger ?? silentLogger();
    const limits = withLimits(DEFAULT_LIMITS, options.limits ?? {});
    // Headers are filled by the MVCC store through this callback; `server` is set just below.
    let server: StoreServer | undefined;
    const header = () => ({
      clusterId: server?.clusterId() ?? 0,
      memberId: options.id,
      raftTerm: server?.raftPort?.currentTerm() ?? 0,
    });
    const mvccView = new PrefixedStorage(options.storage, MVCC_PREFIX);
    const serverView = new PrefixedStorage(options.storage, SERVER_PREFIX);
    const mvcc = await engines.openMvcc(mvccView, header);
    const members = new MemberTable(serverView, limits);
    await members.load();
    if (options.bootstrap !== undefined) {
      const clusterId = clusterIdOf(options.bootstrap.voters, options.clusterName);
      const given = new Map((options.members ?? []).map((m) => [m.id, m]));
      const seed = [...options.bootstrap.voters, ...options.bootstrap.learners].map(
        (id): Member =>
          given.get(id) ?? {
            id,
            name: id === options.id ? options.name : '',
            peerUrls: id === options.id ? [...(options.peerUrls ?? [])] : [],
            clientUrls: id === options.id ? [...(options.clientUrls ?? [])] : [],
            isLearner: options.bootstrap?.learners.includes(id) ?? false,
          },
      );
      await members.bootstrap(clusterId, seed);
    }
    const mux = new TransportMux(options.transport, { logger });
    const raftTransport = mux.channel(RAFT_CHANNEL);
    const forwardTransport = mux.channel(FORWARD_CHANNEL);
    server = new StoreServer(options, mvcc, members, options.clock, logger, engines, forwardTransport);
    server.storageViews = [mvccView, serverView];
    server.raftPort = await engines.startRaft({ options, transport: raftTransport, applier: server.applier });
    server.attach(raftTransport);
    return server;
  }

  // ------------------------------------------------------------------ KV

  async range(req: RangeRequest, options?: CallOptions): Promise<RangeResponse> {
    this.checkRunning();
    if (req.key.length === 0) throw new StoreError('emptyKey');
    if (!req.serializable) {
      this.refuseOnLearner();
      await this.proposer.readBarrier(options?.signal);
    }
    return this.mvcc.range(req);
  }

  // put and deleteRange are not async: they return write's promise as it is, one promise and its
  // microtasks fewer per write.
  put(req: PutRequest, options?: CallOptions): Promise<PutResponse> {
    if (req.key.length === 0) return Promise.reject(new StoreError('emptyKey'));
    return this.write({ t: 'put', req }, options) as Promise<PutResponse>;
  }

  deleteRange(req: DeleteRangeRequest, options?: CallOptions): Promise<DeleteRangeResponse> {
    if (req.key.length === 0) return Promise.reject(new StoreError('emptyKey'));
    return this.write({ t: 'del', req }, options) as Promise<DeleteRangeResponse>;
  }

  /**
   * A txn with a put or a delete goes through the log. A read-only one is evaluated locally, as
   * etcd does: after the read barrier unless every range in it is serializable (no log entry).
   */
  async txn(req: TxnRequest, options?: CallOptions): Promise<TxnResponse> {
    if (hasWrites(req)) return (await this.write({ t: 'txn', req }, options)) as TxnResponse;
    this.checkRunning();
    this.refuseOnLearner();
    if (!allSerializable(req)) await this.proposer.readBarrier(options?.signal);
    return this.mvcc.readTxn(req);
  }

  async compact(req: CompactionRequest, options?: CallOptions): Promise<CompactionResponse> {
    const out = await this.propose({ t: 'compact', revision: req.revision }, options);
    const physical = (out.result as { physical?: Promise<void> }).physical;
    if (req.physical && physical !== undefined) await physical;
    return { header: this.header(out.revision), ...resultBody(out.result) } as CompactionResponse;
  }

  // ------------------------------------------------------------------ watch

  /**
   * Watches on this member's hub. `onResponse` returning exactly `false` pauses the watch until
   * the returned object's `resume()` (the gRPC layer's flow control).
   */
  async watch(
    req: WatchRequest,
    onResponse: (res: WatchResponse) => unknown,
  ): Promise<Watch & { resume(): void }> {
    this.checkRunning();
    this.refuseOnLearner();
    if (req.key.length === 0) throw new StoreError('emptyKey');
    if (this.watches.size >= this.limits.maxWatchers) throw new StoreError('tooManyRequests');
    const inner = this.mvcc.watch(req, onResponse);
    const watches = this.watches;
    const outer: Watch & { resume(): void } = {
      watchId: inner.watchId,
      requestProgress: () => inner.requestProgress(),
      resume: () => inner.resume(),
      cancel: async () => {
        watches.delete(outer);
        await inner.cancel();
      },
    };
    watches.add(outer);
    return outer;
  }

  // ------------------------------------------------------------------ leases

  async leaseGrant(ttl: number, id?: number, options?: CallOptions): Promise<LeaseGrantResponse> {
    const leaseId = id === undefined || id === 0 ? this.requestIds.next() : id;
    const out = await this.propose({ t: 'leaseGrant', id: leaseId, ttl }, options);
    const r = resultBody(out.result) as { id?: number; ttl?: number };
    return { header: this.header(out.revision), id: r.id ?? leaseId, ttl: r.ttl ?? ttl };
  }

  async leaseRevoke(id: number, options?: CallOptions): Promise<{ header: ResponseHeader }> {
    const out = await this.propose({ t: 'leaseRevoke', id }, options);
    return { header: this.header(out.revision) };
  }

  async leaseKeepAlive(
    id: number,
    options?: CallOptions,
  ): Promise<{ header: ResponseHeader; id: number; ttl: number }> {
    this.checkRunning();
    this.refuseOnLearner();
    const ttl = await this.onLeader(
      () => this.leaderKeepAlive(id),
      async (address) => {
        const r = await this.rpcClient.call(address, LeaseKeepAlive, { id }, this.forwardOptions(options));
        const err = forwardedError(r.err);
        if (err !== undefined) throw err;
        return r.ttl;
      },
      options?.signal,
    );
    return { header: this.header(this.mvcc.revision), id, ttl };
  }

  async leaseTimeToLive(id: number, keys = false, options?: CallOptions): Promise<LeaseTimeToLiveResponse> {
    this.checkRunning();
    this.refuseOnLearner();
    const r = await this.onLeader(
      () => this.leaderTimeToLive(id, keys),
      async (address) => {
        const res = await this.rpcClient.call(
          address,
          LeaseTimeToLive,
          { id, keys },
          this.forwardOptions(options),
        );
        const err = forwardedError(res.err);
        if (err !== undefined) throw err;
        return res;
      },
      options?.signal,
    );
    return {
      header: this.header(this.mvcc.revision),
      id,
      ttl: r.ttl,
      grantedTtl: r.grantedTtl,
      keys: r.keys,
    };
  }

  async leaseLeases(_options?: CallOptions): Promise<{ header: ResponseHeader; leases: readonly number[] }> {
    this.checkRunning();
    this.refuseOnLearner();
    const leases = this.mvcc
      .leases()
      .map((l) => l.id)
      .sort((a, b) => a - b);
    return { header: this.header(this.mvcc.revision), leases };
  }

  // ------------------------------------------------------------------ members

  async memberList(_options?: CallOptions): Promise<MemberListResponse> {
    this.checkRunning();
    return { header: this.header(this.mvcc.revision), members: this.members.list() };
  }

  async memberAdd(
    peerUrls: readonly string[],
    isLearner: boolean,
    options?: CallOptions,
  ): Promise<{ header: ResponseHeader; member: Member; members: readonly Member[] }> {
    this.checkRunning();
    this.refuseOnLearner();
    checkUrls(peerUrls, this.limits);
    // etcd's order: URLs parse, then the strict reconfiguration check, then the table's checks.
    await this.checkReconfig({ kind: 'add', isLearner }, options);
    // The id is derived from the URLs: a taken URL is the error to report, not the id.
    this.refuseTakenPeerUrls(peerUrls);
    const id = memberIdOf(peerUrls, this.options.clusterName ?? 'cairn', this.clock.now());
    const member = await this.addMember({ id, name: '', peerUrls, clientUrls: [], isLearner }, options);
    return { header: this.header(this.mvcc.revision), member, members: this.members.list() };
  }

  /**
   * Adds `member` (its id, name and URLs as given) as a learner through a conf change; resolves
   * once the change is applied on this member. The agent's store role calls it for every live
   * store node that membership reports and the group lacks (ids derived from node names); the
   * learner catches up from the leader and is promoted with {@link memberPromote}.
   *
   * Refusals, as memberAdd's: `memberExist` (the id is a member), `peerURLExist` (a member has
   * one of its peer URLs), `memberBadURLs` (a URL that does not parse, or over the limits; an
   * empty list is accepted: Cairn's peers speak over the transport), `tooManyLearners`,
   * `invalidArgument` (id 0 or over 2^53, a name over the limit), `notSupportedForLearner` when
   * called on a learner; `noLeader`/`timeout` as writes.
   */
  async addLearner(member: Member, options?: CallOptions): Promise<void> {
    this.checkRunning();
    this.refuseOnLearner();
    if (!Number.isSafeInteger(member.id) || member.id <= 0)
      throw new StoreError('invalidArgument', 'member id');
    if (member.name.length > this.limits.maxMemberFieldLength) {
      throw new StoreError('invalidArgument', 'member name too long');
    }
    if (member.peerUrls.length > 0) checkUrls(member.peerUrls, this.limits);
    checkUrlBounds(member.clientUrls, this.limits);
    if (this.members.get(member.id) !== undefined) throw new StoreError('memberExist');
    await this.checkReconfig({ kind: 'add', isLearner: true }, options);
    await this.addMember({ ...member, isLearner: true }, options);
  }

  private refuseTakenPeerUrls(peerUrls: readonly string[]): void {
    const taken = new Set(this.members.list().flatMap((m) => m.peerUrls));
    if (peerUrls.some((u) => taken.has(u))) throw new StoreError('peerURLExist');
  }

  /** The checks and the conf change shared by memberAdd and addLearner. */
  private async addMember(member: Member, options?: CallOptions): Promise<Member> {
    if (this.members.get(member.id) !== undefined) throw new StoreError('memberExist');
    this.refuseTakenPeerUrls(member.peerUrls);
    if (member.isLearner && this.members.learnerCount() >= this.limits.maxLearners) {
      throw new StoreError('tooManyLearners');
    }
    const context = encodeMemberContext({
      name: member.name,
      peerUrls: member.peerUrls,
      clientUrls: member.clientUrls,
      clusterId: this.clusterId(),
    });
    const type = member.isLearner ? 'addLearner' : 'addNode';
    await this.confChange({ type, nodeId: member.id, context }, options);
    return (
      this.members.get(member.id) ?? {
        ...member,
        peerUrls: [...member.peerUrls],
        clientUrls: [...member.clientUrls],
      }
    );
  }

  async memberRemove(
    id: number,
    options?: CallOptions,
  ): Promise<{ header: ResponseHeader; members: readonly Member[] }> {
    this.checkRunning();
    this.refuseOnLearner();
    if (this.members.get(id) === undefined) throw new StoreError('memberNotFound');
    await this.checkReconfig({ kind: 'remove', id }, options);
    await this.confChange({ type: 'removeNode', nodeId: id }, options);
    return { header: this.header(this.mvcc.revision), members: this.members.list() };
  }

  async memberPromote(
    id: number,
    options?: CallOptions,
  ): Promise<{ header: ResponseHeader; members: readonly Member[] }> {
    // Callable on any member, a learner included (the one being promoted, typically): the
    // leader decides, a non-leader forwards.
    this.checkRunning();
    await this.onLeader(
      () => this.leaderPromote(id, options?.signal),
      async (address) => {
        const r = await this.rpcClient.call(address, MemberPromote, { id }, this.forwardOptions(options));
        const err = forwardedError(r.err);
        if (err !== undefined) throw err;
        // The leader applied the change: a read barrier makes this member apply it too, so the
        // list answered below shows it (best effort: the promotion itself is done).
        await this.proposer.readBarrier(options?.signal).catch(() => {});
      },
      options?.signal,
    );
    return { header: this.header(this.mvcc.revision), members: this.members.list() };
  }

  // ------------------------------------------------------------------ status

  async status(_options?: CallOptions): Promise<StatusResponse> {
    this.checkRunning();
    const { dbSize, dbSizeInUse } = await dbSizeOf(this.options.storage, this.storageViews);
    const s = this.raft.status();
    return {
      header: this.header(this.mvcc.revision),
      version: STORE_VERSION,
      dbSize,
      dbSizeInUse,
      leader: s.lead,
      raftIndex: s.commit,
      raftTerm: s.term,
      raftAppliedIndex: s.appliedIndex,
      isLearner: this.isLearner(),
      errors: [],
    };
  }

  // ------------------------------------------------------------------ maintenance

  /**
   * etcd's MemberUpdate: replaces member `id`'s peer URLs through the log (every member applies
   * it); resolves once applied here. A member that publishes its own peer URLs (the agent's) sets
   * them back when it restarts with other ones: its configuration is where it listens.
   *
   * @throws StoreError `memberBadURLs`, `memberNotFound`, `peerURLExist` (another member has one
   *   of them), `notSupportedForLearner`, and the errors of a write
   */
  async memberUpdate(
    id: number,
    peerUrls: readonly string[],
    options?: CallOptions,
  ): Promise<{ header: ResponseHeader; members: readonly Member[] }> {
    this.checkRunning();
    this.refuseOnLearner();
    checkUrls(peerUrls, this.limits);
    if (this.members.get(id) === undefined) throw new StoreError('memberNotFound');
    const taken = new Set(
      this.members
        .list()
        .filter((m) => m.id !== id)
        .flatMap((m) => m.peerUrls),
    );
    if (peerUrls.some((u) => taken.has(u))) throw new StoreError('peerURLExist');
    const out = await this.propose({ t: 'member', data: encodeMemberUpdate({ id, peerUrls }) }, options);
    return { header: this.header(out.revision), members: this.members.list() };
  }

  /**
   * etcd's HashKV on this member (see MvccStore.hashKV): the same revision hashes the same on
   * every member, learners included.
   *
   * @throws StoreError `compacted`, `futureRev`, `notCapable` when the MVCC engine cannot hash
   */
  async hashKV(revision: number, _options?: CallOptions): Promise<HashKVResponse> {
    this.checkRunning();
    if (this.mvcc.hashKV === undefined) throw new StoreError('notCapable');
    const r = await this.mvcc.hashKV(revision);
    return { header: this.header(r.revision), hash: r.hash, compactRevision: r.compactRevision };
  }

  /**
   * etcd's MoveLeader: only the leader may be asked; it hands leadership to voter `targetId` and
   * resolves once it sees the target lead (at once when the target is itself).
   *
   * @throws StoreError `notLeader`, `badLeaderTransferee` (not a member, or a learner),
   *   `timeoutLeaderTransfer` (no handover within the request timeout), `notCapable` (a raft
   *   driver without transfers)
   */
  async moveLeader(targetId: number, options?: CallOptions): Promise<{ header: ResponseHeader }> {
    this.checkRunning();
    const raft = this.raft;
    if (raft.status().role !== 'leader') throw new StoreError('notLeader');
    const target = this.members.get(targetId);
    if (target === undefined || target.isLearner) throw new StoreError('badLeaderTransferee');
    if (targetId !== this.id) {
      if (raft.transferLeadership === undefined) throw new StoreError('notCapable');
      try {
        await raft.transferLeadership(targetId, options?.signal);
      } catch (err) {
        if (options?.signal?.aborted) throw cancelled();
        const code = raftCode(err);
        if (code === 'STOPPED') throw new StoreError('stopped');
        if (code === 'TIMEOUT' || code === 'NO_LEADER' || code === 'PROPOSAL_DROPPED')
          throw new StoreError('timeoutLeaderTransfer');
        throw err;
      }
    }
    return { header: this.header(this.mvcc.revision) };
  }

  /**
   * etcd's Defragment on this member: compacts the storage when it can (LevelStorage's
   * `compact()`, a LevelDB CompactRange over every key), which drops deleted and overwritten
   * data from disk; a storage without it (memory, the simulator's disk) has nothing to reclaim.
   */
  async defragment(_options?: CallOptions): Promise<{ header: ResponseHeader }> {
    this.checkRunning();
    const storage = this.options.storage as { compact?: () => Promise<void> };
    if (typeof storage.compact === 'function') await storage.compact();
    return { header: this.header(this.mvcc.revision) };
  }

  /**
   * etcd's Snapshot: this member's state-machine image, the one raft sends a lagging member
   * (MVCC records, leases and meta, plus the member table), as of the last applied entry. Not a
   * bolt file: `etcdctl snapshot save` stores it, `etcdctl snapshot restore` cannot read it.
   * Bounded by the MVCC store's `maxSnapshotBytes`.
   */
  async snapshot(_options?: CallOptions): Promise<{ header: ResponseHeader; image: Uint8Array }> {
    this.checkRunning();
    const image = await this.applier.snapshot();
    return { header: this.header(this.mvcc.revision), image };
  }

  /** What `cairn store status` shows: raft position, revision and the member table. */
  localStatus(): StoreLocalStatus {
    const s = this.raft.status();
    const members = this.members.list();
    return {
      id: this.id,
      name: this.options.name,
      clusterId: this.clusterId(),
      leader: s.lead,
      term: s.term,
      commit: s.commit,
      applied: s.appliedIndex,
      snapshotIndex: s.snapshotIndex ?? 0,
      revision: this.mvcc.revision,
      compactRevision: this.mvcc.compactRevision,
      isLearner: this.isLearner(),
      members,
      learners: members.filter((m) => m.isLearner).map((m) => m.id),
    };
  }

  /** Cancels the watches opened through this server; the server keeps running. */
  async close(): Promise<void> {
    for (const w of [...this.watches]) await w.cancel();
  }

  /** Stops the member: pending calls reject with `stopped`; storage and log stay open (the caller's). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const off of this.unsubscribe) off();
    this.keeper.stop();
    await this.close();
    this.waiters.failAll(new StoreError('stopped'));
    await this.raft.stop();
    this.rpcServer.close();
    await this.rpcClient.close();
    await this.forwardTransport.close();
    await this.mvcc.close();
  }

  // ------------------------------------------------------------------ internals

  private get raft(): RaftPort {
    if (this.raftPort === undefined) throw new StoreError('stopped', 'raft is not started');
    return this.raftPort;
  }

  /** A RaftPort that reaches the raft driver once it is attached (the proposer is built before). */
  private lazyRaft(): RaftPort {
    const self = () => this.raft;
    return {
      get id() {
        return self().id;
      },
      propose: (data, signal) => self().propose(data, signal),
      readIndex: (signal) => self().readIndex(signal),
      proposeConfChange: (cc, signal) => self().proposeConfChange(cc, signal),
      status: () => self().status(),
      currentTerm: () => self().currentTerm(),
      leader: () => self().leader(),
      isLearner: (id) => self().isLearner(id),
      onStatusChange: (listener) => self().onStatusChange(listener),
      stop: () => self().stop(),
    };
  }

  private attach(_raftTransport: Transport): void {
    const follow = () => {
      const s = this.raft.status();
      this.keeper.setLeader(s.role === 'leader');
    };
    this.unsubscribe.push(this.raft.onStatusChange(follow));
    follow();
    void this.publishAttributes();
  }

  /**
   * Publishes this member's name, client URLs and peer URLs once after start and again while the
   * applied member table differs from them (a member added by URL only, a bootstrap seed without URLs, a restart on
   * other ports), as etcd's publish. Retries until the table shows them or the member stops;
   * bounded by `publishAttempts` tries `publishRetryMs` apart.
   */
  private async publishAttributes(): Promise<void> {
    const attrs = {
      id: this.id,
      name: this.options.name,
      clientUrls: [...(this.options.clientUrls ?? [])],
      peerUrls: [...(this.options.peerUrls ?? [])],
    };
    const current = () => {
      const m = this.members.get(this.id);
      return (
        m !== undefined &&
        m.name === attrs.name &&
        sameList(m.clientUrls, attrs.clientUrls) &&
        (attrs.peerUrls.length === 0 || sameList(m.peerUrls, attrs.peerUrls))
      );
    };
    // A bootstrap member's table was seeded locally (peers seeded it with an empty name), so every
    // member publishes through the log once after start, then only until its table agrees.
    let published = false;
    for (let attempt = 0; attempt < this.limits.publishAttempts && !this.stopped; attempt++) {
      // Only a member of the group can publish; a joining node waits until the leader added it.
      if (this.members.get(this.id) !== undefined) {
        if (published && current()) return;
        try {
          if (!this.isLearner()) {
            await this.proposer.propose({ t: 'member', data: encodeMemberAttributes(attrs) });
            published = true;
            if (current()) return;
          }
        } catch (err) {
          this.logger.debug({ err: String(err) }, 'store: publishing member attributes failed; will retry');
        }
      }
      if (this.stopped) return;
      await sleep(this.clock, this.limits.publishRetryMs);
    }
  }

  private async propose(cmd: StoreCommand, options?: CallOptions): Promise<ApplyOutcome> {
    this.checkRunning();
    this.refuseOnLearner();
    const out = await this.proposer.propose(cmd, options?.signal);
    const err = resultError(out.result);
    if (err !== undefined) throw err;
    return out;
  }

  private async write(cmd: StoreCommand, options?: CallOptions): Promise<unknown> {
    const out = await this.propose(cmd, options);
    // The MVCC store fills headers through the callback it was opened with.
    return { header: this.header(out.revision), ...resultBody(out.result) };
  }

  private async confChange(
    cc: Parameters<RaftPort['proposeConfChange']>[0],
    options?: CallOptions,
  ): Promise<void> {
    const started = this.clock.now();
    for (;;) {
      try {
        await this.raft.proposeConfChange(cc, options?.signal);
        return;
      } catch (err) {
        if (options?.signal?.aborted) throw cancelled();
        const code = raftCode(err);
        if (code === 'STOPPED') throw new StoreError('stopped');
        if (code === 'TIMEOUT') throw new StoreError('timeout');
        const transient =
          code === 'NO_LEADER' || code === 'PROPOSAL_DROPPED' || code === 'CONF_CHANGE_PENDING';
        if (!transient) throw err;
        if (this.clock.now() - started >= this.limits.requestTimeoutMs) {
          throw new StoreError(code === 'NO_LEADER' ? 'noLeader' : 'timeout');
        }
        await sleep(this.clock, this.limits.proposeRetryMs, options?.signal).catch(() => {
          throw cancelled();
        });
      }
    }
  }

  /** Runs `local` on the leader, or `remote` with the leader's address; waits a while for one. */
  private async onLeader<T>(
    local: () => Promise<T>,
    remote: (address: string) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const started = this.clock.now();
    for (;;) {
      const s = this.raft.status();
      if (s.role === 'leader') return local();
      const address = s.lead === 0 ? undefined : this.options.resolve(s.lead);
      if (address !== undefined) {
        try {
          return await remote(address);
        } catch (err) {
          if (err instanceof StoreError) throw err;
          if (signal?.aborted) throw cancelled();
          this.logger.debug({ err: String(err), leader: s.lead }, 'store: forwarding to the leader failed');
        }
      }
      if (this.clock.now() - started >= this.limits.noLeaderWaitMs) {
        throw new StoreError(s.lead === 0 ? 'noLeader' : 'timeout');
      }
      await sleep(this.clock, this.limits.proposeRetryMs, signal).catch(() => {
        throw cancelled();
      });
    }
  }

  private forwardOptions(options?: CallOptions): { deadlineMs: number; signal?: AbortSignal } {
    const deadline = { deadlineMs: this.limits.forwardTimeoutMs };
    return options?.signal === undefined ? deadline : { ...deadline, signal: options.signal };
  }

  private async leaderKeepAlive(id: number): Promise<number> {
    if (!this.keeper.isLeader) throw new StoreError('notLeader');
    try {
      return this.keeper.renew(id);
    } catch (err) {
      // etcd answers a keep-alive of an unknown lease with TTL 0, not an error.
      if (err instanceof StoreError && err.etcd === 'leaseNotFound') return 0;
      throw err;
    }
  }

  private async leaderTimeToLive(
    id: number,
    keys: boolean,
  ): Promise<{ ttl: number; grantedTtl: number; keys: readonly Uint8Array[] }> {
    if (!this.keeper.isLeader) throw new StoreError('notLeader');
    // A grant committed but not yet applied here must be visible (etcd's waitAppliedIndex).
    await this.proposer.readBarrier();
    const lease = this.mvcc.lease(id);
    if (lease === undefined) return { ttl: -1, grantedTtl: 0, keys: [] };
    const remaining = this.keeper.timeToLive(id);
    return {
      ttl: remaining < 0 ? lease.ttl : remaining,
      grantedTtl: lease.ttl,
      keys: keys ? lease.keys : [],
    };
  }

  /**
   * etcd's strict reconfiguration check (see reconfig-check.ts), run by the leader: here when this
   * member leads, else forwarded to the leader.
   */
  private async checkReconfig(
    change: Exclude<ReconfigChange, { kind: 'promote' }>,
    options?: CallOptions,
  ): Promise<void> {
    await this.onLeader(
      async () => this.leaderReconfigCheck(change),
      async (address) => {
        const req =
          change.kind === 'add'
            ? { kind: 'add' as const, id: 0, isLearner: change.isLearner }
            : { kind: 'remove' as const, id: change.id, isLearner: false };
        const r = await this.rpcClient.call(address, ReconfigCheck, req, this.forwardOptions(options));
        const err = forwardedError(r.err);
        if (err !== undefined) throw err;
      },
      options?.signal,
    );
  }

  /** The check on the leader: a peer is active when heard from within an election timeout. */
  private leaderReconfigCheck(change: ReconfigChange): void {
    const s = this.raft.status();
    if (s.role !== 'leader') throw new StoreError('notLeader');
    const now = this.clock.now();
    const isActive = (id: number): boolean => {
      const heard = this.raft.lastHeardMs?.(id);
      if (heard !== undefined && now - heard <= this.electionMs) return true;
      return s.progress?.get(id)?.recentActive === true;
    };
    const refusal = reconfigRefusal({ self: this.id, members: this.members.list(), isActive }, change);
    if (refusal !== undefined) throw new StoreError(refusal);
  }

  /** etcd's isLearnerReady: the learner's match index within the margin of the leader's. */
  private async leaderPromote(id: number, signal?: AbortSignal): Promise<void> {
    const s = this.raft.status();
    if (s.role !== 'leader') throw new StoreError('notLeader');
    const m = this.members.get(id);
    if (m === undefined) throw new StoreError('memberNotFound');
    if (!m.isLearner) throw new StoreError('memberNotLearner');
    const leaderMatch = s.progress?.get(this.id)?.match ?? s.lastIndex;
    const learnerMatch = s.progress?.get(id)?.match ?? 0;
    if (learnerMatch * 100 < leaderMatch * this.limits.learnerReadyPercentHundredths) {
      throw new StoreError('learnerNotReady');
    }
    this.leaderReconfigCheck({ kind: 'promote', id });
    await this.confChange({ type: 'addNode', nodeId: id }, signal === undefined ? undefined : { signal });
  }

  private header(revision: number): ResponseHeader {
    return {
      clusterId: this.clusterId(),
      memberId: this.id,
      revision,
      raftTerm: this.raftPort?.currentTerm() ?? 0,
    };
  }

  private clusterId(): number {
    return this.members.clusterId;
  }

  private isLearner(): boolean {
    if (this.raftPort === undefined) return false;
    return this.raft.isLearner(this.id);
  }

  private refuseOnLearner(): void {
    if (this.isLearner()) throw new StoreError('notSupportedForLearner');
  }

  private checkRunning(): void {
    if (this.stopped) throw new StoreError('stopped');
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * etcd's URL check for member add: each must parse as an http(s) or unix URL with a host; Cairn
 * also accepts `cairn://host:port`, the agent's name for a peer reached over its transport.
 */
function checkUrls(urls: readonly string[], limits: StoreServerLimits): void {
  if (urls.length === 0) throw new StoreError('memberBadURLs');
  checkUrlBounds(urls, limits);
  for (const u of urls) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new StoreError('memberBadURLs');
    }
    const okScheme = ['http:', 'https:', 'unix:', 'unixs:', 'cairn:'].includes(parsed.protocol);
    if (!okScheme || parsed.host === '' || parsed.pathname.length > 1) throw new StoreError('memberBadURLs');
  }
}

/** Count and length bounds of a member's URL list (what the member table accepts). */
function checkUrlBounds(urls: readonly string[], limits: StoreServerLimits): void {
  if (urls.length > limits.maxMemberUrls) throw new StoreError('memberBadURLs');
  if (urls.some((u) => u.length > limits.maxMemberFieldLength)) throw new StoreError('memberBadURLs');
}
