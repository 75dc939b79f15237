import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode } from '../core/index.js';
import { NodeIdentity, signRecord, simulatedScheme, verifyRecord } from '../security/index.js';
import {
  InternScope,
  internId,
  ownBytes,
  recordEncoding,
  recordOfEncoding,
  runInInternScope,
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

  it('shares verification within a scope only: each scope verifies a record once', () => {
    const signed = signRecord(me, 11, encode({ scoped: 'record' }), simulatedScheme);
    let checks = 0;
    const counted = (r: Parameters<typeof verifyRecord>[0]) => {
      checks++;
      return verify(r);
    };
    const a = new InternScope('a');
    const b = new InternScope('b');
    const inA = runInInternScope(a, () => verifiedRecord(signed, simulatedScheme, counted));
    assert.equal(
      runInInternScope(a, () => verifiedRecord(signed, simulatedScheme, counted)),
      inA,
    );
    assert.equal(checks, 1, 'the second lookup in scope a is a hit');
    const inB = runInInternScope(b, () => verifiedRecord(signed, simulatedScheme, counted));
    assert.equal(checks, 2, 'scope b verifies the record itself');
    assert.notEqual(inB, inA);
    assert.deepEqual(inB, inA);
    verifiedRecord(signed, simulatedScheme, counted);
    assert.equal(checks, 3, 'the process scope shares nothing with a and b');
    assert.deepEqual(
      [a.stats, b.stats],
      [
        { hits: 1, misses: 1 },
        { hits: 0, misses: 1 },
      ],
    );
  });

  it('finds an encoding from its bytes only in the scope that made it', () => {
    const record = signRecord(me, 12, encode({ scoped: 'encoding' }), simulatedScheme);
    const a = new InternScope('a');
    const bytes = runInInternScope(a, () => recordEncoding(record, (r) => encode(r)));
    assert.equal(
      runInInternScope(a, () => recordOfEncoding(bytes, 0, bytes.length)),
      record,
    );
    assert.equal(
      runInInternScope(new InternScope('b'), () => recordOfEncoding(bytes, 0, bytes.length)),
      undefined,
    );
    assert.equal(recordOfEncoding(bytes, 0, bytes.length), undefined);
    assert.equal(
      runInInternScope(a, () => internId(['scoped', 'id'].join('-'))),
      'scoped-id',
    );
  });
});
