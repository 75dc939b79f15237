import { decode, encode } from '../../core/codec.js';
import { CairnError } from '../../core/errors.js';
import { v } from '../../core/validate.js';
import type { ConfChange, ConfState, Entry, HardState } from '../types.js';

/** Largest `context` a conf change carries (member name and addresses): bounds a conf entry. */
export const MAX_CONF_CHANGE_CONTEXT_BYTES = 64 * 1024;

const CONF_CHANGE = v.object({
  t: v.oneOf(['addNode', 'addLearner', 'removeNode'] as const),
  n: v.uint({ max: Number.MAX_SAFE_INTEGER }),
  c: v.optional(v.bytes({ maxLength: MAX_CONF_CHANGE_CONTEXT_BYTES })),
});

/**
 * Encodes a conf change as the data of a `conf` entry. Deterministic: the same change gives the
 * same bytes on every node (bootstrap entries rely on it).
 */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encode(
    cc.context === undefined ? { t: cc.type, n: cc.nodeId } : { t: cc.type, n: cc.nodeId, c: cc.context },
  );
}

/**
 * Decodes a `conf` entry's data.
 * @throws CairnError `DECODE_FAILED` for malformed data
 */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const raw = decode(data, CONF_CHANGE);
  if (raw.n === 0) throw new CairnError('DECODE_FAILED', 'conf change: node id 0 is not a node');
  if (raw.c === undefined) return { type: raw.t, nodeId: raw.n };
  // A plain Uint8Array view (the codec may hand out a Buffer), so results compare equal to input.
  return {
    type: raw.t,
    nodeId: raw.n,
    context: new Uint8Array(raw.c.buffer, raw.c.byteOffset, raw.c.byteLength),
  };
}

/**
 * The initial log of a new cluster (etcd's bootstrap): one `conf` entry per member at term 1
 * (voters, then learners, ascending), all committed. Every member bootstrapped with the same
 * configuration writes the same entries, and a member added later learns the initial
 * configuration by replicating them. The driver persists `entries` and `hardState` before
 * starting the core, and sets `confState` on the log so the core knows its peers at once; the
 * entries are then applied like any committed conf entry (adding a member twice is a no-op).
 */
export function bootstrapState(cs: ConfState): {
  hardState: HardState;
  entries: Entry[];
  confState: ConfState;
} {
  const changes: ConfChange[] = [
    ...[...cs.voters].sort((a, b) => a - b).map((nodeId): ConfChange => ({ type: 'addNode', nodeId })),
    ...[...cs.learners].sort((a, b) => a - b).map((nodeId): ConfChange => ({ type: 'addLearner', nodeId })),
  ];
  const entries = changes.map(
    (cc, i): Entry => ({ term: 1, index: i + 1, type: 'conf', data: encodeConfChange(cc) }),
  );
  const asc = (a: number, b: number) => a - b;
  return {
    hardState: { term: 1, vote: 0, commit: entries.length },
    entries,
    confState: { voters: [...cs.voters].sort(asc), learners: [...cs.learners].sort(asc) },
  };
}
