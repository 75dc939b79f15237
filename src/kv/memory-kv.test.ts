import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ManualClock } from '../core/manual-clock.js';
import { isKvError } from './errors.js';
import { MemoryKv } from './memory-kv.js';
import { checkProperty } from './resp/test-seed.js';

const FILE = 'src/kv/memory-kv.test.ts';
const b = (s: string) => Buffer.from(s);
const s = (u: Uint8Array) => Buffer.from(u).toString();

describe('MemoryKv', () => {
  it('stores, overwrites, deletes and copies what it is given', async () => {
    const kv = new MemoryKv({ clock: new ManualClock() });
    const value = b('1');
    await kv.put(b('a'), value);
    value[0] = 0x39;
    assert.equal(s((await kv.get(b('a')))!.value), '1');
    await kv.put(b('a'), b('2'));
    assert.equal(s((await kv.get(b('a')))!.value), '2');
    await kv.put(b('a'), undefined);
    assert.equal(await kv.get(b('a')), undefined);
    assert.equal(await kv.approximateSize(), 0);
  });

  it('expires values by the injected clock', async () => {
    const clock = new ManualClock();
    const kv = new MemoryKv({ clock });
    await kv.put(b('a'), b('1'), { expiresAt: clock.now() + 100 });
    assert.deepEqual(await kv.get(b('a')), { value: Uint8Array.from(b('1')), expiresAt: clock.now() + 100 });
    assert.equal(await kv.approximateSize(), 1);
    clock.advance(100);
    assert.equal(await kv.get(b('a')), undefined);
    assert.equal(await kv.approximateSize(), 0);
    assert.deepEqual((await kv.scan(0n, { count: 10 })).keys, []);
    // A write with a past expiry is a delete.
    await kv.put(b('c'), b('1'));
    await kv.put(b('c'), b('2'), { expiresAt: clock.now() - 1 });
    assert.equal(await kv.get(b('c')), undefined);
  });

  it('refuses malformed requests with INVALID_ARGUMENT', async () => {
    const kv = new MemoryKv({ clock: new ManualClock(), limits: { maxValueBytes: 4 } });
    await assert.rejects(kv.put(b(''), b('1')), (e) => isKvError(e, 'INVALID_ARGUMENT'));
    await assert.rejects(kv.put(b('k'), b('12345')), (e) => isKvError(e, 'INVALID_ARGUMENT'));
    await assert.rejects(kv.scan(1n << 64n, { count: 1 }), (e) => isKvError(e, 'INVALID_ARGUMENT'));
    await assert.rejects(kv.scan(0n, { count: 0 }), (e) => isKvError(e, 'INVALID_ARGUMENT'));
    // biome-ignore lint/suspicious/noExplicitAny: a caller outside TypeScript
    await assert.rejects(kv.get(b('k'), { consistency: 'TWO' as any }), (e) =>
      isKvError(e, 'INVALID_ARGUMENT'),
    );
  });

  it('reports a one-node ring', () => {
    const kv = new MemoryKv({ clock: new ManualClock(), name: 'n1', resp: '127.0.0.1:6379' });
    assert.deepEqual(kv.ring(), {
      rf: 1,
      nodes: [{ name: 'n1', tokens: [0n], status: 'normal', resp: '127.0.0.1:6379' }],
    });
  });

  it('property: a scan returns every key present for the whole scan, whatever changes between pages', async () => {
    const key = fc.integer({ min: 0, max: 60 }).map((n) => `k${n}`);
    const change = fc.record({ key, del: fc.boolean() });
    await checkProperty(
      FILE,
      fc.asyncProperty(
        fc.uniqueArray(key, { maxLength: 40 }),
        fc.array(fc.array(change, { maxLength: 5 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 7 }),
        async (initial, changesPerPage, count) => {
          const kv = new MemoryKv({ clock: new ManualClock() });
          for (const k of initial) await kv.put(b(k), b('v'));
          const touched = new Set<string>();
          const seen = new Set<string>();
          let cursor = 0n;
          let pages = 0;
          do {
            const page = await kv.scan(cursor, { count });
            for (const k of page.keys) seen.add(s(k));
            cursor = page.cursor;
            for (const c of changesPerPage[pages] ?? []) {
              touched.add(c.key);
              await kv.put(b(c.key), c.del ? undefined : b('w'));
            }
            pages++;
            assert.ok(pages <= 200, 'the scan ends');
          } while (cursor !== 0n);
          for (const k of initial) if (!touched.has(k)) assert.ok(seen.has(k), `${k} was present throughout`);
        },
      ),
      200,
    );
  });
});
