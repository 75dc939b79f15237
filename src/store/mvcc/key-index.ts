import { assert } from '../../core/index.js';
import { keyBytes, keyString, type Rev, type StoredRecord } from './layout.js';
import { SortedKeys } from './sorted-keys.js';

/**
 * etcd's keyIndex: the revisions of one key, as generations. A generation runs from the put that
 * created the key to the delete (tombstone) that ended it; the last generation is open (empty
 * after a delete). `ver` counts the writes of a generation, so a revision's version is `ver`
 * minus the writes after it, and it survives compaction trimming `revs`.
 */
interface Generation {
  created: Rev;
  ver: number;
  revs: Rev[];
}

/** What a key was at a revision. */
export interface KeyAt {
  readonly mod: Rev;
  readonly created: Rev;
  readonly version: number;
  /**
   * The record written at `mod`, when the index still holds it (the key's latest write, while it
   * is among the index's most recent `maxHeldRecords`); otherwise read it by revision.
   */
  readonly record?: StoredRecord;
}

export function revLess(a: Rev, b: Rev): boolean {
  return a.main < b.main || (a.main === b.main && a.sub < b.sub);
}

/** Every revision of one key. */
export class KeyIndex {
  private modified: Rev = { main: 0, sub: 0 };
  private generations: Generation[] = [];
  /** The record of the latest put (`heldRev`, the same object as in `revs`), while held. */
  held: StoredRecord | undefined;
  heldRev: Rev | undefined;

  /** Records a put at `rev` (revisions only grow). */
  put(rev: Rev): void {
    assert(revLess(this.modified, rev), () => `key revision went backwards: ${rev.main}.${rev.sub}`);
    if (this.generations.length === 0) this.generations.push({ created: rev, ver: 0, revs: [] });
    const g = this.generations[this.generations.length - 1]!;
    if (g.revs.length === 0) g.created = rev;
    g.revs.push(rev);
    g.ver++;
    this.modified = rev;
  }

  /**
   * Records a put read back from Storage on open: a put that starts a generation takes the
   * record's create revision and version, which compaction may have cut from the history.
   */
  restorePut(rev: Rev, createRevision: number, version: number): void {
    const g = this.generations[this.generations.length - 1];
    if (g === undefined || g.revs.length === 0) {
      this.put(rev);
      const opened = this.generations[this.generations.length - 1]!;
      opened.created = { main: createRevision, sub: createRevision === rev.main ? rev.sub : 0 };
      opened.ver = version;
      return;
    }
    this.put(rev);
  }

  /** Records a delete at `rev`: closes the open generation. The key must be live. */
  tombstone(rev: Rev): void {
    assert(this.isLive(), 'tombstone of a key that is not live');
    this.put(rev);
    this.generations.push({ created: { main: 0, sub: 0 }, ver: 0, revs: [] });
  }

  /** True when the open generation holds a revision (the key exists now). */
  isLive(): boolean {
    const g = this.generations[this.generations.length - 1];
    return g !== undefined && g.revs.length > 0;
  }

  /** True when no revision is left. */
  isEmpty(): boolean {
    return (
      this.generations.length === 0 ||
      (this.generations.length === 1 && this.generations[0]!.revs.length === 0)
    );
  }

  /** The key's state at revision `atRev`, or undefined when it did not exist then. */
  get(atRev: number): KeyAt | undefined {
    const latest = this.modified;
    if (latest.main <= atRev) {
      // The latest write is visible (a put's usual case): it is the open generation's last
      // revision, or a delete when that generation is empty. No walk over the revisions.
      const open = this.generations[this.generations.length - 1];
      if (open === undefined || open.revs.length === 0) return undefined;
      return latest === this.heldRev
        ? { mod: latest, created: open.created, version: open.ver, record: this.held! }
        : { mod: latest, created: open.created, version: open.ver };
    }
    const g = this.findGeneration(atRev);
    if (g === undefined) return undefined;
    let n = g.revs.length - 1;
    while (n >= 0 && g.revs[n]!.main > atRev) n--;
    if (n < 0) return undefined;
    const mod = g.revs[n]!;
    const version = g.ver - (g.revs.length - n - 1);
    return mod === this.heldRev
      ? { mod, created: g.created, version, record: this.held! }
      : { mod, created: g.created, version };
  }

  /**
   * Compacts at `atRev` as etcd: drops every revision below the latest one <= atRev of each
   * generation, and whole generations that ended (tombstone) at or before atRev. Adds the
   * revisions still needed at or below atRev to `keep` (as `main:sub` strings).
   */
  compact(atRev: number, keep: Set<string>): void {
    let genIdx = 0;
    while (genIdx < this.generations.length - 1) {
      const g = this.generations[genIdx]!;
      if (g.revs[g.revs.length - 1]!.main > atRev) break;
      genIdx++;
    }
    const g = this.generations[genIdx]!;
    if (g.revs.length > 0) {
      let n = g.revs.length - 1;
      while (n >= 0 && g.revs[n]!.main > atRev) n--;
      if (n >= 0) {
        keep.add(revString(g.revs[n]!));
        g.revs = g.revs.slice(n);
      }
    }
    this.generations = this.generations.slice(genIdx);
  }

  /** Every revision still indexed (for tests and snapshots of the index). */
  revisions(): Rev[] {
    return this.generations.flatMap((g) => g.revs);
  }

  private findGeneration(rev: number): Generation | undefined {
    const last = this.generations.length - 1;
    for (let i = last; i >= 0; i--) {
      const g = this.generations[i]!;
      if (g.revs.length === 0) continue;
      if (i !== last && g.revs[g.revs.length - 1]!.main <= rev) return undefined;
      if (g.revs[0]!.main <= rev) return g;
    }
    return undefined;
  }
}

/** `main:sub`, the form of a revision in sets. */
export function revString(rev: Rev): string {
  return `${rev.main}:${rev.sub}`;
}

/** One key at a revision, as a range scan of the index yields it. */
export interface IndexedKey extends KeyAt {
  readonly key: Uint8Array;
}

/**
 * etcd's treeIndex: every key's {@link KeyIndex}, with keys kept sorted (latin1 strings in
 * {@link SortedKeys}: binary search for range starts, a new key moves one chunk).
 */
export class TreeIndex {
  private readonly byKey = new Map<string, KeyIndex>();
  private readonly sorted = new SortedKeys();
  /**
   * The keys whose latest record is held, in the order they were written (a ring of
   * `maxHeldRecords` slots): the oldest is let go when a slot is reused, so at most that many
   * records stay in memory. A put finds the key's previous record here, and a read at the
   * current revision its value, without a lookup by revision.
   */
  private readonly ringKeys: (KeyIndex | undefined)[] = [];
  private readonly ringRevs: (Rev | undefined)[] = [];
  private ringNext = 0;

  /** @param maxHeldRecords records held with their keys (0: none). */
  constructor(private readonly maxHeldRecords = 0) {}

  get size(): number {
    return this.byKey.size;
  }

  put(key: Uint8Array, rev: Rev): void {
    this.keyIndexFor(keyString(key)).put(rev);
  }

  /** The index of a key (latin1 string), or undefined when the key was never written. */
  find(k: string): KeyIndex | undefined {
    return this.byKey.get(k);
  }

  /**
   * Records a put at `rev` of the key `k` (latin1), whose index is `ki` when it exists, and holds
   * its record (see {@link KeyAt.record}).
   */
  putRecord(k: string, ki: KeyIndex | undefined, rev: Rev, record: StoredRecord): void {
    const target = ki ?? this.keyIndexFor(k);
    target.put(rev);
    if (this.maxHeldRecords === 0) return;
    const slot = this.ringNext;
    const old = this.ringKeys[slot];
    if (old !== undefined && old.heldRev === this.ringRevs[slot]) {
      old.held = undefined;
      old.heldRev = undefined;
    }
    target.held = record;
    target.heldRev = rev;
    this.ringKeys[slot] = target;
    this.ringRevs[slot] = rev;
    this.ringNext = slot + 1 === this.maxHeldRecords ? 0 : slot + 1;
  }

  private keyIndexFor(k: string): KeyIndex {
    let ki = this.byKey.get(k);
    if (ki === undefined) {
      ki = new KeyIndex();
      this.byKey.set(k, ki);
      this.sorted.add(k);
    }
    return ki;
  }

  /** A put read back from Storage (see {@link KeyIndex.restorePut}). */
  restorePut(key: Uint8Array, rev: Rev, createRevision: number, version: number): void {
    this.keyIndexFor(keyString(key)).restorePut(rev, createRevision, version);
  }

  /** True when the key exists now. */
  isLive(key: Uint8Array): boolean {
    return this.byKey.get(keyString(key))?.isLive() === true;
  }

  tombstone(key: Uint8Array, rev: Rev): void {
    const ki = this.byKey.get(keyString(key));
    assert(ki !== undefined, 'tombstone of an unknown key');
    ki.tombstone(rev);
  }

  /** The key's state at `atRev`. */
  get(key: Uint8Array, atRev: number): KeyAt | undefined {
    return this.byKey.get(keyString(key))?.get(atRev);
  }

  /**
   * Keys live at `atRev` in etcd's range `[key, end)` (`end` undefined: the single key; null:
   * every key >= key), in key order. Synchronous: a consistent cut of the index.
   */
  range(key: Uint8Array, end: Uint8Array | null | undefined, atRev: number): IndexedKey[] {
    if (end === undefined) {
      const at = this.get(key, atRev);
      return at === undefined ? [] : [{ key, ...at }];
    }
    const out: IndexedKey[] = [];
    const start = keyString(key);
    const stop = end === null ? undefined : keyString(end);
    this.sorted.walkFrom(start, (k) => {
      if (stop !== undefined && k >= stop) return false;
      const at = this.byKey.get(k)!.get(atRev);
      if (at !== undefined) out.push({ key: keyBytes(k), ...at });
      return true;
    });
    return out;
  }

  /**
   * The indexed revisions at or below `atRev`, as `main:sub` strings: after a compaction at
   * `atRev`, exactly the ones it kept (etcd's `kvindex.Keep`), without changing the index.
   */
  keptAt(atRev: number): Set<string> {
    const keep = new Set<string>();
    for (const ki of this.byKey.values()) {
      for (const rev of ki.revisions()) if (rev.main <= atRev) keep.add(revString(rev));
    }
    return keep;
  }

  /** Compacts every key at `atRev`; returns the revisions <= atRev still needed. */
  compact(atRev: number): Set<string> {
    const keep = new Set<string>();
    const emptied: string[] = [];
    for (const [k, ki] of this.byKey) {
      ki.compact(atRev, keep);
      if (ki.isEmpty()) emptied.push(k);
    }
    if (emptied.length > 0) {
      for (const k of emptied) this.byKey.delete(k);
      this.sorted.retain((k) => this.byKey.has(k));
    }
    return keep;
  }

  /** The key's index (for tests). */
  keyIndex(key: Uint8Array): KeyIndex | undefined {
    return this.byKey.get(keyString(key));
  }
}
