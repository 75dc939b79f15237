import { describe, it } from 'node:test';
import { decode, decodeUnchecked, v } from '../../src/core/index.js';
import { DEFAULT_LIMITS } from '../../src/rpc/limits.js';
import {
  decodeFrame,
  encodeBatch,
  encodeMessage,
  frameValidator,
  type RpcMessage,
} from '../../src/rpc/messages.js';
import { DECODE_ERRORS, encoded, fuzzDecoder } from './harness.js';

const anyValue = [
  encoded({ type: 'ping', seq: 7, tags: ['a', 'b'], payload: new Uint8Array([1, 2, 3]) }),
  encoded([1, -1, 2 ** 40, 1.5, 'text', null, true, { nested: [[], {}] }]),
  encoded('x'.repeat(300)),
  encoded(new Uint8Array(70_000)),
];

const validateFrame = frameValidator(DEFAULT_LIMITS);
const maxFrameBytes = DEFAULT_LIMITS.maxPayloadBytes + DEFAULT_LIMITS.maxBatchBytes;
const payload = encoded({ text: 'hello', n: 3 });
const messages: Uint8Array[] = (
  [
    { type: 'request', id: 1, method: 'kv.get', payload, deadlineMs: 500 },
    { type: 'request', id: 2, method: 'kv.put', payload },
    { type: 'response', id: 1, payload },
    { type: 'error', id: 3, code: 'RPC_OVERLOADED', message: 'busy' },
    { type: 'cancel', id: 4 },
  ] as const
).map((m: RpcMessage) => Uint8Array.from(encodeMessage(m)));

describe('decoder fuzz: core and rpc', () => {
  it('core decodeUnchecked', () => {
    fuzzDecoder({
      name: 'decodeUnchecked',
      seeds: anyValue,
      run: (bytes) => decodeUnchecked(bytes),
      accepts: () => true,
      throws: DECODE_ERRORS,
    });
  });

  it('core decode with a bounded validator', () => {
    const validator = v.object({
      type: v.literal('ping'),
      seq: v.uint(),
      tags: v.array(v.string({ maxLength: 8 }), { maxLength: 4 }),
      payload: v.optional(v.bytes({ maxLength: 16 })),
      extra: v.optional(v.record(v.unknown(), { maxKeys: 8 })),
    });
    fuzzDecoder({
      name: 'decode',
      seeds: [anyValue[0]!, encoded({ type: 'ping', seq: 1, tags: [], extra: { a: [1, { b: 2 }] } })],
      run: (bytes) => decode(bytes, validator),
      accepts: () => true,
      throws: DECODE_ERRORS,
    });
  });

  it('rpc frames', () => {
    fuzzDecoder({
      name: 'rpc decodeFrame',
      seeds: [...messages, encodeBatch(messages), encodeBatch(messages.slice(0, 2))],
      run: (bytes) => decodeFrame(bytes, validateFrame, maxFrameBytes),
      accepts: (frame) => frame !== undefined,
      throws: DECODE_ERRORS,
    });
  });
});
