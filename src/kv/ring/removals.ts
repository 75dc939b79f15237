import { readU32BE, sha256 } from '../../core/index.js';
import type { StateValue } from '../../membership/types.js';
import type { Token } from '../types.js';
import { writeToken } from './partitioner.js';
import { RING_LIMITS } from './ring.js';

/**
 * Removals (`cairn kv removenode`) as they travel in membership state.
 *
 * A node that removes a dead node from the ring announces it under its own state keys
 * `kv.rm.0` .. `kv.rm.7`, one removal per key: first `removing` (every node then treats the dead
 * node as `leaving`, so writes also reach the ranges' new owners while the remover streams the
 * data to them from the surviving replicas), then `removed` (every node leaves it off the ring).
 * A removal names the node and a digest of the tokens it advertised: it applies only while the
 * node's advert still lists exactly those tokens, so a node that comes back as a new node (an
 * empty data directory, new tokens) is not removed by an old announcement.
 *
 * Payload of one key: format (1 byte, 1), phase (1 byte: 0 removing, 1 removed), token digest
 * (4 bytes, big-endian: the first four bytes of SHA-256 over the sorted tokens, 8 bytes each),
 * then the node's name in UTF-8 (1 to 256 bytes).
 */

/** Limits of removal announcements. */
export const REMOVAL_LIMITS = Object.freeze({
  /** Removals one node announces at once: each is a state key every node reads on every change. */
  maxRemovals: 8,
});

/** One announced removal. */
export interface RingRemoval {
  /** The removed node's name. */
  readonly node: string;
  /** {@link tokensDigest} of the tokens it advertised when the removal began. */
  readonly digest: number;
  /** `removing` while its ranges are streamed to their new owners; `removed` once they hold them. */
  readonly phase: 'removing' | 'removed';
}

const FORMAT = 1;
const HEADER = 6;
const PHASES: readonly RingRemoval['phase'][] = ['removing', 'removed'];
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The state key of removal slot `i`. */
export function removalKey(i: number): string {
  return `kv.rm.${i}`;
}

/** A 32-bit digest of a token list, independent of its order. */
export function tokensDigest(tokens: readonly Token[]): number {
  const sorted = [...tokens].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const bytes = new Uint8Array(sorted.length * 8);
  for (let i = 0; i < sorted.length; i++) writeToken(bytes, i * 8, sorted[i]!);
  const d = sha256(bytes);
  return readU32BE(d, 0);
}

/**
 * The state values announcing `removals`: keys `kv.rm.<i>`, one per removal.
 *
 * @throws RangeError for more than {@link REMOVAL_LIMITS}.maxRemovals removals, an empty or
 *   over-long name, a digest outside 32 bits or an unknown phase (a caller's bug: the node
 *   checks a removal before it announces it)
 */
export function encodeRemovals(removals: readonly RingRemoval[]): Map<string, Uint8Array> {
  if (removals.length > REMOVAL_LIMITS.maxRemovals) throw new RangeError('too many removals to announce');
  const out = new Map<string, Uint8Array>();
  removals.forEach((r, i) => {
    const phase = PHASES.indexOf(r.phase);
    if (phase < 0) throw new RangeError(`unknown removal phase ${String(r.phase)}`);
    out.set(removalKey(i), encodeNodeNote(phase, r.node, r.digest));
  });
  return out;
}

/**
 * One node note: format (1 byte, 1), a tag byte (its meaning is the caller's), a token digest (4
 * bytes, big-endian), then the node's name in UTF-8 (1 to RING_LIMITS.maxNameBytes bytes). Removals
 * and recalls (`recalls.ts`) travel in this form.
 *
 * @throws RangeError for an empty or over-long name, or a digest outside 32 bits (a caller's bug)
 */
export function encodeNodeNote(tag: number, node: string, digest: number): Uint8Array {
  const name = encoder.encode(node);
  if (name.length === 0 || name.length > RING_LIMITS.maxNameBytes)
    throw new RangeError(`a node name must be 1 to ${RING_LIMITS.maxNameBytes} bytes`);
  if (!Number.isInteger(digest) || digest < 0 || digest > 0xffffffff)
    throw new RangeError('a token digest is a 32-bit unsigned integer');
  const value = new Uint8Array(HEADER + name.length);
  value[0] = FORMAT;
  value[1] = tag;
  new DataView(value.buffer).setUint32(2, digest);
  value.set(name, HEADER);
  return value;
}

/** A node note ({@link encodeNodeNote}), or undefined when absent or malformed. Never throws. */
export function decodeNodeNote(
  value: StateValue | undefined,
): { tag: number; node: string; digest: number } | undefined {
  if (!(value instanceof Uint8Array)) return undefined;
  if (value.length <= HEADER || value.length > HEADER + RING_LIMITS.maxNameBytes) return undefined;
  if (value[0] !== FORMAT) return undefined;
  let node: string;
  try {
    node = decoder.decode(value.subarray(HEADER));
  } catch {
    return undefined;
  }
  return { tag: value[1]!, node, digest: readU32BE(value, 2) };
}

/**
 * The well-formed node notes of a member's slots `keyOf(0)` .. `keyOf(slots - 1)` (`values(key)`
 * looks one of its state values up). Absent and malformed slots, and lookups that throw, are
 * skipped. Never throws.
 */
export function decodeNodeNotes(
  values: (key: string) => StateValue | undefined,
  keyOf: (i: number) => string,
  slots: number,
): { tag: number; node: string; digest: number }[] {
  const out: { tag: number; node: string; digest: number }[] = [];
  for (let i = 0; i < slots; i++) {
    let value: StateValue | undefined;
    try {
      value = values(keyOf(i));
    } catch {
      continue;
    }
    const note = decodeNodeNote(value);
    if (note !== undefined) out.push(note);
  }
  return out;
}

/** One removal from its state value, or undefined when absent or malformed. Never throws. */
export function decodeRemoval(value: StateValue | undefined): RingRemoval | undefined {
  const note = decodeNodeNote(value);
  const phase = note === undefined ? undefined : PHASES[note.tag];
  if (note === undefined || phase === undefined) return undefined;
  return { node: note.node, digest: note.digest, phase };
}

/**
 * Every well-formed removal a member announces (`values(key)` looks one of its state values up).
 * Malformed slots are skipped. Never throws.
 */
export function decodeRemovals(values: (key: string) => StateValue | undefined): RingRemoval[] {
  const out: RingRemoval[] = [];
  for (const note of decodeNodeNotes(values, removalKey, REMOVAL_LIMITS.maxRemovals)) {
    const phase = PHASES[note.tag];
    if (phase !== undefined) out.push({ node: note.node, digest: note.digest, phase });
  }
  return out;
}
