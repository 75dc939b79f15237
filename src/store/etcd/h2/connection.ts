import type { Socket } from 'node:net';
import {
  CLIENT_PREFACE,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_WINDOW_BYTES,
  ErrorCode,
  Flag,
  FrameParser,
  type FrameSink,
  FrameType,
  H2ConnectionError,
  MAX_FRAME_BYTES_CEILING,
  MAX_WINDOW_BYTES,
  OutputBuffer,
  Setting,
} from './frames.js';
import { HpackDecoder, HpackError, TABLE_SIZE_ZERO } from './hpack.js';
import { H2Stream, type H2StreamListener, requestHeaders } from './stream.js';

export { H2Stream, type H2StreamListener, requestHeaders };

/**
 * The server side of one cleartext HTTP/2 connection (RFC 9113, prior knowledge, as gRPC clients
 * connect) over a `net.Socket`, made for the etcd API's gRPC server: one object per connection,
 * one light {@link H2Stream} per request, no EventEmitter per stream, and every frame of a turn of
 * the event loop written with one socket write.
 *
 * Contract:
 * - The client's 24-byte preface must come first: a byte that does not match it destroys the
 *   socket at once. Our SETTINGS and the connection WINDOW_UPDATE are queued at construction.
 * - Each request stream is handed to `events.onStream` once its header block is decoded; its
 *   owner hears it through `stream.listener` (data, end, close exactly once, drain).
 * - Flow control both ways: we enforce the windows we advertise (FLOW_CONTROL_ERROR), return
 *   connection window as DATA arrives and stream window as it is delivered (not while paused), and
 *   send DATA only as the peer's windows allow; DATA waits in its stream's queue otherwise.
 * - Output is gathered per connection and written once per event-loop turn (`setImmediate`, as
 *   Node's own http2 schedules its writes: replies produced by promise continuations and other
 *   I/O callbacks of the same turn share the write). While the socket's buffer is full (`write`
 *   returned false, no 'drain' yet) DATA stays in the streams; control frames and HEADERS go.
 * - A connection error (malformed frames, flow-control violations, HPACK errors, floods) answers
 *   GOAWAY with its code and destroys the socket. Nothing the peer sends throws out of the
 *   socket's 'data' handler. An exception thrown by a listener while the connection handles a
 *   frame is treated the same way (GOAWAY INTERNAL_ERROR); one thrown by `onStream` only resets
 *   that stream.
 * - Bounds on what a peer can make us hold: streams (`maxConcurrentStreams`), a header block
 *   (2 x `maxHeaderListBytes` + 16 KiB), DATA held for a paused stream (its window), a split
 *   frame (16 KiB), control-frame replies queued while the socket does not drain
 *   ({@link H2_LIMITS}.maxQueuedControlFrames) and client resets of accepted streams
 *   ({@link H2_LIMITS}.maxClientResetsPerSecond, the "rapid reset" attack).
 */

/** Named limits of the connection, each with its reason. */
export const H2_LIMITS = {
  /** Unsent DATA bytes a stream queues before `write` returns false, unless the settings say
   *  otherwise: one frame's worth, as a Node stream's default. */
  streamHighWaterBytes: 16384,
  /** Control-frame replies (SETTINGS/PING ACKs, RST_STREAMs the peer caused) queued while the
   *  socket does not drain; over it the peer floods us (CVE-2019-9512/9515): ENHANCE_YOUR_CALM. */
  maxQueuedControlFrames: 1000,
  /** Client RST_STREAMs of streams we accepted, per second; over it is the rapid-reset attack
   *  (CVE-2023-44487): ENHANCE_YOUR_CALM. */
  maxClientResetsPerSecond: 1000,
  /** DATA bytes moved from stream queues into one socket write, so one flush stays bounded when
   *  the peer opens huge windows; the rest follows in the next turn. */
  maxFlushDataBytes: 262144,
  /** Slack over 2 x maxHeaderListBytes for a header block's bytes (HPACK can be larger than the
   *  list it encodes only by its table updates and literal overhead). */
  headerBlockSlackBytes: 16384,
} as const;

export interface H2Settings {
  /** SETTINGS_MAX_CONCURRENT_STREAMS we advertise and enforce (over it: RST_STREAM REFUSED_STREAM). */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE we advertise; a request over it is reset (RST_STREAM
   *  ENHANCE_YOUR_CALM) after its block is decoded (the table stays in sync). */
  readonly maxHeaderListBytes: number;
  /** Stream receive window we advertise (SETTINGS_INITIAL_WINDOW_SIZE); default 65535. */
  readonly initialWindowBytes?: number;
  /** Connection receive window (raised from 65535 with a WINDOW_UPDATE on stream 0 at start);
   *  default 1 MiB. */
  readonly connectionWindowBytes?: number;
  /** Unsent DATA bytes a stream queues before `write` returns false (then `drain` follows);
   *  default {@link H2_LIMITS}.streamHighWaterBytes. A streaming response whose client stalls
   *  briefly (its flow-control window spent) rides it out below this mark. */
  readonly streamHighWaterBytes?: number;
  /** Client resets of accepted streams tolerated per second; default
   *  {@link H2_LIMITS}.maxClientResetsPerSecond. */
  readonly maxClientResetsPerSecond?: number;
  /** Milliseconds of a monotonic clock, for the reset rate; default `performance.now()`. */
  readonly now?: () => number;
}

export interface H2ConnectionEvents {
  /** A new request stream (its HEADERS decoded). Errors thrown from here are caught: the stream is reset. */
  onStream(stream: H2Stream): void;
  /** The connection is gone (socket closed); every stream got close(true) before this. Once. */
  onClose(): void;
}

/** First four bytes of the PINGs we send; the last four carry a sequence number. */
const PING_MARK = 0x6361726e;

/** Runs a flushed batch's callbacks. */
function runAll(callbacks: (() => void)[]): void {
  for (let i = 0; i < callbacks.length; i++) callbacks[i]!();
}

const OPEN = 0;
/** Our GOAWAY went out: no new streams; the socket ends once the open ones closed. */
const CLOSING = 1;
/** Destroyed or ended: nothing more is sent. */
const GONE = 2;

/** A PING we sent and its callback. */
interface PendingPing {
  readonly sequence: number;
  readonly onAck: (ok: boolean) => void;
}

export class H2Connection implements FrameSink {
  readonly socket: Socket;
  private readonly settings: H2Settings;
  /** @internal Unsent DATA bytes a stream queues before `write` returns false. */
  readonly streamHighWaterBytes: number;
  private readonly events: H2ConnectionEvents;
  private readonly parser: FrameParser;
  private readonly decoder: HpackDecoder;
  private readonly out = new OutputBuffer();
  private readonly streams = new Map<number, H2Stream>();
  private state = OPEN;
  private closeReported = false;
  private prefaceMatched = 0;
  private peerSettingsSeen = false;

  // A header block spread over HEADERS + CONTINUATION frames (stream 0: none in progress).
  private blockStreamId = 0;
  private blockEndStream = false;
  private blockParts: Buffer[] = [];
  private blockBytes = 0;
  private readonly maxBlockBytes: number;

  /** Highest stream id the client used (ids above it are idle). */
  private highestStreamId = 0;
  /** Highest stream id handed to onStream (GOAWAY's last stream id). */
  private lastAcceptedId = 0;
  private peerGoaway = false;

  // What the peer lets us send.
  private peerInitialWindow = DEFAULT_WINDOW_BYTES;
  private peerMaxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  private sendWindow = DEFAULT_WINDOW_BYTES;

  // What we let the peer send.
  private readonly connectionWindowBytes: number;
  private readonly streamWindowBytes: number;
  private recvWindow = DEFAULT_WINDOW_BYTES;
  private recvUnacked = 0;
  /** A new stream's receive window: 65535 until the peer ACKed our SETTINGS, then ours. */
  private streamRecvInitial = DEFAULT_WINDOW_BYTES;
  private settingsAckPending = 1;

  // Output.
  private flushScheduled = false;
  private readonly flushBound = (): void => this.flush();
  private batchCallbacks: (() => void)[] | undefined = undefined;
  private socketBlocked = false;
  private sendQueue: H2Stream[] = [];
  private drainList: H2Stream[] = [];
  private firstHeadersSent = false;
  private controlFrames = 0;

  // Client resets.
  private readonly maxResetsPerSecond: number;
  private readonly now: () => number;
  private resetWindowStart = 0;
  private resetCount = 0;

  private pingSequence = 0;
  private pings: PendingPing[] = [];

  constructor(socket: Socket, settings: H2Settings, events: H2ConnectionEvents) {
    this.socket = socket;
    this.settings = settings;
    this.streamHighWaterBytes = settings.streamHighWaterBytes ?? H2_LIMITS.streamHighWaterBytes;
    this.events = events;
    this.parser = new FrameParser(this, DEFAULT_MAX_FRAME_BYTES);
    this.decoder = new HpackDecoder();
    this.maxBlockBytes = 2 * settings.maxHeaderListBytes + H2_LIMITS.headerBlockSlackBytes;
    this.connectionWindowBytes = Math.max(DEFAULT_WINDOW_BYTES, settings.connectionWindowBytes ?? 1 << 20);
    this.streamWindowBytes = settings.initialWindowBytes ?? DEFAULT_WINDOW_BYTES;
    this.maxResetsPerSecond = settings.maxClientResetsPerSecond ?? H2_LIMITS.maxClientResetsPerSecond;
    this.now = settings.now ?? performance.now.bind(performance);
    if (this.connectionWindowBytes > MAX_WINDOW_BYTES || this.streamWindowBytes > MAX_WINDOW_BYTES) {
      throw new RangeError('H2Settings: windows must be at most 2^31 - 1 bytes');
    }
    this.sendSettings();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    socket.on('drain', () => this.onSocketDrain());
    socket.on('error', () => {
      // 'close' follows; the streams are closed there.
    });
    socket.on('close', () => this.onSocketClose());
  }

  /** Streams open now. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Sends PING; `onAck(true)` on its ACK, `onAck(false)` if the connection closes first.
   *  Returns false when the connection is closing (nothing sent). */
  ping(onAck: (ok: boolean) => void): boolean {
    if (this.state !== OPEN) return false;
    const sequence = (this.pingSequence + 1) >>> 0;
    this.pingSequence = sequence;
    this.out.frameHeader(8, FrameType.PING, 0, 0);
    this.out.uint32(PING_MARK);
    this.out.uint32(sequence);
    this.pings.push({ sequence, onAck });
    this.scheduleFlush();
    return true;
  }

  /** Graceful close: GOAWAY NO_ERROR with the last stream id processed, refuse new streams
   *  (RST_STREAM REFUSED_STREAM), end the socket once every open stream closed. */
  close(): void {
    if (this.state !== OPEN) return;
    this.state = CLOSING;
    this.emitGoaway(ErrorCode.NO_ERROR);
    this.scheduleFlush();
  }

  /** GOAWAY `code` (if the socket is writable), then destroy. */
  goaway(code: number): void {
    if (this.state !== GONE && this.socket.writable) {
      this.emitGoaway(code);
      const buf = this.out.take();
      const callbacks = this.batchCallbacks;
      this.batchCallbacks = undefined;
      if (buf !== undefined)
        this.socket.write(buf, callbacks === undefined ? undefined : () => runAll(callbacks));
      else if (callbacks !== undefined) runAll(callbacks);
    }
    this.destroy();
  }

  /** Destroys the socket now; every open stream gets close(true). */
  destroy(): void {
    this.socket.destroy();
    if (this.state === GONE) return;
    this.state = GONE;
    this.teardown();
  }

  // ---- socket events ----

  private onSocketData(chunk: Buffer): void {
    if (this.state === GONE) return;
    try {
      let at = 0;
      if (this.prefaceMatched < CLIENT_PREFACE.length) {
        at = this.matchPreface(chunk);
        if (at < 0) {
          this.destroy();
          return;
        }
        if (at === chunk.length) return;
      }
      this.parser.push(chunk, at);
    } catch (err) {
      const code =
        err instanceof H2ConnectionError
          ? err.code
          : err instanceof HpackError
            ? ErrorCode.COMPRESSION_ERROR
            : ErrorCode.INTERNAL_ERROR;
      this.goaway(code);
    }
  }

  /** Matches the preface's next bytes; returns where frames start, or -1 on a mismatch. */
  private matchPreface(chunk: Buffer): number {
    let i = 0;
    let matched = this.prefaceMatched;
    while (matched < CLIENT_PREFACE.length && i < chunk.length) {
      if (chunk[i] !== CLIENT_PREFACE[matched]) return -1;
      i++;
      matched++;
    }
    this.prefaceMatched = matched;
    return i;
  }

  private onSocketDrain(): void {
    this.socketBlocked = false;
    this.controlFrames = 0;
    if (this.sendQueue.length > 0) this.scheduleFlush();
  }

  private onSocketClose(): void {
    this.state = GONE;
    this.teardown();
    if (this.closeReported) return;
    this.closeReported = true;
    this.events.onClose();
  }

  /** Closes every stream (aborted), fails the pings, runs callbacks of bytes never written. */
  private teardown(): void {
    for (const stream of this.streams.values()) this.finish(stream, true);
    this.sendQueue.length = 0;
    this.drainList.length = 0;
    const pings = this.pings;
    this.pings = [];
    for (const ping of pings) ping.onAck(false);
    const callbacks = this.batchCallbacks;
    this.batchCallbacks = undefined;
    this.out.take();
    if (callbacks !== undefined) runAll(callbacks);
  }

  // ---- frames in ----

  /** @internal FrameSink: one frame from the parser. Connection errors throw H2ConnectionError. */
  frame(type: number, flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (this.state === GONE) return;
    if (this.blockStreamId !== 0 && type !== FrameType.CONTINUATION) {
      throw protocolError(`frame of type ${type} inside the header block of stream ${this.blockStreamId}`);
    }
    if (!this.peerSettingsSeen) {
      // The client's preface ends with a SETTINGS frame (RFC 9113 section 3.4).
      if (type !== FrameType.SETTINGS || (flags & Flag.ACK) !== 0) {
        throw protocolError('the client preface is not followed by SETTINGS');
      }
      this.peerSettingsSeen = true;
    }
    switch (type) {
      case FrameType.DATA:
        this.onData(flags, streamId, buf, start, end);
        return;
      case FrameType.HEADERS:
        this.onHeaders(flags, streamId, buf, start, end);
        return;
      case FrameType.PRIORITY:
        if (streamId === 0) throw protocolError('PRIORITY on stream 0');
        if (end - start !== 5) this.streamError(streamId, ErrorCode.FRAME_SIZE_ERROR);
        return;
      case FrameType.RST_STREAM:
        this.onRstStream(streamId, end - start);
        return;
      case FrameType.SETTINGS:
        this.onSettings(flags, streamId, buf, start, end);
        return;
      case FrameType.PUSH_PROMISE:
        throw protocolError('PUSH_PROMISE from a client');
      case FrameType.PING:
        this.onPing(flags, streamId, buf, start, end);
        return;
      case FrameType.GOAWAY:
        if (streamId !== 0) throw protocolError('GOAWAY on a stream');
        if (end - start < 8) throw frameSizeError('GOAWAY shorter than 8 bytes');
        this.peerGoaway = true;
        this.close();
        return;
      case FrameType.WINDOW_UPDATE:
        this.onWindowUpdate(streamId, buf, start, end);
        return;
      case FrameType.CONTINUATION:
        this.onContinuation(flags, streamId, buf, start, end);
        return;
      default:
        // Unknown frame types are ignored (RFC 9113 section 4.1).
        return;
    }
  }

  private onData(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId === 0) throw protocolError('DATA on stream 0');
    const frameBytes = end - start;
    // The connection window counts every DATA byte, padding and closed streams included.
    if (frameBytes > this.recvWindow) {
      throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'DATA over the connection window');
    }
    this.recvWindow -= frameBytes;
    this.recvUnacked += frameBytes;
    if (this.recvUnacked >= this.connectionWindowBytes >>> 1) {
      this.emitWindowUpdate(0, this.recvUnacked);
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
    }
    if ((flags & Flag.PADDED) !== 0) {
      if (frameBytes < 1) throw frameSizeError('padded DATA without its pad length');
      const padding = buf[start]!;
      start++;
      if (padding > end - start) throw protocolError('DATA padding longer than its payload');
      end -= padding;
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      if (streamId > this.highestStreamId) throw protocolError(`DATA on idle stream ${streamId}`);
      this.sendRst(streamId, ErrorCode.STREAM_CLOSED);
      return;
    }
    if (stream.remoteEndedFlag) {
      this.streamError(streamId, ErrorCode.STREAM_CLOSED);
      return;
    }
    if (frameBytes > stream.recvWindow) {
      this.streamError(streamId, ErrorCode.FLOW_CONTROL_ERROR);
      return;
    }
    stream.recvWindow -= frameBytes;
    // Marked before delivery, so a reply made inside `data` sees the client's end (no RST_STREAM
    // NO_ERROR after it, no WINDOW_UPDATE for it); `end` is delivered after the data.
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (endStream) stream.remoteEndedFlag = true;
    const dataBytes = end - start;
    // Padding (and its length byte) is given back as if delivered.
    stream.recvUnacked += frameBytes - dataBytes;
    if (dataBytes > 0) {
      const chunk = buf.subarray(start, end);
      if (stream.paused || (stream.held !== undefined && stream.held.length > 0)) {
        if (stream.held === undefined) stream.held = [];
        stream.held.push(chunk);
      } else {
        this.deliver(stream, chunk);
        if (stream.closedFlag) return;
      }
    } else if (frameBytes > 0) {
      this.maybeStreamWindowUpdate(stream);
    }
    if (endStream) this.endArrived(stream);
  }

  private deliver(stream: H2Stream, chunk: Buffer): void {
    stream.listener?.data(chunk);
    stream.recvUnacked += chunk.length;
    this.maybeStreamWindowUpdate(stream);
  }

  /** Gives a stream's window back once half of it was consumed (not after the client ended). */
  private maybeStreamWindowUpdate(stream: H2Stream): void {
    if (stream.closedFlag || stream.remoteEndedFlag) return;
    if (stream.recvUnacked < this.streamWindowBytes >>> 1 || stream.recvUnacked === 0) return;
    this.emitWindowUpdate(stream.id, stream.recvUnacked);
    stream.recvWindow += stream.recvUnacked;
    stream.recvUnacked = 0;
  }

  private onHeaders(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId === 0) throw protocolError('HEADERS on stream 0');
    if ((flags & Flag.PADDED) !== 0) {
      if (end - start < 1) throw frameSizeError('padded HEADERS without its pad length');
      const padding = buf[start]!;
      start++;
      if (padding > end - start) throw protocolError('HEADERS padding longer than its payload');
      end -= padding;
    }
    if ((flags & Flag.PRIORITY) !== 0) {
      if (end - start < 5) throw frameSizeError('HEADERS with PRIORITY shorter than 5 bytes');
      start += 5; // Priority is ignored.
    }
    // A new stream's id must be odd and above every id the client used before (RFC 9113
    // section 5.1.1); HEADERS on a stream already closed is a connection error too, as in Go.
    if (!this.streams.has(streamId)) {
      if ((streamId & 1) === 0) throw protocolError(`client stream id ${streamId} is even`);
      if (streamId <= this.highestStreamId) {
        throw protocolError(`HEADERS on stream ${streamId}, not above ${this.highestStreamId} and not open`);
      }
      this.highestStreamId = streamId;
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if ((flags & Flag.END_HEADERS) !== 0) {
      this.headerBlock(streamId, endStream, buf.subarray(start, end));
      return;
    }
    this.blockStreamId = streamId;
    this.blockEndStream = endStream;
    this.blockParts.push(buf.subarray(start, end));
    this.blockBytes = end - start;
  }

  private onContinuation(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (this.blockStreamId === 0 || streamId !== this.blockStreamId) {
      throw protocolError(`CONTINUATION on stream ${streamId} without a header block open on it`);
    }
    this.blockBytes += end - start;
    if (this.blockBytes > this.maxBlockBytes) {
      throw new H2ConnectionError(
        ErrorCode.ENHANCE_YOUR_CALM,
        `header block over ${this.maxBlockBytes} bytes on stream ${streamId}`,
      );
    }
    this.blockParts.push(buf.subarray(start, end));
    if ((flags & Flag.END_HEADERS) === 0) return;
    const block = Buffer.concat(this.blockParts, this.blockBytes);
    this.blockParts.length = 0;
    this.blockBytes = 0;
    this.blockStreamId = 0;
    this.headerBlock(streamId, this.blockEndStream, block);
  }

  /** A complete header block: decoded always (the HPACK table must stay in sync), then applied. */
  private headerBlock(streamId: number, endStream: boolean, block: Buffer): void {
    const decoded = this.decoder.decode(block, this.settings.maxHeaderListBytes);
    const stream = this.streams.get(streamId);
    if (stream !== undefined) {
      // Trailers: they must end the stream.
      if (stream.remoteEndedFlag) this.streamError(streamId, ErrorCode.STREAM_CLOSED);
      else if (!endStream) this.streamError(streamId, ErrorCode.PROTOCOL_ERROR);
      else {
        stream.remoteEndedFlag = true;
        this.endArrived(stream);
      }
      return;
    }
    if (this.state !== OPEN || this.peerGoaway || this.streams.size >= this.settings.maxConcurrentStreams) {
      this.sendRst(streamId, ErrorCode.REFUSED_STREAM);
      return;
    }
    if (decoded.tooLarge) {
      this.sendRst(streamId, ErrorCode.ENHANCE_YOUR_CALM);
      return;
    }
    const headers = requestHeaders(decoded.fields);
    if (headers === undefined) {
      this.sendRst(streamId, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    this.acceptStream(streamId, headers, endStream);
  }

  private acceptStream(streamId: number, headers: Record<string, string>, endStream: boolean): void {
    const stream = new H2Stream(streamId, this, headers, this.peerInitialWindow, this.streamRecvInitial);
    // Set before onStream, so a trailers-only answer given inside it sends no RST_STREAM.
    stream.remoteEndedFlag = endStream;
    this.streams.set(streamId, stream);
    this.lastAcceptedId = streamId;
    try {
      this.events.onStream(stream);
    } catch {
      this.streamReset(stream, ErrorCode.INTERNAL_ERROR);
      return;
    }
    if (endStream && !stream.closedFlag) this.endArrived(stream);
  }

  /** The client's END_STREAM (already marked): delivered now, or after the DATA held while paused. */
  private endArrived(stream: H2Stream): void {
    if (stream.paused || (stream.held !== undefined && stream.held.length > 0)) {
      stream.endHeld = true;
      return;
    }
    this.deliverEnd(stream);
  }

  private deliverEnd(stream: H2Stream): void {
    stream.endHeld = false;
    stream.endDelivered = true;
    stream.listener?.end();
    if (stream.localEndedFlag && !stream.closedFlag) this.finish(stream, false);
  }

  /** A client reset: its error code does not change what we do. */
  private onRstStream(streamId: number, length: number): void {
    if (length !== 4) throw frameSizeError('RST_STREAM not 4 bytes');
    if (streamId === 0) throw protocolError('RST_STREAM on stream 0');
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      if (streamId > this.highestStreamId) throw protocolError(`RST_STREAM on idle stream ${streamId}`);
      return;
    }
    this.countClientReset();
    this.finish(stream, true);
  }

  /** Counts a client reset of an accepted stream; over the rate it is the rapid-reset attack. */
  private countClientReset(): void {
    const now = this.now();
    if (now - this.resetWindowStart >= 1000) {
      this.resetWindowStart = now;
      this.resetCount = 0;
    }
    if (++this.resetCount > this.maxResetsPerSecond) {
      throw new H2ConnectionError(
        ErrorCode.ENHANCE_YOUR_CALM,
        `over ${this.maxResetsPerSecond} streams reset by the client in a second`,
      );
    }
  }

  private onSettings(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId !== 0) throw protocolError('SETTINGS on a stream');
    if ((flags & Flag.ACK) !== 0) {
      if (end !== start) throw frameSizeError('SETTINGS ACK with a payload');
      this.onSettingsAck();
      return;
    }
    if ((end - start) % 6 !== 0) throw frameSizeError('SETTINGS length not a multiple of 6');
    for (let at = start; at < end; at += 6) {
      const id = buf.readUInt16BE(at);
      const value = buf.readUInt32BE(at + 2);
      switch (id) {
        case Setting.ENABLE_PUSH:
          if (value > 1) throw protocolError(`SETTINGS_ENABLE_PUSH ${value}`);
          break;
        case Setting.INITIAL_WINDOW_SIZE:
          if (value > MAX_WINDOW_BYTES) {
            throw new H2ConnectionError(
              ErrorCode.FLOW_CONTROL_ERROR,
              `SETTINGS_INITIAL_WINDOW_SIZE ${value}`,
            );
          }
          this.applyPeerInitialWindow(value);
          break;
        case Setting.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME_BYTES || value > MAX_FRAME_BYTES_CEILING) {
            throw protocolError(`SETTINGS_MAX_FRAME_SIZE ${value}`);
          }
          this.peerMaxFrameBytes = value;
          break;
        default:
          // HEADER_TABLE_SIZE: we encode with no dynamic table. MAX_CONCURRENT_STREAMS: we push
          // nothing. MAX_HEADER_LIST_SIZE: advisory. Unknown settings are ignored.
          break;
      }
    }
    this.countControlFrame();
    this.out.frameHeader(0, FrameType.SETTINGS, Flag.ACK, 0);
    this.scheduleFlush();
  }

  /** The peer's INITIAL_WINDOW_SIZE changes every open stream's send window by the difference. */
  private applyPeerInitialWindow(value: number): void {
    const delta = value - this.peerInitialWindow;
    this.peerInitialWindow = value;
    if (delta === 0) return;
    for (const stream of this.streams.values()) {
      stream.sendWindow += delta;
      if (stream.sendWindow > MAX_WINDOW_BYTES) {
        throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, `stream ${stream.id} window over 2^31-1`);
      }
      if (delta > 0) this.wantSend(stream);
    }
  }

  /** The peer applied our SETTINGS: streams' receive windows move to our INITIAL_WINDOW_SIZE. */
  private onSettingsAck(): void {
    if (this.settingsAckPending === 0) return;
    this.settingsAckPending--;
    const delta = this.streamWindowBytes - this.streamRecvInitial;
    this.streamRecvInitial = this.streamWindowBytes;
    if (delta === 0) return;
    for (const stream of this.streams.values()) stream.recvWindow += delta;
  }

  private onPing(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (end - start !== 8) throw frameSizeError('PING not 8 bytes');
    if (streamId !== 0) throw protocolError('PING on a stream');
    if ((flags & Flag.ACK) !== 0) {
      if (buf.readUInt32BE(start) !== PING_MARK) return;
      const sequence = buf.readUInt32BE(start + 4);
      const pings = this.pings;
      for (let i = 0; i < pings.length; i++) {
        const ping = pings[i]!;
        if (ping.sequence !== sequence) continue;
        pings.splice(i, 1);
        ping.onAck(true);
        return;
      }
      return;
    }
    this.countControlFrame();
    this.out.frameHeader(8, FrameType.PING, Flag.ACK, 0);
    this.out.bytes(buf, start, end);
    this.scheduleFlush();
  }

  private onWindowUpdate(streamId: number, buf: Buffer, start: number, end: number): void {
    if (end - start !== 4) throw frameSizeError('WINDOW_UPDATE not 4 bytes');
    const increment = buf.readUInt32BE(start) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) throw protocolError('WINDOW_UPDATE of 0 on the connection');
      this.sendWindow += increment;
      if (this.sendWindow > MAX_WINDOW_BYTES) {
        throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection send window over 2^31-1');
      }
      if (this.sendQueue.length > 0) this.scheduleFlush();
      return;
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      if (streamId > this.highestStreamId) throw protocolError(`WINDOW_UPDATE on idle stream ${streamId}`);
      return;
    }
    if (increment === 0) {
      this.streamError(streamId, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW_BYTES) {
      this.streamError(streamId, ErrorCode.FLOW_CONTROL_ERROR);
      return;
    }
    this.wantSend(stream);
  }

  /** A stream error (RFC 9113 section 5.4.2): RST_STREAM `code`, the stream closed if open. */
  private streamError(streamId: number, code: number): void {
    const stream = this.streams.get(streamId);
    if (stream !== undefined) {
      this.countControlFrame();
      this.streamReset(stream, code);
    } else {
      this.sendRst(streamId, code);
    }
  }

  /** An RST_STREAM the peer caused, counted against the control-frame flood bound. */
  private sendRst(streamId: number, code: number): void {
    this.countControlFrame();
    this.emitRst(streamId, code);
  }

  private countControlFrame(): void {
    if (++this.controlFrames > H2_LIMITS.maxQueuedControlFrames) {
      throw new H2ConnectionError(
        ErrorCode.ENHANCE_YOUR_CALM,
        `over ${H2_LIMITS.maxQueuedControlFrames} control frames queued while the socket does not drain`,
      );
    }
  }

  // ---- stream operations (called through H2Stream) ----

  /** @internal */
  streamRespond(stream: H2Stream, block: Buffer, endStream: boolean): void {
    if (stream.headersSent || stream.localEndedFlag || stream.endRequested || this.state === GONE) return;
    stream.headersSent = true;
    this.emitHeaders(stream.id, block, endStream);
    if (endStream) this.localEnd(stream);
  }

  /** @internal */
  streamWrite(stream: H2Stream, data: Buffer, onFlushed: (() => void) | undefined): boolean {
    if (stream.localEndedFlag || stream.endRequested || this.state === GONE) {
      if (onFlushed !== undefined) process.nextTick(onFlushed);
      return false;
    }
    if (!stream.headersSent) throw new Error(`H2Stream ${stream.id}: write before respond`);
    const bytes = data.length;
    if (bytes === 0 && (stream.queue === undefined || stream.queue.length === 0)) {
      if (onFlushed !== undefined) this.addBatchCallback(onFlushed);
      this.scheduleFlush();
      return stream.queuedBytes <= this.streamHighWaterBytes;
    }
    if (
      stream.queuedBytes === 0 &&
      !this.socketBlocked &&
      bytes <= stream.sendWindow &&
      bytes <= this.sendWindow
    ) {
      this.emitData(stream.id, data, 0, bytes);
      stream.sendWindow -= bytes;
      this.sendWindow -= bytes;
      if (onFlushed !== undefined) this.addBatchCallback(onFlushed);
      this.scheduleFlush();
      return true;
    }
    if (stream.queue === undefined || stream.queueCallbacks === undefined) {
      stream.queue = [];
      stream.queueCallbacks = [];
    }
    stream.queue.push(data);
    stream.queueCallbacks.push(onFlushed);
    stream.queuedBytes += bytes;
    this.wantSend(stream);
    if (stream.queuedBytes > this.streamHighWaterBytes) {
      stream.wantDrain = true;
      return false;
    }
    return true;
  }

  /** @internal */
  streamEnd(stream: H2Stream, trailers: Buffer | undefined): void {
    if (stream.localEndedFlag || stream.endRequested || this.state === GONE) return;
    if (!stream.headersSent) {
      if (trailers === undefined) throw new Error(`H2Stream ${stream.id}: end without respond or trailers`);
      this.streamRespond(stream, trailers, true);
      return;
    }
    stream.endRequested = true;
    stream.trailers = trailers;
    if (stream.queuedBytes === 0) this.sendEnd(stream);
  }

  /** @internal */
  streamReply(
    stream: H2Stream,
    block: Buffer,
    data: Buffer,
    trailers: Buffer,
    onFlushed: (() => void) | undefined,
  ): void {
    if (stream.headersSent || stream.localEndedFlag || stream.endRequested || this.state === GONE) {
      if (onFlushed !== undefined) process.nextTick(onFlushed);
      return;
    }
    const bytes = data.length;
    if (this.socketBlocked || bytes > stream.sendWindow || bytes > this.sendWindow) {
      this.streamRespond(stream, block, false);
      this.streamWrite(stream, data, onFlushed);
      this.streamEnd(stream, trailers);
      return;
    }
    stream.headersSent = true;
    const id = stream.id;
    this.emitHeaders(id, block, false);
    this.emitData(id, data, 0, bytes);
    stream.sendWindow -= bytes;
    this.sendWindow -= bytes;
    this.emitHeaders(id, trailers, true);
    if (onFlushed !== undefined) this.addBatchCallback(onFlushed);
    this.localEnd(stream);
  }

  /** @internal */
  streamReset(stream: H2Stream, code: number): void {
    if (stream.closedFlag) return;
    if (!stream.localEndedFlag && this.state !== GONE) this.emitRst(stream.id, code);
    this.finish(stream, true);
  }

  /** @internal Delivers what was held while paused, then a held end; stops if paused again. */
  streamResume(stream: H2Stream): void {
    const held = stream.held;
    if (held !== undefined) {
      while (held.length > 0 && !stream.paused && !stream.closedFlag) {
        this.deliver(stream, held.shift()!);
      }
      if (held.length > 0 || stream.paused || stream.closedFlag) return;
    }
    if (stream.endHeld) this.deliverEnd(stream);
  }

  /** Our END_STREAM (trailers or an empty DATA) after the last queued byte. */
  private sendEnd(stream: H2Stream): void {
    const trailers = stream.trailers;
    stream.trailers = undefined;
    stream.endRequested = false;
    if (trailers !== undefined) this.emitHeaders(stream.id, trailers, true);
    else {
      this.out.frameHeader(0, FrameType.DATA, Flag.END_STREAM, stream.id);
      this.scheduleFlush();
    }
    this.localEnd(stream);
  }

  /** Our END_STREAM is queued: RST_STREAM NO_ERROR if the client is still open, then close. */
  private localEnd(stream: H2Stream): void {
    stream.localEndedFlag = true;
    if (!stream.remoteEndedFlag) {
      this.emitRst(stream.id, ErrorCode.NO_ERROR);
      this.finish(stream, false);
    } else if (stream.endDelivered) {
      this.finish(stream, false);
    }
    // Else the client's end waits in a paused stream: resume delivers it and closes.
  }

  /** The stream is gone: forgotten, its unsent bytes' callbacks run, its listener told once. */
  private finish(stream: H2Stream, aborted: boolean): void {
    if (stream.closedFlag) return;
    stream.closedFlag = true;
    stream.localEndedFlag = true;
    stream.endRequested = false;
    this.streams.delete(stream.id);
    const callbacks = stream.queueCallbacks;
    stream.queue = undefined;
    stream.queueCallbacks = undefined;
    stream.queuedBytes = 0;
    stream.held = undefined;
    stream.trailers = undefined;
    if (callbacks !== undefined) {
      for (let i = 0; i < callbacks.length; i++) callbacks[i]?.();
    }
    const listener = stream.listener;
    stream.listener = undefined;
    listener?.close(aborted);
    if (this.state === CLOSING && this.streams.size === 0) this.scheduleFlush();
  }

  // ---- frames out ----

  /** Puts a stream with queued DATA and window in the send queue. */
  private wantSend(stream: H2Stream): void {
    if (stream.inSendQueue || stream.queuedBytes === 0 || stream.sendWindow <= 0) return;
    stream.inSendQueue = true;
    this.sendQueue.push(stream);
    this.scheduleFlush();
  }

  private addBatchCallback(callback: () => void): void {
    if (this.batchCallbacks === undefined) this.batchCallbacks = [callback];
    else this.batchCallbacks.push(callback);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.state === GONE) return;
    this.flushScheduled = true;
    setImmediate(this.flushBound);
  }

  /** One socket write of everything queued this turn, DATA from the streams included. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.state === GONE) return;
    if (!this.socketBlocked && this.sendQueue.length > 0 && this.sendWindow > 0) this.pump();
    const buf = this.out.take();
    if (buf !== undefined) {
      const callbacks = this.batchCallbacks;
      this.batchCallbacks = undefined;
      const ok = this.socket.write(buf, callbacks === undefined ? undefined : () => runAll(callbacks));
      if (!ok) this.socketBlocked = true;
      else {
        this.controlFrames = 0;
        if (this.sendQueue.length > 0 && this.sendWindow > 0) this.scheduleFlush();
      }
    }
    if (this.drainList.length > 0) this.notifyDrains();
    if (this.state === CLOSING && this.streams.size === 0 && !this.flushScheduled) {
      this.state = GONE;
      this.socket.end();
    }
  }

  private notifyDrains(): void {
    const list = this.drainList;
    this.drainList = [];
    for (let i = 0; i < list.length; i++) {
      const stream = list[i]!;
      if (stream.closedFlag || !stream.wantDrain) continue;
      stream.wantDrain = false;
      stream.listener?.drain();
    }
  }

  /** Moves queued DATA into the output as the windows allow, streams in order. */
  private pump(): void {
    const queue = this.sendQueue;
    let budget = H2_LIMITS.maxFlushDataBytes;
    let keep = 0;
    for (let i = 0; i < queue.length; i++) {
      const stream = queue[i]!;
      if (!stream.closedFlag && budget > 0 && this.sendWindow > 0) budget -= this.pumpStream(stream, budget);
      if (!stream.closedFlag && stream.queuedBytes > 0 && stream.sendWindow > 0) queue[keep++] = stream;
      else stream.inSendQueue = false;
    }
    queue.length = keep;
  }

  /** Sends what one stream's queue and the windows allow (at most `budget` bytes); returns the bytes sent. */
  private pumpStream(stream: H2Stream, budget: number): number {
    const queue = stream.queue!;
    const callbacks = stream.queueCallbacks!;
    const maxFrame = this.peerMaxFrameBytes;
    let sent = 0;
    while (queue.length > 0) {
      const chunk = queue[0]!;
      const offset = stream.queueOffset;
      const left = chunk.length - offset;
      if (left > 0) {
        const allowed = Math.min(stream.sendWindow, this.sendWindow, budget - sent);
        if (allowed <= 0) break;
        const n = Math.min(left, allowed, maxFrame);
        this.out.data(stream.id, chunk, offset, offset + n, maxFrame);
        stream.sendWindow -= n;
        this.sendWindow -= n;
        stream.queuedBytes -= n;
        sent += n;
        if (n < left) {
          stream.queueOffset = offset + n;
          continue;
        }
      }
      queue.shift();
      const callback = callbacks.shift();
      stream.queueOffset = 0;
      if (callback !== undefined) this.addBatchCallback(callback);
    }
    if (stream.wantDrain && stream.queuedBytes <= this.streamHighWaterBytes) this.drainList.push(stream);
    if (stream.queuedBytes === 0 && stream.endRequested) this.sendEnd(stream);
    return sent;
  }

  /** DATA frames for `data[start, end)`, split to the peer's MAX_FRAME_SIZE, no END_STREAM. */
  private emitData(streamId: number, data: Buffer, start: number, end: number): void {
    const maxFrame = this.peerMaxFrameBytes;
    for (let at = start; at < end; at += maxFrame) {
      const stop = Math.min(end, at + maxFrame);
      this.out.data(streamId, data, at, stop, maxFrame);
    }
  }

  /** HEADERS (+ CONTINUATION when over the peer's MAX_FRAME_SIZE); the first block of the
   *  connection starts with a dynamic table size update to 0, as we encode with no table. */
  private emitHeaders(streamId: number, block: Buffer, endStream: boolean): void {
    let payload = block;
    if (!this.firstHeadersSent) {
      this.firstHeadersSent = true;
      payload = Buffer.concat([TABLE_SIZE_ZERO, block]);
    }
    const endFlag = endStream ? Flag.END_STREAM : 0;
    const maxFrame = this.peerMaxFrameBytes;
    if (payload.length <= maxFrame) {
      this.out.frameHeader(payload.length, FrameType.HEADERS, endFlag | Flag.END_HEADERS, streamId);
      this.out.bytes(payload, 0, payload.length);
    } else {
      this.out.frameHeader(maxFrame, FrameType.HEADERS, endFlag, streamId);
      this.out.bytes(payload, 0, maxFrame);
      for (let at = maxFrame; at < payload.length; at += maxFrame) {
        const stop = Math.min(payload.length, at + maxFrame);
        const last = stop === payload.length;
        this.out.frameHeader(stop - at, FrameType.CONTINUATION, last ? Flag.END_HEADERS : 0, streamId);
        this.out.bytes(payload, at, stop);
      }
    }
    this.scheduleFlush();
  }

  private emitRst(streamId: number, code: number): void {
    this.out.frameHeader(4, FrameType.RST_STREAM, 0, streamId);
    this.out.uint32(code);
    this.scheduleFlush();
  }

  private emitWindowUpdate(streamId: number, increment: number): void {
    this.out.frameHeader(4, FrameType.WINDOW_UPDATE, 0, streamId);
    this.out.uint32(increment);
    this.scheduleFlush();
  }

  private emitGoaway(code: number): void {
    this.out.frameHeader(8, FrameType.GOAWAY, 0, 0);
    this.out.uint32(this.lastAcceptedId);
    this.out.uint32(code);
  }

  /** Our SETTINGS and the connection WINDOW_UPDATE, first thing. */
  private sendSettings(): void {
    const entries: number[] = [
      Setting.MAX_CONCURRENT_STREAMS,
      this.settings.maxConcurrentStreams,
      Setting.MAX_HEADER_LIST_SIZE,
      this.settings.maxHeaderListBytes,
      Setting.ENABLE_PUSH,
      0,
    ];
    if (this.streamWindowBytes !== DEFAULT_WINDOW_BYTES) {
      entries.push(Setting.INITIAL_WINDOW_SIZE, this.streamWindowBytes);
    }
    this.out.frameHeader(3 * entries.length, FrameType.SETTINGS, 0, 0);
    for (let i = 0; i < entries.length; i += 2) {
      this.out.uint16(entries[i]!);
      this.out.uint32(entries[i + 1]!);
    }
    const raise = this.connectionWindowBytes - DEFAULT_WINDOW_BYTES;
    if (raise > 0) {
      this.emitWindowUpdate(0, raise);
      this.recvWindow += raise;
    }
    this.scheduleFlush();
  }
}

function protocolError(message: string): H2ConnectionError {
  return new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, message);
}

function frameSizeError(message: string): H2ConnectionError {
  return new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, message);
}

export { ErrorCode as H2ErrorCode } from './frames.js';
