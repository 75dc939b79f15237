import { checkLimit, fail } from '../../core/index.js';
import { type Entry, type Message, type MessageType, NETWORK_MESSAGE_TYPES, type NodeId } from '../types.js';

/**
 * The binary layout of a `msg` stream's message batch frame, written and read by hand: the hot
 * path of peer traffic (every append and ack), where MessagePack maps cost a generic decoder, a
 * shape pre-scan and a generic validator per field. Big-endian throughout:
 *
 * ```
 * frame   = tag:u8 (0x01) count:u16 message{count}
 * message = type:u8 flags:u8 from to term logTerm index commit rejectHint   (each f64, a safe uint)
 *           [ctxLen:u32 ctx]            when flags & CONTEXT
 *           [n:u32 entry{n}]            when flags & ENTRIES
 * entry   = term:f64 index:f64 kind:u8 (0 normal, 1 conf) len:u32 data
 * flags   = REJECT 1 | CONTEXT 2 | ENTRIES 4 (no other bit)
 * ```
 *
 * The decoder checks every field (type codes, safe non-negative integers, flag bits, lengths
 * against the limits and against the bytes left, no trailing bytes) and throws `DECODE_FAILED`
 * or `LIMIT_EXCEEDED`, never anything else; entry data and contexts are copied out of the frame.
 */

/** First byte of a batch frame. */
const TAG = 0x01;
const REJECT = 1;
const CONTEXT = 2;
const ENTRIES = 4;
/** Bytes of a message without context and entries: type, flags, 7 numbers. */
const MESSAGE_FIXED = 2 + 7 * 8;
/** Bytes of an entry without data. */
const ENTRY_FIXED = 8 + 8 + 1 + 4;
const EMPTY = new Uint8Array(0);

/** An entry while its data is being attached. */
type MutableEntry = { -readonly [K in keyof Entry]: Entry[K] };

/** The bounds a decoder enforces (the driver's limits of the same names). */
export interface BatchLimits {
  readonly maxFrameBytes: number;
  readonly maxMessagesPerFrame: number;
  readonly maxEntriesPerMessage: number;
  readonly maxEntryBytes: number;
  readonly maxContextBytes: number;
}

const TYPE_CODE = new Map<MessageType, number>(NETWORK_MESSAGE_TYPES.map((t, i) => [t, i]));
const SNAP_CODE = TYPE_CODE.get('snap')!;

/**
 * Encodes messages (none `snap`, none local-only; at most 65,535) as one frame.
 * @throws TypeError for a message that cannot travel in a batch (a caller bug)
 */
export function encodeMessageBatch(messages: readonly Message[]): Uint8Array {
  if (messages.length > 0xffff)
    throw new TypeError(`a batch holds at most 65535 messages, not ${messages.length}`);
  let size = 3;
  for (const m of messages) {
    size += MESSAGE_FIXED;
    if (m.context !== undefined) size += 4 + m.context.length;
    if (m.entries.length > 0) {
      size += 4;
      for (const e of m.entries) size += ENTRY_FIXED + e.data.length;
    }
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = TAG;
  view.setUint16(1, messages.length);
  let p = 3;
  for (const m of messages) {
    const code = TYPE_CODE.get(m.type);
    if (code === undefined || code === SNAP_CODE)
      throw new TypeError(`message type ${m.type} cannot travel in a batch`);
    out[p] = code;
    out[p + 1] =
      (m.reject ? REJECT : 0) |
      (m.context !== undefined ? CONTEXT : 0) |
      (m.entries.length > 0 ? ENTRIES : 0);
    view.setFloat64(p + 2, m.from);
    view.setFloat64(p + 10, m.to);
    view.setFloat64(p + 18, m.term);
    view.setFloat64(p + 26, m.logTerm);
    view.setFloat64(p + 34, m.index);
    view.setFloat64(p + 42, m.commit);
    view.setFloat64(p + 50, m.rejectHint);
    p += MESSAGE_FIXED;
    if (m.context !== undefined) {
      view.setUint32(p, m.context.length);
      out.set(m.context, p + 4);
      p += 4 + m.context.length;
    }
    if (m.entries.length > 0) {
      view.setUint32(p, m.entries.length);
      p += 4;
      for (const e of m.entries) {
        view.setFloat64(p, e.term);
        view.setFloat64(p + 8, e.index);
        out[p + 16] = e.type === 'conf' ? 1 : 0;
        view.setUint32(p + 17, e.data.length);
        out.set(e.data, p + ENTRY_FIXED);
        p += ENTRY_FIXED + e.data.length;
      }
    }
  }
  return out;
}

/**
 * Decodes a batch frame and checks that every message is from `peer` to `self`.
 * @throws CairnError `DECODE_FAILED` for a malformed frame, a `snap` message or a wrong address;
 *   `LIMIT_EXCEEDED` for a frame, batch, entry count, entry or context over `limits`
 */
export function decodeMessageBatch(
  frame: Uint8Array,
  peer: NodeId,
  self: NodeId,
  limits: BatchLimits,
): Message[] {
  checkLimit('maxFrameBytes', frame.length, limits.maxFrameBytes, 'raft frame size');
  const r = new Reader(frame);
  if (r.u8('tag') !== TAG) r.fail('tag', 'a message batch frame (tag 1)');
  const count = r.u16('count');
  if (count === 0) r.fail('count', 'at least one message');
  checkLimit('maxMessagesPerFrame', count, limits.maxMessagesPerFrame, 'messages in a raft frame');
  const out: Message[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = readMessage(r, peer, self, limits, i);
  if (r.pos !== frame.length) r.fail('end', `no bytes after the last message (${frame.length - r.pos} left)`);
  return out;
}

function readMessage(r: Reader, peer: NodeId, self: NodeId, limits: BatchLimits, i: number): Message {
  r.message = i;
  r.entry = -1;
  const code = r.u8('type');
  const type = NETWORK_MESSAGE_TYPES[code];
  if (type === undefined) r.fail('type', 'a network message type');
  if (code === SNAP_CODE) r.fail('type', 'not snap (a snapshot only travels on a snap stream)');
  const flags = r.u8('flags');
  if ((flags & ~(REJECT | CONTEXT | ENTRIES)) !== 0)
    r.fail('flags', 'only the reject, context and entries bits');
  const from = r.uint('from');
  if (from !== peer) r.fail('from', `the stream's peer ${peer} (a peer cannot speak for another id)`);
  const to = r.uint('to');
  if (to !== self) r.fail('to', `this node ${self}`);
  const term = r.uint('term');
  const logTerm = r.uint('logTerm');
  const index = r.uint('index');
  const commit = r.uint('commit');
  const rejectHint = r.uint('rejectHint');
  let context: Uint8Array | undefined;
  if ((flags & CONTEXT) !== 0) {
    const len = r.u32('context');
    checkLimit('maxContextBytes', len, limits.maxContextBytes, 'raft message context size');
    context = r.bytes(len, 'context');
  }
  let entries: Entry[] = [];
  if ((flags & ENTRIES) !== 0) {
    const n = r.u32('entries');
    if (n === 0) r.fail('entries', 'at least one entry when the entries bit is set');
    checkLimit('maxEntriesPerMessage', n, limits.maxEntriesPerMessage, 'entries in a raft message');
    // Each entry takes at least ENTRY_FIXED bytes: a count the frame cannot hold allocates nothing.
    if (n * ENTRY_FIXED > r.left) r.fail('entries', `${n} entries within the ${r.left} bytes left`);
    entries = new Array(n);
    // One copy of the entries' bytes for the whole message; each entry's data is a view into it.
    const start = r.pos;
    const lengths: number[] = new Array(n);
    for (let k = 0; k < n; k++) {
      r.entry = k;
      const eTerm = r.uint('term');
      const eIndex = r.uint('index');
      const kind = r.u8('kind');
      if (kind > 1) r.fail('kind', '0 (normal) or 1 (conf)');
      const len = r.u32('data');
      checkLimit('maxEntryBytes', len, limits.maxEntryBytes, 'raft entry size');
      lengths[k] = len;
      r.skip(len, 'data');
      entries[k] = { term: eTerm, index: eIndex, type: kind === 1 ? 'conf' : 'normal', data: EMPTY };
    }
    const block = r.copy(start);
    let at = 0;
    for (let k = 0; k < n; k++) {
      at += ENTRY_FIXED;
      const len = lengths[k]!;
      if (len > 0) (entries[k] as MutableEntry).data = block.subarray(at, at + len);
      at += len;
    }
  }
  const message: Message = {
    type,
    from,
    to,
    term,
    logTerm,
    index,
    entries,
    commit,
    reject: (flags & REJECT) !== 0,
    rejectHint,
  };
  // Only read-index heartbeats and their answers carry a context.
  return context === undefined ? message : { ...message, context };
}

/** Bounds-checked big-endian reads over a frame; every failure is `DECODE_FAILED`. */
class Reader {
  pos = 0;
  /** The message being read (-1 before the first), for error paths. */
  message = -1;
  /** The entry being read (-1 outside entries), for error paths. */
  entry = -1;
  private readonly view: DataView;

  constructor(private readonly frame: Uint8Array) {
    this.view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  }

  get left(): number {
    return this.frame.length - this.pos;
  }

  /** Throws `DECODE_FAILED` for `field` of the current message or entry. */
  fail(field: string, expected: string, value?: unknown): never {
    const at =
      this.message < 0
        ? '$'
        : this.entry < 0
          ? `$.m[${this.message}]`
          : `$.m[${this.message}].entries[${this.entry}]`;
    return fail(`${at}.${field}`, expected, value);
  }

  private need(n: number, path: string): void {
    if (this.frame.length - this.pos < n) this.fail(path, `${n} more bytes (the frame ends)`);
  }

  u8(path: string): number {
    this.need(1, path);
    return this.frame[this.pos++]!;
  }

  u16(path: string): number {
    this.need(2, path);
    const x = this.view.getUint16(this.pos);
    this.pos += 2;
    return x;
  }

  u32(path: string): number {
    this.need(4, path);
    const x = this.view.getUint32(this.pos);
    this.pos += 4;
    return x;
  }

  /** A safe non-negative integer stored as a float64 (-0 reads as 0). */
  uint(path: string): number {
    this.need(8, path);
    const x = this.view.getFloat64(this.pos);
    this.pos += 8;
    if (!Number.isSafeInteger(x) || x < 0) this.fail(path, 'a non-negative safe integer', x);
    return x + 0;
  }

  /** Moves past the next `n` bytes. */
  skip(n: number, field: string): void {
    this.need(n, field);
    this.pos += n;
  }

  /** A copy of the bytes from `start` to the current position. */
  copy(start: number): Uint8Array {
    return this.frame.slice(start, this.pos);
  }

  /** A copy of the next `n` bytes (frames are the handler's for the call only). */
  bytes(n: number, path: string): Uint8Array {
    if (n === 0) return EMPTY;
    this.need(n, path);
    const out = this.frame.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}
