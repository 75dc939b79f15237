import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isKvError } from '../errors.js';
import type { Cell } from '../types.js';
import {
  decodeReadAnswers,
  decodeReadKeys,
  encodeReadAnswers,
  encodeReadKeys,
  MAX_DIGEST_BYTES,
  type ReadKey,
  type ReadWireAnswer,
  type ReadWireLimits,
} from './read-wire.js';

const enc = new TextEncoder();
const LIMITS: ReadWireLimits = { maxItems: 8, maxKeyBytes: 64, maxValueBytes: 256 };

const invalid = (e: unknown) => isKvError(e, 'INVALID_ARGUMENT');

const cellArb: fc.Arbitrary<Cell> = fc
  .record(
    {
      wall: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      logical: fc.integer({ min: 0, max: 0xffff }),
      node: fc.integer({ min: 0, max: 0xffff_ffff }),
      value: fc.option(fc.uint8Array({ maxLength: 256 }), { nil: undefined }),
      expiresAt: fc.option(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { nil: undefined }),
    },
    { noNullPrototype: true },
  )
  .map(({ wall, logical, node, value, expiresAt }) => {
    const version = { wall, logical, node };
    return expiresAt === undefined ? { version, value } : { version, value, expiresAt };
  });

const answerArb: fc.Arbitrary<ReadWireAnswer> = fc.oneof(
  fc.constant({ cell: undefined }),
  cellArb.map((cell) => ({ cell })),
  fc.uint8Array({ maxLength: MAX_DIGEST_BYTES }).map((digest) => ({ digest })),
  fc.string({ maxLength: 256, unit: 'binary' }).map((s) => ({ error: s })),
);

const keyArb: fc.Arbitrary<ReadKey> = fc.record(
  {
    key: fc.uint8Array({ minLength: 1, maxLength: 64 }),
    digest: fc.boolean(),
  },
  { noNullPrototype: true },
);

describe('read wire', () => {
  it('round-trips keys and answers', () => {
    fc.assert(
      fc.property(fc.array(keyArb, { minLength: 1, maxLength: 8 }), (keys) => {
        assert.deepEqual(decodeReadKeys(encodeReadKeys(keys), LIMITS), keys);
      }),
    );
    fc.assert(
      fc.property(fc.array(answerArb, { maxLength: 8 }), (answers) => {
        const back = decodeReadAnswers(encodeReadAnswers(answers), LIMITS);
        // Error texts go through UTF-8: a lone surrogate comes back as U+FFFD, as TextEncoder writes it.
        const expected = answers.map((a) =>
          'error' in a ? { error: new TextDecoder().decode(enc.encode(a.error)) } : a,
        );
        assert.deepEqual(back, expected);
      }),
    );
  });

  it('answers random bytes with items or INVALID_ARGUMENT, never another error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const decode of [decodeReadKeys, decodeReadAnswers]) {
          try {
            decode(bytes, LIMITS);
          } catch (e) {
            assert.ok(invalid(e), String(e));
          }
        }
      }),
      { numRuns: 3_000 },
    );
  });

  it('refuses every truncation of valid keys and answers inside an item', () => {
    const keys: ReadKey[] = [
      { key: enc.encode('a'), digest: false },
      { key: enc.encode('bee'), digest: true },
    ];
    const answers: ReadWireAnswer[] = [
      { cell: { version: { wall: 2 ** 40, logical: 3, node: 9 }, value: enc.encode('v'), expiresAt: 5 } },
      { cell: undefined },
      { digest: new Uint8Array(32).fill(1) },
      { error: 'disk on fire' },
    ];
    for (const [items, encode, decode] of [
      [keys, encodeReadKeys, decodeReadKeys],
      [answers, encodeReadAnswers, decodeReadAnswers],
    ] as const) {
      const ends = new Set<number>([0]);
      let at = 0;
      for (const item of items) {
        at += (encode as (x: unknown[]) => Uint8Array)([item]).length;
        ends.add(at);
      }
      const bytes = (encode as (x: unknown[]) => Uint8Array)([...items]);
      for (let n = 1; n < bytes.length; n++) {
        if (ends.has(n)) continue; // a cut between items is a shorter valid message
        assert.throws(() => decode(bytes.subarray(0, n), LIMITS), invalid, `cut at ${n}`);
      }
    }
  });

  it('refuses counts, sizes, unknown flags and tags past their bounds', () => {
    const refused = (f: () => unknown, what: RegExp) =>
      assert.throws(f, (e) => invalid(e) && what.test((e as Error).message));
    const k = { key: enc.encode('k'), digest: false };
    refused(() => decodeReadKeys(new Uint8Array(0), LIMITS), /no key/);
    refused(
      () => decodeReadKeys(encodeReadKeys(Array.from({ length: 9 }, () => k)), LIMITS),
      /more than 8 keys/,
    );
    refused(
      () => decodeReadKeys(encodeReadKeys([{ key: new Uint8Array(65), digest: true }]), LIMITS),
      /key of 65/,
    );
    refused(() => decodeReadKeys(Uint8Array.of(0, 0, 0, 0, 0), LIMITS), /key of 0 bytes/);
    refused(() => decodeReadKeys(Uint8Array.of(2, 0, 0, 0, 1, 7), LIMITS), /unknown flags 2/);
    const absent = { cell: undefined };
    refused(
      () => decodeReadAnswers(encodeReadAnswers(Array.from({ length: 9 }, () => absent)), LIMITS),
      /more than 8 answers/,
    );
    refused(() => decodeReadAnswers(Uint8Array.of(4), LIMITS), /unknown tag 4/);
    refused(() => decodeReadAnswers(Uint8Array.of(2, 65, ...new Uint8Array(65)), LIMITS), /digest of 65/);
    refused(() => decodeReadAnswers(Uint8Array.of(3, 0x03, 0x01), LIMITS), /error text of 769/);
    const big = encodeReadAnswers([
      { cell: { version: { wall: 1, logical: 0, node: 0 }, value: new Uint8Array(257) } },
    ]);
    refused(() => decodeReadAnswers(big, LIMITS), /value of 257/);
    const flags = encodeReadAnswers([
      { cell: { version: { wall: 1, logical: 0, node: 0 }, value: undefined } },
    ]);
    flags[1 + 14] = 8;
    refused(() => decodeReadAnswers(flags, LIMITS), /unknown flags 8/);
    const wall = encodeReadAnswers([
      { cell: { version: { wall: 1, logical: 0, node: 0 }, value: undefined } },
    ]);
    wall[2] = 0x20; // high word 2^21: past 2^53 - 1
    refused(() => decodeReadAnswers(wall, LIMITS), /wall past/);
    assert.deepEqual(decodeReadAnswers(new Uint8Array(0), LIMITS), []);
  });
});
