import {
  assert,
  type BatchOp,
  CairnError,
  type Clock,
  compareBytes,
  type Storage,
  type TimerHandle,
  withLimits,
} from '../../core/index.js';
import { crc32c } from '../../raft/log/crc32c.js';
import type {
  CompactionResponse,
  DeleteRangeResponse,
  KeyValue,
  LeaseGrantResponse,
  PutResponse,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  TxnRequest,
  TxnResponse,
  WatchEvent,
  WatchRequest,
} from '../api.js';
import type { StoreCommand } from '../command.js';
import { StoreError } from '../errors.js';
import { checkCommand, checkRange } from './checks.js';
import { revString, TreeIndex } from './key-index.js';
import {
  decodeLease,
  decodeNumber,
  decodeRecord,
  encodeLease,
  encodeNumber,
  keyBytes,
  keyString,
  Layout,
  type Rev,
  recordToKv,
  type StoredRecord,
} from './layout.js';
import type { LeaseInfo } from './lessor.js';
import { DEFAULT_LIMITS, MAX_LEASE_TTL_SECONDS, type MvccLimits } from './limits.js';
import { rangeAt } from './range.js';
import { ImageWriter, readImage } from './snapshot.js';
import { type HubWatch, type RevEvent, type WatchConsumer, WatchHub } from './watch-hub.js';
import { type Change, checkRangeRevision, type TxnHost, WriteTxn } from './write-txn.js';

/** Options of {@link MvccStore.open}. */
export interface MvccOptions {
  /** Prefix of every Storage key the store writes (default none: the Storage is the store's). */
  prefix?: Uint8Array;
  /** Cluster, member and term for response headers (default zeros; the server glue fills them). */
  header?: () => { clusterId: number; memberId: number; raftTerm: number };
  /** etcd's minimum lease TTL in seconds: grants below it are raised (default 2, etcd's with 10 election ticks of 100 ms). */
  minLeaseTtl?: number;
  /** Clock for periodic watch progress notifications; without one, call `progressTick()` yourself. */
  clock?: Clock;
  /** Interval of progress notifications to idle watchers that asked for them, ms (default 600000, etcd's 10 minutes). */
  progressNotifyIntervalMs?: number;
  limits?: Partial<MvccLimits>;
}

/** What `apply` returns: etcd's response, or etcd's error for the request. */
export type StoreResult =
  | { readonly t: 'put'; readonly res: PutResponse }
  | { readonly t: 'del'; readonly res: DeleteRangeResponse }
  | { readonly t: 'txn'; readonly res: TxnResponse }
  /** `physical` resolves when the compacted records are gone from Storage. */
  | { readonly t: 'compact'; readonly res: CompactionResponse; readonly physical: Promise<void> }
  | { readonly t: 'leaseGrant'; readonly res: LeaseGrantResponse }
  | { readonly t: 'leaseRevoke'; readonly res: { header: ResponseHeader } }
  | { readonly t: 'leaseCheckpoint'; readonly res: { header: ResponseHeader } }
  | { readonly t: 'member'; readonly res: { header: ResponseHeader } }
  /** The index was already applied (a replay after restart): nothing happened. */
  | { readonly t: 'skipped' }
  | { readonly t: 'error'; readonly error: StoreError };

/** What {@link MvccStore.applyBatch} returns per command: its result and the revision right after it. */
export interface BatchResult {
  readonly result: StoreResult;
  readonly revision: number;
}

/** Commands whose effects {@link MvccStore.applyBatch} stages into one Storage batch. */
const STAGED_COMMANDS: ReadonlySet<StoreCommand['t']> = new Set(['put', 'del', 'txn']);

/**
 * Writes of consecutive commands staged by {@link MvccStore.applyBatch}: their Storage ops, the
 * records they wrote (readable by the later commands of the batch), the key leases as they leave
 * them, and the publish steps that run once the batch is in Storage.
 */
interface Stage {
  readonly ops: BatchOp[];
  /** Main revision -> the writes of that revision (`sub` indexes them). */
  readonly records: Map<number, readonly Change[]>;
  /** Key (latin1) -> lease after the staged writes; 0 for detached. */
  readonly keyLeases: Map<string, number>;
  readonly publish: (() => void)[];
  /** The applied index and revision after the staged commands. */
  applied: number;
  rev: number;
}

interface LeaseState {
  ttl: number;
  remainingTtl: number;
  readonly keys: Set<string>;
}

/**
 * The store's MVCC state machine, as etcd's mvcc package: a revision per write, a key index of
 * generations in memory, revision records in Storage, leases, compaction, a watch hub, and
 * snapshot images for raft.
 *
 * Contract:
 * - `apply(index, cmd)` is deterministic and idempotent by raft index: the applied index is
 *   written in the same Storage batch as the command's effects (the last batch when a command
 *   needs several; records above the stored revision are discarded on open), so a replay after
 *   a crash skips what is applied. Batches are unsynced; `sync()` makes everything durable.
 *   etcd's request errors come back as `{ t: 'error' }` and still advance the applied index.
 *   apply throws only when Storage fails (the store is then unusable until reopened) or on a
 *   broken invariant.
 * - Applies run one at a time (calls queue up); reads run beside them and see the last
 *   published revision.
 * - Reads (`range`) throw etcd's StoreErrors (emptyKey, compacted, futureRev).
 *
 * @example
 * ```ts
 * const store = await MvccStore.open(new MemoryStorage());
 * await store.apply(1, { t: 'put', req: { key: utf8('a'), value: utf8('1') } });
 * (await store.range({ key: utf8('a') })).kvs[0]?.modRevision; // 2
 * ```
 */
export class MvccStore {
  private readonly layout: Layout;
  private readonly limits: MvccLimits;
  private readonly minLeaseTtl: number;
  private index: TreeIndex;
  /** Records read from Storage, by `main:sub`; `cacheOrder` evicts the oldest (a ring). */
  private readonly cache = new Map<string, StoredRecord>();
  private readonly cacheOrder: string[] = [];
  private cacheNext = 0;
  private leaseMap = new Map<number, LeaseState>();
  private keyLeases = new Map<string, number>();
  private member: Uint8Array | undefined;
  private applied = 0;
  private rev = 1;
  private compactRev = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private failed: Error | undefined;
  private closed = false;
  /** Bumped by restore: compaction jobs of an older state stop. */
  private generation = 0;
  private compactions: Promise<void> = Promise.resolve();
  private readonly hub: WatchHub;
  private progressTimer: TimerHandle | undefined;
  private readonly host: TxnHost;
  /** Set while applyBatch stages put/delete/txn commands; undefined otherwise. */
  private stage: Stage | undefined;

  private constructor(
    private readonly storage: Storage,
    private readonly options: MvccOptions,
  ) {
    this.layout = new Layout(options.prefix);
    this.limits = withLimits(DEFAULT_LIMITS, options.limits ?? {});
    this.index = new TreeIndex(this.limits.maxCachedRecords);
    this.minLeaseTtl = options.minLeaseTtl ?? 2;
    const self = this;
    this.host = {
      get index() {
        return self.index;
      },
      get compactRevision() {
        return self.compactRev;
      },
      readRecord: (rev) => this.readRecord(rev),
      leaseExists: (id) => this.leaseMap.has(id),
      keyLease: (k) => this.stage?.keyLeases.get(k) ?? this.keyLeases.get(k) ?? 0,
      header: (r) => this.header(r),
    };
    this.hub = new WatchHub(
      {
        revision: () => this.rev,
        compactRevision: () => this.compactRev,
        header: (r) => this.header(r),
        readEvents: (from, to, withPrevKv) => this.readEvents(from, to, withPrevKv),
      },
      this.limits.maxWatchers,
    );
  }

  /**
   * Opens the store on `storage`, rebuilding the key index by scanning the revision records,
   * finishing an interrupted compaction and discarding an interrupted restore.
   */
  static async open(storage: Storage, options: MvccOptions = {}): Promise<MvccStore> {
    const store = new MvccStore(storage, options);
    await store.load();
    store.armProgressTimer();
    return store;
  }

  /** The last raft index applied. */
  get appliedIndex(): number {
    return this.applied;
  }

  /** The current (published) revision; 1 for an empty store, as etcd. */
  get revision(): number {
    return this.rev;
  }

  get compactRevision(): number {
    return this.compactRev;
  }

  /** Applies one committed raft entry's command (see the class contract). */
  apply(index: number, cmd: StoreCommand): Promise<StoreResult> {
    return this.enqueue(() => this.applyNow(index, cmd));
  }

  /**
   * Applies committed commands in index order, as `apply` on each would, but writes the effects of
   * consecutive put, delete and txn commands in one Storage batch (chunked by `maxBatchOps`, the
   * applied index and revision last) and publishes them together once written: readers and
   * watchers see nothing of the batch before its writes are in Storage, then every revision in
   * order. Other commands run alone between batches, as in `apply`.
   *
   * Contract: the same results, revisions and Storage contents as one `apply` per command; a
   * Storage failure rejects the whole call and leaves the store unusable (as `apply`).
   */
  applyBatch(items: readonly { index: number; cmd: StoreCommand }[]): Promise<BatchResult[]> {
    return this.enqueue(async () => {
      const out: BatchResult[] = [];
      try {
        for (const { index, cmd } of items) {
          if (!STAGED_COMMANDS.has(cmd.t)) {
            await this.flushStage();
            const result = await this.applyNow(index, cmd);
            out.push({ result, revision: this.rev });
            continue;
          }
          this.stage ??= {
            ops: [],
            records: new Map(),
            keyLeases: new Map(),
            publish: [],
            applied: this.applied,
            rev: this.rev,
          };
          const result = await this.applyNow(index, cmd);
          out.push({ result, revision: this.stage.rev });
        }
        await this.flushStage();
      } catch (err) {
        // Staged writes already moved the key index: the in-memory state no longer matches Storage.
        this.stage = undefined;
        this.failed ??= err instanceof Error ? err : new Error(String(err));
        throw err;
      }
      return out;
    });
  }

  /** etcd's Range against the local state (a serializable read; linearizability is the caller's ReadIndex). */
  async range(req: RangeRequest): Promise<RangeResponse> {
    this.checkUsable();
    const bad = checkRange(req) ?? checkRangeRevision(req.revision, this.rev, this.compactRev);
    if (bad !== undefined) throw bad;
    const cur = this.rev;
    const at = req.revision !== undefined && req.revision > 0 ? req.revision : cur;
    const res = await rangeAt(this.index, (r) => this.readRecord(r), req, at);
    return { header: this.header(cur), ...res };
  }

  /**
   * etcd's read-only txn against the local state (a serializable read; linearizability is the
   * caller's ReadIndex): compares and ranges as {@link apply} would evaluate them, nothing
   * written, no revision consumed. Runs in the apply queue, so it sees one revision throughout.
   *
   * @throws StoreError `invalidArgument` when the txn (or a nested one) has a put or a delete,
   *   and the refusals of a txn (tooManyOps, duplicateKey, compacted, futureRev, ...)
   */
  readTxn(req: TxnRequest): Promise<TxnResponse> {
    this.checkUsable();
    if (txnWrites(req)) return Promise.reject(new StoreError('invalidArgument', 'a read txn has a write'));
    const refused = checkCommand({ t: 'txn', req }, this.limits.maxTxnOps);
    if (refused !== undefined) return Promise.reject(refused);
    return this.enqueue(async () => {
      const r = await new WriteTxn(this.host, this.rev).txn(req);
      if (r instanceof StoreError) throw r;
      return r;
    });
  }

  /** Starts a watch on the local hub (see {@link WatchHub.watch}). */
  watch(req: WatchRequest, onResponse: WatchConsumer): HubWatch {
    this.checkUsable();
    return this.hub.watch(req, onResponse);
  }

  /** Resolves once every watcher's catch-up has finished (see {@link WatchHub.settled}). */
  watchSettled(): Promise<void> {
    return this.hub.settled();
  }

  /** Sends progress responses to idle watchers that asked for them (the periodic notify). */
  progressTick(): void {
    this.hub.progressTick();
  }

  /** Every lease, by id. */
  leases(): LeaseInfo[] {
    return [...this.leaseMap.keys()].sort((a, b) => a - b).map((id) => this.lease(id)!);
  }

  /** One lease with its attached keys, or undefined. */
  lease(id: number): LeaseInfo | undefined {
    const l = this.leaseMap.get(id);
    if (l === undefined) return undefined;
    const keys = [...l.keys].sort().map(keyBytes);
    return l.remainingTtl > 0
      ? { id, ttl: l.ttl, remainingTtl: l.remainingTtl, keys }
      : { id, ttl: l.ttl, keys };
  }

  /** The member metadata last applied (opaque to the store). */
  memberData(): Uint8Array | undefined {
    return this.member;
  }

  /**
   * etcd's HashKV: a CRC-32C over the revision records (storage key without prefix, then value)
   * up to `revision` (0: the current one), skipping records at or below the compact revision that
   * the compaction dropped, whether or not the physical deletion has reached them yet. Every
   * member that applied the same log holds the same records, so the same revision hashes the same
   * everywhere; the value differs from etcd's (another record format). Runs in the apply queue
   * (a consistent view; applies wait while the records are read).
   *
   * @throws StoreError `compacted` (revision at or below the compact revision), `futureRev`
   */
  hashKV(revision: number): Promise<{ hash: number; revision: number; compactRevision: number }> {
    this.checkUsable();
    return this.enqueue(async () => {
      const compactRevision = this.compactRev;
      const current = this.rev;
      if (revision > 0 && revision <= compactRevision) throw new StoreError('compacted');
      if (revision > current) throw new StoreError('futureRev');
      const at = revision > 0 ? revision : current;
      const keep = this.index.keptAt(compactRevision);
      let hash = 0;
      for await (const [k, v] of this.storage.iterator({
        gte: this.layout.recordStart(),
        lt: this.layout.recordKey(at + 1, 0),
      })) {
        const rev = this.layout.recordRev(k);
        if (rev === undefined) continue;
        if (rev.main <= compactRevision && !keep.has(revString(rev))) continue;
        hash = crc32c(v, crc32c(this.layout.strip(k), hash));
      }
      return { hash, revision: current, compactRevision };
    });
  }

  /**
   * A full image of the state as of the writes queued before this call (see snapshot.ts). Only
   * the start of the read holds the apply queue: the storage's iteration is fixed by its first
   * `next()` (Storage's contract), so the rest of the image is read while later writes apply.
   */
  snapshot(): Promise<Uint8Array> {
    const started = this.enqueue(async () => {
      const entries = this.storage
        .iterator({ gte: this.layout.allStart(), lt: this.layout.allEnd() })
        [Symbol.asyncIterator]();
      return { entries, first: await entries.next() };
    });
    return started.then(async ({ entries, first }) => {
      const image = new ImageWriter(this.limits.maxSnapshotBytes);
      try {
        for (let step = first; step.done !== true; step = await entries.next()) {
          const [k, v] = step.value;
          image.add(this.layout.strip(k), v);
        }
      } finally {
        await entries.return?.();
      }
      return image.finish();
    });
  }

  /**
   * Replaces the whole state with an image, as of raft index `index`; watchers are caught up
   * from the new history (or get the compacted response). Atomic across a crash: a restore
   * marker is written first and removed last; open() wipes a half-done restore (appliedIndex 0,
   * so raft installs its snapshot again).
   *
   * @throws CairnError `DECODE_FAILED` for a malformed image (nothing is changed)
   */
  restore(data: Uint8Array, index: number): Promise<void> {
    return this.enqueue(async () => {
      const entries = readImage(data, this.limits.maxSnapshotBytes);
      for (const [k] of entries) {
        const full = this.layout.add(k);
        if (compareBytes(full, this.layout.allStart()) < 0 || compareBytes(full, this.layout.allEnd()) >= 0) {
          throw new CairnError('DECODE_FAILED', 'MVCC snapshot image rejected: a key outside the store');
        }
      }
      this.generation++;
      await this.write([{ type: 'put', key: this.layout.metaKey('rs'), value: encodeNumber(1) }]);
      await this.wipe();
      const ops: BatchOp[] = entries
        .filter(([k]) => !isMetaName(k, 'rs') && !isMetaName(k, 'ci'))
        .map(([k, value]) => ({ type: 'put', key: this.layout.add(k), value }));
      ops.push({ type: 'put', key: this.layout.metaKey('ci'), value: encodeNumber(index) });
      ops.push({ type: 'del', key: this.layout.metaKey('rs') });
      await this.writeChunked(ops);
      await this.load();
      this.hub.resyncAll();
    });
  }

  /**
   * Makes every applied batch durable (a synced write: Storage's contract makes every earlier
   * batch durable with it). With `index` above the applied index, the applied index moves up to
   * it first: raft's applied index, whose last entries had nothing for the store (a leader's
   * no-op, a conf change), so a restart resumes after them. Runs in the apply queue.
   */
  sync(index = 0): Promise<void> {
    return this.enqueue(async () => {
      this.checkUsable();
      const through = Math.max(this.applied, index);
      await this.write([{ type: 'put', key: this.layout.metaKey('ci'), value: encodeNumber(through) }], true);
      this.applied = through;
    });
  }

  /** Stops the store: watches end without a response; queued work finishes. The Storage stays open (the caller owns it). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.enqueue(async () => {});
    this.closed = true;
    if (this.progressTimer !== undefined) this.options.clock?.cancel(this.progressTimer);
    this.hub.closeAll();
  }

  // ---- apply ----

  private async applyNow(index: number, cmd: StoreCommand): Promise<StoreResult> {
    this.checkUsable();
    if (index <= (this.stage?.applied ?? this.applied)) return { t: 'skipped' };
    const refused = checkCommand(cmd, this.limits.maxTxnOps);
    if (refused !== undefined) return this.fail(index, refused);
    switch (cmd.t) {
      case 'put': {
        const txn = new WriteTxn(this.host, this.writeRev);
        const r = await txn.put(cmd.req);
        if (r instanceof StoreError) return this.fail(index, r);
        await this.commit(index, txn, []);
        return { t: 'put', res: r };
      }
      case 'del': {
        const txn = new WriteTxn(this.host, this.writeRev);
        const r = await txn.deleteRange(cmd.req);
        await this.commit(index, txn, []);
        return { t: 'del', res: { ...r, header: this.header(this.writeRev) } };
      }
      case 'txn': {
        const txn = new WriteTxn(this.host, this.writeRev);
        const r = await txn.txn(cmd.req);
        if (r instanceof StoreError) return this.fail(index, r);
        await this.commit(index, txn, []);
        return { t: 'txn', res: r };
      }
      case 'compact':
        return this.applyCompact(index, cmd.revision);
      case 'leaseGrant':
        return this.applyGrant(index, cmd.id, cmd.ttl);
      case 'leaseRevoke':
        return this.applyRevoke(index, cmd.id);
      case 'leaseCheckpoint':
        return this.applyCheckpoint(index, cmd.checkpoints);
      case 'member': {
        await this.commit(index, undefined, [
          { type: 'put', key: this.layout.metaKey('mb'), value: cmd.data },
        ]);
        this.member = cmd.data;
        return { t: 'member', res: { header: this.header(this.rev) } };
      }
    }
  }

  /** A refused command: only the applied index moves. */
  private async fail(index: number, error: StoreError): Promise<StoreResult> {
    await this.commit(index, undefined, []);
    return { t: 'error', error };
  }

  private async applyCompact(index: number, revision: number): Promise<StoreResult> {
    if (revision <= this.compactRev) return this.fail(index, new StoreError('compacted'));
    if (revision > this.rev) return this.fail(index, new StoreError('futureRev'));
    await this.commit(index, undefined, [
      { type: 'put', key: this.layout.metaKey('cr'), value: encodeNumber(revision) },
    ]);
    this.compactRev = revision;
    const keep = this.index.compact(revision);
    const physical = this.schedulePhysicalCompaction(revision, keep);
    return { t: 'compact', res: { header: this.header(this.rev) }, physical };
  }

  private async applyGrant(index: number, requested: number, ttlRequested: number): Promise<StoreResult> {
    if (ttlRequested > MAX_LEASE_TTL_SECONDS) return this.fail(index, new StoreError('leaseTTLTooLarge'));
    let id = requested;
    if (id === 0) {
      // Deterministic on every replica: the first free id from the raft index up.
      id = index;
      while (this.leaseMap.has(id)) id++;
    } else if (this.leaseMap.has(id)) {
      return this.fail(index, new StoreError('leaseExist'));
    }
    if (this.leaseMap.size >= this.limits.maxLeases) {
      return this.fail(index, new StoreError('tooManyRequests', `over maxLeases=${this.limits.maxLeases}`));
    }
    const ttl = Math.max(ttlRequested, this.minLeaseTtl);
    await this.commit(index, undefined, [
      { type: 'put', key: this.layout.leaseKey(id), value: encodeLease({ ttl, remainingTtl: 0 }) },
    ]);
    this.leaseMap.set(id, { ttl, remainingTtl: 0, keys: new Set() });
    return { t: 'leaseGrant', res: { header: this.header(this.rev), id, ttl } };
  }

  private async applyRevoke(index: number, id: number): Promise<StoreResult> {
    const lease = this.leaseMap.get(id);
    if (lease === undefined) return this.fail(index, new StoreError('leaseNotFound'));
    const txn = new WriteTxn(this.host, this.rev);
    for (const k of [...lease.keys].sort()) await txn.deleteRange({ key: keyBytes(k) });
    await this.commit(index, txn, [{ type: 'del', key: this.layout.leaseKey(id) }]);
    this.leaseMap.delete(id);
    return { t: 'leaseRevoke', res: { header: this.header(this.rev) } };
  }

  private async applyCheckpoint(
    index: number,
    checkpoints: readonly { id: number; remainingTtl: number }[],
  ): Promise<StoreResult> {
    const ops: BatchOp[] = [];
    const known = checkpoints.filter((c) => this.leaseMap.has(c.id));
    for (const c of known) {
      const l = this.leaseMap.get(c.id)!;
      ops.push({
        type: 'put',
        key: this.layout.leaseKey(c.id),
        value: encodeLease({ ttl: l.ttl, remainingTtl: c.remainingTtl }),
      });
    }
    await this.commit(index, undefined, ops);
    for (const c of known) this.leaseMap.get(c.id)!.remainingTtl = c.remainingTtl;
    return { t: 'leaseCheckpoint', res: { header: this.header(this.rev) } };
  }

  /**
   * Writes a command's effects with the applied index (records first, meta last), then
   * publishes them in one synchronous step: revision, cache, leases, watchers.
   */
  private async commit(index: number, txn: WriteTxn | undefined, extra: BatchOp[]): Promise<void> {
    const changes = txn?.changes ?? [];
    const endRev = txn?.endRev ?? this.writeRev;
    const ops: BatchOp[] = changes.map((c) => ({
      type: 'put',
      key: this.layout.recordKey(c.rev.main, c.rev.sub),
      value: c.bytes,
    }));
    ops.push(...extra);
    const stage = this.stage;
    if (stage !== undefined) {
      this.stageCommit(stage, index, txn, ops, endRev);
      return;
    }
    ops.push({ type: 'put', key: this.layout.metaKey('ci'), value: encodeNumber(index) });
    if (endRev !== this.rev)
      ops.push({ type: 'put', key: this.layout.metaKey('rev'), value: encodeNumber(endRev) });
    await this.writeChunked(ops);
    this.publish(index, txn, endRev);
  }

  /** The revision the next write builds on: the staged one during a batch, else the published one. */
  private get writeRev(): number {
    return this.stage?.rev ?? this.rev;
  }

  /** Adds a command's effects to the batch; its records and key leases are visible to later commands. */
  private stageCommit(
    stage: Stage,
    index: number,
    txn: WriteTxn | undefined,
    ops: BatchOp[],
    endRev: number,
  ): void {
    for (const op of ops) stage.ops.push(op);
    if (txn !== undefined) {
      if (txn.changes.length > 0) stage.records.set(endRev, txn.changes);
      for (const [lease, k, attach] of txn.leaseMoves) {
        if (attach) stage.keyLeases.set(k, lease);
        else if (this.host.keyLease(k) === lease) stage.keyLeases.set(k, 0);
      }
    }
    stage.applied = index;
    stage.rev = endRev;
    stage.publish.push(() => this.publish(index, txn, endRev));
  }

  /** Writes the staged batch (applied index and revision last), then publishes it in order. */
  private async flushStage(): Promise<void> {
    const stage = this.stage;
    if (stage === undefined) return;
    if (stage.publish.length > 0) {
      stage.ops.push({ type: 'put', key: this.layout.metaKey('ci'), value: encodeNumber(stage.applied) });
      if (stage.rev !== this.rev)
        stage.ops.push({ type: 'put', key: this.layout.metaKey('rev'), value: encodeNumber(stage.rev) });
      await this.writeChunked(stage.ops);
    }
    // Cleared only now: until the batch is written, reads of its records go through the stage.
    this.stage = undefined;
    for (const publish of stage.publish) publish();
  }

  /** Makes a written command visible in one synchronous step: revision, cache, leases, watchers. */
  private publish(index: number, txn: WriteTxn | undefined, endRev: number): void {
    const changes = txn?.changes ?? [];
    this.applied = index;
    if (txn === undefined || changes.length === 0) return;
    assert(endRev === this.rev + 1, () => `a write must add exactly one revision (${this.rev} -> ${endRev})`);
    for (const [lease, k, attach] of txn.leaseMoves) this.moveLease(lease, k, attach);
    this.rev = endRev;
    if (this.hub.size === 0) this.hub.notifyUnwatched(endRev);
    else this.hub.notify(endRev, changes.map(toEvent));
  }

  private moveLease(lease: number, k: string, attach: boolean): void {
    const l = this.leaseMap.get(lease);
    if (attach) {
      l?.keys.add(k);
      this.keyLeases.set(k, lease);
    } else {
      l?.keys.delete(k);
      if (this.keyLeases.get(k) === lease) this.keyLeases.delete(k);
    }
  }

  // ---- compaction ----

  /** Deletes the records compaction at `revision` made unreachable, in bounded batches between applies. */
  private schedulePhysicalCompaction(revision: number, keep: Set<string>): Promise<void> {
    const generation = this.generation;
    const job = this.compactions.then(async () => {
      let cursor: Uint8Array | undefined;
      for (;;) {
        const done = await this.enqueue(async () => {
          if (generation !== this.generation || this.closed) return true;
          const dels: BatchOp[] = [];
          const range = {
            ...(cursor === undefined ? { gte: this.layout.recordStart() } : { gt: cursor }),
            // Records of the compact revision itself stay: a watcher may start there.
            lt: this.layout.recordKey(revision, 0),
            limit: this.limits.maxBatchOps,
          };
          let seen = 0;
          for await (const [k] of this.storage.iterator(range)) {
            seen++;
            cursor = k;
            const rev = this.layout.recordRev(k);
            if (rev !== undefined && !keep.has(revString(rev))) dels.push({ type: 'del', key: k });
          }
          if (seen < this.limits.maxBatchOps) {
            dels.push({ type: 'put', key: this.layout.metaKey('cf'), value: encodeNumber(revision) });
            await this.write(dels);
            return true;
          }
          if (dels.length > 0) await this.write(dels);
          return false;
        });
        if (done) return;
      }
    });
    this.compactions = job.catch(() => {});
    return job;
  }

  // ---- reads ----

  private async readRecord(rev: Rev): Promise<StoredRecord> {
    const staged = this.stage?.records.get(rev.main)?.[rev.sub]?.record;
    if (staged !== undefined) return staged;
    const cached = this.cache.get(revString(rev));
    if (cached !== undefined) return cached;
    const bytes = await this.storage.get(this.layout.recordKey(rev.main, rev.sub));
    // Gone: a compaction passed this revision while the read was under way.
    if (bytes === undefined) throw new StoreError('compacted');
    const record = decodeRecord(bytes);
    this.cacheRecord(rev, record);
    return record;
  }

  /**
   * Caches a record read from Storage, letting the oldest go past `maxCachedRecords` (by a ring
   * of keys: taking the Map's first key scans the holes its deletions leave, which grew with the
   * cache). Records written here are held by the key index instead (see TreeIndex).
   */
  private cacheRecord(rev: Rev, record: StoredRecord): void {
    const max = this.limits.maxCachedRecords;
    if (max === 0) return;
    const k = revString(rev);
    const slot = this.cacheNext;
    const old = this.cacheOrder[slot];
    if (old !== undefined && old !== k) this.cache.delete(old);
    this.cache.set(k, record);
    this.cacheOrder[slot] = k;
    this.cacheNext = slot + 1 === max ? 0 : slot + 1;
  }

  /** Events of whole revisions from..to for the watch hub, bounded by the catch-up limits. */
  private async readEvents(
    from: number,
    to: number,
    withPrevKv: boolean,
  ): Promise<{ events: RevEvent[]; lastRev: number }> {
    const events: RevEvent[] = [];
    let bytes = 0;
    let revs = 0;
    let current = 0;
    let cursor: Uint8Array | undefined;
    const end = this.layout.recordKey(to + 1, 0);
    const pageSize = 1024;
    for (;;) {
      const range = {
        ...(cursor === undefined ? { gte: this.layout.recordKey(from, 0) } : { gt: cursor }),
        lt: end,
        limit: pageSize,
      };
      let seen = 0;
      for await (const [k, v] of this.storage.iterator(range)) {
        seen++;
        cursor = k;
        const rev = this.layout.recordRev(k)!;
        if (rev.main !== current) {
          if (revs >= this.limits.maxCatchupRevisions || bytes >= this.limits.maxCatchupBytes) {
            return { events: await this.withPrev(events, withPrevKv), lastRev: current };
          }
          current = rev.main;
          revs++;
        }
        bytes += k.length + v.length;
        events.push({ rev: rev.main, event: toEvent({ rev, record: decodeRecord(v), prev: undefined }) });
      }
      if (seen < pageSize) break;
    }
    return { events: await this.withPrev(events, withPrevKv), lastRev: to };
  }

  private async withPrev(events: RevEvent[], withPrevKv: boolean): Promise<RevEvent[]> {
    if (!withPrevKv) return events;
    const out: RevEvent[] = [];
    for (const e of events) {
      const before = e.rev - 1;
      const at = before >= this.compactRev ? this.index.get(e.event.kv.key, before) : undefined;
      let prevKv: KeyValue | undefined;
      if (at !== undefined) {
        try {
          prevKv = recordToKv(await this.readRecord(at.mod), at.mod.main);
        } catch (err) {
          if (!(err instanceof StoreError)) throw err;
        }
      }
      out.push(prevKv === undefined ? e : { rev: e.rev, event: { ...e.event, prevKv } });
    }
    return out;
  }

  // ---- open / load ----

  private async load(): Promise<void> {
    const meta = async (name: 'ci' | 'rev' | 'cr' | 'cf' | 'rs') =>
      decodeNumber(await this.storage.get(this.layout.metaKey(name)), `meta ${name}`);
    if ((await meta('rs')) !== 0) {
      // A restore was cut short: start empty; raft sees applied index 0 and installs its snapshot.
      await this.wipe();
      await this.write([{ type: 'del', key: this.layout.metaKey('rs') }]);
    }
    this.index = new TreeIndex(this.limits.maxCachedRecords);
    this.cache.clear();
    this.cacheOrder.length = 0;
    this.cacheNext = 0;
    this.leaseMap = new Map();
    this.keyLeases = new Map();
    this.applied = await meta('ci');
    const storedRev = await meta('rev');
    this.compactRev = await meta('cr');
    this.member = await this.storage.get(this.layout.metaKey('mb'));
    const leaseOf = new Map<string, number>();
    const torn: BatchOp[] = [];
    let maxRev = 0;
    for await (const [k, v] of this.storage.iterator({
      gte: this.layout.recordStart(),
      lt: this.layout.recordEnd(),
    })) {
      const rev = this.layout.recordRev(k);
      if (rev === undefined) continue;
      if (rev.main > storedRev) {
        // Written by a command whose last batch never landed: it will be applied again.
        torn.push({ type: 'del', key: k });
        continue;
      }
      const r = decodeRecord(v);
      const ks = keyString(r.key);
      maxRev = Math.max(maxRev, rev.main);
      if (r.tombstone) {
        if (this.index.isLive(r.key)) this.index.tombstone(r.key, rev);
        leaseOf.delete(ks);
      } else {
        this.index.restorePut(r.key, rev, r.createRevision, r.version);
        if (r.lease !== 0) leaseOf.set(ks, r.lease);
        else leaseOf.delete(ks);
      }
    }
    if (torn.length > 0) await this.writeChunked(torn);
    this.rev = Math.max(1, storedRev, maxRev, this.compactRev);
    const keep = this.index.compact(this.compactRev);
    for await (const [k, v] of this.storage.iterator({
      gte: this.layout.leaseStart(),
      lt: this.layout.leaseEnd(),
    })) {
      const id = this.layout.leaseId(k);
      if (id === undefined) continue;
      const l = decodeLease(v);
      this.leaseMap.set(id, { ttl: l.ttl, remainingTtl: l.remainingTtl, keys: new Set() });
    }
    for (const [k, lease] of leaseOf) this.moveLease(lease, k, true);
    if (this.compactRev > (await meta('cf'))) void this.schedulePhysicalCompaction(this.compactRev, keep);
  }

  /** Deletes every key the store owns, in bounded batches. */
  private async wipe(): Promise<void> {
    for (;;) {
      const dels: BatchOp[] = [];
      for await (const [k] of this.storage.iterator({
        gte: this.layout.allStart(),
        lt: this.layout.allEnd(),
        limit: this.limits.maxBatchOps,
      })) {
        if (!isMetaName(this.layout.strip(k), 'rs')) dels.push({ type: 'del', key: k });
      }
      if (dels.length === 0) return;
      await this.write(dels);
    }
  }

  // ---- plumbing ----

  private header(revision: number): ResponseHeader {
    const h = this.options.header?.();
    return { clusterId: h?.clusterId ?? 0, memberId: h?.memberId ?? 0, revision, raftTerm: h?.raftTerm ?? 0 };
  }

  private async writeChunked(ops: BatchOp[]): Promise<void> {
    const max = this.limits.maxBatchOps;
    for (let i = 0; i < ops.length; i += max) await this.write(ops.slice(i, i + max));
  }

  private async write(ops: BatchOp[], sync = false): Promise<void> {
    try {
      await this.storage.batch(ops, { sync });
    } catch (err) {
      this.failed = err as Error;
      throw err;
    }
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => {});
    return run;
  }

  private checkUsable(): void {
    if (this.closed) throw new CairnError('CLOSED', 'the MVCC store is closed');
    if (this.failed !== undefined) {
      throw new CairnError('IO_ERROR', 'the MVCC store lost a write to its storage; reopen it', {
        cause: this.failed,
      });
    }
  }

  private armProgressTimer(): void {
    const clock = this.options.clock;
    if (clock === undefined) return;
    const every = this.options.progressNotifyIntervalMs ?? 600_000;
    const tick = () => {
      if (this.closed) return;
      this.hub.progressTick();
      this.progressTimer = clock.setTimer(every, tick);
    };
    this.progressTimer = clock.setTimer(every, tick);
  }
}

function toEvent(c: Pick<Change, 'rev' | 'record' | 'prev'>): WatchEvent {
  const kv = recordToKv(c.record, c.rev.main);
  const type = c.record.tombstone ? 'delete' : 'put';
  return c.prev === undefined ? { type, kv } : { type, kv, prevKv: c.prev };
}

function isMetaName(strippedKey: Uint8Array, name: string): boolean {
  return (
    strippedKey.length === 1 + name.length &&
    strippedKey[0] === 0x6d &&
    keyString(strippedKey.subarray(1)) === name
  );
}

/** True when a txn (or one nested in it) has a put or a delete in either branch. */
function txnWrites(req: TxnRequest): boolean {
  const writes = (op: TxnRequest['success'][number]): boolean =>
    'put' in op || 'deleteRange' in op || ('txn' in op && txnWrites(op.txn));
  return req.success.some(writes) || req.failure.some(writes);
}
