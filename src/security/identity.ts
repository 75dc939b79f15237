import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { CairnError } from '../core/errors.js';
import { fail, type Validator } from '../core/validate.js';
import { base32Decode, base32Encode, base32Length, isCanonicalBase32 } from './base32.js';
import { DEFAULT_LIMITS } from './limits.js';
import { cryptoRandomBytes, type RandomBytes } from './random.js';

/**
 * Node identity: an Ed25519 key pair, and a {@link NodeId} that is the public key itself.
 *
 * Because the id *is* the key (base32 of the 32 raw public-key bytes), ids are self-certifying:
 * anyone holding a node id verifies what that node signed, with no key exchange and no trust in
 * whoever relayed the message, and nobody can claim an id without its private key.
 *
 * A node keeps its key in its data directory (`identity-file.ts`); the simulator derives
 * identities from its seed (`NodeIdentity.fromSeed(rng.bytes(32))`).
 */

/** A node id: the 52-character lower-case base32 (RFC 4648, no padding) of a raw Ed25519 public key. */
export type NodeId = string;

/** Bytes in a raw Ed25519 public key. */
export const PUBLIC_KEY_BYTES = 32;
/** Bytes in an Ed25519 seed (the private key). */
export const SEED_BYTES = 32;
/** Bytes in an Ed25519 signature. */
export const SIGNATURE_BYTES = 64;
/** Characters in a {@link NodeId}. */
export const NODE_ID_LENGTH = base32Length(PUBLIC_KEY_BYTES);
/** Characters in a {@link shortNodeId}. */
export const SHORT_ID_LENGTH = 8;

// DER headers that wrap a raw key: PKCS#8 for an Ed25519 seed, SPKI for a public key (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The node id of a raw 32-byte Ed25519 public key. @throws CairnError `IDENTITY_INVALID` */
export function nodeIdFromPublicKey(publicKey: Uint8Array): NodeId {
  if (publicKey.length !== PUBLIC_KEY_BYTES) {
    throw new CairnError('IDENTITY_INVALID', `an Ed25519 public key has 32 bytes, got ${publicKey.length}`);
  }
  return base32Encode(publicKey);
}

function decodeNodeId(id: string): Uint8Array | undefined {
  return id.length === NODE_ID_LENGTH ? base32Decode(id) : undefined;
}

/**
 * The raw public key that `id` names.
 *
 * @throws CairnError `IDENTITY_INVALID` when `id` is not 52 characters of canonical lower-case base32
 */
export function publicKeyFromNodeId(id: NodeId): Uint8Array {
  const key = decodeNodeId(id);
  if (key === undefined) {
    throw new CairnError(
      'IDENTITY_INVALID',
      `"${id.slice(0, 80)}" is not a node id (52 lower-case base32 characters of an Ed25519 public key)`,
    );
  }
  return key;
}

/** True when `value` is a well-formed node id. */
export function isNodeId(value: unknown): value is NodeId {
  return typeof value === 'string' && value.length === NODE_ID_LENGTH && isCanonicalBase32(value);
}

/**
 * The first 8 characters of a node id (40 bits), for logs, tables and default node names. Not
 * unique in general; never use it to look a node up.
 */
export function shortNodeId(id: NodeId): string {
  return id.slice(0, SHORT_ID_LENGTH);
}

/** Validates a node id in a decoded message. */
export const NodeIdValidator: Validator<NodeId> = (value, path = '$') => {
  if (!isNodeId(value)) fail(path, 'a node id (52 lower-case base32 characters)', value);
  return value;
};

/**
 * A node's key pair. The private key stays inside the object except through
 * {@link exportPrivateKeyPem}, which exists to persist it.
 *
 * @example
 * ```ts
 * const me = NodeIdentity.generate();
 * const sig = me.sign(data);
 * verifySignature(me.nodeId, data, sig); // true
 * ```
 */
export class NodeIdentity {
  /** This node's id: its public key in base32. */
  readonly nodeId: NodeId;
  /** {@link shortNodeId} of the id. */
  readonly shortId: string;
  /** The raw 32-byte public key. */
  readonly publicKey: Uint8Array;
  readonly #privateKey: KeyObject;

  private constructor(privateKey: KeyObject) {
    if (privateKey.asymmetricKeyType !== 'ed25519') {
      throw new CairnError(
        'IDENTITY_INVALID',
        `a node key must be Ed25519, got ${privateKey.asymmetricKeyType}`,
      );
    }
    this.#privateKey = privateKey;
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    this.publicKey = new Uint8Array(spki.subarray(SPKI_PREFIX.length));
    this.nodeId = nodeIdFromPublicKey(this.publicKey);
    this.shortId = shortNodeId(this.nodeId);
  }

  /**
   * A new identity.
   *
   * @param random - source of the 32-byte seed; default the OS CSPRNG
   */
  static generate(random: RandomBytes = cryptoRandomBytes): NodeIdentity {
    return NodeIdentity.fromSeed(random(SEED_BYTES));
  }

  /**
   * The identity whose private key is the 32-byte Ed25519 `seed` (RFC 8032). Deterministic: the
   * simulator passes `rng.bytes(32)` so that a run's node ids replay.
   *
   * @throws CairnError `IDENTITY_INVALID` for a seed that is not 32 bytes
   */
  static fromSeed(seed: Uint8Array): NodeIdentity {
    if (seed.length !== SEED_BYTES) {
      throw new CairnError('IDENTITY_INVALID', `an Ed25519 seed has 32 bytes, got ${seed.length}`);
    }
    const der = Buffer.concat([PKCS8_PREFIX, seed]);
    return new NodeIdentity(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
  }

  /**
   * The identity in a PEM `PRIVATE KEY` (PKCS#8) document, as {@link exportPrivateKeyPem} writes and
   * `openssl genpkey -algorithm ed25519` makes.
   *
   * @throws CairnError `IDENTITY_INVALID` when the text is not an Ed25519 private key
   */
  static fromPrivateKeyPem(pem: string): NodeIdentity {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: pem, format: 'pem' });
    } catch (err) {
      throw new CairnError('IDENTITY_INVALID', `not a PEM private key: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return new NodeIdentity(key);
  }

  /** The private key as PEM PKCS#8. Secret: write it only to a file of mode 0600. */
  exportPrivateKeyPem(): string {
    return this.#privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  }

  /**
   * The 64-byte Ed25519 signature of `data` (deterministic: same data, same signature).
   *
   * Contract: `data` is signed as is. Every Cairn format that signs starts its bytes with its own
   * tag (signed records start with `cairn-record-v1`), so a signature made for one format never
   * verifies as another; new callers must do the same.
   */
  sign(data: Uint8Array): Uint8Array {
    return sign(null, data, this.#privateKey);
  }

  /** Identities print as their node id; the private key never reaches a log. */
  toJSON(): { nodeId: NodeId } {
    return { nodeId: this.nodeId };
  }
}

// Parsing a public key into a KeyObject costs about as much as a verification, so parsed keys are
// kept per node id. Public keys only, so one map per process serves every node in it.
const publicKeys = new Map<string, KeyObject>();

/** The parsed public key of `id`, cached; `undefined` when `id` is not a node id. */
function publicKeyObject(id: string): KeyObject | undefined {
  const cached = publicKeys.get(id);
  if (cached !== undefined) {
    // Re-insert so that the map's order is least recently used first.
    publicKeys.delete(id);
    publicKeys.set(id, cached);
    return cached;
  }
  const raw = decodeNodeId(id);
  if (raw === undefined) return undefined;
  const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  publicKeys.set(id, key);
  if (publicKeys.size > DEFAULT_LIMITS.maxCachedPublicKeys)
    publicKeys.delete(publicKeys.keys().next().value!);
  return key;
}

/**
 * True when `signature` is `nodeId`'s Ed25519 signature of `data`. Never throws: a malformed id or
 * signature is `false`.
 */
export function verifySignature(nodeId: NodeId, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false;
  const key = publicKeyObject(nodeId);
  if (key === undefined) return false;
  try {
    return verify(null, data, key, signature);
  } catch {
    return false;
  }
}
