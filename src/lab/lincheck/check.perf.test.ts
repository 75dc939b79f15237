import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../core/rng.js';
import { checkHistory } from './check.js';
import type { Operation } from './history.js';
import type { KvInput, KvOutput } from './kv-model.js';
import { kvModel } from './kv-model.js';

// Prints the time; never asserts on it (timings belong to benchmarks).
// Replay: LINCHECK_SEED=<seed> node --import tsx --test src/lab/lincheck/check.perf.test.ts
const seed = process.env.LINCHECK_SEED ?? String(Date.now() % 2 ** 31);

/**
 * 10 clients, each running one operation at a time: operation i takes effect at time i, is called
 * just after the same client's previous operation took effect and returns soon after its own
 * effect, so about 10 operations are in flight at any instant, across 100 keys.
 */
function concurrentHistory(
  rng: Rng,
  count: number,
  keys: number,
  clients: number,
): Operation<KvInput, KvOutput>[] {
  const store = new Map<string, { value: string; modRevision: number }>();
  let revision = 0;
  const ops: Operation<KvInput, KvOutput>[] = [];
  for (let i = 0; i < count; i++) {
    const key = `key${rng.int(keys)}`;
    const value = `v${i}`; // unique, so a planted stale read is always stale
    const cur = store.get(key);
    const roll = rng.int(10);
    let input: KvInput;
    let output: KvOutput;
    if (roll < 4) {
      input = { type: 'get', key };
      output = {
        type: 'get',
        value: cur?.value ?? null,
        ...(cur === undefined ? {} : { modRevision: cur.modRevision }),
      };
    } else if (roll < 7) {
      store.set(key, { value, modRevision: ++revision });
      input = { type: 'put', key, value };
      output = { type: 'put', revision };
    } else if (roll < 8) {
      input = { type: 'delete', key };
      if (cur !== undefined) {
        store.delete(key);
        revision++;
      }
      output = cur === undefined ? { type: 'delete', deleted: 0 } : { type: 'delete', deleted: 1, revision };
    } else {
      const expect = rng.int(2) === 0 && cur !== undefined ? cur.value : 'other';
      input = { type: 'cas', key, compare: { value: expect }, value };
      const holds = cur?.value === expect;
      if (holds) store.set(key, { value, modRevision: ++revision });
      output = holds ? { type: 'cas', succeeded: true, revision } : { type: 'cas', succeeded: false };
    }
    const call = i - clients + 0.5 + rng.int(100) / 200;
    ops.push({ id: i, clientId: i % clients, input, call, ret: i + rng.int(100) / 250, output });
  }
  return ops;
}

describe(`checker performance (seed=${seed})`, () => {
  it('checks 10,000 operations over 100 keys from 10 clients, and finds a stale read planted in them', () => {
    const ops = concurrentHistory(Rng.fromSeed(seed), 10_000, 100, 10);
    const ok = checkHistory(kvModel, ops);
    process.stderr.write(
      `lincheck: ${ops.length} ops, ${ok.partitions} keys: ${ok.kind} in ${ok.elapsedMs.toFixed(1)} ms\n`,
    );
    assert.equal(ok.kind, 'ok');
    // Plant a stale read at the end: a get of a key that returns its first value.
    const firstPut = ops.find((op) => op.input.type === 'put')!;
    const later = ops.filter((op) => op.input.key === firstPut.input.key && op.input.type !== 'get');
    const last = ops.at(-1)!;
    const stale: Operation<KvInput, KvOutput> = {
      id: ops.length,
      clientId: 99,
      input: { type: 'get', key: firstPut.input.key },
      call: last.ret + 1,
      ret: last.ret + 2,
      output: { type: 'get', value: (firstPut.input as { value: string }).value },
    };
    const bad = checkHistory(kvModel, [...ops, stale]);
    process.stderr.write(`lincheck: with a stale read: ${bad.kind} in ${bad.elapsedMs.toFixed(1)} ms\n`);
    // Only illegal if the key was written again after its first put; with 100 writes per key it is.
    assert.ok(later.length > 1);
    assert.equal(bad.kind, 'illegal');
  });
});
