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
   * Bytes gRPC may receive above maxRequestBytes (etcd's grpcOverheadBytes, 512 KiB): requests
   * between the two get etcd's own error rather than gRPC's RESOURCE_EXHAUSTED, and bigger ones
   * are refused from their length prefix, before their body is buffered.
   */
  grpcOverheadBytes: 512 * 1024,
  /** Concurrent gRPC streams one client connection may open (HTTP/2 max concurrent streams). */
  maxStreamsPerConnection: 1024,
  /**
   * Client connections the server holds at once; a new one over it is closed at once. Each costs
   * a socket, an HTTP/2 session and its buffers; etcd clients use one or a few per process.
   */
  maxConnections: 4096,
  /**
   * Bytes of header fields one request may carry (HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE; a stream
   * over it is reset): gRPC's own headers and an etcd token take well under 1 KiB, a capability
   * token a few KiB.
   */
  maxHeaderListBytes: 64 * 1024,
  /**
   * How long `close()` lets calls in flight finish after sending GOAWAY before it cuts the
   * connections (open watch and keep-alive streams never finish by themselves).
   */
  closeGraceMs: 250,
  /**
   * Response bytes one connection may hold unsent (written by its calls, not yet taken by the
   * socket) before new calls on it are refused with RESOURCE_EXHAUSTED and its streams stop
   * producing: without it a client opening maxStreamsPerConnection large ranges and reading none
   * makes the node queue them all. 32 MiB is many times what a client that reads holds (a
   * flow-control window and a few responses in flight) and 16 maximal messages
   * (maxRequestBytes + grpcOverheadBytes); a single response larger than this (etcdctl `get
   * --prefix` of a large store) is still sent when it is the connection's only queued one.
   */
  maxQueuedResponseBytesPerConnection: 32 * 1024 * 1024,
  /**
   * Response bytes one streaming call (a watch) queues unsent before it pauses and, for a watch,
   * falls back to catching up from storage: a client whose flow-control window is spent for a
   * moment (its event loop busy) rides that out below this mark. etcd holds about as much per
   * watch stream (grpc-go's 64 KiB write quota and 128 queued responses); Node's 16 KiB paused
   * a watch at 4,500 events/s several times in 8 s and cost it 200 ms each time. Bounded per
   * connection by maxQueuedResponseBytesPerConnection.
   */
  streamHighWaterBytes: 256 * 1024,
  /**
   * Request bytes one connection's calls may hold at once: messages arriving in pieces and unary
   * requests whose client has not half-closed. Each call is bounded by maxRequestBytes +
   * grpcOverheadBytes, but maxStreamsPerConnection of them would be 2 GiB; clients send a message
   * whole, so only those arriving at the same moment count. 32 MiB is 16 maximal requests at
   * once; the call that would go over it is refused with RESOURCE_EXHAUSTED.
   */
  maxBufferedRequestBytesPerConnection: 32 * 1024 * 1024,
  /**
   * How long a connection over maxQueuedResponseBytesPerConnection may go without any of its
   * queued bytes leaving before it is sent GOAWAY and destroyed: a reader that stalls this long
   * holds the bytes and a connection slot for nothing. Long enough for a slow link to make
   * progress; any progress restarts it.
   */
  queuedResponseStallMs: 30_000,
  /**
   * How long a call whose request does not stream (every unary call, and Snapshot) may take from
   * its headers to a whole request and half-close before it is answered DEADLINE_EXCEEDED: a
   * client that opens streams and sends nothing would otherwise hold their slots for as long as
   * its connection lives. A maximal request (maxRequestBytes) takes well under a second even on a
   * slow link; a minute leaves room for a congested one.
   */
  requestArrivalMs: 60_000,
  /**
   * Response bytes all connections together may hold unsent: maxConnections connections each
   * within maxQueuedResponseBytesPerConnection would be 128 GiB. While the total is over it,
   * connections holding more than connectionShareBytes are treated as over their own bound
   * (refused, backpressured, cut when they stall), and the others go on. 256 MiB is eight
   * connections at their own bound.
   */
  maxQueuedResponseBytes: 256 * 1024 * 1024,
  /** Request bytes all connections' calls together may hold (the same reasoning, and rule). */
  maxBufferedRequestBytes: 256 * 1024 * 1024,
  /**
   * What one connection may hold, of queued responses or of buffered requests, without being held
   * back while the server's total is over: a client that reads its answers and sends whole
   * messages holds less (a message or two in flight, 64 KiB being an HTTP/2 stream's default
   * window), so only those that pile bytes up are refused. The node then holds at most the total
   * plus this much per connection (256 MiB more at maxConnections).
   */
  connectionShareBytes: 64 * 1024,
  /**
   * How long a connection may go with no call open before it is closed gracefully (GOAWAY, no
   * error; gRPC clients reconnect on their next call), as grpc-go's MaxConnectionIdle does: an
   * abandoned client then stops holding one of maxConnections.
   */
  idleConnectionMs: 5 * 60_000,
  /**
   * How often the server pings each connection's peer: etcd's `--grpc-keepalive-interval`
   * default (2 h). A peer that vanished never closes its watch streams, and TCP alone does not
   * notice while the server has nothing to send.
   */
  keepAliveIntervalMs: 2 * 3600_000,
  /** How long a ping may go unanswered before the connection is cut: etcd's `--grpc-keepalive-timeout` default (20 s). */
  keepAliveTimeoutMs: 20_000,
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
   * Bytes of watch responses a stream may have queued in HTTP/2 before the store's watch is
   * paused; the store catches it up when the stream drains (a slow watcher never grows memory).
   */
  maxWatchBufferedBytes: 4 * 1024 * 1024,
  /**
   * Progress requests one Watch stream may have waiting for the store's revision: each is one
   * local read; more while those are pending are dropped (etcd blocks the stream instead).
   */
  maxPendingProgressRequests: 64,
});

/** The etcd front end's limits; see {@link DEFAULT_LIMITS}. */
export type EtcdApiLimits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };
