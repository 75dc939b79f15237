/**
 * The Storage contract suite: one set of tests every core {@link Storage} passes (MemoryStorage,
 * the simulator's SimDisk, LevelStorage). No sleeps, no timing.
 *
 * @example
 * ```ts
 * describeStorageContract('memory', async () => ({ storage: new MemoryStorage(), cleanup: async () => {} }));
 * ```
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type BatchOp,
  compareBytes,
  fromUtf8,
  inRange,
  isCairnError,
  type KeyRange,
  type Storage,
  toHex,
  utf8,
} from '../../src/core/index.js';

/** A fresh, empty storage. */
export interface StorageEnv {
  storage: Storage;
  /**
   * Closes the storage cleanly and opens the same data again (a restart); absent for storages
   * without durable data.
   */
  reopen?: () => Promise<Storage>;
  cleanup(): Promise<void>;
}

const put = (k: string | Uint8Array, val: string | Uint8Array): BatchOp => ({
  type: 'put',
  key: typeof k === 'string' ? utf8(k) : k,
  value: typeof val === 'string' ? utf8(val) : val,
});
const del = (k: string): BatchOp => ({ type: 'del', key: utf8(k) });

async function collect(storage: Storage, range?: KeyRange): Promise<string[]> {
  const out: string[] = [];
  for await (const [k, v] of storage.iterator(range)) out.push(`${fromUtf8(k)}=${fromUtf8(v)}`);
  return out;
}

async function keysHex(storage: Storage, range?: KeyRange): Promise<string[]> {
  const out: string[] = [];
  for await (const [k] of storage.iterator(range)) out.push(toHex(k));
  return out;
}

const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);

/** Declares the contract suite for one implementation; `makeEnv` is called once per test. */
export function describeStorageContract(name: string, makeEnv: () => Promise<StorageEnv>): void {
  const test = (title: string, body: (env: StorageEnv) => Promise<void>) =>
    it(title, async () => {
      const env = await makeEnv();
      try {
        await body(env);
      } finally {
        await env.cleanup();
      }
    });

  describe(`Storage contract: ${name}`, () => {
    test('get returns what was put, undefined for a missing or deleted key, and empty values', async ({
      storage,
    }) => {
      assert.equal(await storage.get(utf8('a')), undefined);
      await storage.batch([put('a', '1'), put('b', ''), put('c', '3')]);
      assert.equal(fromUtf8((await storage.get(utf8('a')))!), '1');
      assert.deepEqual(await storage.get(utf8('b')), new Uint8Array(0));
      await storage.batch([del('a'), del('nothing')]);
      assert.equal(await storage.get(utf8('a')), undefined);
    });

    test('a batch applies in order: put then delete leaves nothing, delete then put leaves the value', async ({
      storage,
    }) => {
      await storage.batch([put('x', '1'), del('x'), del('y'), put('y', '2'), put('z', '1'), put('z', '2')]);
      assert.deepEqual(await collect(storage), ['y=2', 'z=2']);
      await storage.batch([]);
      assert.deepEqual(await collect(storage), ['y=2', 'z=2']);
    });

    test('keys sort by unsigned bytes; a prefix sorts first', async ({ storage }) => {
      const keys = [[0xff], [0x80], [0x7f], [0x00], [0x61], [0x61, 0x00], [0x61, 0x62], []].map(
        (k) => new Uint8Array(k),
      );
      await storage.batch(keys.filter((k) => k.length > 0).map((k) => put(k, 'v')));
      assert.deepEqual(await keysHex(storage), ['00', '61', '6100', '6162', '7f', '80', 'ff']);
      assert.deepEqual(await keysHex(storage, { reverse: true }), [
        'ff',
        '80',
        '7f',
        '6162',
        '6100',
        '61',
        '00',
      ]);
    });

    test('ranges: gt, gte, lt, lte, reverse and limit combine', async ({ storage }) => {
      await storage.batch(['a', 'b', 'c', 'd', 'e'].map((k) => put(k, k)));
      const keys = async (r: KeyRange) => (await collect(storage, r)).map((s) => s[0]);
      assert.deepEqual(await keys({ gte: utf8('b'), lt: utf8('d') }), ['b', 'c']);
      assert.deepEqual(await keys({ gt: utf8('b'), lte: utf8('d') }), ['c', 'd']);
      assert.deepEqual(await keys({ gt: utf8('b'), lte: utf8('d'), reverse: true }), ['d', 'c']);
      assert.deepEqual(await keys({ gte: utf8('b'), limit: 2 }), ['b', 'c']);
      assert.deepEqual(await keys({ lt: utf8('e'), reverse: true, limit: 2 }), ['d', 'c']);
      assert.deepEqual(await keys({ limit: 0 }), []);
      assert.deepEqual(await keys({ gt: utf8('e') }), []);
      assert.deepEqual(await keys({ gte: utf8('bb'), lt: utf8('dd') }), ['c', 'd']);
    });

    test('an iterator reads the data as of its start; breaking out early is fine', async ({ storage }) => {
      await storage.batch([put('a', '1'), put('b', '2'), put('c', '3')]);
      const seen: string[] = [];
      for await (const [k] of storage.iterator()) {
        seen.push(fromUtf8(k));
        if (seen.length === 1) await storage.batch([put('bb', 'x'), del('c')]);
      }
      assert.deepEqual(seen, ['a', 'b', 'c']);
      for await (const _ of storage.iterator()) break;
      assert.deepEqual(await collect(storage), ['a=1', 'b=2', 'bb=x']);
    });

    test('returned values are not affected by later writes or by mutating the inputs', async ({
      storage,
    }) => {
      const value = utf8('abc');
      await storage.batch([{ type: 'put', key: utf8('k'), value }]);
      value[0] = 0x7a;
      const got = (await storage.get(utf8('k')))!;
      assert.equal(fromUtf8(got), 'abc');
      await storage.batch([put('k', 'new')]);
      assert.equal(fromUtf8(got), 'abc');
    });

    test('malformed ops are refused', async ({ storage }) => {
      await assert.rejects(
        storage.batch([{ type: 'put', key: 'a' as unknown as Uint8Array, value: utf8('1') }]),
        (e) => isCairnError(e, 'INVALID_ARGUMENT'),
      );
      await assert.rejects(storage.batch([{ type: 'nope', key: utf8('a') } as unknown as BatchOp]), (e) =>
        isCairnError(e, 'INVALID_ARGUMENT'),
      );
      assert.equal(await storage.get(utf8('a')), undefined);
    });

    test('after close every call rejects with CLOSED', async ({ storage }) => {
      await storage.close();
      await assert.rejects(storage.get(utf8('a')), (e) => isCairnError(e, 'CLOSED'));
      await assert.rejects(storage.batch([put('a', '1')]), (e) => isCairnError(e, 'CLOSED'));
      await assert.rejects(collect(storage), (e) => isCairnError(e, 'CLOSED'));
    });

    test('synced and unsynced batches survive a clean restart', async (env) => {
      if (env.reopen === undefined) return;
      await env.storage.batch([put('a', '1')], { sync: true });
      await env.storage.batch([put('b', '2'), del('a')]);
      const again = await env.reopen();
      assert.deepEqual(await collect(again), ['b=2']);
    });

    test('random batches and ranges agree with a sorted-map model (property)', async ({ storage }) => {
      const key = fc.uint8Array({ minLength: 1, maxLength: 3, max: 4 }).map((k) => k.map((b) => b * 63));
      const op = fc.oneof(
        fc.record({ type: fc.constant('put' as const), key, value: fc.uint8Array({ maxLength: 4 }) }),
        fc.record({ type: fc.constant('del' as const), key }),
      );
      const range = fc.record(
        {
          gt: key,
          gte: key,
          lt: key,
          lte: key,
          reverse: fc.boolean(),
          limit: fc.integer({ min: 0, max: 6 }),
        },
        { requiredKeys: [] },
      );
      const model = new Map<string, Uint8Array>();
      await fc.assert(
        fc.asyncProperty(
          fc.array(op, { maxLength: 20 }),
          fc.array(range, { maxLength: 4 }),
          async (ops, ranges) => {
            await storage.batch(ops);
            for (const o of ops) {
              if (o.type === 'put') model.set(toHex(o.key), o.value);
              else model.delete(toHex(o.key));
            }
            for (const r of [{}, ...ranges] as KeyRange[]) {
              let expected = [...model.entries()]
                .map(([k, v]) => [Uint8Array.from(Buffer.from(k, 'hex')), v] as const)
                .filter(([k]) => inRange(k, r))
                .sort((a, b) => compareBytes(a[0], b[0]));
              if (r.reverse) expected.reverse();
              if (r.limit !== undefined) expected = expected.slice(0, r.limit);
              const got: [string, string][] = [];
              for await (const [k, v] of storage.iterator(r)) got.push([toHex(k), toHex(v)]);
              assert.deepEqual(
                got,
                expected.map(([k, v]) => [toHex(k), toHex(v)]),
                JSON.stringify(r),
              );
            }
          },
        ),
        { numRuns: 60, ...(seed === undefined ? {} : { seed }) },
      );
    });
  });
}
