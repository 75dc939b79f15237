import assert from 'node:assert/strict';
import { getHeapStatistics } from 'node:v8';
import fc from 'fast-check';
import { type ErrorCode, encode, isCairnError } from '../../src/core/index.js';

/**
 * The decoder fuzz harness: every decoder that reads network bytes is fed arbitrary bytes,
 * mutations of valid encodings (bit flips, truncations, splices, rewritten length and count
 * headers) and "bombs" (a container header announcing up to a million small values, alone or
 * spliced into a valid encoding). Per case it checks that the decoder throws nothing but its
 * documented error, and that it allocated at most `ALLOCATION_PER_BYTE` bytes per input byte plus
 * `ALLOCATION_SLACK_BYTES`.
 *
 * Runs: `CAIRN_FUZZ_RUNS` cases per decoder, default 1,000 (`npm test`); `CAIRN_LONG=1` runs
 * 100,000 (`npm run test:long`). A failure prints fast-check's seed and path; replay with
 * `CAIRN_FUZZ_SEED=<seed> CAIRN_FUZZ_PATH=<path> node scripts/test.mjs test/fuzz/<file>`.
 */

/** Cases per decoder. */
export const FUZZ_RUNS =
  process.env.CAIRN_LONG === '1' ? 100_000 : Number(process.env.CAIRN_FUZZ_RUNS ?? 1_000);

/**
 * Heap bytes a decoder may allocate per input byte: a byte string or text may be copied, and a
 * UTF-8 byte may become two bytes of UTF-16.
 */
export const ALLOCATION_PER_BYTE = 4;

/**
 * Heap bytes a decoder may allocate beyond that: what core's shape limits let a message cost at
 * worst (262,143 empty maps are 16 MiB, a million values 8 MiB), with room for the decoder's own
 * tables. Decoding 1 MiB of empty maps without those limits allocates 64 MiB and fails this.
 */
export const ALLOCATION_SLACK_BYTES = 48 * 1024 * 1024;

/** One decoder under test. */
export interface FuzzTarget {
  /** Named in failures. */
  readonly name: string;
  /** Valid encodings, the starting points of mutations; each must be accepted by `accepts`. */
  readonly seeds: readonly Uint8Array[];
  /** Decodes `bytes` as the node does with bytes from a peer; returns what the decoder returned. */
  readonly run: (bytes: Uint8Array) => unknown;
  /** True when `run` returned a decoded message (not a rejection): checked on the seeds. */
  readonly accepts: (result: unknown) => boolean;
  /** Error codes `run` may throw; empty for decoders documented never to throw. */
  readonly throws: readonly ErrorCode[];
}

/** `value` encoded by the codec, copied out of the codec's buffer (which later encodes may reuse). */
export function encoded(value: unknown): Uint8Array {
  return Uint8Array.from(encode(value));
}

/** The error codes of the codec's `decode`. */
export const DECODE_ERRORS: readonly ErrorCode[] = ['DECODE_FAILED', 'LIMIT_EXCEEDED'];

/** Bytes allocated so far, as far as V8 can tell without a collection: heap and ArrayBuffers. */
function allocatedBytes(): number {
  const heap = getHeapStatistics();
  return heap.used_heap_size + heap.external_memory;
}

/**
 * Checks `target` against {@link fuzzInput} for {@link FUZZ_RUNS} cases (or `runs`).
 *
 * A collection during a case can only make its allocation look smaller, so the allocation check
 * never fails by chance; it misses nothing a decoder keeps alive until it returns.
 */
export function fuzzDecoder(target: FuzzTarget, runs = FUZZ_RUNS): void {
  for (const seed of target.seeds) {
    assert.ok(target.accepts(target.run(seed)), `${target.name} rejects one of its own seeds`);
  }
  const seed = process.env.CAIRN_FUZZ_SEED;
  const path = process.env.CAIRN_FUZZ_PATH;
  fc.assert(
    fc.property(fuzzInput(target.seeds), (bytes) => {
      const before = allocatedBytes();
      try {
        target.run(bytes);
      } catch (err) {
        const expected = target.throws.some((code) => isCairnError(err, code));
        if (!expected) {
          const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
          throw new Error(`${target.name} threw ${what} on ${bytes.length} bytes`, { cause: err });
        }
      }
      const allocated = allocatedBytes() - before;
      const bound = ALLOCATION_PER_BYTE * bytes.length + ALLOCATION_SLACK_BYTES;
      assert.ok(
        allocated <= bound,
        `${target.name} allocated ${allocated} bytes decoding ${bytes.length} (bound ${bound})`,
      );
    }),
    {
      numRuns: runs,
      ...(seed === undefined ? {} : { seed: Number(seed) }),
      ...(path === undefined ? {} : { path }),
    },
  );
}

/** A mutation of a valid encoding; positions are taken modulo the current length. */
type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'header'; readonly at: number; readonly code: number; readonly count: number }
  | { readonly kind: 'copy'; readonly from: number; readonly length: number; readonly at: number };

/** Bytes that mean something to a MessagePack reader: boundaries and header codes. */
const INTERESTING_BYTES = [
  0x00, 0x01, 0x0f, 0x10, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc4, 0xc6, 0xc7, 0xcb, 0xcf,
  0xd3, 0xd4, 0xd8, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff,
];
/** Headers whose length or count a mutation rewrites: bin, str, array and map of every width. */
const LENGTH_CODES = [0xc4, 0xc5, 0xc6, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf];
const COUNTS = [0, 1, 15, 16, 31, 32, 255, 256, 65_535, 65_536, 2 ** 20, 2 ** 31, 2 ** 32 - 1];

const position = fc.nat({ max: 1 << 20 });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('insert' as const), at: position, bytes: fc.uint8Array({ maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: position, length: fc.nat({ max: 16 }) }),
  fc.record({
    kind: fc.constant('set' as const),
    at: position,
    value: fc.constantFrom(...INTERESTING_BYTES),
  }),
  fc.record({
    kind: fc.constant('header' as const),
    at: position,
    code: fc.constantFrom(...LENGTH_CODES),
    count: fc.constantFrom(...COUNTS),
  }),
  fc.record({
    kind: fc.constant('copy' as const),
    from: position,
    length: fc.nat({ max: 64 }),
    at: position,
  }),
);

/** The header of `code` (bin/str 8-32, array/map 16-32) with `count` in its width, big-endian. */
function header(code: number, count: number): Uint8Array {
  const width = code === 0xc4 || code === 0xd9 ? 1 : [0xc5, 0xda, 0xdc, 0xde].includes(code) ? 2 : 4;
  const out = new Uint8Array(1 + width);
  out[0] = code;
  for (let i = 0; i < width; i++) out[width - i] = Math.floor(count / 256 ** i) & 0xff;
  return out;
}

function splice(bytes: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const start = Math.min(at, bytes.length);
  const end = Math.min(start + remove, bytes.length);
  const out = new Uint8Array(bytes.length - (end - start) + insert.length);
  out.set(bytes.subarray(0, start), 0);
  out.set(insert, start);
  out.set(bytes.subarray(end), start + insert.length);
  return out;
}

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const n = bytes.length;
  const at = m.at % (n + 1);
  switch (m.kind) {
    case 'flip': {
      if (n === 0) return bytes;
      const out = bytes.slice();
      out[at % n]! ^= 1 << m.bit;
      return out;
    }
    case 'truncate':
      return bytes.slice(0, at);
    case 'insert':
      return splice(bytes, at, 0, m.bytes);
    case 'delete':
      return splice(bytes, at, m.length, new Uint8Array(0));
    case 'set': {
      if (n === 0) return Uint8Array.of(m.value);
      const out = bytes.slice();
      out[at % n] = m.value;
      return out;
    }
    case 'header': {
      const h = header(m.code, m.count);
      return splice(bytes, at, h.length, h);
    }
    case 'copy': {
      if (n === 0) return bytes;
      const from = m.from % n;
      return splice(bytes, at, 0, bytes.slice(from, from + m.length));
    }
  }
}

/**
 * A container header announcing `count` copies of a one-byte value: empty maps and arrays cost an
 * object each, nils a slot each. Counts reach just past core's item limit.
 */
const bomb = fc
  .record({
    code: fc.constantFrom(0xdc, 0xdd, 0xde, 0xdf),
    count: fc.integer({ min: 1 << 16, max: (1 << 20) + (1 << 16) }),
    fill: fc.constantFrom(0x80, 0x90, 0xc0, 0x00, 0xa0),
  })
  .map(({ code, count, fill }) => {
    const elements = code === 0xdc || code === 0xde ? Math.min(count, 0xffff) : count;
    const h = header(code, elements);
    const values = code >= 0xde ? 2 * elements : elements;
    const out = new Uint8Array(h.length + values).fill(fill);
    out.set(h, 0);
    return out;
  });

/** Plain values of every MessagePack family, encoded: structure-aware input. */
const encodedValue = fc
  .anything({ maxDepth: 4, withTypedArray: false, withNullPrototype: false, withBoxedValues: false })
  .map((value) => {
    try {
      return encoded(value);
    } catch {
      return new Uint8Array(0);
    }
  });

/** The input of one case, built from `seeds`. */
export function fuzzInput(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  // Plain copies: the codec returns Buffers, whose slice() is a view, and a mutation of a view
  // would change the seed for every later case.
  const plain = seeds.map((bytes) => Uint8Array.from(bytes));
  const seed = fc.nat({ max: plain.length - 1 }).map((i) => plain[i]!);
  const mutated = fc
    .tuple(seed, fc.array(mutation, { minLength: 1, maxLength: 4 }))
    .map(([bytes, ms]) => ms.reduce(mutate, bytes));
  const splicedBomb = fc
    .tuple(seed, position, bomb)
    .map(([bytes, at, b]) => splice(bytes, at % (bytes.length + 1), 0, b));
  return fc.oneof(
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 300 }) },
    { weight: 2, arbitrary: encodedValue },
    { weight: 12, arbitrary: mutated },
    { weight: 1, arbitrary: fc.oneof(bomb, splicedBomb) },
  );
}
