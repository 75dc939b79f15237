import { createHash } from 'node:crypto';
import { CairnError } from '../../core/index.js';
import { isTokenRange, RING_SIZE, rangeWidth, readToken, writeToken } from '../ring/partitioner.js';
import type { Cell, Token, TokenRange } from '../types.js';
import { ENGINE_LIMITS } from './limits.js';

/**
 * Merkle trees over a token range, for anti-entropy (Dynamo, Cassandra's repair).
 *
 * The range is split evenly by token into 2^depth leaves. A leaf's hash is the XOR of one 16-byte
 * digest per cell in it (SHA-256 of the key, the version, the tombstone flag and `expiresAt`,
 * truncated): XOR makes the leaf independent of the order cells are met in. An inner node is the
 * truncated SHA-256 of its two children, except that two all-zero children give zero, so empty parts
 * of a sparse tree cost nothing to build. Two replicas holding the same cells in a range build the
 * same tree; `diff` names the leaves whose hashes differ, and only those ranges are streamed.
 *
 * Values are not hashed: a version names one write, and a write has one value.
 */

/** Bytes of one node hash. */
export const MERKLE_HASH_BYTES = 16;
const FORMAT = 1;
const ENCODED_HEADER = 18;

function leafRangeOf(range: TokenRange, width: bigint, leaves: bigint, i: bigint): TokenRange {
  const lo = (range.start + (i * width) / leaves) % RING_SIZE;
  const hi = (range.start + ((i + 1n) * width) / leaves) % RING_SIZE;
  return { start: lo, end: hi };
}

function isZero(b: Uint8Array, offset: number): boolean {
  for (let i = 0; i < MERKLE_HASH_BYTES; i++) if (b[offset + i] !== 0) return false;
  return true;
}

/** Builds the inner levels above `leaves` (levels[depth] is the leaves, levels[0] the root). */
function buildLevels(leaves: Uint8Array, depth: number): Uint8Array[] {
  const levels: Uint8Array[] = new Array(depth + 1);
  levels[depth] = leaves;
  for (let d = depth - 1; d >= 0; d--) {
    const below = levels[d + 1]!;
    const level = new Uint8Array((1 << d) * MERKLE_HASH_BYTES);
    for (let i = 0; i < 1 << d; i++) {
      const left = 2 * i * MERKLE_HASH_BYTES;
      const right = left + MERKLE_HASH_BYTES;
      if (isZero(below, left) && isZero(below, right)) continue;
      const h = createHash('sha256')
        .update(below.subarray(left, right + MERKLE_HASH_BYTES))
        .digest();
      level.set(h.subarray(0, MERKLE_HASH_BYTES), i * MERKLE_HASH_BYTES);
    }
    levels[d] = level;
  }
  return levels;
}

function sameHash(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number): boolean {
  for (let i = 0; i < MERKLE_HASH_BYTES; i++) if (a[aAt + i] !== b[bAt + i]) return false;
  return true;
}

function checkDepth(depth: number): void {
  if (!Number.isInteger(depth) || depth < 0 || depth > ENGINE_LIMITS.maxMerkleDepth) {
    throw new CairnError(
      'INVALID_ARGUMENT',
      `Merkle depth must be an integer in 0..${ENGINE_LIMITS.maxMerkleDepth}, got ${depth}`,
    );
  }
}

/**
 * A Merkle tree of one token range. Immutable.
 *
 * @example
 * ```ts
 * const mine = await store.merkle(range, 10);
 * const theirs = MerkleTree.decode(bytesFromPeer);
 * for (const r of mine.diff(theirs)) await streamRange(r);
 * ```
 */
export class MerkleTree {
  readonly range: TokenRange;
  readonly depth: number;
  private readonly levels: Uint8Array[];

  private constructor(range: TokenRange, depth: number, leaves: Uint8Array) {
    this.range = Object.freeze({ start: range.start, end: range.end });
    this.depth = depth;
    this.levels = buildLevels(leaves, depth);
  }

  /** @internal A tree over precomputed leaf hashes (2^depth x 16 bytes); see {@link MerkleBuilder}. */
  static fromLeaves(range: TokenRange, depth: number, leaves: Uint8Array): MerkleTree {
    checkDepth(depth);
    if (leaves.length !== (1 << depth) * MERKLE_HASH_BYTES) {
      throw new CairnError('INVALID_ARGUMENT', 'Merkle leaves do not match the depth');
    }
    return new MerkleTree(range, depth, leaves);
  }

  /** The root hash (16 bytes; all zero for an empty range). */
  root(): Uint8Array {
    return this.levels[0]!.slice();
  }

  /** The token range of leaf `i` (0 <= i < 2^depth). */
  leafRange(i: number): TokenRange {
    return leafRangeOf(this.range, rangeWidth(this.range), BigInt(1 << this.depth), BigInt(i));
  }

  /**
   * Token sub-ranges whose leaf hashes differ, in clockwise order from the range's start, adjacent
   * ones merged. Empty when the trees agree.
   *
   * @throws CairnError `INVALID_ARGUMENT` when `other` covers another range or has another depth
   */
  diff(other: MerkleTree): TokenRange[] {
    if (
      other.depth !== this.depth ||
      other.range.start !== this.range.start ||
      other.range.end !== this.range.end
    ) {
      throw new CairnError(
        'INVALID_ARGUMENT',
        'Merkle trees of different ranges or depths cannot be compared',
      );
    }
    const differing: number[] = [];
    const walk = (d: number, i: number): void => {
      const at = i * MERKLE_HASH_BYTES;
      if (sameHash(this.levels[d]!, at, other.levels[d]!, at)) return;
      if (d === this.depth) differing.push(i);
      else {
        walk(d + 1, 2 * i);
        walk(d + 1, 2 * i + 1);
      }
    };
    walk(0, 0);
    const out: TokenRange[] = [];
    let runStart = -1;
    for (let k = 0; k < differing.length; k++) {
      const i = differing[k]!;
      if (runStart < 0) runStart = i;
      const next = differing[k + 1];
      if (next === i + 1) continue;
      const first = this.leafRange(runStart);
      const last = this.leafRange(i);
      out.push(
        runStart === 0 && i === (1 << this.depth) - 1 ? this.range : { start: first.start, end: last.end },
      );
      runStart = -1;
    }
    return out;
  }

  /** The byte form: format (1), depth (1), start (8), end (8), then the leaves (2^depth x 16 bytes). */
  encode(): Uint8Array {
    const leaves = this.levels[this.depth]!;
    const out = new Uint8Array(ENCODED_HEADER + leaves.length);
    out[0] = FORMAT;
    out[1] = this.depth;
    writeToken(out, 2, this.range.start);
    writeToken(out, 10, this.range.end);
    out.set(leaves, ENCODED_HEADER);
    return out;
  }

  /**
   * The tree of byte form `b` (inner nodes recomputed, never trusted from the wire).
   *
   * @throws CairnError `DECODE_FAILED` for an unknown format, a depth over the limit, or a length
   *   that does not match the depth
   */
  static decode(b: Uint8Array): MerkleTree {
    if (!(b instanceof Uint8Array) || b.length < ENCODED_HEADER || b[0] !== FORMAT) {
      throw new CairnError('DECODE_FAILED', 'Merkle tree: not a tree of a known format');
    }
    const depth = b[1]!;
    if (depth > ENGINE_LIMITS.maxMerkleDepth) {
      throw new CairnError(
        'DECODE_FAILED',
        `Merkle tree: depth ${depth} is over ${ENGINE_LIMITS.maxMerkleDepth}`,
      );
    }
    if (b.length !== ENCODED_HEADER + (1 << depth) * MERKLE_HASH_BYTES) {
      throw new CairnError('DECODE_FAILED', `Merkle tree: ${b.length} bytes do not match depth ${depth}`);
    }
    const range = { start: readToken(b, 2), end: readToken(b, 10) };
    return new MerkleTree(range, depth, b.slice(ENCODED_HEADER));
  }
}

/** The 16-byte digest of one cell as a leaf hashes it. */
export function cellDigest(key: Uint8Array, cell: Cell): Uint8Array {
  const fixed = new Uint8Array(4 + 8 + 2 + 4 + 1 + 8);
  const view = new DataView(fixed.buffer);
  view.setUint32(0, key.length);
  view.setUint32(4, Math.floor(cell.version.wall / 0x100000000));
  view.setUint32(8, cell.version.wall >>> 0);
  view.setUint16(12, cell.version.logical);
  view.setUint32(14, cell.version.node);
  fixed[18] = (cell.value === undefined ? 1 : 0) | (cell.expiresAt === undefined ? 0 : 2);
  const exp = cell.expiresAt ?? 0;
  view.setUint32(19, Math.floor(exp / 0x100000000));
  view.setUint32(23, exp >>> 0);
  return createHash('sha256').update(key).update(fixed).digest().subarray(0, MERKLE_HASH_BYTES);
}

/**
 * Accumulates cells into the leaves of a tree of `range` at `depth`; cells may come in any order.
 *
 * @example
 * ```ts
 * const b = new MerkleBuilder(range, 8);
 * for (const e of entries) b.add(e.token, e.key, e.cell);
 * const tree = b.finish();
 * ```
 */
export class MerkleBuilder {
  private readonly leaves: Uint8Array;
  private readonly width: bigint;
  private readonly count: bigint;

  constructor(
    readonly range: TokenRange,
    readonly depth: number,
  ) {
    checkDepth(depth);
    if (!isTokenRange(range)) throw new CairnError('INVALID_ARGUMENT', 'Merkle range must have token bounds');
    this.leaves = new Uint8Array((1 << depth) * MERKLE_HASH_BYTES);
    this.width = rangeWidth(range);
    this.count = BigInt(1 << depth);
  }

  /** The leaf index of token `t`, which must lie in the range. */
  leafOf(t: Token): number {
    let offset = (t - this.range.start + RING_SIZE) % RING_SIZE;
    if (offset === 0n) offset = RING_SIZE; // only the whole ring holds its own start token
    return Number((offset * this.count + this.width - 1n) / this.width) - 1;
  }

  /** Mixes one cell into its leaf. */
  add(token: Token, key: Uint8Array, cell: Cell): void {
    const at = this.leafOf(token) * MERKLE_HASH_BYTES;
    const d = cellDigest(key, cell);
    for (let i = 0; i < MERKLE_HASH_BYTES; i++) this.leaves[at + i]! ^= d[i]!;
  }

  /** The finished tree. */
  finish(): MerkleTree {
    return MerkleTree.fromLeaves(this.range, this.depth, this.leaves);
  }
}
