import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import {
  type BatchOp,
  CairnError,
  checkLimit,
  compareBytes,
  type KeyRange,
  type Storage,
  withLimits,
} from '../core/index.js';

/** Limits of {@link LevelStorage}. */
export const DEFAULT_LIMITS: { readonly maxBatchOps: number; readonly iteratorBatchSize: number } =
  Object.freeze({
    /** Operations in one batch: LevelDB builds the whole batch in memory before it writes it. */
    maxBatchOps: 100_000,
    /**
     * Entries an iterator fetches from the native side at once: amortizes the crossing into C++,
     * while a consumer that stops early pays for at most this many extra entries.
     */
    iteratorBatchSize: 1_000,
  });

/** The type of {@link DEFAULT_LIMITS}. */
export type LevelLimits = typeof DEFAULT_LIMITS;

/** Options of {@link LevelStorage.open}. */
export interface LevelStorageOptions {
  /** LevelDB's block cache, in bytes; default 8 MiB (classic-level's). More speeds up reads of a big store. */
  cacheBytes?: number;
  /** LevelDB's memtable size, in bytes; default 4 MiB. Larger absorbs write bursts, slows reopening. */
  writeBufferBytes?: number;
  /** Overrides of {@link DEFAULT_LIMITS}. */
  limits?: Partial<LevelLimits>;
}

/**
 * A key above every key a caller stores, for LevelDB calls that need both ends of "all keys"
 * (approximate size, compaction): 32 bytes of 0xff. Keys that start with 32 0xff bytes are
 * beyond it; Cairn's keys start with a short owner prefix, far below.
 */
const END_OF_KEYS = new Uint8Array(32).fill(0xff);

type Db = ClassicLevel<Uint8Array, Uint8Array>;
/**
 * classic-level's chained batch, below abstract-level's checks and encodings: `_put` and `_del`
 * pass one op's bytes to the native batch, which copies them before it returns (so the caller's
 * ops may be reused afterwards), `_write` writes the batch, and `close` detaches it from the
 * database (which closes open batches when it closes).
 */
interface NativeChainedBatch {
  _put(key: Uint8Array, value: Uint8Array): void;
  _del(key: Uint8Array): void;
  _write(options: { sync: boolean }): Promise<void>;
  close(): Promise<void>;
}

/** What abstract-level checked per op: a known type and Uint8Array bytes. */
function checkBatchOp(op: BatchOp): void {
  if (!(op.key instanceof Uint8Array))
    throw new CairnError('INVALID_ARGUMENT', 'batch op key must be a Uint8Array');
  if (op.type === 'put') {
    if (!(op.value instanceof Uint8Array)) {
      throw new CairnError('INVALID_ARGUMENT', 'batch put value must be a Uint8Array');
    }
  } else if (op.type !== 'del') {
    throw new CairnError(
      'INVALID_ARGUMENT',
      `unknown batch op type ${JSON.stringify((op as { type: unknown }).type)}`,
    );
  }
}

function levelError(what: string, err: unknown, opening = false): CairnError {
  if (err instanceof CairnError) return err;
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  if (opening) {
    const cause = (err as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? cause.message : (err as Error).message;
    return new CairnError('IO_ERROR', `${what} failed: ${detail}`, { cause: err });
  }
  if (code === 'LEVEL_DATABASE_NOT_OPEN' || code === 'LEVEL_ITERATOR_NOT_OPEN') {
    return new CairnError('CLOSED', `${what}: the LevelDB storage is closed`, { cause: err });
  }
  return new CairnError('IO_ERROR', `${what} failed: ${(err as Error).message}`, { cause: err });
}

/** A plain Uint8Array view of a Buffer (no copy): the Storage contract returns Uint8Array. */
function plain(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The tighter of each pair of bounds: core's ranges intersect all four, LevelDB uses one bound
 * per side (and prefers `gt`/`lt` when both are given).
 */
function levelBounds(range: KeyRange): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  const { gt, gte, lt, lte } = range;
  if (gt !== undefined && (gte === undefined || compareBytes(gte, gt) <= 0)) out.gt = gt;
  else if (gte !== undefined) out.gte = gte;
  if (lt !== undefined && (lte === undefined || compareBytes(lte, lt) >= 0)) out.lt = lt;
  else if (lte !== undefined) out.lte = lte;
  return out;
}

/**
 * Core's {@link Storage} on LevelDB through `classic-level`: the state machine's storage (the MVCC
 * store's keys, its applied index, its leases).
 *
 * Contract: as `Storage`. A `batch` is one LevelDB write batch, atomic; with `sync: true` it is
 * written with LevelDB's `sync` option (the log file is fsynced before the call resolves), so it
 * and every earlier batch survive a power loss; without it, a power loss may lose a suffix of
 * batches, never part of one. Iterators read an implicit LevelDB snapshot taken when iteration
 * starts, in unsigned byte order (LevelDB's default comparator). Failures reject with `IO_ERROR`,
 * calls after `close()` with `CLOSED`.
 *
 * @example
 * ```ts
 * const storage = await LevelStorage.open('/var/lib/cairn/store');
 * await storage.batch([{ type: 'put', key: utf8('k'), value: utf8('v') }], { sync: true });
 * for await (const [key, value] of storage.iterator({ gte: utf8('a'), lt: utf8('b') })) { ... }
 * ```
 */
export class LevelStorage implements Storage {
  private closed = false;

  private constructor(
    private readonly db: Db,
    private readonly limits: LevelLimits,
    /** The database directory. */
    readonly location: string,
  ) {}

  /**
   * Opens (creating if missing) the LevelDB database in directory `location`.
   *
   * @throws CairnError `IO_ERROR` when LevelDB cannot open it (locked by another process, corrupt)
   */
  static async open(location: string, options: LevelStorageOptions = {}): Promise<LevelStorage> {
    const limits = withLimits(DEFAULT_LIMITS, options.limits ?? {});
    const db: Db = new ClassicLevel<Uint8Array, Uint8Array>(location, {
      keyEncoding: 'view',
      valueEncoding: 'view',
      createIfMissing: true,
      ...(options.cacheBytes === undefined ? {} : { cacheSize: options.cacheBytes }),
      ...(options.writeBufferBytes === undefined ? {} : { writeBufferSize: options.writeBufferBytes }),
    });
    try {
      await db.open();
    } catch (err) {
      throw levelError(`opening LevelDB at ${location}`, err, true);
    }
    return new LevelStorage(db, limits, location);
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.checkOpen();
    if (!(key instanceof Uint8Array))
      throw new CairnError('INVALID_ARGUMENT', 'storage key must be a Uint8Array');
    try {
      const value = await this.db.get(key);
      return value === undefined ? undefined : plain(value);
    } catch (err) {
      throw levelError('LevelDB get', err);
    }
  }

  /**
   * {@link get} without leaving the calling thread: LevelDB's lookup runs on the event loop. A key
   * in the memtable or block cache costs a few microseconds, where the asynchronous `get` pays a
   * thread-pool round trip (tens of microseconds of CPU when the pool is idle); a key on disk
   * blocks the loop for one table read per level (bloom filters skip the others).
   *
   * @throws CairnError `IO_ERROR` when LevelDB fails, `CLOSED` after close
   */
  getSync(key: Uint8Array): Uint8Array | undefined {
    this.checkOpen();
    if (!(key instanceof Uint8Array))
      throw new CairnError('INVALID_ARGUMENT', 'storage key must be a Uint8Array');
    try {
      const value = this.db.getSync(key);
      return value === undefined ? undefined : plain(value);
    } catch (err) {
      throw levelError('LevelDB get', err);
    }
  }

  /**
   * Writes `ops` as one LevelDB write batch. The ops go straight to classic-level's native chained
   * batch (its `_put`, `_del` and `_write`): abstract-level's public path copies every op into a
   * new object with the call's options, looks up its encodings and runs the prewrite hooks, which
   * this storage never uses (raw `view` keys and values, no sublevels, no hooks, no `write`
   * listeners) and which cost about as much as LevelDB's own work per op in a store's apply. The
   * chained batch, not the array one (`_batch`): the array's native side reads each op's `type`,
   * `key` and `value` by name (seven property calls into V8 per op), where `_put` is one call
   * with the bytes as arguments (in-process, 20-op batches: 4.8-6.2 -> 3.4-4.3 us per op with
   * LevelDB's write). The checks abstract-level made are made here: every op is a put with a
   * Uint8Array key and value or a del with a Uint8Array key, and the database is open.
   */
  async batch(ops: readonly BatchOp[], options: { sync?: boolean } = {}): Promise<void> {
    this.checkOpen();
    checkLimit('maxBatchOps', ops.length, this.limits.maxBatchOps, 'batch size');
    for (const op of ops) checkBatchOp(op);
    if (ops.length === 0) return;
    if (this.db.status !== 'open') {
      throw new CairnError('CLOSED', `LevelDB batch: the LevelDB storage at ${this.location} is not open`);
    }
    const batch = this.db.batch() as unknown as NativeChainedBatch;
    try {
      for (const op of ops) {
        if (op.type === 'put') batch._put(op.key, op.value);
        else batch._del(op.key);
      }
      await batch._write({ sync: options.sync === true });
    } catch (err) {
      throw levelError('LevelDB batch', err);
    } finally {
      await batch.close();
    }
  }

  iterator(range: KeyRange = {}): AsyncIterable<[Uint8Array, Uint8Array]> {
    const storage = this;
    return {
      async *[Symbol.asyncIterator]() {
        storage.checkOpen();
        const options: Record<string, unknown> = { reverse: range.reverse === true, ...levelBounds(range) };
        if (range.limit !== undefined) {
          if (range.limit <= 0) return;
          options.limit = range.limit;
        }
        const it = storage.db.iterator(options);
        try {
          for (;;) {
            let batch: [Uint8Array, Uint8Array][];
            try {
              batch = (await it.nextv(storage.limits.iteratorBatchSize)) as [Uint8Array, Uint8Array][];
            } catch (err) {
              throw levelError('LevelDB iterator', err);
            }
            if (batch.length === 0) return;
            for (const [key, value] of batch) yield [plain(key), plain(value)];
          }
        } finally {
          await it.close().catch(() => undefined);
        }
      },
    };
  }

  /**
   * Bytes the database takes on disk: every file in its directory (tables, the write-ahead log
   * with writes not yet in a table, the manifest), what `du` shows and what etcd reports as the
   * size of its bolt file. Deleted and overwritten data stay counted until LevelDB's compaction
   * drops them (see {@link compact}).
   *
   * @throws CairnError `IO_ERROR` when the directory cannot be read, `CLOSED` after close
   */
  async approximateSize(): Promise<number> {
    this.checkOpen();
    return this.filesBytes(() => true);
  }

  /**
   * Bytes holding the live keys: LevelDB's estimate of the table bytes for the whole key range
   * (`approximateSize(start, end)`), plus the write-ahead log, where recent writes live until
   * they are flushed to a table. At most {@link approximateSize}.
   *
   * @throws CairnError `IO_ERROR`, `CLOSED`
   */
  async approximateSizeInUse(): Promise<number> {
    this.checkOpen();
    let tables: number;
    try {
      tables = await this.db.approximateSize(new Uint8Array(0), END_OF_KEYS);
    } catch (err) {
      throw levelError('LevelDB approximateSize', err);
    }
    const log = await this.filesBytes((name) => name.endsWith('.log') && name !== 'LOG');
    return Math.min(tables + log, await this.approximateSize());
  }

  /**
   * Compacts the whole key range (LevelDB's `CompactRange`): rewrites the tables without deleted
   * and overwritten entries and merges levels, so {@link approximateSize} shrinks to the live
   * data. Reads and writes continue meanwhile; it may take a while on a large database.
   * LevelDB's rule: it merges each level into the next down to the deepest level holding files,
   * and never rewrites that deepest level on its own, so writes and their deletions flushed into
   * one table there (a database written and emptied without any compaction between) stay until
   * later writes land above them.
   *
   * @throws CairnError `IO_ERROR`, `CLOSED`
   */
  async compact(): Promise<void> {
    this.checkOpen();
    try {
      await this.db.compactRange(new Uint8Array(0), END_OF_KEYS);
    } catch (err) {
      throw levelError('LevelDB compactRange', err);
    }
  }

  private async filesBytes(include: (name: string) => boolean): Promise<number> {
    try {
      const names = await readdir(this.location);
      let total = 0;
      for (const name of names) {
        if (!include(name)) continue;
        // A file LevelDB deletes between readdir and stat (an obsolete table) counts as 0.
        const s = await stat(join(this.location, name)).catch(() => undefined);
        if (s?.isFile() === true) total += s.size;
      }
      return total;
    } catch (err) {
      throw levelError(`reading the LevelDB directory ${this.location}`, err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.db.close();
    } catch (err) {
      throw levelError('closing LevelDB', err);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new CairnError('CLOSED', `the LevelDB storage at ${this.location} is closed`);
  }
}
