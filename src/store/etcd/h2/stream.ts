import type { H2Connection } from './connection.js';

/** What the owner of a stream hears. Set `stream.listener` synchronously inside `onStream`. */
export interface H2StreamListener {
  /** DATA payload (padding removed), in order; not called while paused. */
  data(chunk: Buffer): void;
  /** The client half-closed (END_STREAM on DATA or on HEADERS/trailers). */
  end(): void;
  /** The stream is gone for good (both sides closed, or reset by either side, or the connection
   *  closed). Called exactly once per stream, after `end` when both apply. `aborted` is true
   *  when it ended otherwise than by our END_STREAM after the client's (a client RST_STREAM,
   *  our own `reset`, connection loss / destroy / GOAWAY cancellation). Our own end while the
   *  client is still open (END_STREAM, then RST_STREAM NO_ERROR) closes with `aborted` false. */
  close(aborted: boolean): void;
  /** `write` returned false earlier and the stream's queued bytes are back under its high-water mark. */
  drain(): void;
}

/** Request pseudo-headers (RFC 9113 section 8.3.1; `:protocol` from RFC 8441). */
const REQUEST_PSEUDO_HEADERS = new Set([':method', ':scheme', ':authority', ':path', ':protocol']);
/** Connection-specific fields, malformed in HTTP/2 (RFC 9113 section 8.2.2). */
const CONNECTION_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Request headers from a decoded field list: names as sent (lower-case is checked), pseudo-headers
 * first, duplicates joined with ', '. Undefined when the request is malformed (RFC 9113 section
 * 8.1.1: a stream error PROTOCOL_ERROR).
 */
export function requestHeaders(fields: readonly string[]): Record<string, string> | undefined {
  const headers: Record<string, string> = Object.create(null);
  let regular = false;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    if (name.length === 0) return undefined;
    if (name.charCodeAt(0) === 0x3a) {
      if (regular || !REQUEST_PSEUDO_HEADERS.has(name) || headers[name] !== undefined) return undefined;
      headers[name] = value;
      continue;
    }
    regular = true;
    for (let c = 0; c < name.length; c++) {
      const code = name.charCodeAt(c);
      if (code >= 0x41 && code <= 0x5a) return undefined;
    }
    if (CONNECTION_HEADERS.has(name) || (name === 'te' && value !== 'trailers')) return undefined;
    const previous = headers[name];
    headers[name] = previous === undefined ? value : `${previous}, ${value}`;
  }
  const method = headers[':method'];
  if (method === undefined) return undefined;
  if (method !== 'CONNECT' && (headers[':path'] === undefined || headers[':scheme'] === undefined)) {
    return undefined;
  }
  return headers;
}

/**
 * One request stream. Its state lives here; the protocol work is the connection's (the stream's
 * methods delegate). Fields marked internal are the connection's to use.
 */
export class H2Stream {
  listener: H2StreamListener | undefined = undefined;
  /** @internal Bytes we may still send (the peer's window for it; may go negative). */
  sendWindow: number;
  /** @internal Bytes the peer may still send before our next WINDOW_UPDATE. */
  recvWindow: number;
  /** @internal Bytes delivered (or padding) not yet returned with a WINDOW_UPDATE. */
  recvUnacked = 0;
  /** @internal DATA waiting for windows or the socket, oldest first. */
  queue: Buffer[] | undefined = undefined;
  /** @internal The `onFlushed` of each queued chunk (parallel to `queue`). */
  queueCallbacks: ((() => void) | undefined)[] | undefined = undefined;
  /** @internal Bytes of `queue[0]` already sent. */
  queueOffset = 0;
  /** @internal Unsent bytes in `queue`. */
  queuedBytes = 0;
  /** @internal In the connection's list of streams with DATA to send. */
  inSendQueue = false;
  /** @internal `write` returned false: a `drain` is owed. */
  wantDrain = false;
  /** @internal `end` was called; it goes out once the queue is empty. */
  endRequested = false;
  /** @internal The trailers `end` was given. */
  trailers: Buffer | undefined = undefined;
  /** @internal Response HEADERS went out. */
  headersSent = false;
  /** @internal DATA received while paused, oldest first. */
  held: Buffer[] | undefined = undefined;
  /** @internal The client's END_STREAM arrived while DATA was held. */
  endHeld = false;
  /** @internal `listener.end` was called. */
  endDelivered = false;
  /** @internal */
  paused = false;
  /** @internal */
  remoteEndedFlag = false;
  /** @internal */
  localEndedFlag = false;
  /** @internal */
  closedFlag = false;

  constructor(
    readonly id: number,
    readonly connection: H2Connection,
    /** Request headers, lower-case names incl. pseudo-headers (':method', ':path', ...);
     *  duplicates joined with ', ' (as Node's IncomingHttpHeaders). */
    readonly headers: Record<string, string>,
    sendWindow: number,
    recvWindow: number,
  ) {
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  /** The client sent END_STREAM. */
  get remoteEnded(): boolean {
    return this.remoteEndedFlag;
  }

  /** We can no longer send on it (we ended it, it was reset, or the connection is gone). */
  get localEnded(): boolean {
    return this.localEndedFlag || this.endRequested;
  }

  /** close() was delivered / the stream is gone. */
  get closed(): boolean {
    return this.closedFlag;
  }

  /** DATA bytes received while paused and not yet delivered. */
  get heldBytes(): number {
    let bytes = 0;
    if (this.held !== undefined) for (const chunk of this.held) bytes += chunk.length;
    return bytes;
  }

  /** write() would return false now. */
  get needDrain(): boolean {
    return this.queuedBytes > this.connection.streamHighWaterBytes;
  }

  /** Sends the response HEADERS. `block` is an HPACK block (from encodeHeaderBlock, precomputed
   *  by the caller; the connection prepends TABLE_SIZE_ZERO on its first block itself).
   *  `endStream`: this response is headers-only (trailers-only gRPC answer). Ignored once the
   *  stream ended or its headers went out. */
  respond(block: Buffer, endStream: boolean): void {
    this.connection.streamRespond(this, block, endStream);
  }

  /** Queues DATA (split to the peer's MAX_FRAME_SIZE, sent as the peer's stream and connection
   *  windows allow). Returns false once the stream's unsent bytes exceed its high-water mark
   *  (16 KiB), then `listener.drain()` follows. `onFlushed` runs once these bytes were handed to
   *  the socket and the socket accepted them (its write callback), or when the stream/connection
   *  is destroyed before that (so a caller's byte accounting always comes back); on a stream that
   *  can no longer send it runs on the next tick and nothing is sent. Must follow `respond`. */
  write(data: Buffer, onFlushed?: () => void): boolean {
    return this.connection.streamWrite(this, data, onFlushed);
  }

  /** Ends our side after every queued DATA byte: with trailers (an HPACK block, HEADERS with
   *  END_STREAM) when given, else an empty DATA frame with END_STREAM. If the client has not
   *  half-closed by then, follows it with RST_STREAM NO_ERROR, as grpc-go does. Without a prior
   *  `respond`, the trailers are sent as a headers-only response. */
  end(trailers?: Buffer): void {
    this.connection.streamEnd(this, trailers);
  }

  /** A unary reply in one go: HEADERS `block`, DATA `data`, trailers `trailers` with END_STREAM
   *  (+ RST_STREAM NO_ERROR if the client is still open), all in the connection's next socket
   *  write. `onFlushed` as for write. */
  reply(block: Buffer, data: Buffer, trailers: Buffer, onFlushed?: () => void): void {
    this.connection.streamReply(this, block, data, trailers, onFlushed);
  }

  /** RST_STREAM `code`; queued data is dropped (their onFlushed callbacks run, synchronously);
   *  close(true). Nothing when the stream is already closed. */
  reset(code: number): void {
    this.connection.streamReset(this, code);
  }

  /** Stop delivering DATA and stop returning receive window for this stream (the client then
   *  blocks on flow control); buffered chunks wait (bounded by the stream window we advertise). */
  pause(): void {
    this.paused = true;
  }

  /** Delivers the chunks held while paused (and a held end), then new DATA as it comes. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.connection.streamResume(this);
  }
}
