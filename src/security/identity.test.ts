import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../core/rng.js';
import {
  isNodeId,
  NODE_ID_LENGTH,
  NodeIdentity,
  NodeIdValidator,
  nodeIdFromPublicKey,
  publicKeyFromNodeId,
  shortNodeId,
  verifySignature,
} from './identity.js';

// RFC 8032 section 7.1, test 1: the empty message.
const RFC_SEED = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
const RFC_PUBLIC = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');
const RFC_SIGNATURE = Buffer.from(
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  'hex',
);

describe('NodeIdentity', () => {
  it('derives the RFC 8032 key and signature from a seed', () => {
    const id = NodeIdentity.fromSeed(RFC_SEED);
    assert.deepEqual(Buffer.from(id.publicKey), RFC_PUBLIC);
    assert.deepEqual(Buffer.from(id.sign(new Uint8Array(0))), RFC_SIGNATURE);
    assert.ok(verifySignature(id.nodeId, new Uint8Array(0), RFC_SIGNATURE));
  });

  it('makes the node id the base32 public key, and the short id its first 8 characters', () => {
    const id = NodeIdentity.fromSeed(RFC_SEED);
    assert.equal(id.nodeId.length, NODE_ID_LENGTH);
    assert.equal(id.nodeId, nodeIdFromPublicKey(RFC_PUBLIC));
    assert.match(id.nodeId, /^[a-z2-7]{52}$/);
    assert.deepEqual(Buffer.from(publicKeyFromNodeId(id.nodeId)), RFC_PUBLIC);
    assert.equal(id.shortId, id.nodeId.slice(0, 8));
    assert.equal(shortNodeId(id.nodeId), id.shortId);
  });

  it('derives the same identities from the same simulator seed', () => {
    const a = NodeIdentity.generate((n) => Rng.fromSeed(42).child('node-1').bytes(n));
    const b = NodeIdentity.generate((n) => Rng.fromSeed(42).child('node-1').bytes(n));
    const c = NodeIdentity.generate((n) => Rng.fromSeed(42).child('node-2').bytes(n));
    assert.equal(a.nodeId, b.nodeId);
    assert.notEqual(a.nodeId, c.nodeId);
  });

  it('round-trips through PEM, which is what the key file holds', () => {
    const id = NodeIdentity.generate();
    const pem = id.exportPrivateKeyPem();
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
    const back = NodeIdentity.fromPrivateKeyPem(pem);
    assert.equal(back.nodeId, id.nodeId);
    const data = Buffer.from('hello');
    assert.ok(verifySignature(id.nodeId, data, back.sign(data)));
  });

  it('refuses a PEM that is not an Ed25519 private key', () => {
    assert.throws(() => NodeIdentity.fromPrivateKeyPem('not a key'), { code: 'IDENTITY_INVALID' });
    assert.throws(() => NodeIdentity.fromSeed(new Uint8Array(31)), { code: 'IDENTITY_INVALID' });
  });

  it('never puts the private key in JSON', () => {
    const id = NodeIdentity.generate();
    assert.equal(JSON.stringify(id), JSON.stringify({ nodeId: id.nodeId }));
  });
});

describe('verifySignature', () => {
  const alice = NodeIdentity.generate();
  const bob = NodeIdentity.generate();
  const data = Buffer.from('state: alive, incarnation 3');
  const signature = alice.sign(data);

  it('accepts the signer and rejects everyone else', () => {
    assert.ok(verifySignature(alice.nodeId, data, signature));
    assert.equal(verifySignature(bob.nodeId, data, signature), false);
  });

  it('rejects altered data and altered signatures', () => {
    const altered = Buffer.from(data);
    altered[0]! ^= 1;
    assert.equal(verifySignature(alice.nodeId, altered, signature), false);
    const badSig = Buffer.from(signature);
    badSig[10]! ^= 0x80;
    assert.equal(verifySignature(alice.nodeId, data, badSig), false);
  });

  it('returns false, never throws, for malformed ids and signatures', () => {
    assert.equal(verifySignature('not-a-node-id', data, signature), false);
    assert.equal(verifySignature(alice.nodeId.toUpperCase(), data, signature), false);
    assert.equal(verifySignature(alice.nodeId, data, signature.subarray(0, 63)), false);
    assert.equal(verifySignature(alice.nodeId, data, new Uint8Array(64)), false);
  });
});

describe('node id helpers', () => {
  it('tells node ids from other strings', () => {
    const id = NodeIdentity.generate().nodeId;
    assert.ok(isNodeId(id));
    assert.equal(isNodeId(id.slice(1)), false);
    assert.equal(isNodeId(`${id.slice(0, 51)}1`), false);
    assert.equal(isNodeId(42), false);
    assert.throws(() => publicKeyFromNodeId('nope'), { code: 'IDENTITY_INVALID' });
    assert.throws(() => nodeIdFromPublicKey(new Uint8Array(31)), { code: 'IDENTITY_INVALID' });
  });

  it('validates node ids in decoded messages with a path', () => {
    const id = NodeIdentity.generate().nodeId;
    assert.equal(NodeIdValidator(id), id);
    assert.throws(() => NodeIdValidator('x', '$.from'), { code: 'DECODE_FAILED', message: /\$\.from/ });
  });
});
