import { describeError, type Logger } from '../../core/index.js';
import type { RpcServer } from '../../rpc/index.js';
import { isKvError } from '../errors.js';
import type { Cell } from '../types.js';
import { decodeCells } from './cells-wire.js';
import { DEFAULT_LIMITS } from './config.js';
import { cellDigest } from './digest.js';
import type { HlcPort, ReplicaPort } from './ports.js';
import {
  cellToWire,
  type KeyedCell,
  keyedFromWire,
  keyedToWire,
  MAX_READ_ERROR_CHARS,
  ReplicaMerkle,
  ReplicaRead,
  ReplicaReadCells,
  ReplicaReadMany,
  type ReplicaRefusal,
  ReplicaScan,
  ReplicaSize,
  ReplicaWrite,
  ReplicaWriteCells,
  rangeFromWire,
  versionFromWire,
  versionToWire,
  type WireReadAnswer,
  type WireReadItem,
  type WireVersion,
  type WriteKind,
} from './protocol.js';
import { decodeReadKeys, encodeReadAnswers, type ReadKey, type ReadWireAnswer } from './read-wire.js';
import type { SkewMonitor } from './skew.js';

/** Bounds of a `kv.writeCells` message's cells. */
const CELLS_LIMITS = {
  maxCells: DEFAULT_LIMITS.maxCellsPerMessage,
  maxKeyBytes: DEFAULT_LIMITS.maxKeyBytes,
  maxValueBytes: DEFAULT_LIMITS.maxValueBytes,
};

/** Bounds of a `kv.readCells` message's keys. */
const READ_LIMITS = {
  maxItems: DEFAULT_LIMITS.maxCellsPerMessage,
  maxKeyBytes: DEFAULT_LIMITS.maxKeyBytes,
  maxValueBytes: DEFAULT_LIMITS.maxValueBytes,
};
const NO_ANSWERS = new Uint8Array(0);

/** Counters of the replica side. */
export interface ReplicaStats {
  /** Cells stored, per kind of write. */
  cellsWritten: Record<WriteKind, number>;
  reads: number;
  digestReads: number;
  scans: number;
  merkles: number;
  /** Requests refused because the sender's clock reading was too far ahead. */
  skewRefusals: number;
  /** Requests refused because the node was stopped. */
  stoppedRefusals: number;
}

/**
 * The replica side of the store: the handlers of the replica rpc methods over this node's
 * {@link ReplicaPort}, plus the same operations for a coordinator that is itself a replica (no
 * rpc, same code path).
 *
 * Contract: every handler first checks the sender's clock reading (`hlc.observe`): a reading too
 * far ahead is refused with `err: 'CLOCK_SKEW'` and nothing is stored, so a node with a runaway
 * clock cannot plant versions that would shadow every later write. A write is answered only
 * after the store has applied it (durably when the store syncs). A stopped replica answers
 * `err: 'STOPPED'`.
 */
export class ReplicaService {
  readonly stats: ReplicaStats = {
    cellsWritten: { write: 0, hint: 0, stream: 0, repair: 0 },
    reads: 0,
    digestReads: 0,
    scans: 0,
    merkles: 0,
    skewRefusals: 0,
    stoppedRefusals: 0,
  };
  private stopped = false;

  constructor(
    private readonly store: ReplicaPort,
    private readonly hlc: HlcPort,
    private readonly skew: SkewMonitor,
    private readonly logger: Logger,
  ) {}

  /** Registers the handlers on `server`. */
  register(server: RpcServer): void {
    server
      .handle(ReplicaWrite, async (req) => {
        const refused = this.admit(req.from, req.hlc);
        if (refused !== undefined) return this.reply(refused);
        try {
          await this.apply(req.kind, keyedFromWire(req.cells));
        } catch (err) {
          // The store refuses a message whole when one cell is malformed: say so, so that a
          // coordinator that batched many writes can send each alone.
          if (isKvError(err, 'INVALID_ARGUMENT')) return this.reply('INVALID_ARGUMENT');
          throw err;
        }
        return this.reply();
      })
      .handle(ReplicaWriteCells, async (req) => {
        const refused = this.admit(req.from, req.hlc);
        if (refused !== undefined) return this.reply(refused);
        try {
          await this.apply(req.kind, decodeCells(req.cells, CELLS_LIMITS));
        } catch (err) {
          if (isKvError(err, 'INVALID_ARGUMENT')) return this.reply('INVALID_ARGUMENT');
          throw err;
        }
        return this.reply();
      })
      .handle(ReplicaRead, async (req) => {
        const refused = this.admit(req.from, req.hlc);
        if (refused !== undefined) return this.reply(refused);
        const cell = await this.store.get(req.key);
        if (req.digest) {
          this.stats.digestReads++;
          return { ...this.reply(), digest: cellDigest(cell) };
        }
        this.stats.reads++;
        return { ...this.reply(), cell: cell === undefined ? null : cellToWire(cell) };
      })
      .handle(ReplicaReadMany, async (req) => {
        const refused = this.admit(req.from, req.hlc);
        if (refused !== undefined) return { ...this.reply(refused), answers: [] };
        const answers = await Promise.all(req.keys.map((item) => this.readOne(item)));
        return { ...this.reply(), answers };
      })
      .handle(ReplicaReadCells, async (req) => {
        const refused = this.admit(req.from, req.hlc);
        if (refused !== undefined) return { ...this.reply(refused), answers: NO_ANSWERS };
        let keys: ReadKey[];
        try {
          keys = decodeReadKeys(req.keys, READ_LIMITS);
        } catch (err) {
          if (isKvError(err, 'INVALID_ARGUMENT'))
            return { ...this.reply('INVALID_ARGUMENT'), answers: NO_ANSWERS };
          throw err;
        }
        const answers = await Promise.all(keys.map((k) => this.readKey(k)));
        return { ...this.reply(), answers: encodeReadAnswers(answers) };
      })
      .handle(ReplicaScan, async (req) => {
        const refused = this.admit(req.from, req.hlc);
        if (refused !== undefined) return { ...this.reply(refused), entries: [] };
        this.stats.scans++;
        const page = await this.store.scan(rangeFromWire(req.range), {
          limit: req.limit,
          ...(req.after === undefined ? {} : { after: req.after }),
        });
        const entries = keyedToWire(page.entries);
        return page.next === undefined
          ? { ...this.reply(), entries }
          : { ...this.reply(), entries, next: page.next };
      })
      .handle(ReplicaMerkle, async (req) => {
        const refused = this.admit(req.from, req.hlc);
        if (refused !== undefined) return this.reply(refused);
        this.stats.merkles++;
        const tree = await this.store.merkle(rangeFromWire(req.range), req.depth);
        return { ...this.reply(), tree: tree.encode() };
      })
      .handle(ReplicaSize, (req) => {
        const refused = this.admit(req.from, req.hlc);
        if (refused !== undefined) return { ...this.reply(refused), count: 0 };
        return { ...this.reply(), count: this.store.approximateCount() };
      });
  }

  /** One key of a `kv.readMany`: {@link readKey}'s answer in that method's MessagePack form. */
  private async readOne(item: WireReadItem): Promise<WireReadAnswer> {
    const a = await this.readKey({ key: item.k, digest: item.d });
    if ('error' in a) return { e: a.error };
    if ('digest' in a) return { d: a.digest };
    return { c: a.cell === undefined ? null : cellToWire(a.cell) };
  }

  /** One key of a `kv.readCells`; a failure is that key's answer, not the message's. */
  private async readKey(item: ReadKey): Promise<ReadWireAnswer> {
    let cell: Cell | undefined;
    try {
      cell = await this.store.get(item.key);
    } catch (err) {
      return { error: describeError(err).slice(0, MAX_READ_ERROR_CHARS) };
    }
    if (item.digest) {
      this.stats.digestReads++;
      return { digest: cellDigest(cell) };
    }
    this.stats.reads++;
    return { cell };
  }

  /** Applies cells locally (a coordinator that is a replica, or a handler). */
  apply(kind: WriteKind, cells: readonly KeyedCell[]): Promise<void> {
    return this.store.apply(cells).then(() => {
      this.stats.cellsWritten[kind] += cells.length;
    });
  }

  /** From now on every request is answered `STOPPED`. */
  stop(): void {
    this.stopped = true;
  }

  private admit(from: string, wire: WireVersion): ReplicaRefusal | undefined {
    const reading = versionFromWire(wire);
    if (this.stopped) {
      this.stats.stoppedRefusals++;
      return 'STOPPED';
    }
    this.skew.record(from, reading.wall);
    try {
      this.hlc.observe(reading);
    } catch (err) {
      if (!isKvError(err, 'CLOCK_SKEW')) throw err;
      this.stats.skewRefusals++;
      this.logger.warn({ from, wall: reading.wall }, 'refused a request: the sender clock is too far ahead');
      return 'CLOCK_SKEW';
    }
    return undefined;
  }

  private reply(err?: ReplicaRefusal): { hlc: WireVersion; err?: ReplicaRefusal } {
    const hlc = versionToWire(this.hlc.now());
    return err === undefined ? { hlc } : { hlc, err };
  }
}
