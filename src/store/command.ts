import { type CairnError, decode, encode, fail, isCairnError, type Validator, v } from '../core/index.js';
import type { Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from './api.js';
import { StoreError } from './errors.js';

/**
 * What one raft entry of the store carries: a client write, a compaction, a lease change, or
 * member metadata. Every replica applies the same commands in the same order, so each must be
 * deterministic given the store's state; the `requestId` lets the proposer match the applied
 * result to its waiting client.
 */
export type StoreCommand =
  | { readonly t: 'put'; readonly req: PutRequest }
  | { readonly t: 'del'; readonly req: DeleteRangeRequest }
  | { readonly t: 'txn'; readonly req: TxnRequest }
  | { readonly t: 'compact'; readonly revision: number }
  /** `id` 0 lets the store choose (deterministically, from the raft index). */
  | { readonly t: 'leaseGrant'; readonly id: number; readonly ttl: number }
  | { readonly t: 'leaseRevoke'; readonly id: number }
  | {
      readonly t: 'leaseCheckpoint';
      readonly checkpoints: readonly { readonly id: number; readonly remainingTtl: number }[];
    }
  /** Member metadata: opaque bytes owned by the server glue; the store keeps the latest. */
  | { readonly t: 'member'; readonly data: Uint8Array };

/** Limits of command decoding. */
export const COMMAND_LIMITS = Object.freeze({
  /** Bytes of one encoded command: etcd's 1.5 MiB request limit plus framing. */
  maxCommandBytes: 2 * 1024 * 1024,
  /** Bytes of a key or range end: the whole request limit (etcd has no separate key bound). */
  maxKeyBytes: 1536 * 1024,
  /** Bytes of a value: the whole request limit. */
  maxValueBytes: 1536 * 1024,
  /**
   * Items in one compare/success/failure list as decoded: a bound on hostile input well above
   * etcd's 128 (`maxTxnOps`, refused later with etcd's tooManyOps, not here).
   */
  maxDecodedOps: 10_000,
  /** Nesting depth of txns in a txn: deeper input is refused before it can exhaust the stack. */
  maxTxnDepth: 8,
  /** Checkpoints in one leaseCheckpoint command: etcd's maxLeaseCheckpointBatchSize. */
  maxCheckpoints: 1000,
  /** Bytes of member metadata. */
  maxMemberBytes: 64 * 1024,
});

/** Largest revision, lease id or version accepted: 2^53 - 1 (see api.ts). */
const MAX_INT = Number.MAX_SAFE_INTEGER;

const key = v.bytes({ maxLength: COMMAND_LIMITS.maxKeyBytes });
const optKey = v.optional(key);
const optBool = v.optional(v.boolean());
const optUint = v.optional(v.uint({ max: MAX_INT }));

const rangeV = v.object({
  key,
  rangeEnd: optKey,
  limit: optUint,
  revision: optUint,
  sortOrder: v.optional(v.oneOf(['none', 'ascend', 'descend'])),
  sortTarget: v.optional(v.oneOf(['key', 'version', 'create', 'mod', 'value'])),
  serializable: optBool,
  keysOnly: optBool,
  countOnly: optBool,
  minModRevision: optUint,
  maxModRevision: optUint,
  minCreateRevision: optUint,
  maxCreateRevision: optUint,
}) as Validator<RangeRequest>;

const putV = v.object({
  key,
  value: v.bytes({ maxLength: COMMAND_LIMITS.maxValueBytes }),
  lease: optUint,
  prevKv: optBool,
  ignoreValue: optBool,
  ignoreLease: optBool,
}) as Validator<PutRequest>;

const delV = v.object({ key, rangeEnd: optKey, prevKv: optBool }) as Validator<DeleteRangeRequest>;

const compareValue: Validator<number | Uint8Array> = (value, path = '$') => {
  if (value instanceof Uint8Array) return key(value, path);
  return v.int({ min: -MAX_INT, max: MAX_INT })(value, path);
};

const compareV = v.object({
  key,
  rangeEnd: optKey,
  target: v.oneOf(['version', 'create', 'mod', 'value', 'lease']),
  result: v.oneOf(['equal', 'greater', 'less', 'notEqual']),
  value: compareValue,
}) as Validator<Compare>;

const compares = v.array(compareV, { maxLength: COMMAND_LIMITS.maxDecodedOps });

function txnV(depth: number): Validator<TxnRequest> {
  return (value, path = '$') => {
    if (depth > COMMAND_LIMITS.maxTxnDepth)
      fail(path, `txns nested at most ${COMMAND_LIMITS.maxTxnDepth} deep`, value);
    const ops = v.array(opV(depth), { maxLength: COMMAND_LIMITS.maxDecodedOps });
    const shape = v.object({ compare: compares, success: ops, failure: ops });
    return shape(value, path) as TxnRequest;
  };
}

function opV(depth: number): Validator<RequestOp> {
  return (value, path = '$') => {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      fail(path, 'an operation', value);
    const o = value as Record<string, unknown>;
    const present = ['range', 'put', 'deleteRange', 'txn'].filter((k) => o[k] !== undefined);
    if (present.length !== 1) fail(path, 'exactly one of range, put, deleteRange, txn', value);
    switch (present[0]) {
      case 'range':
        return { range: rangeV(o.range, `${path}.range`) };
      case 'put':
        return { put: putV(o.put, `${path}.put`) };
      case 'deleteRange':
        return { deleteRange: delV(o.deleteRange, `${path}.deleteRange`) };
      default:
        return { txn: txnV(depth + 1)(o.txn, `${path}.txn`) };
    }
  };
}

const leaseId = v.uint({ max: MAX_INT });

const commandV = v.tagged('t', {
  put: v.object({ t: v.literal('put'), req: putV }),
  del: v.object({ t: v.literal('del'), req: delV }),
  txn: v.object({ t: v.literal('txn'), req: txnV(1) }),
  compact: v.object({ t: v.literal('compact'), revision: v.uint({ max: MAX_INT }) }),
  leaseGrant: v.object({
    t: v.literal('leaseGrant'),
    id: leaseId,
    ttl: v.int({ min: -MAX_INT, max: MAX_INT }),
  }),
  leaseRevoke: v.object({ t: v.literal('leaseRevoke'), id: leaseId }),
  leaseCheckpoint: v.object({
    t: v.literal('leaseCheckpoint'),
    checkpoints: v.array(v.object({ id: leaseId, remainingTtl: v.uint({ max: MAX_INT }) }), {
      maxLength: COMMAND_LIMITS.maxCheckpoints,
    }),
  }),
  member: v.object({ t: v.literal('member'), data: v.bytes({ maxLength: COMMAND_LIMITS.maxMemberBytes }) }),
}) as Validator<StoreCommand>;

const envelopeV = v.tuple(v.uint({ max: MAX_INT }), v.unknown());

/**
 * The put command, the hot path of every write, has a hand-written binary layout: MessagePack
 * with its generic validator cost more per put than everything else in the command's life but the
 * storage write. Big-endian:
 *
 * ```
 * put   = 0x01 requestId:f64 flags:u8 lease:f64 keyLen:u32 key value      (value: the bytes left)
 * flags = LEASE 1 | PREV_KV 2 | PREV_KV_TRUE 4 | IGNORE_VALUE 8 | IGNORE_VALUE_TRUE 16
 *         | IGNORE_LEASE 32 | IGNORE_LEASE_TRUE 64           (a field's bit: present; its _TRUE bit: true)
 * ```
 *
 * Every other command is MessagePack `[requestId, command]`, whose first byte (a 2-array, 0x92)
 * never is 0x01. No compatibility with entries written in an earlier layout: the store is
 * pre-release.
 */
const PUT_TAG = 0x01;
const HAS_LEASE = 1;
const PREV_KV = 2;
const PREV_KV_TRUE = 4;
const IGNORE_VALUE = 8;
const IGNORE_VALUE_TRUE = 16;
const IGNORE_LEASE = 32;
const IGNORE_LEASE_TRUE = 64;
/** Bytes of a put command without key and value: tag, request id, flags, lease, key length. */
const PUT_FIXED = 1 + 8 + 1 + 8 + 4;

/** A field's two flag bits: `set` when present, `set | trueBit` when true. */
function boolFlags(value: boolean | undefined, set: number, trueBit: number): number {
  return value === undefined ? 0 : value ? set | trueBit : set;
}

function encodePut(requestId: number, req: PutRequest): Uint8Array {
  // Buffer.allocUnsafe takes small buffers from Node's pool: cheaper than a Uint8Array of its own.
  const out = Buffer.allocUnsafe(PUT_FIXED + req.key.length + req.value.length);
  out[0] = PUT_TAG;
  out.writeDoubleBE(requestId, 1);
  out[9] =
    (req.lease === undefined ? 0 : HAS_LEASE) |
    boolFlags(req.prevKv, PREV_KV, PREV_KV_TRUE) |
    boolFlags(req.ignoreValue, IGNORE_VALUE, IGNORE_VALUE_TRUE) |
    boolFlags(req.ignoreLease, IGNORE_LEASE, IGNORE_LEASE_TRUE);
  out.writeDoubleBE(req.lease ?? 0, 10);
  out.writeUInt32BE(req.key.length, 18);
  out.set(req.key, PUT_FIXED);
  out.set(req.value, PUT_FIXED + req.key.length);
  return out;
}

/** A safe integer in [0, MAX_INT], or the refusal naming `what`. */
function safeUint(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw bad(`${what} is not an integer in [0, 2^53)`);
  return n;
}

function bad(message: string): StoreError {
  return new StoreError('invalidArgument', `malformed put command: ${message}`);
}

/** A boolean field from its two flag bits: absent, false or true (a true bit alone is refused). */
function boolField(flags: number, set: number, trueBit: number, what: string): boolean | undefined {
  if ((flags & set) === 0) {
    if ((flags & trueBit) !== 0) throw bad(`${what} is true but absent`);
    return undefined;
  }
  return (flags & trueBit) !== 0;
}

function decodePut(bytes: Uint8Array): { requestId: number; cmd: StoreCommand } {
  if (bytes.length < PUT_FIXED) throw bad(`${bytes.length} bytes, fewer than the ${PUT_FIXED} of its header`);
  if (bytes.length > COMMAND_LIMITS.maxCommandBytes)
    throw bad(`${bytes.length} bytes, over maxCommandBytes=${COMMAND_LIMITS.maxCommandBytes}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const requestId = safeUint(view.getFloat64(1), 'the request id');
  const flags = bytes[9]!;
  if (flags > 127) throw bad(`unknown flag bits in ${flags}`);
  const lease = safeUint(view.getFloat64(10), 'the lease');
  if ((flags & HAS_LEASE) === 0 && lease !== 0) throw bad('a lease without its flag');
  const keyLen = view.getUint32(18);
  if (keyLen > COMMAND_LIMITS.maxKeyBytes) throw bad(`a key of ${keyLen} bytes, over maxKeyBytes`);
  if (keyLen > bytes.length - PUT_FIXED) throw bad(`a key of ${keyLen} bytes, past the end`);
  const valueLen = bytes.length - PUT_FIXED - keyLen;
  if (valueLen > COMMAND_LIMITS.maxValueBytes) throw bad(`a value of ${valueLen} bytes, over maxValueBytes`);
  const req: { -readonly [K in keyof PutRequest]: PutRequest[K] } = {
    key: bytes.subarray(PUT_FIXED, PUT_FIXED + keyLen),
    value: bytes.subarray(PUT_FIXED + keyLen),
  };
  if ((flags & HAS_LEASE) !== 0) req.lease = lease;
  const prevKv = boolField(flags, PREV_KV, PREV_KV_TRUE, 'prevKv');
  if (prevKv !== undefined) req.prevKv = prevKv;
  const ignoreValue = boolField(flags, IGNORE_VALUE, IGNORE_VALUE_TRUE, 'ignoreValue');
  if (ignoreValue !== undefined) req.ignoreValue = ignoreValue;
  const ignoreLease = boolField(flags, IGNORE_LEASE, IGNORE_LEASE_TRUE, 'ignoreLease');
  if (ignoreLease !== undefined) req.ignoreLease = ignoreLease;
  return { requestId, cmd: { t: 'put', req } };
}

/**
 * Encodes a command and its request id for a raft entry: a put in its binary layout (above),
 * anything else as MessagePack `[requestId, command]`.
 *
 * @example
 * ```ts
 * const data = encodeCommand(7, { t: 'put', req: { key: utf8('a'), value: utf8('1') } });
 * ```
 */
export function encodeCommand(requestId: number, cmd: StoreCommand): Uint8Array {
  if (cmd.t === 'put') return encodePut(requestId, cmd.req);
  return encode([requestId, cmd]);
}

/**
 * Decodes and validates a raft entry's command. Byte fields of the result may be views of
 * `bytes` (the store copies what it keeps). Input is hostile: sizes, types, integer ranges,
 * flag bits and txn nesting are checked before anything is used.
 *
 * @throws StoreError `invalidArgument` (with the first bad field as detail) for any malformed input
 */
export function decodeCommand(bytes: Uint8Array): { requestId: number; cmd: StoreCommand } {
  if (bytes.length > 0 && bytes[0] === PUT_TAG) return decodePut(bytes);
  try {
    const [requestId, raw] = decode(bytes, envelopeV, COMMAND_LIMITS.maxCommandBytes);
    return { requestId, cmd: commandV(raw, '$.cmd') };
  } catch (err) {
    if (isCairnError(err, 'DECODE_FAILED') || isCairnError(err, 'LIMIT_EXCEEDED')) {
      throw new StoreError('invalidArgument', (err as CairnError).message, { cause: err });
    }
    throw err;
  }
}
