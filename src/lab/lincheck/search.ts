import type { Operation } from './history.js';
import { type Model, UNKNOWN } from './model.js';

/**
 * Wing and Gong's search, with Lowe's just-in-time linearization and memoization, over one
 * partition of a history.
 *
 * The history is a doubly linked list of call and return entries in time order. Walking it from
 * the head, a call entry is an operation that may be linearized now: if the model accepts its
 * output, the operation is linearized (its call and return are unlinked, the previous state is
 * pushed) and the walk restarts from the head. Reaching a return entry means the operation it
 * returns was not linearized before its response, so the last choice is undone and the walk goes
 * on after it. Lowe's memo skips a choice that leads to a (linearized set, state) pair already
 * explored: from equal pairs the rest of the search is the same. Operations of unknown outcome
 * have no return entry (their return is at infinity), so they are never forced; the search
 * succeeds once every completed operation is linearized, which leaves the unknown ones out
 * (equivalently, linearized after everything else, where nothing observes them).
 */

/** The deepest point the search reached: where a report starts. */
export interface DeepestPoint<State> {
  /** Indexes (into the partition's operations) of the linearized prefix, in order. */
  readonly linearized: readonly number[];
  /** The model state after that prefix. */
  readonly state: State;
  /** Operations that could be linearized next (their calls precede the first pending return). */
  readonly candidates: readonly number[];
  /** The operation whose response came before any candidate could be linearized legally. */
  readonly blocked: number | undefined;
}

/** The outcome of searching one partition. */
export type SearchOutcome<State> =
  | { readonly kind: 'ok'; readonly order: readonly number[] }
  | { readonly kind: 'illegal'; readonly deepest: DeepestPoint<State> }
  | { readonly kind: 'unknown'; readonly reason: string };

/** How long the search may run. */
export interface SearchBudget {
  readonly now: () => number;
  readonly deadline: number;
  readonly stepsPerClockRead: number;
  readonly maxMemoEntries: number;
}

const NIL = -1;

/** A persistent list of linearized operations: one node per push, shared by later frames. */
interface Trail {
  readonly op: number;
  readonly parent: Trail | undefined;
}

function trailToArray(t: Trail | undefined): number[] {
  const out: number[] = [];
  for (let n = t; n !== undefined; n = n.parent) out.push(n.op);
  return out.reverse();
}

/** The entry list: entry 2i is operation i's call, 2i+1 its return; the head is entry 2n. */
class EntryList {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly head: number;

  constructor(ops: readonly { readonly call: number; readonly ret: number }[]) {
    const n = ops.length;
    this.head = 2 * n;
    this.next = new Int32Array(2 * n + 1).fill(NIL);
    this.prev = new Int32Array(2 * n + 1).fill(NIL);
    const entries: { e: number; t: number }[] = [];
    ops.forEach((op, i) => {
      entries.push({ e: 2 * i, t: op.call });
      if (op.ret !== Number.POSITIVE_INFINITY) entries.push({ e: 2 * i + 1, t: op.ret });
    });
    // Time order; at equal times calls go first, which makes the two operations concurrent: the
    // permissive reading, so a tie never produces a false violation.
    entries.sort((a, b) => a.t - b.t || (a.e & 1) - (b.e & 1) || a.e - b.e);
    let last = this.head;
    for (const { e } of entries) {
      this.next[last] = e;
      this.prev[e] = last;
      last = e;
    }
  }

  /** Unlinks one entry (dancing links: it keeps its own pointers for `relink`). */
  unlink(e: number): void {
    const p = this.prev[e]!;
    const n = this.next[e]!;
    this.next[p] = n;
    if (n !== NIL) this.prev[n] = p;
  }

  /** Puts back an entry unlinked last (entries are relinked in the reverse order of unlinking). */
  relink(e: number): void {
    const p = this.prev[e]!;
    const n = this.next[e]!;
    this.next[p] = e;
    if (n !== NIL) this.prev[n] = e;
  }
}

/** A set of operation indexes, kept with an exact string key for the memo table. */
class LinearizedSet {
  private readonly words: Uint16Array;

  constructor(n: number) {
    this.words = new Uint16Array(Math.max(1, Math.ceil(n / 16)));
  }

  flip(i: number): void {
    this.words[i >> 4]! ^= 1 << (i & 15);
  }

  key(): string {
    return String.fromCharCode.apply(null, this.words as unknown as number[]);
  }
}

interface Frame<State> {
  readonly call: number;
  readonly state: State;
  readonly trail: Trail | undefined;
}

/**
 * Searches for a linearization of `ops` (one partition) under `model`.
 *
 * Contract: `ok` only when a linearization exists (its order is returned); `illegal` only when
 * the search space is exhausted; `unknown` when the budget ran out first. Pure apart from reading
 * `budget.now`.
 */
export function searchPartition<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  budget: SearchBudget,
): SearchOutcome<State> {
  const list = new EntryList(ops);
  const { next, head } = list;
  const linearized = new LinearizedSet(ops.length);
  const memo = new Map<string, State[]>();
  let memoEntries = 0;
  const stack: Frame<State>[] = [];
  let remaining = ops.reduce((k, op) => k + (op.output === UNKNOWN ? 0 : 1), 0);
  let state = model.init();
  let trail: Trail | undefined;
  let deepest: DeepestPoint<State> | undefined;
  let steps = 0;
  let entry = next[head]!;
  const equal = (a: State, b: State) => model.equal(a, b);

  while (remaining > 0) {
    if (++steps % budget.stepsPerClockRead === 0 && budget.now() > budget.deadline) {
      return { kind: 'unknown', reason: `time budget spent after ${steps} steps` };
    }
    if ((entry & 1) === 0) {
      const i = entry >> 1;
      const op = ops[i]!;
      const [legal, after] = model.step(state, op.input, op.output);
      let taken = false;
      if (legal) {
        linearized.flip(i);
        if (remember(memo, equal, `${linearized.key()}\u0000${model.hash(after)}`, after)) {
          if (++memoEntries > budget.maxMemoEntries) {
            return { kind: 'unknown', reason: `memo table over ${budget.maxMemoEntries} entries` };
          }
          stack.push({ call: entry, state, trail });
          state = after;
          trail = { op: i, parent: trail };
          list.unlink(entry);
          if (op.output !== UNKNOWN) {
            list.unlink(entry + 1);
            remaining--;
          }
          entry = next[head]!;
          taken = true;
        } else {
          linearized.flip(i);
        }
      }
      if (!taken) entry = next[entry]!;
    } else {
      // A response with its operation not linearized: record how far we got, then backtrack.
      if (deepest === undefined || stack.length > deepest.linearized.length) {
        deepest = describeDeepest(list, trail, state, entry >> 1);
      }
      const frame = stack.pop();
      if (frame === undefined) return { kind: 'illegal', deepest };
      const i = frame.call >> 1;
      if (ops[i]!.output !== UNKNOWN) {
        list.relink(frame.call + 1);
        remaining++;
      }
      list.relink(frame.call);
      linearized.flip(i);
      state = frame.state;
      trail = frame.trail;
      entry = next[frame.call]!;
    }
  }
  return { kind: 'ok', order: trailToArray(trail) };
}

/** Adds (key, state) to the memo; false when an equal pair is already there. */
function remember<State>(
  memo: Map<string, State[]>,
  equal: (a: State, b: State) => boolean,
  key: string,
  state: State,
): boolean {
  const bucket = memo.get(key);
  if (bucket === undefined) {
    memo.set(key, [state]);
    return true;
  }
  for (const s of bucket) if (equal(s, state)) return false;
  bucket.push(state);
  return true;
}

function describeDeepest<State>(
  list: EntryList,
  trail: Trail | undefined,
  state: State,
  blocked: number,
): DeepestPoint<State> {
  const candidates: number[] = [];
  for (let e = list.next[list.head]!; e !== NIL && (e & 1) === 0; e = list.next[e]!) candidates.push(e >> 1);
  return { linearized: trailToArray(trail), state, candidates, blocked };
}
