import {
  type BatchOp,
  CairnError,
  type Clock,
  checkLimit,
  type KeyRange,
  type Rng,
  type Storage,
  withLimits,
} from '../core/index.js';
import { SortedBytesMap } from './sorted-map.js';

/** Limits of the simulated storages. */
export const DISK_LIMITS: { readonly maxBatchOps: number } = Object.freeze({
  /** Operations in one batch: bounds the memory and the time one atomic write can take. */
  maxBatchOps: 100_000,
});

function checkOps(ops: readonly BatchOp[], maxBatchOps: number): void {
  checkLimit('maxBatchOps', ops.length, maxBatchOps, 'batch size');
  for (const op of ops) {
    if (!(op.key instanceof Uint8Array))
      throw new CairnError('INVALID_ARGUMENT', 'batch op key must be a Uint8Array');
    if (op.type === 'put' && !(op.value instanceof Uint8Array)) {
      throw new CairnError('INVALID_ARGUMENT', 'batch put value must be a Uint8Array');
    }
    if (op.type !== 'put' && op.type !== 'del') {
      throw new CairnError(
        'INVALID_ARGUMENT',
        `unknown batch op type ${JSON.stringify((op as { type: unknown }).type)}`,
      );
    }
  }
}

async function* yieldEntries(
  entries: Array<[Uint8Array, Uint8Array]>,
): AsyncGenerator<[Uint8Array, Uint8Array]> {
  for (const entry of entries) yield entry;
}

/**
 * A plain in-memory {@link Storage}: every write is durable at once (there is no crash to lose it).
 * For tests and single-process tools.
 *
 * Contract: as `Storage`; batches apply atomically and in call order; iterators read a snapshot
 * taken when iteration starts; after `close()` every call rejects with `CLOSED`.
 */
export class MemoryStorage implements Storage {
  private readonly map = new SortedBytesMap();
  private closed = false;
  private readonly maxBatchOps: number;

  /** @param limits - overrides of {@link DISK_LIMITS} */
  constructor(limits: Partial<typeof DISK_LIMITS> = {}) {
    this.maxBatchOps = withLimits(DISK_LIMITS, limits).maxBatchOps;
  }

  /** Number of keys stored. */
  get size(): number {
    return this.map.size;
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.checkOpen();
    return this.map.get(key);
  }

  async batch(ops: readonly BatchOp[], _options?: { sync?: boolean }): Promise<void> {
    this.checkOpen();
    checkOps(ops, this.maxBatchOps);
    this.map.apply(ops);
  }

  iterator(range: KeyRange = {}): AsyncIterable<[Uint8Array, Uint8Array]> {
    return {
      [Symbol.asyncIterator]: () => {
        this.checkOpen();
        return yieldEntries(this.map.range(range));
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new CairnError('CLOSED', 'the storage is closed');
  }
}

/** Options of a {@link SimDisk}. */
export interface SimDiskOptions {
  /** Clock for latencies; without one, operations complete without delay. */
  clock?: Clock;
  /** Random stream for faults; required when a fault rate is set. */
  rng?: Rng;
  /** Probability that a read (`get`, iterator start) rejects with SIM_DISK_FAULT; default 0. */
  readFaultRate?: number;
  /** Probability that a batch rejects with SIM_DISK_FAULT (and is not applied); default 0. */
  writeFaultRate?: number;
  /** Virtual latency of a read, in ms; default 0. */
  readLatencyMs?: number;
  /** Virtual latency of a batch, in ms; default 0. */
  writeLatencyMs?: number;
  /** Extra virtual latency of a synced batch (the fsync), in ms; default 0. */
  syncLatencyMs?: number;
  /** Limits overrides. */
  limits?: Partial<typeof DISK_LIMITS>;
}

/** The fault and latency settings of a disk that can change during a run. */
export type SimDiskFaults = Pick<
  SimDiskOptions,
  'readFaultRate' | 'writeFaultRate' | 'readLatencyMs' | 'writeLatencyMs' | 'syncLatencyMs'
>;

interface PendingBatch {
  readonly id: number;
  readonly ops: readonly BatchOp[];
}

function checkRate(name: string, value: number | undefined): number {
  const rate = value ?? 0;
  if (!Number.isFinite(rate) || rate < 0 || rate > 1) {
    throw new CairnError('INVALID_CONFIG', `disk ${name} must be within [0, 1], got ${value}`);
  }
  return rate;
}

function checkMs(name: string, value: number | undefined): number {
  const ms = value ?? 0;
  if (!Number.isFinite(ms) || ms < 0)
    throw new CairnError('INVALID_CONFIG', `disk ${name} must be >= 0, got ${value}`);
  return ms;
}

/**
 * A simulated disk implementing core's {@link Storage} with its durability contract, as a power
 * loss would test it.
 *
 * Contract: writes are visible to reads as soon as `batch` is called, in call order. A batch is
 * durable once a synced batch issued at or after it has completed. {@link SimDisk.crash} keeps
 * exactly the durable prefix: unsynced batches after the last completed sync vanish, never
 * partially and never out of order. Injected faults reject with `SIM_DISK_FAULT` and leave the
 * disk unchanged. Latencies run on the owning node's virtual clock, so a crashed node's pending
 * operations never complete.
 *
 * @example
 * ```ts
 * const disk = new SimDisk();
 * await disk.batch([{ type: 'put', key: utf8('a'), value: utf8('1') }]);            // unsynced
 * await disk.batch([{ type: 'put', key: utf8('b'), value: utf8('2') }], { sync: true });
 * disk.crash(); disk.reopen();                                                      // both survive
 * ```
 */
export class SimDisk implements Storage {
  private durable = new SortedBytesMap();
  private visible = new SortedBytesMap();
  private pending: PendingBatch[] = [];
  private nextBatchId = 0;
  private state: 'open' | 'closed' | 'crashed' = 'open';
  private clock: Clock | undefined;
  private readonly rng: Rng | undefined;
  private faults: Required<SimDiskFaults>;
  private readonly maxBatchOps: number;
  /** Counters: reads, writes, syncs, injected faults, crashes and batches lost to crashes. */
  readonly stats = {
    reads: 0,
    writes: 0,
    syncs: 0,
    readFaults: 0,
    writeFaults: 0,
    crashes: 0,
    lostBatches: 0,
  };

  /** @param options - see {@link SimDiskOptions} */
  constructor(options: SimDiskOptions = {}) {
    this.clock = options.clock;
    this.rng = options.rng;
    this.maxBatchOps = withLimits(DISK_LIMITS, options.limits ?? {}).maxBatchOps;
    this.faults = this.checkFaults(options);
  }

  /** Changes fault rates and latencies from now on. */
  setFaults(faults: SimDiskFaults): void {
    this.faults = this.checkFaults({ ...this.faults, ...faults });
  }

  /** Number of keys visible now. */
  get size(): number {
    return this.visible.size;
  }

  /** Batches written but not yet durable. */
  get unsyncedBatches(): number {
    return this.pending.length;
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.checkOpen();
    this.stats.reads++;
    const fault = this.drawFault(this.faults.readFaultRate, 'read');
    await this.delay(this.faults.readLatencyMs);
    if (fault !== undefined) throw fault;
    this.checkOpen();
    return this.visible.get(key);
  }

  async batch(ops: readonly BatchOp[], options: { sync?: boolean } = {}): Promise<void> {
    this.checkOpen();
    checkOps(ops, this.maxBatchOps);
    this.stats.writes++;
    const sync = options.sync === true;
    const fault = this.drawFault(this.faults.writeFaultRate, 'write');
    if (fault !== undefined) {
      await this.delay(this.faults.writeLatencyMs);
      throw fault;
    }
    const batch: PendingBatch = { id: this.nextBatchId++, ops: ops.map(copyOp) };
    this.visible.apply(batch.ops);
    this.pending.push(batch);
    const generation = this.generation;
    await this.delay(this.faults.writeLatencyMs + (sync ? this.faults.syncLatencyMs : 0));
    if (sync && generation === this.generation && this.state === 'open') this.flushThrough(batch.id);
  }

  iterator(range: KeyRange = {}): AsyncIterable<[Uint8Array, Uint8Array]> {
    const disk = this;
    return {
      async *[Symbol.asyncIterator]() {
        disk.checkOpen();
        disk.stats.reads++;
        const fault = disk.drawFault(disk.faults.readFaultRate, 'read');
        await disk.delay(disk.faults.readLatencyMs);
        if (fault !== undefined) throw fault;
        disk.checkOpen();
        yield* disk.visible.range(range);
      },
    };
  }

  /** Closes cleanly: everything written so far is kept (a clean shutdown loses nothing). */
  async close(): Promise<void> {
    this.shutdown();
  }

  /** @internal Clean stop without awaiting: flushes every pending batch and closes. */
  shutdown(): void {
    if (this.state === 'open') this.flushThrough(this.nextBatchId - 1);
    if (this.state !== 'crashed') this.state = 'closed';
  }

  /**
   * Simulates a power loss: unsynced batches vanish, pending operations never complete, and every
   * call rejects with `CLOSED` until {@link SimDisk.reopen}.
   */
  crash(): void {
    this.stats.crashes++;
    this.stats.lostBatches += this.pending.length;
    this.pending = [];
    this.visible = this.durable.clone();
    this.state = 'crashed';
    this.generation++;
  }

  /** Opens the disk again after a crash or close, optionally on a new clock (the node's new incarnation). */
  reopen(clock?: Clock): void {
    if (clock !== undefined) this.clock = clock;
    this.state = 'open';
  }

  private generation = 0;

  private flushThrough(id: number): void {
    let n = 0;
    while (n < this.pending.length && this.pending[n]!.id <= id) n++;
    if (n === 0) return;
    this.stats.syncs++;
    for (let i = 0; i < n; i++) this.durable.apply(this.pending[i]!.ops);
    this.pending = this.pending.slice(n);
  }

  private checkOpen(): void {
    if (this.state !== 'open') throw new CairnError('CLOSED', `the simulated disk is ${this.state}`);
  }

  private drawFault(rate: number, what: 'read' | 'write'): CairnError | undefined {
    if (rate <= 0) return undefined;
    if (this.rng === undefined)
      throw new CairnError('INVALID_CONFIG', 'a SimDisk with fault rates needs an rng');
    if (!this.rng.chance(rate)) return undefined;
    if (what === 'read') this.stats.readFaults++;
    else this.stats.writeFaults++;
    return new CairnError('SIM_DISK_FAULT', `injected ${what} fault on the simulated disk`);
  }

  private delay(ms: number): Promise<void> | undefined {
    const clock = this.clock;
    if (ms <= 0 || clock === undefined) return undefined;
    return new Promise((resolve) => clock.setTimer(ms, resolve));
  }

  private checkFaults(options: SimDiskFaults): Required<SimDiskFaults> {
    return {
      readFaultRate: checkRate('readFaultRate', options.readFaultRate),
      writeFaultRate: checkRate('writeFaultRate', options.writeFaultRate),
      readLatencyMs: checkMs('readLatencyMs', options.readLatencyMs),
      writeLatencyMs: checkMs('writeLatencyMs', options.writeLatencyMs),
      syncLatencyMs: checkMs('syncLatencyMs', options.syncLatencyMs),
    };
  }
}

function copyOp(op: BatchOp): BatchOp {
  return op.type === 'put'
    ? { type: 'put', key: op.key.slice(), value: op.value.slice() }
    : { type: 'del', key: op.key.slice() };
}
