import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseKvStatus } from './status.js';

describe('kv status', () => {
  it('reads hints and anti-entropy rounds from an agent status body', () => {
    const body = {
      name: 'node-0',
      status: 'normal',
      hintsPending: { 'node-1': 120, 'node-2': 30 },
      antiEntropy: { rounds: 4, rangesCompared: 12 },
    };
    assert.deepEqual(parseKvStatus(body), { hintBytes: 150, antiEntropyRounds: 4, ring: 'normal' });
  });

  it('reads a body of another shape as no status', () => {
    for (const body of [
      null,
      [],
      { status: 'normal', hintsPending: {}, antiEntropy: {} },
      { status: 'normal', hintsPending: { a: 'x' }, antiEntropy: { rounds: 1 } },
      { hintsPending: {}, antiEntropy: { rounds: 1 } },
    ]) {
      assert.equal(parseKvStatus(body), undefined, JSON.stringify(body));
    }
  });
});
