import {
  type BatchOp,
  bytesEqual,
  CairnError,
  type Clock,
  checkLimit,
  describeError,
  type Logger,
  readU32BE,
  type Storage,
  slabBytes,
  toHex,
  withLimits,
} from '../../core/index.js';
import { KvError } from '../errors.js';
import { inTokenRange, isTokenRange, tokenOf } from '../ring/partitioner.js';
import type { Cell, Token, TokenRange, Version } from '../types.js';
import { cellProblem, decodeCell, encodeCell, isPurgeable, mergeCells } from './cell.js';
import { type KeyFilter, StoredKeys } from './key-filter.js';
import {
  clockwiseSpans,
  DATA_PREFIX,
  dataKey,
  metaKey,
  parseDataKey,
  positionToken,
  spanKeyRange,
} from './layout.js';
import { ENGINE_LIMITS, type EngineLimits } from './limits.js';
import { MerkleBuilder, type MerkleTree } from './merkle.js';
import { VersionCache } from './version-cache.js';

export { decodeCell, encodeCell, isLive, mergeCells } from './cell.js';

/** An opaque scan position: pass back what a page returned as `next`. */
export type ScanPosition = Uint8Array;

/** Cassandra's `gc_grace_seconds` default, 10 days: repairs must run more often than this. */
export const DEFAULT_GC_GRACE_MS = 10 * 24 * 3600 * 1000;

/** Options of {@link ReplicaStore}. */
export interface ReplicaStoreOptions {
  /** Where cells live (shared with hints and node metadata: each has its own key prefix). */
  storage: Storage;
  /** Wall time for TTLs and the grace period. */
  clock: Clock;
  /**
   * How long (ms) tombstones and expired values are kept before `purge` deletes them; default 10
   * days (Cassandra's). Every replica must be repaired within it, or a replica that missed a delete
   * can bring the value back once the others have purged the tombstone.
   */
  gcGraceMs?: number;
  /**
   * Fsync every group of writes before acknowledging it; default true. Without it a power loss
   * (or a kill -9 before the OS flushes) may lose the last acknowledged writes of this replica;
   * at QUORUM the other replicas still hold them, unless they all lose power together.
   */
  sync?: boolean;
  /** Overrides of {@link ENGINE_LIMITS}. */
  limits?: Partial<EngineLimits>;
  /** Where corrupt cells are reported. */
  logger?: Logger;
}

/** One stored entry as a scan returns it. */
export interface ScanEntry {
  readonly key: Uint8Array;
  readonly token: Token;
  readonly cell: Cell;
}

/** Counters of a replica store. */
export interface ReplicaStoreStats {
  /** Writes merged (each write of `apply`). */
  writes: number;
  /** Storage batches written (group commits). */
  batches: number;
  /** Cells deleted by `purge`. */
  purged: number;
  /** Stored cells that failed to decode (read as absent by merges and scans, an error by `get`). */
  corruptCells: number;
  /** Keys of a group whose read before the merge the version cache made unneeded. */
  readsSkipped: number;
  /** Reads (a group's before its merge, and gets) skipped because the key filter showed the key was never stored. */
  readsAbsent: number;
  /** Whether a key filter covering the whole storage answers (false while the first one builds). */
  keyFilterReady: boolean;
}

type Pending =
  | {
      /** One `apply` call: its writes travel in one group, and one promise answers them all. */
      readonly kind: 'write';
      readonly writes: readonly { readonly key: Uint8Array; readonly cell: Cell }[];
      readonly resolve: (c: Cell[]) => void;
      readonly reject: (e: unknown) => void;
    }
  | {
      readonly kind: 'purge';
      readonly key: Uint8Array;
      readonly resolve: (deleted: boolean) => void;
      readonly reject: (e: unknown) => void;
    };

/** A group's slots: one per distinct key (first-seen order), and per write and purge in group order. */
interface ReadSlots {
  readonly slots: Slot[];
  readonly order: Slot[];
}

/** One key's state while a group is merged. */
interface Slot {
  readonly key: Uint8Array;
  readonly storageKey: Uint8Array;
  /** The stored cell as read; undefined when absent, corrupt, or not read (`known`). */
  readonly stored: Cell | undefined;
  current: Cell | undefined;
  /**
   * Set while the version cache vouches for every write of the group to this key (each newer than
   * the stored cell) and the key was not read: then `stored` is not the stored cell, and
   * `knownValue` says whether the stored cell holds a value.
   */
  known: boolean;
  knownValue: 0 | 1;
  /** The cache slot that vouched (`known`); the cache does not change while a group is read. */
  knownAt: number;
  /** {@link cacheHash} of `storageKey`: the version cache's index, and the group's lookup of slots. */
  readonly hash: number;
  /** Another slot of the group whose key has the same `hash` (a chain, almost always empty). */
  readonly sameHash: Slot | undefined;
}

/** The version cache's index of a data key: the low 32 bits of its token (bytes 5..8). */
function cacheHash(storageKey: Uint8Array): number {
  return readU32BE(storageKey, 5);
}

const COUNT_KEY = metaKey('replica.valueCount');
/** Every data key, for the key filter's builds. */
const DATA_KEYS = { gte: Uint8Array.of(DATA_PREFIX), lt: Uint8Array.of(DATA_PREFIX + 1) };
/** Entries a purge or Merkle build reads per page. */
const INTERNAL_PAGE = 1_000;

/**
 * A storage that can also read on the calling thread (`LevelStorage.getSync`). The store uses it
 * when present: LevelDB answers a key from its memtable or block cache in microseconds, while an
 * asynchronous read costs a thread-pool round trip, the largest CPU cost per request measured on
 * one node. Storages without it (memory, the simulated disk) are read asynchronously.
 */
interface SyncReadable {
  getSync(key: Uint8Array): Uint8Array | undefined;
}

function syncReader(storage: Storage): SyncReadable | undefined {
  const candidate = storage as Partial<SyncReadable>;
  return typeof candidate.getSync === 'function' ? (storage as Storage & SyncReadable) : undefined;
}

function encodeCount(n: number): Uint8Array {
  const out = slabBytes(8); // every byte written below
  new DataView(out.buffer, out.byteOffset, 8).setFloat64(0, n);
  return out;
}

/**
 * A replica's cells on core's `Storage`: last-write-wins merges, tombstones, TTLs, token-range scans,
 * purging after the grace period and Merkle trees per range.
 *
 * Contract: `apply` merges each write with the stored cell by {@link mergeCells} and stores the
 * winner; writes are applied in call order, concurrent calls are grouped (at most `maxGroupWrites`
 * a group) into one atomic `Storage.batch`, fsynced when `sync` is true, and the returned promise
 * resolves only after its group is written. So a resolved apply survives a crash (with `sync`) and
 * the stored cell of a key only ever moves to a higher version, whatever order replicas receive
 * writes in. Purges go through the same queue and re-check each cell, so a purge never deletes a
 * write that arrived after the scan that found its key. A cell that fails to decode is counted and
 * logged: `get` rejects with `DECODE_FAILED`, scans and Merkle trees skip it, and a write to its key
 * replaces it. `close` drains queued writes; it does not close the storage (the caller owns it).
 *
 * @example
 * ```ts
 * const store = await ReplicaStore.open({ storage, clock });
 * const [stored] = await store.apply([{ key, cell: { version: hlc.now(), value } }]);
 * const page = await store.scan(range, { limit: 100 });
 * ```
 */
export class ReplicaStore {
  private readonly storage: Storage;
  private readonly syncStorage: SyncReadable | undefined;
  private readonly clock: Clock;
  /** The grace period in ms. */
  readonly gcGraceMs: number;
  private readonly sync: boolean;
  private readonly limits: EngineLimits;
  private readonly logger: Logger | undefined;
  private queue: Pending[] = [];
  /** Writes and purges in `queue` (a pending `apply` counts its writes). */
  private queuedItems = 0;
  private flushing = false;
  private drained: (() => void)[] = [];
  private closed = false;
  private valueCount = 0;
  private loading: Promise<void> | undefined;
  /** True once `load` succeeded (a group then skips waiting on it). */
  private loaded = false;
  /** The counters of {@link stats}; whether the key filter answers is read from it. */
  private readonly counters: Omit<ReplicaStoreStats, 'keyFilterReady'> = {
    writes: 0,
    batches: 0,
    purged: 0,
    corruptCells: 0,
    readsSkipped: 0,
    readsAbsent: 0,
  };
  private readonly versions: VersionCache;
  private readonly storedKeys: StoredKeys;

  constructor(options: ReplicaStoreOptions) {
    const { gcGraceMs = DEFAULT_GC_GRACE_MS } = options;
    if (!Number.isFinite(gcGraceMs) || gcGraceMs < 0) {
      throw new CairnError('INVALID_CONFIG', `gcGraceMs must be a non-negative number, got ${gcGraceMs}`);
    }
    this.storage = options.storage;
    this.syncStorage = syncReader(options.storage);
    this.clock = options.clock;
    this.gcGraceMs = gcGraceMs;
    this.sync = options.sync ?? true;
    this.limits = withLimits(ENGINE_LIMITS, options.limits ?? {});
    this.logger = options.logger;
    this.versions = new VersionCache(this.limits.versionCacheEntries, this.limits.versionCacheKeyBytes);
    this.storedKeys = new StoredKeys(this.limits.keyFilterBits);
  }

  /** A store whose persisted counters are loaded (so `approximateCount` is right from the start). */
  static async open(options: ReplicaStoreOptions): Promise<ReplicaStore> {
    const store = new ReplicaStore(options);
    await store.load();
    return store;
  }

  /** Counters since construction. */
  stats(): Readonly<ReplicaStoreStats> {
    return { ...this.counters, keyFilterReady: this.storedKeys.ready };
  }

  /** The stored cell (live, tombstone or expired), or undefined. */
  async get(key: Uint8Array): Promise<Cell | undefined> {
    this.checkKey(key);
    this.checkOpen();
    const storageKey = dataKey(tokenOf(key), key);
    if (this.neverStored(storageKey)) return undefined;
    const raw =
      this.syncStorage === undefined
        ? await this.storage.get(storageKey)
        : this.syncStorage.getSync(storageKey);
    if (raw === undefined) return undefined;
    try {
      return decodeCell(raw);
    } catch (err) {
      this.reportCorrupt(key, err);
      throw err;
    }
  }

  /**
   * LWW-merges each write into the stored cell; concurrent calls are serialized per key and
   * grouped into one Storage batch; resolves with the cell stored after the merge, per write.
   *
   * @throws KvError `INVALID_ARGUMENT` for an empty or oversized key or a malformed cell (nothing
   *   of the call is applied); CairnError `LIMIT_EXCEEDED` when `maxPendingWrites` are queued,
   *   `CLOSED` after `close`, and the storage's error when its batch fails
   */
  apply(writes: readonly { key: Uint8Array; cell: Cell }[]): Promise<Cell[]> {
    try {
      this.checkOpen();
      for (const w of writes) {
        this.checkKey(w.key);
        const problem = cellProblem(w.cell, this.limits.maxValueBytes);
        if (problem !== undefined) throw new KvError('INVALID_ARGUMENT', problem);
      }
      checkLimit(
        'maxPendingWrites',
        this.queuedItems + writes.length,
        this.limits.maxPendingWrites,
        'queued writes',
      );
    } catch (err) {
      return Promise.reject(err);
    }
    const most = this.limits.maxGroupWrites;
    if (writes.length <= most) return this.enqueueWrites(writes);
    // Larger than a group: in chunks of one group each, answered together.
    const chunks: Promise<Cell[]>[] = [];
    for (let i = 0; i < writes.length; i += most) chunks.push(this.enqueueWrites(writes.slice(i, i + most)));
    return Promise.all(chunks).then((parts) => parts.flat());
  }

  private enqueueWrites(writes: readonly { key: Uint8Array; cell: Cell }[]): Promise<Cell[]> {
    return new Promise<Cell[]>((resolve, reject) => {
      this.enqueue({ kind: 'write', writes, resolve, reject });
    });
  }

  /**
   * Cells whose token lies in `range`, clockwise from the range's start in (token, key) order,
   * after `after` (exclusive, a position returned by a previous page), at most `limit`. Tombstones
   * and expired cells included. `next` is set when more entries may follow.
   *
   * @throws CairnError `INVALID_ARGUMENT` for a bad range, limit or position
   */
  async scan(
    range: TokenRange,
    options: { after?: ScanPosition; limit: number },
  ): Promise<{ entries: ScanEntry[]; next?: ScanPosition }> {
    this.checkOpen();
    if (!isTokenRange(range)) throw new CairnError('INVALID_ARGUMENT', 'scan range must have token bounds');
    const { after, limit } = options;
    if (!Number.isInteger(limit) || limit < 1 || limit > this.limits.maxScanLimit) {
      throw new CairnError(
        'INVALID_ARGUMENT',
        `scan limit must be an integer in 1..${this.limits.maxScanLimit}`,
      );
    }
    let spans = clockwiseSpans(range);
    let from: Uint8Array | undefined;
    if (after !== undefined) {
      const t = positionToken(after);
      if (!inTokenRange(t, range))
        throw new CairnError('INVALID_ARGUMENT', 'scan position lies outside the range');
      const at = spans.findIndex((s) => t >= s.first && t <= s.last);
      spans = spans.slice(at);
      from = after;
    }
    const entries: ScanEntry[] = [];
    for (let i = 0; i < spans.length; i++) {
      const bounds = spanKeyRange(spans[i]!);
      const more = await this.readSpan(
        bounds.gte!,
        bounds.lt!,
        i === 0 ? from : undefined,
        limit + 1 - entries.length,
        entries,
      );
      if (more) break;
    }
    if (entries.length <= limit) return { entries };
    entries.length = limit;
    const last = entries[limit - 1]!;
    return { entries, next: dataKey(last.token, last.key) };
  }

  /**
   * Reads up to `want` decodable entries of one span into `out`, resuming after `after`; true when
   * it stopped because `want` were read.
   */
  private async readSpan(
    gte: Uint8Array,
    lt: Uint8Array,
    after: Uint8Array | undefined,
    want: number,
    out: ScanEntry[],
  ): Promise<boolean> {
    let cursor = after;
    let needed = want;
    for (;;) {
      const ask = needed;
      let seen = 0;
      const range = cursor === undefined ? { gte, lt, limit: ask } : { gt: cursor, lt, limit: ask };
      for await (const [k, v] of this.storage.iterator(range)) {
        seen++;
        cursor = k;
        const parsed = parseDataKey(k);
        if (parsed === undefined) continue;
        try {
          out.push({ key: parsed.key, token: parsed.token, cell: decodeCell(v) });
          needed--;
        } catch (err) {
          this.reportCorrupt(parsed.key, err);
        }
      }
      if (needed === 0) return true;
      // Fewer entries than asked for: the span is exhausted. Otherwise corrupt cells used part of
      // the page: read on from the last key seen.
      if (seen < ask) return false;
    }
  }

  /**
   * Deletes tombstones and expired cells whose deletion time is older than gcGraceMs, in `range`
   * (default the whole ring). Returns how many it deleted.
   */
  async purge(range?: TokenRange): Promise<number> {
    const target = range ?? { start: 0n, end: 0n };
    const now = this.clock.now();
    let after: ScanPosition | undefined;
    let deleted = 0;
    do {
      const page = await this.scan(
        target,
        after === undefined ? { limit: INTERNAL_PAGE } : { after, limit: INTERNAL_PAGE },
      );
      const candidates = page.entries.filter((e) => isPurgeable(e.cell, now, this.gcGraceMs));
      if (candidates.length > 0) {
        const results = await Promise.all(
          candidates.map(
            (e) =>
              new Promise<boolean>((resolve, reject) => {
                this.enqueue({ kind: 'purge', key: e.key, resolve, reject });
              }),
          ),
        );
        deleted += results.filter(Boolean).length;
      }
      after = page.next;
    } while (after !== undefined);
    return deleted;
  }

  /**
   * Merkle tree of `range` (leaves split the range evenly by token, 2^depth leaves). Cells past
   * the grace period are left out: they are as good as purged, and replicas purge at different
   * moments.
   */
  async merkle(range: TokenRange, depth: number): Promise<MerkleTree> {
    const builder = new MerkleBuilder(range, depth);
    const now = this.clock.now();
    let after: ScanPosition | undefined;
    do {
      const page = await this.scan(
        range,
        after === undefined ? { limit: INTERNAL_PAGE } : { after, limit: INTERNAL_PAGE },
      );
      for (const e of page.entries) {
        if (!isPurgeable(e.cell, now, this.gcGraceMs)) builder.add(e.token, e.key, e.cell);
      }
      after = page.next;
    } while (after !== undefined);
    return builder.finish();
  }

  /**
   * Live-key estimate for DBSIZE: stored cells with a value, counted as writes and purges change
   * them (persisted with each batch); expired values count until they are purged or overwritten.
   */
  approximateCount(): number {
    return this.valueCount;
  }

  /** Waits for queued writes, then refuses new calls with `CLOSED`. The storage stays open. */
  async close(): Promise<void> {
    if (this.queue.length > 0 || this.flushing)
      await new Promise<void>((resolve) => this.drained.push(resolve));
    this.closed = true;
  }

  /** Loads persisted counters; idempotent, retried after a failure. */
  load(): Promise<void> {
    if (this.loading === undefined) {
      this.loading = this.storage.get(COUNT_KEY).then(
        (raw) => {
          const n = raw?.length === 8 ? new DataView(raw.buffer, raw.byteOffset, 8).getFloat64(0) : 0;
          this.valueCount = Number.isSafeInteger(n) && n >= 0 ? n : 0;
          this.loaded = true;
          // Nothing is written before the count is loaded: no batch is in flight.
          this.maybeBuildKeyFilter();
        },
        (err: unknown) => {
          this.loading = undefined;
          throw err;
        },
      );
    }
    return this.loading;
  }

  private enqueue(item: Pending): void {
    this.queue.push(item);
    this.queuedItems += item.kind === 'write' ? item.writes.length : 1;
    if (!this.flushing) {
      this.flushing = true;
      // Start on a later tick: writes issued in the same tick join the first group.
      void Promise.resolve().then(() => this.flushLoop());
    }
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.takeGroup();
        await this.flushGroup(group);
      }
    } finally {
      this.flushing = false;
      const waiters = this.drained;
      this.drained = [];
      for (const w of waiters) w();
    }
  }

  /** Queued calls up to `maxGroupWrites` items (at least one call; `apply` chunks larger calls). */
  private takeGroup(): Pending[] {
    let items = 0;
    let n = 0;
    while (n < this.queue.length) {
      const p = this.queue[n]!;
      const size = p.kind === 'write' ? p.writes.length : 1;
      if (n > 0 && items + size > this.limits.maxGroupWrites) break;
      items += size;
      n++;
    }
    this.queuedItems -= items;
    return this.queue.splice(0, n);
  }

  /** Merges and writes one group; never throws (a failure rejects the group's callers). */
  private async flushGroup(group: Pending[]): Promise<void> {
    try {
      if (!this.loaded) await this.load();
      // Between batches: the one moment a key filter's build may start (see StoredKeys).
      this.maybeBuildKeyFilter();
      const read = this.readSlots(group);
      const { slots, order } = read instanceof Promise ? await read : read;
      const now = this.clock.now();
      const results: (Cell[] | boolean)[] = [];
      let at = 0; // `order` holds each write's and purge's slot in group order
      for (const item of group) {
        if (item.kind === 'write') {
          const stored: Cell[] = new Array(item.writes.length);
          for (let i = 0; i < item.writes.length; i++) {
            const slot = order[at++]!;
            slot.current = mergeCells(slot.current, item.writes[i]!.cell);
            stored[i] = slot.current;
          }
          results.push(stored);
          continue;
        }
        const slot = order[at++]!;
        if (slot.current === undefined || !isPurgeable(slot.current, now, this.gcGraceMs)) {
          results.push(false);
          continue;
        }
        slot.current = undefined;
        results.push(true);
      }
      const { ops, countDelta, purged } = this.opsFor(slots);
      if (ops.length > 0) {
        ops.push({ type: 'put', key: COUNT_KEY, value: encodeCount(this.valueCount + countDelta) });
        await this.storage.batch(ops, { sync: this.sync });
        this.valueCount += countDelta;
        this.counters.batches++;
        this.counters.purged += purged;
      }
      this.rememberVersions(slots);
      for (let i = 0; i < group.length; i++) {
        const item = group[i]!;
        if (item.kind === 'write') {
          this.counters.writes += item.writes.length;
          item.resolve(results[i] as Cell[]);
        } else item.resolve(results[i] as boolean);
      }
    } catch (err) {
      // The storage may or may not hold the group: nothing cached of it can be trusted.
      this.versions.clear();
      for (const item of group) item.reject(err);
    }
  }

  /** Records each slot's cell, now stored, in the version cache (a deleted one is forgotten). */
  private rememberVersions(slots: readonly Slot[]): void {
    for (const slot of slots) {
      const cell = slot.current;
      if (cell === undefined) this.versions.forget(slot.key, slot.hash);
      else this.versions.remember(slot.key, slot.hash, cell.version, cell.value !== undefined);
    }
  }

  /**
   * One slot per distinct key of `group`, read from storage (`slots`, in first-seen order), and the
   * slot of each write and purge in group order (`order`), so the merge looks no key up again.
   */
  private readSlots(group: readonly Pending[]): ReadSlots | Promise<ReadSlots> {
    const slots: Slot[] = [];
    // By hash rather than by key string: no string made per key (collisions chain via `sameHash`).
    const byHash = new Map<number, Slot>();
    const order: Slot[] = [];
    const reads: Promise<void>[] = [];
    const read = (slot: Slot): void => {
      if (slot.known) this.counters.readsSkipped--;
      slot.known = false;
      // Never stored: the read would find nothing (the slot is already empty).
      if (this.neverStored(slot.storageKey)) return;
      if (this.syncStorage !== undefined) this.fillSlot(slot, this.syncStorage.getSync(slot.storageKey));
      else reads.push(this.storage.get(slot.storageKey).then((raw) => this.fillSlot(slot, raw)));
    };
    // `version` is the write's, undefined for a purge (which needs the stored cell itself).
    const add = (key: Uint8Array, version: Version | undefined): void => {
      const storageKey = dataKey(tokenOf(key), key);
      const hash = cacheHash(storageKey);
      const first = byHash.get(hash);
      let seen = first;
      while (seen !== undefined && !bytesEqual(seen.key, key)) seen = seen.sameHash;
      if (seen !== undefined) {
        order.push(seen);
        if (seen.known && (version === undefined || !this.versions.olderThan(seen.knownAt, version)))
          read(seen);
        return;
      }
      const slot: Slot = {
        key,
        storageKey,
        stored: undefined,
        current: undefined,
        known: false,
        knownValue: 0,
        knownAt: -1,
        hash,
        sameHash: first,
      };
      byHash.set(hash, slot);
      slots.push(slot);
      order.push(slot);
      if (version !== undefined) {
        const at = this.versions.find(key, hash);
        if (at >= 0 && this.versions.olderThan(at, version)) {
          slot.known = true;
          slot.knownValue = this.versions.valueFlag(at);
          slot.knownAt = at;
          this.counters.readsSkipped++;
          return;
        }
      }
      read(slot);
    };
    for (const item of group) {
      if (item.kind === 'write') for (const w of item.writes) add(w.key, w.cell.version);
      else add(item.key, undefined);
    }
    const out = { slots, order };
    // Storage that reads synchronously answers at once: no promise hop per group.
    return reads.length === 0 ? out : Promise.all(reads).then(() => out);
  }

  private fillSlot(slot: Slot, raw: Uint8Array | undefined): void {
    if (raw === undefined) return;
    try {
      const cell = decodeCell(raw);
      (slot as { stored: Cell | undefined }).stored = cell;
      slot.current = cell;
    } catch (err) {
      // A corrupt cell reads as absent: the write replaces it.
      this.reportCorrupt(slot.key, err);
    }
  }

  private opsFor(slots: readonly Slot[]): { ops: BatchOp[]; countDelta: number; purged: number } {
    const ops: BatchOp[] = [];
    let countDelta = 0;
    let purged = 0;
    for (const slot of slots) {
      if (slot.current === slot.stored) continue;
      const had = slot.known ? slot.knownValue : slot.stored?.value !== undefined ? 1 : 0;
      const has = slot.current?.value !== undefined ? 1 : 0;
      countDelta += has - had;
      if (slot.current === undefined) {
        ops.push({ type: 'del', key: slot.storageKey });
        purged++;
      } else {
        this.storedKeys.add(slot.storageKey); // before the batch starts: StoredKeys' contract
        ops.push({ type: 'put', key: slot.storageKey, value: encodeCell(slot.current) });
      }
    }
    return { ops, countDelta, purged };
  }

  /** True (and counted) when the key filter shows `storageKey` was never stored: no read needed. */
  private neverStored(storageKey: Uint8Array): boolean {
    if (this.storedKeys.mayHold(storageKey)) return false;
    this.counters.readsAbsent++;
    return true;
  }

  /** Starts building a key filter when one is due; call only while no batch is in flight. */
  private maybeBuildKeyFilter(): void {
    if (this.closed || !this.storedKeys.needsBuild()) return;
    void this.scanKeys(this.storedKeys.beginBuild(this.valueCount));
  }

  /** Adds every stored data key to `filter`, which every write since it was begun reaches too. */
  private async scanKeys(filter: KeyFilter): Promise<void> {
    let complete = false;
    try {
      for await (const [key] of this.storage.iterator(DATA_KEYS)) {
        if (this.closed) return;
        filter.add(key);
      }
      complete = true;
    } catch (err) {
      // The storage closing under a stopping node is no news; anything else is worth a line.
      if (!this.closed)
        this.logger?.warn({ err: describeError(err) }, 'kv: the key filter could not be built; reads go on');
    } finally {
      this.storedKeys.finishBuild(filter, complete);
    }
  }

  private reportCorrupt(key: Uint8Array, err: unknown): void {
    this.counters.corruptCells++;
    this.logger?.error(
      { key: toHex(key.subarray(0, 64)), err: describeError(err) },
      'kv: corrupt stored cell',
    );
  }

  private checkKey(key: Uint8Array): void {
    if (!(key instanceof Uint8Array) || key.length === 0) {
      throw new KvError('INVALID_ARGUMENT', 'a key must be non-empty bytes');
    }
    if (key.length > this.limits.maxKeyBytes) {
      throw new KvError(
        'INVALID_ARGUMENT',
        `a key of ${key.length} bytes is over maxKeyBytes=${this.limits.maxKeyBytes}`,
      );
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new CairnError('CLOSED', 'the replica store is closed');
  }
}
