import { type Validator, v } from '../../core/index.js';
import { defineMethod } from '../../rpc/index.js';
import { ETCD_ERRORS, type EtcdErrorName, StoreError } from '../errors.js';

/**
 * Calls a follower forwards to the leader, over the store's rpc channel (etcd forwards the same
 * three over its peer HTTP API): lease keep-alive and time-to-live, because only the leader's
 * lessor knows expiry times, and member promotion, because only the leader knows whether a
 * learner has caught up. An etcd error travels as its name in `err` (rpc errors carry Cairn codes
 * only); a name this member does not know becomes `unknown`-less `timeout` on the caller.
 */

const MAX_ID = Number.MAX_SAFE_INTEGER;
const id = v.uint({ max: MAX_ID });
const err = v.optional(v.string({ maxLength: 64 }));

/** Keys a forwarded time-to-live answer may list: bounds the reply (etcd lists them all). */
export const MAX_FORWARDED_LEASE_KEYS = 10_000;

export const LeaseKeepAlive = defineMethod(
  'store.leaseKeepAlive',
  v.object({ id }),
  v.object({ ttl: v.int({ min: -1, max: MAX_ID }), err }),
);

export const LeaseTimeToLive = defineMethod(
  'store.leaseTimeToLive',
  v.object({ id, keys: v.boolean() }),
  v.object({
    ttl: v.int({ min: -1, max: MAX_ID }),
    grantedTtl: v.int({ min: 0, max: MAX_ID }),
    keys: v.array(v.bytes({ maxLength: 2 * 1024 * 1024 }), { maxLength: MAX_FORWARDED_LEASE_KEYS }),
    err,
  }) as Validator<{ ttl: number; grantedTtl: number; keys: Uint8Array[]; err?: string }>,
);

export const MemberPromote = defineMethod('store.memberPromote', v.object({ id }), v.object({ err }));

/** The etcd error named by a forwarded answer's `err`, if any. */
export function forwardedError(name: string | undefined): StoreError | undefined {
  if (name === undefined) return undefined;
  return name in ETCD_ERRORS ? new StoreError(name as EtcdErrorName) : new StoreError('timeout');
}

/** The `err` field for a thrown error: its etcd name, or rethrows what is not an etcd error. */
export function errorName(error: unknown): { err: string } {
  if (error instanceof StoreError) return { err: error.etcd };
  throw error;
}
