import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex, utf8 } from '../../core/index.js';
import { MemoryStorage } from '../../sim/index.js';
import { PrefixedStorage } from './prefixed-storage.js';

async function keys(s: PrefixedStorage, range = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const [k] of s.iterator(range)) out.push(new TextDecoder().decode(k));
  return out;
}

describe('PrefixedStorage', () => {
  it('keeps two views apart in one storage and strips the prefix', async () => {
    const inner = new MemoryStorage();
    const a = new PrefixedStorage(inner, Uint8Array.of(1));
    const b = new PrefixedStorage(inner, Uint8Array.of(2));
    await a.batch([
      { type: 'put', key: utf8('x'), value: utf8('1') },
      { type: 'put', key: utf8('y'), value: utf8('2') },
    ]);
    await b.batch([{ type: 'put', key: utf8('x'), value: utf8('3') }]);
    assert.equal(toHex((await a.get(utf8('x')))!), toHex(utf8('1')));
    assert.equal(toHex((await b.get(utf8('x')))!), toHex(utf8('3')));
    assert.deepEqual(await keys(a), ['x', 'y']);
    assert.deepEqual(await keys(b), ['x']);
    assert.deepEqual(await keys(a, { gt: utf8('x') }), ['y']);
    assert.deepEqual(await keys(a, { reverse: true, limit: 1 }), ['y']);
    await a.batch([{ type: 'del', key: utf8('x') }]);
    assert.deepEqual(await keys(a), ['y']);
    assert.deepEqual(await keys(b), ['x']);
  });
});
