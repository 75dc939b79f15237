import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode, utf8 } from '../core/index.js';
import { COMMAND_LIMITS, decodeCommand, encodeCommand, type StoreCommand } from './command.js';
import { isStoreError } from './errors.js';

const b = utf8;

/** Bytes as arrays (the decoder returns Buffers, a Uint8Array subclass). */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

test('commands round-trip with their request id', () => {
  const cmds: StoreCommand[] = [
    { t: 'put', req: { key: b('k'), value: b('v'), lease: 3, prevKv: true } },
    { t: 'del', req: { key: b('a'), rangeEnd: b('b') } },
    {
      t: 'txn',
      req: {
        compare: [
          { key: b('k'), target: 'value', result: 'equal', value: b('v') },
          { key: b('k'), target: 'mod', result: 'less', value: 7 },
        ],
        success: [{ range: { key: b('k'), sortOrder: 'descend', sortTarget: 'mod' } }],
        failure: [{ txn: { compare: [], success: [{ deleteRange: { key: b('k') } }], failure: [] } }],
      },
    },
    { t: 'compact', revision: 9 },
    { t: 'leaseGrant', id: 0, ttl: 10 },
    { t: 'leaseRevoke', id: 4 },
    { t: 'leaseCheckpoint', checkpoints: [{ id: 4, remainingTtl: 3 }] },
    { t: 'member', data: b('m') },
  ];
  for (const [i, cmd] of cmds.entries()) {
    const out = decodeCommand(encodeCommand(i, cmd));
    assert.equal(out.requestId, i);
    assert.deepEqual(plain(out.cmd), plain(cmd));
  }
});

test('malformed commands are refused with invalidArgument, never thrown raw', () => {
  const bad: unknown[] = [
    [1, { t: 'nope' }],
    [1, { t: 'put', req: { key: 'not bytes', value: b('v') } }],
    [1, { t: 'put', req: { key: b('k'), value: b('v'), lease: -1 } }],
    [1, { t: 'compact', revision: 2 ** 60 }],
    [1, { t: 'txn', req: { compare: [], success: [{}], failure: [] } }],
    [
      1,
      {
        t: 'txn',
        req: {
          compare: [],
          success: [{ put: { key: b('k'), value: b('') }, range: { key: b('k') } }],
          failure: [],
        },
      },
    ],
    [-1, { t: 'compact', revision: 1 }],
    { t: 'compact', revision: 1 },
  ];
  for (const value of bad) {
    assert.throws(
      () => decodeCommand(encode(value)),
      (e) => isStoreError(e, 'invalidArgument'),
      JSON.stringify(value),
    );
  }
  assert.throws(
    () => decodeCommand(new Uint8Array([0xc1])),
    (e) => isStoreError(e, 'invalidArgument'),
  );
  assert.throws(
    () => decodeCommand(new Uint8Array(0)),
    (e) => isStoreError(e, 'invalidArgument'),
  );
});

test('txn nesting deeper than the limit is refused', () => {
  const nest = (depth: number): StoreCommand => {
    let txn = { compare: [], success: [], failure: [] } as { compare: []; success: unknown[]; failure: [] };
    for (let i = 1; i < depth; i++) txn = { compare: [], success: [{ txn }], failure: [] };
    return { t: 'txn', req: txn as never };
  };
  assert.doesNotThrow(() => decodeCommand(encodeCommand(1, nest(COMMAND_LIMITS.maxTxnDepth))));
  assert.throws(
    () => decodeCommand(encodeCommand(1, nest(COMMAND_LIMITS.maxTxnDepth + 1))),
    (e) => isStoreError(e, 'invalidArgument'),
  );
});
