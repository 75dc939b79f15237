import { compareBytes } from '../../core/index.js';
import type { KeyValue, RangeRequest, SortOrder, SortTarget } from '../api.js';
import type { IndexedKey, TreeIndex } from './key-index.js';
import { type Rev, recordToKv, type StoredRecord, toRangeEnd } from './layout.js';

/** Reads a record by revision (from a txn's pending writes, the cache or Storage). */
export type RecordRead = (rev: Rev) => Promise<StoredRecord>;

/** The result of a range before the response header is attached. */
export interface RangeResult {
  readonly kvs: KeyValue[];
  readonly more: boolean;
  readonly count: number;
}

/**
 * etcd's range at revision `atRev` (already checked against the compact and current revisions),
 * as etcdserver's apply does it: the keys live at `atRev` in the range; `count` is all of them;
 * the min/max mod/create filters prune; a sort target other than key with order none sorts
 * ascending (etcd's default); `limit` cuts and sets `more`; `keysOnly` drops values;
 * `countOnly` returns no kvs.
 *
 * The index scan is synchronous, so the set of keys is one consistent cut even while applies
 * run; records are then read by revision, which never changes once written.
 */
export async function rangeAt(
  index: TreeIndex,
  read: RecordRead,
  r: RangeRequest,
  atRev: number,
): Promise<RangeResult> {
  let keys = index.range(r.key, toRangeEnd(r.rangeEnd), atRev);
  const count = keys.length;
  if (r.countOnly) return { kvs: [], more: false, count };
  if (r.minModRevision || r.maxModRevision || r.minCreateRevision || r.maxCreateRevision)
    keys = keys.filter((k) => passesFilters(k, r));
  let order: SortOrder = r.sortOrder ?? 'none';
  const target: SortTarget = r.sortTarget ?? 'key';
  if (target !== 'key' && order === 'none') order = 'ascend';
  const limit = r.limit ?? 0;
  if (target === 'value' && order !== 'none') {
    const all = await Promise.all(
      keys.map(async (k) => recordToKv(k.record ?? (await read(k.mod)), k.mod.main)),
    );
    sortKvs(all, order);
    const more = limit > 0 && all.length > limit;
    const kvs = more ? all.slice(0, limit) : all;
    return { kvs: r.keysOnly ? kvs.map(dropValue) : kvs, more, count };
  }
  if (order !== 'none') sortIndexed(keys, target, order);
  const more = limit > 0 && keys.length > limit;
  if (more) keys = keys.slice(0, limit);
  if (keys.length === 1) {
    // A get: one read, without Promise.all and its per-key promise.
    const k = keys[0]!;
    const kv = recordToKv(k.record ?? (await read(k.mod)), k.mod.main);
    return { kvs: [r.keysOnly ? dropValue(kv) : kv], more, count };
  }
  const kvs = await Promise.all(
    keys.map(async (k) => {
      const kv = recordToKv(k.record ?? (await read(k.mod)), k.mod.main);
      return r.keysOnly ? dropValue(kv) : kv;
    }),
  );
  return { kvs, more, count };
}

function passesFilters(k: IndexedKey, r: RangeRequest): boolean {
  const mod = k.mod.main;
  const create = k.created.main;
  if (r.minModRevision && mod < r.minModRevision) return false;
  if (r.maxModRevision && mod > r.maxModRevision) return false;
  if (r.minCreateRevision && create < r.minCreateRevision) return false;
  if (r.maxCreateRevision && create > r.maxCreateRevision) return false;
  return true;
}

function dropValue(kv: KeyValue): KeyValue {
  return { ...kv, value: new Uint8Array(0) };
}

function sortIndexed(keys: IndexedKey[], target: SortTarget, order: SortOrder): void {
  const field = (k: IndexedKey): number =>
    target === 'version' ? k.version : target === 'create' ? k.created.main : k.mod.main;
  const cmp =
    target === 'key'
      ? (a: IndexedKey, b: IndexedKey) => compareBytes(a.key, b.key)
      : (a: IndexedKey, b: IndexedKey) => field(a) - field(b);
  keys.sort(order === 'descend' ? (a, b) => cmp(b, a) : cmp);
}

function sortKvs(kvs: KeyValue[], order: SortOrder): void {
  kvs.sort((a, b) => (order === 'descend' ? compareBytes(b.value, a.value) : compareBytes(a.value, b.value)));
}
