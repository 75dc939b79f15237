import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { GRPC } from '../errors.js';
import {
  decodeGrpcMessage,
  encodeGrpcMessage,
  frameMessage,
  type GrpcStatus,
  MessageReader,
  parseGrpcTimeout,
} from './grpc-wire.js';

const seed = Number(process.env.CAIRN_SEED ?? Date.now() % 2 ** 31);
console.log(
  `seed=${seed} replay: CAIRN_SEED=${seed} node --import tsx --test src/store/etcd/grpc-wire.test.ts`,
);

function messages(r: Buffer[] | GrpcStatus): string[] {
  assert.ok(Array.isArray(r), `refused: ${JSON.stringify(r)}`);
  return r.map((b) => b.toString());
}

describe('gRPC message reader', () => {
  it('reads several messages from one chunk and one message from many chunks', () => {
    const reader = new MessageReader(1024, undefined);
    const wire = Buffer.concat([
      frameMessage(Buffer.from('one')),
      frameMessage(Buffer.from('')),
      frameMessage(Buffer.from('three')),
    ]);
    assert.deepEqual(messages(reader.push(wire)), ['one', '', 'three']);
    const big = frameMessage(Buffer.from('a message split byte by byte'));
    const got: string[] = [];
    for (let i = 0; i < big.length; i++) got.push(...messages(reader.push(big.subarray(i, i + 1))));
    assert.deepEqual(got, ['a message split byte by byte']);
    assert.equal(reader.midMessage, false);
  });

  it('splits any concatenation of messages at any chunk boundaries (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 20 }),
        (bodies, cuts) => {
          const wire = Buffer.concat(bodies.map((b) => frameMessage(b)));
          const reader = new MessageReader(64, undefined);
          const got: Buffer[] = [];
          let at = 0;
          let i = 0;
          while (at < wire.length) {
            const n = cuts[i++ % cuts.length]!;
            const r = reader.push(wire.subarray(at, at + n));
            assert.ok(Array.isArray(r));
            got.push(...r.map((b) => Buffer.from(b)));
            at += n;
          }
          assert.deepEqual(
            got,
            bodies.map((b) => Buffer.from(b)),
          );
          assert.equal(reader.midMessage, false);
        },
      ),
      { seed, numRuns: 300 },
    );
  });

  it('refuses an oversized message from its prefix, before buffering any of its body', () => {
    const reader = new MessageReader(100, undefined);
    const prefix = Buffer.from([0, 0, 0, 0, 101]);
    const r = reader.push(Buffer.concat([prefix, Buffer.alloc(50)]));
    assert.deepEqual(r, {
      code: GRPC.RESOURCE_EXHAUSTED,
      details: 'Received message larger than max (101 vs 100)',
    });
    assert.equal(reader.bufferedBytes, 0);
    // Everything after the refusal is dropped, not kept.
    assert.deepEqual(reader.push(Buffer.alloc(1000)), r);
    assert.equal(reader.bufferedBytes, 0);
    // The same when the prefix itself arrives split.
    const split = new MessageReader(100, undefined);
    assert.deepEqual(split.push(Buffer.from([0, 0xff])), []);
    const r2 = split.push(Buffer.from([0xff, 0xff, 0xff, 1, 2, 3]));
    assert.equal((r2 as GrpcStatus).code, GRPC.RESOURCE_EXHAUSTED);
    assert.equal(split.bufferedBytes, 0);
  });

  it('counts a partial message as buffered and reports being mid-message', () => {
    const reader = new MessageReader(100, undefined);
    assert.deepEqual(reader.push(Buffer.from([0, 0, 0, 0, 10, 1, 2, 3])), []);
    assert.equal(reader.bufferedBytes, 3);
    assert.equal(reader.midMessage, true);
    assert.deepEqual(messages(reader.push(Buffer.alloc(7))).length, 1);
    assert.equal(reader.bufferedBytes, 0);
    const prefixOnly = new MessageReader(100, undefined);
    prefixOnly.push(Buffer.from([0, 0]));
    assert.equal(prefixOnly.midMessage, true);
  });

  it('refuses compressed messages with grpc-go’s wording, and unknown flags', () => {
    const compressed = Buffer.from([1, 0, 0, 0, 1, 9]);
    assert.deepEqual(new MessageReader(100, undefined).push(compressed), {
      code: GRPC.INTERNAL,
      details: 'grpc: compressed flag set with identity or empty encoding',
    });
    assert.deepEqual(new MessageReader(100, 'identity').push(compressed), {
      code: GRPC.INTERNAL,
      details: 'grpc: compressed flag set with identity or empty encoding',
    });
    assert.deepEqual(new MessageReader(100, 'gzip').push(compressed), {
      code: GRPC.UNIMPLEMENTED,
      details: 'grpc: Decompressor is not installed for grpc-encoding "gzip"',
    });
    assert.deepEqual(new MessageReader(100, undefined).push(Buffer.from([7, 0, 0, 0, 0])), {
      code: GRPC.INTERNAL,
      details: 'grpc: received unexpected payload format 7',
    });
  });
});

describe('grpc-timeout', () => {
  it('parses every unit of the spec', () => {
    assert.equal(parseGrpcTimeout('1H'), 3_600_000);
    assert.equal(parseGrpcTimeout('2M'), 120_000);
    assert.equal(parseGrpcTimeout('3S'), 3000);
    assert.equal(parseGrpcTimeout('10000m'), 10_000);
    assert.equal(parseGrpcTimeout('1500u'), 1.5);
    assert.equal(parseGrpcTimeout('2000000n'), 2);
    assert.equal(parseGrpcTimeout('99999999S'), 99_999_999_000);
    assert.equal(parseGrpcTimeout('0m'), 0);
  });

  it('refuses anything but 1 to 8 digits and one unit', () => {
    for (const bad of [
      '',
      'm',
      '100',
      '100x',
      '123456789m',
      '-1m',
      '1.5S',
      ' 1m',
      '1m ',
      '1 m',
      '1mm',
      '１m',
    ])
      assert.equal(parseGrpcTimeout(bad), undefined, bad);
  });

  it('matches a reference parser on arbitrary strings (property)', () => {
    const units: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
    const reference = (v: string) => {
      const m = /^([0-9]{1,8})([HMSmun])$/.exec(v);
      return m === null ? undefined : Number(m[1]) * units[m[2]!]!;
    };
    const timeoutLike = fc
      .tuple(fc.stringMatching(/^[0-9]{0,10}$/), fc.constantFrom('H', 'M', 'S', 'm', 'u', 'n', 'x', '', 'mm'))
      .map(([d, u]) => d + u);
    fc.assert(
      fc.property(fc.oneof(timeoutLike, fc.string({ maxLength: 12 })), (v) => {
        assert.equal(parseGrpcTimeout(v), reference(v));
      }),
      { seed, numRuns: 1000 },
    );
  });
});

describe('grpc-message percent-encoding', () => {
  it('encodes what the spec says and leaves printable ASCII alone', () => {
    assert.equal(encodeGrpcMessage('etcdserver: key is not provided'), 'etcdserver: key is not provided');
    assert.equal(encodeGrpcMessage('100%\n'), '100%25%0A');
    assert.equal(encodeGrpcMessage('é'), '%C3%A9');
    assert.equal(decodeGrpcMessage('bad %zz and %4'), 'bad %zz and %4');
  });

  it('round-trips any string, and encodes to printable ASCII (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (text) => {
        const wire = encodeGrpcMessage(text);
        assert.match(wire, /^[\x20-\x7e]*$/);
        assert.equal(decodeGrpcMessage(wire), text);
      }),
      { seed, numRuns: 500 },
    );
  });
});
