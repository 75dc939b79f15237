/**
 * HintStore: oldest-first listing, the window and byte bounds, expiry past maxAge, exact byte
 * accounting, restarts (SimDisk crash, LevelStorage reopen), corrupt hints, hostile arguments.
 * Run: node --import tsx --test src/kv/engine/hints.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ManualClock, utf8 } from '../../core/index.js';
import { MemoryStorage, SimDisk } from '../../sim/disk.js';
import { LevelStorage } from '../../storage/level.js';
import { isKvError } from '../errors.js';
import type { Cell } from '../types.js';
import { HintStore } from './hints.js';
import { HINT_PREFIX } from './layout.js';
import { ReplicaStore } from './replica-store.js';

const cell = (wall: number, value = 'v'): Cell => ({
  version: { wall, logical: 0, node: 1 },
  value: utf8(value),
});

describe('HintStore', () => {
  it('lists a target’s hints oldest first and removes them with exact byte accounting', async () => {
    const clock = new ManualClock(1_000);
    const hints = await HintStore.open({ storage: new MemoryStorage(), clock });
    for (let i = 0; i < 5; i++) {
      assert.equal(await hints.add('n2', utf8(`k${i}`), cell(i)), true);
      if (i % 2 === 0) clock.advance(1);
    }
    await hints.add('n3', utf8('other'), cell(9));
    assert.deepEqual(hints.targets().sort(), ['n2', 'n3']);
    const all = await hints.list('n2', 100);
    assert.deepEqual(
      all.map((h) => new TextDecoder().decode(h.key)),
      ['k0', 'k1', 'k2', 'k3', 'k4'],
    );
    assert.deepEqual(all[3]!.cell, cell(3));
    const firstTwo = await hints.list('n2', 2);
    assert.equal(firstTwo.length, 2);
    const before = hints.bytesFor('n2');
    await hints.remove(
      'n2',
      firstTwo.map((h) => h.id),
    );
    await hints.remove(
      'n2',
      firstTwo.map((h) => h.id),
    ); // twice: no double count
    assert.ok(hints.bytesFor('n2') < before && hints.bytesFor('n2') > 0);
    await hints.remove(
      'n2',
      (await hints.list('n2', 100)).map((h) => h.id),
    );
    assert.equal(hints.bytesFor('n2'), 0);
    assert.deepEqual(hints.targets(), ['n3']);
    assert.equal((await hints.list('n3', 10)).length, 1);
  });

  it('dropTarget deletes every hint of one target, past one page, and leaves the others', async () => {
    const clock = new ManualClock(1_000);
    const storage = new MemoryStorage();
    const hints = await HintStore.open({ storage, clock, limits: { maxScanLimit: 3 } });
    for (let i = 0; i < 8; i++) await hints.add('n2', utf8(`k${i}`), cell(i));
    await hints.add('n3', utf8('other'), cell(9));
    // A neighbour name that sorts right after 'n2' keeps its hints.
    await hints.add('n2x', utf8('near'), cell(9));
    assert.equal(await hints.dropTarget('n2'), 8);
    assert.equal(hints.bytesFor('n2'), 0);
    assert.deepEqual(hints.targets().sort(), ['n2x', 'n3']);
    assert.deepEqual(await hints.list('n2', 3), []);
    assert.equal((await hints.list('n2x', 3)).length, 1);
    assert.equal(await hints.dropTarget('n2'), 0);
    // Counted from storage after a restart: nothing of n2 is left.
    const reopened = await HintStore.open({ storage, clock });
    assert.deepEqual(reopened.targets().sort(), ['n2x', 'n3']);
    await assert.rejects(hints.dropTarget(''), (e: unknown) => isKvError(e, 'INVALID_ARGUMENT'));
  });

  it('drops hints once the oldest pending one is older than the window, until it is replayed', async () => {
    const clock = new ManualClock(0);
    const hints = await HintStore.open({ storage: new MemoryStorage(), clock, windowMs: 1_000 });
    assert.equal(await hints.add('n2', utf8('a'), cell(1)), true);
    clock.advance(1_000);
    assert.equal(await hints.add('n2', utf8('b'), cell(2)), true);
    clock.advance(1);
    assert.equal(await hints.add('n2', utf8('c'), cell(3)), false);
    assert.equal(await hints.add('n3', utf8('c'), cell(3)), true); // other targets are unaffected
    assert.equal(hints.stats().dropped, 1);
    const pending = await hints.list('n2', 1);
    await hints.remove(
      'n2',
      pending.map((h) => h.id),
    );
    // The oldest pending hint is now `b`, 1 ms old.
    assert.equal(await hints.add('n2', utf8('c'), cell(3)), true);
  });

  it('drops hints past maxBytesPerTarget and past maxHintTargets', async () => {
    const clock = new ManualClock(0);
    const hints = await HintStore.open({
      storage: new MemoryStorage(),
      clock,
      maxBytesPerTarget: 200,
      limits: { maxHintTargets: 2 },
    });
    let stored = 0;
    for (let i = 0; i < 10; i++)
      if (await hints.add('n2', utf8(`key-${i}`), cell(i, 'x'.repeat(20)))) stored++;
    assert.ok(stored > 0 && stored < 10, `stored ${stored}`);
    assert.ok(hints.bytesFor('n2') <= 200);
    assert.equal(await hints.add('n3', utf8('k'), cell(1)), true);
    assert.equal(await hints.add('n4', utf8('k'), cell(1)), false);
    assert.equal(hints.stats().dropped, 10 - stored + 1);
  });

  it('discards hints older than maxAgeMs instead of replaying them', async () => {
    const clock = new ManualClock(0);
    const hints = await HintStore.open({
      storage: new MemoryStorage(),
      clock,
      maxAgeMs: 500,
      windowMs: 10_000,
    });
    await hints.add('n2', utf8('old'), cell(1));
    clock.advance(400);
    await hints.add('n2', utf8('new'), cell(2));
    clock.advance(200);
    const listed = await hints.list('n2', 10);
    assert.deepEqual(
      listed.map((h) => new TextDecoder().decode(h.key)),
      ['new'],
    );
    assert.equal(hints.stats().expired, 1);
    assert.equal(hints.countFor('n2'), 1);
  });

  it('survives a crash (synced) and shares storage with the replica store', async () => {
    const disk = new SimDisk();
    const clock = new ManualClock(0);
    const store = await ReplicaStore.open({ storage: disk, clock });
    const hints = await HintStore.open({ storage: disk, clock, sync: true });
    await store.apply([{ key: utf8('data'), cell: cell(1) }]);
    await hints.add('n2', utf8('a'), cell(1));
    await hints.add('n2', utf8('b'), cell(2));
    const bytes = hints.bytesFor('n2');
    disk.crash();
    disk.reopen();
    const again = await HintStore.open({ storage: disk, clock });
    assert.deepEqual(again.targets(), ['n2']);
    assert.equal(again.bytesFor('n2'), bytes);
    // New ids sort after the loaded ones, even at the same wall time.
    await again.add('n2', utf8('c'), cell(3));
    assert.deepEqual(
      (await again.list('n2', 10)).map((h) => new TextDecoder().decode(h.key)),
      ['a', 'b', 'c'],
    );
    // Hints are invisible to data scans.
    const reopened = await ReplicaStore.open({ storage: disk, clock });
    assert.equal((await reopened.scan({ start: 0n, end: 0n }, { limit: 10 })).entries.length, 1);
  });

  it('survives reopening a LevelDB directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-hints-'));
    try {
      const clock = new ManualClock(0);
      let storage = await LevelStorage.open(dir);
      const hints = await HintStore.open({ storage, clock });
      await hints.add('n2', utf8('a'), cell(1));
      await storage.close();
      storage = await LevelStorage.open(dir);
      const again = await HintStore.open({ storage, clock });
      assert.equal((await again.list('n2', 10)).length, 1);
      await storage.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('deletes corrupt hints and keeps serving the others', async () => {
    const storage = new MemoryStorage();
    const hints = await HintStore.open({ storage, clock: new ManualClock(0) });
    await hints.add('n2', utf8('good'), cell(1));
    const name = utf8('n2');
    const badKey = new Uint8Array(2 + name.length + 12);
    badKey[0] = HINT_PREFIX;
    badKey[1] = name.length;
    badKey.set(name, 2);
    badKey[badKey.length - 1] = 0; // id 0: sorts first
    await storage.batch([{ type: 'put', key: badKey, value: Uint8Array.of(0, 0, 0, 9, 1) }]);
    const reloaded = await HintStore.open({ storage, clock: new ManualClock(0) });
    assert.equal(reloaded.countFor('n2'), 2);
    const listed = await reloaded.list('n2', 10);
    assert.equal(listed.length, 1);
    assert.equal(reloaded.stats().corrupt, 1);
    assert.equal(reloaded.countFor('n2'), 1);
  });

  it('refuses bad arguments with INVALID_ARGUMENT', async () => {
    const hints = await HintStore.open({ storage: new MemoryStorage(), clock: new ManualClock(0) });
    await assert.rejects(hints.add('', utf8('k'), cell(1)), (e) => isKvError(e, 'INVALID_ARGUMENT'));
    await assert.rejects(hints.add('x'.repeat(256), utf8('k'), cell(1)), (e) =>
      isKvError(e, 'INVALID_ARGUMENT'),
    );
    await assert.rejects(hints.add('n2', new Uint8Array(0), cell(1)), (e) =>
      isKvError(e, 'INVALID_ARGUMENT'),
    );
    await assert.rejects(
      hints.add('n2', utf8('k'), { version: { wall: -1, logical: 0, node: 0 }, value: undefined }),
      (e) => isKvError(e, 'INVALID_ARGUMENT'),
    );
    await assert.rejects(hints.list('n2', 0), (e) => isKvError(e, 'INVALID_ARGUMENT'));
    // A failed call does not wedge the store.
    assert.equal(await hints.add('n2', utf8('k'), cell(1)), true);
    await hints.remove('n2', [Uint8Array.of(1, 2, 3)]);
    assert.equal(hints.countFor('n2'), 1);
  });
});
