import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SortedKeys } from './sorted-keys.js';

/** A tiny deterministic generator (the test needs variety, not quality). */
function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s;
  };
}

function walk(keys: SortedKeys, start: string, limit: number): string[] {
  const out: string[] = [];
  keys.walkFrom(start, (k) => {
    out.push(k);
    return out.length < limit;
  });
  return out;
}

test('keys stay in order across chunk splits, retains and walks from any start', () => {
  const next = lcg(7);
  const keys = new SortedKeys();
  const model = new Set<string>();
  const key = () => String.fromCharCode(97 + (next() % 26), 97 + (next() % 26), 97 + (next() % 26));
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 3000; i++) {
      const k = key();
      if (model.has(k)) continue;
      model.add(k);
      keys.add(k);
    }
    const sorted = [...model].sort();
    assert.deepEqual(keys.toArray(), sorted);
    assert.equal(keys.size, sorted.length);
    for (let i = 0; i < 50; i++) {
      const start = key();
      const from = sorted.findIndex((k) => k >= start);
      const expected = from < 0 ? [] : sorted.slice(from, from + 700);
      assert.deepEqual(walk(keys, start, 700), expected, `from ${start}`);
    }
    assert.deepEqual(walk(keys, '', 5), sorted.slice(0, 5));
    assert.deepEqual(walk(keys, '\u00ff', 5), []);
    const drop = round % 2 === 0 ? 'a' : 'm';
    keys.retain((k) => k[0]! > drop);
    for (const k of [...model]) if (k[0]! <= drop) model.delete(k);
    assert.deepEqual(keys.toArray(), [...model].sort());
  }
  keys.retain(() => false);
  assert.equal(keys.size, 0);
  assert.deepEqual(walk(keys, '', 5), []);
  keys.add('z');
  assert.deepEqual(keys.toArray(), ['z']);
});
