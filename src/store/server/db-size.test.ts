import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { utf8 } from '../../core/index.js';
import { MemoryStorage } from '../../sim/index.js';
import { LevelStorage } from '../../storage/level.js';
import { dbSizeOf, isSizedStorage } from './db-size.js';
import { PrefixedStorage } from './prefixed-storage.js';

describe('dbSizeOf', () => {
  it('counts the bytes of puts through the views when the storage cannot tell its size', async () => {
    const inner = new MemoryStorage();
    const a = new PrefixedStorage(inner, Uint8Array.of(1));
    const b = new PrefixedStorage(inner, Uint8Array.of(2));
    assert.equal(isSizedStorage(inner), false);
    assert.deepEqual(await dbSizeOf(inner, [a, b]), { dbSize: 0, dbSizeInUse: 0 });
    await a.batch([{ type: 'put', key: utf8('key'), value: utf8('value') }]); // 1 + 3 + 5
    await b.batch([
      { type: 'put', key: utf8('k'), value: new Uint8Array(100) },
      { type: 'del', key: utf8('gone') },
    ]); // 1 + 1 + 100
    assert.deepEqual(await dbSizeOf(inner, [a, b]), { dbSize: 111, dbSizeInUse: 111 });
    await a.batch([{ type: 'del', key: utf8('key') }]);
    assert.equal((await dbSizeOf(inner, [a, b])).dbSize, 111, 'deletes are not subtracted');
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
    assert.deepEqual(await dbSizeOf(sized, [view]), { dbSize: 4096, dbSizeInUse: 4096 });
    size = new Error('closed');
    assert.deepEqual(await dbSizeOf(sized, [view]), { dbSize: 3, dbSizeInUse: 3 });
    size = Number.NaN;
    assert.equal((await dbSizeOf(sized, [view])).dbSize, 3);
  });

  it('reports LevelStorage’s size on disk and size in use', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-dbsize-'));
    const level = await LevelStorage.open(dir);
    try {
      const view = new PrefixedStorage(level, Uint8Array.of(1));
      const value = Uint8Array.from({ length: 65_536 }, (_, i) => (i * 7919) % 251);
      for (let i = 0; i < 16; i++)
        await view.batch([{ type: 'put', key: utf8(`k${i}`), value }], { sync: true });
      const s = await dbSizeOf(level, [view]);
      assert.equal(s.dbSize, await level.approximateSize());
      assert.ok(s.dbSize > 0 && s.dbSizeInUse > 0 && s.dbSizeInUse <= s.dbSize, JSON.stringify(s));
      assert.notEqual(s.dbSize, view.bytesWritten, 'the size on disk, not the count of bytes written');
    } finally {
      await level.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps dbSizeInUse at most dbSize and falls back to dbSize when in-use fails', async () => {
    const sized = Object.assign(new MemoryStorage(), {
      approximateSize: async () => 1000,
      approximateSizeInUse: async (): Promise<number> => {
        throw new Error('no');
      },
    });
    assert.deepEqual(await dbSizeOf(sized, []), { dbSize: 1000, dbSizeInUse: 1000 });
    sized.approximateSizeInUse = async () => 5000;
    assert.deepEqual(await dbSizeOf(sized, []), { dbSize: 1000, dbSizeInUse: 1000 });
    sized.approximateSizeInUse = async () => 400;
    assert.deepEqual(await dbSizeOf(sized, []), { dbSize: 1000, dbSizeInUse: 400 });
  });
});
