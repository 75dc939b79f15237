import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode, isCairnError } from '../../core/index.js';
import { plain } from '../../core/testing.js';
import type { Entry } from '../types.js';
import { decodeRecord, encodeSave } from './record.js';

const MAX = 1024 * 1024;
const entries: Entry[] = [
  { term: 3, index: 10, type: 'normal', data: new Uint8Array([1, 2, 3]) },
  { term: 3, index: 11, type: 'conf', data: new Uint8Array([9]) },
  { term: 4, index: 12, type: 'normal', data: new Uint8Array(0) },
];
const hardState = { term: 4, vote: 2, commit: 11 };

test('saves round-trip in the binary layout: hard state, entries, both', () => {
  for (const [hs, es] of [
    [hardState, entries],
    [undefined, entries],
    [hardState, []],
    [undefined, entries.slice(2)],
  ] as const) {
    const bytes = encodeSave(hs, es);
    assert.equal(bytes[0], 0x01);
    const out = decodeRecord(bytes, MAX);
    assert.deepEqual(
      plain(out),
      plain(hs === undefined ? { kind: 'save', entries: es } : { kind: 'save', hardState: hs, entries: es }),
    );
  }
});

test('a save of the earlier MessagePack layout and snapshot markers still read', () => {
  const old = decodeRecord(encode({ h: [1, 2, 3], i: 5, e: [1, 0, new Uint8Array([7])] }), MAX);
  assert.deepEqual(
    plain(old),
    plain({
      kind: 'save',
      hardState: { term: 1, vote: 2, commit: 3 },
      entries: [{ term: 1, index: 5, type: 'normal', data: new Uint8Array([7]) }],
    }),
  );
  assert.deepEqual(decodeRecord(encode({ s: [9, 2] }), MAX), { kind: 'snapshotMarker', index: 9, term: 2 });
});

test('a malformed binary save is refused with DECODE_FAILED or LIMIT_EXCEEDED', () => {
  const good = encodeSave(hardState, entries);
  const patched = (f: (bytes: Uint8Array, view: DataView) => void) => {
    const bytes = new Uint8Array(good);
    f(bytes, new DataView(bytes.buffer));
    return bytes;
  };
  const bad: [string, Uint8Array][] = [
    ['only the tag', new Uint8Array([0x01])],
    ['unknown flag bits', patched((b) => (b[1] = 7))],
    ['a negative term', patched((_, v) => v.setFloat64(2, -1))],
    ['a fractional commit', patched((_, v) => v.setFloat64(18, 1.5))],
    ['no entries with the entries flag', patched((_, v) => v.setUint32(34, 0))],
    ['more entries than the bytes hold', patched((_, v) => v.setUint32(34, 1000))],
    ['an entry type 2', patched((b) => (b[38 + 8] = 2))],
    ['entry data past the end', patched((_, v) => v.setUint32(38 + 9, 1000))],
    ['trailing bytes', Uint8Array.from([...good, 0])],
    ['cut short', good.subarray(0, good.length - 1)],
  ];
  for (const [what, bytes] of bad) {
    assert.throws(
      () => decodeRecord(bytes, MAX),
      (e) => isCairnError(e, 'DECODE_FAILED') || isCairnError(e, 'LIMIT_EXCEEDED'),
      what,
    );
  }
  assert.throws(
    () => decodeRecord(good, good.length - 1),
    (e) => isCairnError(e, 'LIMIT_EXCEEDED'),
  );
});

test('no corruption of a binary save escapes as another error', () => {
  const good = encodeSave(hardState, entries);
  let seed = 99;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  for (let i = 0; i < 3000; i++) {
    const bytes = new Uint8Array(good.subarray(0, 1 + (next() % good.length)));
    bytes[0] = 0x01;
    for (let j = 0; j < 3; j++) bytes[next() % bytes.length] = next() % 256;
    try {
      decodeRecord(bytes, MAX);
    } catch (e) {
      assert.ok(isCairnError(e, 'DECODE_FAILED') || isCairnError(e, 'LIMIT_EXCEEDED'), String(e));
    }
  }
});
