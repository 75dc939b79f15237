import type { Entry, HardState, Snapshot } from '../types.js';
import type { LogRecord } from './record.js';

/**
 * Rebuilds the log from its records, in write order. Pure and synchronous: the segment store
 * feeds it every record of every segment, then asks for the result.
 *
 * Rules (the RaftLogStore contract):
 * - entries saved at index i replace every entry >= i (a save starting past the end, after a
 *   gap, can only follow an installed snapshot: the older entries are dropped);
 * - the hard state is the last one written;
 * - a snapshot marker (index, term) whose index holds an entry of another term means the snapshot
 *   was installed over a diverging log: entries from that index on are dropped, as raft's
 *   `restore` drops them. A marker that matches (a local snapshot) keeps them.
 */
export class LogReplay {
  private log: Entry[] = [];
  hardState: HardState = { term: 0, vote: 0, commit: 0 };

  /** The first and last index held (0 when empty). */
  get lastIndex(): number {
    return this.log.length === 0 ? 0 : this.log[this.log.length - 1]!.index;
  }

  apply(record: LogRecord): void {
    if (record.kind === 'snapshotMarker') {
      const at = this.find(record.index);
      if (at !== undefined && this.log[at]!.term !== record.term) this.log.length = at;
      return;
    }
    if (record.hardState !== undefined) this.hardState = record.hardState;
    this.append(record.entries);
  }

  private append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const start = entries[0]!.index;
    const first = this.log[0]?.index;
    if (first === undefined || start <= first || start > this.lastIndex + 1) this.log = [];
    else this.log.length = start - first;
    for (const e of entries) this.log.push(e);
  }

  private find(index: number): number | undefined {
    const first = this.log[0]?.index;
    if (first === undefined || index < first || index > this.lastIndex) return undefined;
    return index - first;
  }

  /**
   * The entries after `snapshot` (all of them without one). Returns `gap` when the entries do not
   * reach back to the snapshot: the log lost something between the two.
   */
  result(snapshot: Snapshot | undefined): { entries: Entry[]; gap: boolean } {
    if (snapshot === undefined) return { entries: this.log, gap: false };
    // The marker of the newest snapshot may have been lost (a crash right after the snapshot file
    // became durable): apply its rule here too.
    this.apply({ kind: 'snapshotMarker', index: snapshot.meta.index, term: snapshot.meta.term });
    const after = this.log.filter((e) => e.index > snapshot.meta.index);
    const gap = after.length > 0 && after[0]!.index !== snapshot.meta.index + 1;
    return { entries: after, gap };
  }
}
