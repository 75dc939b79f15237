/**
 * The Transport interface: two channels, as in hashicorp/memberlist.
 *
 * 1. **Packets**: unreliable, unordered datagrams bounded by {@link Transport.mtu}. A packet may be
 *    lost, duplicated, reordered or delayed; it is never corrupted or truncated (a packet that fails
 *    its integrity or decryption check is dropped and counted). Sending never blocks and never
 *    throws for a network failure: a packet to an unreachable address is simply lost. Sending a
 *    packet larger than the MTU is a caller bug and throws `TRANSPORT_PACKET_TOO_LARGE`.
 *
 * 2. **Streams**: reliable, ordered, framed, bidirectional message streams between two transports
 *    (TCP with length-prefixed frames in the net implementation). Frames arrive whole, in order,
 *    exactly once, until the stream closes; after a close (either side, or a network failure) no
 *    further frames are delivered and the close handler runs exactly once, with an error when the
 *    close was not clean. Frames sent before a clean `close()` by the sender are delivered before
 *    the receiver sees the close. A frame larger than {@link TransportLimits.maxFrameBytes} is
 *    rejected by the sender with `TRANSPORT_FRAME_TOO_LARGE`; a peer that announces a larger frame
 *    has its stream closed with that error.
 *
 * Backpressure: {@link Stream.send} queues the frame and returns `false` when the stream's
 * outgoing buffer is above its high-water mark; the caller should wait for the drain handler (or
 * `await stream.write(frame)`, which does that). A stream whose buffer exceeds
 * `maxStreamBufferBytes` rejects further sends with `TRANSPORT_BACKPRESSURE` rather than growing
 * without bound.
 *
 * Handlers: each `on*` method sets the single handler for that event (setting again replaces it).
 * Handlers must not throw; a throwing handler is reported by the implementation and the
 * stream or packet is dropped, never crashing the process.
 */

/** A transport address: `host:port` (IPv4 or a bracketed IPv6 host). */
export type Address = string;

/** Limits every transport enforces; each implementation exports its defaults. */
export interface TransportLimits {
  /** Largest frame on a stream, in bytes. */
  readonly maxFrameBytes: number;
  /** Bytes buffered for sending on one stream before `send` rejects with TRANSPORT_BACKPRESSURE. */
  readonly maxStreamBufferBytes: number;
  /** Buffered bytes above which `send` returns false and callers should wait for drain. */
  readonly streamHighWaterBytes: number;
  /** Concurrent streams (inbound plus outbound) one transport keeps open. */
  readonly maxStreams: number;
}

/**
 * Handler for an arriving packet. `data` is the handler's for the call only: the transport may
 * reuse its memory once the handler returns (the simulator does, and poisons it first), so copy
 * whatever is kept (`new Uint8Array(view)`; `Buffer#slice` is a view).
 */
export type PacketHandler = (from: Address, data: Uint8Array) => void;

/** Handler for a stream opened by a remote peer. */
export type StreamHandler = (stream: Stream) => void;

/** Options for {@link Transport.dial}. */
export interface DialOptions {
  /** Give up after this many milliseconds with `TIMEOUT`; default: the implementation's. */
  timeoutMs?: number;
  /** Aborts the dial with `CANCELLED`. */
  signal?: AbortSignal;
}

/** One node's endpoint on a network. */
export interface Transport {
  /** The address peers use to reach this transport (packets and streams share it). */
  readonly localAddress: Address;
  /** Largest packet payload, in bytes, that {@link sendPacket} accepts. */
  readonly mtu: number;
  /** The limits in force. */
  readonly limits: TransportLimits;

  /**
   * Sends one best-effort packet. Throws only for a caller bug (too large, closed transport). The
   * transport keeps nothing of `data` after the call returns (it copies what it sends later), so the
   * caller may reuse the array at once.
   */
  sendPacket(to: Address, data: Uint8Array): void;
  /** Sets the handler for arriving packets. */
  onPacket(handler: PacketHandler): void;

  /**
   * Opens a stream to `to`. Rejects with `TRANSPORT_UNREACHABLE` when no peer accepts,
   * `TIMEOUT` after `timeoutMs`, `CANCELLED` on abort, `TRANSPORT_CLOSED` when this transport
   * is closed.
   */
  dial(to: Address, options?: DialOptions): Promise<Stream>;
  /** Sets the handler for streams opened by peers. */
  onStream(handler: StreamHandler): void;

  /** Closes every stream and stops receiving. Idempotent. */
  close(): Promise<void>;
}

/** Why a stream closed: `undefined` for a clean close by either side. */
export type CloseHandler = (error?: Error) => void;

/** A reliable, ordered, framed stream. See the module comment for the contract. */
export interface Stream {
  /**
   * The peer's transport address (for inbound streams: its ephemeral or advertised address; the
   * advertised one is the peer's unauthenticated claim).
   */
  readonly remoteAddress: Address;
  /** True until the stream has closed. */
  readonly open: boolean;
  /** Bytes queued for sending and not yet handed to the network. */
  readonly bufferedBytes: number;

  /**
   * Queues one frame. Returns `false` when the buffer is above the high-water mark (wait for
   * drain). Throws `TRANSPORT_FRAME_TOO_LARGE`, `TRANSPORT_BACKPRESSURE` or `TRANSPORT_CLOSED`.
   * A frame over `FRAME_COPY_MAX_BYTES` (16 KiB) is kept by reference until it is written: do
   * not modify a frame after sending it. A frame from core's `takeBytes` is handed on by sending
   * (whatever its size): the sender neither reads nor writes it again, and the simulator gives it
   * back to the pool once the receiver handled it.
   */
  send(frame: Uint8Array): boolean;
  /** Queues one frame and resolves once the buffer is below the high-water mark again. */
  write(frame: Uint8Array): Promise<void>;
  /**
   * Sets the handler for arriving frames. As with packets, a frame is the handler's for the call
   * only (the simulator reuses and poisons it afterwards): copy whatever is kept.
   */
  onFrame(handler: (frame: Uint8Array) => void): void;
  /** Sets the handler run once when the buffer drains below the high-water mark. */
  onDrain(handler: () => void): void;
  /** Sets the handler run exactly once when the stream closes. */
  onClose(handler: CloseHandler): void;
  /** Flushes queued frames, then closes cleanly. Idempotent. */
  close(): void;
  /** Closes at once, dropping queued frames; the peer sees an error close. */
  destroy(error?: Error): void;
}
