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

/**
 * What the net transport lets a peer that connects to it spend before that peer has shown it speaks
 * the protocol, and how long an accepted stream may sit without progress. Net-only: the simulator's
 * peers are the simulation's own nodes. Deadlines count whole frames, never bytes, so a peer
 * trickling a byte a second does not keep a stream alive. Override per transport with
 * `NetTransportOptions.inbound` (unknown names and non-positive values are rejected).
 */
export interface InboundLimits {
  /** Inbound connections (handshaking or open) at once; capped by `maxStreams`, the rest is for dials. */
  readonly maxInboundStreams: number;
  /** Inbound connections (handshaking or open) from one source IP at once. */
  readonly maxStreamsPerHost: number;
  /** An accepted stream must deliver its first whole frame within this many ms of its hello. */
  readonly firstFrameTimeoutMs: number;
  /** A frame whose header arrived must be complete within this many ms. */
  readonly frameTimeoutMs: number;
  /** An accepted stream with no whole frame sent or received for this many ms is closed cleanly. */
  readonly idleTimeoutMs: number;
  /** Largest frame an accepted stream may send before its first frame was handled (opened, when sealed). */
  readonly unprovenMaxFrameBytes: number;
  /** Bytes of buffers for frames still arriving, over all streams of the transport. */
  readonly maxPartialFrameBytes: number;
}

/** Defaults of {@link InboundLimits}. */
export const DEFAULT_INBOUND_LIMITS = Object.freeze({
  /** 768 of the 1024 streams: a flood of inbound connections leaves 256 for our dials (an rpc pool's worth). */
  maxInboundStreams: 768,
  /** 256 per IP: every agent on one machine connects from one address, yet one host gets a third of the inbound share. */
  maxStreamsPerHost: 256,
  /** 10 s: every protocol sends its first frame right after dialing; a silent stream is not one of ours. */
  firstFrameTimeoutMs: 10_000,
  /** 30 s per frame once its header arrived: a 16 MiB frame at 0.5 MB/s; a trickle cannot hold a buffer longer. */
  frameTimeoutMs: 30_000,
  /** 5 min without a whole frame either way closes an accepted stream; a pool that wants it again redials. */
  idleTimeoutMs: 300_000,
  /** 64 KiB (+1 KiB for a seal) until the first frame was handled: one header cannot make us allocate 16 MiB. */
  unprovenMaxFrameBytes: 65 * 1024,
  /** 32 MiB of frames in flight (two of the largest): all peers together cannot make us buffer more. */
  maxPartialFrameBytes: 32 * 1024 * 1024,
}) satisfies InboundLimits;

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
  /** Rejected connections and streams are logged once, then summed up by reason once per 10 s: a flood cannot flood the log. */
  rejectLogIntervalMs: 10_000,
  /** Binding an ephemeral port retries this often when the UDP side of the port is taken. */
  bindAttempts: 16,
});
