import { MAX_ADDRESS_LENGTH } from '../../transport/address.js';

/** The limits of the peer sampling service; see {@link DEFAULT_LIMITS} for each one's reason. */
export type PexLimits = {
  /** Largest view size `c` a config may ask for, in descriptors. */
  readonly maxViewSize: number;
  /** Most descriptors in one PexPush/PexPull. */
  readonly maxBufferEntries: number;
  /** Largest encoded PexPush/PexPull, in bytes (further capped by the transport's MTU). */
  readonly maxBufferBytes: number;
  /** Longest address in a descriptor, in characters. */
  readonly maxAddressLength: number;
  /** Longest node id in a descriptor, in characters. */
  readonly maxIdLength: number;
  /** Largest age in a descriptor, in cycles. */
  readonly maxAge: number;
  /** Exchanges awaiting a reply at once. */
  readonly maxPendingExchanges: number;
};

/**
 * Limits of the peer sampling service.
 *
 * Each bounds the memory or the bytes one peer can make a node spend. Override them per node with
 * `withLimits(DEFAULT_LIMITS, overrides)` from `core` (unknown names and non-positive values are
 * rejected).
 */
export const DEFAULT_LIMITS: PexLimits = Object.freeze({
  /** Largest view size `c` a config may ask for: a view of a few hundred is far past the paper's c=30 and still cheap to scan. */
  maxViewSize: 256,
  /** Most descriptors accepted in one PexPush/PexPull: a packet of 1400 bytes holds far fewer, so more is hostile. */
  maxBufferEntries: 128,
  /** Largest encoded PexPush/PexPull in bytes (further capped by the transport's MTU): one UDP datagram on Ethernet. */
  maxBufferBytes: 1400,
  /** Longest address accepted in a descriptor: the transport's own bound on `host:port` text. */
  maxAddressLength: MAX_ADDRESS_LENGTH,
  /** Longest node id accepted in a descriptor: a base32 public-key hash is about 52 characters. */
  maxIdLength: 128,
  /** Largest age accepted in a descriptor: 10^6 cycles is days at any sane interval; bigger is garbage. */
  maxAge: 1_000_000,
  /** Exchanges awaiting a reply at once: one per interval normally; bounds state when timeouts exceed intervals. */
  maxPendingExchanges: 16,
});
