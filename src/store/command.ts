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
 * Encodes a command and its request id for a raft entry (MessagePack `[requestId, command]`).
 *
 * @example
 * ```ts
 * const data = encodeCommand(7, { t: 'put', req: { key: utf8('a'), value: utf8('1') } });
 * ```
 */
export function encodeCommand(requestId: number, cmd: StoreCommand): Uint8Array {
  return encode([requestId, cmd]);
}

/**
 * Decodes and validates a raft entry's command. Byte fields of the result may be views of
 * `bytes` (the store copies what it keeps). Input is hostile: sizes, types, integer ranges
 * and txn nesting are checked before anything is used.
 *
 * @throws StoreError `invalidArgument` (with the first bad field as detail) for any malformed input
 */
export function decodeCommand(bytes: Uint8Array): { requestId: number; cmd: StoreCommand } {
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
