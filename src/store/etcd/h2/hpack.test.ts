import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  encodeHeaderBlock,
  HpackDecoder,
  HpackError,
  STATIC_TABLE_LENGTH,
  TABLE_SIZE_ZERO,
} from './hpack.js';
import { huffmanEncode } from './huffman.js';

const seed = Number(process.env.CAIRN_SEED ?? Date.now() % 2 ** 31);
console.log(
  `seed=${seed} replay: CAIRN_SEED=${seed} node --import tsx --test src/store/etcd/h2/hpack.test.ts`,
);

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const NO_LIMIT = 1 << 30;

/** The fields of a decode as pairs, checking nothing was cut. */
function decodePairs(decoder: HpackDecoder, block: Uint8Array): string[][] {
  const { fields, tooLarge } = decoder.decode(block, NO_LIMIT);
  assert.equal(tooLarge, false);
  const pairs: string[][] = [];
  for (let i = 0; i < fields.length; i += 2) pairs.push([fields[i]!, fields[i + 1]!]);
  return pairs;
}

interface Step {
  readonly block: string;
  readonly fields: string[][];
  /** Dynamic table size after the block (RFC 7541 Appendix C's "Table size"). */
  readonly tableBytes: number;
  readonly tableLength: number;
}

function runSteps(maxTableBytes: number, steps: readonly Step[]): void {
  const decoder = new HpackDecoder(maxTableBytes);
  for (const [i, step] of steps.entries()) {
    assert.deepEqual(decodePairs(decoder, hex(step.block)), step.fields, `block ${i}`);
    assert.equal(decoder.dynamicTableBytes, step.tableBytes, `table bytes after block ${i}`);
    assert.equal(decoder.dynamicTableLength, step.tableLength, `table entries after block ${i}`);
  }
}

function throwsHpack(block: Uint8Array, pattern: RegExp, decoder = new HpackDecoder()): void {
  assert.throws(
    () => decoder.decode(block, NO_LIMIT),
    (e: unknown) => {
      assert.ok(e instanceof HpackError, `not an HpackError: ${String(e)}`);
      assert.equal(e.name, 'HpackError');
      assert.match(e.message, pattern);
      return true;
    },
  );
}

const REQUEST_1 = [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', '/'],
  [':authority', 'www.example.com'],
];
const REQUEST_2 = [...REQUEST_1, ['cache-control', 'no-cache']];
const REQUEST_3 = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':path', '/index.html'],
  [':authority', 'www.example.com'],
  ['custom-key', 'custom-value'],
];
const RESPONSE_1 = [
  [':status', '302'],
  ['cache-control', 'private'],
  ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
  ['location', 'https://www.example.com'],
];
const RESPONSE_2 = [[':status', '307'], ...RESPONSE_1.slice(1)];
const RESPONSE_3 = [
  [':status', '200'],
  ['cache-control', 'private'],
  ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
  ['location', 'https://www.example.com'],
  ['content-encoding', 'gzip'],
  ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
];

describe('HPACK decoder: RFC 7541 Appendix C', () => {
  it('C.2: one literal of each kind and an indexed field', () => {
    const c21 = '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572';
    runSteps(4096, [
      { block: c21, fields: [['custom-key', 'custom-header']], tableBytes: 55, tableLength: 1 },
    ]);
    const c22 = '040c 2f73 616d 706c 652f 7061 7468';
    runSteps(4096, [{ block: c22, fields: [[':path', '/sample/path']], tableBytes: 0, tableLength: 0 }]);
    const c23 = '1008 7061 7373 776f 7264 0673 6563 7265 74';
    runSteps(4096, [{ block: c23, fields: [['password', 'secret']], tableBytes: 0, tableLength: 0 }]);
    runSteps(4096, [{ block: '82', fields: [[':method', 'GET']], tableBytes: 0, tableLength: 0 }]);
  });

  it('C.3: three requests without Huffman coding on one decoder', () => {
    runSteps(4096, [
      {
        block: '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
        fields: REQUEST_1,
        tableBytes: 57,
        tableLength: 1,
      },
      // 0xbe is index 62: the :authority the first request added.
      { block: '8286 84be 5808 6e6f 2d63 6163 6865', fields: REQUEST_2, tableBytes: 110, tableLength: 2 },
      // 0xbf is index 63: the same :authority, now second newest.
      {
        block: '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
        fields: REQUEST_3,
        tableBytes: 164,
        tableLength: 3,
      },
    ]);
  });

  it('C.4: the same requests with Huffman coding', () => {
    runSteps(4096, [
      {
        block: '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
        fields: REQUEST_1,
        tableBytes: 57,
        tableLength: 1,
      },
      { block: '8286 84be 5886 a8eb 1064 9cbf', fields: REQUEST_2, tableBytes: 110, tableLength: 2 },
      {
        block: '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
        fields: REQUEST_3,
        tableBytes: 164,
        tableLength: 3,
      },
    ]);
  });

  it('C.5: responses without Huffman coding evict from a 256-byte table', () => {
    runSteps(256, [
      {
        block: `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
                2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
                6c65 2e63 6f6d`,
        fields: RESPONSE_1,
        tableBytes: 222,
        tableLength: 4,
      },
      // Adding ":status: 307" evicts ":status: 302"; c1 c0 bf then name the three others.
      { block: '4803 3330 37c1 c0bf', fields: RESPONSE_2, tableBytes: 222, tableLength: 4 },
      {
        block: `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
                54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
                5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
                3d31`,
        fields: RESPONSE_3,
        tableBytes: 215,
        tableLength: 3,
      },
    ]);
  });

  it('C.6: the same responses with Huffman coding', () => {
    runSteps(256, [
      {
        block: `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
                2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
        fields: RESPONSE_1,
        tableBytes: 222,
        tableLength: 4,
      },
      { block: '4883 640e ffc1 c0bf', fields: RESPONSE_2, tableBytes: 222, tableLength: 4 },
      {
        block: `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
                77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
                9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
        fields: RESPONSE_3,
        tableBytes: 215,
        tableLength: 3,
      },
    ]);
  });

  it('holds the static table of Appendix A (samples across it)', () => {
    const samples: ReadonlyArray<readonly [number, string, string]> = [
      [1, ':authority', ''],
      [3, ':method', 'POST'],
      [5, ':path', '/index.html'],
      [14, ':status', '500'],
      [16, 'accept-encoding', 'gzip, deflate'],
      [28, 'content-length', ''],
      [31, 'content-type', ''],
      [45, 'link', ''],
      [58, 'user-agent', ''],
      [61, 'www-authenticate', ''],
    ];
    for (const [index, name, value] of samples) {
      assert.deepEqual(
        decodePairs(new HpackDecoder(), Uint8Array.of(0x80 | index)),
        [[name, value]],
        `${index}`,
      );
    }
  });

  it('answers repeated references to one dynamic entry, in one block and across blocks', () => {
    const decoder = new HpackDecoder();
    decoder.decode(hex('4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'), NO_LIMIT);
    const a = decoder.decode(hex('be'), NO_LIMIT).fields;
    const b = decoder.decode(hex('bebe'), NO_LIMIT).fields;
    assert.deepEqual(a, ['custom-key', 'custom-value']);
    assert.deepEqual(b, [...a, ...a]);
    assert.equal(decoder.dynamicTableLength, 1);
  });
});

describe('HPACK decoder: dynamic table', () => {
  it('applies size updates at the block start, evicting, and refuses them elsewhere or too large', () => {
    const decoder = new HpackDecoder(4096);
    decoder.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'), NO_LIMIT);
    assert.equal(decoder.dynamicTableLength, 1);
    // Two updates in a row (0 then 4096, each §5.1 with a 5-bit prefix) are allowed at the start.
    assert.deepEqual(decodePairs(decoder, hex('20 3fe11f 82')), [[':method', 'GET']]);
    assert.equal(decoder.dynamicTableLength, 0);
    assert.equal(decoder.dynamicTableMaxBytes, 4096);
    throwsHpack(hex('82 20'), /size update follows a header field/, new HpackDecoder());
    throwsHpack(hex('3fe21f'), /asks for 4097 bytes, above the 4096 allowed/, new HpackDecoder());
    throwsHpack(hex('3f e1 01'), /asks for 256 bytes, above the 100 allowed/, new HpackDecoder(100));
  });

  it('empties the table for an entry larger than it, and then indexes nothing there', () => {
    const decoder = new HpackDecoder(64);
    // "a: b" (34 bytes) fits; then a 40-byte value (73 bytes) empties the table.
    decodePairs(decoder, hex('40 0161 0162'));
    assert.equal(decoder.dynamicTableBytes, 34);
    const big = Buffer.concat([hex('40 0161 28'), Buffer.alloc(40, 0x78)]);
    assert.deepEqual(decodePairs(decoder, big), [['a', 'x'.repeat(40)]]);
    assert.equal(decoder.dynamicTableLength, 0);
    throwsHpack(hex('be'), /index 62 is past the table \(61 static entries and 0 dynamic\)/, decoder);
  });

  it('keeps many entries in order as the ring grows and wraps', () => {
    const decoder = new HpackDecoder(4096);
    // 100 entries of 36 bytes each ("k" + 3-digit value): 113 fit in 4096, so none is evicted.
    const adds: Buffer[] = [];
    for (let i = 0; i < 100; i++) adds.push(hex('40 016b 03'), Buffer.from(String(i).padStart(3, '0')));
    decoder.decode(Buffer.concat(adds), NO_LIMIT);
    assert.equal(decoder.dynamicTableLength, 100);
    // Index 62 is the newest (099); 62 + 99 the oldest (000).
    assert.deepEqual(decodePairs(decoder, hex('be')), [['k', '099']]);
    assert.deepEqual(decodePairs(decoder, hex('ff 22')), [['k', '000']]);
    // 20 more evict the 7 oldest: 113 entries then, the oldest "007" at 62 + 112.
    const more: Buffer[] = [];
    for (let i = 100; i < 120; i++) more.push(hex('40 016b 03'), Buffer.from(String(i)));
    decoder.decode(Buffer.concat(more), NO_LIMIT);
    assert.equal(decoder.dynamicTableLength, 113);
    assert.equal(decoder.dynamicTableBytes, 113 * 36);
    assert.deepEqual(decodePairs(decoder, hex('ff 2f')), [['k', '007']]);
    throwsHpack(hex('ff 30'), /index 175 is past the table/, decoder);
  });
});

describe('HPACK decoder: malformed blocks', () => {
  it('refuses truncated integers and strings, index 0 and indices past the table', () => {
    throwsHpack(hex('ff'), /ends inside an integer/);
    throwsHpack(hex('ff 80'), /ends inside an integer/);
    throwsHpack(hex('80'), /index 0/);
    throwsHpack(hex('be'), /index 62 is past the table/);
    throwsHpack(hex('7f 00 00'), /index 63 is past the table/);
    throwsHpack(hex('04'), /ends where a string should start/);
    throwsHpack(hex('00 05 6162'), /string of 5 bytes runs past/);
    throwsHpack(hex('00 01 61'), /ends where a string should start/);
    throwsHpack(hex('00 7f'), /ends inside an integer/);
  });

  it('refuses integers past 2^31 - 1 or with more than 5 continuation bytes', () => {
    // 127 + 0x7f * (1 + 128 + ... + 128^3) + 0x0f * 128^4: about 2^32.
    throwsHpack(hex('ff ff ff ff ff 0f'), /above 2147483647/);
    throwsHpack(hex('ff 80 80 80 80 80 00'), /past 5 continuation bytes/);
    throwsHpack(hex('00 ff ff ff ff ff ff ff ff ff ff'), /past 5 continuation bytes/);
    // A string length of 2^31 - 1 is a valid integer that runs past the block.
    throwsHpack(hex('00 7f 80 ff ff ff 07'), /string of 2147483647 bytes runs past/);
  });

  it('refuses Huffman strings holding EOS or ending in bad padding', () => {
    throwsHpack(hex('00 84 ffff ffff 00'), /contains EOS/);
    throwsHpack(hex('00 81 ff 00'), /padding/);
    throwsHpack(hex('00 81 18 00'), /padding/);
    throwsHpack(hex('04 82 1fff'), /padding/);
  });

  it('throws only HpackError for random blocks (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 4096 }), (block, max) => {
        const decoder = new HpackDecoder(256);
        for (let round = 0; round < 2; round++) {
          try {
            const { fields } = decoder.decode(block, max);
            assert.equal(fields.length % 2, 0);
            for (const s of fields) assert.equal(typeof s, 'string');
          } catch (e) {
            if (!(e instanceof HpackError)) throw e;
            return;
          }
        }
      }),
      { seed, numRuns: 5000 },
    );
  });

  it('throws only HpackError for blocks built from valid representations with random bytes (property)', () => {
    // Random bytes rarely get past the first representation; mutating valid blocks goes deeper.
    const valid = hex(
      '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8',
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(valid.length),
        (edits, cut) => {
          const block = Buffer.from(valid.subarray(0, cut));
          for (const [at, byte] of edits) if (at < block.length) block[at] = byte;
          try {
            new HpackDecoder().decode(block, NO_LIMIT);
          } catch (e) {
            if (!(e instanceof HpackError)) throw e;
          }
        },
      ),
      { seed, numRuns: 5000 },
    );
  });
});

describe('HPACK decoder: header list limit', () => {
  it('reports tooLarge, stops collecting, and keeps the table in step', () => {
    const decoder = new HpackDecoder();
    const value = 'v'.repeat(100);
    const block = Buffer.concat([
      hex('82'), // :method GET: 42 bytes of list
      hex('40 0678 2d62 6967 31 64'), // x-big1 (incremental indexing), 100-byte value
      Buffer.from(value),
      hex('40 0678 2d62 6967 32 64'), // x-big2 likewise
      Buffer.from(value),
    ]);
    const { fields, tooLarge } = decoder.decode(block, 100);
    assert.equal(tooLarge, true);
    assert.deepEqual(fields, [':method', 'GET']);
    assert.equal(decoder.dynamicTableLength, 2);
    // The next block refers to both entries the oversized one added.
    assert.deepEqual(decodePairs(decoder, hex('be bf')), [
      ['x-big2', value],
      ['x-big1', value],
    ]);
    // A list exactly at the limit is not too large.
    assert.equal(decoder.decode(hex('82'), 42).tooLarge, false);
    assert.equal(decoder.decode(hex('82'), 41).tooLarge, true);
  });
});

describe('HPACK decoder against a model (property)', () => {
  type Op =
    | { kind: 'indexed'; pick: number }
    | {
        kind: 'incremental' | 'without' | 'never';
        name: string;
        value: string;
        huffman: boolean;
        pick: number;
      }
    | { kind: 'resize'; bytes: number };
  const text = fc.string({
    unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
    maxLength: 40,
  });
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('indexed' as const), pick: fc.nat() }),
    fc.record({
      kind: fc.constantFrom('incremental' as const, 'without' as const, 'never' as const),
      name: text,
      value: text,
      huffman: fc.boolean(),
      pick: fc.integer({ min: -1, max: 200 }),
    }),
    fc.record({ kind: fc.constant('resize' as const), bytes: fc.integer({ min: 0, max: 300 }) }),
  );

  it('decodes what a simple reference encoder meant, block after block', () => {
    fc.assert(
      fc.property(fc.array(fc.array(op, { maxLength: 12 }), { maxLength: 8 }), (blocks) => {
        const maxTable = 300;
        const decoder = new HpackDecoder(maxTable);
        const model = new ModelTable(maxTable);
        for (const ops of blocks) {
          const bytes: number[] = [];
          const want: string[] = [];
          let fieldSeen = false;
          for (const o of ops) {
            if (o.kind === 'resize') {
              if (fieldSeen) continue;
              integer(bytes, 0x20, 5, o.bytes);
              model.resize(o.bytes);
              continue;
            }
            fieldSeen = true;
            const all = STATIC_TABLE_LENGTH + model.entries.length;
            if (o.kind === 'indexed') {
              const index = (o.pick % all) + 1;
              integer(bytes, 0x80, 7, index);
              want.push(...model.at(index));
              continue;
            }
            // A name by index when pick names an entry, else a literal name.
            const nameIndex = o.pick >= 0 && o.pick < all ? o.pick + 1 : 0;
            const name = nameIndex === 0 ? o.name : model.at(nameIndex)[0]!;
            const [flags, prefix] =
              o.kind === 'incremental' ? [0x40, 6] : o.kind === 'without' ? [0, 4] : [0x10, 4];
            integer(bytes, flags, prefix, nameIndex);
            if (nameIndex === 0) literal(bytes, o.name, o.huffman);
            literal(bytes, o.value, !o.huffman);
            want.push(name, o.value);
            if (o.kind === 'incremental') model.add(name, o.value);
          }
          assert.deepEqual(decoder.decode(Uint8Array.from(bytes), NO_LIMIT), {
            fields: want,
            tooLarge: false,
          });
          assert.equal(decoder.dynamicTableBytes, model.bytes);
          assert.equal(decoder.dynamicTableLength, model.entries.length);
        }
      }),
      { seed, numRuns: 300 },
    );
  });
});

/** The dynamic table as RFC 7541 §4 words it, newest first, in a plain array. */
class ModelTable {
  entries: [string, string][] = [];
  bytes = 0;
  constructor(private max: number) {}
  add(name: string, value: string): void {
    this.entries.unshift([name, value]);
    this.bytes += name.length + value.length + 32;
    this.evict();
  }
  resize(max: number): void {
    this.max = max;
    this.evict();
  }
  /** The field at an index (static entries as a fresh decoder reads them, below). */
  at(index: number): string[] {
    if (index > STATIC_TABLE_LENGTH) return [...this.entries[index - STATIC_TABLE_LENGTH - 1]!];
    return STATIC_FIELDS[index - 1]!;
  }
  private evict(): void {
    while (this.bytes > this.max) {
      const [n, v] = this.entries.pop()!;
      this.bytes -= n.length + v.length + 32;
    }
  }
}

/** The static table read back through a fresh decoder, one indexed field at a time. */
const STATIC_FIELDS: string[][] = Array.from(
  { length: STATIC_TABLE_LENGTH },
  (_, i) => decodePairs(new HpackDecoder(), Uint8Array.of(0x80 | (i + 1)))[0]!,
);

function integer(out: number[], flags: number, prefixBits: number, n: number): void {
  const max = (1 << prefixBits) - 1;
  if (n < max) {
    out.push(flags | n);
    return;
  }
  out.push(flags | max);
  let rest = n - max;
  while (rest >= 128) {
    out.push(0x80 | (rest & 0x7f));
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
}

function literal(out: number[], s: string, huffman: boolean): void {
  const bytes = huffman ? huffmanEncode(s) : Buffer.from(s, 'latin1');
  integer(out, huffman ? 0x80 : 0, 7, bytes.length);
  for (const b of bytes) out.push(b);
}

describe('HPACK encoder', () => {
  it('encodes :status by static index and other names by static index or literally', () => {
    assert.deepEqual(encodeHeaderBlock([[':status', '200']]), hex('88'));
    assert.deepEqual(encodeHeaderBlock([[':status', '500']]), hex('8e'));
    // :status 503: name index 8 (4-bit prefix), value literal.
    assert.deepEqual(encodeHeaderBlock([[':status', '503']]), hex('08 03 353033'));
    // content-type is index 31: 0x0f then 31 - 15.
    assert.deepEqual(
      encodeHeaderBlock([['content-type', 'application/grpc']]),
      Buffer.concat([hex('0f10 10'), Buffer.from('application/grpc')]),
    );
    assert.deepEqual(
      encodeHeaderBlock([['grpc-status', '0']]),
      Buffer.concat([hex('00 0b'), Buffer.from('grpc-status'), hex('01 30')]),
    );
    assert.deepEqual(TABLE_SIZE_ZERO, hex('20'));
  });

  it('round-trips through the decoder with TABLE_SIZE_ZERO first', () => {
    const fields: [string, string][] = [
      [':status', '200'],
      ['content-type', 'application/grpc'],
      ['grpc-accept-encoding', 'identity'],
      ['grpc-status', '13'],
      ['grpc-message', `x%20y ${'z'.repeat(300)}`], // a 7-bit length past its prefix
      ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
      ['x-latin1', 'caf\u00e9 \u00ff'],
      [':status', '404'],
      ['www-authenticate', ''],
    ];
    const decoder = new HpackDecoder();
    const block = Buffer.concat([TABLE_SIZE_ZERO, encodeHeaderBlock(fields)]);
    assert.deepEqual(decodePairs(decoder, block), fields);
    assert.equal(decoder.dynamicTableMaxBytes, 0);
    assert.equal(decoder.dynamicTableLength, 0);
  });

  it('round-trips any lower-case names and latin1 values (property)', () => {
    const name = fc.string({
      unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz-:'),
      minLength: 1,
      maxLength: 30,
    });
    const value = fc.string({
      unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)),
      maxLength: 200,
    });
    const field = fc.oneof(
      fc.tuple(name, value),
      fc.tuple(fc.constantFrom(...STATIC_FIELDS.map((f) => f[0]!)), value),
      fc.tuple(
        fc.constant(':status'),
        fc.constantFrom('200', '204', '206', '304', '400', '404', '500', '503'),
      ),
    );
    fc.assert(
      fc.property(fc.array(field, { maxLength: 10 }), (fields) => {
        const decoder = new HpackDecoder();
        assert.deepEqual(
          decodePairs(decoder, Buffer.concat([TABLE_SIZE_ZERO, encodeHeaderBlock(fields)])),
          fields,
        );
      }),
      { seed, numRuns: 500 },
    );
  });

  it('refuses upper-case names and chars a field may not hold', () => {
    assert.throws(() => encodeHeaderBlock([['Content-Type', 'x']]), RangeError);
    assert.throws(() => encodeHeaderBlock([['x', 'a\r\nb']]), RangeError);
    assert.throws(() => encodeHeaderBlock([['x', '\u0100']]), RangeError);
  });
});

describe('HPACK decoder against nghttp2 (Node http2 client, raw loopback server)', () => {
  /** Accepts one HTTP/2 connection and resolves with the header blocks of its first `n` streams. */
  function captureHeaderBlocks(server: net.Server, n: number): Promise<Buffer[]> {
    return new Promise((resolve, reject) => {
      server.once('connection', (socket) => {
        const blocks: Buffer[] = [];
        let pending: Buffer[] = [];
        let buffered = Buffer.alloc(0);
        let prefaceSeen = false;
        socket.on('error', reject);
        socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])); // our empty SETTINGS
        socket.on('data', (chunk: Buffer) => {
          buffered = Buffer.concat([buffered, chunk]);
          if (!prefaceSeen) {
            if (buffered.length < 24) return;
            buffered = buffered.subarray(24);
            prefaceSeen = true;
          }
          while (buffered.length >= 9) {
            const length = buffered.readUIntBE(0, 3);
            if (buffered.length < 9 + length) break;
            const [type, flags] = [buffered[3]!, buffered[4]!];
            let payload = buffered.subarray(9, 9 + length);
            buffered = buffered.subarray(9 + length);
            if (type === 4 && (flags & 1) === 0) socket.write(Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0]));
            if (type !== 1 && type !== 9) continue;
            if (type === 1 && (flags & 0x08) !== 0)
              payload = payload.subarray(1, payload.length - payload[0]!);
            if (type === 1 && (flags & 0x20) !== 0) payload = payload.subarray(5);
            pending.push(payload);
            if ((flags & 0x04) === 0) continue;
            blocks.push(Buffer.concat(pending));
            pending = [];
            if (blocks.length === n) resolve(blocks);
          }
        });
      });
    });
  }

  it('decodes the request headers nghttp2 encodes, with its dynamic table and Huffman coding', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const requests: Record<string, string>[] = [];
    for (let i = 0; i < 6; i++) {
      requests.push({
        ':method': 'POST',
        ':path': i % 2 === 0 ? '/etcdserverpb.KV/Range' : '/etcdserverpb.KV/Put',
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': `${1000 + i}m`,
        'user-agent': 'grpc-node-js/1.14.7',
        'x-request-id': `id-${i}-${'q'.repeat(i * 40)}`,
        authorization: 'Bearer abcdefghijklmnopqrstuvwxyz0123456789',
      });
    }
    const captured = captureHeaderBlocks(server, requests.length);
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', () => {}); // the test ends the connection under it
    for (const headers of requests) client.request(headers, { endStream: false }).on('error', () => {});
    try {
      const blocks = await captured;
      const decoder = new HpackDecoder();
      for (const [i, block] of blocks.entries()) {
        const got = new Map(decodePairs(decoder, block).map(([k, v]) => [k!, v!]));
        for (const [name, value] of Object.entries(requests[i]!))
          assert.equal(got.get(name), value, `${i} ${name}`);
        assert.equal(got.get(':scheme'), 'http');
        assert.equal(got.get(':authority'), `127.0.0.1:${port}`);
      }
      // nghttp2 indexes repeated request headers, so later blocks are mostly indexed references.
      assert.ok(decoder.dynamicTableLength > 0);
      assert.ok(blocks[5]!.length < blocks[0]!.length + 5 * 40);
    } finally {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
