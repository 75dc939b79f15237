import * as grpc from '@grpc/grpc-js';
import { withLimits } from '../../core/limits.js';
import type { Logger } from '../../core/log.js';
import type { StoreClient } from '../api.js';
import { type EtcdAuthOptions, EtcdAuthorizer } from './auth.js';
import { authService, clusterService } from './cluster-service.js';
import type { EtcdContext } from './context.js';
import { guardedService } from './grpc-service.js';
import { KV_CODECS, kvService } from './kv-service.js';
import { leaseService } from './lease-service.js';
import { DEFAULT_LIMITS, type EtcdApiLimits } from './limits.js';
import { maintenanceService } from './maintenance-service.js';
import { etcdPackageDefinition } from './proto.js';
import { watchHandler } from './watch-stream.js';

/** Options of {@link serveEtcd}. */
export interface ServeEtcdOptions {
  /** The store every call goes to. */
  readonly store: StoreClient;
  /** Address to bind; a loopback address with no `auth` is `cairn dev`'s setup. */
  readonly host: string;
  /** Port to bind; 0 picks a free one (read it from the result). */
  readonly port: number;
  /**
   * Require a capability token on every call (see auth.ts). Absent: no credentials needed,
   * which is only right on loopback.
   */
  readonly auth?: EtcdAuthOptions;
  /** Overrides of {@link DEFAULT_LIMITS}. */
  readonly limits?: Partial<EtcdApiLimits>;
  readonly logger?: Logger;
}

/** A running etcd API server. */
export interface EtcdServer {
  /** The bound port. */
  readonly port: number;
  /** `host:port`, what etcdctl's `--endpoints` and etcd3's `hosts` take. */
  readonly endpoint: string;
  /** Stops accepting, cancels open streams and waits for the server to stop. */
  close(): Promise<void>;
}

/**
 * Serves etcd's v3 gRPC API (KV, Watch, Lease, Cluster, Maintenance, Auth.Authenticate) over a
 * {@link StoreClient}, so etcdctl, the `etcd3` package and other etcd clients work unchanged.
 *
 * Contract: every store error is answered with etcd's gRPC code and message; requests over
 * `maxRequestBytes` get `requestTooLarge` (and grpc refuses anything over that plus
 * `grpcOverheadBytes` before buffering it); unknown fields get INVALID_ARGUMENT naming the
 * field; malformed bytes get grpc's unmarshalling error. No input throws out of a handler.
 *
 * @example
 * ```ts
 * const server = await serveEtcd({ store, host: '127.0.0.1', port: 2379 });
 * // ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:2379 put a 1
 * await server.close();
 * ```
 */
export async function serveEtcd(options: ServeEtcdOptions): Promise<EtcdServer> {
  const limits = withLimits(DEFAULT_LIMITS, options.limits) as EtcdApiLimits;
  const ctx: EtcdContext = {
    store: options.store,
    auth: options.auth === undefined ? undefined : new EtcdAuthorizer(options.auth),
    limits,
    logger: options.logger,
    watchStreams: 0,
    keepAliveStreams: 0,
  };
  const server = new grpc.Server({
    'grpc.max_receive_message_length': limits.maxRequestBytes + limits.grpcOverheadBytes,
    'grpc.max_send_message_length': -1,
    'grpc.max_concurrent_streams': limits.maxStreamsPerConnection,
  });
  const decode = { maxRequestBytes: limits.maxRequestBytes, maxMessageDepth: limits.maxMessageDepth };
  server.addService(guardedService('KV', decode, KV_CODECS), kvService(ctx));
  server.addService(guardedService('Watch', decode), { Watch: watchHandler(ctx) });
  server.addService(guardedService('Lease', decode), leaseService(ctx));
  server.addService(guardedService('Cluster', decode), clusterService(ctx));
  server.addService(guardedService('Maintenance', decode), maintenanceService(ctx));
  const authMethods = Object.keys(etcdPackageDefinition()['etcdserverpb.Auth'] as object);
  server.addService(guardedService('Auth', decode), authService(ctx, authMethods));
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${options.host}:${options.port}`,
      grpc.ServerCredentials.createInsecure(),
      (err, bound) => (err ? reject(err) : resolve(bound)),
    );
  });
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    port,
    endpoint: `${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}
