import type { DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from '../api.js';
import type { Access } from './auth.js';

/**
 * What each KV request does, as {@link Access}es for the authorizer: the operation and the keys
 * it touches. A txn touches the keys of its compares (read) and of every op of both branches
 * (the branch taken is not known before the compares run, so both must be allowed).
 */

/** The accesses of a Range. */
export function rangeAccess(r: RangeRequest): Access[] {
  return [{ op: 'store:read', key: r.key, rangeEnd: r.rangeEnd }];
}

/** The accesses of a Put (with prev_kv it reads too). */
export function putAccess(r: PutRequest): Access[] {
  const write: Access = { op: 'store:write', key: r.key };
  return r.prevKv === true ? [write, { op: 'store:read', key: r.key }] : [write];
}

/** The accesses of a DeleteRange (with prev_kv it reads too). */
export function deleteAccess(r: DeleteRangeRequest): Access[] {
  const write: Access = { op: 'store:write', key: r.key, rangeEnd: r.rangeEnd };
  return r.prevKv === true ? [write, { op: 'store:read', key: r.key, rangeEnd: r.rangeEnd }] : [write];
}

function opAccess(op: RequestOp): Access[] {
  if ('range' in op) return rangeAccess(op.range);
  if ('put' in op) return putAccess(op.put);
  if ('deleteRange' in op) return deleteAccess(op.deleteRange);
  return txnAccess(op.txn);
}

/** The accesses of a Txn, nested txns included. */
export function txnAccess(r: TxnRequest): Access[] {
  const out: Access[] = r.compare.map((c) => ({ op: 'store:read', key: c.key, rangeEnd: c.rangeEnd }));
  for (const op of [...r.success, ...r.failure]) out.push(...opAccess(op));
  return out;
}
