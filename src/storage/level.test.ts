/**
 * The Storage contract against LevelStorage (a temporary directory) and MemoryStorage, plus what
 * only LevelDB does: a second open of a locked database fails with IO_ERROR.
 * Run: node --import tsx --test src/storage/level.test.ts
 * Property seeds: fast-check prints them on failure; replay with FC_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { describeStorageContract } from '../../test/contract/storage-contract.js';
import { type BatchOp, isCairnError, type Storage, utf8 } from '../core/index.js';
import { MemoryStorage } from '../sim/disk.js';
import { LevelStorage } from './level.js';

describeStorageContract('memory', async () => ({
  storage: new MemoryStorage(),
  cleanup: async () => undefined,
}));

describeStorageContract('level', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-level-'));
  const opened: Storage[] = [await LevelStorage.open(dir)];
  return {
    storage: opened[0]!,
    reopen: async () => {
      await opened[opened.length - 1]!.close();
      const next = await LevelStorage.open(dir);
      opened.push(next);
      return next;
    },
    cleanup: async () => {
      for (const s of opened) await s.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('LevelStorage', () => {
  it('refuses a second open of the same directory with IO_ERROR (LevelDB holds a lock)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-level-'));
    const a = await LevelStorage.open(dir);
    try {
      await assert.rejects(LevelStorage.open(dir), (e) => isCairnError(e, 'IO_ERROR'));
      await a.batch([{ type: 'put', key: utf8('k'), value: utf8('v') }], { sync: true });
    } finally {
      await a.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes a batch of puts and dels atomically, refuses a malformed op before writing anything, and copies the bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-level-'));
    const a = await LevelStorage.open(dir);
    try {
      const value = utf8('v1');
      await a.batch([
        { type: 'put', key: utf8('a'), value },
        { type: 'put', key: Buffer.from('b'), value: utf8('v2') },
        { type: 'put', key: utf8('c'), value: utf8('v3') },
        { type: 'del', key: utf8('c') },
      ]);
      value.fill(0); // the caller may reuse its bytes once the batch resolved
      assert.deepEqual(a.getSync(utf8('a')), utf8('v1'));
      assert.deepEqual(a.getSync(utf8('b')), utf8('v2'));
      assert.equal(a.getSync(utf8('c')), undefined);
      const bad: unknown[] = [
        { type: 'put', key: 'x', value: utf8('v') },
        { type: 'put', key: utf8('x'), value: 'v' },
        { type: 'put', key: utf8('x') },
        { type: 'del' },
        { type: 'merge', key: utf8('x'), value: utf8('v') },
      ];
      for (const op of bad) {
        const ops = [{ type: 'del', key: utf8('a') }, op] as BatchOp[];
        await assert.rejects(a.batch(ops), (e) => isCairnError(e, 'INVALID_ARGUMENT'));
      }
      assert.deepEqual(a.getSync(utf8('a')), utf8('v1'));
      await a.batch([]);
    } finally {
      await a.close();
      await rm(dir, { recursive: true, force: true });
    }
    await assert.rejects(a.batch([{ type: 'del', key: utf8('a') }]), (e) => isCairnError(e, 'CLOSED'));
  });

  it('refuses a batch over maxBatchOps with LIMIT_EXCEEDED', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-level-'));
    const a = await LevelStorage.open(dir, { limits: { maxBatchOps: 2 } });
    try {
      const op = { type: 'put' as const, key: utf8('k'), value: utf8('v') };
      await assert.rejects(a.batch([op, op, op]), (e) => isCairnError(e, 'LIMIT_EXCEEDED'));
    } finally {
      await a.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports its size on disk, the size in use, and shrinks both when compacted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-level-'));
    const a = await LevelStorage.open(dir);
    try {
      const empty = await a.approximateSize();
      // 256 values of 8 KiB of noise (LevelDB's compression cannot shrink them): 2 MiB.
      let x = 0x9e3779b9;
      const noise = (n: number) =>
        Uint8Array.from({ length: n }, () => {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          return x & 0xff;
        });
      const total = 256 * 8192;
      for (let i = 0; i < 256; i += 32) {
        const ops = Array.from({ length: 32 }, (_, j) => ({
          type: 'put' as const,
          key: utf8(`k${String(i + j).padStart(4, '0')}`),
          value: noise(8192),
        }));
        await a.batch(ops, { sync: true });
      }
      const written = await a.approximateSize();
      const inUse = await a.approximateSizeInUse();
      assert.ok(written >= empty + total, `size ${written} below the ${total} bytes written`);
      assert.ok(inUse >= total && inUse <= written, `in use ${inUse} (size ${written})`);
      await a.compact();
      assert.ok((await a.approximateSizeInUse()) >= total, 'compacting live data keeps it');
      const ops = Array.from({ length: 256 }, (_, i) => ({
        type: 'del' as const,
        key: utf8(`k${String(i).padStart(4, '0')}`),
      }));
      await a.batch(ops, { sync: true });
      await a.compact();
      const after = await a.approximateSizeInUse();
      assert.ok(after < total / 4, `in use after deleting everything and compacting: ${after}`);
    } finally {
      await a.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads synchronously what get reads, after batches, and refuses with CLOSED after close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-level-'));
    const a = await LevelStorage.open(dir);
    try {
      await a.batch([
        { type: 'put', key: utf8('a'), value: utf8('1') },
        { type: 'put', key: utf8('b'), value: utf8('2') },
      ]);
      await a.batch([{ type: 'del', key: utf8('a') }]);
      assert.equal(a.getSync(utf8('a')), undefined);
      assert.deepEqual(a.getSync(utf8('b')), utf8('2'));
      assert.deepEqual(a.getSync(utf8('b')), await a.get(utf8('b')));
      assert.equal(Object.getPrototypeOf(a.getSync(utf8('b'))), Uint8Array.prototype);
      await a.close();
      assert.throws(
        () => a.getSync(utf8('b')),
        (e) => isCairnError(e, 'CLOSED'),
      );
    } finally {
      await a.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses size and compaction calls after close with CLOSED', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-level-'));
    const a = await LevelStorage.open(dir);
    await a.close();
    try {
      await assert.rejects(a.approximateSize(), (e) => isCairnError(e, 'CLOSED'));
      await assert.rejects(a.compact(), (e) => isCairnError(e, 'CLOSED'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
