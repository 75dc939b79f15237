import { type Consistency, compareVersions, requiredReplicas, type Version } from '../../src/kv/types.js';

/**
 * The kv swarm's checkers: pure functions over a recorded history of client operations (and, for
 * the final checks, the cells the replicas hold after heal). Each returns the violations it found
 * as sentences naming the operations, keys, nodes and versions involved (empty: none).
 *
 * What a history is: every client call, with its invocation and completion times on the
 * simulator's true clock, the coordinator it went to, its level and its outcome. Every written
 * value is unique, so a value read names the write that made it; the version a write got is taken
 * from the coordinator's hybrid clock as the write is made (see kv-harness.ts), so the checkers
 * compare versions, the order last-write-wins uses, never arrival times.
 *
 * Guarantees checked (src/kv/types.ts states them):
 * 1. no acknowledged write lost at strong levels (R + W > rf): a read that began after a strong
 *    write was acknowledged returns it or a write of the key with a higher version, and so does
 *    the final state after heal and repair;
 * 2. replicas equal (same cell per key) after heal plus anti-entropy;
 * 3. no delete resurrected: the same rule, for a delete (a read after it returns no value older
 *    than the tombstone);
 * 4. monotonic strong reads: a read never returns an older version than a strong read that
 *    completed before it began;
 * 5. no phantoms: every value read (at any level) or stored was written by a write invoked before.
 *
 * A read that returns no value carries no version; it is justified against a lower bound `v` when
 * a delete or a TTL write of the key with a version >= `v` was invoked before the read completed
 * (for a TTL write: and had expired by then, give or take the clock slack).
 */

/** Outcome of a call as the client saw it: `unknown` when no answer came before its deadline. */
export type Outcome = 'ok' | 'fail' | 'unknown';

/** A client write (a delete when `value` is undefined). */
export interface WriteRecord {
  readonly id: number;
  readonly client: number;
  readonly key: string;
  readonly value: string | undefined;
  /** True-time ms at which the value expires (TTL), absent for none. */
  readonly expiresAt?: number;
  readonly level: Consistency;
  /** The coordinator. */
  readonly node: string;
  readonly invokedAt: number;
  completedAt: number | undefined;
  outcome: Outcome | undefined;
  error?: string;
  /** The version the coordinator gave it; absent when it refused before making one. */
  version?: Version;
}

/** A client read: `value` null when it returned no value. */
export interface ReadRecord {
  readonly id: number;
  readonly client: number;
  readonly key: string;
  readonly level: Consistency;
  readonly node: string;
  readonly invokedAt: number;
  completedAt: number | undefined;
  outcome: Outcome | undefined;
  error?: string;
  value?: string | null;
  /**
   * How far ahead of true time the coordinator's clock was pushed while the read ran (the far-off
   * clock of the skew check), ms: until it learns from its peers that it is off, such a node judges
   * TTLs that much early, so a TTL write counts as expired that much sooner for this read.
   */
  aheadMs?: number;
}

/** A recorded history. */
export interface KvHistory {
  readonly writes: readonly WriteRecord[];
  readonly reads: readonly ReadRecord[];
}

/** What every checker needs to know about the cluster. */
export interface CheckOptions {
  /** Replication factor. */
  readonly rf: number;
  /** Clock slack for expiry (node clocks are skewed from the true clock by up to this), ms. */
  readonly slackMs: number;
  /**
   * True when at least `replicas` distinct replicas of `key` may have lost acknowledged data in
   * crashes between `from` and `to` (only with `sync` false): the guarantee is then not promised
   * and not checked. During the history one such replica suffices (a read quorum may meet it and
   * one that missed the write); in the final state every replica that acknowledged must have lost
   * it (`replicas` = the write's level).
   */
  readonly exposed?: (key: string, from: number, to: number, replicas: number) => boolean;
}

/** A cell as the final checks see it (the replicas' stored cell of a key). */
export interface FinalCell {
  readonly version: Version;
  readonly value: string | undefined;
  readonly expiresAt?: number;
}

function strong(a: Consistency, b: Consistency, rf: number): boolean {
  return requiredReplicas(a, rf) + requiredReplicas(b, rf) > rf;
}

function describeVersion(v: Version | undefined): string {
  return v === undefined ? 'none' : `${v.wall}.${v.logical}@${v.node}`;
}

function describeWrite(w: WriteRecord): string {
  const what = w.value === undefined ? 'delete' : `put ${JSON.stringify(w.value)}`;
  const ttl = w.expiresAt === undefined ? '' : ` ttl-until=${w.expiresAt}`;
  return `write#${w.id} ${what}${ttl} ${w.level} via ${w.node} [${w.invokedAt.toFixed(0)}, ${w.completedAt?.toFixed(0) ?? '?'}] v=${describeVersion(w.version)}`;
}

function describeRead(r: ReadRecord): string {
  return `read#${r.id} ${r.level} via ${r.node} [${r.invokedAt.toFixed(0)}, ${r.completedAt?.toFixed(0) ?? '?'}] -> ${r.value === null ? 'nil' : JSON.stringify(r.value)}`;
}

/** An index of a history: writes by key and by value. */
class Index {
  readonly byValue = new Map<string, WriteRecord>();
  readonly writesOf = new Map<string, WriteRecord[]>();
  readonly readsOf = new Map<string, ReadRecord[]>();

  constructor(history: KvHistory) {
    for (const w of history.writes) {
      if (w.value !== undefined) this.byValue.set(w.value, w);
      const list = this.writesOf.get(w.key) ?? [];
      if (list.length === 0) this.writesOf.set(w.key, list);
      list.push(w);
    }
    for (const r of history.reads) {
      const list = this.readsOf.get(r.key) ?? [];
      if (list.length === 0) this.readsOf.set(r.key, list);
      list.push(r);
    }
  }

  /**
   * True when the absence of a value at time `at` is explained at lower bound `v`: a delete, or
   * a TTL write expired by `at`, of `key` with a version >= `v`, invoked before `at`.
   */
  absenceExplained(key: string, v: Version, at: number, slackMs: number): boolean {
    for (const x of this.writesOf.get(key) ?? []) {
      if (x.version === undefined || x.invokedAt > at || compareVersions(x.version, v) < 0) continue;
      if (x.value === undefined) return true;
      if (x.expiresAt !== undefined && x.expiresAt <= at + slackMs) return true;
    }
    return false;
  }
}

/**
 * Why read `r` (ok, strong) is older than lower bound `bound` (a write's version), or undefined
 * when it is not.
 */
function olderThan(index: Index, r: ReadRecord, bound: Version, slackMs: number): string | undefined {
  const at = r.completedAt ?? r.invokedAt;
  if (r.value === null || r.value === undefined) {
    return index.absenceExplained(r.key, bound, at, slackMs + (r.aheadMs ?? 0))
      ? undefined
      : 'it returned no value and no delete or expiry of a version at least as high was invoked before it completed';
  }
  const y = index.byValue.get(r.value);
  if (y === undefined || y.version === undefined) return undefined; // a phantom: checker 5 reports it
  if (compareVersions(y.version, bound) >= 0) return undefined;
  // An older value that has expired by now reads as absent; an expired one returned is not "older".
  return `it returned ${describeWrite(y)}, an older version`;
}

/**
 * Checkers 1 and 3 during the history: every ok read at a level strong with an acknowledged write
 * (R + W > rf), begun after that write completed, returns a version at least as high. A violation
 * by a delete is reported as a resurrection.
 */
export function checkReadsSeeAckedWrites(history: KvHistory, options: CheckOptions): string[] {
  const index = new Index(history);
  const out: string[] = [];
  for (const [key, reads] of index.readsOf) {
    const writes = (index.writesOf.get(key) ?? []).filter(
      (w) => w.outcome === 'ok' && w.version !== undefined && w.completedAt !== undefined,
    );
    for (const r of reads) {
      if (r.outcome !== 'ok') continue;
      for (const w of writes) {
        if (w.completedAt! >= r.invokedAt || !strong(r.level, w.level, options.rf)) continue;
        if (options.exposed?.(key, w.invokedAt, r.completedAt ?? r.invokedAt, 1)) continue;
        const why = olderThan(index, r, w.version!, options.slackMs);
        if (why === undefined) continue;
        const kind = w.value === undefined ? 'resurrected delete' : 'lost acknowledged write';
        out.push(
          `${kind} on key ${key}: ${describeRead(r)} began after ${describeWrite(w)} was acknowledged, but ${why}`,
        );
        break;
      }
    }
  }
  return out;
}

/** Checker 4: a strong read never returns an older version than a strong read that completed before it began. */
export function checkMonotonicReads(history: KvHistory, options: CheckOptions): string[] {
  const index = new Index(history);
  const out: string[] = [];
  for (const [key, reads] of index.readsOf) {
    const done = reads.filter((r) => r.outcome === 'ok' && r.completedAt !== undefined);
    for (const r2 of done) {
      for (const r1 of done) {
        if (r1 === r2 || r1.completedAt! >= r2.invokedAt || !strong(r1.level, r2.level, options.rf)) continue;
        if (r1.value === null || r1.value === undefined) continue;
        const y1 = index.byValue.get(r1.value);
        if (y1 === undefined || y1.version === undefined) continue;
        if (options.exposed?.(key, r1.invokedAt, r2.completedAt!, 1)) continue;
        const why = olderThan(index, r2, y1.version, options.slackMs);
        if (why === undefined) continue;
        out.push(
          `non-monotonic reads on key ${key}: ${describeRead(r2)} began after ${describeRead(r1)} (${describeWrite(y1)}) completed, but ${why}`,
        );
        break;
      }
    }
  }
  return out;
}

/** Checker 5: every value read names a write of the same key invoked before the read completed. */
export function checkNoPhantoms(history: KvHistory): string[] {
  const index = new Index(history);
  const out: string[] = [];
  for (const r of history.reads) {
    if (r.outcome !== 'ok' || r.value === null || r.value === undefined) continue;
    const w = index.byValue.get(r.value);
    if (w === undefined || w.key !== r.key)
      out.push(`phantom: ${describeRead(r)} on key ${r.key} returned a value never written to it`);
    else if (w.invokedAt > (r.completedAt ?? r.invokedAt))
      out.push(
        `phantom: ${describeRead(r)} on key ${r.key} returned ${describeWrite(w)}, invoked after the read completed`,
      );
  }
  return out;
}

/** Options of {@link checkFinalState}. */
export interface FinalOptions extends CheckOptions {
  /** True time of the final check. */
  readonly now: number;
  /** Tombstones and expired cells older than this are purged (absent cells are then explained). */
  readonly gcGraceMs: number;
}

/**
 * Checkers 1, 3 and 5 on the converged state: every acknowledged strong write of a key is its
 * final cell or older than it (a purged tombstone or expired cell explains an absent one), and a
 * final cell is a write's (same version and contents).
 */
export function checkFinalState(
  history: KvHistory,
  finalCells: ReadonlyMap<string, FinalCell | undefined>,
  options: FinalOptions,
): string[] {
  const index = new Index(history);
  const out: string[] = [];
  const purgedBy = options.now - options.gcGraceMs + options.slackMs;
  for (const [key, cell] of finalCells) {
    const writes = index.writesOf.get(key) ?? [];
    if (cell !== undefined) {
      const source = writes.find(
        (w) => w.version !== undefined && compareVersions(w.version, cell.version) === 0,
      );
      if (source === undefined || source.value !== cell.value || source.expiresAt !== cell.expiresAt) {
        out.push(
          `phantom cell on key ${key}: the replicas hold v=${describeVersion(cell.version)} value=${JSON.stringify(cell.value)}, which no write of the key made`,
        );
        continue;
      }
    }
    for (const w of writes) {
      if (w.outcome !== 'ok' || w.version === undefined || !strong('QUORUM', w.level, options.rf)) continue;
      if (options.exposed?.(key, w.invokedAt, options.now, requiredReplicas(w.level, options.rf))) continue;
      if (cell !== undefined && compareVersions(cell.version, w.version) >= 0) continue;
      if (cell === undefined && purgedExplains(index, key, w.version, purgedBy)) continue;
      const kind = w.value === undefined ? 'resurrected delete' : 'lost acknowledged write';
      out.push(
        `${kind} on key ${key} after heal: ${describeWrite(w)}, but the replicas hold ${cell === undefined ? 'nothing' : `v=${describeVersion(cell.version)}`}`,
      );
    }
  }
  return out;
}

/** True when a delete or TTL write of `key` with a version >= `v` died before `purgedBy` (so it may be purged). */
function purgedExplains(index: Index, key: string, v: Version, purgedBy: number): boolean {
  for (const x of index.writesOf.get(key) ?? []) {
    if (x.version === undefined || compareVersions(x.version, v) < 0) continue;
    const died = x.value === undefined ? x.version.wall : x.expiresAt;
    if (died !== undefined && died <= purgedBy) return true;
  }
  return false;
}

/**
 * Checker 2: every replica of a key holds the same cell (by `same`). `cells` maps node to its
 * cells by key; `replicasOf` names a key's natural replicas.
 */
export function checkReplicasEqual<C>(
  cells: ReadonlyMap<string, ReadonlyMap<string, C>>,
  replicasOf: (key: string) => readonly string[],
  same: (a: C | undefined, b: C | undefined) => boolean,
  describe: (c: C | undefined) => string,
): string[] {
  const keys = new Set<string>();
  for (const m of cells.values()) for (const k of m.keys()) keys.add(k);
  const out: string[] = [];
  for (const key of [...keys].sort()) {
    const replicas = replicasOf(key);
    const first = replicas[0];
    if (first === undefined) continue;
    const want = cells.get(first)?.get(key);
    for (const n of replicas.slice(1)) {
      const got = cells.get(n)?.get(key);
      if (!same(want, got)) {
        out.push(
          `replicas differ on key ${key}: ${first} holds ${describe(want)}, ${n} holds ${describe(got)}`,
        );
        break;
      }
    }
  }
  return out;
}
