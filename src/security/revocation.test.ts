import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RevocationList } from './revocation.js';

const id = (n: number) => n.toString(16).padStart(32, '0');

describe('RevocationList', () => {
  it('holds revoked ids until their end, then prunes them', () => {
    const list = new RevocationList();
    list.revoke(id(1), 100);
    list.revoke(id(2));
    assert.ok(list.isRevoked(id(1)) && list.isRevoked(id(2)));
    assert.equal(list.isRevoked(id(3)), false);
    assert.equal(list.prune(99), 0);
    assert.equal(list.prune(100), 1);
    assert.equal(list.isRevoked(id(1)), false);
    assert.ok(list.isRevoked(id(2)), 'an entry without an end is kept forever');
    assert.deepEqual(list.list(), [{ id: id(2), untilMs: undefined }]);
  });

  it('keeps the later end when an id is revoked twice', () => {
    const list = new RevocationList();
    list.revoke(id(1), 100);
    list.revoke(id(1), 50);
    assert.equal(list.prune(60), 0);
    list.revoke(id(1));
    assert.equal(list.prune(1e15), 0, 'revoking forever wins');
    assert.equal(list.size, 1);
  });

  it('refuses to grow past its limit rather than forget a revocation', () => {
    const list = new RevocationList({ maxRevokedTokens: 2 });
    list.revoke(id(1), 10);
    list.revoke(id(2));
    assert.throws(() => list.revoke(id(3)), { code: 'LIMIT_EXCEEDED' });
    assert.ok(list.isRevoked(id(1)) && list.isRevoked(id(2)));
    list.prune(10);
    list.revoke(id(3));
    assert.ok(list.isRevoked(id(3)));
  });

  it('rejects malformed ids and ends', () => {
    const list = new RevocationList();
    assert.throws(() => list.revoke('xyz'), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => list.revoke(id(1), Number.NaN), { code: 'INVALID_ARGUMENT' });
  });

  it('offers isRevoked as a function that needs no binding', () => {
    const list = new RevocationList();
    const { isRevoked } = list;
    list.revoke(id(7));
    assert.ok(isRevoked(id(7)));
  });
});
