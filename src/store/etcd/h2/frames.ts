/**
 * HTTP/2 framing (RFC 9113 section 4 and 6): the frame types, flags, error codes and settings the
 * server connection uses, an incremental frame parser and a per-flush output buffer. Pure code, no
 * IO: `connection.ts` drives both.
 */

/** The 24 bytes every HTTP/2 client sends first (RFC 9113 section 3.4). */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Bytes of a frame header: 24-bit length, type, flags, 31-bit stream id. */
export const FRAME_HEADER_BYTES = 9;
/** SETTINGS_MAX_FRAME_SIZE's default and floor: the largest payload we accept (we never raise it). */
export const DEFAULT_MAX_FRAME_BYTES = 16384;
/** SETTINGS_MAX_FRAME_SIZE's ceiling (2^24 - 1). */
export const MAX_FRAME_BYTES_CEILING = 16777215;
/** The initial flow-control window of every stream and of the connection (RFC 9113 section 6.9.2). */
export const DEFAULT_WINDOW_BYTES = 65535;
/** The largest flow-control window (2^31 - 1). */
export const MAX_WINDOW_BYTES = 2147483647;

/** Frame types (RFC 9113 section 6). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags; each is meaningful on the frame types named. */
export const Flag = {
  /** DATA, HEADERS. */
  END_STREAM: 0x1,
  /** SETTINGS, PING. */
  ACK: 0x1,
  /** HEADERS, CONTINUATION. */
  END_HEADERS: 0x4,
  /** DATA, HEADERS. */
  PADDED: 0x8,
  /** HEADERS. */
  PRIORITY: 0x20,
} as const;

/** Error codes of RST_STREAM and GOAWAY (RFC 9113 section 7). */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** SETTINGS identifiers (RFC 9113 section 6.5.2). */
export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/**
 * A connection error (RFC 9113 section 5.4.1): the connection answers GOAWAY `code` and closes.
 * Thrown inside the frame handlers and caught by the connection's socket handler; never leaves it.
 */
export class H2ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'H2ConnectionError';
  }
}

/** What a {@link FrameParser} hands each complete frame to. */
export interface FrameSink {
  /**
   * One frame: its payload is `buf[start, end)`. `buf` is the socket's chunk when the frame lay in
   * one chunk (no copy) or a buffer of the frame's own; either way the sink may keep subarrays.
   */
  frame(type: number, flags: number, streamId: number, buf: Buffer, start: number, end: number): void;
}

/**
 * Cuts a byte stream into frames over arbitrary chunk boundaries. A frame lying whole inside a
 * chunk is handed over as a range of that chunk; only a frame split across chunks is gathered into
 * a buffer of its own (sized from its header, so at most `maxFrameBytes` + 9 bytes are held).
 *
 * Contract: frames reach the sink in order; a frame longer than `maxFrameBytes` throws
 * {@link H2ConnectionError} FRAME_SIZE_ERROR before any of its payload is kept. After a throw the
 * parser must not be used again (the connection closes).
 */
export class FrameParser {
  /** Header bytes of a frame split across chunks. */
  private readonly head = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  private headFill = 0;
  /** Payload of a split frame whose header is complete; undefined while reading a header. */
  private body: Buffer | undefined = undefined;
  private bodyFill = 0;

  constructor(
    private readonly sink: FrameSink,
    private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
  ) {}

  /** Bytes held of a frame split across chunks (0 between frames). */
  get bufferedBytes(): number {
    return this.headFill + this.bodyFill;
  }

  /** Takes the next chunk from the socket, from `start`. */
  push(chunk: Buffer, start = 0): void {
    let at = start;
    if (this.headFill > 0) {
      at = this.continueSplit(chunk, at);
      if (this.headFill > 0) return;
    }
    const len = chunk.length;
    while (len - at >= FRAME_HEADER_BYTES) {
      const frameLen = (chunk[at]! << 16) | (chunk[at + 1]! << 8) | chunk[at + 2]!;
      this.checkLength(frameLen);
      const payloadStart = at + FRAME_HEADER_BYTES;
      if (len - payloadStart < frameLen) break;
      const streamId = chunk.readUInt32BE(at + 5) & 0x7fffffff;
      const next = payloadStart + frameLen;
      this.sink.frame(chunk[at + 3]!, chunk[at + 4]!, streamId, chunk, payloadStart, next);
      at = next;
    }
    if (at < len) this.continueSplit(chunk, at);
  }

  /** Feeds `chunk[at..]` into the split frame (starting one if none); returns where it stopped. */
  private continueSplit(chunk: Buffer, at: number): number {
    const len = chunk.length;
    if (this.body === undefined) {
      const take = Math.min(FRAME_HEADER_BYTES - this.headFill, len - at);
      chunk.copy(this.head, this.headFill, at, at + take);
      this.headFill += take;
      at += take;
      if (this.headFill < FRAME_HEADER_BYTES) return at;
      const frameLen = this.head.readUIntBE(0, 3);
      this.checkLength(frameLen);
      this.body = Buffer.allocUnsafe(frameLen);
      this.bodyFill = 0;
    }
    const body = this.body;
    const take = Math.min(body.length - this.bodyFill, len - at);
    chunk.copy(body, this.bodyFill, at, at + take);
    this.bodyFill += take;
    at += take;
    if (this.bodyFill < body.length) return at;
    const head = this.head;
    const type = head[3]!;
    const flags = head[4]!;
    const streamId = head.readUInt32BE(5) & 0x7fffffff;
    this.headFill = 0;
    this.body = undefined;
    this.bodyFill = 0;
    this.sink.frame(type, flags, streamId, body, 0, body.length);
    return at;
  }

  private checkLength(frameLen: number): void {
    if (frameLen > this.maxFrameBytes) {
      throw new H2ConnectionError(
        ErrorCode.FRAME_SIZE_ERROR,
        `frame of ${frameLen} bytes is over our SETTINGS_MAX_FRAME_SIZE of ${this.maxFrameBytes}`,
      );
    }
  }
}

/**
 * Capacity of an {@link OutputBuffer}'s reused scratch buffer: flushes up to this size are copied
 * out into a buffer of their exact size (from Node's pool when under 4 KiB), so the socket keeps
 * nothing larger alive; bigger flushes grow a buffer of their own and hand it over whole.
 */
const OUTPUT_SCRATCH_BYTES = 16384;

/**
 * The frames of one flush, written straight into one buffer, so a flush is one socket write of
 * one buffer and frame headers cost no allocation of their own. {@link take} hands the bytes over
 * and starts afresh (the socket keeps what it was given until written).
 */
export class OutputBuffer {
  private readonly scratch: Buffer = Buffer.allocUnsafe(OUTPUT_SCRATCH_BYTES);
  private buf: Buffer = this.scratch;
  private fill = 0;
  /** Offset of the last frame's header while that frame is a flagless DATA frame ending the buffer (else -1). */
  private dataAt = -1;
  /** The stream of the DATA frame at {@link dataAt}. */
  private dataStream = 0;

  /** Bytes queued since the last {@link take}. */
  get length(): number {
    return this.fill;
  }

  /** Makes room for `bytes` more; returns the buffer to write at {@link length}. */
  private reserve(bytes: number): Buffer {
    const need = this.fill + bytes;
    if (need > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < need) size *= 2;
      const grown = Buffer.allocUnsafe(size);
      if (this.fill > 0) this.buf.copy(grown, 0, 0, this.fill);
      this.buf = grown;
    }
    return this.buf;
  }

  /** A frame header followed by `payloadBytes` the caller appends with {@link bytes}. */
  frameHeader(payloadBytes: number, type: number, flags: number, streamId: number): void {
    const buf = this.reserve(FRAME_HEADER_BYTES + payloadBytes);
    const at = this.fill;
    buf[at] = payloadBytes >>> 16;
    buf[at + 1] = (payloadBytes >>> 8) & 0xff;
    buf[at + 2] = payloadBytes & 0xff;
    buf[at + 3] = type;
    buf[at + 4] = flags;
    buf.writeUInt32BE(streamId, at + 5);
    this.fill = at + FRAME_HEADER_BYTES;
    this.dataAt = -1;
  }

  /**
   * DATA payload `src[start, end)` for `streamId`, without flags. When the last frame queued is a
   * DATA frame of the same stream and the sum stays within `maxFrameBytes`, the payload extends
   * that frame instead: a stream's writes of one turn (a watch's responses) reach the peer as one
   * frame rather than one each, as nghttp2 sends them. The caller keeps `end - start` within
   * `maxFrameBytes`.
   */
  data(streamId: number, src: Uint8Array, start: number, end: number, maxFrameBytes: number): void {
    const n = end - start;
    const at = this.dataAt;
    if (at >= 0 && this.dataStream === streamId) {
      const b = this.buf;
      const total = ((b[at]! << 16) | (b[at + 1]! << 8) | b[at + 2]!) + n;
      if (total <= maxFrameBytes) {
        this.bytes(src, start, end);
        const grown = this.buf;
        grown[at] = total >>> 16;
        grown[at + 1] = (total >>> 8) & 0xff;
        grown[at + 2] = total & 0xff;
        return;
      }
    }
    this.frameHeader(n, FrameType.DATA, 0, streamId);
    this.dataAt = this.fill - FRAME_HEADER_BYTES;
    this.dataStream = streamId;
    this.bytes(src, start, end);
  }

  /** Appends `src[start, end)`. */
  bytes(src: Uint8Array, start: number, end: number): void {
    const buf = this.reserve(end - start);
    buf.set(start === 0 && end === src.length ? src : src.subarray(start, end), this.fill);
    this.fill += end - start;
  }

  /** Appends one byte. */
  byte(value: number): void {
    const buf = this.reserve(1);
    buf[this.fill++] = value;
  }

  /** Appends a 32-bit big-endian integer. */
  uint32(value: number): void {
    const buf = this.reserve(4);
    buf.writeUInt32BE(value >>> 0, this.fill);
    this.fill += 4;
  }

  /** Appends a 16-bit big-endian integer. */
  uint16(value: number): void {
    const buf = this.reserve(2);
    buf.writeUInt16BE(value, this.fill);
    this.fill += 2;
  }

  /** The bytes queued (undefined when none), and a fresh start. */
  take(): Buffer | undefined {
    const fill = this.fill;
    if (fill === 0) return undefined;
    this.fill = 0;
    this.dataAt = -1;
    if (this.buf === this.scratch) {
      const out = Buffer.allocUnsafe(fill);
      this.scratch.copy(out, 0, 0, fill);
      return out;
    }
    const out = this.buf.subarray(0, fill);
    this.buf = this.scratch;
    return out;
  }
}

/** Names of the error codes, for messages. */
export function errorCodeName(code: number): string {
  for (const name in ErrorCode) {
    if (ErrorCode[name as keyof typeof ErrorCode] === code) return name;
  }
  return `0x${code.toString(16)}`;
}
