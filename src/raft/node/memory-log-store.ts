import { assert } from '../../core/index.js';
import type { Entry, HardState, RaftLogStore, Snapshot } from '../types.js';

type Op =
  | { readonly kind: 'save'; readonly hardState: HardState | undefined; readonly entries: readonly Entry[] }
  | { readonly kind: 'snapshot'; readonly snapshot: Snapshot }
  | { readonly kind: 'compact'; readonly index: number };

class LogState {
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];

  apply(op: Op): void {
    switch (op.kind) {
      case 'save':
        if (op.hardState !== undefined) this.hardState = op.hardState;
        this.append(op.entries);
        return;
      case 'snapshot': {
        // Entries after a snapshot stay only when the log holds the snapshot's own entry (a
        // local snapshot); a snapshot from the leader replaces the whole log, as in etcd.
        const { index, term } = op.snapshot.meta;
        const own = this.entries.find((e) => e.index === index);
        this.entries = own?.term === term ? this.entries.filter((e) => e.index > index) : [];
        this.snapshot = op.snapshot;
        return;
      }
      case 'compact':
        this.entries = this.entries.filter((e) => e.index > op.index);
        return;
    }
  }

  private append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const base = this.entries[0]?.index ?? (this.snapshot?.meta.index ?? 0) + 1;
    if (this.entries.length === 0 || first.index < base) {
      assert(first.index <= base, `memory log store: gap before index ${first.index}`);
      this.entries = [...entries];
      return;
    }
    const keep = first.index - base;
    assert(keep <= this.entries.length, `memory log store: gap before index ${first.index}`);
    this.entries.length = keep;
    for (const e of entries) this.entries.push(e);
  }
}

/**
 * A {@link RaftLogStore} in memory, for tests and for in-process clusters without durability.
 *
 * It keeps what a disk would: the state as written and the state as synced. `save(..., sync: true)`
 * makes every earlier write durable; {@link crash} throws away whatever was written since the last
 * sync, as a power loss would, so a test can restart a node from exactly what it had synced.
 * Snapshots and compactions count as synced when they resolve (a real store syncs them).
 *
 * @example
 * ```ts
 * const store = new MemoryRaftLogStore();
 * const node = await RaftNode.start({ ...options, logStore: store });
 * await node.stop(); store.crash();          // lose unsynced writes
 * const again = await RaftNode.start({ ...options, logStore: store });
 * ```
 */
export class MemoryRaftLogStore implements RaftLogStore {
  private readonly current = new LogState();
  private readonly durable = new LogState();
  private unsynced: Op[] = [];
  /** Calls of `save` with `sync: true` (one per group commit), for tests. */
  syncs = 0;

  async load(): Promise<{ hardState: HardState; snapshot: Snapshot | undefined; entries: Entry[] }> {
    const s = this.current;
    const snapIndex = s.snapshot?.meta.index ?? 0;
    return {
      hardState: s.hardState,
      snapshot: s.snapshot,
      entries: s.entries.filter((e) => e.index > snapIndex),
    };
  }

  async save(hardState: HardState | undefined, entries: readonly Entry[], sync: boolean): Promise<void> {
    this.write({ kind: 'save', hardState, entries: [...entries] });
    if (sync) {
      this.syncs++;
      this.flush();
    }
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.write({ kind: 'snapshot', snapshot });
    this.flush();
  }

  async compact(index: number): Promise<void> {
    const snapIndex = this.current.snapshot?.meta.index ?? 0;
    assert(index <= snapIndex, `compact ${index} is above the saved snapshot ${snapIndex}`);
    this.write({ kind: 'compact', index });
    this.flush();
  }

  async close(): Promise<void> {}

  /** Forgets every write made since the last sync, as a crash would. */
  crash(): void {
    this.unsynced = [];
    const d = this.durable;
    this.current.hardState = d.hardState;
    this.current.snapshot = d.snapshot;
    this.current.entries = [...d.entries];
  }

  private write(op: Op): void {
    this.current.apply(op);
    this.unsynced.push(op);
  }

  private flush(): void {
    for (const op of this.unsynced) this.durable.apply(op);
    this.unsynced = [];
  }
}
