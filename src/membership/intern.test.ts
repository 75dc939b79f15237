import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode } from '../core/index.js';
import { NodeIdentity, signRecord, simulatedScheme, verifyRecord } from '../security/index.js';
import { internId, ownBytes, verifiedRecord } from './intern.js';

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
});
