import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromUtf8, type Storage, utf8 } from '../../core/index.js';
import { MemoryStorage, SimDisk } from '../../sim/index.js';
import type { KeyValue, WatchResponse } from '../api.js';
import type { StoreCommand } from '../command.js';
import { isStoreError } from '../errors.js';
import { MvccStore, type StoreResult } from './mvcc-store.js';

const b = utf8;

class Harness {
  index = 0;
  constructor(readonly store: MvccStore) {}
  static async open(storage: Storage = new MemoryStorage()): Promise<Harness> {
    return new Harness(await MvccStore.open(storage));
  }
  apply(cmd: StoreCommand): Promise<StoreResult> {
    return this.store.apply(++this.index, cmd);
  }
  async ok<T extends StoreResult['t']>(cmd: StoreCommand, t: T): Promise<Extract<StoreResult, { t: T }>> {
    const r = await this.apply(cmd);
    if (r.t === 'error') throw r.error;
    assert.equal(r.t, t);
    return r as Extract<StoreResult, { t: T }>;
  }
  async err(cmd: StoreCommand): Promise<string> {
    const r = await this.apply(cmd);
    assert.equal(r.t, 'error', `expected an error, got ${r.t}`);
    return (r as { error: { etcd: string } }).error.etcd;
  }
  put(key: string, value: string, extra: Record<string, unknown> = {}) {
    return this.ok({ t: 'put', req: { key: b(key), value: b(value), ...extra } }, 'put');
  }
  del(key: string, rangeEnd?: string, prevKv = false) {
    return this.ok(
      {
        t: 'del',
        req: { key: b(key), ...(rangeEnd === undefined ? {} : { rangeEnd: b(rangeEnd) }), prevKv },
      },
      'del',
    );
  }
}

const kv = (k: KeyValue) => ({
  key: fromUtf8(k.key),
  value: fromUtf8(k.value),
  c: k.createRevision,
  m: k.modRevision,
  v: k.version,
  l: k.lease,
});

describe('MvccStore KV as etcd 3.4', () => {
  test('revisions start at 1; a put gets the next; versions count per generation', async () => {
    const h = await Harness.open();
    assert.equal(h.store.revision, 1);
    assert.equal((await h.put('a', '1')).res.header.revision, 2);
    await h.put('b', '2');
    await h.put('a', '3');
    const r = await h.store.range({ key: b('a') });
    assert.deepEqual(r.kvs.map(kv), [{ key: 'a', value: '3', c: 2, m: 4, v: 2, l: 0 }]);
    assert.equal(r.header.revision, 4);
    await h.del('a');
    await h.put('a', '5');
    assert.deepEqual((await h.store.range({ key: b('a') })).kvs.map(kv), [
      { key: 'a', value: '5', c: 6, m: 6, v: 1, l: 0 },
    ]);
    assert.deepEqual((await h.store.range({ key: b('a'), revision: 4 })).kvs.map(kv)[0]?.value, '3');
    assert.equal((await h.store.range({ key: b('a'), revision: 5 })).kvs.length, 0);
  });

  test('range: prefix, from-key, limit/more/count, keysOnly, countOnly, sort, filters', async () => {
    const h = await Harness.open();
    for (const [k, v] of [
      ['b', 'z'],
      ['a', 'y'],
      ['c', 'x'],
      ['a', 'w'],
    ])
      await h.put(k!, v!);
    const all = await h.store.range({ key: b('a'), rangeEnd: b('d') });
    assert.deepEqual(
      all.kvs.map((x) => fromUtf8(x.key)),
      ['a', 'b', 'c'],
    );
    assert.equal(all.count, 3);
    const fromKey = await h.store.range({ key: b('b'), rangeEnd: new Uint8Array([0]) });
    assert.deepEqual(
      fromKey.kvs.map((x) => fromUtf8(x.key)),
      ['b', 'c'],
    );
    const lim = await h.store.range({ key: b('a'), rangeEnd: new Uint8Array([0]), limit: 1 });
    assert.equal(lim.more, true);
    assert.equal(lim.count, 3);
    assert.equal(lim.kvs.length, 1);
    const keysOnly = await h.store.range({ key: b('a'), rangeEnd: b('z'), keysOnly: true });
    assert.deepEqual(
      keysOnly.kvs.map((x) => x.value.length),
      [0, 0, 0],
    );
    const countOnly = await h.store.range({ key: b('a'), rangeEnd: b('z'), countOnly: true });
    assert.deepEqual([countOnly.kvs.length, countOnly.count], [0, 3]);
    // A target other than key with order none sorts ascending (etcd's default).
    const byMod = await h.store.range({ key: b('a'), rangeEnd: b('z'), sortTarget: 'mod' });
    assert.deepEqual(
      byMod.kvs.map((x) => fromUtf8(x.key)),
      ['b', 'c', 'a'],
    );
    const byValueDesc = await h.store.range({
      key: b('a'),
      rangeEnd: b('z'),
      sortTarget: 'value',
      sortOrder: 'descend',
    });
    assert.deepEqual(
      byValueDesc.kvs.map((x) => fromUtf8(x.value)),
      ['z', 'x', 'w'],
    );
    const keyDesc = await h.store.range({ key: b('a'), rangeEnd: b('z'), sortOrder: 'descend', limit: 2 });
    assert.deepEqual(
      keyDesc.kvs.map((x) => fromUtf8(x.key)),
      ['c', 'b'],
    );
    const minMod = await h.store.range({ key: b('a'), rangeEnd: b('z'), minModRevision: 4 });
    assert.deepEqual([minMod.kvs.map((x) => fromUtf8(x.key)), minMod.count], [['a', 'c'], 3]);
    const maxCreate = await h.store.range({ key: b('a'), rangeEnd: b('z'), maxCreateRevision: 2 });
    assert.deepEqual(
      maxCreate.kvs.map((x) => fromUtf8(x.key)),
      ['b'],
    );
  });

  test('range errors: empty key, future and compacted revisions', async () => {
    const h = await Harness.open();
    await h.put('a', '1');
    await h.put('b', '2');
    await h.del('a');
    await assert.rejects(h.store.range({ key: new Uint8Array(0) }), (e) => isStoreError(e, 'emptyKey'));
    await assert.rejects(h.store.range({ key: b('a'), revision: 5 }), (e) => isStoreError(e, 'futureRev'));
    await h.ok({ t: 'compact', revision: 3 }, 'compact');
    await assert.rejects(h.store.range({ key: b('a'), revision: 2 }), (e) => isStoreError(e, 'compacted'));
    // At the compact revision itself the latest values are kept (etcd: a=1 at rev 3).
    assert.deepEqual((await h.store.range({ key: b('a'), revision: 3 })).kvs.map(kv), [
      { key: 'a', value: '1', c: 2, m: 2, v: 1, l: 0 },
    ]);
    assert.equal(await h.err({ t: 'compact', revision: 3 }), 'compacted');
    assert.equal(await h.err({ t: 'compact', revision: 100 }), 'futureRev');
  });

  test('put: prevKv, ignoreValue, ignoreLease, lease checks', async () => {
    const h = await Harness.open();
    assert.equal(
      await h.err({ t: 'put', req: { key: b('a'), value: b(''), ignoreValue: true } }),
      'keyNotFound',
    );
    assert.equal(
      await h.err({ t: 'put', req: { key: b('a'), value: b('x'), ignoreValue: true } }),
      'valueProvided',
    );
    assert.equal(
      await h.err({ t: 'put', req: { key: b('a'), value: b(''), ignoreLease: true, lease: 5 } }),
      'leaseProvided',
    );
    assert.equal(await h.err({ t: 'put', req: { key: b('a'), value: b('x'), lease: 99 } }), 'leaseNotFound');
    assert.equal(await h.err({ t: 'put', req: { key: new Uint8Array(0), value: b('x') } }), 'emptyKey');
    assert.equal(h.store.revision, 1, 'refused writes add no revision');
    assert.equal(h.store.appliedIndex, 5, 'refused writes still advance the applied index');
    const g = await h.ok({ t: 'leaseGrant', id: 7, ttl: 1 }, 'leaseGrant');
    assert.deepEqual([g.res.id, g.res.ttl], [7, 2], 'TTL raised to the minimum');
    await h.put('a', 'v1', { lease: 7 });
    const p = await h.put('a', '', { ignoreValue: true, prevKv: true });
    assert.equal(fromUtf8(p.res.prevKv!.value), 'v1');
    const now = (await h.store.range({ key: b('a') })).kvs[0]!;
    assert.deepEqual([fromUtf8(now.value), now.lease, now.version], ['v1', 0, 2]);
    await h.put('a', 'v2', { lease: 7 });
    await h.put('a', 'v3', { ignoreLease: true });
    const after = (await h.store.range({ key: b('a') })).kvs[0]!;
    assert.deepEqual([fromUtf8(after.value), after.lease], ['v3', 7]);
    assert.deepEqual(h.store.lease(7)?.keys.map(fromUtf8), ['a']);
  });

  test('delete range with prevKv; deleting nothing adds no revision', async () => {
    const h = await Harness.open();
    await h.put('a', '1');
    await h.put('b', '2');
    await h.put('c', '3');
    const d = await h.del('a', 'c', true);
    assert.equal(d.res.deleted, 2);
    assert.deepEqual(
      d.res.prevKvs.map((x) => fromUtf8(x.key)),
      ['a', 'b'],
    );
    assert.equal(d.res.header.revision, 5);
    const none = await h.del('zz');
    assert.equal(none.res.deleted, 0);
    assert.equal(h.store.revision, 5);
  });

  test('txn: compares on every target, ranges see the txn writes, one revision', async () => {
    const h = await Harness.open();
    await h.put('a', '1');
    const t = await h.ok(
      {
        t: 'txn',
        req: {
          compare: [
            { key: b('a'), target: 'value', result: 'equal', value: b('1') },
            { key: b('a'), target: 'version', result: 'equal', value: 1 },
            { key: b('a'), target: 'create', result: 'less', value: 3 },
            { key: b('a'), target: 'mod', result: 'greater', value: 1 },
            { key: b('a'), target: 'lease', result: 'equal', value: 0 },
            { key: b('zz'), target: 'create', result: 'equal', value: 0 },
          ],
          success: [
            { put: { key: b('x'), value: b('1') } },
            { put: { key: b('y'), value: b('2') } },
            { range: { key: b('x'), rangeEnd: b('z') } },
          ],
          failure: [],
        },
      },
      'txn',
    );
    assert.equal(t.res.succeeded, true);
    assert.equal(t.res.header.revision, 3);
    const rr = t.res.responses[2]!;
    assert.ok('range' in rr);
    assert.deepEqual(rr.range.kvs.map(kv), [
      { key: 'x', value: '1', c: 3, m: 3, v: 1, l: 0 },
      { key: 'y', value: '2', c: 3, m: 3, v: 1, l: 0 },
    ]);
    // A value compare on a missing key fails; the failure branch runs.
    const f = await h.ok(
      {
        t: 'txn',
        req: {
          compare: [{ key: b('nope'), target: 'value', result: 'notEqual', value: b('q') }],
          success: [{ put: { key: b('s'), value: b('1') } }],
          failure: [{ range: { key: b('a') } }],
        },
      },
      'txn',
    );
    assert.equal(f.res.succeeded, false);
    assert.equal(f.res.header.revision, 3, 'a read-only branch adds no revision');
    // Range compare: every key in the range must pass.
    const rangeCmp = await h.ok(
      {
        t: 'txn',
        req: {
          compare: [{ key: b('x'), rangeEnd: b('z'), target: 'version', result: 'equal', value: 1 }],
          success: [],
          failure: [],
        },
      },
      'txn',
    );
    assert.equal(rangeCmp.res.succeeded, true);
  });

  test('txn refusals: duplicate keys, too many ops, missing lease writes nothing', async () => {
    const h = await Harness.open();
    const put = (k: string) => ({ put: { key: b(k), value: b('v') } });
    assert.equal(
      await h.err({
        t: 'txn',
        req: { compare: [], success: [put('k'), { deleteRange: { key: b('k') } }], failure: [] },
      }),
      'duplicateKey',
    );
    assert.equal(
      await h.err({ t: 'txn', req: { compare: [], success: [put('k'), put('k')], failure: [] } }),
      'duplicateKey',
    );
    const nested = { txn: { compare: [], success: [put('k')], failure: [put('k')] } };
    // The same key in both branches of a nested txn is fine (one branch runs)...
    await h.ok({ t: 'txn', req: { compare: [], success: [nested], failure: [] } }, 'txn');
    // ...but not beside a put of the outer level.
    assert.equal(
      await h.err({ t: 'txn', req: { compare: [], success: [nested, put('k')], failure: [] } }),
      'duplicateKey',
    );
    const many = Array.from({ length: 129 }, (_, i) => put(`k${i}`));
    assert.equal(await h.err({ t: 'txn', req: { compare: [], success: many, failure: [] } }), 'tooManyOps');
    const rev = h.store.revision;
    assert.equal(
      await h.err({
        t: 'txn',
        req: {
          compare: [],
          success: [put('p'), { put: { key: b('q'), value: b('v'), lease: 5 } }],
          failure: [],
        },
      }),
      'leaseNotFound',
    );
    assert.equal(h.store.revision, rev);
    assert.equal((await h.store.range({ key: b('p') })).kvs.length, 0);
  });

  test('nested txn compares see the state before the txn', async () => {
    const h = await Harness.open();
    const r = await h.ok(
      {
        t: 'txn',
        req: {
          compare: [],
          success: [
            { put: { key: b('a'), value: b('1') } },
            {
              txn: {
                compare: [{ key: b('a'), target: 'create', result: 'equal', value: 0 }],
                success: [{ put: { key: b('b'), value: b('yes') } }],
                failure: [{ put: { key: b('b'), value: b('no') } }],
              },
            },
          ],
          failure: [],
        },
      },
      'txn',
    );
    const inner = r.res.responses[1]!;
    assert.ok('txn' in inner && inner.txn.succeeded);
    assert.equal(fromUtf8((await h.store.range({ key: b('b') })).kvs[0]!.value), 'yes');
  });

  test('leases: revoke deletes every attached key in one revision; grant errors', async () => {
    const h = await Harness.open();
    await h.ok({ t: 'leaseGrant', id: 1, ttl: 60 }, 'leaseGrant');
    assert.equal(await h.err({ t: 'leaseGrant', id: 1, ttl: 60 }), 'leaseExist');
    assert.equal(await h.err({ t: 'leaseGrant', id: 2, ttl: 9_000_000_001 }), 'leaseTTLTooLarge');
    await h.put('a', '1', { lease: 1 });
    await h.put('b', '2', { lease: 1 });
    await h.put('c', '3');
    await h.put('b', '2b'); // detaches b
    await h.put('d', '4', { lease: 1 });
    const rev = h.store.revision;
    const events: WatchResponse[] = [];
    h.store.watch({ key: b('a'), rangeEnd: b('z') }, (r) => {
      events.push(r);
    });
    await h.ok({ t: 'leaseRevoke', id: 1 }, 'leaseRevoke');
    assert.equal(h.store.revision, rev + 1);
    assert.deepEqual(
      (await h.store.range({ key: b('a'), rangeEnd: b('z') })).kvs.map((x) => fromUtf8(x.key)),
      ['b', 'c'],
    );
    assert.equal(h.store.lease(1), undefined);
    assert.equal(await h.err({ t: 'leaseRevoke', id: 1 }), 'leaseNotFound');
    const del = events.find((e) => e.events.length > 0)!;
    assert.deepEqual(
      del.events.map((e) => [e.type, fromUtf8(e.kv.key), e.kv.modRevision]),
      [
        ['delete', 'a', rev + 1],
        ['delete', 'd', rev + 1],
      ],
    );
    const auto = await h.ok({ t: 'leaseGrant', id: 0, ttl: 5 }, 'leaseGrant');
    assert.ok(auto.res.id > 0);
    await h.ok(
      { t: 'leaseCheckpoint', checkpoints: [{ id: auto.res.id, remainingTtl: 3 }] },
      'leaseCheckpoint',
    );
    assert.equal(h.store.lease(auto.res.id)?.remainingTtl, 3);
  });

  test('apply is idempotent by raft index', async () => {
    const h = await Harness.open();
    await h.store.apply(1, { t: 'put', req: { key: b('a'), value: b('1') } });
    const again = await h.store.apply(1, { t: 'put', req: { key: b('a'), value: b('1') } });
    assert.equal(again.t, 'skipped');
    assert.equal(h.store.revision, 2);
  });
});

describe('MvccStore durability', () => {
  async function workload(h: Harness): Promise<void> {
    await h.ok({ t: 'leaseGrant', id: 9, ttl: 30 }, 'leaseGrant');
    await h.put('a', '1');
    await h.put('b', '1', { lease: 9 });
    await h.put('a', '2');
    await h.del('b');
    await h.put('b', '3', { lease: 9 });
    await h.put('c', '1');
    await h.ok({ t: 'compact', revision: 4 }, 'compact');
    await h.put('a', '3');
    await h.ok({ t: 'member', data: b('members') }, 'member');
  }

  async function image(store: MvccStore) {
    const r = await store.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) });
    return {
      kvs: r.kvs.map(kv),
      rev: store.revision,
      cr: store.compactRevision,
      ci: store.appliedIndex,
      leases: store.leases().map((l) => ({ ...l, keys: l.keys.map(fromUtf8) })),
      member: store.memberData() && fromUtf8(store.memberData()!),
    };
  }

  test('reopen on the same Storage sees the same state, history and leases', async () => {
    const storage = new MemoryStorage();
    const h = await Harness.open(storage);
    await workload(h);
    const before = await image(h.store);
    await h.store.close();
    const again = await MvccStore.open(storage);
    assert.deepEqual(await image(again), before);
    assert.deepEqual((await again.range({ key: b('a'), revision: 4 })).kvs.map(kv), [
      { key: 'a', value: '2', c: 2, m: 4, v: 2, l: 0 },
    ]);
    // The version survives compaction of the earlier revisions.
    const next = await again.apply(100, { t: 'put', req: { key: b('a'), value: b('4') } });
    assert.ok(next.t === 'put');
    assert.equal((await again.range({ key: b('a') })).kvs[0]!.version, 4);
  });

  test('a crash losing unsynced batches, then replay of the same commands, gives the same state', async () => {
    const disk = new SimDisk();
    const h = await Harness.open(disk);
    await h.put('x', '0');
    await h.store.sync();
    const syncedAt = h.index;
    await workload(h);
    const expected = await image(h.store);
    const commands: StoreCommand[] = [];
    // Re-run the same workload against a recorder to get the command list.
    const rec = await Harness.open();
    const orig = rec.apply.bind(rec);
    rec.apply = (cmd) => {
      commands.push(cmd);
      return orig(cmd);
    };
    await rec.put('x', '0');
    await workload(rec);
    disk.crash();
    disk.reopen();
    const after = await MvccStore.open(disk);
    assert.equal(after.appliedIndex, syncedAt);
    for (let i = 0; i < commands.length; i++) await after.apply(i + 1, commands[i]!);
    assert.deepEqual(await image(after), expected);
  });

  test('sync(index) makes every applied write durable and records raft index past the last command', async () => {
    const disk = new SimDisk();
    const h = await Harness.open(disk);
    await h.put('a', '1');
    await h.put('b', '2');
    // Raft entries 3..5 had nothing for the store (a leader's no-op, conf changes).
    await h.store.sync(5);
    assert.equal(h.store.appliedIndex, 5);
    await h.store.sync(4);
    assert.equal(h.store.appliedIndex, 5, 'never moves back');
    await h.store.apply(6, { t: 'put', req: { key: b('c'), value: b('3') } });
    disk.crash();
    disk.reopen();
    const after = await MvccStore.open(disk);
    assert.equal(after.appliedIndex, 5, 'the unsynced put at 6 is lost, the synced state is not');
    assert.equal(fromUtf8((await after.range({ key: b('b') })).kvs[0]!.value), '2');
    assert.equal((await after.range({ key: b('c') })).kvs.length, 0);
    assert.equal((await after.apply(5, { t: 'put', req: { key: b('z'), value: b('1') } })).t, 'skipped');
  });

  test('snapshot and restore round trip, and open after restore', async () => {
    const h = await Harness.open();
    await workload(h);
    const expected = await image(h.store);
    const data = await h.store.snapshot();
    const storage = new MemoryStorage();
    const other = await MvccStore.open(storage);
    await other.apply(1, { t: 'put', req: { key: b('junk'), value: b('1') } });
    await other.restore(data, h.index);
    assert.deepEqual(await image(other), expected);
    await other.close();
    assert.deepEqual(await image(await MvccStore.open(storage)), expected);
    const bad = data.slice();
    bad[20] = bad[20]! ^ 1;
    await assert.rejects(other.restore(bad, 1));
  });

  test('a snapshot holds later writes back only until its read has begun, and holds none of them', async () => {
    /** A storage whose next iteration (once armed) stops after its first entry until `ungate()`. */
    class SlowReads extends MemoryStorage {
      armed = false;
      private release: () => void = () => {};
      private readonly gate = new Promise<void>((resolve) => {
        this.release = resolve;
      });
      override iterator(range?: Parameters<Storage['iterator']>[0]) {
        const inner = super.iterator(range);
        if (!this.armed) return inner;
        this.armed = false;
        const gate = this.gate;
        return {
          async *[Symbol.asyncIterator]() {
            let first = true;
            for await (const entry of inner) {
              if (!first) await gate;
              first = false;
              yield entry;
            }
          },
        };
      }
      ungate(): void {
        this.release();
      }
    }
    const h = await Harness.open();
    await h.put('a', '1');
    await h.put('b', '2');
    const expected = await image(h.store);
    const gated = new SlowReads();
    const g = await Harness.open(gated);
    await g.put('a', '1');
    await g.put('b', '2');
    gated.armed = true;
    const building = g.store.snapshot();
    let built = false;
    void building.then(() => {
      built = true;
    });
    // Writes queued after the snapshot apply while its read is still under way.
    await g.put('a', 'later');
    await g.del('b');
    assert.equal(built, false, 'the image is still being read');
    gated.ungate();
    const data = await building;
    const other = await MvccStore.open(new MemoryStorage());
    await other.restore(data, 2);
    assert.deepEqual(await image(other), expected, 'the image is of the state when it was asked for');
    assert.equal(fromUtf8((await g.store.range({ key: b('a') })).kvs[0]!.value), 'later');
  });

  test('physical compaction removes superseded records; the caller can await it', async () => {
    const storage = new MemoryStorage();
    const h = await Harness.open(storage);
    for (let i = 0; i < 10; i++) await h.put('a', String(i));
    const records = async () => {
      const revs: number[] = [];
      for await (const [k] of storage.iterator({ gte: b('r'), lt: b('s') })) revs.push(k[8]!);
      return revs;
    };
    assert.deepEqual(await records(), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const c = await h.ok({ t: 'compact', revision: 9 }, 'compact');
    await c.physical;
    assert.deepEqual(await records(), [9, 10, 11], 'revisions 2..8 of a are gone');
    assert.deepEqual(
      (await h.store.range({ key: b('a'), revision: 9 })).kvs.map((x) => fromUtf8(x.value)),
      ['7'],
    );
  });
});

test('the store keeps its own copy of written bytes', async () => {
  const store = await MvccStore.open(new MemoryStorage());
  const key = utf8('k');
  const value = utf8('v');
  await store.apply(1, { t: 'put', req: { key, value } });
  key.fill(0);
  value.fill(0);
  const got = (await store.range({ key: utf8('k') })).kvs[0]!;
  assert.equal(fromUtf8(got.value), 'v');
});

test('records past the cache bound are read back from Storage, at every revision', async () => {
  const store = await MvccStore.open(new MemoryStorage(), { limits: { maxCachedRecords: 3 } });
  let index = 0;
  // Three keys written in turn, seven rounds: every cache slot is reused several times.
  for (let round = 0; round < 7; round++) {
    for (const k of ['a', 'b', 'c']) {
      await store.apply(++index, { t: 'put', req: { key: utf8(k), value: utf8(`${k}${round}`) } });
    }
  }
  for (let rev = 2; rev <= store.revision; rev++) {
    const n = rev - 2;
    const k = ['a', 'b', 'c'][n % 3]!;
    const got = (await store.range({ key: utf8(k), revision: rev })).kvs[0]!;
    assert.equal(fromUtf8(got.value), `${k}${Math.floor(n / 3)}`, `revision ${rev}`);
    assert.equal(got.modRevision, rev);
  }
  // Read twice more in another order: cached and evicted records answer alike.
  for (let rev = store.revision; rev >= 2; rev--) {
    const k = ['a', 'b', 'c'][(rev - 2) % 3]!;
    assert.equal((await store.range({ key: utf8(k), revision: rev })).kvs[0]!.modRevision, rev);
  }
  const all = await store.range({ key: utf8('a'), rangeEnd: utf8('d') });
  assert.deepEqual(
    all.kvs.map((kv) => fromUtf8(kv.value)),
    ['a6', 'b6', 'c6'],
  );
});

test('the latest records are held with their keys, up to the bound; prevKv and reads agree either way', async () => {
  const store = await MvccStore.open(new MemoryStorage(), { limits: { maxCachedRecords: 2 } });
  let index = 0;
  const put = async (k: string, v: string) => {
    const r = await store.apply(++index, { t: 'put', req: { key: utf8(k), value: utf8(v), prevKv: true } });
    assert.equal(r.t, 'put');
    return (r as Extract<StoreResult, { t: 'put' }>).res.prevKv;
  };
  const held = (k: string) => {
    const ki = (store as unknown as { index: { find(k: string): { held?: unknown } | undefined } }).index;
    return ki.find(k)?.held !== undefined;
  };
  assert.equal(await put('a', 'a1'), undefined);
  assert.equal(fromUtf8((await put('a', 'a2'))!.value), 'a1');
  await put('b', 'b1');
  assert.ok(held('a') && held('b'));
  await put('c', 'c1');
  // Two slots: the oldest write (a) is let go, its record is read from Storage.
  assert.ok(!held('a') && held('b') && held('c'));
  const prev = await put('a', 'a3');
  assert.equal(fromUtf8(prev!.value), 'a2');
  assert.equal(prev!.version, 2);
  assert.equal(fromUtf8((await store.range({ key: utf8('a') })).kvs[0]!.value), 'a3');
  // A deleted key's held record never answers for it again.
  await store.apply(++index, { t: 'del', req: { key: utf8('a') } });
  assert.equal((await store.range({ key: utf8('a') })).kvs.length, 0);
  assert.equal(await put('a', 'a4'), undefined);
  const now = (await store.range({ key: utf8('a') })).kvs[0]!;
  assert.equal(fromUtf8(now.value), 'a4');
  assert.equal(now.version, 1);
});
