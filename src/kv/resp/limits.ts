/**
 * Limits of the Redis-protocol front end.
 *
 * Each bounds what one client can make a node hold or do. Override them per server with a
 * `Partial<RespLimits>` in `serveResp({ limits })`; they are merged with core's `withLimits`,
 * which rejects unknown names and non-positive values.
 */
export const DEFAULT_LIMITS = Object.freeze({
  /**
   * Bytes of one inline command line, or of one `*`/`$` header line without its CRLF: Redis's
   * PROTO_INLINE_MAX_SIZE (64 KiB). A client that sends more without a newline is not speaking RESP.
   */
  maxInlineBytes: 64 * 1024,
  /**
   * Arguments of one command. Redis takes up to 2^31; each argument costs an object here, so the
   * bound keeps a hostile `*` header from pinning memory. Enough for MSET of 32,767 pairs.
   */
  maxArgs: 64 * 1024,
  /**
   * Bytes of one bulk string (Redis's proto-max-bulk-len is 512 MiB): a value travels to every
   * replica in one rpc frame, so values past a few MiB belong in a blob store.
   */
  maxBulkBytes: 8 * 1024 * 1024,
  /**
   * Bytes of one unparsed or partly parsed command a connection may hold (Redis's
   * client-query-buffer-limit, 1 GiB there): over it the connection gets a protocol error and closes.
   */
  maxQueryBufferBytes: 64 * 1024 * 1024,
  /**
   * Arguments of a command from a connection that has not authenticated, when auth is on: Redis 7
   * allows 10 before AUTH, enough for `HELLO 3 AUTH user token SETNAME name`.
   */
  maxUnauthenticatedArgs: 10,
  /** Bytes of one bulk string before AUTH (Redis 7: 16 KiB); a capability token is at most 4 KiB. */
  maxUnauthenticatedBulkBytes: 16 * 1024,
  /**
   * Commands of one connection parsed and not yet answered (pipelining depth): past it the server
   * stops reading from that socket until replies go out. redis-benchmark -P 16 needs 16.
   */
  maxInFlightPerConnection: 256,
  /**
   * Bytes of replies queued in a socket before the server stops reading from it (a client that
   * does not read its replies must not grow our memory): Node's default highWaterMark is 16 KiB.
   */
  maxPendingReplyBytes: 1024 * 1024,
  /** Open client connections (Redis's maxclients is 10,000): each costs a socket and buffers. */
  maxConnections: 10_000,
  /**
   * Open connections from one remote address: one misbehaving host cannot take every slot. A
   * client pool or redis-benchmark -c 50 uses tens; behind a NAT, raise it.
   */
  maxConnectionsPerAddress: 1024,
  /**
   * Milliseconds a connection may stay idle (no command in flight, nothing received) before it is
   * closed. Redis's `timeout` is 0 (never); pools (ioredis) reconnect, so 15 minutes frees slots
   * of vanished clients without bothering live ones.
   */
  idleTimeoutMs: 15 * 60 * 1000,
  /** Characters of a CLIENT SETNAME name, kept for CLIENT LIST and logs. */
  maxClientNameChars: 256,
  /** Keys SCAN's COUNT may ask for in one page: the page is built in memory. */
  maxScanCount: 10_000,
});

/** The front end's limits; see {@link DEFAULT_LIMITS}. */
export type RespLimits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };
