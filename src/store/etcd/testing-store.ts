import type { Clock, TimerHandle } from '../../core/clock.js';
import { CairnError } from '../../core/errors.js';
import { ManualClock } from '../../core/manual-clock.js';
import type {
  CallOptions,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
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
  WatchEvent,
  WatchRequest,
  WatchResponse,
} from '../api.js';
import { StoreError } from '../errors.js';
import { inRange, keyText, TestingMvcc } from './testing-mvcc.js';

/**
 * An in-memory, single-member {@link StoreClient} for tests of the layers above the store (the
 * etcd gRPC server, the client contract suite, etcdctl e2e tests). It is a TEST DOUBLE: no raft,
 * no durability, no limits worth the name, linear scans everywhere. It follows etcd's observable
 * behaviour closely enough to drive every RPC: revisions and versions, ranges at past revisions,
 * txns, compaction and its errors, watches from a revision (created first, compacted responses,
 * filters, prev_kv, progress), leases with TTLs on the injected clock, members (added members
 * stay unstarted, as an added etcd member does until its process joins), and Status.
 *
 * Backpressure: a watch's `onResponse` may return `false`; the watch then stops delivering until
 * its `resume()` is called, and catches up from the log (or gets the compacted response if the
 * revisions it missed were compacted meanwhile), as the MVCC watch hub does.
 */

/** Options of {@link TestingStore}. */
export interface TestingStoreOptions {
  /** Time for lease expiry and progress notifications; default a fresh ManualClock. */
  readonly clock?: Clock;
  readonly clusterId?: number;
  readonly memberId?: number;
  readonly name?: string;
  readonly clientUrls?: readonly string[];
  readonly peerUrls?: readonly string[];
  /** Smallest lease TTL in seconds (etcd's is 2 with default timeouts); smaller grants are raised. */
  readonly minLeaseTtl?: number;
  /** Idle time between progress notifications of watches created with progressNotify (etcd: 10 min). */
  readonly progressNotifyIntervalMs?: number;
  /** The version Status reports. */
  readonly version?: string;
}

/** etcd's largest lease TTL in seconds. */
const MAX_LEASE_TTL = 9_000_000_000;

interface TestWatch {
  readonly id: number;
  readonly req: WatchRequest;
  readonly start: string;
  readonly end: string | undefined;
  readonly onResponse: (res: WatchResponse) => unknown;
  nextRevision: number;
  paused: boolean;
  canceled: boolean;
  sentSinceTick: boolean;
  timer: TimerHandle | undefined;
}

interface TestLease {
  readonly id: number;
  readonly ttl: number;
  expiresAtMs: number;
  timer: TimerHandle;
}

/** A watch of the testing store; `resume()` restarts delivery after `onResponse` returned false. */
export interface TestingWatch extends Watch {
  resume(): void;
}

/** See the module comment. */
export class TestingStore implements StoreClient {
  readonly clock: Clock;
  private readonly mvcc: TestingMvcc;
  private readonly watches = new Map<number, TestWatch>();
  private readonly leaseTable = new Map<number, TestLease>();
  private readonly memberTable = new Map<number, Member>();
  private nextWatchId = 1;
  private nextId = 0x1000;
  private closed = false;
  readonly clusterId: number;
  readonly memberId: number;
  private readonly minLeaseTtl: number;
  private readonly progressMs: number;
  private readonly version: string;

  constructor(options: TestingStoreOptions = {}) {
    this.clock = options.clock ?? new ManualClock();
    this.clusterId = options.clusterId ?? 0x1c1e5e1d;
    this.memberId = options.memberId ?? 0x5eed;
    this.minLeaseTtl = options.minLeaseTtl ?? 2;
    this.progressMs = options.progressNotifyIntervalMs ?? 600_000;
    this.version = options.version ?? '3.4.0';
    this.mvcc = new TestingMvcc(
      (revision) => this.header(revision),
      (id) => this.leaseTable.has(id),
    );
    this.memberTable.set(this.memberId, {
      id: this.memberId,
      name: options.name ?? 'default',
      peerUrls: [...(options.peerUrls ?? ['http://localhost:2380'])],
      clientUrls: [...(options.clientUrls ?? ['http://localhost:2379'])],
      isLearner: false,
    });
  }

  private header(revision = this.mvcc.revision): ResponseHeader {
    return { clusterId: this.clusterId, memberId: this.memberId, revision, raftTerm: 2 };
  }

  private check(options?: CallOptions): void {
    if (this.closed) throw new StoreError('stopped');
    if (options?.signal?.aborted === true) throw new CairnError('CANCELLED', 'the call was cancelled');
  }

  /** Runs a write and delivers what it changed to the watches. */
  private write<T>(fn: () => T): T {
    const before = this.mvcc.revision;
    const out = fn();
    if (this.mvcc.revision !== before) for (const w of [...this.watches.values()]) this.pump(w);
    return out;
  }

  async range(req: RangeRequest, options?: CallOptions): Promise<RangeResponse> {
    this.check(options);
    return { header: this.header(), ...this.mvcc.range(req) };
  }

  async put(req: PutRequest, options?: CallOptions): Promise<PutResponse> {
    this.check(options);
    const out = this.write(() => this.mvcc.put(req));
    return { header: this.header(), ...out };
  }

  async deleteRange(req: DeleteRangeRequest, options?: CallOptions): Promise<DeleteRangeResponse> {
    this.check(options);
    const out = this.write(() => this.mvcc.deleteRange(req));
    return { header: this.header(), ...out };
  }

  async txn(req: TxnRequest, options?: CallOptions): Promise<TxnResponse> {
    this.check(options);
    const out = this.write(() => this.mvcc.txn(req));
    return { header: this.header(), ...out };
  }

  async compact(req: CompactionRequest, options?: CallOptions): Promise<CompactionResponse> {
    this.check(options);
    this.mvcc.compact(req.revision);
    return { header: this.header() };
  }

  // ------------------------------------------------------------------ watch

  async watch(req: WatchRequest, onResponse: (res: WatchResponse) => void): Promise<TestingWatch> {
    this.check();
    const id = this.nextWatchId++;
    const start = keyText(req.key);
    const end = req.rangeEnd === undefined ? undefined : keyText(req.rangeEnd);
    const w: TestWatch = {
      id,
      req,
      start: start === '\0' && end === '\0' ? '' : start,
      end,
      onResponse: onResponse as (res: WatchResponse) => unknown,
      nextRevision:
        req.startRevision !== undefined && req.startRevision > 0 ? req.startRevision : this.mvcc.revision + 1,
      paused: false,
      canceled: false,
      sentSinceTick: false,
      timer: undefined,
    };
    this.watches.set(id, w);
    this.send(w, { header: this.header(), watchId: id, events: [], created: true });
    if (req.progressNotify === true) this.armProgress(w);
    this.pump(w);
    return {
      watchId: id,
      requestProgress: () => this.progress(w),
      cancel: async () => this.drop(w),
      resume: () => {
        if (w.canceled || !w.paused) return;
        w.paused = false;
        this.pump(w);
      },
    };
  }

  private send(w: TestWatch, res: WatchResponse): void {
    if (w.canceled) return;
    if (w.onResponse(res) === false) w.paused = true;
  }

  private drop(w: TestWatch): void {
    w.canceled = true;
    if (w.timer !== undefined) this.clock.cancel(w.timer);
    this.watches.delete(w.id);
  }

  /** Delivers every revision the watch has not seen yet, unless paused. */
  private pump(w: TestWatch): void {
    while (!w.canceled && !w.paused && w.nextRevision <= this.mvcc.revision) {
      if (w.nextRevision < this.mvcc.compactRevision) {
        const compactRevision = this.mvcc.compactRevision;
        this.send(w, { header: this.header(), watchId: w.id, events: [], canceled: true, compactRevision });
        this.drop(w);
        return;
      }
      const entry = this.mvcc.eventsAt(w.nextRevision);
      w.nextRevision++;
      if (entry === undefined) continue;
      const events = entry.events.filter((e) => this.wanted(w, e)).map((e) => this.shape(w, e));
      if (events.length === 0) continue;
      w.sentSinceTick = true;
      this.send(w, { header: this.header(), watchId: w.id, events });
    }
  }

  private wanted(w: TestWatch, e: WatchEvent): boolean {
    if (w.req.filters?.includes(e.type === 'put' ? 'noPut' : 'noDelete') === true) return false;
    const key = keyText(e.kv.key);
    return w.end === undefined ? key === w.start : inRange(key, w.start, w.end);
  }

  private shape(w: TestWatch, e: WatchEvent): WatchEvent {
    if (w.req.prevKv === true || e.prevKv === undefined) return e;
    return { type: e.type, kv: e.kv };
  }

  private progress(w: TestWatch): void {
    // Progress means "everything up to header.revision was delivered": only a caught-up watch says it.
    if (w.canceled || w.paused || w.nextRevision <= this.mvcc.revision) return;
    this.send(w, { header: this.header(), watchId: w.id, events: [], progressNotify: true });
  }

  private armProgress(w: TestWatch): void {
    w.timer = this.clock.setTimer(this.progressMs, () => {
      if (w.canceled) return;
      if (!w.sentSinceTick) this.progress(w);
      w.sentSinceTick = false;
      this.armProgress(w);
    });
  }

  // ------------------------------------------------------------------ leases

  private newId(): number {
    this.nextId += 0x10001;
    return this.nextId;
  }

  private scheduleExpiry(lease: TestLease): void {
    this.clock.cancel(lease.timer);
    lease.timer = this.clock.setTimer(lease.expiresAtMs - this.clock.now(), () => this.revoke(lease.id));
  }

  private revoke(id: number): void {
    const lease = this.leaseTable.get(id);
    if (lease === undefined) return;
    this.clock.cancel(lease.timer);
    this.leaseTable.delete(id);
    const keys = this.mvcc.keysWithLease(id);
    if (keys.length > 0) this.write(() => this.mvcc.deleteKeys(keys));
  }

  async leaseGrant(ttl: number, id?: number, options?: CallOptions): Promise<LeaseGrantResponse> {
    this.check(options);
    if (ttl > MAX_LEASE_TTL) throw new StoreError('leaseTTLTooLarge');
    const leaseId = id !== undefined && id !== 0 ? id : this.newId();
    if (this.leaseTable.has(leaseId)) throw new StoreError('leaseExist');
    const granted = Math.max(ttl, this.minLeaseTtl);
    const lease: TestLease = {
      id: leaseId,
      ttl: granted,
      expiresAtMs: this.clock.now() + granted * 1000,
      timer: this.clock.setTimer(0, () => {}),
    };
    this.leaseTable.set(leaseId, lease);
    this.scheduleExpiry(lease);
    return { header: this.header(), id: leaseId, ttl: granted };
  }

  async leaseRevoke(id: number, options?: CallOptions): Promise<{ header: ResponseHeader }> {
    this.check(options);
    if (!this.leaseTable.has(id)) throw new StoreError('leaseNotFound');
    this.revoke(id);
    return { header: this.header() };
  }

  async leaseKeepAlive(id: number, options?: CallOptions) {
    this.check(options);
    const lease = this.leaseTable.get(id);
    if (lease === undefined) return { header: this.header(), id, ttl: 0 };
    lease.expiresAtMs = this.clock.now() + lease.ttl * 1000;
    this.scheduleExpiry(lease);
    return { header: this.header(), id, ttl: lease.ttl };
  }

  async leaseTimeToLive(id: number, keys?: boolean, options?: CallOptions): Promise<LeaseTimeToLiveResponse> {
    this.check(options);
    const lease = this.leaseTable.get(id);
    if (lease === undefined) return { header: this.header(), id, ttl: -1, grantedTtl: 0, keys: [] };
    const remaining = Math.max(0, Math.floor((lease.expiresAtMs - this.clock.now()) / 1000));
    const attached = keys === true ? this.mvcc.keysWithLease(id).map((k) => Buffer.from(k, 'latin1')) : [];
    return { header: this.header(), id, ttl: remaining, grantedTtl: lease.ttl, keys: attached };
  }

  async leaseLeases(options?: CallOptions) {
    this.check(options);
    return { header: this.header(), leases: [...this.leaseTable.keys()] };
  }

  // ------------------------------------------------------------------ members

  private members(): Member[] {
    return [...this.memberTable.values()];
  }

  /** Marks an added member as started and caught up (its process "joined"), so it can be promoted. */
  startMember(id: number, name: string, clientUrls: readonly string[]): void {
    const m = this.memberTable.get(id);
    if (m === undefined) throw new StoreError('memberNotFound');
    this.memberTable.set(id, { ...m, name, clientUrls: [...clientUrls] });
  }

  async memberList(options?: CallOptions): Promise<MemberListResponse> {
    this.check(options);
    return { header: this.header(), members: this.members() };
  }

  async memberAdd(peerUrls: readonly string[], isLearner: boolean, options?: CallOptions) {
    this.check(options);
    if (peerUrls.length === 0 || !peerUrls.every(validUrl)) throw new StoreError('memberBadURLs');
    const taken = new Set(this.members().flatMap((m) => m.peerUrls));
    if (peerUrls.some((u) => taken.has(u))) throw new StoreError('peerURLExist');
    const all = this.members();
    if (isLearner) {
      if (all.filter((m) => m.isLearner).length >= 1) throw new StoreError('tooManyLearners');
    } else {
      // etcd's strict reconfiguration check: the started voters must stay a quorum.
      const voters = all.filter((m) => !m.isLearner);
      const started = voters.filter((m) => m.name !== '').length;
      if (started < Math.floor((voters.length + 1) / 2) + 1) throw new StoreError('memberNotEnoughStarted');
    }
    const member: Member = { id: this.newId(), name: '', peerUrls: [...peerUrls], clientUrls: [], isLearner };
    this.memberTable.set(member.id, member);
    this.mvcc.writes++;
    return { header: this.header(), member, members: this.members() };
  }

  async memberRemove(id: number, options?: CallOptions) {
    this.check(options);
    const m = this.memberTable.get(id);
    if (m === undefined) throw new StoreError('memberNotFound');
    if (!m.isLearner && m.name !== '') {
      const voters = this.members().filter((x) => !x.isLearner);
      const startedAfter = voters.filter((x) => x.name !== '' && x.id !== id).length;
      if (startedAfter < Math.floor((voters.length - 1) / 2) + 1)
        throw new StoreError('memberNotEnoughStarted');
    }
    this.memberTable.delete(id);
    this.mvcc.writes++;
    return { header: this.header(), members: this.members() };
  }

  async memberPromote(id: number, options?: CallOptions) {
    this.check(options);
    const m = this.memberTable.get(id);
    if (m === undefined) throw new StoreError('memberNotFound');
    if (!m.isLearner) throw new StoreError('memberNotLearner');
    if (m.name === '') throw new StoreError('learnerNotReady');
    this.memberTable.set(id, { ...m, isLearner: false });
    this.mvcc.writes++;
    return { header: this.header(), members: this.members() };
  }

  // ------------------------------------------------------------------ maintenance

  async status(options?: CallOptions): Promise<StatusResponse> {
    this.check(options);
    return {
      header: this.header(),
      version: this.version,
      dbSize: this.mvcc.sizeBytes(),
      leader: this.memberId,
      raftIndex: this.mvcc.writes + 1,
      raftTerm: 2,
      raftAppliedIndex: this.mvcc.writes + 1,
      isLearner: false,
      errors: [],
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.watches.values()]) this.drop(w);
    for (const lease of this.leaseTable.values()) this.clock.cancel(lease.timer);
    this.leaseTable.clear();
  }
}

function validUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.port !== '' && u.pathname === '/';
  } catch {
    return false;
  }
}
