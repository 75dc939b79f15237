import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusterIdOf, memberIdOf, RequestIds } from './ids.js';

describe('store ids', () => {
  it('derives the cluster id from the sorted member ids, below 2^53 and never 0', () => {
    const a = clusterIdOf([3, 1, 2]);
    assert.equal(a, clusterIdOf([1, 2, 3]));
    assert.notEqual(a, clusterIdOf([1, 2, 4]));
    assert.notEqual(a, clusterIdOf([1, 2, 3], 'other'));
    assert.ok(Number.isSafeInteger(a) && a > 0);
  });

  it('gives a member id per URL set and second, as etcd', () => {
    const t = 1_700_000_000_000;
    const a = memberIdOf(['http://b:2380', 'http://a:2380'], 'cairn', t);
    assert.equal(a, memberIdOf(['http://a:2380', 'http://b:2380'], 'cairn', t + 999));
    assert.notEqual(a, memberIdOf(['http://a:2380', 'http://b:2380'], 'cairn', t + 1000));
    assert.notEqual(a, memberIdOf(['http://c:2380'], 'cairn', t));
    assert.ok(Number.isSafeInteger(a) && a > 0);
  });

  it('issues distinct request ids, distinct across members and restarts', () => {
    const seen = new Set<number>();
    const gens = [new RequestIds(1, 1000), new RequestIds(2, 1000), new RequestIds(1, 5000)];
    for (const g of gens) {
      for (let i = 0; i < 1000; i++) {
        const id = g.next();
        assert.ok(Number.isSafeInteger(id) && id > 0);
        assert.ok(!seen.has(id), `duplicate request id ${id}`);
        seen.add(id);
      }
    }
  });
});
