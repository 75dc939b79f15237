import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8 } from '../../core/index.js';
import { MemoryStorage } from '../../sim/index.js';
import { dbSizeOf, isSizedStorage } from './db-size.js';
import { PrefixedStorage } from './prefixed-storage.js';

describe('dbSizeOf', () => {
  it('counts the bytes of puts through the views when the storage cannot tell its size', async () => {
    const inner = new MemoryStorage();
    const a = new PrefixedStorage(inner, Uint8Array.of(1));
    const b = new PrefixedStorage(inner, Uint8Array.of(2));
    assert.equal(isSizedStorage(inner), false);
    assert.equal(await dbSizeOf(inner, [a, b]), 0);
    await a.batch([{ type: 'put', key: utf8('key'), value: utf8('value') }]); // 1 + 3 + 5
    await b.batch([
      { type: 'put', key: utf8('k'), value: new Uint8Array(100) },
      { type: 'del', key: utf8('gone') },
    ]); // 1 + 1 + 100
    assert.equal(await dbSizeOf(inner, [a, b]), 111);
    await a.batch([{ type: 'del', key: utf8('key') }]);
    assert.equal(await dbSizeOf(inner, [a, b]), 111, 'deletes are not subtracted');
  });

  it("uses the storage's approximate size when it has one, and the count when that fails", async () => {
    let size: number | Error = 4096;
    const sized = Object.assign(new MemoryStorage(), {
      approximateSize: async () => {
        if (size instanceof Error) throw size;
        return size;
      },
    });
    const view = new PrefixedStorage(sized, Uint8Array.of(1));
    await view.batch([{ type: 'put', key: utf8('k'), value: utf8('v') }]);
    assert.equal(isSizedStorage(sized), true);
    assert.equal(await dbSizeOf(sized, [view]), 4096);
    size = new Error('closed');
    assert.equal(await dbSizeOf(sized, [view]), 3);
    size = Number.NaN;
    assert.equal(await dbSizeOf(sized, [view]), 3);
  });
});
