import { describe, it } from 'node:test';
import { decode } from '../../src/core/index.js';
import {
  attenuate,
  formatToken,
  Keyring,
  mintToken,
  NodeIdentity,
  parseToken,
  SignedRecordValidator,
  signRecord,
  verifyRecord,
} from '../../src/security/index.js';
import { DEFAULT_LIMITS } from '../../src/transport/limits.js';
import { encodeFrame, FrameDecoder } from '../../src/transport/net/frame-decoder.js';
import { decodeHello, encodeHello } from '../../src/transport/net/hello.js';
import { DECODE_ERRORS, encoded, fuzzDecoder } from './harness.js';

describe('decoder fuzz: transport and security', () => {
  it('stream framing, whole and split in two chunks', () => {
    const frames = [
      Uint8Array.from(encodeFrame(Uint8Array.of(1, 2, 3))),
      Uint8Array.from([...encodeFrame(new Uint8Array(300)), ...encodeFrame(new Uint8Array(0))]),
    ];
    fuzzDecoder({
      name: 'FrameDecoder',
      seeds: frames,
      run: (bytes) => {
        let count = 0;
        const decoder = new FrameDecoder(DEFAULT_LIMITS.maxFrameBytes);
        const half = bytes.length >>> 1;
        decoder.push(bytes.subarray(0, half), () => ++count > 0);
        decoder.push(bytes.subarray(half), () => ++count > 0);
        return count;
      },
      accepts: (count) => (count as number) > 0,
      throws: ['TRANSPORT_FRAME_TOO_LARGE'],
    });
  });

  it('the stream hello', () => {
    fuzzDecoder({
      name: 'hello',
      seeds: [encodeHello('127.0.0.1:7000'), encodeHello('[::1]:65535')],
      run: decodeHello,
      accepts: (address) => address !== undefined,
      throws: [],
    });
  });

  it('sealed boxes', () => {
    const ring = new Keyring({ keys: [new Uint8Array(32).fill(7)], label: 'fuzz' });
    fuzzDecoder({
      name: 'Keyring.tryOpen',
      seeds: [ring.seal(Uint8Array.of(1, 2, 3)), ring.seal(encoded({ type: 'Ping', seq: 1 }))],
      run: (bytes) => ring.tryOpen(bytes),
      accepts: (plain) => plain !== undefined,
      throws: [],
    });
  });

  it('signed records, decoded and verified', () => {
    const identity = NodeIdentity.fromSeed(new Uint8Array(32).fill(3));
    fuzzDecoder({
      name: 'signed record',
      seeds: [
        encoded(signRecord(identity, 1, Uint8Array.of(9, 9))),
        encoded(signRecord(identity, 2 ** 40, new Uint8Array(200))),
      ],
      run: (bytes) => verifyRecord(decode(bytes, SignedRecordValidator)),
      accepts: (valid) => valid === true,
      throws: DECODE_ERRORS,
    });
  });

  it('tokens', () => {
    const root = new Uint8Array(32).fill(5);
    const token = mintToken(root, { location: 'test', caveats: [{ type: 'ops', ops: ['kv:read'] }] });
    const narrowed = attenuate(token, [
      { type: 'expires', atMs: 1_900_000_000_000 },
      { type: 'prefix', prefix: 'users/' },
    ]);
    const text = (t: typeof token) => Uint8Array.from(Buffer.from(formatToken(t), 'latin1'));
    fuzzDecoder({
      name: 'parseToken',
      seeds: [text(token), text(narrowed)],
      run: (bytes) => parseToken(Buffer.from(bytes).toString('latin1')),
      accepts: (t) => t !== undefined,
      throws: ['TOKEN_MALFORMED'],
    });
  });
});
