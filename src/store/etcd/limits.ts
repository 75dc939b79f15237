/**
 * Limits of the etcd v3 gRPC front end.
 *
 * Each bounds what one client can make a node hold or do. Override them per server with a
 * `Partial<EtcdApiLimits>` in `serveEtcd({ limits })`; they are merged with core's `withLimits`,
 * which rejects unknown names and non-positive values.
 */
export const DEFAULT_LIMITS = Object.freeze({
  /**
   * Largest request in bytes, etcd's `--max-request-bytes` default (1.5 MiB): a request over it
   * answers etcd's `requestTooLarge`, as etcd does, so one write cannot stall raft replication.
   */
  maxRequestBytes: 1.5 * 1024 * 1024,
  /**
   * Bytes grpc may receive above maxRequestBytes (etcd's grpcOverheadBytes, 512 KiB): requests
   * between the two get etcd's own error rather than grpc's, and bigger ones are refused by grpc
   * before they are buffered whole.
   */
  grpcOverheadBytes: 512 * 1024,
  /** Concurrent gRPC streams one client connection may open (HTTP/2 max concurrent streams). */
  maxStreamsPerConnection: 1024,
  /** Watches one Watch stream may hold at once; a create over it is answered canceled. */
  maxWatchesPerStream: 1024,
  /** Watch streams the whole server holds at once: each costs store-side watch state. */
  maxWatchStreams: 4096,
  /** Lease keep-alive streams the whole server holds at once. */
  maxKeepAliveStreams: 4096,
  /** Keep-alives one stream may have in flight against the store: more are refused as too many. */
  maxKeepAlivesInFlight: 64,
  /** Operations in one txn, etcd's `--max-txn-ops` default (128). */
  maxTxnOps: 128,
  /** Nesting depth of txns inside txns: bounds recursion in validation and authorisation. */
  maxTxnDepth: 8,
  /** Nesting depth of protobuf messages the unknown-field scan follows (etcd's deepest is ~6). */
  maxMessageDepth: 32,
  /**
   * Bytes of watch responses a stream may have queued in grpc before the store's watch is
   * paused; the store catches it up when grpc drains (a slow watcher never grows memory).
   */
  maxWatchBufferedBytes: 4 * 1024 * 1024,
});

/** The etcd front end's limits; see {@link DEFAULT_LIMITS}. */
export type EtcdApiLimits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };
