import type { Clock } from '../../core/clock.js';
import { withLimits } from '../../core/limits.js';
import type { Logger } from '../../core/log.js';
import type { StoreClient } from '../api.js';
import { type EtcdAuthOptions, EtcdAuthorizer } from './auth.js';
import { authService, clusterService } from './cluster-service.js';
import type { EtcdContext } from './context.js';
import { GrpcServer } from './grpc-server.js';
import { guardedService } from './grpc-service.js';
import { KV_CODECS, kvService } from './kv-service.js';
import { leaseService } from './lease-service.js';
import { DEFAULT_LIMITS, type EtcdApiLimits } from './limits.js';
import { maintenanceService } from './maintenance-service.js';
import { etcdPackageDefinition } from './proto.js';
import { encodeWatchOut, watchHandler } from './watch-stream.js';

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
  /** The clock of the server's timers (deadlines, stalls, idle and keep-alive); the system's by default. */
  readonly clock?: Clock;
}

/** A running etcd API server. */
export interface EtcdServer {
  /** The bound port. */
  readonly port: number;
  /** `host:port`, what etcdctl's `--endpoints` and etcd3's `hosts` take. */
  readonly endpoint: string;
  /**
   * Stops accepting, lets calls in flight finish for `closeGraceMs`, cancels what is left (open
   * watch and keep-alive streams) and resolves once every connection is closed.
   */
  close(): Promise<void>;
  /** Response bytes each open connection holds unsent (see `maxQueuedResponseBytesPerConnection`). */
  queuedResponseBytes(): number[];
}

/**
 * Serves etcd's v3 gRPC API (KV, Watch, Lease, Cluster, Maintenance, Auth.Authenticate) over a
 * {@link StoreClient}, so etcdctl, the `etcd3` package and other etcd clients work unchanged.
 *
 * Contract: every store error is answered with etcd's gRPC code and message; requests over
 * `maxRequestBytes` get `requestTooLarge` (and the gRPC layer refuses anything over that plus
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
  const server = new GrpcServer(
    {
      maxMessageBytes: limits.maxRequestBytes + limits.grpcOverheadBytes,
      maxStreamsPerConnection: limits.maxStreamsPerConnection,
      maxConnections: limits.maxConnections,
      maxHeaderListBytes: limits.maxHeaderListBytes,
      closeGraceMs: limits.closeGraceMs,
      maxQueuedResponseBytesPerConnection: limits.maxQueuedResponseBytesPerConnection,
      streamHighWaterBytes: limits.streamHighWaterBytes,
      maxBufferedRequestBytesPerConnection: limits.maxBufferedRequestBytesPerConnection,
      queuedResponseStallMs: limits.queuedResponseStallMs,
      requestArrivalMs: limits.requestArrivalMs,
      maxQueuedResponseBytes: limits.maxQueuedResponseBytes,
      maxBufferedRequestBytes: limits.maxBufferedRequestBytes,
      connectionShareBytes: limits.connectionShareBytes,
      idleConnectionMs: limits.idleConnectionMs,
      keepAliveIntervalMs: limits.keepAliveIntervalMs,
      keepAliveTimeoutMs: limits.keepAliveTimeoutMs,
    },
    options.clock,
    options.logger,
  );
  const decode = { maxRequestBytes: limits.maxRequestBytes, maxMessageDepth: limits.maxMessageDepth };
  const service = (name: string) => `etcdserverpb.${name}`;
  server.addService(service('KV'), guardedService('KV', decode, KV_CODECS), kvService(ctx));
  server.addService(service('Watch'), guardedService('Watch', decode, {}, { Watch: encodeWatchOut }), {
    Watch: watchHandler(ctx),
  });
  server.addService(service('Lease'), guardedService('Lease', decode), leaseService(ctx));
  server.addService(service('Cluster'), guardedService('Cluster', decode), clusterService(ctx));
  server.addService(service('Maintenance'), guardedService('Maintenance', decode), maintenanceService(ctx));
  const authMethods = Object.keys(etcdPackageDefinition()['etcdserverpb.Auth'] as object);
  server.addService(service('Auth'), guardedService('Auth', decode), authService(ctx, authMethods));
  const port = await server.listen(options.host, options.port);
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    port,
    endpoint: `${host}:${port}`,
    close: () => server.close(),
    queuedResponseBytes: () => server.queuedResponseBytes(),
  };
}
