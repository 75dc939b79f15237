import type { RespLimits } from './limits.js';
import { splitInlineArgs } from './split-args.js';

/**
 * The request half of RESP: an incremental parser of what clients send, multibulk arrays of bulk
 * strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline commands (`GET k\r\n`, for telnet).
 *
 * Contract:
 * - Input arrives in chunks split anywhere; {@link RespParser.push} takes one and
 *   {@link RespParser.next} returns complete commands one at a time, so the caller decides how
 *   many it takes (pipelining depth) and the rest stay unparsed.
 * - Nothing throws on any input. Malformed input yields one {@link ProtocolError} with Redis's
 *   text (the server answers `-ERR Protocol error: ...` and closes, as Redis does); the parser is
 *   then dead and yields it again.
 * - Memory is bounded: header and inline lines by `maxInlineBytes`, arguments by `maxArgs`,
 *   bulk strings by `maxBulkBytes`, everything held for one command by `maxQueryBufferBytes`;
 *   before authentication by the smaller `maxUnauthenticated*` limits (Redis 7's rule).
 * - Cost: arguments are views of the input chunks (no copy) unless an argument spans chunks; a
 *   bulk string larger than one chunk is copied once into a buffer of its final size, so a large
 *   value arriving in many chunks costs linear time.
 */

/** A malformed request: the connection answers `-ERR Protocol error: <reason>` and closes. */
export interface ProtocolError {
  readonly protocolError: string;
}

/** Bulk strings at least this long that arrive split are assembled in their own buffer. */
const LARGE_BULK_BYTES = 32 * 1024;

const STAR = 0x2a;
const DOLLAR = 0x24;
const CR = 0x0d;
const LF = 0x0a;
const EMPTY = Buffer.alloc(0);

/** The limits the parser applies; see limits.ts. */
export type ParserLimits = Pick<
  RespLimits,
  | 'maxInlineBytes'
  | 'maxArgs'
  | 'maxBulkBytes'
  | 'maxQueryBufferBytes'
  | 'maxUnauthenticatedArgs'
  | 'maxUnauthenticatedBulkBytes'
>;

/**
 * Parses RESP requests; see the module comment.
 *
 * @example
 * ```ts
 * const parser = new RespParser(DEFAULT_LIMITS);
 * parser.push(Buffer.from('*1\r\n$4\r\nPING\r\n'));
 * parser.next(); // [<Buffer 50 49 4e 47>]
 * parser.next(); // undefined: needs more input
 * ```
 */
export class RespParser {
  /** False while the connection must authenticate first: the smaller limits apply. */
  authenticated = true;
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** Arguments the current multibulk announced; -1 between commands. */
  private argc = -1;
  private args: Buffer[] = [];
  private argBytes = 0;
  /** Length of the bulk string being read; -1 when its `$` header comes next. */
  private bulkLen = -1;
  /** Destination of a large bulk string being assembled, and how much of it is filled. */
  private large: Buffer | undefined;
  private largeFilled = 0;
  private failure: ProtocolError | undefined;

  constructor(private readonly limits: ParserLimits) {}

  /** Bytes held for unparsed and partly parsed input. */
  get bufferedBytes(): number {
    return this.buf.length - this.pos + this.argBytes + (this.large?.length ?? 0);
  }

  /** Whether a command was started and not finished (for telling a clean close from a cut one). */
  get midCommand(): boolean {
    return this.argc >= 0 || this.pos < this.buf.length;
  }

  /** Adds input. A large bulk string being assembled takes what it needs first. */
  push(chunk: Buffer): void {
    if (this.failure !== undefined || chunk.length === 0) return;
    if (this.large !== undefined) {
      const take = Math.min(chunk.length, this.large.length - this.largeFilled);
      chunk.copy(this.large, this.largeFilled, 0, take);
      this.largeFilled += take;
      if (take === chunk.length) return;
      chunk = chunk.subarray(take);
    }
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
      this.pos = 0;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
      this.pos = 0;
    }
    if (this.bufferedBytes > this.limits.maxQueryBufferBytes) this.fail('query buffer limit exceeded');
  }

  /** The next complete command, `undefined` when more input is needed, or the protocol error. */
  next(): Buffer[] | ProtocolError | undefined {
    if (this.failure !== undefined) return this.failure;
    while (true) {
      if (this.argc < 0) {
        if (this.pos >= this.buf.length) return undefined;
        if (this.buf[this.pos] !== STAR) {
          const inline = this.inline();
          if (inline === undefined || 'protocolError' in inline || inline.length > 0) return inline;
          continue;
        }
        const count = this.header('too big mbulk count string');
        if (count === undefined) return this.failure;
        if (count === false) return undefined;
        if (!Number.isSafeInteger(count) || count > 0x7fffffff) return this.fail('invalid multibulk length');
        if (count <= 0) continue; // Redis ignores empty multibulks.
        if (!this.authenticated && count > this.limits.maxUnauthenticatedArgs)
          return this.fail('unauthenticated multibulk length');
        if (count > this.limits.maxArgs) return this.fail('invalid multibulk length');
        this.argc = count;
      }
      const done = this.readArgs();
      if (done !== true) return done;
      const args = this.args;
      this.args = [];
      this.argc = -1;
      this.argBytes = 0;
      return args;
    }
  }

  /** Reads bulk strings until the command is complete; true when it is. */
  private readArgs(): true | ProtocolError | undefined {
    while (this.args.length < this.argc) {
      if (this.large !== undefined) {
        if (this.largeFilled < this.large.length) return undefined;
        const whole = this.large;
        this.large = undefined;
        if (whole[whole.length - 2] !== CR || whole[whole.length - 1] !== LF)
          return this.fail('expected CRLF after a bulk string');
        this.addArg(whole.subarray(0, whole.length - 2));
        continue;
      }
      if (this.bulkLen < 0) {
        if (this.pos >= this.buf.length) return undefined;
        const first = this.buf[this.pos]!;
        if (first !== DOLLAR) return this.fail(`expected '$', got '${String.fromCharCode(first)}'`);
        const len = this.header('too big bulk count string');
        if (len === undefined) return this.failure;
        if (len === false) return undefined;
        const max = this.authenticated ? this.limits.maxBulkBytes : this.limits.maxUnauthenticatedBulkBytes;
        if (!Number.isSafeInteger(len) || len < 0 || len > max)
          return this.fail(this.authenticated ? 'invalid bulk length' : 'unauthenticated bulk length');
        this.bulkLen = len;
      }
      const available = this.buf.length - this.pos;
      const need = this.bulkLen + 2;
      if (available < need) {
        if (this.bulkLen >= LARGE_BULK_BYTES) this.startLarge(need);
        return undefined;
      }
      if (this.buf[this.pos + this.bulkLen] !== CR || this.buf[this.pos + this.bulkLen + 1] !== LF)
        return this.fail('expected CRLF after a bulk string');
      this.addArg(this.buf.subarray(this.pos, this.pos + this.bulkLen));
      this.pos += need;
    }
    return true;
  }

  private addArg(arg: Buffer): void {
    this.args.push(arg);
    this.argBytes += arg.length;
    this.bulkLen = -1;
  }

  /** Moves a large bulk string's first bytes into a buffer of its final size. */
  private startLarge(need: number): void {
    const large = Buffer.allocUnsafe(need);
    this.largeFilled = this.buf.copy(large, 0, this.pos);
    this.large = large;
    this.buf = EMPTY;
    this.pos = 0;
  }

  /**
   * Parses the integer of a `*` or `$` line at `pos` and moves past it: false when the line is
   * incomplete, undefined after failing (too long), NaN for a malformed number.
   */
  private header(tooLong: string): number | false | undefined {
    const buf = this.buf;
    const end = buf.indexOf(CR, this.pos);
    if (end < 0 || end + 1 >= buf.length) {
      if (buf.length - this.pos > this.limits.maxInlineBytes) {
        this.fail(tooLong);
        return undefined;
      }
      return false;
    }
    if (end - this.pos > this.limits.maxInlineBytes) {
      this.fail(tooLong);
      return undefined;
    }
    const value = parseDecimal(buf, this.pos + 1, end);
    this.pos = end + 2; // Redis skips the byte after CR without checking it is LF; so do we.
    return value;
  }

  /** An inline command: args, `[]` for an empty line, undefined when incomplete, or the error. */
  private inline(): Buffer[] | ProtocolError | undefined {
    const buf = this.buf;
    const nl = buf.indexOf(LF, this.pos);
    if (nl < 0) {
      if (buf.length - this.pos > this.limits.maxInlineBytes) return this.fail('too big inline request');
      return undefined;
    }
    if (nl - this.pos > this.limits.maxInlineBytes) return this.fail('too big inline request');
    const end = nl > this.pos && buf[nl - 1] === CR ? nl - 1 : nl;
    const args = splitInlineArgs(buf.subarray(this.pos, end));
    this.pos = nl + 1;
    if (args === undefined) return this.fail('unbalanced quotes in request');
    if (!this.authenticated && args.length > this.limits.maxUnauthenticatedArgs)
      return this.fail('unauthenticated multibulk length');
    if (args.length > this.limits.maxArgs) return this.fail('invalid multibulk length');
    return args;
  }

  private fail(reason: string): ProtocolError {
    this.failure = { protocolError: reason };
    this.buf = EMPTY;
    this.pos = 0;
    this.args = [];
    this.large = undefined;
    return this.failure;
  }
}

/** A signed decimal integer of bytes [start, end), or NaN (Redis's string2ll: no blanks, no '+'). */
export function parseDecimal(buf: Uint8Array, start: number, end: number): number {
  if (start >= end || end - start > 20) return Number.NaN;
  let i = start;
  let negative = false;
  if (buf[i] === 0x2d) {
    negative = true;
    i++;
    if (i >= end) return Number.NaN;
  }
  if (buf[i] === 0x30 && end - i > 1) return Number.NaN;
  let value = 0;
  for (; i < end; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return Number.NaN;
    value = value * 10 + d;
  }
  return negative ? -value : value;
}
