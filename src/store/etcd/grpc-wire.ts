import { GRPC } from '../errors.js';

/**
 * The gRPC-over-HTTP/2 wire format the etcd server speaks (grpc's PROTOCOL-HTTP2.md): the
 * length-prefixed message framing, the `grpc-timeout` header and the percent-encoding of
 * `grpc-message`. Pure functions and one incremental reader; no IO.
 */

/** A gRPC status: code and human-readable message. */
export interface GrpcStatus {
  readonly code: number;
  readonly details: string;
}

/** Bytes of a message's prefix: one compressed flag, four bytes of big-endian length. */
export const FRAME_PREFIX_BYTES = 5;

/** `message` with its 5-byte prefix (uncompressed), ready for one DATA write. */
export function frameMessage(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, FRAME_PREFIX_BYTES);
  return out;
}

/**
 * Splits a request stream's DATA into messages: a message may span chunks and a chunk may hold
 * several. A message's length is checked against `maxMessageBytes` as soon as its prefix is
 * read, before any of its body is kept, so a client cannot make the server buffer more than that
 * per call (grpc-js's wording for the refusal). A set compressed flag is refused: Cairn installs
 * no decompressor and advertises `grpc-accept-encoding: identity`; the wording is grpc-go's
 * (`checkRecvPayload`), which etcd's own server would answer, and its codes: INTERNAL when the
 * call named no encoding, UNIMPLEMENTED when it named one.
 *
 * Contract: {@link push} returns the complete messages in order (subarrays of the chunks when a
 * message lies in one chunk, else a copy), or a status once the stream is refused; after a
 * refusal every later push returns it again and keeps nothing.
 */
export class MessageReader {
  /** A prefix split across chunks is gathered here (allocated on first need: most never are). */
  private prefix: Buffer | undefined = undefined;
  private prefixFill = 0;
  /** Body of the message being read; undefined while reading a prefix. */
  private body: Buffer | undefined = undefined;
  private bodyFill = 0;
  private refusal: GrpcStatus | undefined = undefined;
  /** Body bytes this reader holds now (a partial message), for tests and accounting. */
  bufferedBytes = 0;

  /**
   * @param maxMessageBytes largest message body accepted.
   * @param encoding the call's `grpc-encoding` header, named in the refusal of a compressed message.
   */
  constructor(
    private readonly maxMessageBytes: number,
    private readonly encoding: string | undefined,
  ) {}

  /** True when the bytes so far end inside a message (a truncated request if the stream ends). */
  get midMessage(): boolean {
    return this.prefixFill > 0 || this.body !== undefined;
  }

  /** Takes the next chunk of DATA. */
  push(chunk: Buffer): Buffer[] | GrpcStatus {
    if (this.refusal !== undefined) return this.refusal;
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.body === undefined) {
        // Fast path: a whole message inside this chunk, no copy.
        if (this.prefixFill === 0 && chunk.length - at >= FRAME_PREFIX_BYTES) {
          const problem = this.checkPrefix(chunk[at]!, chunk.readUInt32BE(at + 1));
          if (problem !== undefined) return this.refuse(problem);
          const len = chunk.readUInt32BE(at + 1);
          const start = at + FRAME_PREFIX_BYTES;
          if (chunk.length - start >= len) {
            out.push(chunk.subarray(start, start + len));
            at = start + len;
            continue;
          }
          this.startBody(len);
          at = start;
          continue;
        }
        const take = Math.min(FRAME_PREFIX_BYTES - this.prefixFill, chunk.length - at);
        this.prefix ??= Buffer.allocUnsafe(FRAME_PREFIX_BYTES);
        chunk.copy(this.prefix, this.prefixFill, at, at + take);
        this.prefixFill += take;
        at += take;
        if (this.prefixFill < FRAME_PREFIX_BYTES) break;
        this.prefixFill = 0;
        const len = this.prefix.readUInt32BE(1);
        const problem = this.checkPrefix(this.prefix[0]!, len);
        if (problem !== undefined) return this.refuse(problem);
        this.startBody(len);
        if (len === 0) out.push(this.finishBody());
        continue;
      }
      const take = Math.min(this.body.length - this.bodyFill, chunk.length - at);
      chunk.copy(this.body, this.bodyFill, at, at + take);
      this.bodyFill += take;
      this.bufferedBytes += take;
      at += take;
      if (this.bodyFill === this.body.length) out.push(this.finishBody());
    }
    return out;
  }

  private startBody(len: number): void {
    this.body = Buffer.allocUnsafe(len);
    this.bodyFill = 0;
  }

  private finishBody(): Buffer {
    const b = this.body!;
    this.body = undefined;
    this.bodyFill = 0;
    this.bufferedBytes = 0;
    return b;
  }

  private checkPrefix(flag: number, len: number): GrpcStatus | undefined {
    if (flag === 1) {
      if (this.encoding === undefined || this.encoding === '' || this.encoding === 'identity')
        return { code: GRPC.INTERNAL, details: 'grpc: compressed flag set with identity or empty encoding' };
      return {
        code: GRPC.UNIMPLEMENTED,
        details: `grpc: Decompressor is not installed for grpc-encoding ${JSON.stringify(this.encoding)}`,
      };
    }
    if (flag !== 0)
      return { code: GRPC.INTERNAL, details: `grpc: received unexpected payload format ${flag}` };
    if (len > this.maxMessageBytes)
      return {
        code: GRPC.RESOURCE_EXHAUSTED,
        details: `Received message larger than max (${len} vs ${this.maxMessageBytes})`,
      };
    return undefined;
  }

  private refuse(status: GrpcStatus): GrpcStatus {
    this.refusal = status;
    this.body = undefined;
    this.bufferedBytes = 0;
    return status;
  }
}

/** Milliseconds per unit of `grpc-timeout`. */
const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};

/**
 * A `grpc-timeout` header's value in milliseconds (possibly fractional), or undefined when it is
 * not the spec's `1*8DIGIT unit` with unit one of `H M S m u n`.
 */
export function parseGrpcTimeout(value: string): number | undefined {
  const n = value.length;
  if (n < 2 || n > 9) return undefined;
  const unit = TIMEOUT_UNIT_MS[value[n - 1]!];
  if (unit === undefined) return undefined;
  let digits = 0;
  for (let i = 0; i < n - 1; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    digits = digits * 10 + (c - 48);
  }
  return digits * unit;
}

/**
 * `text` as a `grpc-message` value: UTF-8, with every byte outside printable ASCII (0x20-0x7E)
 * and `%` itself written as `%XX`, as the spec says.
 */
export function encodeGrpcMessage(text: string): string {
  let plain = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return text;
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) {
    if (b >= 0x20 && b <= 0x7e && b !== 0x25) out += String.fromCharCode(b);
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The text of a `grpc-message` value: `%XX` sequences are decoded as UTF-8 bytes; a `%` not
 * followed by two hex digits is kept as it is (the spec asks receivers not to fail on it).
 */
export function decodeGrpcMessage(value: string): string {
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  let i = 0;
  while (i < value.length) {
    if (value.charCodeAt(i) === 0x25 && HEX_PAIR.test(value.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(value.slice(i + 1, i + 3), 16));
      i += 3;
      continue;
    }
    const ch = String.fromCodePoint(value.codePointAt(i)!);
    for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
    i += ch.length;
  }
  return Buffer.from(bytes).toString('utf8');
}

const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;
