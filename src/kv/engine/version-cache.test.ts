/**
 * VersionCache: exact entries, eight per set with the newest kept, long keys never held.
 * Run: node --import tsx --test src/kv/engine/version-cache.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8 } from '../../core/index.js';
import { VersionCache } from './version-cache.js';

const v = (wall: number, logical = 0, node = 0) => ({ wall, logical, node });

describe('VersionCache', () => {
  it('answers only for the exact key it holds, and orders versions as compareVersions', () => {
    const cache = new VersionCache(8, 8);
    assert.equal(cache.find(utf8('a'), 1), -1);
    cache.remember(utf8('a'), 1, v(10, 2, 5), true);
    const at = cache.find(utf8('a'), 1);
    assert.ok(at >= 0);
    assert.equal(cache.find(utf8('b'), 1), -1); // same set, other key
    assert.equal(cache.find(utf8('aa'), 1), -1);
    assert.equal(cache.valueFlag(at), 1);
    assert.equal(cache.olderThan(at, v(10, 2, 5)), false);
    assert.equal(cache.olderThan(at, v(10, 2, 4)), false);
    assert.equal(cache.olderThan(at, v(10, 2, 6)), true);
    assert.equal(cache.olderThan(at, v(10, 3, 0)), true);
    assert.equal(cache.olderThan(at, v(9, 9, 9)), false);
    cache.remember(utf8('a'), 1, v(11), false);
    assert.equal(cache.valueFlag(cache.find(utf8('a'), 1)), 0);
    cache.forget(utf8('a'), 1);
    assert.equal(cache.find(utf8('a'), 1), -1);
  });

  it('replaces the oldest recorded key of a full set and never holds keys over keyBytes', () => {
    const cache = new VersionCache(16, 4); // two sets of eight
    const first = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    for (const [i, k] of first.entries()) cache.remember(utf8(k), i * 2, v(i + 1), true);
    cache.remember(utf8('a'), 0, v(9), false); // an update keeps its slot and its age
    cache.remember(utf8('i'), 16, v(10), true); // the set is full: replaces a
    assert.equal(cache.find(utf8('a'), 0), -1);
    cache.remember(utf8('j'), 18, v(11), true); // then b
    assert.equal(cache.find(utf8('b'), 2), -1);
    for (const [i, k] of first.entries()) if (i >= 2) assert.ok(cache.find(utf8(k), i * 2) >= 0, k);
    assert.ok(cache.find(utf8('i'), 16) >= 0);
    assert.ok(cache.find(utf8('j'), 18) >= 0);
    assert.equal(cache.find(utf8('x'), 1), -1); // the other set is empty
    // Flags and versions of the slots of a set stay apart.
    cache.remember(utf8('c'), 4, v(6, 1, 2), false);
    assert.equal(cache.valueFlag(cache.find(utf8('c'), 4)), 0);
    assert.equal(cache.valueFlag(cache.find(utf8('d'), 6)), 1);
    assert.equal(cache.olderThan(cache.find(utf8('c'), 4), v(6, 1, 3)), true);
    assert.equal(cache.olderThan(cache.find(utf8('d'), 6), v(4)), false);
    // A forgotten key's slot is reused before the turn moves on.
    cache.forget(utf8('i'), 16);
    cache.remember(utf8('k'), 20, v(12), true);
    for (const [k, h] of [
      ['c', 4],
      ['d', 6],
      ['h', 14],
      ['j', 18],
      ['k', 20],
    ] as const)
      assert.ok(cache.find(utf8(k), h) >= 0);
    // Eight more new keys go round the whole set, in order: c, the oldest left, goes first.
    cache.remember(utf8('l'), 22, v(13), true);
    assert.equal(cache.find(utf8('c'), 4), -1);
    assert.ok(cache.find(utf8('d'), 6) >= 0);
    cache.remember(utf8('toolong'), 1, v(5), true);
    assert.equal(cache.find(utf8('toolong'), 1), -1);
    cache.clear();
    assert.equal(cache.find(utf8('d'), 6), -1);
  });

  it('stays empty, without throwing, when its table is too large to make', () => {
    const cache = new VersionCache(2 ** 60, 32);
    cache.remember(utf8('a'), 0, v(1), true);
    assert.equal(cache.find(utf8('a'), 0), -1);
  });
});
