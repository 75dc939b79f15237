import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MethodDefinition } from '@grpc/proto-loader';
import { encodePutRequest, encodeRangeRequest, etcdPackageDefinition } from './_store-grpc.js';
import { percentile } from './_store-load.js';

const kv = etcdPackageDefinition()['etcdserverpb.KV'] as unknown as Record<
  string,
  MethodDefinition<object, object>
>;

describe('store bench: hand-encoded etcd requests', () => {
  it('PutRequest decodes with etcd protos to the same key and value, long values included', () => {
    for (const size of [0, 5, 127, 128, 300, 70_000]) {
      const key = Buffer.from(`bench/${size}`);
      const value = Buffer.alloc(size, 7);
      const decoded = kv.Put!.requestDeserialize(encodePutRequest(key, value)) as {
        key: Buffer;
        value?: Buffer;
      };
      assert.deepEqual(decoded.key, key);
      assert.deepEqual(decoded.value ?? Buffer.alloc(0), value);
    }
  });

  it('RangeRequest carries serializable only when asked', () => {
    const key = Buffer.from('bench/1');
    const lin = kv.Range!.requestDeserialize(encodeRangeRequest(key, false)) as {
      key: Buffer;
      serializable?: boolean;
    };
    const ser = kv.Range!.requestDeserialize(encodeRangeRequest(key, true)) as {
      key: Buffer;
      serializable?: boolean;
    };
    assert.deepEqual([lin.key, lin.serializable ?? false], [key, false]);
    assert.deepEqual([ser.key, ser.serializable], [key, true]);
  });

  it('percentile is nearest-rank', () => {
    const xs = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    assert.deepEqual([percentile(xs, 50), percentile(xs, 99), percentile(xs, 100)], [50, 99, 100]);
    assert.ok(Number.isNaN(percentile(new Float64Array(0), 50)));
  });
});
