import { createHash } from 'node:crypto';
import { bytesEqual } from '../core/bytes.js';
import { CairnError } from '../core/errors.js';
import { checkLimit } from '../core/limits.js';
import { type Validator, v } from '../core/validate.js';
import {
  type NodeId,
  type NodeIdentity,
  NodeIdValidator,
  publicKeyFromNodeId,
  SIGNATURE_BYTES,
  verifySignature,
} from './identity.js';
import { DEFAULT_LIMITS } from './limits.js';

/**
 * Signed records: a versioned payload signed by the node it describes.
 *
 * Membership state is made of these. The signer is the subject: a record names its node, and only
 * that node's key makes a valid signature, so a relaying peer can drop or delay a record but never
 * forge or alter one; every receiver checks it, whoever delivered it.
 *
 * Signed bytes: `"cairn-record-v1" | node public key (32) | version (u64 big-endian) | payload`.
 *
 * The version is the signer's, growing with each new record; a receiver keeps the highest version
 * it has verified, which is what stops an old record being replayed over a newer one. That
 * comparison belongs to the receiver's protocol.
 */

/** A payload with its signer, version and signature. */
export interface SignedRecord {
  /** The node that signed the record and that it describes. */
  readonly node: NodeId;
  /** The signer's version of the record: a safe integer >= 0. */
  readonly version: number;
  /** The signed bytes, opaque here. */
  readonly payload: Uint8Array;
  /** The 64-byte signature. */
  readonly signature: Uint8Array;
}

/**
 * How records are signed. {@link ed25519Scheme} is the default and the only secure one;
 * {@link simulatedScheme} exists for simulations too large for Ed25519.
 */
export interface SignatureScheme {
  /** A name for logs and simulation output. */
  readonly name: string;
  /** The 64-byte signature of `data` by `identity`. */
  sign(identity: NodeIdentity, data: Uint8Array): Uint8Array;
  /** True when `signature` is `nodeId`'s signature of `data`; never throws. */
  verify(nodeId: NodeId, data: Uint8Array, signature: Uint8Array): boolean;
}

/** Ed25519 through `node:crypto`: the scheme of every real node. */
export const ed25519Scheme: SignatureScheme = Object.freeze({
  name: 'ed25519',
  sign: (identity: NodeIdentity, data: Uint8Array) => identity.sign(data),
  verify: verifySignature,
});

function simulatedSignature(nodeId: NodeId, data: Uint8Array): Uint8Array {
  return createHash('sha512').update('cairn-simulated-signature-v1\0').update(nodeId).update(data).digest();
}

/**
 * INSECURE: a "signature" that is SHA-512 of the node id and the data, for the simulator only.
 *
 * Anyone can compute it for any node, so it proves nothing. It exists because a 10,000-node
 * simulation verifies millions of records, and Ed25519 (tens to a hundred microseconds per check)
 * would dominate the run, while this costs about a microsecond. It still catches the bugs a
 * simulation looks for: a record attributed to the wrong node, a payload or version changed after
 * signing. A simulation that tests forgery resistance must use {@link ed25519Scheme}.
 */
export const simulatedScheme: SignatureScheme = Object.freeze({
  name: 'simulated-insecure',
  sign: (identity: NodeIdentity, data: Uint8Array) => simulatedSignature(identity.nodeId, data),
  verify: (nodeId: NodeId, data: Uint8Array, signature: Uint8Array) =>
    signature.length === SIGNATURE_BYTES && bytesEqual(signature, simulatedSignature(nodeId, data)),
});

const TAG = Buffer.from('cairn-record-v1', 'latin1');

/**
 * The exact bytes a record's signature covers (see the module comment).
 *
 * @throws CairnError `IDENTITY_INVALID` for a malformed node id
 */
export function signedRecordBytes(node: NodeId, version: number, payload: Uint8Array): Uint8Array {
  const head = Buffer.allocUnsafe(TAG.length + 32 + 8);
  TAG.copy(head, 0);
  head.set(publicKeyFromNodeId(node), TAG.length);
  // u64 big-endian as two 32-bit halves; `>>> 0` keeps the low half of any safe integer.
  head.writeUInt32BE(Math.floor(version / 0x100000000), TAG.length + 32);
  head.writeUInt32BE(version >>> 0, TAG.length + 36);
  return Buffer.concat([head, payload]);
}

/**
 * Signs `payload` as `identity`'s record at `version`.
 *
 * @param scheme - default {@link ed25519Scheme}
 * @throws CairnError `INVALID_ARGUMENT` for a version that is not a safe integer >= 0,
 *   `LIMIT_EXCEEDED` for a payload over `maxRecordPayloadBytes`
 * @example
 * ```ts
 * const record = signRecord(identity, 7, encode(state));
 * verifyRecord(record); // true, on any node
 * ```
 */
export function signRecord(
  identity: NodeIdentity,
  version: number,
  payload: Uint8Array,
  scheme: SignatureScheme = ed25519Scheme,
): SignedRecord {
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new CairnError('INVALID_ARGUMENT', `a record version must be a safe integer >= 0, got ${version}`);
  }
  checkLimit(
    'maxRecordPayloadBytes',
    payload.length,
    DEFAULT_LIMITS.maxRecordPayloadBytes,
    'record payload size',
  );
  const signature = scheme.sign(identity, signedRecordBytes(identity.nodeId, version, payload));
  return { node: identity.nodeId, version, payload, signature };
}

/**
 * True when `record.signature` is `record.node`'s signature of the record. Never throws, whatever
 * the record holds.
 *
 * @param scheme - default {@link ed25519Scheme}; must match the signer's
 */
export function verifyRecord(record: SignedRecord, scheme: SignatureScheme = ed25519Scheme): boolean {
  if (!Number.isSafeInteger(record.version) || record.version < 0) return false;
  if (record.payload.length > DEFAULT_LIMITS.maxRecordPayloadBytes) return false;
  let bytes: Uint8Array;
  try {
    bytes = signedRecordBytes(record.node, record.version, record.payload);
  } catch {
    return false;
  }
  return scheme.verify(record.node, bytes, record.signature);
}

/**
 * Validates a decoded record, as `encode(record)` writes it (a map of `node`, `version`,
 * `payload`, `signature`). Checks shape and sizes only: call {@link verifyRecord} before trusting
 * the record.
 */
export const SignedRecordValidator: Validator<SignedRecord> = v.object({
  node: NodeIdValidator,
  version: v.uint(),
  payload: v.bytes({ maxLength: DEFAULT_LIMITS.maxRecordPayloadBytes }),
  signature: v.bytes({ minLength: SIGNATURE_BYTES, maxLength: SIGNATURE_BYTES }),
});
