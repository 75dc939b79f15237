import type {
  KeyValue,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  WatchEvent,
  WatchResponse,
} from '../api.js';

/**
 * Hand-written protobuf codecs for the hottest etcd calls: KV.Range and KV.Put requests decoded
 * straight from the wire into the store's API objects, and their responses (and Watch's) encoded
 * straight from the API objects. They replace, for these two calls only, proto-loader's decode, the structural
 * scan of wire-scan.ts, the conversion of convert.ts and proto-loader's encode (in the members'
 * profile under the bench these were the largest items of the gRPC layer).
 *
 * Contract: the decoders accept exactly what scan + proto-loader + convert.ts accept and build the
 * same request objects; they refuse the same input with the same kind and wording (the first
 * structural problem in the bytes wins over a value problem, and value problems are reported in
 * field order, as the three steps did). They never throw. The encoders write canonical proto3
 * (fields at their default value are left out), which proto-loader's decoder reads back to the
 * same message as its own encoding of the response. kv-codec.test.ts holds both to proto-loader.
 */

const RANGE_REQUEST = 'etcdserverpb.RangeRequest';
const PUT_REQUEST = 'etcdserverpb.PutRequest';

const TWO_32 = 4_294_967_296;

/** Why a request's bytes were refused: `invalid` is a value convert.ts would refuse. */
export class DecodeFailure {
  constructor(
    readonly kind: 'malformed' | 'unknownField' | 'invalid',
    readonly reason: string,
  ) {}
}

const SORT_ORDERS = ['none', 'ascend', 'descend'] as const;
const SORT_TARGETS = ['key', 'version', 'create', 'mod', 'value'] as const;

/** A read position over one message and the last varint read (as two uint32 halves). */
class Cursor {
  pos = 0;
  lo = 0;
  hi = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly end: number,
  ) {}

  /** Reads a varint of at most 10 bytes (bits past 64 dropped); false when truncated or longer. */
  varint(): boolean {
    const buf = this.buf;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) return false;
      const b = buf[this.pos++]!;
      const bits = b & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= bits << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (7 * i - 32);
      if ((b & 0x80) === 0) {
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        return true;
      }
    }
    return false;
  }

  /** The last varint as a signed 64-bit integer, exact when it is a safe integer. */
  int64(): number {
    return (this.hi | 0) * TWO_32 + this.lo;
  }

  /** The last varint's exact signed decimal (for error messages only). */
  int64Text(): string {
    return BigInt.asIntN(64, (BigInt(this.hi) << 32n) | BigInt(this.lo)).toString();
  }
}

/**
 * Reads one field's tag and checks it against `wireOf` (the declared wire type per field number,
 * -1 for undeclared). Returns the field number, or a failure in wire-scan.ts's wording.
 */
function readTag(c: Cursor, type: string, wireOf: readonly number[]): number | DecodeFailure {
  const start = c.pos;
  if (!c.varint()) return new DecodeFailure('malformed', `truncated tag in ${type}`);
  // A tag longer than 5 bytes names no declared field; the scan reads all its bits (up to 70),
  // and the refusal names the same field number only if this does too.
  const value = c.pos - start > 5 ? longVarint(c.buf, start, c.pos) : c.hi * TWO_32 + c.lo;
  const number = Math.floor(value / 8);
  const wire = value % 8;
  if (number === 0) return new DecodeFailure('malformed', `field number 0 in ${type}`);
  const declared = number < wireOf.length ? wireOf[number]! : -1;
  if (declared < 0) return new DecodeFailure('unknownField', `unknown field ${number} in ${type}`);
  if (wire !== declared)
    return new DecodeFailure('malformed', `field ${number} of ${type} has wire type ${wire}`);
  return number;
}

/** The value of the varint in `buf[start, end)` with every bit kept (as wire-scan.ts reads it). */
function longVarint(buf: Uint8Array, start: number, end: number): number {
  let value = 0;
  let scale = 1;
  for (let i = start; i < end; i++) {
    value += (buf[i]! & 0x7f) * scale;
    scale *= 128;
  }
  return value;
}

/** Reads a length prefix; returns the value's end, or -1 when the length does not fit. */
function readLength(c: Cursor): number {
  if (!c.varint() || c.hi !== 0 || c.lo > c.end - c.pos) return -1;
  return c.pos + c.lo;
}

const truncated = (number: number, type: string) =>
  new DecodeFailure('malformed', `truncated field ${number} in ${type}`);

// ---------------------------------------------------------------- RangeRequest

/** Declared wire type of each RangeRequest field number (-1: none; 0 varint, 2 length-delimited). */
const RANGE_WIRES = [-1, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/** RangeRequest's int64 fields by number, in field order, with their proto names. */
const RANGE_INT64: Readonly<Record<number, string>> = {
  3: 'limit',
  4: 'revision',
  10: 'min_mod_revision',
  11: 'max_mod_revision',
  12: 'min_create_revision',
  13: 'max_create_revision',
};

/**
 * Decodes a RangeRequest's bytes into the store's RangeRequest (what convert.ts's
 * `rangeRequestFromProto` builds from proto-loader's object). Never throws.
 */
export function decodeRangeRequest(buf: Uint8Array): RangeRequest | DecodeFailure {
  const c = new Cursor(buf, buf.length);
  let key: Uint8Array | undefined;
  let rangeEnd: Uint8Array | undefined;
  // Int64 fields by number (last occurrence wins); unsafe ones keep their decimal for the error.
  const ints = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  let unsafe: (string | undefined)[] | undefined;
  let sortOrder = 0;
  let sortTarget = 0;
  let serializable = false;
  let keysOnly = false;
  let countOnly = false;
  while (c.pos < c.end) {
    const number = readTag(c, RANGE_REQUEST, RANGE_WIRES);
    if (number instanceof DecodeFailure) return number;
    if (number <= 2) {
      const end = readLength(c);
      if (end < 0) return truncated(number, RANGE_REQUEST);
      const value = Buffer.from(buf.buffer, buf.byteOffset + c.pos, end - c.pos);
      if (number === 1) key = value;
      else rangeEnd = value;
      c.pos = end;
      continue;
    }
    if (!c.varint()) return truncated(number, RANGE_REQUEST);
    switch (number) {
      case 5:
        sortOrder = c.lo | 0;
        break;
      case 6:
        sortTarget = c.lo | 0;
        break;
      case 7:
        serializable = c.lo !== 0;
        break;
      case 8:
        keysOnly = c.lo !== 0;
        break;
      case 9:
        countOnly = c.lo !== 0;
        break;
      default: {
        const v = c.int64();
        ints[number] = v;
        if (!Number.isSafeInteger(v)) {
          unsafe ??= [];
          unsafe[number] = c.int64Text();
        } else if (unsafe !== undefined) unsafe[number] = undefined;
      }
    }
  }
  // Value checks in convert.ts's order: limit, revision, sort order and target, then the filters.
  const bad = (n: number): DecodeFailure | undefined =>
    unsafe?.[n] === undefined
      ? undefined
      : new DecodeFailure(
          'invalid',
          `${RANGE_INT64[n]} ${unsafe[n]} is beyond 2^53-1, which Cairn does not issue`,
        );
  const early = bad(3) ?? bad(4);
  if (early !== undefined) return early;
  const order = SORT_ORDERS[sortOrder];
  if (order === undefined) return new DecodeFailure('invalid', `sort_order ${sortOrder} is unknown`);
  const target = SORT_TARGETS[sortTarget];
  if (target === undefined) return new DecodeFailure('invalid', `sort_target ${sortTarget} is unknown`);
  const late = bad(10) ?? bad(11) ?? bad(12) ?? bad(13);
  if (late !== undefined) return late;
  const r: {
    -readonly [K in keyof RangeRequest]: RangeRequest[K];
  } = { key: key ?? Buffer.alloc(0) };
  if (rangeEnd !== undefined && rangeEnd.length > 0) r.rangeEnd = rangeEnd;
  if (ints[3] !== 0) r.limit = ints[3]!;
  if (ints[4] !== 0) r.revision = ints[4]!;
  r.sortOrder = order;
  r.sortTarget = target;
  if (serializable) r.serializable = true;
  if (keysOnly) r.keysOnly = true;
  if (countOnly) r.countOnly = true;
  if (ints[10] !== 0) r.minModRevision = ints[10]!;
  if (ints[11] !== 0) r.maxModRevision = ints[11]!;
  if (ints[12] !== 0) r.minCreateRevision = ints[12]!;
  if (ints[13] !== 0) r.maxCreateRevision = ints[13]!;
  return r;
}

// ---------------------------------------------------------------- PutRequest

const PUT_WIRES = [-1, 2, 2, 0, 0, 0, 0];

/**
 * Decodes a PutRequest's bytes into the store's PutRequest (what convert.ts's
 * `putRequestFromProto` builds from proto-loader's object). Never throws.
 */
export function decodePutRequest(buf: Uint8Array): PutRequest | DecodeFailure {
  const c = new Cursor(buf, buf.length);
  let key: Uint8Array | undefined;
  let value: Uint8Array | undefined;
  let lease = 0;
  let leaseText: string | undefined;
  let prevKv = false;
  let ignoreValue = false;
  let ignoreLease = false;
  while (c.pos < c.end) {
    const number = readTag(c, PUT_REQUEST, PUT_WIRES);
    if (number instanceof DecodeFailure) return number;
    if (number <= 2) {
      const end = readLength(c);
      if (end < 0) return truncated(number, PUT_REQUEST);
      const bytes = Buffer.from(buf.buffer, buf.byteOffset + c.pos, end - c.pos);
      if (number === 1) key = bytes;
      else value = bytes;
      c.pos = end;
      continue;
    }
    if (!c.varint()) return truncated(number, PUT_REQUEST);
    if (number === 3) {
      lease = c.int64();
      leaseText = Number.isSafeInteger(lease) ? undefined : c.int64Text();
    } else if (number === 4) prevKv = c.lo !== 0;
    else if (number === 5) ignoreValue = c.lo !== 0;
    else ignoreLease = c.lo !== 0;
  }
  if (leaseText !== undefined)
    return new DecodeFailure('invalid', `lease ${leaseText} is beyond 2^53-1, which Cairn does not issue`);
  const r: { -readonly [K in keyof PutRequest]: PutRequest[K] } = {
    key: key ?? Buffer.alloc(0),
    value: value ?? Buffer.alloc(0),
  };
  if (lease !== 0) r.lease = lease;
  if (prevKv) r.prevKv = true;
  if (ignoreValue) r.ignoreValue = true;
  if (ignoreLease) r.ignoreLease = true;
  return r;
}

// ---------------------------------------------------------------- encoding

/** Bytes of `n`'s varint (a safe integer; negative ones take 10, as int64 two's complement). */
function varintSize(n: number): number {
  if (n < 0) return 10;
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x20_0000) return 3;
  if (n < 0x1000_0000) return 4;
  let size = 4;
  let rest = Math.floor(n / 0x1000_0000);
  while (rest > 0) {
    size++;
    rest = Math.floor(rest / 128);
  }
  return size;
}

/** A field of `n` (safe integer, non-zero) with a one-byte tag. */
function intFieldSize(n: number): number {
  return n === 0 ? 0 : 1 + varintSize(n);
}

/** A bytes or message field of `len` bytes with a one-byte tag. */
function lengthFieldSize(len: number): number {
  return 1 + varintSize(len) + len;
}

/** A position in an output buffer. */
class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(n: number): void {
    const buf = this.buf;
    if (n >= 0 && n < 0x8000_0000) {
      let v = n;
      while (v >= 0x80) {
        buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[this.pos++] = v;
      return;
    }
    // Two 32-bit halves (two's complement for negatives), then 7 bits at a time.
    let hi = Math.floor(n / TWO_32);
    let lo = (n - hi * TWO_32) >>> 0;
    hi >>>= 0;
    while (hi !== 0 || lo >= 0x80) {
      buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[this.pos++] = lo;
  }

  intField(tag: number, n: number): void {
    if (n === 0) return;
    this.buf[this.pos++] = tag;
    this.varint(n);
  }

  /** A bool field set to true (a false one is left out, as proto3 writes it). */
  trueField(tag: number): void {
    this.buf[this.pos++] = tag;
    this.buf[this.pos++] = 1;
  }

  bytesField(tag: number, b: Uint8Array): void {
    if (b.length === 0) return;
    this.buf[this.pos++] = tag;
    this.varint(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

function headerSize(h: ResponseHeader): number {
  return (
    intFieldSize(h.clusterId) + intFieldSize(h.memberId) + intFieldSize(h.revision) + intFieldSize(h.raftTerm)
  );
}

function writeHeader(w: Writer, tag: number, h: ResponseHeader): void {
  w.buf[w.pos++] = tag;
  w.varint(headerSize(h));
  w.intField(0x08, h.clusterId);
  w.intField(0x10, h.memberId);
  w.intField(0x18, h.revision);
  w.intField(0x20, h.raftTerm);
}

function kvSize(kv: KeyValue): number {
  return (
    (kv.key.length === 0 ? 0 : lengthFieldSize(kv.key.length)) +
    intFieldSize(kv.createRevision) +
    intFieldSize(kv.modRevision) +
    intFieldSize(kv.version) +
    (kv.value.length === 0 ? 0 : lengthFieldSize(kv.value.length)) +
    intFieldSize(kv.lease)
  );
}

function writeKv(w: Writer, tag: number, kv: KeyValue): void {
  w.buf[w.pos++] = tag;
  w.varint(kvSize(kv));
  w.bytesField(0x0a, kv.key);
  w.intField(0x10, kv.createRevision);
  w.intField(0x18, kv.modRevision);
  w.intField(0x20, kv.version);
  w.bytesField(0x2a, kv.value);
  w.intField(0x30, kv.lease);
}

/** Encodes a RangeResponse as etcdserverpb.RangeResponse bytes. */
export function encodeRangeResponse(r: RangeResponse): Buffer {
  let size = lengthFieldSize(headerSize(r.header));
  for (const kv of r.kvs) size += lengthFieldSize(kvSize(kv));
  if (r.more) size += 2;
  size += intFieldSize(r.count);
  const w = new Writer(Buffer.allocUnsafe(size));
  writeHeader(w, 0x0a, r.header);
  for (const kv of r.kvs) writeKv(w, 0x12, kv);
  if (r.more) w.trueField(0x18);
  w.intField(0x20, r.count);
  return w.buf;
}

/** Encodes a PutResponse as etcdserverpb.PutResponse bytes. */
export function encodePutResponse(r: PutResponse): Buffer {
  let size = lengthFieldSize(headerSize(r.header));
  if (r.prevKv !== undefined) size += lengthFieldSize(kvSize(r.prevKv));
  const w = new Writer(Buffer.allocUnsafe(size));
  writeHeader(w, 0x0a, r.header);
  if (r.prevKv !== undefined) writeKv(w, 0x12, r.prevKv);
  return w.buf;
}

function eventSize(e: WatchEvent): number {
  return (
    (e.type === 'delete' ? 2 : 0) +
    lengthFieldSize(kvSize(e.kv)) +
    (e.prevKv === undefined ? 0 : lengthFieldSize(kvSize(e.prevKv)))
  );
}

/**
 * Encodes a watch's response as etcdserverpb.WatchResponse bytes, labelled `watchId` (the
 * stream's id for the watch) and with `fragment` as given. One response per revision goes through
 * here on every watching stream: protobufjs's fromObject and encode cost several times this, and
 * generated their code at the first event of a member's life, a pause the watch's first events
 * paid for.
 */
export function encodeWatchResponse(r: WatchResponse, watchId: number, fragment: boolean): Buffer {
  const reason = r.cancelReason ?? '';
  const reasonBytes = reason === '' ? 0 : Buffer.byteLength(reason);
  let size = lengthFieldSize(headerSize(r.header)) + intFieldSize(watchId);
  if (r.created === true) size += 2;
  if (r.canceled === true) size += 2;
  size += intFieldSize(r.compactRevision ?? 0);
  if (reasonBytes > 0) size += lengthFieldSize(reasonBytes);
  if (fragment) size += 2;
  const events = r.events;
  for (let i = 0; i < events.length; i++) size += lengthFieldSize(eventSize(events[i]!));
  const w = new Writer(Buffer.allocUnsafe(size));
  writeHeader(w, 0x0a, r.header);
  w.intField(0x10, watchId);
  if (r.created === true) w.trueField(0x18);
  if (r.canceled === true) w.trueField(0x20);
  w.intField(0x28, r.compactRevision ?? 0);
  if (reasonBytes > 0) {
    w.buf[w.pos++] = 0x32;
    w.varint(reasonBytes);
    w.pos += w.buf.write(reason, w.pos);
  }
  if (fragment) w.trueField(0x38);
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    w.buf[w.pos++] = 0x5a;
    w.varint(eventSize(e));
    if (e.type === 'delete') w.trueField(0x08);
    writeKv(w, 0x12, e.kv);
    if (e.prevKv !== undefined) writeKv(w, 0x1a, e.prevKv);
  }
  return w.buf;
}
