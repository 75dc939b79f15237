import { assert, type Rng } from '../../core/index.js';
import type { NodeId, SignedRecord } from '../../security/index.js';
import type { MemberStatus } from './claims.js';
import { memberKey } from './member-key.js';
import { SlotIndex } from './slot-index.js';
import type { SwimMember } from './types.js';

/**
 * What a member's alive record says: id, name, address, generation and the record itself. An
 * opened alive record (`VerifiedAlive`) is one, and is shared by every node of the process that
 * holds it (../intern.ts), so entries point at it rather than copy its fields.
 */
export interface MemberDescriptor {
  readonly node: NodeId;
  /** `memberKey(node)` (see member-key.ts). */
  readonly key: number;
  readonly name: string;
  readonly address: string;
  readonly generation: number;
  readonly record: SignedRecord;
}

/**
 * The member table: one small object per member (no closures, no timers: the core keeps those
 * keyed in one structure), found by id through a {@link SlotIndex} and sampled through a dense
 * array.
 *
 * An entry holds what this node alone decides (incarnation, status and since when) and a pointer to
 * the shared {@link MemberDescriptor}: every node of a simulation holds an entry per member, so
 * fields copied from the record (two of them boxed numbers) were a third of a member pair's memory.
 */
export class MemberEntry {
  /** Position in the table's dense array; maintained by {@link MemberTable}. */
  slot = -1;
  constructor(
    /** The alive record's fields; replaced, never modified (it is shared). */
    public desc: MemberDescriptor,
    public incarnation: number,
    public status: MemberStatus,
  ) {}

  get id(): NodeId {
    return this.desc.node;
  }

  /** `memberKey(id)`. */
  get key(): number {
    return this.desc.key;
  }

  get name(): string {
    return this.desc.name;
  }

  get address(): string {
    return this.desc.address;
  }

  /** The generation; a leave of a newer generation raises it above the alive record's. */
  get generation(): number {
    return this.desc.generation;
  }

  get aliveRecord(): SignedRecord {
    return this.desc.record;
  }

  /** True while the member is probed and gossiped to (alive or suspect). */
  get up(): boolean {
    return this.status === 'alive' || this.status === 'suspect';
  }

  /** An immutable copy for events and callers; `statusSinceMs` from {@link MemberTable.sinceOf}. */
  view(statusSinceMs: number): SwimMember {
    return {
      id: this.id,
      name: this.name,
      address: this.address,
      generation: this.generation,
      incarnation: this.incarnation,
      status: this.status,
      statusSinceMs,
      aliveRecord: this.aliveRecord,
    };
  }
}

/** See {@link MemberEntry}. */
export class MemberTable {
  private readonly dense: MemberEntry[] = [];
  /** Id -> position in `dense` (a `Map` cost about 46 bytes per member; see SlotIndex). */
  private readonly index = new SlotIndex(
    (slot) => this.dense[slot]!.id,
    (slot) => this.dense[slot]!.key,
    memberKey,
  );
  private up = 0;
  /**
   * Since when each entry's status holds, by slot. Not a field of the entry: simulated time is
   * fractional, and a fractional number in a field is a separate 16-byte heap number (Node builds
   * V8 without pointer compression), one more object per member pair for every collection. A plain
   * array of numbers instead: V8 keeps it as unboxed doubles (or small integers while every time is
   * whole), 8 bytes each, on the heap. A `Float64Array` was ArrayBuffer memory, and V8 starts a full collection
   * for every 64 MB of that allocated: at 10,000 simulated nodes every node's column doubling
   * from 8,192 to 16,384 entries was 1.3 GB, twenty collections of a heap of gigabytes.
   */
  private readonly since: number[] = [];

  /** Entries, the local node included. */
  get size(): number {
    return this.dense.length;
  }

  /** Entries alive or suspect, the local node included. */
  get upCount(): number {
    return this.up;
  }

  /** Sets an entry's status and the time it took it, keeping {@link upCount}. */
  setStatus(entry: MemberEntry, status: MemberStatus, sinceMs: number): void {
    assert(this.dense[entry.slot] === entry, 'setting the status of an entry that is not in the table');
    const was = entry.up;
    entry.status = status;
    this.since[entry.slot] = sinceMs;
    if (was !== entry.up) this.up += was ? -1 : 1;
  }

  /** Since when the status of an entry in the table holds (on the core's clock, ms). */
  sinceOf(entry: MemberEntry): number {
    assert(this.dense[entry.slot] === entry, 'reading an entry that is not in the table');
    return this.since[entry.slot]!;
  }

  /** An immutable copy of an entry in the table, for events and callers. */
  view(entry: MemberEntry): SwimMember {
    return entry.view(this.sinceOf(entry));
  }

  /** The entry of `id`; `key` is `memberKey(id)` when the caller has it (an opened record does). */
  get(id: NodeId, key = memberKey(id)): MemberEntry | undefined {
    const slot = this.index.find(id, key);
    return slot < 0 ? undefined : this.dense[slot];
  }

  /** Adds an entry whose id is not in the table, whose status holds since `sinceMs`. */
  add(entry: MemberEntry, sinceMs: number): void {
    assert(this.index.find(entry.id, entry.key) < 0, `member ${entry.id} is already in the table`);
    entry.slot = this.dense.length;
    this.since.push(sinceMs);
    this.dense.push(entry);
    this.index.insert(entry.id, entry.slot, entry.key);
    if (entry.up) this.up++;
  }

  /** Removes an entry of the table: the last entry takes its slot. */
  remove(entry: MemberEntry): void {
    assert(this.dense[entry.slot] === entry, 'removing an entry that is not in the table');
    if (entry.up) this.up--;
    // The index reads ids through `dense`: update it while both rows are still in place.
    this.index.delete(entry.id, entry.key);
    const last = this.dense[this.dense.length - 1]!;
    if (last !== entry) {
      this.index.move(last.id, entry.slot, last.key);
      this.dense[entry.slot] = last;
      this.since[entry.slot] = this.since[last.slot]!;
      last.slot = entry.slot;
    }
    this.dense.pop();
    this.since.pop();
    entry.slot = -1;
  }

  /** Every entry (the live array: do not modify). */
  all(): readonly MemberEntry[] {
    return this.dense;
  }

  /**
   * Up to `k` distinct entries accepted by `accept`, chosen at random: rejection sampling over the
   * dense array first (bounded tries), then a full scan when too few were found that way.
   */
  sample(rng: Rng, k: number, accept: (e: MemberEntry) => boolean): MemberEntry[] {
    const n = this.dense.length;
    if (k <= 0 || n === 0) return [];
    const out: MemberEntry[] = [];
    const tries = 4 * k + 16;
    for (let i = 0; i < tries && out.length < k; i++) {
      const e = this.dense[rng.int(n)]!;
      if (accept(e) && !out.includes(e)) out.push(e);
    }
    if (out.length < k) {
      const rest = this.dense.filter((e) => accept(e) && !out.includes(e));
      out.push(...rng.sample(rest, k - out.length));
    }
    return out;
  }
}
