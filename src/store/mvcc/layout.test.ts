import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCairnError, utf8 } from '../../core/index.js';
import { decodeRecord, encodeRecord, readU64, type StoredRecord, writeU64 } from './layout.js';

test('records round-trip: puts with every field, tombstones, empty keys and values', () => {
  const records: StoredRecord[] = [
    { tombstone: false, key: utf8('k'), value: utf8('v'), createRevision: 2, version: 1, lease: 0 },
    {
      tombstone: false,
      key: new Uint8Array(0),
      value: new Uint8Array(0),
      createRevision: Number.MAX_SAFE_INTEGER,
      version: 3,
      lease: 77,
    },
    { tombstone: true, key: utf8('gone') },
    { tombstone: true, key: new Uint8Array(0) },
  ];
  for (const r of records) {
    const out = decodeRecord(encodeRecord(r));
    assert.deepEqual(
      { ...out, key: [...out.key], ...('value' in out ? { value: [...out.value] } : {}) },
      { ...r, key: [...r.key], ...('value' in r ? { value: [...r.value] } : {}) },
    );
  }
});

test('a malformed record is refused with DECODE_FAILED', () => {
  const good = encodeRecord({
    tombstone: false,
    key: utf8('key'),
    value: utf8('v'),
    createRevision: 2,
    version: 1,
    lease: 0,
  });
  const patched = (f: (v: DataView) => void) => {
    const bytes = new Uint8Array(good);
    f(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return bytes;
  };
  const bad: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['an unknown tag', new Uint8Array([0x03, 1, 2])],
    ['a MessagePack array', new Uint8Array([0x91, 0xc4, 0x01, 0x61])],
    ['a put cut short', good.subarray(0, 20)],
    ['a negative create revision', patched((v) => v.setFloat64(1, -1))],
    ['a fractional version', patched((v) => v.setFloat64(9, 0.5))],
    ['a NaN lease', patched((v) => v.setFloat64(17, Number.NaN))],
    ['a key past the end', patched((v) => v.setUint32(25, 5))],
  ];
  for (const [what, bytes] of bad) {
    assert.throws(
      () => decodeRecord(bytes),
      (e) => isCairnError(e, 'DECODE_FAILED'),
      what,
    );
  }
});

test('8-byte numbers are big-endian and round-trip up to the largest safe integer', () => {
  const out = new Uint8Array(10).fill(0xaa);
  writeU64(out, 1, 0x0102_0304_0506);
  assert.deepEqual([...out], [0xaa, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0xaa]);
  const view = new DataView(new ArrayBuffer(8));
  for (const n of [0, 1, 255, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER]) {
    const b = new Uint8Array(8);
    writeU64(b, 0, n);
    view.setBigUint64(0, BigInt(n));
    assert.deepEqual(b, new Uint8Array(view.buffer), `bytes of ${n}`);
    assert.equal(readU64(b, 0), n);
  }
});
