import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from '../../core/index.js';
import { ReadIndexBatcher } from './read-index.js';

function harness(maxInFlight = 1) {
  const requests: Uint8Array[] = [];
  let applied = 0;
  let counter = 0;
  const batcher = new ReadIndexBatcher(
    {
      request: (ctx) => {
        requests.push(ctx);
        return true;
      },
      applied: () => applied,
      nextContext: () => new Uint8Array([++counter]),
    },
    { maxPending: 5, maxInFlight, retryMs: 100 },
  );
  return {
    batcher,
    requests,
    setApplied: (i: number) => {
      applied = i;
      batcher.onApplied();
    },
  };
}

describe('ReadIndexBatcher', () => {
  it('callers arriving while a request is in flight share the next one', async () => {
    const h = harness();
    const results: number[] = [];
    const a = h.batcher.read(0).then((i) => results.push(i));
    assert.equal(h.requests.length, 1);
    const b = h.batcher.read(0).then((i) => results.push(i));
    const c = h.batcher.read(0).then((i) => results.push(i));
    assert.equal(h.requests.length, 1, 'b and c wait for the next batch');
    h.setApplied(7);
    h.batcher.onReadStates([{ index: 7, requestCtx: h.requests[0]! }], 0);
    await a;
    assert.equal(h.requests.length, 2, 'the queued callers go out as one request');
    h.batcher.onReadStates([{ index: 9, requestCtx: h.requests[1]! }], 0);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(results, [7], 'b and c wait until index 9 is applied');
    h.setApplied(9);
    await Promise.all([b, c]);
    assert.deepEqual(results, [7, 9, 9]);
    assert.equal(h.batcher.size, 0);
  });

  it('retries an unanswered request under a new context and ignores the stale answer', async () => {
    const h = harness();
    const p = h.batcher.read(0);
    h.batcher.retry(50);
    assert.equal(h.requests.length, 1);
    h.batcher.retry(100);
    assert.equal(h.requests.length, 2);
    assert.notEqual(toHex(h.requests[0]!), toHex(h.requests[1]!));
    h.batcher.onReadStates([{ index: 3, requestCtx: h.requests[0]! }], 100);
    assert.equal(h.batcher.size, 1, 'the answer to the old context is ignored');
    h.setApplied(4);
    h.batcher.onReadStates([{ index: 4, requestCtx: h.requests[1]! }], 100);
    assert.equal(await p, 4);
  });

  it('is bounded, honours abort, and rejects everyone on stop', async () => {
    const h = harness();
    const ctl = new AbortController();
    const ps = Array.from({ length: 4 }, () => h.batcher.read(0));
    const aborted = h.batcher.read(0, ctl.signal);
    await assert.rejects(h.batcher.read(0), { code: 'PROPOSAL_DROPPED' });
    ctl.abort();
    await assert.rejects(aborted, { code: 'CANCELLED' });
    assert.equal(h.batcher.size, 4);
    h.batcher.rejectAll(new Error('stopped'));
    for (const p of ps) await assert.rejects(p, /stopped/);
    assert.equal(h.batcher.size, 0);
  });
});
