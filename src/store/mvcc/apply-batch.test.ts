import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type BatchOp, fromUtf8, isCairnError, Rng, type Storage, utf8 } from '../../core/index.js';
import { MemoryStorage } from '../../sim/index.js';
import type { WatchEvent, WatchResponse } from '../api.js';
import type { StoreCommand } from '../command.js';
import { MvccStore, type StoreResult } from './mvcc-store.js';

const b = utf8;

/** A Storage whose batches wait for `release()` while `hold` is set, and can be made to fail. */
class GatedStorage implements Storage {
  hold = false;
  failNext = false;
  batches = 0;
  private waiting: (() => void)[] = [];
  constructor(private readonly inner: Storage = new MemoryStorage()) {}
  get(key: Uint8Array) {
    return this.inner.get(key);
  }
  iterator(range?: Parameters<Storage['iterator']>[0]) {
    return this.inner.iterator(range);
  }
  async batch(ops: readonly BatchOp[], options?: { sync?: boolean }): Promise<void> {
    this.batches++;
    if (this.failNext) throw new Error('disk on fire');
    if (this.hold) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return this.inner.batch(ops, options);
  }
  release(): void {
    this.hold = false;
    for (const w of this.waiting.splice(0)) w();
  }
  close() {
    return this.inner.close();
  }
}

async function contents(s: Storage): Promise<string[]> {
  const out: string[] = [];
  for await (const [k, v] of s.iterator())
    out.push(`${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`);
  return out;
}

/** A random command over a small key space, leases included, so batches mix every kind. */
function randomCommand(rng: Rng, leases: number[]): StoreCommand {
  const key = () => b(`k${rng.int(6)}`);
  const value = () => b(`v${rng.int(1000)}`);
  const lease = () => (leases.length > 0 && rng.chance(0.3) ? leases[rng.int(leases.length)]! : 0);
  switch (rng.int(10)) {
    case 0:
      return { t: 'leaseGrant', id: 100 + rng.int(4), ttl: 30 };
    case 1:
      return { t: 'leaseRevoke', id: 100 + rng.int(4) };
    case 2:
      return {
        t: 'del',
        req: { key: key(), ...(rng.chance(0.5) ? { rangeEnd: b('k4') } : {}), prevKv: true },
      };
    case 3:
    case 4: {
      const k = key();
      return {
        t: 'txn',
        req: {
          compare: [{ key: k, target: 'version', result: 'greater', value: rng.int(3) }],
          success: [{ put: { key: k, value: value(), lease: lease() } }],
          failure: [{ deleteRange: { key: k } }, { range: { key: key() } }],
        },
      };
    }
    case 5:
      return { t: 'put', req: { key: key(), value: b(''), ignoreValue: true, prevKv: true } };
    default:
      return { t: 'put', req: { key: key(), value: value(), lease: lease(), prevKv: rng.chance(0.5) } };
  }
}

function comparable(r: StoreResult): unknown {
  if (r.t === 'compact') return { t: r.t, res: r.res };
  if (r.t === 'error') return { t: r.t, etcd: r.error.etcd };
  return r;
}

function eventView(events: readonly WatchEvent[]) {
  return events.map((e) => [e.type, e.kv.modRevision, fromUtf8(e.kv.key), fromUtf8(e.kv.value), e.kv.lease]);
}

describe('MvccStore.applyBatch', () => {
  test('random batches give the results, revisions, Storage and watch events of one apply per command', async () => {
    const seed = Number(process.env.CAIRN_SEED ?? Date.now() % 2 ** 31);
    console.log(
      `seed=${seed}; replay: CAIRN_SEED=${seed} node --import tsx --test src/store/mvcc/apply-batch.test.ts`,
    );
    for (let run = 0; run < 20; run++) {
      const rng = Rng.fromSeed(seed).child(run);
      const one = new MemoryStorage();
      const many = new MemoryStorage();
      const a = await MvccStore.open(one);
      const z = await MvccStore.open(many);
      const seenA: WatchResponse[] = [];
      const seenZ: WatchResponse[] = [];
      a.watch({ key: b('k'), rangeEnd: b('l'), startRevision: 1, prevKv: true }, (r) => seenA.push(r));
      z.watch({ key: b('k'), rangeEnd: b('l'), startRevision: 1, prevKv: true }, (r) => seenZ.push(r));
      const leases = [100, 101, 102, 103];
      let index = 0;
      for (let batch = 0; batch < 12; batch++) {
        const items = Array.from({ length: 1 + rng.int(12) }, () => ({
          index: ++index,
          cmd: randomCommand(rng, leases),
        }));
        const want: { result: unknown; revision: number }[] = [];
        for (const { index: i, cmd } of items) {
          const result = await a.apply(i, cmd);
          want.push({ result: comparable(result), revision: a.revision });
        }
        const got = await z.applyBatch(items);
        const ctx = `seed=${seed} run=${run} batch=${batch}`;
        assert.deepEqual(
          got.map((g) => ({ result: comparable(g.result), revision: g.revision })),
          want,
          `${ctx}: results`,
        );
        assert.equal(z.revision, a.revision, `${ctx}: revision`);
        assert.equal(z.appliedIndex, a.appliedIndex, `${ctx}: applied index`);
      }
      // A replayed batch is skipped, as replayed applies are.
      const again = await z.applyBatch([{ index, cmd: { t: 'put', req: { key: b('k0'), value: b('x') } } }]);
      assert.equal(again[0]!.result.t, 'skipped');
      await a.watchSettled();
      await z.watchSettled();
      assert.deepEqual(await contents(many), await contents(one), `seed=${seed} run=${run}: Storage`);
      assert.deepEqual(
        eventView(seenZ.flatMap((r) => r.events)),
        eventView(seenA.flatMap((r) => r.events)),
        `seed=${seed} run=${run}: watch events`,
      );
      assert.deepEqual(
        seenZ.map((r) => r.events.map((e) => e.prevKv?.modRevision ?? 0)),
        seenA.map((r) => r.events.map((e) => e.prevKv?.modRevision ?? 0)),
        `seed=${seed} run=${run}: prevKv`,
      );
      assert.deepEqual(a.leases(), z.leases(), `seed=${seed} run=${run}: leases`);
      await a.close();
      await z.close();
    }
  });

  test('one Storage write for a run of writes; nothing is visible until it landed, then all of it in order', async () => {
    const storage = new GatedStorage();
    const store = await MvccStore.open(storage);
    const events: number[] = [];
    store.watch({ key: b('a'), rangeEnd: b('b') }, (r) => {
      for (const e of r.events) events.push(e.kv.modRevision);
    });
    const before = storage.batches;
    storage.hold = true;
    const done = store.applyBatch([
      { index: 1, cmd: { t: 'put', req: { key: b('a1'), value: b('1') } } },
      { index: 2, cmd: { t: 'put', req: { key: b('a1'), value: b('2'), prevKv: true } } },
      { index: 3, cmd: { t: 'del', req: { key: b('a0') } } },
      { index: 4, cmd: { t: 'put', req: { key: b('a2'), value: b('3') } } },
    ]);
    await new Promise((r) => setImmediate(r));
    assert.equal(storage.batches - before, 1, 'one write for the run');
    const during = await store.range({ key: b('a'), rangeEnd: b('b') });
    assert.equal(during.header.revision, 1);
    assert.equal(during.kvs.length, 0);
    assert.deepEqual(events, []);
    assert.equal(store.appliedIndex, 0);
    storage.release();
    const results = await done;
    assert.deepEqual(
      results.map((r) => r.revision),
      [2, 3, 3, 4],
      'each result carries the revision right after its command',
    );
    const second = results[1]!.result;
    assert.ok(second.t === 'put' && second.res.prevKv !== undefined);
    assert.equal(fromUtf8(second.res.prevKv.value), '1', 'a later command reads an earlier staged write');
    await store.watchSettled();
    assert.deepEqual(events, [2, 3, 4]);
    const after = await store.range({ key: b('a'), rangeEnd: b('b') });
    assert.deepEqual(
      after.kvs.map((k) => [fromUtf8(k.key), fromUtf8(k.value), k.version]),
      [
        ['a1', '2', 2],
        ['a2', '3', 1],
      ],
    );
    assert.equal(store.appliedIndex, 4);
    await store.close();
  });

  test('a lease grant between writes splits the batch; the lease sees the keys attached before it', async () => {
    const store = await MvccStore.open(new MemoryStorage());
    const r = await store.applyBatch([
      { index: 1, cmd: { t: 'leaseGrant', id: 7, ttl: 10 } },
      { index: 2, cmd: { t: 'put', req: { key: b('x'), value: b('1'), lease: 7 } } },
      { index: 3, cmd: { t: 'put', req: { key: b('x'), value: b('2'), lease: 0 } } },
      { index: 4, cmd: { t: 'put', req: { key: b('y'), value: b('3'), lease: 7 } } },
      { index: 5, cmd: { t: 'leaseRevoke', id: 7 } },
    ]);
    assert.deepEqual(
      r.map((x) => x.result.t),
      ['leaseGrant', 'put', 'put', 'put', 'leaseRevoke'],
    );
    const left = await store.range({ key: b('x'), rangeEnd: b('z') });
    assert.deepEqual(
      left.kvs.map((k) => fromUtf8(k.key)),
      ['x'],
      'the revoke deleted y only: x was detached by the second put',
    );
    await store.close();
  });

  test('a Storage failure rejects the batch and leaves the store unusable', async () => {
    const storage = new GatedStorage();
    const store = await MvccStore.open(storage);
    storage.failNext = true;
    await assert.rejects(
      store.applyBatch([{ index: 1, cmd: { t: 'put', req: { key: b('a'), value: b('1') } } }]),
      /disk on fire/,
    );
    await assert.rejects(store.range({ key: b('a') }), (e: unknown) => isCairnError(e, 'IO_ERROR'));
    await assert.rejects(
      store.applyBatch([{ index: 2, cmd: { t: 'put', req: { key: b('a'), value: b('2') } } }]),
      (e: unknown) => isCairnError(e, 'IO_ERROR'),
    );
  });
});
