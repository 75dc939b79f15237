import { type Model, UNKNOWN, type Unknown } from './model.js';

/**
 * A sequential model of the etcd KV operations the store tests record, one register per key.
 *
 * Revisions are optional everywhere. etcd's revisions are global and grow with the apply order,
 * which is the linearization order, so per key: every write's revision is above the previous
 * write's, and a get that reports a key's `modRevision` must see the last write's. When a write's
 * revision was not observed (not recorded, or the write's outcome is unknown), the key's
 * modRevision is unknown until a get reveals it; a compare on an unknown modRevision is accepted
 * either way (never a false violation, at the cost of checking less).
 */

/** A compare-and-set txn's guard: the key's value equals, or its mod revision equals (0: absent). */
export type KvCompare = { readonly value: string } | { readonly modRevision: number };

/** An operation on one key. */
export type KvInput =
  | { readonly type: 'put'; readonly key: string; readonly value: string }
  | { readonly type: 'get'; readonly key: string }
  | { readonly type: 'delete'; readonly key: string }
  /** `txn(compare).then(put(key, value))`, with no else branch. */
  | { readonly type: 'cas'; readonly key: string; readonly compare: KvCompare; readonly value: string };

/** What a completed operation returned. `revision` is the response header's (the write's). */
export type KvOutput =
  | { readonly type: 'put'; readonly revision?: number }
  | { readonly type: 'get'; readonly value: string | null; readonly modRevision?: number }
  | { readonly type: 'delete'; readonly deleted: number; readonly revision?: number }
  | { readonly type: 'cas'; readonly succeeded: boolean; readonly revision?: number };

/** One key's state. */
export interface KvState {
  /** The value, or null when absent. */
  readonly value: string | null;
  /** The key's mod revision: 0 when absent, {@link REVISION_UNKNOWN} when not observed. */
  readonly modRevision: number;
  /** The highest revision of a write to this key seen so far: the next write's is above it. */
  readonly floor: number;
}

/** The modRevision of a key written by a write whose revision was not observed. */
export const REVISION_UNKNOWN = -1;

const ABSENT: KvState = Object.freeze({ value: null, modRevision: 0, floor: 0 });

type Step = readonly [boolean, KvState];
const ILLEGAL: Step = [false, ABSENT];

function written(state: KvState, value: string, revision: number | undefined): Step {
  if (revision === undefined) return [true, { value, modRevision: REVISION_UNKNOWN, floor: state.floor }];
  if (revision <= state.floor) return ILLEGAL;
  return [true, { value, modRevision: revision, floor: revision }];
}

function get(state: KvState, out: Extract<KvOutput, { type: 'get' }>): Step {
  if (out.value !== state.value) return ILLEGAL;
  const rev = out.modRevision;
  if (rev === undefined) return [true, state];
  if (state.value === null) return [rev === 0, state];
  if (state.modRevision !== REVISION_UNKNOWN) return [rev === state.modRevision, state];
  // The write's revision is revealed now: learn it.
  return rev > state.floor ? [true, { value: state.value, modRevision: rev, floor: rev }] : ILLEGAL;
}

function remove(state: KvState, out: Extract<KvOutput, { type: 'delete' }> | Unknown): Step {
  const deleted = state.value === null ? 0 : 1;
  if (out === UNKNOWN) return [true, deleted === 0 ? state : { ...ABSENT, floor: state.floor }];
  if (out.deleted !== deleted) return ILLEGAL;
  if (deleted === 0) return [true, state];
  const rev = out.revision;
  if (rev === undefined) return [true, { ...ABSENT, floor: state.floor }];
  return rev > state.floor ? [true, { ...ABSENT, floor: rev }] : ILLEGAL;
}

/** Whether the compare holds: true, false, or undefined when it depends on an unknown revision. */
function compareHolds(state: KvState, compare: KvCompare): boolean | undefined {
  if ('value' in compare) return state.value !== null && state.value === compare.value;
  if (state.value === null) return compare.modRevision === 0;
  // An unobserved write's revision is above every earlier write's, so a guard at or below the
  // floor cannot hold; above it, it may.
  if (state.modRevision === REVISION_UNKNOWN) return compare.modRevision <= state.floor ? false : undefined;
  return state.modRevision === compare.modRevision;
}

function cas(
  state: KvState,
  input: Extract<KvInput, { type: 'cas' }>,
  out: Extract<KvOutput, { type: 'cas' }> | Unknown,
): Step {
  const holds = compareHolds(state, input.compare);
  if (out === UNKNOWN) {
    // Not taking effect is the search leaving this operation out, so only success needs a state.
    return holds === false ? [true, state] : written(state, input.value, undefined);
  }
  if (holds !== undefined && holds !== out.succeeded) return ILLEGAL;
  return out.succeeded ? written(state, input.value, out.revision) : [true, state];
}

function step(state: KvState, input: KvInput, out: KvOutput | Unknown): Step {
  if (out !== UNKNOWN && out.type !== input.type) return ILLEGAL;
  switch (input.type) {
    case 'put':
      return written(
        state,
        input.value,
        out === UNKNOWN ? undefined : (out as { revision?: number }).revision,
      );
    case 'get':
      return out === UNKNOWN ? [true, state] : get(state, out as Extract<KvOutput, { type: 'get' }>);
    case 'delete':
      return remove(state, out as Extract<KvOutput, { type: 'delete' }> | Unknown);
    case 'cas':
      return cas(state, input, out as Extract<KvOutput, { type: 'cas' }> | Unknown);
  }
}

function revisionText(rev: number | undefined): string {
  return rev === undefined ? '' : ` @ rev ${rev}`;
}

function describeOperation(input: KvInput, out: KvOutput | Unknown): string {
  let call: string;
  switch (input.type) {
    case 'put':
    case 'get':
    case 'delete':
      call = `${input.type}(${input.key}${input.type === 'put' ? `, ${JSON.stringify(input.value)}` : ''})`;
      break;
    case 'cas': {
      const c = input.compare;
      const guard = 'value' in c ? `value = ${JSON.stringify(c.value)}` : `modRevision = ${c.modRevision}`;
      call = `cas(${input.key}, if ${guard} then put ${JSON.stringify(input.value)})`;
      break;
    }
  }
  if (out === UNKNOWN) return `${call} -> ? (outcome unknown)`;
  switch (out.type) {
    case 'put':
      return `${call} -> ok${revisionText(out.revision)}`;
    case 'get':
      return `${call} -> ${out.value === null ? 'absent' : JSON.stringify(out.value)}${revisionText(out.modRevision)}`;
    case 'delete':
      return `${call} -> deleted ${out.deleted}${revisionText(out.revision)}`;
    case 'cas':
      return `${call} -> ${out.succeeded ? 'succeeded' : 'failed'}${revisionText(out.revision)}`;
  }
}

function describeState(s: KvState): string {
  if (s.value === null) return `absent (last write rev ${s.floor})`;
  const rev = s.modRevision === REVISION_UNKNOWN ? '?' : String(s.modRevision);
  return `${JSON.stringify(s.value)} @ rev ${rev} (last known write rev ${s.floor})`;
}

/**
 * The etcd KV model: put, get, delete and compare-and-set per key, partitioned by key.
 *
 * @example
 * ```ts
 * const r = checkHistory(kvModel, [
 *   { id: 0, clientId: 1, input: { type: 'put', key: 'a', value: '1' }, call: 1, ret: 2, output: { type: 'put' } },
 *   { id: 1, clientId: 2, input: { type: 'get', key: 'a' }, call: 3, ret: 4, output: { type: 'get', value: null } },
 * ]); // illegal: a stale read
 * ```
 */
export const kvModel: Model<KvState, KvInput, KvOutput> = Object.freeze({
  init: () => ABSENT,
  step,
  equal: (a: KvState, b: KvState) =>
    a.value === b.value && a.modRevision === b.modRevision && a.floor === b.floor,
  hash: (s: KvState) => `${s.value === null ? '-' : `=${s.value}`}\u0000${s.modRevision}\u0000${s.floor}`,
  partitionKey: (input: KvInput) => input.key,
  describeOperation,
  describeState,
});
