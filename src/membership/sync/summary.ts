import type { NodeId, SignedRecord } from '../../security/index.js';
import { type MemberStatus, memberKey, seededKeyHash } from '../swim/index.js';

/**
 * Member summaries for push-pull: instead of every alive record it holds (about 250 bytes each,
 * all decoded, looked up and compared by the receiver), the dialer sends one fixed-size entry per
 * member, `(key, generation, incarnation, status)`, 25 bytes. The listener answers with only the
 * alive records the dialer lacks or holds older, and names the summary entries it wants in turn;
 * the dialer sends those in its last frame. A sync between two nodes that agree moves no records
 * at all; memberlist's push-pull sends every record both ways every time.
 *
 * The key is 53 bits of a hash of the node id (`memberKey`, carried by each opened alive record).
 * A collision between two members (about 1 in 10^11 for a 10,000-member pair of tables) only makes
 * one record look already known to the peer for one exchange; gossip and later syncs still carry
 * it. It never makes a wrong record apply: records are verified and ordered by the SWIM core as
 * before.
 *
 * Entry layout (little-endian): key high 21 bits as u32, key low 32 bits as u32, generation f64,
 * incarnation f64, status u8 (0 alive, 1 suspect, 2 dead, 3 left).
 */

/** Bytes of one summary entry. */
export const SUMMARY_ENTRY_BYTES = 25;

const STATUS_CODES: readonly MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];
const STATUS_INDEX: Readonly<Record<MemberStatus, number>> = { alive: 0, suspect: 1, dead: 2, left: 3 };
const TWO_32 = 0x1_0000_0000;

/** A member as a summary needs it (`SwimCore.eachMember` passes these). */
export interface SummarizedMember {
  readonly id: NodeId;
  /** `memberKey(id)`, carried by the member so that summaries never hash ids. */
  readonly key: number;
  readonly generation: number;
  readonly incarnation: number;
  readonly status: MemberStatus;
  readonly aliveRecord: SignedRecord;
}

/** Visits members; `SwimCore.eachMember` bound to its core. */
export type MemberVisitor = (visit: (member: SummarizedMember) => void) => void;

export { memberKey };

/**
 * Writes one entry per member visited, in visit order; `records[i]` is entry i's alive record.
 *
 * `bytes` is a view into a scratch buffer of the process, valid until the next call: encode it
 * into a frame at once (the sync dialer does, in the same synchronous step). A summary is 25 bytes
 * per member, and in a simulation every node writes one per push-pull; allocating each (250 KB at
 * 10,000 members) made V8 start a full collection of the whole heap every 64 MB of such buffers
 * ("external memory pressure"), which at 10,000 nodes was most of the run.
 */
export function writeSummary(
  each: MemberVisitor,
  maxEntries: number,
): { bytes: Uint8Array; records: SignedRecord[] } {
  const records: SignedRecord[] = [];
  let view = scratch.view;
  each((m) => {
    const i = records.length;
    if (i >= maxEntries) return;
    const at = i * SUMMARY_ENTRY_BYTES;
    if (at + SUMMARY_ENTRY_BYTES > view.byteLength) view = growScratch(at + SUMMARY_ENTRY_BYTES);
    const key = m.key;
    view.setUint32(at, Math.floor(key / TWO_32), true);
    view.setUint32(at + 4, key % TWO_32, true);
    view.setFloat64(at + 8, m.generation, true);
    view.setFloat64(at + 16, m.incarnation, true);
    view.setUint8(at + 24, STATUS_INDEX[m.status]);
    records.push(m.aliveRecord);
  });
  return { bytes: new Uint8Array(view.buffer, 0, records.length * SUMMARY_ENTRY_BYTES), records };
}

/** The summary scratch buffer (see {@link writeSummary}); it only grows. */
const scratch: { view: DataView } = { view: new DataView(new ArrayBuffer(64 * SUMMARY_ENTRY_BYTES)) };

/** A larger scratch holding what was written so far; returns its view. */
function growScratch(atLeast: number): DataView {
  const old = new Uint8Array(scratch.view.buffer);
  const next = new Uint8Array(Math.max(atLeast, 2 * old.length));
  next.set(old);
  scratch.view = new DataView(next.buffer);
  return scratch.view;
}

/** A peer's summary, validated. */
export class MemberSummary {
  /**
   * Entry index + 1 by key, open addressing with linear probing (0 = empty), built on the first
   * {@link find}: a `Map` with 53-bit keys boxed every key and was a third of `compareSummary`.
   * The cells are a scratch shared by every summary of the process (one summary is compared at a
   * time; a summary whose cells another took builds them again), for the reason given at
   * {@link writeSummary}.
   */
  private cells: Int32Array | undefined;

  private constructor(
    private readonly view: DataView,
    readonly count: number,
  ) {}

  /**
   * Reads and validates a summary: whole entries, at most `maxEntries`, keys of 53 bits, safe
   * non-negative integer generations and incarnations, known status codes. `undefined` otherwise.
   */
  static read(bytes: Uint8Array, maxEntries: number): MemberSummary | undefined {
    if (bytes.length % SUMMARY_ENTRY_BYTES !== 0) return undefined;
    const count = bytes.length / SUMMARY_ENTRY_BYTES;
    if (count > maxEntries) return undefined;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < count; i++) {
      const at = i * SUMMARY_ENTRY_BYTES;
      if (view.getUint32(at, true) >= 1 << 21) return undefined;
      const generation = view.getFloat64(at + 8, true);
      const incarnation = view.getFloat64(at + 16, true);
      if (!Number.isSafeInteger(generation) || generation < 0) return undefined;
      if (!Number.isSafeInteger(incarnation) || incarnation < 0) return undefined;
      if (bytes[at + 24]! >= STATUS_CODES.length) return undefined;
    }
    return new MemberSummary(view, count);
  }

  key(i: number): number {
    const at = i * SUMMARY_ENTRY_BYTES;
    return this.view.getUint32(at, true) * TWO_32 + this.view.getUint32(at + 4, true);
  }

  generation(i: number): number {
    return this.view.getFloat64(i * SUMMARY_ENTRY_BYTES + 8, true);
  }

  incarnation(i: number): number {
    return this.view.getFloat64(i * SUMMARY_ENTRY_BYTES + 16, true);
  }

  status(i: number): MemberStatus {
    return STATUS_CODES[this.view.getUint8(i * SUMMARY_ENTRY_BYTES + 24)]!;
  }

  /** The entry of `key`, or undefined (the first, if a key repeats). */
  find(key: number): number | undefined {
    const cells = this.cells !== undefined && indexOwner === this ? this.cells : this.buildIndex();
    const mask = cells.length - 1;
    for (let c = seededKeyHash(key, CELL_SEED) & mask; ; c = (c + 1) & mask) {
      const slot = cells[c]!;
      if (slot === 0) return undefined;
      if (this.key(slot - 1) === key) return slot - 1;
    }
  }

  private buildIndex(): Int32Array {
    let size = 16;
    while (size < 2 * this.count) size *= 2;
    if (indexScratch.length < size) indexScratch = new Int32Array(size);
    const cells = indexScratch.subarray(0, size);
    cells.fill(0);
    indexOwner = this;
    const mask = size - 1;
    // In entry order; a repeated key keeps its first entry and takes no cell of its own, so a peer
    // that repeats one key 16,384 times makes no long probe run.
    outer: for (let i = 0; i < this.count; i++) {
      const key = this.key(i);
      let c = seededKeyHash(key, CELL_SEED) & mask;
      for (; cells[c] !== 0; c = (c + 1) & mask) if (this.key(cells[c]! - 1) === key) continue outer;
      cells[c] = i + 1;
    }
    this.cells = cells;
    return cells;
  }
}

/** The seed of summary index cells: a peer chooses its summary (see `seededKeyHash`). */
const CELL_SEED = (Math.random() * 0x1_0000_0000) >>> 0;

/** The index cells shared by summaries, and the summary whose index they hold. */
let indexScratch = new Int32Array(1024);
let indexOwner: MemberSummary | undefined;

function up(status: MemberStatus): boolean {
  return status === 'alive' || status === 'suspect';
}

/** True when (generation g1, incarnation i1) is later than (g2, i2). */
function newer(g1: number, i1: number, g2: number, i2: number): boolean {
  return g1 > g2 || (g1 === g2 && i1 > i2);
}

/** The flags {@link compareSummary} marks entries with: process scratch, grown as needed. */
let seenScratch = new Uint8Array(1024);

/**
 * `n` zeroed flags in scratch, valid until the next call: a seed compares a summary of every
 * member for every joiner, and a fresh array each time was ArrayBuffer memory (see core's loan.ts).
 */
function seenFlags(n: number): Uint8Array {
  if (seenScratch.length < n) seenScratch = new Uint8Array(Math.max(n, 2 * seenScratch.length));
  const flags = seenScratch.subarray(0, n);
  flags.fill(0);
  return flags;
}

/**
 * What to exchange with the peer that sent `summary`:
 * - `give`: alive records of our alive or suspect members that the peer lacks or holds at an older
 *   (generation, incarnation);
 * - `want`: entries of the summary, alive or suspect there, that we lack or hold older.
 * Dead and left members are not exchanged (as in a full push-pull: only alive records travel).
 */
export function compareSummary(
  summary: MemberSummary,
  each: MemberVisitor,
  maxGive: number,
): { give: SignedRecord[]; want: number[] } {
  const give: SignedRecord[] = [];
  const want: number[] = [];
  const seen = seenFlags(summary.count);
  each((m) => {
    const j = summary.find(m.key);
    if (j !== undefined) seen[j] = 1;
    const g = j === undefined ? -1 : summary.generation(j);
    const i = j === undefined ? -1 : summary.incarnation(j);
    if (newer(m.generation, m.incarnation, g, i)) {
      if (up(m.status) && give.length < maxGive) give.push(m.aliveRecord);
    } else if (j !== undefined && up(summary.status(j)) && newer(g, i, m.generation, m.incarnation)) {
      want.push(j);
    }
  });
  for (let j = 0; j < summary.count; j++) {
    if (seen[j] === 0 && up(summary.status(j))) want.push(j);
  }
  return { give, want };
}
