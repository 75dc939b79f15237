import type { Logger } from '../../core/log.js';
import type { StoreClient } from '../api.js';
import { StoreError } from '../errors.js';
import type { Access, EtcdAuthorizer } from './auth.js';
import { type CallMetadata, callToken } from './grpc-service.js';
import type { EtcdApiLimits } from './limits.js';

/** What every etcd service handler shares: the store, the authorizer, limits and counters. */
export interface EtcdContext {
  readonly store: StoreClient;
  /** Absent: no credentials needed (loopback `cairn dev`). */
  readonly auth: EtcdAuthorizer | undefined;
  readonly limits: EtcdApiLimits;
  readonly logger: Logger | undefined;
  /** Open Watch streams. */
  watchStreams: number;
  /** Open LeaseKeepAlive streams. */
  keepAliveStreams: number;
}

/** Checks a call's token when the server requires one. @throws StoreError */
export function guard(ctx: EtcdContext, metadata: CallMetadata, accesses: readonly Access[]): void {
  ctx.auth?.authorize(callToken(metadata), accesses);
}

/** etcd refuses an empty key on every KV call. */
export function requireKey(key: Uint8Array): void {
  if (key.length === 0) throw new StoreError('emptyKey');
}
