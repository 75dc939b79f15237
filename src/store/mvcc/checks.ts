import { compareBytes } from '../../core/index.js';
import type { DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from '../api.js';
import type { StoreCommand } from '../command.js';
import { StoreError } from '../errors.js';
import { keyString } from './layout.js';

/**
 * etcd's request checks made before a request is proposed (etcdserver/api/v3rpc/key.go): empty
 * keys, ignore_value/ignore_lease with a value/lease, too many txn ops, and puts that overlap
 * another put or a delete of the same txn branch. The store repeats them on apply, so a
 * proposer that skipped them still gets etcd's error, deterministically.
 */

/** The error etcd returns for `cmd` before touching the store, if any. */
export function checkCommand(cmd: StoreCommand, maxTxnOps: number): StoreError | undefined {
  switch (cmd.t) {
    case 'put':
      return checkPut(cmd.req);
    case 'del':
      return checkDelete(cmd.req);
    case 'txn':
      return (
        checkTxn(cmd.req, maxTxnOps) ??
        checkIntervals(cmd.req.success).error ??
        checkIntervals(cmd.req.failure).error
      );
    default:
      return undefined;
  }
}

export function checkRange(r: RangeRequest): StoreError | undefined {
  return r.key.length === 0 ? new StoreError('emptyKey') : undefined;
}

export function checkPut(r: PutRequest): StoreError | undefined {
  if (r.key.length === 0) return new StoreError('emptyKey');
  if (r.ignoreValue && r.value.length !== 0) return new StoreError('valueProvided');
  if (r.ignoreLease && (r.lease ?? 0) !== 0) return new StoreError('leaseProvided');
  return undefined;
}

export function checkDelete(r: DeleteRangeRequest): StoreError | undefined {
  return r.key.length === 0 ? new StoreError('emptyKey') : undefined;
}

/** etcd's checkTxnRequest: the op count against `maxTxnOps`, recursively, then empty keys. */
export function checkTxn(r: TxnRequest, maxTxnOps: number): StoreError | undefined {
  const opc = Math.max(r.compare.length, r.success.length, r.failure.length);
  if (opc > maxTxnOps) return new StoreError('tooManyOps');
  for (const c of r.compare) if (c.key.length === 0) return new StoreError('emptyKey');
  for (const op of [...r.success, ...r.failure]) {
    const err = checkOp(op, maxTxnOps - opc);
    if (err !== undefined) return err;
  }
  return undefined;
}

function checkOp(op: RequestOp, maxTxnOps: number): StoreError | undefined {
  if ('range' in op) return checkRange(op.range);
  if ('put' in op) return checkPut(op.put);
  if ('deleteRange' in op) return checkDelete(op.deleteRange);
  return checkTxn(op.txn, maxTxnOps);
}

/** A delete's interval as etcd's adt sees it: [key, end) with `end` compared as bytes. */
interface Interval {
  readonly start: Uint8Array;
  /** undefined: the single key. */
  readonly end: Uint8Array | undefined;
}

function intersects(dels: readonly Interval[], k: Uint8Array): boolean {
  for (const d of dels) {
    if (d.end === undefined) {
      if (compareBytes(d.start, k) === 0) return true;
    } else if (compareBytes(d.start, k) <= 0 && compareBytes(k, d.end) < 0) {
      return true;
    }
  }
  return false;
}

/**
 * etcd's checkIntervals: within one op list (and the branches of its nested txns), no key is put
 * twice and no put falls in a deleted range. Puts in the two branches of one nested txn may
 * repeat a key (only one branch runs). A `rangeEnd` of `\0` is compared literally, as etcd's
 * interval tree does, so a from-key delete only conflicts with puts of keys below `\0`.
 */
export function checkIntervals(reqs: readonly RequestOp[]): {
  puts: Map<string, Uint8Array>;
  dels: Interval[];
  error?: StoreError;
} {
  const dels: Interval[] = [];
  for (const op of reqs) {
    if (!('deleteRange' in op)) continue;
    const d = op.deleteRange;
    const end = d.rangeEnd !== undefined && d.rangeEnd.length > 0 ? d.rangeEnd : undefined;
    dels.push({ start: d.key, end });
  }
  const puts = new Map<string, Uint8Array>();
  const dup = () => ({ puts, dels, error: new StoreError('duplicateKey') });
  for (const op of reqs) {
    if (!('txn' in op)) continue;
    const then = checkIntervals(op.txn.success);
    if (then.error) return { puts, dels, error: then.error };
    const otherwise = checkIntervals(op.txn.failure);
    if (otherwise.error) return { puts, dels, error: otherwise.error };
    for (const [k, key] of then.puts) {
      if (puts.has(k) || intersects(dels, key)) return dup();
      puts.set(k, key);
    }
    for (const [k, key] of otherwise.puts) {
      if (puts.has(k) && !then.puts.has(k)) return dup();
      if (intersects(dels, key)) return dup();
      puts.set(k, key);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const op of reqs) {
    if (!('put' in op)) continue;
    const k = keyString(op.put.key);
    if (puts.has(k) || intersects(dels, op.put.key)) return dup();
    puts.set(k, op.put.key);
  }
  return { puts, dels };
}

/** True when the txn writes nothing (every op, recursively, is a range). */
export function isReadOnlyTxn(r: TxnRequest): boolean {
  const ro = (op: RequestOp): boolean => 'range' in op || ('txn' in op && isReadOnlyTxn(op.txn));
  return r.success.every(ro) && r.failure.every(ro);
}
