import { sha256 } from '../../core/index.js';
import { encodeCell } from '../engine/cell.js';
import type { Cell } from '../types.js';

/**
 * The digest of a cell that digest reads compare (`kv.readCells` with the digest flag, and the
 * coordinator's check of its data against them).
 *
 * Form: nothing for an absent cell; the cell's byte form (`engine/cell.ts`: format, flags,
 * version, `expiresAt`, value) when its value is at most {@link INLINE_VALUE_BYTES}; otherwise that
 * byte form's header, with {@link HASHED} set in its flags byte, followed by the SHA-256 of the
 * value. At most 16 + 8 + 32 = 56 bytes, within `kv.readCells`' 64-byte bound.
 *
 * Read repair's guarantee needs: two replicas' digests are equal only if their cells are equal
 * (otherwise a QUORUM read could answer the data replica's older cell while the other replica holds
 * the newer, acknowledged one, and no repair would follow). Here equal digests mean an equal
 * version, tombstone flag and expiry, and either equal value bytes (inline: the digest is the cell
 * itself, so no collision exists) or values with equal SHA-256 (a collision of a cryptographic
 * hash, as before). The two forms never collide with each other (the flag bit differs), and a
 * different version always gives a different digest whatever the values. So the guarantee is
 * exact for small values and as strong as SHA-256 for the others; the cost is a copy of a few bytes
 * instead of a MessagePack encoding and a hash for every digest read of a small value.
 *
 * Nodes of earlier versions digested the MessagePack wire form; against them every comparison
 * differs, which costs a full read (and an idempotent repair write) but never a wrong answer.
 */
export function cellDigest(cell: Cell | undefined): Uint8Array {
  if (cell === undefined) return new Uint8Array(0);
  const value = cell.value;
  if (value === undefined || value.length <= INLINE_VALUE_BYTES) return encodeCell(cell);
  const head = encodeCell(
    cell.expiresAt === undefined
      ? { version: cell.version, value: NO_BYTES }
      : { version: cell.version, value: NO_BYTES, expiresAt: cell.expiresAt },
  );
  const out = new Uint8Array(head.length + 32);
  out.set(head);
  out[1] = out[1]! | HASHED;
  out.set(sha256(value), head.length);
  return out;
}

/** Longest value a digest carries as it is (longer ones are hashed). */
export const INLINE_VALUE_BYTES = 32;

/** The flags-byte bit of a digest whose value part is a SHA-256 (cells never set it). */
export const HASHED = 0x80;

const NO_BYTES = new Uint8Array(0);
