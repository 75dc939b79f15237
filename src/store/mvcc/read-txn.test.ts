import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromUtf8, utf8 } from '../../core/index.js';
import { MemoryStorage } from '../../sim/index.js';
import type { TxnRequest, TxnResponse } from '../api.js';
import { isStoreError } from '../errors.js';
import { MvccStore } from './mvcc-store.js';

/** MvccStore.readTxn: a read-only txn evaluated locally answers as applying it would, writing nothing. */

const b = utf8;

async function seeded(): Promise<{ store: MvccStore; next: () => number }> {
  const store = await MvccStore.open(new MemoryStorage());
  let index = 0;
  const next = () => ++index;
  for (const [k, v] of [
    ['a', '1'],
    ['b', '2'],
    ['a', '3'],
    ['c', '4'],
  ] as const) {
    await store.apply(next(), { t: 'put', req: { key: b(k), value: b(v) } });
  }
  return { store, next };
}

/** A response without headers (the applied one is stamped at the apply's revision, equal here). */
function body(r: TxnResponse): unknown {
  return JSON.parse(
    JSON.stringify({ ...r, header: undefined }, (k, v) =>
      k === 'header' ? undefined : v instanceof Uint8Array ? fromUtf8(v) : v,
    ),
  );
}

const readOnly: TxnRequest = {
  compare: [{ key: b('a'), target: 'value', result: 'equal', value: b('3') }],
  success: [
    { range: { key: b('a'), rangeEnd: b('z') } },
    {
      txn: {
        compare: [{ key: b('b'), target: 'version', result: 'greater', value: 1 }],
        success: [{ range: { key: b('b') } }],
        failure: [{ range: { key: b('c'), revision: 3 } }],
      },
    },
  ],
  failure: [{ range: { key: b('b') } }],
};

describe('MvccStore.readTxn', () => {
  it('answers as the applied txn would, without consuming a revision or an index', async () => {
    const { store, next } = await seeded();
    const rev = store.revision;
    const applied = store.appliedIndex;
    const local = await store.readTxn(readOnly);
    assert.equal(store.revision, rev);
    assert.equal(store.appliedIndex, applied);
    assert.equal(local.succeeded, true);
    assert.equal(local.header.revision, rev);
    const inner = local.responses[1];
    assert.ok(inner !== undefined && 'txn' in inner && inner.txn.succeeded === false);
    const viaLog = await store.apply(next(), { t: 'txn', req: readOnly });
    assert.equal(viaLog.t, 'txn');
    assert.equal(store.revision, rev, 'a read-only txn applied through the log does not write either');
    assert.deepEqual(body(local), body((viaLog as { res: TxnResponse }).res));
    const failing = await store.readTxn({
      ...readOnly,
      compare: [{ ...readOnly.compare[0]!, value: b('1') }],
    });
    assert.equal(failing.succeeded, false);
    const r = failing.responses[0];
    assert.ok(r !== undefined && 'range' in r);
    assert.equal(fromUtf8(r.range.kvs[0]!.value), '2');
  });

  it('refuses writes, future and compacted revisions, and the txn checks', async () => {
    const { store, next } = await seeded();
    const withPut: TxnRequest = {
      compare: [],
      success: [],
      failure: [{ put: { key: b('x'), value: b('') } }],
    };
    await assert.rejects(store.readTxn(withPut), (e) => isStoreError(e, 'invalidArgument'));
    const nestedDelete: TxnRequest = {
      compare: [],
      success: [{ txn: { compare: [], success: [{ deleteRange: { key: b('a') } }], failure: [] } }],
      failure: [],
    };
    await assert.rejects(store.readTxn(nestedDelete), (e) => isStoreError(e, 'invalidArgument'));
    const future: TxnRequest = {
      compare: [],
      success: [{ range: { key: b('a'), revision: 99 } }],
      failure: [],
    };
    await assert.rejects(store.readTxn(future), (e) => isStoreError(e, 'futureRev'));
    await store.apply(next(), { t: 'compact', revision: 3 });
    const old: TxnRequest = { compare: [], success: [{ range: { key: b('a'), revision: 2 } }], failure: [] };
    await assert.rejects(store.readTxn(old), (e) => isStoreError(e, 'compacted'));
    const tooMany: TxnRequest = {
      compare: [],
      success: Array.from({ length: 1_000 }, () => ({ range: { key: b('a') } })),
      failure: [],
    };
    await assert.rejects(store.readTxn(tooMany), (e) => isStoreError(e, 'tooManyOps'));
    assert.equal(store.revision, 5, 'four puts from revision 1; nothing else wrote');
  });
});
