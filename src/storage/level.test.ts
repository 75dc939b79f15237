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
import { isCairnError, type Storage, utf8 } from '../core/index.js';
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
});
