import type { RequestOp, TxnRequest } from '../api.js';

/** True when a txn (or a txn nested in it) may write: it has a put or a delete in either branch. */
export function hasWrites(req: TxnRequest): boolean {
  const opWrites = (op: RequestOp): boolean =>
    'put' in op || 'deleteRange' in op || ('txn' in op && hasWrites(op.txn));
  return req.success.some(opWrites) || req.failure.some(opWrites);
}

/** True when every range of a read-only txn (nested ones too) asks for a serializable read (etcd's isTxnSerializable). */
export function allSerializable(req: TxnRequest): boolean {
  const serializable = (op: RequestOp): boolean =>
    'range' in op ? op.range.serializable === true : 'txn' in op ? allSerializable(op.txn) : false;
  return req.success.every(serializable) && req.failure.every(serializable);
}
