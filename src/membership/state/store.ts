import type { NodeId, SignedRecord } from '../../security/index.js';
import { internId } from '../intern.js';
import { NodeState } from './node-state.js';
import type { StateValue } from './records.js';

interface Tombstone {
  readonly node: NodeId;
  readonly key: string;
  readonly version: number;
  readonly sinceMs: number;
}

/**
 * The records a {@link ScuttlebuttState} holds: one {@link NodeState} per node, the running total
 * of their bytes (checked against `limits.maxStateBytes` before a record is taken), the order
 * nodes were learned in (the digest's round-robin), and the tombstones waiting for collection.
 * Every change of a node's records goes through {@link tracked}, so the total stays exact.
 */
export class StateStore {
  /** Every node held, this node included. */
  readonly nodes = new Map<NodeId, NodeState>();
  /** Bytes of every record kept, all nodes (`recordBytes`), against `limits.maxStateBytes`. */
  bytes = 0;
  /** Round-robin order of known nodes for partial digests (forgotten ones compacted out lazily). */
  order: NodeId[] = [];
  /** Tombstones in the order they were learned, for collection. */
  private tombstones: Tombstone[] = [];
  private tombstoneHead = 0;

  /** {@link bytes} counted from scratch over every record held: a check, O(records). */
  recountBytes(): number {
    let n = 0;
    for (const s of this.nodes.values()) n += s.recountBytes();
    return n;
  }

  /** A new, empty state of `decodedId` at `generation`, replacing any older one. */
  addNode(decodedId: NodeId, generation: number): NodeState {
    // One string per node id in the process (ids decoded from packets are fresh copies each).
    const node = internId(decodedId);
    const s = new NodeState(node, generation);
    const old = this.nodes.get(node);
    if (old === undefined) this.order.push(node);
    else this.bytes -= old.bytes;
    this.nodes.set(node, s);
    return s;
  }

  /** Drops `node`'s state and its bytes; false when it was not held. */
  remove(node: NodeId): boolean {
    const s = this.nodes.get(node);
    if (s === undefined) return false;
    this.bytes -= s.bytes;
    return this.nodes.delete(node);
  }

  /** Runs a change of `s` and keeps the total of record bytes in step with it. */
  tracked<T>(s: NodeState, change: () => T): T {
    const before = s.bytes;
    const result = change();
    this.bytes += s.bytes - before;
    return result;
  }

  /** Puts one entry of `s` (a tombstone when `value` is null, queued for collection). */
  put(s: NodeState, key: string, value: StateValue | null, record: SignedRecord, nowMs: number): void {
    this.tracked(s, () =>
      s.put({
        key,
        value,
        version: record.version,
        record,
        tombstoneSinceMs: value === null ? nowMs : undefined,
      }),
    );
    if (value === null) this.tombstones.push({ node: s.node, key, version: record.version, sinceMs: nowMs });
  }

  /**
   * Collects tombstones older than `graceMs` (and covered by the node's watermark), raising each
   * node's gcVersion. A tombstone above the watermark is kept for a later pass.
   *
   * @returns how many tombstones were collected
   */
  collectGarbage(nowMs: number, graceMs: number): number {
    let collected = 0;
    const requeue: Tombstone[] = [];
    while (this.tombstoneHead < this.tombstones.length) {
      const t = this.tombstones[this.tombstoneHead]!;
      if (t.sinceMs + graceMs > nowMs) break;
      this.tombstoneHead++;
      const s = this.nodes.get(t.node);
      const e = s?.entries.get(t.key);
      if (s === undefined || e === undefined || e.version !== t.version || e.value !== null) continue;
      if (t.version > s.maxVersion) {
        requeue.push(t);
        continue;
      }
      this.tracked(s, () => s.remove(t.key));
      s.gcVersion = Math.max(s.gcVersion, t.version);
      collected++;
    }
    if (this.tombstoneHead > 1024 && this.tombstoneHead * 2 > this.tombstones.length) {
      this.tombstones = this.tombstones.slice(this.tombstoneHead);
      this.tombstoneHead = 0;
    }
    for (const t of requeue) this.tombstones.push(t);
    return collected;
  }
}
