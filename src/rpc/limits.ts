/**
 * Limits of the rpc channel.
 *
 * Each limit bounds the memory, the work or the latency one peer can make a node spend. Override
 * them per channel (or per server / client) with a `Partial<RpcLimits>`; they are merged with
 * `withLimits` from core, which rejects unknown names and non-positive values.
 */
export const DEFAULT_LIMITS = Object.freeze({
  /**
   * Calls one channel has outstanding (sent, not yet answered). Over it a call rejects at once
   * with RPC_OVERLOADED rather than queueing. 256, equal to maxConcurrentHandlers, so a peer with
   * default limits cannot overload a default server by pipelining alone.
   */
  maxInFlightPerChannel: 256,
  /**
   * Handlers one channel runs at once for its peer. A request over it gets an RPC_OVERLOADED
   * response: 256 bounds the work one peer can start on this node.
   */
  maxConcurrentHandlers: 256,
  /** Largest batch frame in bytes: 64 KiB amortises per-frame cost without delaying big messages. */
  maxBatchBytes: 64 * 1024,
  /** Messages in one batch frame we send: 256 keeps the peer's decode of one frame short (no long stall). */
  maxBatchCount: 256,
  /** Longest method name in characters: names are identifiers like `kv.get`, not data. */
  maxMethodNameLength: 128,
  /**
   * Largest encoded request or response payload in bytes: 4 MiB keeps head-of-line blocking on a
   * shared stream short; bulk data belongs in chunked calls. Fits the transport's 16 MiB frame.
   */
  maxPayloadBytes: 4 * 1024 * 1024,
  /** Longest error message carried on the wire, in characters; longer ones are cut (text only). */
  maxErrorMessageLength: 1024,
  /** Longest deadline in ms (one day): longer budgets are bugs, and Node timers overflow at 2^31 ms. */
  maxDeadlineMs: 24 * 60 * 60 * 1000,
  /**
   * Deadline in ms given to a request that arrives without one (30 s, a caller's default): a
   * handler's work is cancelled at it, so a peer cannot start work that runs forever. At most
   * maxDeadlineMs.
   */
  defaultRequestDeadlineMs: 30_000,
  /**
   * Malformed frames tolerated on one channel before it is closed: a peer that keeps sending
   * garbage is broken or hostile, and decoding its frames costs CPU for nothing.
   */
  maxMalformedFrames: 64,
});

/** The rpc limits: one number per name in {@link DEFAULT_LIMITS}. */
export type RpcLimits = { readonly [K in keyof typeof DEFAULT_LIMITS]: number };

/**
 * Deadline, in milliseconds, of a call that gives none: 30 s. Every call has a deadline, so a peer
 * that never answers cannot hold a caller forever.
 */
export const DEFAULT_DEADLINE_MS = 30_000;
