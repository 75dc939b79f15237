/**
 * The ring memory: the other ring nodes a node last knew, persisted across crashes; corrupt bytes
 * refused by the decoder and read as no memory by the loader.
 * Run: node --import tsx --test src/kv/engine/ring-memory.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isCairnError, Rng } from '../../core/index.js';
import { SimDisk } from '../../sim/disk.js';
import { randomTokens } from '../ring/ring.js';
import type { RingNode } from '../types.js';
import { metaKey } from './layout.js';
import { decodeRingMemory, encodeRingMemory, loadRingMemory, saveRingMemory } from './ring-memory.js';

const nodes: RingNode[] = [
  {
    name: 'a',
    tokens: randomTokens(Rng.fromSeed(1), 256, new Set()),
    status: 'normal',
    resp: '127.0.0.1:6380',
  },
  { name: 'b-ü', tokens: [5n, 9n], status: 'leaving' },
  { name: 'c', tokens: [1n], status: 'joining' },
];

describe('ring memory', () => {
  it('survives a crash once saved, and is empty on a first start', async () => {
    const disk = new SimDisk();
    assert.deepEqual(await loadRingMemory(disk), []);
    await saveRingMemory(disk, nodes);
    disk.crash();
    disk.reopen();
    assert.deepEqual(await loadRingMemory(disk), nodes);
    await saveRingMemory(disk, nodes.slice(1));
    assert.deepEqual(await loadRingMemory(disk), nodes.slice(1));
  });

  it('refuses corrupt bytes with DECODE_FAILED, and the loader reads them as no memory', async () => {
    const good = encodeRingMemory(nodes);
    assert.deepEqual(decodeRingMemory(good), nodes);
    const bad = [
      new Uint8Array(0),
      Uint8Array.of(2, ...good.subarray(1)), // unknown format
      good.subarray(0, good.length - 1), // truncated
      Uint8Array.of(...good, 0), // trailing byte
      Uint8Array.of(1, 0, 1, 0), // an empty name
    ];
    for (const b of bad)
      assert.throws(
        () => decodeRingMemory(b),
        (e) => isCairnError(e, 'DECODE_FAILED'),
      );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        try {
          decodeRingMemory(b);
        } catch (e) {
          assert.ok(isCairnError(e, 'DECODE_FAILED'));
        }
      }),
    );
    const disk = new SimDisk();
    await disk.batch([{ type: 'put', key: metaKey('ring'), value: Uint8Array.of(9, 9, 9) }]);
    assert.deepEqual(await loadRingMemory(disk), []);
    assert.throws(
      () => encodeRingMemory([{ name: '', tokens: [1n], status: 'normal' }]),
      (e) => isCairnError(e, 'INVALID_ARGUMENT'),
    );
  });
});
