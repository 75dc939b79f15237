/**
 * Limits of the kv client. Each bounds what one client process holds or waits for, so a slow,
 * hostile or broken server costs a bounded amount of memory and time. Override them per client
 * with `new KvClient({ limits })`; they are merged with core's `withLimits` (unknown names and
 * non-positive values are rejected).
 */
export const DEFAULT_LIMITS = Object.freeze({
  /**
   * Bytes of one bulk string in a reply. The server refuses values over 8 MiB (its maxBulkBytes);
   * the margin is for a server configured higher, the bound for a server that lies.
   */
  maxReplyBulkBytes: 16 * 1024 * 1024,
  /** Bytes held for one reply not yet complete (an MGET of many values): over it the connection is closed. */
  maxReplyBytes: 64 * 1024 * 1024,
  /** Elements of one reply array: SCAN pages and MGET replies are bounded by the request; CAIRN RING by the ring's 1,024 nodes. */
  maxReplyItems: 1 << 20,
  /** Nesting of reply arrays: CAIRN RING, the deepest reply the client reads, nests 3. */
  maxReplyDepth: 8,
  /** Bytes of a status, error or header line: Redis's own inline limit is 64 KiB. */
  maxReplyLineBytes: 64 * 1024,
  /**
   * Commands written on one connection and not yet answered (pipelining depth). The server runs up
   * to 256 per connection (its maxInFlightPerConnection); staying under it keeps replies flowing
   * without the server pausing reads.
   */
  maxInFlightPerConnection: 128,
  /**
   * Connections per node and consistency level. Each pipelines, so one carries most loads; a
   * second spreads parsing over the server's event loop turns and hides one slow reply.
   */
  connectionsPerLevel: 2,
  /** Requests waiting for a connection slot on one node: past it calls fail at once (UNAVAILABLE) rather than queue without end. */
  maxQueuedPerNode: 10_000,
  /** Keys of one MGET, MSET, DEL or EXISTS call (the client splits them per node): each costs a reply slot. */
  maxKeysPerCall: 100_000,
  /**
   * Keys of one MGET, DEL or EXISTS command sent (pairs of one MSET): a call's keys for one node are
   * sent in commands of this size, well under the server's limit of 65,536 arguments, and small enough that one reply does not hold the others back.
   */
  maxKeysPerCommand: 1024,
  /** Attempts of one request on different nodes when a node cannot be reached (never after a write was sent). */
  maxAttempts: 3,
});

/** The client's limits; see {@link DEFAULT_LIMITS}. */
export type KvClientLimits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };
