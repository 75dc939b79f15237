import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decode, encode } from '../core/codec.js';
import { NodeIdentity } from './identity.js';
import { DEFAULT_LIMITS } from './limits.js';
import {
  ed25519Scheme,
  type SignedRecord,
  SignedRecordValidator,
  signedRecordBytes,
  signRecord,
  simulatedScheme,
  verifyRecord,
} from './signed.js';

const alice = NodeIdentity.fromSeed(new Uint8Array(32).fill(1));
const mallory = NodeIdentity.fromSeed(new Uint8Array(32).fill(2));
const payload = Buffer.from('{"addr":"10.0.0.1:7946","state":"alive"}');

function flip(bytes: Uint8Array, index: number): Uint8Array {
  const out = new Uint8Array(bytes);
  out[index % out.length]! ^= 1;
  return out;
}

describe('signed records', () => {
  it('verify for any receiver, also after a relay through MessagePack', () => {
    const record = signRecord(alice, 7, payload);
    assert.equal(record.node, alice.nodeId);
    assert.ok(verifyRecord(record));
    const relayed = decode(encode(record), SignedRecordValidator);
    assert.ok(verifyRecord(relayed));
  });

  it('sign exactly the documented bytes', () => {
    const record = signRecord(alice, 0x1_0000_0002, payload);
    const bytes = Buffer.from(signedRecordBytes(alice.nodeId, 0x1_0000_0002, payload));
    assert.equal(bytes.subarray(0, 15).toString('latin1'), 'cairn-record-v1');
    assert.deepEqual(bytes.subarray(15, 47), Buffer.from(alice.publicKey));
    assert.equal(bytes.subarray(47, 55).toString('hex'), '0000000100000002');
    assert.deepEqual(bytes.subarray(55), payload);
    assert.ok(alice.sign(bytes).every((b, i) => b === record.signature[i]));
  });

  it('cannot be forged by a relay: another key, another node or a changed field fails', () => {
    const record = signRecord(alice, 7, payload);
    const forged = signRecord(mallory, 7, payload);
    assert.equal(verifyRecord({ ...forged, node: alice.nodeId }), false, 'mallory signing as alice');
    assert.equal(verifyRecord({ ...record, node: mallory.nodeId }), false, 'alice record claimed by mallory');
    assert.equal(verifyRecord({ ...record, version: 8 }), false, 'version bumped');
    assert.equal(verifyRecord({ ...record, node: 'garbage' }), false, 'malformed node id');
    assert.equal(verifyRecord({ ...record, version: -1 }), false, 'negative version');
  });

  it('rejects every single-bit change of payload or signature', () => {
    const record = signRecord(alice, 3, payload);
    fc.assert(
      fc.property(fc.nat(), fc.boolean(), (index, inPayload) => {
        const changed: SignedRecord = inPayload
          ? { ...record, payload: flip(record.payload, index) }
          : { ...record, signature: flip(record.signature, index) };
        assert.equal(verifyRecord(changed), false);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses bad versions and oversized payloads when signing', () => {
    assert.throws(() => signRecord(alice, 1.5, payload), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => signRecord(alice, -1, payload), { code: 'INVALID_ARGUMENT' });
    const big = new Uint8Array(DEFAULT_LIMITS.maxRecordPayloadBytes + 1);
    assert.throws(() => signRecord(alice, 1, big), { code: 'LIMIT_EXCEEDED' });
  });

  it('validates decoded records by shape and size', () => {
    const record = signRecord(alice, 1, payload);
    const bad = [
      { ...record, node: 'x' },
      { ...record, version: -2 },
      { ...record, signature: record.signature.subarray(0, 32) },
      { ...record, payload: 'text' },
    ];
    for (const value of bad) {
      assert.throws(() => decode(encode(value), SignedRecordValidator), { code: 'DECODE_FAILED' });
    }
  });
});

describe('signature schemes', () => {
  it('the simulated scheme round-trips and still catches wrong attribution and changes', () => {
    const record = signRecord(alice, 5, payload, simulatedScheme);
    assert.equal(record.signature.length, 64);
    assert.ok(verifyRecord(record, simulatedScheme));
    assert.equal(verifyRecord({ ...record, node: mallory.nodeId }, simulatedScheme), false);
    assert.equal(verifyRecord({ ...record, payload: flip(payload, 3) }, simulatedScheme), false);
  });

  it('the schemes do not accept each other', () => {
    const simulated = signRecord(alice, 5, payload, simulatedScheme);
    const real = signRecord(alice, 5, payload, ed25519Scheme);
    assert.equal(verifyRecord(simulated, ed25519Scheme), false);
    assert.equal(verifyRecord(real, simulatedScheme), false);
  });
});
