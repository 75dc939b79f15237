import { createHash } from 'node:crypto';
import type { Entry, HardState, RaftLogStore, Snapshot } from '../../src/raft/types.js';
import type { MvccPort } from '../../src/store/server/ports.js';

/**
 * Safety checkers of the store swarm, fed by observers wrapped around each member's production
 * objects (its durable log and its raft applier). Every check is cheap and incremental, so it runs
 * as the events happen; a violation is kept (the first one fails the run at the next check).
 *
 * - Election safety: at most one leader per term, over every node's reports.
 * - Committed entries never lost or changed: per index, the term of the first committed entry
 *   any node saw there; a node whose log holds another term at an index at or below its own
 *   commit, or that applies another entry at that index, is a violation. A restarted node's log
 *   must still hold its durably acknowledged commit (or a snapshot covering it).
 * - Applied state equal: two nodes whose MVCC store applied up to the same index hold the same
 *   revision and the same state hash (every key's value and revisions, and the leases).
 */
export class StoreSafety {
  readonly violations: string[] = [];
  /** term → the leader some node reported for it. */
  readonly leaders = new Map<number, { id: number; node: string }>();
  /** index → term of the committed entry there (first seen). */
  private readonly committed = new Map<number, { term: number; node: string }>();
  /** index → term and data digest of the entry applied there (first seen). */
  private readonly applied = new Map<number, { digest: string; node: string }>();
  /** MVCC applied index → revision and state hash (first seen). */
  private readonly states = new Map<number, { revision: number; hash: string; node: string }>();
  /** Counters, for the sweep's summary line. */
  readonly counts = { leaders: 0, committed: 0, applied: 0, states: 0, restarts: 0 };

  violation(message: string): void {
    if (this.violations.length < 20) this.violations.push(message);
  }

  /** A node reported `id` as leader of `term` (itself, through its role). */
  leader(term: number, id: number, node: string): void {
    const seen = this.leaders.get(term);
    if (seen === undefined) {
      this.leaders.set(term, { id, node });
      this.counts.leaders++;
    } else if (seen.id !== id) {
      this.violation(
        `two leaders in term ${term}: ${seen.id} (seen by ${seen.node}) and ${id} (seen by ${node})`,
      );
    }
  }

  /** `node` holds an entry of `term` at `index`, at or below its commit index. */
  committedEntry(node: string, index: number, term: number): void {
    const seen = this.committed.get(index);
    if (seen === undefined) {
      this.committed.set(index, { term, node });
      this.counts.committed++;
    } else if (seen.term !== term) {
      this.violation(
        `committed entry changed: index ${index} has term ${seen.term} on ${seen.node} but term ${term} on ${node}`,
      );
    }
  }

  /** The committed term at `index`, when some node saw it. */
  committedTerm(index: number): number | undefined {
    return this.committed.get(index)?.term;
  }

  /** `node` applies `entries` (committed by definition). */
  appliedEntries(node: string, entries: readonly Entry[]): void {
    for (const e of entries) {
      this.committedEntry(node, e.index, e.term);
      const digest = `${e.term}:${e.type}:${digestBytes(e.data)}`;
      const seen = this.applied.get(e.index);
      if (seen === undefined) {
        this.applied.set(e.index, { digest, node });
        this.counts.applied++;
      } else if (seen.digest !== digest) {
        this.violation(
          `applied entries differ at index ${e.index}: ${seen.digest} on ${seen.node}, ${digest} on ${node}`,
        );
      }
    }
  }

  /** `node`'s MVCC store applied up to `index` and holds `revision` and `hash`. */
  appliedState(node: string, index: number, revision: number, hash: string): void {
    const seen = this.states.get(index);
    if (seen === undefined) {
      this.states.set(index, { revision, hash, node });
      this.counts.states++;
    } else if (seen.revision !== revision || seen.hash !== hash) {
      this.violation(
        `applied state differs at index ${index}: revision ${seen.revision} hash ${seen.hash.slice(0, 12)} on ${seen.node}, revision ${revision} hash ${hash.slice(0, 12)} on ${node}`,
      );
    }
  }
}

/** A short digest of bytes. */
export function digestBytes(data: Uint8Array): string {
  return createHash('sha1').update(data).digest('hex').slice(0, 16);
}

/**
 * A hash of an MVCC store's current state: every key with its value, create and mod revisions,
 * version and lease, the revision, and the leases with their keys. Reads the store locally.
 */
export async function stateHash(mvcc: MvccPort): Promise<{ revision: number; hash: string }> {
  const revision = mvcc.revision;
  const r = await mvcc.range({ key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) });
  const h = createHash('sha1');
  h.update(`rev ${revision}\n`);
  for (const kv of r.kvs) {
    h.update(kv.key);
    h.update(`\0${kv.createRevision} ${kv.modRevision} ${kv.version} ${kv.lease}\0`);
    h.update(kv.value);
    h.update('\n');
  }
  const leases = [...mvcc.leases()].sort((a, b) => a.id - b.id);
  for (const l of leases) {
    h.update(`lease ${l.id} ${l.ttl} ${l.keys.length}\n`);
    for (const k of l.keys) h.update(k);
  }
  return { revision, hash: h.digest('hex') };
}

/**
 * What the harness knows of one member's log across its incarnations: the model of the log as
 * the node last wrote it, and what was acknowledged durable (the checks after a restart).
 */
export class LogView {
  /** index → term of the node's log as it last wrote it (entries above the snapshot). */
  terms = new Map<number, number>();
  snapshotIndex = 0;
  /** The commit index of the node's last hard state, and the highest index checked against it. */
  commit = 0;
  /** Commit of the last hard state a synced save made durable (acknowledged). */
  durableCommit = 0;
  /** Index of the last snapshot whose save was acknowledged. */
  durableSnapshot = 0;

  constructor(
    readonly node: string,
    private readonly safety: StoreSafety,
  ) {}

  /** A restart loaded `state`: check it against what was acknowledged, then model it. */
  loaded(state: { hardState: HardState; snapshot: Snapshot | undefined; entries: Entry[] }): void {
    const s = this.safety;
    s.counts.restarts++;
    const snapIndex = state.snapshot?.meta.index ?? 0;
    const where = `${this.node} after restart`;
    if (snapIndex < this.durableSnapshot)
      s.violation(`${where}: snapshot ${snapIndex} is older than the acknowledged ${this.durableSnapshot}`);
    if (state.hardState.commit < this.durableCommit)
      s.violation(
        `${where}: commit ${state.hardState.commit} is below the acknowledged ${this.durableCommit}`,
      );
    state.entries.forEach((e, k) => {
      if (e.index !== snapIndex + 1 + k) s.violation(`${where}: entry ${e.index} out of place`);
    });
    const last = snapIndex + state.entries.length;
    if (last < state.hardState.commit)
      s.violation(`${where}: the log ends at ${last}, below its commit ${state.hardState.commit}`);
    if (state.snapshot !== undefined) {
      const t = s.committedTerm(snapIndex);
      if (t !== undefined && t !== state.snapshot.meta.term)
        s.violation(
          `${where}: snapshot at ${snapIndex} has term ${state.snapshot.meta.term}, committed ${t}`,
        );
    }
    this.terms = new Map(state.entries.map((e) => [e.index, e.term]));
    this.snapshotIndex = snapIndex;
    this.commit = 0;
    this.advanceCommit(Math.min(state.hardState.commit, last));
  }

  /** The node issues a save: model it in call order. */
  saving(hardState: HardState | undefined, entries: readonly Entry[]): number {
    const first = entries[0]?.index;
    if (first !== undefined) {
      for (const i of [...this.terms.keys()]) if (i >= first) this.terms.delete(i);
      for (const e of entries) this.terms.set(e.index, e.term);
      for (const e of entries) {
        if (e.index <= this.commit) this.safety.committedEntry(`${this.node} (rewrite)`, e.index, e.term);
      }
    }
    if (hardState !== undefined) this.advanceCommit(hardState.commit);
    return this.commit;
  }

  /** The node installs or takes a snapshot. */
  snapshotting(snapshot: Snapshot): void {
    const { index, term } = snapshot.meta;
    const t = this.safety.committedTerm(index);
    if (t !== undefined && t !== term)
      this.safety.violation(`${this.node}: snapshot at ${index} has term ${term}, committed ${t}`);
    if (this.terms.get(index) !== term) this.terms.clear();
    else for (const i of [...this.terms.keys()]) if (i <= index) this.terms.delete(i);
    this.snapshotIndex = Math.max(this.snapshotIndex, index);
    if (index > this.commit) this.commit = index;
  }

  private advanceCommit(commit: number): void {
    if (commit <= this.commit) return;
    for (let i = this.commit + 1; i <= commit; i++) {
      if (i <= this.snapshotIndex) continue;
      const term = this.terms.get(i);
      if (term === undefined) {
        this.safety.violation(`${this.node}: commit ${commit} covers index ${i}, missing from its log`);
        break;
      }
      this.safety.committedEntry(this.node, i, term);
    }
    this.commit = commit;
  }
}

/**
 * The production log store with a {@link LogView} watching every call. `live()` is false once the
 * incarnation that opened it crashed: its late completions are not acknowledgements any more.
 */
export class ObservedLogStore implements RaftLogStore {
  constructor(
    private readonly inner: RaftLogStore,
    private readonly view: LogView,
    private readonly live: () => boolean,
  ) {}

  async load(): Promise<{ hardState: HardState; snapshot: Snapshot | undefined; entries: Entry[] }> {
    const state = await this.inner.load();
    if (this.live()) this.view.loaded(state);
    return state;
  }

  async save(hardState: HardState | undefined, entries: readonly Entry[], sync: boolean): Promise<void> {
    const commit = this.live() ? this.view.saving(hardState, entries) : 0;
    await this.inner.save(hardState, entries, sync);
    if (sync && this.live()) this.view.durableCommit = Math.max(this.view.durableCommit, commit);
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    if (this.live()) this.view.snapshotting(snapshot);
    await this.inner.saveSnapshot(snapshot);
    if (this.live()) this.view.durableSnapshot = Math.max(this.view.durableSnapshot, snapshot.meta.index);
  }

  compact(index: number): Promise<void> {
    return this.inner.compact(index);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
