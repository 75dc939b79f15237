import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  HUFFMAN_BAD_PADDING,
  HUFFMAN_CODE_BITS,
  HUFFMAN_CODES,
  HUFFMAN_EOS,
  HUFFMAN_EOS_IN_STRING,
  huffmanDecode,
  huffmanDecodedLengthMax,
  huffmanEncode,
  huffmanEncodedLength,
} from './huffman.js';

const seed = Number(process.env.CAIRN_SEED ?? Date.now() % 2 ** 31);
console.log(
  `seed=${seed} replay: CAIRN_SEED=${seed} node --import tsx --test src/store/etcd/h2/huffman.test.ts`,
);

function decode(bytes: Uint8Array): string | number {
  const out = Buffer.alloc(huffmanDecodedLengthMax(bytes.length));
  const n = huffmanDecode(bytes, 0, bytes.length, out);
  return n < 0 ? n : out.toString('latin1', 0, n);
}

/** Strings of RFC 7541 Appendix C.4 and C.6 and their Huffman codings, as the RFC prints them. */
const RFC_STRINGS: ReadonlyArray<readonly [string, string]> = [
  ['www.example.com', 'f1e3 c2e5 f23a 6ba0 ab90 f4ff'],
  ['no-cache', 'a8eb 1064 9cbf'],
  ['custom-key', '25a8 49e9 5ba9 7d7f'],
  ['custom-value', '25a8 49e9 5bb8 e8b4 bf'],
  ['302', '6402'],
  ['307', '640e ff'],
  ['private', 'aec3 771a 4b'],
  ['Mon, 21 Oct 2013 20:13:21 GMT', 'd07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff'],
  ['Mon, 21 Oct 2013 20:13:22 GMT', 'd07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff'],
  ['https://www.example.com', '9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3'],
  ['gzip', '9bd9 ab'],
  [
    'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1',
    '94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
  ],
];

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('HPACK Huffman code', () => {
  it('derives the codes of RFC 7541 Appendix B from the code lengths', () => {
    // [symbol, code as hex, bits] rows copied from the RFC's table, across the code lengths.
    const rows: ReadonlyArray<readonly [number, number, number]> = [
      [0, 0x1ff8, 13],
      [1, 0x7fffd8, 23],
      [10, 0x3ffffffc, 30],
      [32, 0x14, 6],
      [48, 0x0, 5],
      [88, 0xfc, 8],
      [92, 0x7fff0, 19],
      [97, 0x3, 5],
      [124, 0x7fc, 11],
      [127, 0xffffffc, 28],
      [128, 0xfffe6, 20],
      [153, 0x1fffdc, 21],
      [199, 0x1ffffec, 25],
      [200, 0x3ffffe2, 26],
      [203, 0x7ffffde, 27],
      [255, 0x3ffffee, 26],
      [HUFFMAN_EOS, 0x3fffffff, 30],
    ];
    for (const [symbol, code, bits] of rows) {
      assert.equal(HUFFMAN_CODE_BITS[symbol], bits, `bits of symbol ${symbol}`);
      assert.equal(HUFFMAN_CODES[symbol], code, `code of symbol ${symbol}`);
    }
  });

  it('encodes and decodes the strings of RFC 7541 Appendix C', () => {
    for (const [text, coded] of RFC_STRINGS) {
      assert.equal(huffmanEncode(text).toString('hex'), hex(coded).toString('hex'), text);
      assert.equal(huffmanEncodedLength(text), hex(coded).length, text);
      assert.equal(decode(hex(coded)), text);
    }
    assert.equal(decode(new Uint8Array(0)), '');
  });

  it('decodes a string in the middle of a larger buffer', () => {
    const bytes = Buffer.concat([Buffer.from([1, 2, 3]), huffmanEncode('no-cache'), Buffer.from([9])]);
    const out = Buffer.alloc(32);
    const n = huffmanDecode(bytes, 3, bytes.length - 1, out);
    assert.equal(out.toString('latin1', 0, n), 'no-cache');
  });

  it('refuses EOS inside a string, padding over 7 bits and padding that is not all ones', () => {
    // EOS (30 ones) then two ones of padding.
    assert.equal(decode(hex('ffff ffff')), HUFFMAN_EOS_IN_STRING);
    // 'a' (00011) then EOS: the error comes at EOS, not at the padding.
    assert.equal(decode(hex('1fff ffff ff')), HUFFMAN_EOS_IN_STRING);
    // A whole byte of ones: eight bits of padding.
    assert.equal(decode(hex('ff')), HUFFMAN_BAD_PADDING);
    // 'a' padded with 111, then a whole byte of ones: eleven bits of padding.
    assert.equal(decode(hex('1fff')), HUFFMAN_BAD_PADDING);
    // 'a' padded with 000 and with 101.
    assert.equal(decode(hex('18')), HUFFMAN_BAD_PADDING);
    assert.equal(decode(hex('1d')), HUFFMAN_BAD_PADDING);
    // 'a' with a correct padding decodes.
    assert.equal(decode(hex('1f')), 'a');
  });

  it('round-trips every latin1 string (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const text = Buffer.from(bytes).toString('latin1');
        const coded = huffmanEncode(text);
        assert.equal(coded.length, huffmanEncodedLength(text));
        assert.equal(decode(coded), text);
      }),
      { seed, numRuns: 500 },
    );
  });

  it('decodes any bytes to an error code or to the one string that encodes back to them (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const got = decode(bytes);
        if (typeof got === 'number') {
          assert.ok(got === HUFFMAN_EOS_IN_STRING || got === HUFFMAN_BAD_PADDING);
          return;
        }
        assert.deepEqual(huffmanEncode(got), Buffer.from(bytes));
      }),
      { seed, numRuns: 2000 },
    );
  });
});
