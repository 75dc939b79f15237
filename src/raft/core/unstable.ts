import { assert } from '../../core/assert.js';
import type { Entry, Snapshot } from '../types.js';

/**
 * Entries and a snapshot the core has accepted but the driver has not yet persisted
 * (etcd-io/raft's log_unstable.go). `entries[i]` has index `offset + i`. When a snapshot is
 * held, `offset` is its index + 1.
 */
export class Unstable {
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  /** The first index, if a snapshot is held (its index + 1). */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.meta.index + 1;
  }

  /** The last index held here, if any. */
  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot?.meta.index;
  }

  /** The term of `index` if this holds it. */
  maybeTerm(index: number): number | undefined {
    if (index < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.meta.index === index) return this.snapshot.meta.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || index > last) return undefined;
    return this.entries[index - this.offset]?.term;
  }

  /** The driver persisted entries up to `index` of `term`: drop them from here. */
  stableTo(index: number, term: number): void {
    const t = this.maybeTerm(index);
    if (t === undefined) return;
    // Only when the entry is still the one persisted: a newer entry at the same index (after a
    // truncation) is still unstable.
    if (t === term && index >= this.offset) {
      this.entries = this.entries.slice(index + 1 - this.offset);
      this.offset = index + 1;
    }
  }

  /** The driver persisted the snapshot at `index`. */
  stableSnapTo(index: number): void {
    if (this.snapshot !== undefined && this.snapshot.meta.index === index) this.snapshot = undefined;
  }

  /** Replaces everything with a snapshot. */
  restore(snapshot: Snapshot): void {
    this.offset = snapshot.meta.index + 1;
    this.entries = [];
    this.snapshot = snapshot;
  }

  /** Appends `ents`, replacing any held entry at or after the first one's index. */
  truncateAndAppend(ents: readonly Entry[]): void {
    if (ents.length === 0) return;
    const after = ents[0]!.index;
    if (after === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      // Replace everything unstable; the driver will overwrite the stable suffix from `after`.
      this.offset = after;
      this.entries = [...ents];
    } else {
      this.entries = [...this.slice(this.offset, after), ...ents];
    }
  }

  /** Entries [lo, hi) held here. */
  slice(lo: number, hi: number): Entry[] {
    assert(
      lo >= this.offset && hi <= this.offset + this.entries.length && lo <= hi,
      `unstable slice [${lo}, ${hi}) out of [${this.offset}, ${this.offset + this.entries.length})`,
    );
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
