import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode } from '../core/index.js';
import { NodeIdentity, signRecord, simulatedScheme, verifyRecord } from '../security/index.js';
import {
  internId,
  ownBytes,
  recordEncoding,
  recordOfEncoding,
  sharedEncoding,
  sharedEncodingOf,
  verifiedRecord,
} from './intern.js';

const me = NodeIdentity.fromSeed(new Uint8Array(32).fill(7));
const verify = (r: Parameters<typeof verifyRecord>[0]) => verifyRecord(r, simulatedScheme);

describe('intern', () => {
  it('answers identical records with one compact shared object', () => {
    const signed = signRecord(me, 3, encode({ hello: 'intern' }), simulatedScheme);
    const copy = {
      ...signed,
      payload: Uint8Array.from(signed.payload),
      signature: Uint8Array.from(signed.signature),
    };
    const a = verifiedRecord(signed, simulatedScheme, verify);
    const b = verifiedRecord(copy, simulatedScheme, verify);
    assert.ok(a !== undefined);
    assert.equal(a, b);
    assert.equal(a.payload.byteLength, a.payload.buffer.byteLength, 'the payload owns its buffer');
  });

  it('never answers a forgery with a cached record: same signature, other payload', () => {
    const signed = signRecord(me, 4, encode({ v: 1 }), simulatedScheme);
    assert.ok(verifiedRecord(signed, simulatedScheme, verify) !== undefined);
    const forged = { ...signed, payload: encode({ v: 2 }) };
    assert.equal(verifiedRecord(forged, simulatedScheme, verify), undefined);
    assert.equal(verifiedRecord({ ...signed, version: 5 }, simulatedScheme, verify), undefined);
  });

  it('ownBytes copies views (also of Node Buffers) and keeps owners', () => {
    const view = encode({ x: 1 });
    assert.notEqual(view.byteLength, view.buffer.byteLength, 'the codec returns a view');
    const own = ownBytes(view);
    assert.deepEqual([...own], [...view]);
    assert.equal(own.byteLength, own.buffer.byteLength);
    assert.equal(ownBytes(own), own);
  });

  it('internId gives one string per id', () => {
    const a = internId(['node', 'x'].join('-'));
    assert.equal(internId(['node', 'x'].join('-')), a);
  });

  it('finds a shared encoding again from its bytes, anywhere in a buffer, and nothing else', () => {
    const record = signRecord(me, 9, encode({ shared: 'encoding' }), simulatedScheme);
    const alone = recordEncoding(record, (r) => encode(r));
    const asPart = sharedEncoding('Alive', record, () => encode({ type: 'Alive', record }));
    assert.equal(
      recordEncoding(record, () => encode('not called again')),
      alone,
    );
    // Inside a larger buffer, at an offset: found by range, the same objects back.
    const frame = new Uint8Array(3 + alone.length + asPart.length + 2);
    frame.set(alone, 3);
    frame.set(asPart, 3 + alone.length);
    assert.equal(recordOfEncoding(frame, 3, 3 + alone.length), record);
    const part = sharedEncodingOf(frame, 3 + alone.length, 3 + alone.length + asPart.length);
    assert.equal(part?.type, 'Alive');
    assert.equal(part?.record, record);
    // The part's bytes are not the record's own encoding.
    assert.equal(recordOfEncoding(frame, 3 + alone.length, 3 + alone.length + asPart.length), undefined);
    // One byte changed anywhere, or one byte fewer: a miss.
    for (let i = 0; i < alone.length; i++) {
      const copy = Uint8Array.from(alone);
      copy[i] = copy[i]! ^ 1;
      assert.equal(sharedEncodingOf(copy, 0, copy.length), undefined, `byte ${i}`);
    }
    assert.equal(sharedEncodingOf(alone, 1, alone.length), undefined);
    assert.equal(sharedEncodingOf(alone, 0, 3), undefined);
  });
});
