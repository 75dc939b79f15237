import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode, utf8 } from '../core/index.js';
import { plain } from '../core/testing.js';
import { COMMAND_LIMITS, decodeCommand, encodeCommand, type StoreCommand } from './command.js';
import { isStoreError } from './errors.js';

const b = utf8;

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

test('a put in its binary layout keeps every field, absent, false or true', () => {
  const bools = [undefined, false, true] as const;
  let id = 0;
  for (const prevKv of bools)
    for (const ignoreValue of bools)
      for (const ignoreLease of bools)
        for (const lease of [undefined, 0, 7, Number.MAX_SAFE_INTEGER]) {
          const req: Record<string, unknown> = { key: b('key'), value: b('value') };
          if (lease !== undefined) req.lease = lease;
          if (prevKv !== undefined) req.prevKv = prevKv;
          if (ignoreValue !== undefined) req.ignoreValue = ignoreValue;
          if (ignoreLease !== undefined) req.ignoreLease = ignoreLease;
          const cmd = { t: 'put', req } as unknown as StoreCommand;
          const bytes = encodeCommand(id, cmd);
          assert.equal(bytes[0], 0x01, 'the binary layout');
          const out = decodeCommand(bytes);
          assert.equal(out.requestId, id++);
          assert.deepEqual(plain(out.cmd), plain(cmd));
        }
  const edge: StoreCommand = { t: 'put', req: { key: new Uint8Array(0), value: new Uint8Array(0) } };
  const out = decodeCommand(encodeCommand(Number.MAX_SAFE_INTEGER, edge));
  assert.equal(out.requestId, Number.MAX_SAFE_INTEGER);
  assert.deepEqual(plain(out.cmd), plain(edge));
});

test('a malformed binary put is refused with invalidArgument', () => {
  const good = encodeCommand(5, { t: 'put', req: { key: b('k'), value: b('v'), lease: 2, prevKv: true } });
  const patched = (f: (bytes: Uint8Array, view: DataView) => void, bytes = new Uint8Array(good)) => {
    f(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return bytes;
  };
  const bad: [string, Uint8Array][] = [
    ['only the tag', new Uint8Array([0x01])],
    ['a header cut short', good.subarray(0, 21)],
    ['a negative request id', patched((_, v) => v.setFloat64(1, -1))],
    ['a fractional request id', patched((_, v) => v.setFloat64(1, 1.5))],
    ['a request id of 2^53', patched((_, v) => v.setFloat64(1, 2 ** 53))],
    ['a NaN request id', patched((_, v) => v.setFloat64(1, Number.NaN))],
    ['an unknown flag bit', patched((x) => (x[9] = x[9]! | 128))],
    ['true without present', patched((x) => (x[9] = 4))],
    ['a lease without its flag', patched((x) => (x[9] = 0))],
    ['a NaN lease', patched((_, v) => v.setFloat64(10, Number.NaN))],
    ['a key past the end', patched((_, v) => v.setUint32(18, 3))],
    ['a key over the limit', patched((_, v) => v.setUint32(18, COMMAND_LIMITS.maxKeyBytes + 1))],
    [
      'a value over the limit',
      encodeCommand(1, {
        t: 'put',
        req: { key: b(''), value: new Uint8Array(COMMAND_LIMITS.maxValueBytes + 1) },
      }),
    ],
  ];
  for (const [what, bytes] of bad) {
    assert.throws(
      () => decodeCommand(bytes),
      (e) => isStoreError(e, 'invalidArgument'),
      what,
    );
  }
});

test('no corruption of a binary put escapes as anything but invalidArgument', () => {
  const good = encodeCommand(9, {
    t: 'put',
    req: { key: b('key'), value: b('value'), lease: 3, ignoreLease: false },
  });
  let seed = 12345;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  for (let i = 0; i < 2000; i++) {
    const bytes = new Uint8Array(good.subarray(0, 1 + (next() % good.length)));
    bytes[0] = 0x01;
    for (let j = 0; j < 3; j++) bytes[next() % bytes.length] = next() % 256;
    try {
      decodeCommand(bytes);
    } catch (e) {
      assert.ok(isStoreError(e, 'invalidArgument'), String(e));
    }
  }
});
