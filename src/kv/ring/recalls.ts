import type { StateValue } from '../../membership/types.js';
import { decodeNodeNotes, encodeNodeNote } from './removals.js';

/**
 * Recalls: the ring nodes a node knows only from its memory (`engine/ring-memory.ts`), as it
 * tells them in membership state.
 *
 * A node that restarts remembers the ring it knew; a remembered node nothing live accounts for
 * (no advert, no ghost) is either down, with every other node restarted since too (so none of
 * them holds its advert from membership), or gone from the ring while this node was down. Which
 * of the two the live nodes decide together: each tells the nodes it only remembers under its
 * state keys `kv.mem.<i>`, and a remembered node that every live ring node also remembers (or
 * announces as a ghost) is kept, one that some live ring node denies is forgotten (see the ring
 * tracker). A recall is a vote, never an advert: no node puts a recalled node on its ring from
 * another's recall.
 *
 * Denials answer recalls: a node that sees a member up recall a node its own ring does not hold
 * with those tokens (it saw the node leave, or be removed, or come back with other tokens) says so
 * under `kv.deny.<i>`. Silence is no answer: a live node that holds the recalled node on its ring
 * (it sees it up, say, where the recaller does not) neither recalls nor denies it, and a node that
 * has not yet read the recall has not answered; either way the recaller keeps the node standing in.
 *
 * Payload of one key: a node note (`removals.ts`: format 1, tag 0, the 4-byte digest of the
 * remembered tokens, the name).
 */

/** Limits of recall announcements. */
export const RECALL_LIMITS = Object.freeze({
  /**
   * Recalls one node announces at once: each is a state key every node reads on every change. As
   * for ghosts, more ring nodes down at once than this is past what a ring of rf 3 survives; a
   * remembered node left out gets no vote from this node, so the others forget it.
   */
  maxRecalls: 8,
  /**
   * Denials one node announces at once. Each answers a recall some member makes; one over the
   * limit goes unanswered, and its recaller keeps the node standing in until it is answered.
   */
  maxDenials: 8,
});

/** One remembered node as announced. */
export interface RingRecall {
  readonly node: string;
  /** `tokensDigest` of the tokens remembered. */
  readonly digest: number;
}

const TAG = 0;

/** The state key of recall slot `i`. */
export function recallKey(i: number): string {
  return `kv.mem.${i}`;
}

/**
 * The state values announcing `recalls`: keys `kv.mem.<i>`, one per recall.
 *
 * @throws RangeError for more than RECALL_LIMITS.maxRecalls recalls, an empty or over-long name,
 *   or a digest outside 32 bits (a caller's bug)
 */
export function encodeRecalls(recalls: readonly RingRecall[]): Map<string, Uint8Array> {
  return encodeNotes(recalls, recallKey, RECALL_LIMITS.maxRecalls, 'recalls');
}

/** Every well-formed recall a member announces. Malformed slots are skipped. Never throws. */
export function decodeRecalls(values: (key: string) => StateValue | undefined): RingRecall[] {
  return decodeNotes(values, recallKey, RECALL_LIMITS.maxRecalls);
}

/** The state key of denial slot `i`. */
export function denialKey(i: number): string {
  return `kv.deny.${i}`;
}

/**
 * The state values announcing `denials` (recalled nodes this node's ring does not hold with those
 * tokens): keys `kv.deny.<i>`, one per denial.
 *
 * @throws RangeError for more than RECALL_LIMITS.maxDenials denials, an empty or over-long name,
 *   or a digest outside 32 bits (a caller's bug)
 */
export function encodeDenials(denials: readonly RingRecall[]): Map<string, Uint8Array> {
  return encodeNotes(denials, denialKey, RECALL_LIMITS.maxDenials, 'denials');
}

/** Every well-formed denial a member announces. Malformed slots are skipped. Never throws. */
export function decodeDenials(values: (key: string) => StateValue | undefined): RingRecall[] {
  return decodeNotes(values, denialKey, RECALL_LIMITS.maxDenials);
}

function encodeNotes(
  notes: readonly RingRecall[],
  keyOf: (i: number) => string,
  max: number,
  what: string,
): Map<string, Uint8Array> {
  if (notes.length > max) throw new RangeError(`too many ${what} to announce`);
  const out = new Map<string, Uint8Array>();
  notes.forEach((r, i) => {
    out.set(keyOf(i), encodeNodeNote(TAG, r.node, r.digest));
  });
  return out;
}

function decodeNotes(
  values: (key: string) => StateValue | undefined,
  keyOf: (i: number) => string,
  max: number,
): RingRecall[] {
  return decodeNodeNotes(values, keyOf, max)
    .filter((note) => note.tag === TAG)
    .map((note) => ({ node: note.node, digest: note.digest }));
}
