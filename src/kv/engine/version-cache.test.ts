/**
 * VersionCache: exact entries, two per set with the newest kept, long keys never held.
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

  it('keeps the newest two keys of a set and never holds keys over keyBytes', () => {
    const cache = new VersionCache(4, 4); // two sets
    cache.remember(utf8('a'), 0, v(1), true);
    cache.remember(utf8('b'), 2, v(2), true);
    cache.remember(utf8('a'), 0, v(3), true); // a is now the newer of the set
    cache.remember(utf8('c'), 4, v(4), true); // replaces b
    assert.ok(cache.find(utf8('a'), 0) >= 0);
    assert.equal(cache.find(utf8('b'), 2), -1);
    assert.ok(cache.find(utf8('c'), 4) >= 0);
    assert.equal(cache.find(utf8('d'), 1), -1); // the other set is empty
    cache.remember(utf8('toolong'), 1, v(5), true);
    assert.equal(cache.find(utf8('toolong'), 1), -1);
    cache.clear();
    assert.equal(cache.find(utf8('a'), 0), -1);
  });
});
