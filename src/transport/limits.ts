import type { TransportLimits } from './types.js';

/**
 * Transport limits shared by every implementation (net, sealed, simulated).
 *
 * Each limit bounds the memory or the number of sockets one peer can make a node spend. A caller
 * overrides them per transport with `withLimits(DEFAULT_LIMITS, overrides)` (unknown names and
 * non-positive values are rejected).
 */
export const DEFAULT_LIMITS = Object.freeze({
  /** Largest frame: 16 MiB matches the codec's maxDecodeBytes, so a decodable message always fits. */
  maxFrameBytes: 16 * 1024 * 1024,
  /** Hard cap on one stream's send buffer: one slow peer cannot hold more than 64 MiB of ours. */
  maxStreamBufferBytes: 64 * 1024 * 1024,
  /** Above 1 MiB buffered, `send` asks callers to wait: keeps latency bounded while batching well. */
  streamHighWaterBytes: 1024 * 1024,
  /** 1024 concurrent streams: well under a default `ulimit -n` of 1024+ with room for files. */
  maxStreams: 1024,
}) satisfies TransportLimits;

/**
 * Frames up to this size are copied when sent; larger ones are kept by reference until they are
 * written, so a caller must not modify a frame after sending it (see `Stream.send`). The net
 * stream copies small frames into its send slab and writes large ones without a copy; the
 * simulator does the same, so a simulation sees what a real stream would send.
 */
export const FRAME_COPY_MAX_BYTES = 16 * 1024;

/** Options of the net implementation that are not part of {@link TransportLimits}. */
export const NET_DEFAULTS = Object.freeze({
  /** Largest UDP payload: 1400 bytes fits a 1500-byte Ethernet MTU with IP/UDP headers (memberlist's UDPBufferSize). */
  mtu: 1400,
  /** Dial timeout when the caller gives none: a LAN peer answers a SYN in well under 10 s. */
  dialTimeoutMs: 10_000,
  /** An inbound connection must send its hello within 10 s, or it is cut: bounds idle half-open sockets. */
  helloTimeoutMs: 10_000,
  /** Largest hello frame: a version byte and an address of at most 300 characters. */
  maxHelloBytes: 512,
  /** A clean close that the peer does not complete within 10 s becomes a destroy: bounds FIN_WAIT sockets. */
  closeTimeoutMs: 10_000,
  /** Binding an ephemeral port retries this often when the UDP side of the port is taken. */
  bindAttempts: 16,
});
