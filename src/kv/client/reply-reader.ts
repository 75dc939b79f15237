import type { KvClientLimits } from './limits.js';

/**
 * The reply half of RESP2: an incremental, bounded reader of what a Redis-protocol server sends
 * back. (`src/kv/resp`'s parser reads requests, multibulk arrays of bulk strings, and is not
 * meant for replies.)
 *
 * Contract:
 * - Input arrives in chunks split anywhere; {@link ReplyReader.push} takes one and
 *   {@link ReplyReader.next} returns complete replies one at a time, in order.
 * - Nothing throws on any input: malformed input (an unknown type byte, a bad length, a missing
 *   CRLF, anything over a limit) makes `next()` return a {@link ReplyProtocolError}, after which
 *   the reader is dead (the connection must be closed: its framing is lost).
 * - Memory is bounded by `maxReplyBytes` for one incomplete reply, `maxReplyBulkBytes` per bulk
 *   string, `maxReplyItems` per array, `maxReplyDepth` of nesting and `maxReplyLineBytes` per line.
 * - Cost: chunks are kept apart until enough bytes arrived for the part being waited on (a bulk
 *   string's full length), so a large value arriving in many chunks is copied once, not once per
 *   chunk. Bulk strings are copied out of the input, so a small value never pins a large chunk.
 *
 * RESP3 types are not read: the client never sends HELLO 3, so a server speaking RESP3 to it is
 * broken, and gets a protocol error.
 */

/** An error reply (`-ERR ...`, `-TIMEOUT ...`): a value, not an exception, as it may sit inside an array. */
export class ReplyError {
  constructor(
    /** The line after `-`, e.g. `TIMEOUT only 1 of 2 replicas answered`. */
    readonly message: string,
  ) {}

  /** The first word: Redis's error code (`ERR`, `WRONGTYPE`, `TIMEOUT`, ...). */
  get code(): string {
    const space = this.message.indexOf(' ');
    return space < 0 ? this.message : this.message.slice(0, space);
  }
}

/**
 * A decoded reply: a status (`+OK`) is a string, a bulk string a Buffer (copied), an integer a
 * number, a null bulk or null array `null`, an array an array, an error a {@link ReplyError}.
 */
export type Reply = string | number | Buffer | null | ReplyError | readonly Reply[];

/** Malformed or oversized input: the connection's framing is lost. */
export interface ReplyProtocolError {
  readonly protocolError: string;
}

/** The limits the reader applies; see limits.ts. */
export type ReplyLimits = Pick<
  KvClientLimits,
  'maxReplyBulkBytes' | 'maxReplyBytes' | 'maxReplyItems' | 'maxReplyDepth' | 'maxReplyLineBytes'
>;

const CR = 0x0d;
const LF = 0x0a;
const EMPTY = Buffer.alloc(0);

/** A parse that needs more input: at least `needed` bytes from the reply's start. */
interface Incomplete {
  readonly needed: number;
}

type Step = { readonly value: Reply; readonly end: number } | Incomplete | ReplyProtocolError;

function isIncomplete(s: Step): s is Incomplete {
  return 'needed' in s;
}

function isFailure(s: Step): s is ReplyProtocolError {
  return 'protocolError' in s;
}

/**
 * Reads RESP2 replies; see the module comment.
 *
 * @example
 * ```ts
 * const reader = new ReplyReader(DEFAULT_LIMITS);
 * reader.push(Buffer.from('+OK\r\n$1\r\nv'));
 * reader.next(); // 'OK'
 * reader.next(); // undefined: the bulk string is cut
 * reader.push(Buffer.from('\r\n'));
 * reader.next(); // <Buffer 76>
 * ```
 */
export class ReplyReader {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes from `pos` the last incomplete parse needs before it is worth trying again. */
  private needed = 1;
  private failure: ReplyProtocolError | undefined;

  constructor(private readonly limits: ReplyLimits) {}

  /** Bytes received and not yet returned as replies. */
  get bufferedBytes(): number {
    return this.buf.length - this.pos + this.pendingBytes;
  }

  /** Adds received bytes. */
  push(chunk: Buffer): void {
    if (this.failure !== undefined || chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
  }

  /** The next complete reply, undefined when more input is needed, or the protocol error that ended the stream. */
  next(): Reply | ReplyProtocolError | undefined {
    if (this.failure !== undefined) return this.failure;
    const available = this.bufferedBytes;
    if (available === 0) return undefined;
    if (available < this.needed) return this.checkHeld();
    this.consolidate();
    const step = this.parse(this.pos, 0);
    if (isFailure(step)) return this.fail(step.protocolError);
    if (isIncomplete(step)) {
      this.needed = step.needed - this.pos;
      return this.checkHeld();
    }
    this.pos = step.end;
    this.needed = 1;
    if (this.pos === this.buf.length) {
      this.buf = EMPTY;
      this.pos = 0;
    }
    return step.value;
  }

  private checkHeld(): ReplyProtocolError | undefined {
    if (this.bufferedBytes > this.limits.maxReplyBytes)
      return this.fail(`a reply is over ${this.limits.maxReplyBytes} bytes (maxReplyBytes)`);
    if (this.needed > this.limits.maxReplyBytes)
      return this.fail(`a reply needs ${this.needed} bytes, over maxReplyBytes=${this.limits.maxReplyBytes}`);
    return undefined;
  }

  private fail(reason: string): ReplyProtocolError {
    this.failure = { protocolError: reason };
    this.buf = EMPTY;
    this.pos = 0;
    this.pending = [];
    this.pendingBytes = 0;
    return this.failure;
  }

  private consolidate(): void {
    if (this.pending.length === 0) return;
    const rest = this.buf.subarray(this.pos);
    this.buf =
      rest.length === 0 && this.pending.length === 1
        ? this.pending[0]!
        : Buffer.concat([rest, ...this.pending], rest.length + this.pendingBytes);
    this.pos = 0;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** The end of the line starting at `at` (index of its CR), or an incomplete/failure step. */
  private lineEnd(at: number): number | Incomplete | ReplyProtocolError {
    const cr = this.buf.indexOf(CR, at);
    const max = this.limits.maxReplyLineBytes;
    if (cr < 0) {
      if (this.buf.length - at > max) return { protocolError: `a reply line is over ${max} bytes` };
      return { needed: this.buf.length + 1 };
    }
    if (cr - at > max) return { protocolError: `a reply line is over ${max} bytes` };
    if (cr + 1 >= this.buf.length) return { needed: cr + 2 };
    if (this.buf[cr + 1] !== LF) return { protocolError: 'a reply line ends in CR without LF' };
    return cr;
  }

  private parse(at: number, depth: number): Step {
    const type = this.buf[at];
    if (type === undefined) return { needed: at + 1 };
    const end = this.lineEnd(at + 1);
    if (typeof end !== 'number') return end;
    const line = this.buf.toString('latin1', at + 1, end);
    const next = end + 2;
    switch (type) {
      case 0x2b: // '+'
        return { value: this.buf.toString('utf8', at + 1, end), end: next };
      case 0x2d: // '-'
        return { value: new ReplyError(this.buf.toString('utf8', at + 1, end)), end: next };
      case 0x3a: {
        // ':'
        const n = parseInteger(line);
        if (n === undefined) return { protocolError: `invalid integer reply '${line.slice(0, 32)}'` };
        return { value: n, end: next };
      }
      case 0x24: // '$'
        return this.bulk(line, next);
      case 0x2a: // '*'
        return this.array(line, next, depth);
      default:
        return { protocolError: `unexpected reply type byte 0x${type.toString(16).padStart(2, '0')}` };
    }
  }

  private bulk(line: string, start: number): Step {
    const len = parseInteger(line);
    if (len === -1) return { value: null, end: start };
    if (len === undefined || len < 0) return { protocolError: `invalid bulk length '${line.slice(0, 32)}'` };
    if (len > this.limits.maxReplyBulkBytes)
      return {
        protocolError: `a bulk reply of ${len} bytes is over maxReplyBulkBytes=${this.limits.maxReplyBulkBytes}`,
      };
    const stop = start + len;
    if (stop + 2 > this.buf.length) return { needed: stop + 2 };
    if (this.buf[stop] !== CR || this.buf[stop + 1] !== LF)
      return { protocolError: 'a bulk reply is not followed by CRLF' };
    const value = Buffer.allocUnsafe(len);
    this.buf.copy(value, 0, start, stop);
    return { value, end: stop + 2 };
  }

  private array(line: string, start: number, depth: number): Step {
    const count = parseInteger(line);
    if (count === -1) return { value: null, end: start };
    if (count === undefined || count < 0)
      return { protocolError: `invalid multibulk length '${line.slice(0, 32)}'` };
    if (count > this.limits.maxReplyItems)
      return {
        protocolError: `an array reply of ${count} items is over maxReplyItems=${this.limits.maxReplyItems}`,
      };
    if (depth + 1 > this.limits.maxReplyDepth)
      return { protocolError: `reply arrays nest deeper than maxReplyDepth=${this.limits.maxReplyDepth}` };
    const items: Reply[] = [];
    let at = start;
    for (let i = 0; i < count; i++) {
      const step = this.parse(at, depth + 1);
      if (!('value' in step)) return step;
      items.push(step.value);
      at = step.end;
    }
    return { value: items, end: at };
  }
}

/** A RESP integer line: an optional minus and up to 18 digits, within the safe integers. */
function parseInteger(line: string): number | undefined {
  if (!/^-?[0-9]{1,18}$/.test(line)) return undefined;
  const n = Number(line);
  return Number.isSafeInteger(n) ? n : undefined;
}
