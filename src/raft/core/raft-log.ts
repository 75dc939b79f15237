import { assert } from '../../core/assert.js';
import { type Entry, LogGapError, type RaftLogReader, type Snapshot } from '../types.js';
import { entrySizeBytes, limitSize } from './entries.js';
import { Unstable } from './unstable.js';

/**
 * The core's view of the log: the stable part (read through {@link RaftLogReader}) followed by the
 * unstable part (accepted, not yet persisted), with the commit and apply cursors
 * (etcd-io/raft's log.go).
 *
 * Invariants: `applied <= committed <= lastIndex()`; `committed` never decreases; no entry at or
 * below `committed` is ever replaced.
 */
export class RaftLog {
  readonly unstable: Unstable;
  committed: number;
  applied: number;

  constructor(readonly storage: RaftLogReader) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    // The log starts committed and applied up to the snapshot.
    this.committed = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** The term of entry `index`; throws {@link LogGapError} when it is compacted or beyond the log. */
  term(index: number): number {
    const dummy = this.firstIndex() - 1;
    if (index < dummy) throw new LogGapError('compacted', index);
    if (index > this.lastIndex()) throw new LogGapError('unavailable', index);
    const t = this.unstable.maybeTerm(index);
    if (t !== undefined) return t;
    return this.storage.term(index);
  }

  /** The term of `index`, or `undefined` when the log cannot say. */
  termOrUndefined(index: number): number | undefined {
    // Checked first: a follower asks for the term just past its log on every append, and an
    // Error (with its stack) per append is a measurable cost.
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return undefined;
    try {
      return this.term(index);
    } catch (err) {
      if (err instanceof LogGapError) return undefined;
      throw err;
    }
  }

  matchTerm(index: number, term: number): boolean {
    return this.termOrUndefined(index) === term;
  }

  /**
   * True when a log ending at (`lastIndex`, `lastTerm`) is at least as up to date as this one
   * (Raft §5.4.1): a higher last term, or the same term and at least as long.
   */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * The leader's `app` after (`index`, `logTerm`): when our log matches there, append the
   * entries that are new (dropping a conflicting suffix) and commit up to `commit` (bounded by
   * the last new entry). Returns the last index the message vouches for, or `undefined` on a
   * mismatch. Returns `'conflict'` if a new entry would replace a committed one (only a
   * misbehaving leader can send that; nothing is changed).
   */
  maybeAppend(
    index: number,
    logTerm: number,
    commit: number,
    ents: readonly Entry[],
  ): number | 'conflict' | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const conflict = this.findConflict(ents);
    if (conflict !== 0) {
      if (conflict <= this.committed) return 'conflict';
      this.append(ents.slice(conflict - (index + 1)));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** The first entry of `ents` that is not in our log (missing or of another term); 0 if none. */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * Fast backtracking (etcd's findConflictByTerm): the largest index <= `index` whose term is
   * <= `term`, and that term; the leader can skip everything above it. When the log cannot say
   * (compacted), returns `index` with term 0.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (; i > 0; i--) {
      const t = this.termOrUndefined(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /** Appends entries (replacing any suffix from the first one's index); returns the last index. */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    assert(
      after >= this.committed,
      `append after ${after} would replace committed entries up to ${this.committed}`,
    );
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /** Entries not yet persisted. */
  unstableEntries(): Entry[] {
    return this.unstable.entries;
  }

  /** Entries from `lo` on, at most `maxBytes` (at least one). Throws `LogGapError` when compacted. */
  entries(lo: number, maxBytes: number): Entry[] {
    if (lo > this.lastIndex()) return [];
    return this.slice(lo, this.lastIndex() + 1, maxBytes);
  }

  /** Entries [lo, hi), at most `maxBytes` (at least one). Throws `LogGapError` when compacted. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo === hi) return [];
    assert(lo < hi, `invalid slice [${lo}, ${hi})`);
    if (lo < this.firstIndex()) throw new LogGapError('compacted', lo);
    assert(hi <= this.lastIndex() + 1, `slice [${lo}, ${hi}) past the last index ${this.lastIndex()}`);
    const offset = this.unstable.offset;
    let out: Entry[] = [];
    if (lo < offset) {
      const stableHi = Math.min(hi, offset);
      const stored = this.storage.entries(lo, stableHi, maxBytes);
      if (stored.length < stableHi - lo) return stored; // limited by size
      out = stored;
    }
    if (hi > offset) {
      const fresh = this.unstable.slice(Math.max(lo, offset), hi);
      out = out.length > 0 ? [...out, ...fresh] : fresh;
    }
    return limitSize(out, maxBytes);
  }

  /** True when committed entries wait to be applied (and no snapshot is pending). */
  hasNextCommitted(): boolean {
    return this.committed > Math.max(this.applied, this.firstIndex() - 1);
  }

  /** Committed entries not yet applied, at most `maxBytes` (at least one). */
  nextCommitted(maxBytes: number): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed < lo) return [];
    return this.slice(lo, this.committed + 1, maxBytes);
  }

  /** The snapshot to use: the unstable one if held, else the stored one. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Moves the commit index forward (never back). */
  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `commit ${index} is past the last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Commits `index` if it is from `term` (a leader only commits its own term's entries by counting). */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.termOrUndefined(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    assert(
      index <= this.committed && index >= this.applied,
      `applied ${index} must be in [${this.applied}, ${this.committed}]`,
    );
    this.applied = index;
  }

  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapTo(index: number): void {
    this.unstable.stableSnapTo(index);
  }

  /** Replaces the log with a snapshot; it is committed. */
  restore(snapshot: Snapshot): void {
    this.committed = snapshot.meta.index;
    this.unstable.restore(snapshot);
  }

  /** The size of entries for limits. */
  static sizeOf(ents: readonly Entry[]): number {
    let n = 0;
    for (const e of ents) n += entrySizeBytes(e);
    return n;
  }
}
