import { assert, bytesEqual } from '../../core/index.js';
import type { NodeId, SignatureScheme, SignedRecord } from '../../security/index.js';
import { SIGNATURE_BYTES, verifyRecord } from '../../security/index.js';
import { verifiedRecord } from '../intern.js';
import type { StateConfig } from './config.js';
import type { StateEvent, StateStats } from './events.js';
import type { StateLimits } from './limits.js';
import type { NodeDelta, WireRecord } from './messages.js';
import { type NodeState, recordBytes } from './node-state.js';
import {
  decodeStatePayload,
  type PayloadBounds,
  type RejectReason,
  type StatePayload,
  type StateValue,
} from './records.js';
import type { StateStore } from './store.js';

/** What the merge rule reads: the node's settings, bounds, scheme, vouching and counters. */
export interface MergeOptions {
  /** The local node's id: its own records are never taken from peers. */
  readonly self: NodeId;
  readonly config: StateConfig;
  readonly limits: StateLimits;
  readonly bounds: PayloadBounds;
  readonly scheme: SignatureScheme;
  readonly vouch: ((node: NodeId) => boolean) | undefined;
  /** The state core's counters, updated in place. */
  readonly stats: StateStats;
}

/**
 * The merge rule of a {@link ScuttlebuttState}: checks every remote record (shape, vouching,
 * payload, generation, version, limits and byte budget, then the signature) and applies the new
 * ones to the store, resetting a node on a newer generation or a collected-past peer, and raising
 * watermarks only over what authentic records cover. Remote input never throws here.
 */
export class StateMerge {
  constructor(
    private readonly store: StateStore,
    private readonly o: MergeOptions,
  ) {}

  /** Applies a delta (from a SynAck, an Ack or a stream exchange); returns the events. */
  applyDelta(delta: readonly NodeDelta[], nowMs: number): StateEvent[] {
    const events: StateEvent[] = [];
    for (const section of delta) this.applySection(section, nowMs, events);
    return events;
  }

  /**
   * Applies one signed record that arrived outside a delta (SWIM's piggyback, eager push): same
   * checks and merge rule as a delta. It raises the watermark only over versions held
   * contiguously, so anti-entropy still fetches anything it skipped.
   */
  applyRecord(record: SignedRecord, nowMs: number): StateEvent[] {
    const events: StateEvent[] = [];
    if (record.node === this.o.self) {
      this.o.stats.ownIgnored++;
      return events;
    }
    const applied = this.processRecord(record.node, record, nowMs, events);
    const s = this.store.nodes.get(record.node);
    if (applied && s !== undefined) this.settle(s, events);
    return events;
  }

  private vouched(node: NodeId): boolean {
    return this.o.vouch === undefined || this.o.vouch(node);
  }

  private reject(reason: RejectReason): false {
    this.o.stats.rejected[reason]++;
    return false;
  }

  private applySection(section: NodeDelta, nowMs: number, events: StateEvent[]): void {
    const node = section.node;
    if (node === this.o.self) {
      this.o.stats.ownIgnored += section.records.length + (section.heartbeat === undefined ? 0 : 1);
      return;
    }
    if (!this.vouched(node)) {
      this.o.stats.rejected.unvouched += section.records.length + (section.heartbeat === undefined ? 0 : 1);
      return;
    }
    let s = this.store.nodes.get(node);
    const fresh = s === undefined || s.generation < section.generation;
    if (
      s !== undefined &&
      s.generation === section.generation &&
      section.fromVersion === 0 &&
      section.gcVersion > s.gcVersion &&
      section.gcVersion > s.maxVersion
    ) {
      this.gcReset(s, section.gcVersion, events);
    }
    let trusted = true;
    const records =
      section.heartbeat === undefined ? section.records : [section.heartbeat, ...section.records];
    for (const r of records) {
      const before =
        this.o.stats.rejected.forged + this.o.stats.rejected.unsigned + this.o.stats.rejected.malformed;
      this.processRecord(node, r, nowMs, events);
      if (
        this.o.stats.rejected.forged + this.o.stats.rejected.unsigned + this.o.stats.rejected.malformed !==
        before
      )
        trusted = false;
    }
    s = this.store.nodes.get(node);
    if (s === undefined || s.generation !== section.generation) return;
    if (fresh && section.fromVersion === 0) s.gcVersion = Math.max(s.gcVersion, section.gcVersion);
    // The sender's claim of what its records cover is taken only from a section whose records
    // were all authentic, and only when it starts at or below our watermark (no gap).
    if (trusted && section.fromVersion <= s.maxVersion && section.maxVersion > s.maxVersion) {
      s.maxVersion = section.maxVersion;
    }
    this.settle(s, events);
  }

  /** Advances the watermark over contiguous versions and drops unconfirmed keys it passed. */
  private settle(s: NodeState, events: StateEvent[]): void {
    s.advance();
    if (s.unconfirmed === undefined) return;
    for (const key of [...s.unconfirmed]) {
      const e = s.entries.get(key);
      if (e === undefined || e.version > s.maxVersion) continue;
      this.store.tracked(s, () => s.remove(key));
      if (e.value !== null) {
        events.push({
          type: 'update',
          node: s.node,
          key,
          value: undefined,
          version: e.version,
          record: undefined,
        });
      }
    }
    if (s.unconfirmed.size === 0) s.unconfirmed = undefined;
  }

  private gcReset(s: NodeState, gcVersion: number, events: StateEvent[]): void {
    s.maxVersion = 0;
    s.gcVersion = gcVersion;
    s.unconfirmed = new Set(s.entries.keys());
    this.o.stats.gcResets++;
    events.push({
      type: 'nodeReset',
      node: s.node,
      reason: 'gc',
      generation: s.generation,
      previousGeneration: s.generation,
    });
  }

  /** Replaces what is held of `node` by an empty state at `generation`; reports the reset and dropped keys. */
  generationReset(node: NodeId, generation: number, events: StateEvent[]): NodeState {
    const old = this.store.nodes.get(node);
    const s = this.store.addNode(node, generation);
    if (old !== undefined) {
      this.o.stats.generationResets++;
      events.push({
        type: 'nodeReset',
        node,
        reason: 'generation',
        generation,
        previousGeneration: old.generation,
      });
      for (const e of old.entries.values()) {
        if (e.value !== null) {
          events.push({
            type: 'update',
            node,
            key: e.key,
            value: undefined,
            version: e.version,
            record: undefined,
          });
        }
      }
    }
    return s;
  }

  /**
   * The merge rule for one record of `node`: checks it, and applies it when it is new. Checks run
   * cheapest first, and the signature is verified only for a record that would be applied, so a
   * record relayed many times costs one verification.
   */
  private processRecord(node: NodeId, r: WireRecord, nowMs: number, events: StateEvent[]): boolean {
    if (!(r.signature instanceof Uint8Array) || r.signature.length !== SIGNATURE_BYTES)
      return this.reject('unsigned');
    if (!this.vouched(node)) return this.reject('unvouched');
    const p = decodeStatePayload(r.payload, this.o.bounds);
    if (p === undefined) return this.reject('malformed');
    const s = this.store.nodes.get(node);
    if (s !== undefined && p.generation < s.generation) return this.reject('stale');
    if (s !== undefined && p.generation === s.generation) {
      if (p.type === 'heartbeat') {
        if (r.version <= s.heartbeat) return this.duplicate();
      } else {
        if (r.version === 0) return this.reject('malformed');
        const e = s.entries.get(p.key);
        if (e !== undefined && r.version <= e.version) {
          if (
            r.version === e.version &&
            s.unconfirmed?.has(p.key) &&
            bytesEqual(r.signature, e.record.signature)
          ) {
            s.unconfirmed.delete(p.key);
          }
          return this.duplicate();
        }
        if (r.version <= s.maxVersion) return this.duplicate();
        if (p.value === null && r.version <= s.gcVersion) return this.duplicate();
        if (e === undefined && s.entries.size >= this.o.config.maxKeysPerNode) return this.reject('limit');
      }
    } else if (s === undefined && this.store.nodes.size >= this.o.limits.maxNodes) {
      return this.reject('limit');
    }
    if (this.store.bytes - this.freedBy(s, p) + recordBytes(r) > this.o.limits.maxStateBytes) {
      return this.reject('budget');
    }
    // Verified once per process and shared by every node that keeps it (../intern.ts).
    const record = verifiedRecord(
      { node, version: r.version, payload: r.payload, signature: r.signature },
      this.o.scheme,
      (compact) => verifyRecord(compact, this.o.scheme),
    );
    if (record === undefined) return this.reject('forged');
    const target =
      s === undefined || p.generation > s.generation ? this.generationReset(node, p.generation, events) : s;
    this.o.stats.applied++;
    if (p.type === 'heartbeat') {
      assert(r.version > target.heartbeat, 'heartbeats only grow');
      this.store.tracked(target, () => target.setHeartbeat(record));
      events.push({ type: 'heartbeat', node, heartbeat: r.version, record });
      return true;
    }
    // A byte value decoded from `r` is a view into the packet or frame it came in, which the
    // transport reuses once the handler returns: keep the one decoded from the kept record.
    const value =
      p.value instanceof Uint8Array && record.payload !== r.payload
        ? ownValue(record.payload, p.value, this.o.bounds)
        : p.value;
    this.store.put(target, p.key, value, record, nowMs);
    events.push({
      type: 'update',
      node,
      key: p.key,
      value: value ?? undefined,
      version: r.version,
      record,
    });
    return true;
  }

  /** Bytes that applying a record with payload `p` would drop: the record it replaces, or a whole older generation. */
  private freedBy(s: NodeState | undefined, p: StatePayload): number {
    if (s === undefined) return 0;
    if (p.generation > s.generation) return s.bytes;
    if (p.type === 'heartbeat') return s.heartbeatRecord === undefined ? 0 : recordBytes(s.heartbeatRecord);
    const e = s.entries.get(p.key);
    return e === undefined ? 0 : recordBytes(e.record);
  }

  private duplicate(): false {
    this.o.stats.duplicates++;
    return false;
  }
}

/** The byte value of a kv payload, decoded from `payload` (the record kept); `seen` when that fails. */
function ownValue(
  payload: Uint8Array,
  seen: Uint8Array,
  bounds: Parameters<typeof decodeStatePayload>[1],
): StateValue {
  const again = decodeStatePayload(payload, bounds);
  // The kept record has the same bytes as the one already decoded, so this cannot fail; a copy
  // keeps the rule (no view into a delivered packet) even if it did.
  return again?.type === 'kv' && again.value instanceof Uint8Array ? again.value : new Uint8Array(seen);
}
