import { CairnError } from '../../core/index.js';
import type { RpcClient, RpcMethod } from '../../rpc/index.js';
import type { Address } from '../../transport/types.js';
import { isKvError, KvError } from '../errors.js';
import type { Cell, TokenRange } from '../types.js';
import type { Admission } from './admission.js';
import { Batcher, type Defer, type ItemDone, type ItemOutcome } from './batcher.js';
import { encodeCells } from './cells-wire.js';
import { DEFAULT_LIMITS } from './config.js';
import { cellDigest } from './digest.js';
import type { HlcPort, KvEngines, MerklePort, ReplicaPort, ScanPosition } from './ports.js';
import {
  type KeyedCell,
  keyedFromWire,
  keyedToWire,
  ReplicaMerkle,
  ReplicaReadCells,
  type ReplicaRefusal,
  ReplicaScan,
  ReplicaSize,
  ReplicaWrite,
  ReplicaWriteCells,
  rangeToWire,
  versionFromWire,
  versionToWire,
  type WireVersion,
  type WriteKind,
} from './protocol.js';
import { decodeReadAnswers, encodeReadKeys } from './read-wire.js';
import type { ReplicaService } from './replica.js';
import type { SkewMonitor } from './skew.js';

/** A read's answer: the cell, or only its digest. */
export type ReadAnswer = { readonly cell: Cell | undefined } | { readonly digest: Uint8Array };

/** A scan page as a replica answers it. */
export interface ScanAnswer {
  readonly entries: (KeyedCell & { readonly token: bigint })[];
  readonly next?: ScanPosition;
}

/** A write waiting to be batched: single-cell coordinator writes and read repairs. */
interface BatchedWrite {
  readonly kind: WriteKind;
  readonly cell: KeyedCell;
}

/** A read waiting to be batched. */
interface BatchedRead {
  readonly key: Uint8Array;
  readonly digest: boolean;
}

/** Bounds of a `kv.readCells` answer. */
const READ_LIMITS = {
  maxItems: DEFAULT_LIMITS.maxCellsPerMessage,
  maxKeyBytes: DEFAULT_LIMITS.maxKeyBytes,
  maxValueBytes: DEFAULT_LIMITS.maxValueBytes,
};

function noop(): void {}

const DONE: ItemOutcome<void> = Object.freeze({ ok: true, value: undefined });

/** Whether a write goes through a batcher: one cell of a coordinator's write or of a repair. */
function batched(kind: WriteKind, cells: readonly KeyedCell[]): boolean {
  return cells.length === 1 && (kind === 'write' || kind === 'repair');
}

/** A batched write's size on the wire, roughly (bytes), for the batchers' bounds. */
function writeSize(w: BatchedWrite): number {
  return w.cell.key.length + (w.cell.cell.value?.length ?? 0) + 32;
}

/**
 * Stores a batch of writes (all of one kind) with one `apply`: one `kv.writeCells` to a replica,
 * or one call of this node's own replica. Either takes a call whole or refuses it whole; when it
 * refuses a batch as INVALID_ARGUMENT, each cell is applied again alone, so one bad cell fails
 * only its own write.
 */
async function wholeThenEach(
  items: readonly BatchedWrite[],
  apply: (kind: WriteKind, cells: readonly KeyedCell[]) => Promise<unknown>,
): Promise<ItemOutcome<void>[]> {
  const kind = items[0]!.kind;
  const cells = items.map((i) => i.cell);
  try {
    await apply(kind, cells);
    return items.map(() => DONE);
  } catch (err) {
    if (items.length === 1 || !isKvError(err, 'INVALID_ARGUMENT')) throw err;
  }
  return Promise.all(
    cells.map((c) =>
      apply(kind, [c]).then(
        () => DONE,
        (error: unknown): ItemOutcome<void> => ({ ok: false, error }),
      ),
    ),
  );
}

/** What every request to a replica carries besides its own fields. */
interface Envelope {
  from: string;
  hlc: WireVersion;
}

/**
 * Calls replica operations on any node by name: this node's own replica directly (same code path
 * as the rpc handlers, no network), other nodes over rpc. Every remote call carries this node's
 * hybrid-clock reading; every answer's reading is observed (a reading too far ahead is recorded
 * as skew but does not void the answer: the operation happened on the peer).
 *
 * Contract: each method resolves with the answer or rejects with a KvError (`CLOCK_SKEW`,
 * `STOPPED`, `INVALID_ARGUMENT`: the replica refused) or a CairnError (the rpc failed: deadline,
 * connection, unknown peer).
 */
export class ReplicaClient {
  private readonly writes: Batcher<BatchedWrite, void>;
  /** This node's own replica's share of its write fan-outs, applied as one call per batch. */
  private readonly localWrites: Batcher<BatchedWrite, void>;
  private readonly reads: Batcher<BatchedRead, ReadAnswer>;

  constructor(
    private readonly self: string,
    private readonly rpc: RpcClient,
    private readonly addressOf: (name: string) => Address | undefined,
    private readonly local: { service: ReplicaService; store: ReplicaPort },
    private readonly hlc: HlcPort,
    private readonly skew: SkewMonitor,
    private readonly engines: KvEngines,
    private readonly admission?: { gate: Admission; now: () => number },
    /** When batched calls leave: `setImmediate` in the agent, `queueMicrotask` (the default) in simulation. */
    defer: Defer = queueMicrotask,
  ) {
    const bounds = {
      maxItems: DEFAULT_LIMITS.maxBatchedCalls,
      maxBytes: DEFAULT_LIMITS.maxBatchedBytes,
    };
    this.writes = new Batcher<BatchedWrite, void>({
      send: (target, items, deadlineMs) =>
        wholeThenEach(items, (kind, cells) =>
          this.call(target, ReplicaWriteCells, { kind, cells: encodeCells(cells) }, deadlineMs),
        ),
      sizeOf: writeSize,
      defer,
      bounds,
      windows: DEFAULT_LIMITS.batchWindows,
    });
    this.localWrites = new Batcher<BatchedWrite, void>({
      send: (_self, items) => wholeThenEach(items, (kind, cells) => this.local.service.apply(kind, cells)),
      sizeOf: writeSize,
      defer,
      bounds,
      windows: DEFAULT_LIMITS.batchWindows,
    });
    this.reads = new Batcher<BatchedRead, ReadAnswer>({
      send: (target, items, deadlineMs) => this.sendReads(target, items, deadlineMs),
      sizeOf: (r) => r.key.length + 8,
      defer,
      bounds,
      windows: DEFAULT_LIMITS.batchWindows,
    });
  }

  /**
   * Stores cells on `target`. A single-cell write or repair to another node joins the batch of
   * that node's writes of the same kind made in this batching window (one rpc for all).
   */
  write(target: string, kind: WriteKind, cells: readonly KeyedCell[], deadlineMs: number): Promise<void> {
    // Not async: the promise of the batch or the store is returned as is (one fewer per write).
    if (target === this.self) return this.local.service.apply(kind, cells);
    if (batched(kind, cells))
      return this.writes.addAsync(target, kind, { kind, cell: cells[0]! }, deadlineMs);
    return this.call(target, ReplicaWrite, { kind, cells: keyedToWire(cells) }, deadlineMs).then(noop);
  }

  /**
   * {@link write} with a callback, for a coordinator's fan-out (the per-request path): a batched
   * write to another node costs no promise, and the single-cell writes to this node's own replica
   * made in the same batching windows are applied as one call (one group of the store's, as a
   * remote replica gets them, rather than one call each). `done` is called once, never from
   * within this call.
   */
  writeThen(
    target: string,
    kind: WriteKind,
    cells: readonly KeyedCell[],
    deadlineMs: number,
    done: ItemDone<void>,
  ): void {
    if (batched(kind, cells)) {
      const batcher = target === this.self ? this.localWrites : this.writes;
      batcher.add(target, kind, { kind, cell: cells[0]! }, deadlineMs, done);
      return;
    }
    this.write(target, kind, cells, deadlineMs).then(
      () => done(DONE),
      (error: unknown) => done({ ok: false, error }),
    );
  }

  /** Reads `key`'s cell (or digest) on `target`. */
  async read(target: string, key: Uint8Array, digest: boolean, deadlineMs: number): Promise<ReadAnswer> {
    if (target === this.self) {
      const cell = await this.local.store.get(key);
      return digest ? { digest: cellDigest(cell) } : { cell };
    }
    return this.reads.addAsync(target, 'read', { key, digest }, deadlineMs);
  }

  /**
   * One `kv.readCells` for a batch of reads; each key is answered (or fails) on its own. A refusal,
   * or an answer that does not decode or has another length, fails every read of the batch.
   */
  private async sendReads(
    target: string,
    items: readonly BatchedRead[],
    deadlineMs: number,
  ): Promise<ItemOutcome<ReadAnswer>[]> {
    const res = await this.call(target, ReplicaReadCells, { keys: encodeReadKeys(items) }, deadlineMs);
    let answers: ReturnType<typeof decodeReadAnswers>;
    try {
      answers = decodeReadAnswers(res.answers, READ_LIMITS);
    } catch (err) {
      throw this.malformed(target, `its read answer does not decode: ${(err as Error).message}`);
    }
    if (answers.length !== items.length)
      throw this.malformed(target, `a read of ${items.length} keys answered ${answers.length}`);
    const out: ItemOutcome<ReadAnswer>[] = new Array(answers.length);
    for (let i = 0; i < answers.length; i++) {
      const a = answers[i]!;
      if ('error' in a)
        out[i] = { ok: false, error: new CairnError('RPC_REMOTE_ERROR', `kv node "${target}": ${a.error}`) };
      else if (items[i]!.digest !== 'digest' in a)
        out[i] = {
          ok: false,
          error: this.malformed(
            target,
            items[i]!.digest ? 'a digest read answered a cell' : 'a read answered a digest',
          ),
        };
      else out[i] = { ok: true, value: a };
    }
    return out;
  }

  /** One page of `range` on `target`. */
  async scan(
    target: string,
    range: TokenRange,
    after: ScanPosition | undefined,
    limit: number,
    deadlineMs: number,
  ): Promise<ScanAnswer> {
    if (target === this.self) {
      const page = await this.local.store.scan(range, after === undefined ? { limit } : { after, limit });
      return page;
    }
    const res = await this.call(
      target,
      ReplicaScan,
      { range: rangeToWire(range), limit, ...(after === undefined ? {} : { after }) },
      deadlineMs,
    );
    const entries = keyedFromWire(res.entries).map((e) => ({ ...e, token: this.engines.tokenOf(e.key) }));
    for (const e of entries) {
      if (!this.engines.inTokenRange(e.token, range))
        throw this.malformed(target, 'a scan answered a key outside the range asked for');
    }
    return res.next === undefined ? { entries } : { entries, next: res.next };
  }

  /** The Merkle tree of `range` on `target`. */
  async merkle(target: string, range: TokenRange, depth: number, deadlineMs: number): Promise<MerklePort> {
    if (target === this.self) return this.local.store.merkle(range, depth);
    const res = await this.call(target, ReplicaMerkle, { range: rangeToWire(range), depth }, deadlineMs);
    if (res.tree === undefined) throw this.malformed(target, 'a Merkle request answered without a tree');
    let tree: MerklePort;
    try {
      tree = this.engines.decodeMerkle(res.tree);
    } catch (err) {
      throw this.malformed(target, `its Merkle tree does not decode: ${(err as Error).message}`);
    }
    if (tree.depth !== depth || tree.range.start !== range.start || tree.range.end !== range.end)
      throw this.malformed(target, 'its Merkle tree covers another range or depth');
    return tree;
  }

  /** The live-key estimate of `target`. */
  async size(target: string, deadlineMs: number): Promise<number> {
    if (target === this.self) return this.local.store.approximateCount();
    const res = await this.call(target, ReplicaSize, {}, deadlineMs);
    return res.count;
  }

  private async call<Req extends Envelope, Res extends { hlc: WireVersion; err?: ReplicaRefusal }>(
    target: string,
    method: RpcMethod<Req, Res>,
    fields: Omit<Req, keyof Envelope>,
    deadlineMs: number,
  ): Promise<Res> {
    const address = this.addressOf(target);
    if (address === undefined) throw new CairnError('NOT_FOUND', `no address known for kv node "${target}"`);
    const admission = this.admission;
    let release: (() => void) | undefined;
    let remaining = deadlineMs;
    if (admission !== undefined) {
      const start = admission.now();
      release = await admission.gate.acquire(target, deadlineMs);
      remaining = deadlineMs - (admission.now() - start);
    }
    let res: Res;
    try {
      const request = { ...fields, from: this.self, hlc: versionToWire(this.hlc.now()) } as Req;
      res = await this.rpc.call(address, method, request, { deadlineMs: Math.max(0, remaining) });
    } finally {
      release?.();
    }
    this.observe(target, res.hlc);
    if (res.err !== undefined) throw new KvError(res.err, `${target} refused ${method.name}: ${res.err}`);
    return res;
  }

  private observe(target: string, wire: WireVersion): void {
    const reading = versionFromWire(wire);
    this.skew.record(target, reading.wall);
    try {
      this.hlc.observe(reading);
    } catch (err) {
      if (!isKvError(err, 'CLOCK_SKEW')) throw err;
    }
  }

  private malformed(target: string, what: string): CairnError {
    return new CairnError('DECODE_FAILED', `kv node "${target}": ${what}`);
  }
}
