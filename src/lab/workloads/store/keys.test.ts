import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../../core/index.js';
import { StoreError } from '../../../store/errors.js';
import { classifyError } from './client.js';
import { KeySpace } from './keys.js';

describe('KeySpace', () => {
  it('keeps a few keys active and retires each after its quota of operations', () => {
    const keys = new KeySpace(3, 10);
    const rng = Rng.fromSeed(1);
    const counts = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const k = keys.pick(rng);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    assert.ok(
      [...counts.values()].every((n) => n <= 10),
      JSON.stringify([...counts]),
    );
    const retired = [...counts.values()].filter((n) => n === 10).length;
    assert.equal(keys.all.length, 3 + retired, 'a fresh key replaces each retired one');
    assert.ok(retired >= 27, `300 operations over 3 keys of 10 retire at least 27, got ${retired}`);
    assert.deepEqual(keys.all, [...keys.all].sort(), 'keys are handed out in key order');
  });
});

describe('classifyError', () => {
  it('counts a failed read as not applied, whatever the error', () => {
    assert.deepEqual(classifyError(new StoreError('timeout'), true), {
      outcome: 'fail',
      kind: 'etcd:timeout',
    });
  });

  it('counts a write as unknown unless it provably never reached the log', () => {
    assert.equal(classifyError(new StoreError('timeout'), false).outcome, 'info');
    assert.equal(classifyError(new StoreError('leaderChanged'), false).outcome, 'info');
    assert.equal(classifyError(new Error('14 UNAVAILABLE: Connection dropped'), false).outcome, 'info');
    assert.equal(classifyError(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded'), false).kind, 'timeout');
    assert.deepEqual(
      classifyError(
        new Error('14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED'),
        false,
      ),
      { outcome: 'fail', kind: 'no-connection' },
    );
    assert.deepEqual(classifyError(new StoreError('notSupportedForLearner'), false), {
      outcome: 'fail',
      kind: 'etcd:notSupportedForLearner',
    });
    // etcd's message on a plain error (as etcd3 raises it) is recognised too.
    assert.equal(classifyError(new Error('etcdserver: too many requests'), false).outcome, 'fail');
  });
});
