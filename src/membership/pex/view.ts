import { assert, type Rng } from '../../core/index.js';
import { descriptorWireBytes, type PexDescriptor } from './messages.js';

/**
 * The partial view and the paper's view operations, as pure functions over an array.
 *
 * Entries are treated as immutable except for their age: a fresher descriptor for the same
 * address replaces the entry object, so an entry's identity tells whether it was refreshed since
 * it was last looked at (the core uses that to decide whether a timed-out peer may be evicted).
 */

/** A view entry: a descriptor whose age the owner increments once per cycle. */
export interface ViewEntry {
  readonly address: string;
  readonly id?: string;
  age: number;
}

/** The parameters the view operations need. */
export interface ViewParams {
  /** Own address: never kept in the view. */
  readonly self: string;
  /** The view size c. */
  readonly viewSize: number;
  /** The healing parameter H. */
  readonly healing: number;
  /** The swap parameter S. */
  readonly swap: number;
}

/** A copy of a descriptor as a fresh view entry. */
export function toEntry(d: PexDescriptor): ViewEntry {
  return d.id === undefined
    ? { address: d.address, age: d.age }
    : { address: d.address, id: d.id, age: d.age };
}

/**
 * Asserts the view invariants: at most `viewSize` entries, no self, no duplicate addresses,
 * ages are integers in 0..maxAge. Runs after every step, so messages are built only on failure.
 */
export function assertViewInvariants(view: readonly ViewEntry[], params: ViewParams, maxAge: number): void {
  if (view.length > params.viewSize)
    assert(false, `view holds ${view.length} > c=${params.viewSize} entries`);
  const seen = new Set<string>();
  for (const e of view) {
    if (e.address === params.self) assert(false, `view contains self ${params.self}`);
    if (seen.has(e.address)) assert(false, `view contains ${e.address} twice`);
    seen.add(e.address);
    if (!(Number.isSafeInteger(e.age) && e.age >= 0 && e.age <= maxAge)) {
      assert(false, `bad age ${e.age} for ${e.address}`);
    }
  }
}

/**
 * Indices of the `k` oldest entries of `view`, oldest first; ties broken uniformly at random.
 * O(k * n): k is H, a small number, so this beats sorting.
 */
function oldestIndices(view: readonly ViewEntry[], k: number, rng: Rng): Set<number> {
  const chosen = new Set<number>();
  for (let round = 0; round < k && chosen.size < view.length; round++) {
    let best = -1;
    let ties = 0;
    for (let i = 0; i < view.length; i++) {
      if (chosen.has(i)) continue;
      const age = view[i]!.age;
      if (best < 0 || age > view[best]!.age) {
        best = i;
        ties = 1;
      } else if (age === view[best]!.age && rng.int(++ties) === 0) {
        best = i;
      }
    }
    chosen.add(best);
  }
  return chosen;
}

/**
 * The paper's peer selection. `tail` returns the oldest entry (ties at random), `rand` a uniform
 * one. Entries in `busy` (an exchange is pending) are never chosen; entries in `failed` (the last
 * exchange timed out) only when nothing else is left, so a node whose every peer missed one
 * packet still retries instead of falling silent.
 *
 * @returns the chosen entry, or `undefined` when no entry is eligible
 */
export function selectPeer(
  view: readonly ViewEntry[],
  mode: 'tail' | 'rand',
  rng: Rng,
  busy: ReadonlySet<string>,
  failed: { has(address: string): boolean } = new Set<string>(),
): ViewEntry | undefined {
  let eligible = view.filter((e) => !busy.has(e.address) && !failed.has(e.address));
  if (eligible.length === 0) eligible = view.filter((e) => !busy.has(e.address));
  if (eligible.length === 0) return undefined;
  if (mode === 'rand') return rng.pick(eligible);
  let maxAge = -1;
  for (const e of eligible) if (e.age > maxAge) maxAge = e.age;
  return rng.pick(eligible.filter((e) => e.age === maxAge));
}

/**
 * Builds the buffer of an exchange: own fresh descriptor first, then the head of the permuted
 * view after moving the H oldest entries to its end, skipping `exclude` (the partner, which
 * learns nothing from its own descriptor). Stops at `maxEntries` descriptors in total or when
 * the next one would take the entries over `maxBytes` encoded bytes.
 *
 * @returns the buffer; its first element is always the self descriptor
 */
export function buildBuffer(
  view: readonly ViewEntry[],
  selfDescriptor: PexDescriptor,
  params: ViewParams,
  rng: Rng,
  exclude: string,
  maxEntries: number,
  maxBytes: number,
): PexDescriptor[] {
  const order = rng.shuffle(view.map((_, i) => i));
  const oldest = oldestIndices(view, params.healing, rng);
  const permuted = [...order.filter((i) => !oldest.has(i)), ...order.filter((i) => oldest.has(i))];
  const out: PexDescriptor[] = [selfDescriptor];
  let bytes = descriptorWireBytes(selfDescriptor);
  assert(bytes <= maxBytes, `own descriptor (${bytes} bytes) does not fit the ${maxBytes}-byte buffer`);
  for (const i of permuted) {
    if (out.length >= maxEntries) break;
    const e = view[i]!;
    if (e.address === exclude) continue;
    const d: PexDescriptor = e.id === undefined ? { address: e.address, age: e.age } : { ...e };
    const size = descriptorWireBytes(d);
    if (bytes + size > maxBytes) break;
    bytes += size;
    out.push(d);
  }
  return out;
}

/**
 * The paper's `view.select(c, H, S, buffer)`: append the received buffer, remove duplicates
 * keeping the youngest, remove min(H, size-c) oldest, remove min(S, size-c) of the entries we
 * sent (`sent`, in the order sent), then remove at random down to c. Descriptors of self are
 * ignored. Returns the new view; the input array is not modified.
 */
export function mergeView(
  view: readonly ViewEntry[],
  received: readonly PexDescriptor[],
  sent: readonly string[],
  params: ViewParams,
  rng: Rng,
): ViewEntry[] {
  const all: ViewEntry[] = view.slice();
  const at = new Map<string, number>();
  for (let i = 0; i < all.length; i++) at.set(all[i]!.address, i);
  for (const d of received) {
    if (d.address === params.self) continue;
    const i = at.get(d.address);
    if (i === undefined) {
      at.set(d.address, all.length);
      all.push(toEntry(d));
    } else if (d.age < all[i]!.age) {
      all[i] = toEntry(d);
    }
  }
  const c = params.viewSize;
  if (all.length <= c) return all;
  // Removals mark entries; one compaction at the end keeps this O(size * H).
  const dropped = new Uint8Array(all.length);
  let size = all.length;
  const healCount = Math.min(params.healing, size - c);
  if (healCount > 0) {
    for (const i of oldestIndices(all, healCount, rng)) dropped[i] = 1;
    size -= healCount;
  }
  let swapCount = Math.min(params.swap, size - c);
  for (let k = 0; k < sent.length && swapCount > 0; k++) {
    const i = at.get(sent[k]!);
    if (i === undefined || dropped[i] === 1) continue;
    dropped[i] = 1;
    size--;
    swapCount--;
  }
  while (size > c) {
    let r = rng.int(size);
    for (let i = 0; i < all.length; i++) {
      if (dropped[i] === 1) continue;
      if (r-- === 0) {
        dropped[i] = 1;
        break;
      }
    }
    size--;
  }
  const out: ViewEntry[] = [];
  for (let i = 0; i < all.length; i++) if (dropped[i] === 0) out.push(all[i]!);
  return out;
}
