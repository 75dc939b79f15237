/**
 * Node metadata: tokens and status persisted across restarts, corrupt bytes refused.
 * Run: node --import tsx --test src/kv/engine/node-meta.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError, Rng } from '../../core/index.js';
import { SimDisk } from '../../sim/disk.js';
import { randomTokens } from '../ring/ring.js';
import { metaKey } from './layout.js';
import { decodeNodeMeta, encodeNodeMeta, loadNodeMeta, saveNodeMeta } from './node-meta.js';

describe('node metadata', () => {
  it('survives a crash once saved, and is absent on a first start', async () => {
    const disk = new SimDisk();
    assert.equal(await loadNodeMeta(disk), undefined);
    const tokens = randomTokens(Rng.fromSeed(1), 256, new Set());
    await saveNodeMeta(disk, { tokens, status: 'joining' });
    disk.crash();
    disk.reopen();
    assert.deepEqual(await loadNodeMeta(disk), { tokens, status: 'joining' });
    await saveNodeMeta(disk, { tokens, status: 'normal' });
    assert.equal((await loadNodeMeta(disk))?.status, 'normal');
  });

  it('refuses corrupt bytes with DECODE_FAILED and bad input with INVALID_ARGUMENT', async () => {
    const good = encodeNodeMeta({ tokens: [1n, 2n], status: 'left' });
    assert.deepEqual(decodeNodeMeta(good), { tokens: [1n, 2n], status: 'left' });
    for (const bad of [
      new Uint8Array(0),
      good.subarray(0, 10),
      Uint8Array.of(1, 3, 0, 0),
      Uint8Array.of(2, 0, 0, 0),
    ]) {
      assert.throws(
        () => decodeNodeMeta(bad),
        (e) => isCairnError(e, 'DECODE_FAILED'),
      );
    }
    const disk = new SimDisk();
    await disk.batch([{ type: 'put', key: metaKey('node'), value: Uint8Array.of(7) }]);
    await assert.rejects(loadNodeMeta(disk), (e) => isCairnError(e, 'DECODE_FAILED'));
    assert.throws(
      () => encodeNodeMeta({ tokens: [-1n], status: 'normal' }),
      (e) => isCairnError(e, 'INVALID_ARGUMENT'),
    );
  });
});
