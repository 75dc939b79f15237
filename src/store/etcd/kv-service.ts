import type { PutRequest, PutResponse, RangeRequest, RangeResponse, RequestOp, TxnRequest } from '../api.js';
import { deleteAccess, putAccess, rangeAccess, txnAccess } from './access.js';
import { type EtcdContext, guard, requireKey } from './context.js';
import {
  deleteRangeRequestFromProto,
  deleteRangeResponseToProto,
  headerToProto,
  type Proto,
  txnRequestFromProto,
  txnResponseToProto,
} from './convert.js';
import type { MethodHandler } from './grpc-call.js';
import { type FastCodec, unary } from './grpc-service.js';
import { int64 } from './int64.js';
import { decodePutRequest, decodeRangeRequest, encodePutResponse, encodeRangeResponse } from './kv-codec.js';

/** etcd checks every op of a txn (both branches, nested ones too) for an empty key. */
function checkTxnKeys(t: TxnRequest): void {
  const check = (op: RequestOp): void => {
    if ('range' in op) requireKey(op.range.key);
    else if ('put' in op) requireKey(op.put.key);
    else if ('deleteRange' in op) requireKey(op.deleteRange.key);
    else checkTxnKeys(op.txn);
  };
  t.success.forEach(check);
  t.failure.forEach(check);
}

/**
 * The KV methods whose requests and responses go through kv-codec.ts (the hot ones): their
 * handlers below take and return the store's types. Pass to `guardedService('KV', ..., ...)`.
 */
export const KV_CODECS: Readonly<Record<string, FastCodec>> = {
  Range: { decode: decodeRangeRequest, encode: encodeRangeResponse },
  Put: { decode: decodePutRequest, encode: encodePutResponse },
};

/** etcdserverpb.KV: Range, Put, DeleteRange, Txn, Compact over the store. */
export function kvService(ctx: EtcdContext): Record<string, MethodHandler> {
  return {
    // Not async: the store's promise goes to the call as it is (an async wrapper would add a
    // promise and its microtasks per call); `unary` answers what these throw as a rejection.
    Range: unary<RangeRequest, RangeResponse>((r, call, signal) => {
      requireKey(r.key);
      guard(ctx, call.metadata, rangeAccess(r));
      return ctx.store.range(r, { signal });
    }),
    Put: unary<PutRequest, PutResponse>((r, call, signal) => {
      requireKey(r.key);
      guard(ctx, call.metadata, putAccess(r));
      return ctx.store.put(r, { signal });
    }),
    DeleteRange: unary(async (req, call, signal) => {
      const r = deleteRangeRequestFromProto(req);
      requireKey(r.key);
      guard(ctx, call.metadata, deleteAccess(r));
      return deleteRangeResponseToProto(await ctx.store.deleteRange(r, { signal }));
    }),
    Txn: unary(async (req, call, signal) => {
      const r = txnRequestFromProto(req, ctx.limits.maxTxnOps, ctx.limits.maxTxnDepth);
      checkTxnKeys(r);
      guard(ctx, call.metadata, txnAccess(r));
      return txnResponseToProto(await ctx.store.txn(r, { signal }));
    }),
    Compact: unary(async (req: Proto, call, signal) => {
      const revision = int64(req.revision, 'revision');
      guard(ctx, call.metadata, [{ op: 'store:admin', keyless: true }]);
      const res = await ctx.store.compact({ revision, physical: req.physical === true }, { signal });
      return { header: headerToProto(res.header) };
    }),
  };
}
