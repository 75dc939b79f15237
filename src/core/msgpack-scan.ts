import { CairnError } from './errors.js';
import { checkLimit, DEFAULT_LIMITS } from './limits.js';

/**
 * Walks over MessagePack bytes without decoding them: where a value ends, and whether a message
 * is small enough in items, containers and depth to be handed to the decoder.
 *
 * Both walks are iterative and allocate nothing, and every length or count is checked against the
 * bytes left before it is trusted, so a forged header never makes them loop long or read past the
 * input. MessagePack is read as the spec writes it: the unused code 0xc1 is malformed.
 */

/** The shape bounds {@link checkMsgpackShape} enforces; see core's `DEFAULT_LIMITS`. */
export interface MsgpackShapeLimits {
  readonly maxDecodeItems: number;
  readonly maxDecodeContainers: number;
  readonly maxDecodeDepth: number;
}

/**
 * Per code 0xc0..0xdf: a positive size is the bytes after the code (numbers, fixext); 0 marks the
 * unused 0xc1 (and the codes handled before the table); a negative one is minus a length width
 * (1, 2 or 4), minus 8 more for ext (a type byte follows the length) and minus 24 more for
 * collections (a count, not a length).
 */
// biome-ignore format: one row per family of codes
const FIXED_SIZES = Int8Array.from([
  0, 0, 0, 0, // c0 nil, c1 unused, c2 false, c3 true
  -1, -2, -4, // c4-c6 bin 8/16/32
  -9, -10, -12, // c7-c9 ext 8/16/32
  4, 8, // ca-cb float 32/64
  1, 2, 4, 8, // cc-cf uint 8-64
  1, 2, 4, 8, // d0-d3 int 8-64
  2, 3, 5, 9, 17, // d4-d8 fixext 1/2/4/8/16
  -1, -2, -4, // d9-db str 8/16/32
  -26, -28, // dc-dd array 16/32
  -26, -28, // de-df map 16/32
]);

/**
 * Where the MessagePack value that starts at `start` ends (the offset after its last byte), or -1
 * when the bytes up to `end` do not hold one whole value (truncated, or the unused code 0xc1).
 * Nothing is decoded or allocated: for splitting a message into pieces that are decoded (or looked
 * up) one by one. Iterative, so nesting depth costs nothing; every count is checked against the
 * bytes left before it is trusted, so a forged length never makes it loop long.
 */
export function msgpackValueEnd(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let pos = start;
  // Values still to skip; each needs at least one byte.
  let pending = 1;
  while (pending > 0) {
    if (pending > end - pos) return -1;
    const b = bytes[pos++]!;
    pending--;
    if (b <= 0x7f || b >= 0xe0) continue; // fixints
    if (b <= 0x8f) {
      pending += 2 * (b & 0x0f); // fixmap
      continue;
    }
    if (b <= 0x9f) {
      pending += b & 0x0f; // fixarray
      continue;
    }
    if (b <= 0xbf) {
      pos += b & 0x1f; // fixstr
      continue;
    }
    if (b === 0xc0 || b === 0xc2 || b === 0xc3) continue; // nil, false, true
    const size = FIXED_SIZES[b - 0xc0]!;
    if (size > 0) {
      pos += size; // numbers and fixext (a type byte and the data)
      continue;
    }
    if (size === 0) return -1; // 0xc1: never used
    // A length or count of 1, 2 or 4 bytes, big-endian.
    const width = -size & 7;
    if (pos + width > end) return -1;
    let n = 0;
    for (let i = 0; i < width; i++) n = n * 256 + bytes[pos++]!;
    if (size <= -24)
      pending += b >= 0xde ? 2 * n : n; // array, map 16/32
    else pos += size <= -8 ? n + 1 : n; // ext (a type byte), bin, str
  }
  return pos <= end ? pos : -1;
}

/**
 * Elements still to read per open container, by nesting level (level 0 holds the message itself).
 * One array for the process: the walk is synchronous and never re-entered, and reusing it keeps
 * the check free of allocation. Float64 because a map 32 announces up to 2^33 - 2 elements.
 */
let openCounts = new Float64Array(DEFAULT_LIMITS.maxDecodeDepth + 1);

/**
 * Checks that `bytes` hold exactly one well-formed MessagePack value, within `limits`, before
 * anything is decoded: the decoder builds one object per map and one array per array, so one byte
 * of input can cost tens of bytes of heap, and only a count made before decoding bounds that.
 *
 * Counted: every value (a map entry is two, key and value) against `maxDecodeItems`, every array
 * and map (empty ones too) against `maxDecodeContainers`, and nesting against `maxDecodeDepth`
 * (a top-level array is depth 1). Every string, byte string and container header is checked
 * against the bytes left before it is skipped.
 *
 * @param bytes - the message
 * @param limits - default core's `DEFAULT_LIMITS`
 * @throws CairnError `DECODE_FAILED` for bytes cut short, trailing bytes, the unused code 0xc1 or
 *   an extension type (Cairn's wire format uses none, and msgpackr would build objects from them);
 *   `LIMIT_EXCEEDED` naming the limit when the message holds too many items or containers or
 *   nests too deep
 */
export function checkMsgpackShape(bytes: Uint8Array, limits: MsgpackShapeLimits = DEFAULT_LIMITS): void {
  const { maxDecodeItems, maxDecodeContainers, maxDecodeDepth } = limits;
  if (openCounts.length < maxDecodeDepth + 1) openCounts = new Float64Array(maxDecodeDepth + 1);
  const open = openCounts;
  const end = bytes.length;
  let pos = 0;
  let level = 0;
  let items = 0;
  let containers = 0;
  open[0] = 1;
  for (;;) {
    if (open[level] === 0) {
      if (level === 0) break;
      level--;
      continue;
    }
    open[level]!--;
    if (pos >= end) throw cutShort(end);
    const at = pos;
    const b = bytes[pos++]!;
    if (++items > maxDecodeItems)
      checkLimit('maxDecodeItems', items, maxDecodeItems, 'the count of MessagePack values');
    // Elements of the container read here; -1 for a scalar.
    let count = -1;
    if (b <= 0x7f || b >= 0xe0) continue; // fixints
    if (b <= 0x8f)
      count = 2 * (b & 0x0f); // fixmap
    else if (b <= 0x9f)
      count = b & 0x0f; // fixarray
    else if (b <= 0xbf)
      pos += b & 0x1f; // fixstr
    else if (b === 0xc0 || b === 0xc2 || b === 0xc3)
      continue; // nil, false, true
    else {
      if ((b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8)) throw extension(at); // ext, fixext
      const size = FIXED_SIZES[b - 0xc0]!;
      if (size === 0) throw malformed(`the unused code 0xc1 at byte ${at}`);
      if (size > 0)
        pos += size; // numbers
      else {
        const width = -size & 7;
        if (pos + width > end) throw cutShort(end);
        let n = 0;
        for (let i = 0; i < width; i++) n = n * 256 + bytes[pos++]!;
        if (size <= -24) count = b >= 0xde ? 2 * n : n;
        else pos += n; // bin, str
      }
    }
    if (pos > end) throw cutShort(end);
    if (count < 0) continue;
    if (++containers > maxDecodeContainers) {
      checkLimit(
        'maxDecodeContainers',
        containers,
        maxDecodeContainers,
        'the count of MessagePack arrays and maps',
      );
    }
    if (level + 1 > maxDecodeDepth) {
      checkLimit(
        'maxDecodeDepth',
        level + 1,
        maxDecodeDepth,
        'the nesting depth of MessagePack arrays and maps',
      );
    }
    // Each element needs at least one byte: a count beyond the bytes left is a lie, caught here.
    if (count > end - pos) throw cutShort(end);
    if (count > 0) open[++level] = count;
  }
  if (pos !== end) {
    throw malformed(`expected one MessagePack value, found ${end - pos} more bytes after it (byte ${pos})`);
  }
}

function malformed(what: string): CairnError {
  return new CairnError('DECODE_FAILED', `malformed MessagePack: ${what}`);
}

function cutShort(end: number): CairnError {
  return malformed(`the value is cut short (${end} bytes)`);
}

function extension(at: number): CairnError {
  return malformed(`an extension type at byte ${at}; Cairn's wire format uses none`);
}
