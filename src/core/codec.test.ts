import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decode, encode, tryDecode } from './codec.js';
import { isCairnError } from './errors.js';
import { type Infer, v } from './validate.js';

const Ping = v.object({
  type: v.literal('ping'),
  seq: v.uint(),
  from: v.string({ maxLength: 64 }),
  payload: v.optional(v.bytes({ maxLength: 16 })),
  tags: v.array(v.string({ maxLength: 8 }), { maxLength: 4 }),
});
type Ping = Infer<typeof Ping>;

describe('codec', () => {
  it('round-trips a validated message, bytes included', () => {
    const msg: Ping = { type: 'ping', seq: 7, from: 'n1', payload: new Uint8Array([1, 2, 3]), tags: ['a'] };
    const back = decode(encode(msg), Ping);
    assert.equal(back.seq, 7);
    assert.ok(back.payload instanceof Uint8Array);
    assert.deepEqual([...back.payload!], [1, 2, 3]);
  });

  it('names the bad field when validation fails', () => {
    const bad = encode({ type: 'ping', seq: -1, from: 'n1', tags: [] });
    assert.throws(
      () => decode(bad, Ping),
      (err) => isCairnError(err, 'DECODE_FAILED') && /\$\.seq/.test(err.message),
    );
    const long = encode({ type: 'ping', seq: 1, from: 'n1', tags: ['a', 'b', 'c', 'd', 'e'] });
    assert.throws(() => decode(long, Ping), /\$\.tags: expected an array of at most 4 items/);
  });

  it('rejects empty input, trailing garbage and oversized input', () => {
    assert.throws(
      () => decode(new Uint8Array(), Ping),
      (e) => isCairnError(e, 'DECODE_FAILED'),
    );
    const ok = encode({ type: 'ping', seq: 1, from: 'n', tags: [] });
    const trailing = new Uint8Array([...ok, 0xc0]);
    assert.throws(() => decode(trailing, Ping), /expected one MessagePack value/);
    assert.throws(
      () => decode(ok, Ping, 4),
      (e) => isCairnError(e, 'LIMIT_EXCEEDED'),
    );
  });

  it('never throws anything but a CairnError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decode(bytes, Ping);
        } catch (err) {
          assert.ok(isCairnError(err), `unexpected ${String(err)}`);
        }
        tryDecode(bytes, Ping);
      }),
      { numRuns: 2000 },
    );
  });

  it('validates tagged unions by their tag', () => {
    const Msg = v.tagged('t', {
      a: v.object({ t: v.literal('a'), x: v.int() }),
      b: v.object({ t: v.literal('b'), y: v.string() }),
    });
    assert.deepEqual(decode(encode({ t: 'b', y: 'z', extra: 1 }), Msg), { t: 'b', y: 'z' });
    assert.throws(() => decode(encode({ t: 'c' }), Msg), /\$\.t: expected one of a, b/);
  });
});
