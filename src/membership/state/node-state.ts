import { assert } from '../../core/index.js';
import type { NodeId, SignedRecord } from '../../security/index.js';
import type { StateValue } from './records.js';

/**
 * What one node holds about one node (itself included): versioned entries, the watermark, the
 * gc version and the heartbeat. Plain data with small helpers; the merge rules live in
 * `merge.ts`.
 *
 * Invariant (the Scuttlebutt invariant, DESIGN.md): applying the node's latest record of every key
 * with a version above `maxVersion` to these entries yields the node's own state. Entries above
 * `maxVersion` (records that arrived out of order through the eager push path) are authentic and
 * only make the state fresher; they are never relayed by anti-entropy until the watermark passes
 * them.
 */

/** One key of a node: its value (or tombstone), version and the signed record that carried it. */
export interface StateEntry {
  readonly key: string;
  /** The value; `null` is a tombstone (the key was deleted). */
  readonly value: StateValue | null;
  readonly version: number;
  /** The signed record, kept so that this node can relay it. */
  readonly record: SignedRecord;
  /** For a tombstone: when this node learned of the delete (ms, the caller's clock). */
  readonly tombstoneSinceMs: number | undefined;
}

/** Shared empty maps of a NodeState that holds no keys (never modified). */
const EMPTY_ENTRIES: ReadonlyMap<string, StateEntry> = new Map();
const EMPTY_VERSIONS: ReadonlyMap<number, StateEntry> = new Map();

/** A node's state as one node holds it. */
export class NodeState {
  readonly node: NodeId;
  readonly generation: number;
  /** The watermark: every record up to it is held or superseded (see the class invariant). */
  maxVersion = 0;
  /** Tombstones up to this version were garbage-collected (here or, after a reset, by the peer). */
  gcVersion = 0;
  /** The highest heartbeat held, 0 = none. */
  heartbeat = 0;
  /** The signed record of {@link heartbeat}; set it with {@link setHeartbeat}. */
  heartbeatRecord: SignedRecord | undefined = undefined;
  /** Bytes of the records held (entries and heartbeat): see {@link recordBytes}. */
  bytes = 0;
  // Both maps are created with the first entry: most nodes of a large cluster hold no keys (only a
  // heartbeat), and every node keeps a NodeState per member, so two empty maps per member were
  // most of a member's memory in a 10,000-node simulation.
  #entries: Map<string, StateEntry> | undefined = undefined;
  #byVersion: Map<number, StateEntry> | undefined = undefined;

  /** Entries by key (tombstones included). */
  get entries(): ReadonlyMap<string, StateEntry> {
    return this.#entries ?? EMPTY_ENTRIES;
  }

  /** The same entries by version: versions are unique within a generation. */
  get byVersion(): ReadonlyMap<number, StateEntry> {
    return this.#byVersion ?? EMPTY_VERSIONS;
  }
  /**
   * Keys held from before a gc reset and not yet re-sent by a peer: each is dropped once the
   * watermark passes its version without a record confirming it. Usually `undefined`.
   */
  unconfirmed: Set<string> | undefined = undefined;

  constructor(node: NodeId, generation: number) {
    assert(Number.isSafeInteger(generation) && generation >= 1, `generation must be >= 1, got ${generation}`);
    this.node = node;
    this.generation = generation;
  }

  /** Stores `entry`, replacing the key's older entry. */
  put(entry: StateEntry): StateEntry | undefined {
    const old = this.entries.get(entry.key);
    if (old !== undefined) {
      assert(
        entry.version > old.version,
        `version of ${entry.key} must grow: ${entry.version} <= ${old.version}`,
      );
      this.#byVersion?.delete(old.version);
      this.bytes -= recordBytes(old.record);
    }
    assert(!this.byVersion.has(entry.version), `version ${entry.version} held twice`);
    this.bytes += recordBytes(entry.record);
    this.#entries ??= new Map();
    this.#byVersion ??= new Map();
    this.#entries.set(entry.key, entry);
    this.#byVersion.set(entry.version, entry);
    this.unconfirmed?.delete(entry.key);
    return old;
  }

  /** Removes the entry of `key` (a collected tombstone, or an unconfirmed key swept). */
  remove(key: string): StateEntry | undefined {
    const old = this.entries.get(key);
    if (old === undefined) return undefined;
    this.#entries?.delete(key);
    this.#byVersion?.delete(old.version);
    this.unconfirmed?.delete(key);
    this.bytes -= recordBytes(old.record);
    return old;
  }

  /** Keeps `record` as the heartbeat (its version is the heartbeat counter). */
  setHeartbeat(record: SignedRecord): void {
    if (this.heartbeatRecord !== undefined) this.bytes -= recordBytes(this.heartbeatRecord);
    this.heartbeat = record.version;
    this.heartbeatRecord = record;
    this.bytes += recordBytes(record);
  }

  /**
   * Raises the watermark over versions held contiguously above it: holding the record of version
   * `maxVersion + 1` keeps the invariant at `maxVersion + 1`, because that version belongs to one
   * key only. Confirms the entries it steps over.
   */
  advance(): void {
    for (;;) {
      const next = this.byVersion.get(this.maxVersion + 1);
      if (next === undefined) return;
      this.maxVersion++;
      this.unconfirmed?.delete(next.key);
    }
  }

  /** {@link bytes} counted from scratch: a check of the running count. */
  recountBytes(): number {
    let n = this.heartbeatRecord === undefined ? 0 : recordBytes(this.heartbeatRecord);
    for (const e of this.entries.values()) n += recordBytes(e.record);
    return n;
  }

  /** Live (non-tombstone) entry count. */
  liveCount(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.value !== null) n++;
    return n;
  }

  /** Entries with `from < version <= to`, in version order. */
  range(from: number, to: number): StateEntry[] {
    const out: StateEntry[] = [];
    if (to - from <= this.byVersion.size * 4) {
      // Dense: walk the versions.
      for (let version = from + 1; version <= to; version++) {
        const e = this.byVersion.get(version);
        if (e !== undefined) out.push(e);
      }
      return out;
    }
    for (const e of this.entries.values()) if (e.version > from && e.version <= to) out.push(e);
    out.sort((a, b) => a.version - b.version);
    return out;
  }
}

/**
 * What a record counts against the state budget: its payload and signature bytes (the key and
 * value are inside the payload; the object and map overhead is about the same for every record).
 */
export function recordBytes(record: Pick<SignedRecord, 'payload' | 'signature'>): number {
  return record.payload.byteLength + record.signature.byteLength;
}
