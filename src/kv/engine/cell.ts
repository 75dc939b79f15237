import { CairnError, compareBytes, slabBytes } from '../../core/index.js';
import { isVersion, MAX_LOGICAL } from '../hlc.js';
import { type Cell, compareVersions } from '../types.js';

/**
 * Cells: what a replica keeps for one key, their merge rule and their byte form.
 *
 * Byte form (big-endian), 16 bytes of header then the value:
 * `format` (1 byte, 1) | `flags` (1 byte: bit 0 value present, bit 1 expiresAt present) |
 * `version.wall` (8 bytes, a safe integer) | `version.logical` (2 bytes) | `version.node` (4 bytes)
 * | `expiresAt` (8 bytes, when flagged) | value bytes (the rest; none for a tombstone).
 */

const FORMAT = 1;
const HAS_VALUE = 1;
const HAS_EXPIRY = 2;
const HEADER_BYTES = 16;
const TWO_32 = 0x100000000;

/**
 * True when `cell` reads as a value at wall time `now`: it has a value and it has not expired.
 *
 * @example
 * ```ts
 * isLive({ version, value: utf8('v'), expiresAt: 2_000 }, 1_999); // true
 * ```
 */
export function isLive(cell: Cell, now: number): boolean {
  return cell.value !== undefined && (cell.expiresAt === undefined || cell.expiresAt > now);
}

/**
 * When `cell` stopped being live (ms), or undefined while it is live: a tombstone's deletion time
 * is its version's wall time, an expired value's is its `expiresAt`.
 */
export function deletionTime(cell: Cell, now: number): number | undefined {
  if (cell.value === undefined) return cell.version.wall;
  if (cell.expiresAt !== undefined && cell.expiresAt <= now) return cell.expiresAt;
  return undefined;
}

/** True when `cell` is a tombstone or an expired value whose deletion time is `gcGraceMs` or more in the past. */
export function isPurgeable(cell: Cell, now: number, gcGraceMs: number): boolean {
  const deleted = deletionTime(cell, now);
  return deleted !== undefined && deleted + gcGraceMs <= now;
}

/** Orders cells of equal version by types.ts's rule: positive when `a` wins. */
function compareEqualVersions(a: Cell, b: Cell): number {
  const aTomb = a.value === undefined;
  const bTomb = b.value === undefined;
  if (aTomb !== bTomb) return aTomb ? 1 : -1;
  // An absent expiresAt is "never expires": the latest possible.
  const aExp = a.expiresAt ?? Number.POSITIVE_INFINITY;
  const bExp = b.expiresAt ?? Number.POSITIVE_INFINITY;
  if (aExp !== bExp) return aExp > bExp ? 1 : -1;
  if (a.value === undefined || b.value === undefined) return 0;
  return compareBytes(a.value, b.value);
}

/**
 * The winner of `a` (the stored cell, if any) and `b` by last-write-wins: the higher version wins;
 * for equal versions the tombstone, then the later `expiresAt` (absent counts as latest), then the
 * greater value bytes. When neither wins (the same write twice) `a` is returned, so a caller can
 * tell "nothing changed" by identity.
 *
 * Contract: commutative up to that identity (`mergeCells(a, b)` and `mergeCells(b, a)` are equal
 * cells), associative and idempotent, so replicas converge whatever order writes arrive in.
 */
export function mergeCells(a: Cell | undefined, b: Cell): Cell {
  if (a === undefined) return b;
  const byVersion = compareVersions(a.version, b.version);
  if (byVersion !== 0) return byVersion > 0 ? a : b;
  return compareEqualVersions(b, a) > 0 ? b : a;
}

/** True when `a` and `b` are the same cell (version, value, expiry). */
export function sameCell(a: Cell, b: Cell): boolean {
  return compareVersions(a.version, b.version) === 0 && compareEqualVersions(a, b) === 0;
}

/** Describes why `cell` is not a well-formed cell, or undefined when it is. */
export function cellProblem(cell: unknown, maxValueBytes: number): string | undefined {
  if (typeof cell !== 'object' || cell === null) return 'a cell must be an object';
  const { version, value, expiresAt } = cell as Record<string, unknown>;
  if (!isVersion(version)) return 'the cell version is malformed';
  if (value !== undefined && !(value instanceof Uint8Array))
    return 'the cell value must be bytes or undefined';
  if (value instanceof Uint8Array && value.length > maxValueBytes) {
    return `the cell value of ${value.length} bytes is over maxValueBytes=${maxValueBytes}`;
  }
  if (expiresAt !== undefined && !(Number.isSafeInteger(expiresAt) && (expiresAt as number) >= 0)) {
    return 'the cell expiresAt must be a non-negative integer of ms';
  }
  return undefined;
}

function writeUint64(view: DataView, offset: number, n: number): void {
  view.setUint32(offset, Math.floor(n / TWO_32));
  view.setUint32(offset + 4, n >>> 0);
}

function readUint64(view: DataView, offset: number): number {
  return view.getUint32(offset) * TWO_32 + view.getUint32(offset + 4);
}

/**
 * The byte form of `cell` (see the module comment).
 *
 * @throws CairnError `INVALID_ARGUMENT` for a malformed cell (a bug in the caller: decoded input is
 *   validated before it becomes a cell)
 */
export function encodeCell(c: Cell): Uint8Array {
  const problem = cellProblem(c, Number.MAX_SAFE_INTEGER);
  if (problem !== undefined) throw new CairnError('INVALID_ARGUMENT', `cannot encode a cell: ${problem}`);
  const hasExpiry = c.expiresAt !== undefined;
  const valueOffset = HEADER_BYTES + (hasExpiry ? 8 : 0);
  const out = slabBytes(valueOffset + (c.value?.length ?? 0)); // every byte written below
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[0] = FORMAT;
  out[1] = (c.value === undefined ? 0 : HAS_VALUE) | (hasExpiry ? HAS_EXPIRY : 0);
  writeUint64(view, 2, c.version.wall);
  view.setUint16(10, c.version.logical);
  view.setUint32(12, c.version.node);
  if (hasExpiry) writeUint64(view, HEADER_BYTES, c.expiresAt!);
  if (c.value !== undefined) out.set(c.value, valueOffset);
  return out;
}

function fail(message: string): never {
  throw new CairnError('DECODE_FAILED', `stored cell: ${message}`);
}

/**
 * The cell of byte form `b`. The value is a copy (it does not alias `b`).
 *
 * @throws CairnError `DECODE_FAILED` for an unknown format or flags, a short header, a wall or
 *   expiry beyond 2^53, or value bytes on a tombstone
 */
export function decodeCell(b: Uint8Array): Cell {
  if (!(b instanceof Uint8Array)) fail('expected bytes');
  if (b.length < HEADER_BYTES) fail(`${b.length} bytes is shorter than the ${HEADER_BYTES}-byte header`);
  if (b[0] !== FORMAT) fail(`unknown format ${b[0]}`);
  const flags = b[1]!;
  if ((flags & ~(HAS_VALUE | HAS_EXPIRY)) !== 0) fail(`unknown flags ${flags}`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const wall = readUint64(view, 2);
  if (!Number.isSafeInteger(wall)) fail('version wall is beyond 2^53');
  const logical = view.getUint16(10);
  if (logical > MAX_LOGICAL) fail('version logical is out of range');
  const version = { wall, logical, node: view.getUint32(12) };
  let offset = HEADER_BYTES;
  let expiresAt: number | undefined;
  if ((flags & HAS_EXPIRY) !== 0) {
    if (b.length < HEADER_BYTES + 8) fail('expiresAt is cut short');
    expiresAt = readUint64(view, HEADER_BYTES);
    if (!Number.isSafeInteger(expiresAt)) fail('expiresAt is beyond 2^53');
    offset += 8;
  }
  let value: Uint8Array | undefined;
  if ((flags & HAS_VALUE) !== 0) value = b.slice(offset);
  else if (b.length !== offset) fail('a tombstone carries value bytes');
  return expiresAt === undefined ? { version, value } : { version, value, expiresAt };
}
