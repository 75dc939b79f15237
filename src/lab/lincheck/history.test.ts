import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError } from '../../core/errors.js';
import { checkHistory } from './check.js';
import { HistoryRecorder } from './history.js';
import { type KvInput, type KvOutput, kvModel } from './kv-model.js';
import { UNKNOWN } from './model.js';

describe('HistoryRecorder', () => {
  it('timestamps events in the order they are recorded and keeps outputs', () => {
    const h = new HistoryRecorder<KvInput, KvOutput>();
    const a = h.invoke(1, { type: 'put', key: 'a', value: '1' });
    const b = h.invoke(2, { type: 'get', key: 'a' });
    h.ok(b, { type: 'get', value: null });
    h.ok(a, { type: 'put', revision: 2 });
    assert.deepEqual(h.operations(), [
      {
        id: 0,
        clientId: 1,
        input: { type: 'put', key: 'a', value: '1' },
        call: 1,
        ret: 4,
        output: { type: 'put', revision: 2 },
      },
      {
        id: 1,
        clientId: 2,
        input: { type: 'get', key: 'a' },
        call: 2,
        ret: 3,
        output: { type: 'get', value: null },
      },
    ]);
  });

  it('drops failed operations, and turns info and still-pending ones into unknown outcomes', () => {
    const h = new HistoryRecorder<KvInput, KvOutput>();
    const failed = h.invoke(1, { type: 'put', key: 'a', value: 'x' });
    const lost = h.invoke(2, { type: 'put', key: 'a', value: 'y' });
    h.invoke(3, { type: 'delete', key: 'a' });
    h.fail(failed);
    h.info(lost);
    const ops = h.operations();
    assert.deepEqual(
      ops.map((op) => [op.id, op.ret, op.output]),
      [
        [1, Number.POSITIVE_INFINITY, UNKNOWN],
        [2, Number.POSITIVE_INFINITY, UNKNOWN],
      ],
    );
    assert.equal(h.pendingCount, 1);
  });

  it('a failed write cannot explain a read of its value, an unknown one can', () => {
    for (const outcome of ['fail', 'info'] as const) {
      const h = new HistoryRecorder<KvInput, KvOutput>();
      const w = h.invoke(1, { type: 'put', key: 'a', value: 'x' });
      h[outcome](w);
      const r = h.invoke(2, { type: 'get', key: 'a' });
      h.ok(r, { type: 'get', value: 'x' });
      assert.equal(
        checkHistory(kvModel, h.operations()).kind,
        outcome === 'fail' ? 'illegal' : 'ok',
        outcome,
      );
    }
  });

  it('uses an injected clock, and refuses to complete an operation twice or past its limit', () => {
    let t = 100;
    const h = new HistoryRecorder<KvInput, KvOutput>({ now: () => (t += 0.5), maxOperations: 2 });
    const a = h.invoke(1, { type: 'get', key: 'a' });
    h.ok(a, { type: 'get', value: null });
    assert.deepEqual([h.operations()[0]?.call, h.operations()[0]?.ret], [100.5, 101]);
    assert.throws(
      () => h.ok(a, { type: 'get', value: null }),
      (e) => isCairnError(e, 'INVALID_ARGUMENT'),
    );
    assert.throws(
      () => h.info(42),
      (e) => isCairnError(e, 'INVALID_ARGUMENT'),
    );
    h.invoke(1, { type: 'get', key: 'a' });
    assert.throws(
      () => h.invoke(1, { type: 'get', key: 'a' }),
      (e) => isCairnError(e, 'LIMIT_EXCEEDED'),
    );
  });

  it('record() wraps a call: ok with its result, info or fail on a throw as classified', async () => {
    const h = new HistoryRecorder<KvInput, KvOutput>();
    await h.record(1, { type: 'put', key: 'a', value: '1' }, async () => ({ type: 'put', revision: 2 }));
    await assert.rejects(
      h.record(2, { type: 'put', key: 'a', value: '2' }, async () => {
        throw new Error('deadline exceeded');
      }),
    );
    await assert.rejects(
      h.record(
        3,
        { type: 'put', key: 'a', value: '3' },
        async () => {
          throw new Error('refused');
        },
        () => 'fail',
      ),
    );
    assert.deepEqual(
      h.operations().map((op) => [op.clientId, op.output]),
      [
        [1, { type: 'put', revision: 2 }],
        [2, UNKNOWN],
      ],
    );
    assert.equal(h.pendingCount, 0);
  });
});
