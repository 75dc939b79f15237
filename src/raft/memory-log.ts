import { assert } from '../core/assert.js';
import { limitSize } from './core/entries.js';
import { RaftError } from './errors.js';
import {
  type ConfState,
  type Entry,
  type HardState,
  LogGapError,
  type RaftLogReader,
  type Snapshot,
} from './types.js';

const EMPTY = new Uint8Array(0);
const EMPTY_CONF: ConfState = Object.freeze({ voters: [], learners: [] });

/**
 * The stable log held in memory, as the core reads it: etcd-io/raft's `MemoryStorage`.
 *
 * The driver mirrors its durable log here: after persisting a `Ready` it calls
 * {@link applySnapshot} (if the Ready has a snapshot), {@link append} with the Ready's entries and
 * {@link setHardState}. It takes snapshots with {@link createSnapshot} and drops old entries with
 * {@link compact}. The core only reads, through {@link RaftLogReader}.
 *
 * Layout: `ents[0]` is a dummy entry standing for the last snapshot (its index and term), so the
 * term of the snapshot index can still be answered after compaction.
 *
 * @example
 * ```ts
 * const log = new MemoryRaftLog();
 * log.setConfState({ voters: [1, 2, 3], learners: [] });
 * const core = new RaftCore({ id: 1, electionTicks: 10, heartbeatTicks: 1, rng, log });
 * ```
 */
export class MemoryRaftLog implements RaftLogReader {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot = { meta: { index: 0, term: 0, confState: EMPTY_CONF }, data: EMPTY };
  /** The conf state reported by {@link initialState}: the snapshot's unless set explicitly. */
  private confState: ConfState = EMPTY_CONF;
  private ents: Entry[] = [{ term: 0, index: 0, type: 'normal', data: EMPTY }];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.confState };
  }

  /** Records the hard state the driver persisted. */
  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  /**
   * Records the configuration to report at start. The driver sets it when it restarts with conf
   * entries applied after the last snapshot, or when it bootstraps a new cluster.
   */
  setConfState(cs: ConfState): void {
    this.confState = cs;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new LogGapError('compacted', lo);
    if (hi > this.lastIndex() + 1) throw new LogGapError('unavailable', hi - 1);
    if (this.ents.length === 1) throw new LogGapError('unavailable', lo);
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  term(index: number): number {
    const offset = this.ents[0]!.index;
    if (index < offset) throw new LogGapError('compacted', index);
    const entry = this.ents[index - offset];
    if (entry === undefined) throw new LogGapError('unavailable', index);
    return entry.term;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /**
   * Replaces the log with a snapshot: every entry is dropped and the snapshot becomes the base.
   * @throws RaftError `COMPACTED` when the snapshot is not newer than the one held
   */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.meta.index <= this.snap.meta.index) {
      throw new RaftError(
        'COMPACTED',
        `snapshot at index ${snapshot.meta.index} is not newer than the one held at ${this.snap.meta.index}`,
      );
    }
    this.snap = snapshot;
    this.confState = snapshot.meta.confState;
    this.ents = [{ term: snapshot.meta.term, index: snapshot.meta.index, type: 'normal', data: EMPTY }];
  }

  /**
   * Records a snapshot of the state machine as of `index` (which must be in the log). Entries
   * stay until {@link compact}.
   * @throws RaftError `COMPACTED` when `index` is not above the current snapshot
   */
  createSnapshot(index: number, cs: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.meta.index) {
      throw new RaftError(
        'COMPACTED',
        `cannot snapshot at ${index}: not above the current snapshot at ${this.snap.meta.index}`,
      );
    }
    assert(index <= this.lastIndex(), `snapshot index ${index} is past the last index ${this.lastIndex()}`);
    this.snap = { meta: { index, term: this.term(index), confState: cs }, data };
    return this.snap;
  }

  /**
   * Drops the entries before `index`; `index` becomes the dummy base. A call at or below the base
   * is a no-op, so the driver may repeat it.
   */
  compact(index: number): void {
    const offset = this.ents[0]!.index;
    if (index <= offset) return;
    assert(index <= this.lastIndex(), `compact ${index} is past the last index ${this.lastIndex()}`);
    const base = this.ents[index - offset]!;
    const rest = this.ents.slice(index - offset + 1);
    this.ents = [{ term: base.term, index: base.index, type: 'normal', data: EMPTY }, ...rest];
  }

  /**
   * Appends persisted entries. Entries at an index already held replace it and everything after
   * it; entries at or below the snapshot are skipped. The first new entry must not leave a gap.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const lastNew = entries[0]!.index + entries.length - 1;
    if (lastNew < first) return;
    const tail = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const at = tail[0]!.index - this.ents[0]!.index;
    assert(
      at <= this.ents.length,
      `missing log entries: last index ${this.lastIndex()}, appending at ${tail[0]!.index}`,
    );
    if (at < this.ents.length) this.ents.length = at;
    for (const e of tail) this.ents.push(e);
  }
}
