import { HUFFMAN_EOS_IN_STRING, huffmanDecode, huffmanDecodedLengthMax } from './huffman.js';

/**
 * HPACK (RFC 7541) for Cairn's HTTP/2 server: a full decoder for the request header blocks a
 * client sends, and a small encoder for the server's own response header blocks, which uses no
 * dynamic table (the server tells the client so with {@link TABLE_SIZE_ZERO}).
 *
 * The decoder is the part a peer drives, so everything in it is bounded: strings by the block
 * they sit in, integers by 2^31 - 1 and {@link HPACK_LIMITS.integerContinuationBytesMax}, the
 * dynamic table by the size we advertise, the decoded list by the caller's `maxListBytes`.
 * Malformed input is an {@link HpackError}, never any other exception.
 *
 * Header strings are latin1 JS strings: one char per octet, so `name.length + value.length + 32`
 * is an entry's size as RFC 7541 §4.1 counts it.
 */

/** Named limits of the HPACK code. */
export const HPACK_LIMITS = {
  /** SETTINGS_HEADER_TABLE_SIZE when none is set: the HTTP/2 initial value (RFC 7540 §6.5.2). */
  headerTableBytes: 4096,
  /** Largest table size a decoder accepts at construction: holds 32,768 small entries at most. */
  headerTableBytesMax: 1 << 20,
  /** Bytes after an integer's prefix (§5.1): five carry 35 bits, enough for every 31-bit value. */
  integerContinuationBytesMax: 5,
  /** Largest integer accepted (§5.1 leaves the bound to the decoder): 2^31 - 1, as nghttp2's. */
  integerMax: 2 ** 31 - 1,
  /** Huffman scratch a decoder keeps between blocks; a longer string gets a buffer of its own. */
  huffmanScratchBytesKept: 4096,
} as const;

/** A header block could not be decoded: the connection must end with COMPRESSION_ERROR. */
export class HpackError extends Error {
  override readonly name = 'HpackError';
}

/** RFC 7541 Appendix A, index 1 at position 0. */
const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** Entries in the static table; dynamic indices start after it. */
export const STATIC_TABLE_LENGTH = 61;
const STATIC_NAMES = STATIC_TABLE.map((e) => e[0]);
const STATIC_VALUES = STATIC_TABLE.map((e) => e[1]);

/** Bytes an entry counts for beyond its name and value (RFC 7541 §4.1). */
const ENTRY_OVERHEAD_BYTES = 32;

/**
 * The dynamic table (RFC 7541 §2.3.2, §4): a ring of names and values, newest at index 0. It
 * grows its ring by doubling and never holds more than `maxBytes` of entries, so at most
 * `maxBytes / 32` of them.
 */
class DynamicTable {
  private names: string[] = new Array<string>(16).fill('');
  private values: string[] = new Array<string>(16).fill('');
  /** Ring slots - 1 (slots are a power of two). */
  private mask = 15;
  /** Slot the next entry goes to. */
  private head = 0;
  length = 0;
  bytes = 0;

  constructor(public maxBytes: number) {}

  /** Name of entry `i` (0 the newest); `i` must be below `length`. */
  name(i: number): string {
    return this.names[(this.head - 1 - i) & this.mask]!;
  }

  value(i: number): string {
    return this.values[(this.head - 1 - i) & this.mask]!;
  }

  /** Adds an entry, evicting the oldest as needed; one larger than the table empties it (§4.4). */
  add(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD_BYTES;
    if (size > this.maxBytes) {
      while (this.length > 0) this.evictOldest();
      return;
    }
    while (this.bytes + size > this.maxBytes) this.evictOldest();
    if (this.length > this.mask) this.grow();
    this.names[this.head] = name;
    this.values[this.head] = value;
    this.head = (this.head + 1) & this.mask;
    this.length++;
    this.bytes += size;
  }

  /** Sets a new maximum size (§4.3), evicting down to it. */
  resize(maxBytes: number): void {
    this.maxBytes = maxBytes;
    while (this.bytes > maxBytes) this.evictOldest();
  }

  private evictOldest(): void {
    const slot = (this.head - this.length) & this.mask;
    this.bytes -= this.names[slot]!.length + this.values[slot]!.length + ENTRY_OVERHEAD_BYTES;
    this.names[slot] = '';
    this.values[slot] = '';
    this.length--;
  }

  /** Doubles the ring, oldest entry first in the new one. */
  private grow(): void {
    const slots = (this.mask + 1) * 2;
    const names = new Array<string>(slots).fill('');
    const values = new Array<string>(slots).fill('');
    for (let i = 0; i < this.length; i++) {
      const from = (this.head - this.length + i) & this.mask;
      names[i] = this.names[from]!;
      values[i] = this.values[from]!;
    }
    this.names = names;
    this.values = values;
    this.mask = slots - 1;
    this.head = this.length;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Decoder for one connection's request header blocks (one dynamic table per connection).
 *
 * Contract: blocks must be given in the order the connection received them, each whole, and a
 * decoder must not be used again after it threw: the dynamic table is then out of step with the
 * peer's, which is why the error ends the connection.
 *
 * Strings from the dynamic and static tables are returned as the very strings stored there, so
 * a request that repeats indexed headers allocates no strings at all.
 *
 * @example
 * ```ts
 * const decoder = new HpackDecoder();
 * const { fields, tooLarge } = decoder.decode(block, 16384);
 * // fields: [':method', 'POST', ':path', '/etcdserverpb.KV/Range', ...]
 * ```
 */
export class HpackDecoder {
  private readonly table: DynamicTable;
  /** The block being decoded and the read position in it (fields, not locals: no closures). */
  private src: Buffer = EMPTY;
  private pos = 0;
  /** Huffman output, reused across strings and blocks up to huffmanScratchBytesKept. */
  private scratch: Buffer = Buffer.allocUnsafe(256);
  /** Name and value of the field just read (out-parameters: no tuple per field). */
  private name = '';
  private value = '';

  /**
   * @param maxTableBytes the SETTINGS_HEADER_TABLE_SIZE we advertise (default 4096): the largest
   *   dynamic table a peer may ask for; an integer from 0 to HPACK_LIMITS.headerTableBytesMax.
   */
  constructor(private readonly maxTableBytes: number = HPACK_LIMITS.headerTableBytes) {
    if (!Number.isInteger(maxTableBytes) || maxTableBytes < 0) {
      throw new RangeError(`HpackDecoder: maxTableBytes ${maxTableBytes} is not a non-negative integer`);
    }
    if (maxTableBytes > HPACK_LIMITS.headerTableBytesMax) {
      throw new RangeError(
        `HpackDecoder: maxTableBytes ${maxTableBytes} is above ${HPACK_LIMITS.headerTableBytesMax}`,
      );
    }
    this.table = new DynamicTable(maxTableBytes);
  }

  /** Bytes of entries in the dynamic table now (RFC 7541 §4.1 sizes), for tests and stats. */
  get dynamicTableBytes(): number {
    return this.table.bytes;
  }

  /** Entries in the dynamic table now. */
  get dynamicTableLength(): number {
    return this.table.length;
  }

  /** The table's current maximum size: maxTableBytes until the peer sends a size update. */
  get dynamicTableMaxBytes(): number {
    return this.table.maxBytes;
  }

  /**
   * Decodes one whole header block (HEADERS + CONTINUATION payloads concatenated, padding and
   * priority already removed). Returns the fields as a flat array [name0, value0, name1, ...]
   * in order. When the decoded list size (sum of name.length + value.length + 32 per field, as
   * RFC 7540 SETTINGS_MAX_HEADER_LIST_SIZE counts it) passes `maxListBytes`, it stops collecting
   * fields but KEEPS DECODING to the end so the dynamic table stays in sync, and returns
   * `tooLarge: true` (fields then incomplete; the caller resets that stream).
   * @throws HpackError on any malformed input (bad index, integer overflow past 2^31 or more than
   *   5 continuation bytes, string past the block, bad Huffman padding or EOS, table size update
   *   above maxTableBytes or not at the block's start, etc.). Never throws anything else.
   */
  decode(block: Uint8Array, maxListBytes: number): { fields: string[]; tooLarge: boolean } {
    const src = Buffer.isBuffer(block)
      ? block
      : Buffer.from(block.buffer, block.byteOffset, block.byteLength);
    this.src = src;
    this.pos = 0;
    const fields: string[] = [];
    let listBytes = 0;
    let tooLarge = false;
    let fieldSeen = false;
    try {
      while (this.pos < src.length) {
        const first = src[this.pos]!;
        if (first >= 0x80) {
          this.readIndexed();
        } else if (first >= 0x40) {
          this.readLiteral(6);
          this.table.add(this.name, this.value);
        } else if (first >= 0x20) {
          if (fieldSeen) throw new HpackError('a dynamic table size update follows a header field');
          this.readSizeUpdate();
          continue;
        } else {
          // 0000xxxx without indexing, 0001xxxx never indexed: the same for a decoder.
          this.readLiteral(4);
        }
        fieldSeen = true;
        listBytes += this.name.length + this.value.length + ENTRY_OVERHEAD_BYTES;
        if (tooLarge) continue;
        if (listBytes > maxListBytes) tooLarge = true;
        else fields.push(this.name, this.value);
      }
    } finally {
      // Hold no reference to the caller's block or to a peer's strings between blocks.
      this.src = EMPTY;
      this.name = '';
      this.value = '';
    }
    return { fields, tooLarge };
  }

  /** Indexed header field (§6.1). */
  private readIndexed(): void {
    const index = this.readInteger(7);
    if (index === 0) throw new HpackError('an indexed header field has index 0');
    this.name = this.nameAt(index);
    this.value = index <= STATIC_TABLE_LENGTH ? STATIC_VALUES[index - 1]! : this.table.value(index - 62);
  }

  /** Literal header field (§6.2) whose name index has `prefixBits` bits; sets name and value. */
  private readLiteral(prefixBits: number): void {
    const index = this.readInteger(prefixBits);
    this.name = index === 0 ? this.readString() : this.nameAt(index);
    this.value = this.readString();
  }

  /** Dynamic table size update (§6.3). */
  private readSizeUpdate(): void {
    const size = this.readInteger(5);
    if (size > this.maxTableBytes) {
      throw new HpackError(
        `a dynamic table size update asks for ${size} bytes, above the ${this.maxTableBytes} allowed`,
      );
    }
    this.table.resize(size);
  }

  /** The name at a static (1-61) or dynamic (62+) index; checks the index. */
  private nameAt(index: number): string {
    if (index <= STATIC_TABLE_LENGTH) return STATIC_NAMES[index - 1]!;
    const i = index - STATIC_TABLE_LENGTH - 1;
    if (i >= this.table.length) {
      throw new HpackError(
        `index ${index} is past the table (61 static entries and ${this.table.length} dynamic)`,
      );
    }
    return this.table.name(i);
  }

  /** A prefixed integer (§5.1) whose prefix is the low `prefixBits` bits of the current byte. */
  private readInteger(prefixBits: number): number {
    const src = this.src;
    let pos = this.pos;
    if (pos >= src.length) throw new HpackError('the header block ends where an integer should start');
    const max = (1 << prefixBits) - 1;
    let value = src[pos++]! & max;
    if (value === max) {
      let scale = 1;
      let more = true;
      for (let n = 0; more; n++) {
        if (n === HPACK_LIMITS.integerContinuationBytesMax) {
          throw new HpackError(
            `an integer runs past ${HPACK_LIMITS.integerContinuationBytesMax} continuation bytes`,
          );
        }
        if (pos >= src.length) throw new HpackError('the header block ends inside an integer');
        const b = src[pos++]!;
        value += (b & 0x7f) * scale;
        scale *= 128;
        more = b >= 0x80;
      }
      if (value > HPACK_LIMITS.integerMax) {
        throw new HpackError(`an integer (${value}) is above ${HPACK_LIMITS.integerMax}`);
      }
    }
    this.pos = pos;
    return value;
  }

  /** A string literal (§5.2), raw or Huffman-coded, as a latin1 string. */
  private readString(): string {
    const src = this.src;
    if (this.pos >= src.length) throw new HpackError('the header block ends where a string should start');
    const huffman = src[this.pos]! >= 0x80;
    const length = this.readInteger(7);
    const start = this.pos;
    if (length > src.length - start) {
      throw new HpackError(`a string of ${length} bytes runs past the header block's end`);
    }
    this.pos = start + length;
    if (length === 0) return '';
    if (!huffman) return src.toString('latin1', start, start + length);
    const room = huffmanDecodedLengthMax(length);
    let out = this.scratch;
    if (room > out.length) {
      out = Buffer.allocUnsafe(room);
      if (room <= HPACK_LIMITS.huffmanScratchBytesKept) this.scratch = out;
    }
    const n = huffmanDecode(src, start, start + length, out);
    if (n < 0) {
      throw new HpackError(
        n === HUFFMAN_EOS_IN_STRING
          ? 'a Huffman-coded string contains EOS'
          : 'a Huffman-coded string ends in padding that is not a short run of ones',
      );
    }
    return out.toString('latin1', 0, n);
  }
}

/** `:status` values with a static index: answered by one byte. */
const STATUS_INDEX = new Map<string, number>();
/** A static name's lowest index. */
const STATIC_NAME_INDEX = new Map<string, number>();
for (let i = STATIC_TABLE_LENGTH; i >= 1; i--) {
  const [name, value] = STATIC_TABLE[i - 1]!;
  STATIC_NAME_INDEX.set(name, i);
  if (name === ':status') STATUS_INDEX.set(value, i);
}

/**
 * Encodes response header fields with no dynamic table: `:status` 200/204/206/304/400/404/500
 * as indexed static entries, other names from the static table by index when they are there,
 * values as plain (non-Huffman) literals "without indexing". Returns the block bytes.
 * Names must be lower-case; values latin1. Used once per distinct header set (the server
 * precomputes constant blocks), and per call for error trailers.
 *
 * Contract: a name with an upper-case letter, or a name or value with a char above U+00FF or a
 * NUL, CR or LF (which RFC 9113 §8.2.1 makes a malformed field), is a caller's bug: RangeError.
 *
 * @example
 * ```ts
 * const head = Buffer.concat([TABLE_SIZE_ZERO, encodeHeaderBlock([[':status', '200'],
 *   ['content-type', 'application/grpc']])]);
 * ```
 */
export function encodeHeaderBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  let size = 0;
  for (let i = 0; i < fields.length; i++) {
    const [name, value] = fields[i]!;
    checkField(name, value);
    if (name === ':status' && STATUS_INDEX.has(value)) {
      size += 1;
      continue;
    }
    const index = STATIC_NAME_INDEX.get(name);
    size += index === undefined ? 1 + stringLength(name) : integerLength(index, 4);
    size += stringLength(value);
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; i < fields.length; i++) {
    const [name, value] = fields[i]!;
    const status = name === ':status' ? STATUS_INDEX.get(value) : undefined;
    if (status !== undefined) {
      out[at++] = 0x80 | status;
      continue;
    }
    const index = STATIC_NAME_INDEX.get(name);
    if (index === undefined) {
      out[at++] = 0x00;
      at = writeString(out, at, name);
    } else {
      at = writeInteger(out, at, 0x00, 4, index);
    }
    at = writeString(out, at, value);
  }
  return out;
}

/** A dynamic table size update to 0 (one byte, 0x20): the server sends it at the start of its
 *  first header block on a connection, so it never depends on the peer's table size setting. */
export const TABLE_SIZE_ZERO: Buffer = Buffer.from([0x20]);

function checkField(name: string, value: string): void {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a) || c > 0xff || c === 0 || c === 0x0a || c === 0x0d) {
      throw new RangeError(`encodeHeaderBlock: header name ${JSON.stringify(name)} has char ${c} at ${i}`);
    }
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff || c === 0 || c === 0x0a || c === 0x0d) {
      throw new RangeError(`encodeHeaderBlock: value of ${name} has char ${c} at ${i}`);
    }
  }
}

/** Bytes of integer `n` with a `prefixBits`-bit prefix (§5.1). */
function integerLength(n: number, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  if (n < max) return 1;
  let bytes = 2;
  for (let rest = n - max; rest >= 0x80; rest = Math.floor(rest / 128)) bytes++;
  return bytes;
}

/** Writes integer `n` (§5.1) after `flags` in the first byte; returns the offset after it. */
function writeInteger(out: Buffer, at: number, flags: number, prefixBits: number, n: number): number {
  const max = (1 << prefixBits) - 1;
  if (n < max) {
    out[at++] = flags | n;
    return at;
  }
  out[at++] = flags | max;
  let rest = n - max;
  while (rest >= 0x80) {
    out[at++] = 0x80 | (rest & 0x7f);
    rest = Math.floor(rest / 128);
  }
  out[at++] = rest;
  return at;
}

function stringLength(s: string): number {
  return integerLength(s.length, 7) + s.length;
}

/** Writes a raw (H = 0) string literal (§5.2); returns the offset after it. */
function writeString(out: Buffer, at: number, s: string): number {
  at = writeInteger(out, at, 0x00, 7, s.length);
  return at + out.write(s, at, s.length, 'latin1');
}
