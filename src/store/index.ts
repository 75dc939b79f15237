/**
 * The consistent store: an MVCC key/value store on raft that speaks the etcd v3 API.
 *
 * - {@link StoreClient} is etcd v3 as a TypeScript interface. Two implementations: the embedded
 *   {@link StoreServer} (one member of a raft group, in-process) and {@link EtcdClientStore} (the
 *   `etcd3` package pointed at any etcd, Cairn's or a real one), so the bricks above run on either.
 * - {@link serveEtcd} serves etcd's gRPC API for any `StoreClient`, so `etcdctl` and every etcd
 *   client work against Cairn; with root keys set, every call carries a capability token.
 * - {@link StoreError} carries etcd's error name, gRPC code and message.
 *
 * See DESIGN.md for the write path, reads, watches, leases and members.
 */
export type * from './api.js';
export { EtcdClientStore, type EtcdClientStoreOptions } from './client/etcd-client-store.js';
export { ETCD_ERRORS, type EtcdErrorName, GRPC, isStoreError, StoreError } from './errors.js';
export type { EtcdAuthOptions } from './etcd/auth.js';
export { DEFAULT_LIMITS as ETCD_API_LIMITS, type EtcdApiLimits } from './etcd/limits.js';
export { type EtcdServer, type ServeEtcdOptions, serveEtcd } from './etcd/server.js';
export { MvccStore } from './mvcc/index.js';
export { defaultEngines } from './server/engines.js';
export { DEFAULT_LIMITS, STORE_VERSION, type StoreServerLimits } from './server/limits.js';
export type { StoreEngines, StoreServerOptions } from './server/options.js';
export { StoreServer } from './server/store-server.js';
export { type SingleMemberOptions, startSingleMemberStore } from './server/testing.js';
