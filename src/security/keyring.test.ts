import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Rng } from '../core/rng.js';
import { formatKey, generateKey, parseKey } from './key-set.js';
import { Keyring, SEAL_OVERHEAD_BYTES } from './keyring.js';

const keyA = new Uint8Array(32).fill(0xa1);
const keyB = new Uint8Array(32).fill(0xb2);
const keyC = new Uint8Array(32).fill(0xc3);
const message = Buffer.from('ping seq=7 from=n1');

function flip(bytes: Uint8Array, index: number, bit: number): Uint8Array {
  const out = new Uint8Array(bytes);
  out[index % out.length]! ^= 1 << bit;
  return out;
}

describe('Keyring', () => {
  it('seals and opens, adding exactly OVERHEAD_BYTES', () => {
    const ring = new Keyring({ keys: [keyA], label: 'prod' });
    const sealed = ring.seal(message);
    assert.equal(sealed.length, message.length + Keyring.OVERHEAD_BYTES);
    assert.equal(Keyring.OVERHEAD_BYTES, SEAL_OVERHEAD_BYTES);
    assert.deepEqual(Buffer.from(ring.open(sealed)), message);
    assert.deepEqual(Buffer.from(ring.open(ring.seal(new Uint8Array(0)))), Buffer.alloc(0));
    assert.notDeepEqual(sealed.subarray(17, 17 + message.length), message, 'the payload is not in clear');
  });

  it('seals the same plaintext differently each time (random nonces)', () => {
    const ring = new Keyring({ keys: [keyA] });
    assert.notDeepEqual(ring.seal(message), ring.seal(message));
  });

  it('replays byte for byte with an injected nonce source (the simulator)', () => {
    const make = () => {
      const rng = Rng.fromSeed(9).child('keyring');
      return new Keyring({ keys: [keyA], nonce: (n) => rng.bytes(n) });
    };
    const [a, b] = [make(), make()];
    assert.deepEqual(a.seal(message), b.seal(message));
  });

  it('fails closed with DECRYPT_FAILED for another key, label or channel', () => {
    const sealed = new Keyring({ keys: [keyA], label: 'prod' }).seal(message, 'packet');
    const cases = [
      ['another key', new Keyring({ keys: [keyB], label: 'prod' }), 'packet'],
      ['another label', new Keyring({ keys: [keyA], label: 'staging' }), 'packet'],
      ['no label', new Keyring({ keys: [keyA] }), 'packet'],
      ['the frame channel', new Keyring({ keys: [keyA], label: 'prod' }), 'frame'],
    ] as const;
    for (const [what, ring, channel] of cases) {
      assert.throws(() => ring.open(sealed, channel), { code: 'DECRYPT_FAILED' }, what);
      assert.equal(ring.tryOpen(sealed, channel), undefined, what);
    }
  });

  it('names a missing key in the error, so operators can tell a key mismatch from tampering', () => {
    const sealed = new Keyring({ keys: [keyA] }).seal(message);
    const other = new Keyring({ keys: [keyB] });
    const idA = new Keyring({ keys: [keyA] }).primaryKeyId;
    assert.throws(() => other.open(sealed), { code: 'DECRYPT_FAILED', message: new RegExp(`key ${idA}`) });
  });

  it('rejects any single-bit change, truncation or extension of a sealed message', () => {
    const ring = new Keyring({ keys: [keyA], label: 'prod' });
    const sealed = ring.seal(message);
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 7 }), (index, bit) => {
        assert.equal(ring.tryOpen(flip(sealed, index, bit)), undefined);
      }),
      { numRuns: 300 },
    );
    for (let n = 0; n < sealed.length; n++) assert.equal(ring.tryOpen(sealed.subarray(0, n)), undefined);
    assert.equal(ring.tryOpen(Buffer.concat([sealed, Buffer.of(0)])), undefined);
  });

  it('never throws anything but DECRYPT_FAILED on garbage', () => {
    const ring = new Keyring({ keys: [keyA] });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (garbage) => {
        assert.throws(() => ring.open(garbage), { code: 'DECRYPT_FAILED' });
      }),
    );
    assert.ok(ring.stats.rejected > 0);
  });

  it('rotates without downtime: add, switch primary, remove', () => {
    // Two nodes: n1 rotates first, n2 later; at every step they still understand each other.
    const n1 = new Keyring({ keys: [keyA], label: 'c' });
    const n2 = new Keyring({ keys: [keyA], label: 'c' });
    n1.addKey(keyB);
    n2.addKey(keyB);
    n1.usePrimary(keyB);
    assert.deepEqual(
      Buffer.from(n2.open(n1.seal(message))),
      message,
      'n2 opens B while still sealing with A',
    );
    assert.deepEqual(Buffer.from(n1.open(n2.seal(message))), message, 'n1 still opens A');
    n2.usePrimary(n2.keyIds()[1]!);
    assert.equal(n2.primaryKeyId, n1.primaryKeyId);
    const oldMessage = new Keyring({ keys: [keyA], label: 'c' }).seal(message);
    n1.removeKey(keyA);
    n2.removeKey(keyA);
    assert.deepEqual(Buffer.from(n2.open(n1.seal(message))), message);
    assert.throws(() => n1.open(oldMessage), { code: 'DECRYPT_FAILED' }, 'the removed key no longer opens');
    assert.deepEqual(
      n1.keys().map((k) => Buffer.from(k)),
      [Buffer.from(keyB)],
    );
  });

  it('guards its key set: no removing the primary, no unknown keys, bounded size', () => {
    const ring = new Keyring({ keys: [keyA, keyB] });
    assert.deepEqual(
      ring
        .keys()
        .map((k) => Buffer.from(k))
        .slice(0, 1),
      [Buffer.from(keyA)],
    );
    assert.throws(() => ring.removeKey(keyA), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => ring.usePrimary(keyC), { code: 'NOT_FOUND' });
    assert.throws(() => ring.removeKey('00000000'), { code: 'NOT_FOUND' });
    assert.equal(ring.addKey(keyB), ring.keyIds()[1], 'adding an installed key is a no-op');
    assert.throws(() => new Keyring({ keys: [] }), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => new Keyring({ keys: [new Uint8Array(16)] }), { code: 'INVALID_ARGUMENT' });
    const full = new Keyring({ keys: [keyA], limits: { maxKeys: 2 } });
    full.addKey(keyB);
    assert.throws(() => full.addKey(keyC), { code: 'LIMIT_EXCEEDED' });
    assert.throws(() => new Keyring({ keys: [keyA], label: 'x'.repeat(256) }), { code: 'LIMIT_EXCEEDED' });
  });

  it('counts what it did', () => {
    const ring = new Keyring({ keys: [keyA] });
    ring.open(ring.seal(message));
    ring.tryOpen(new Uint8Array(3));
    assert.deepEqual(ring.stats, { sealed: 1, opened: 1, rejected: 1 });
  });
});

describe('key text', () => {
  it('round-trips base64 and accepts base64url', () => {
    const key = generateKey();
    assert.equal(key.length, 32);
    const text = formatKey(key);
    assert.equal(text.length, 44);
    assert.deepEqual(parseKey(text), key);
    assert.deepEqual(Keyring.parseKey(` ${text}\n`), key, 'surrounding whitespace from a file is fine');
    assert.deepEqual(parseKey(Buffer.from(key).toString('base64url')), key);
    assert.equal(Keyring.generateKey().length, 32);
  });

  it('rejects keys of the wrong size or spelling without echoing them', () => {
    const secret = Buffer.alloc(16, 7).toString('base64');
    assert.throws(
      () => parseKey(secret),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.ok(!err.message.includes(secret), 'the message does not repeat the text');
        return true;
      },
    );
    assert.throws(() => parseKey('not base64 at all!'), { code: 'INVALID_ARGUMENT' });
    // The last character carries two unused bits; a non-zero pair is a second spelling of a key.
    const canonical = formatKey(keyA);
    const twin = `${canonical.slice(0, 42)}${String.fromCharCode(canonical.charCodeAt(42) + 1)}=`;
    assert.throws(() => parseKey(twin), { code: 'INVALID_ARGUMENT' });
  });
});
