import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { etcdMethod, etcdPackageDefinition } from './proto.js';
import { messageSchemas, scanMessage } from './wire-scan.js';

const schemas = messageSchemas(etcdPackageDefinition());
const txn = etcdMethod('KV', 'Txn');

describe('wire scan', () => {
  it('accepts what the encoder writes, nested ops and compares included', () => {
    const bytes = txn.requestSerialize({
      compare: [{ key: Buffer.from('k'), target: 'Value', value: Buffer.from('v') }],
      success: [{ request_txn: { success: [{ request_range: { key: Buffer.from('a'), limit: 5 } }] } }],
    });
    assert.equal(scanMessage(schemas, 'etcdserverpb.TxnRequest', bytes, 32), undefined);
  });

  it('names an unknown field deep inside a nested message', () => {
    const inner = etcdMethod('KV', 'Range').requestSerialize({ key: Buffer.from('a') });
    const range = Buffer.concat([inner, Buffer.from([0xa8, 0x01, 0x01])]); // field 21, varint
    const op = Buffer.concat([Buffer.from([0x0a, range.length]), range]); // RequestOp.request_range
    const bytes = Buffer.concat([Buffer.from([0x12, op.length]), op]); // TxnRequest.success
    assert.deepEqual(scanMessage(schemas, 'etcdserverpb.TxnRequest', bytes, 32), {
      kind: 'unknownField',
      reason: 'unknown field 21 in etcdserverpb.RangeRequest',
    });
  });

  it('refuses truncated lengths, wrong wire types and excessive depth', () => {
    assert.equal(
      scanMessage(schemas, 'etcdserverpb.RangeRequest', Buffer.from([0x0a, 0x05, 0x61]), 32)?.kind,
      'malformed',
    );
    assert.equal(
      scanMessage(schemas, 'etcdserverpb.RangeRequest', Buffer.from([0x08, 0x01]), 32)?.kind,
      'malformed',
    );
    let nested = Buffer.alloc(0);
    for (let i = 0; i < 12; i++) {
      const op = Buffer.concat([Buffer.from([0x22, nested.length]), nested]);
      nested = Buffer.concat([Buffer.from([0x12, op.length]), op]);
      if (nested.length > 120) break;
    }
    assert.equal(scanMessage(schemas, 'etcdserverpb.TxnRequest', nested, 2)?.kind, 'malformed');
  });

  it('never throws on arbitrary bytes (property; replay with the printed seed)', () => {
    const seed = Number(process.env.CAIRN_SEED ?? Date.now() % 2 ** 31);
    console.log(
      `seed=${seed} replay: CAIRN_SEED=${seed} node --import tsx --test src/store/etcd/wire-scan.test.ts`,
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        scanMessage(schemas, 'etcdserverpb.TxnRequest', bytes, 32);
      }),
      { seed, numRuns: 500 },
    );
  });
});
