import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CairnError } from '../core/index.js';
import { clipMessage, fromWireError, toWireError } from './errors.js';
import { DEFAULT_LIMITS } from './limits.js';
import { decodeFrame, encodeBatch, encodeMessage, frameValidator, type RpcMessage } from './messages.js';
import { Outbox, type OutboxEntry } from './outbox.js';

const validate = frameValidator(DEFAULT_LIMITS);
const MAX = 1 << 20;

const messageArb: fc.Arbitrary<RpcMessage> = fc.oneof(
  fc.record({
    type: fc.constant('request' as const),
    id: fc.nat(),
    method: fc.string({ minLength: 1, maxLength: 20 }),
    payload: fc.uint8Array({ maxLength: 40 }),
  }),
  fc.record({
    type: fc.constant('request' as const),
    id: fc.nat(),
    method: fc.string({ minLength: 1, maxLength: 20 }),
    payload: fc.uint8Array({ maxLength: 40 }),
    deadlineMs: fc.integer({ min: 0, max: 1_000_000 }),
  }),
  fc.record({
    type: fc.constant('response' as const),
    id: fc.nat(),
    payload: fc.uint8Array({ maxLength: 2000 }),
  }),
  fc.record({
    type: fc.constant('error' as const),
    id: fc.nat(),
    code: fc.constant('TIMEOUT'),
    message: fc.string(),
  }),
  fc.record({ type: fc.constant('cancel' as const), id: fc.nat() }),
);

/** Byte arrays decode as Buffer; compare them as plain arrays. */
function normal(m: unknown): unknown {
  if (m instanceof Uint8Array) return [...m];
  if (Array.isArray(m)) return m.map(normal);
  if (typeof m === 'object' && m !== null) {
    return Object.fromEntries(Object.entries(m).map(([k, value]) => [k, normal(value)]));
  }
  return m;
}

describe('rpc messages', () => {
  it('a batch built from encoded messages decodes to those messages (property)', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { minLength: 1, maxLength: 40 }), (messages) => {
        const frame = decodeFrame(encodeBatch(messages.map(encodeMessage)), validate, MAX);
        assert.equal(frame.type, 'batch');
        assert.deepEqual(normal(frame.type === 'batch' ? frame.messages : []), normal(messages));
      }),
    );
  });

  it('a lone message round-trips', () => {
    fc.assert(
      fc.property(messageArb, (message) => {
        assert.deepEqual(normal(decodeFrame(encodeMessage(message), validate, MAX)), normal(message));
      }),
    );
  });

  it('rejects a batch longer than any encoder writes and a too-long method name', () => {
    const long = {
      type: 'request' as const,
      id: 1,
      method: 'm'.repeat(DEFAULT_LIMITS.maxMethodNameLength + 1),
      payload: new Uint8Array(),
    };
    assert.throws(
      () => decodeFrame(encodeMessage(long), validate, MAX),
      (e: CairnError) => e.code === 'DECODE_FAILED',
    );
  });
});

describe('Outbox', () => {
  it('keeps order, respects the batch limits and sends each message once (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 600 }), fc.boolean()), { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 2, max: 10 }),
        async (items, maxBatchCount) => {
          const limits = { maxBatchBytes: 1000, maxBatchCount };
          const frames: { frame: Uint8Array; entries: readonly OutboxEntry[] }[] = [];
          const outbox = new Outbox((frame, entries) => frames.push({ frame, entries }), limits);
          const sent: number[] = [];
          for (let i = 0; i < items.length; i++) {
            const [size, yieldAfter] = items[i]!;
            outbox.push(encodeMessage({ type: 'response', id: i, payload: new Uint8Array(size) }));
            sent.push(i);
            if (yieldAfter) await Promise.resolve();
          }
          await Promise.resolve();
          const received: number[] = [];
          for (const { frame, entries } of frames) {
            assert.ok(entries.length <= maxBatchCount);
            assert.ok(
              entries.length === 1 || frame.length <= limits.maxBatchBytes,
              `frame of ${frame.length} bytes`,
            );
            const decoded = decodeFrame(frame, validate, MAX);
            if (decoded.type === 'batch') for (const m of decoded.messages) received.push(m.id);
            else received.push((decoded as { id: number }).id);
          }
          assert.deepEqual(received, sent);
        },
      ),
    );
  });
});

describe('rpc error mapping', () => {
  it('sends code and message only, and maps unknown codes to RPC_REMOTE_ERROR', () => {
    const wire = toWireError(
      new CairnError('NOT_FOUND', 'no such key', { details: { secret: 1 } }),
      'kv.get',
      1024,
    );
    assert.deepEqual(wire, { code: 'NOT_FOUND', message: 'no such key' });
    const back = fromWireError({ code: 'FROM_THE_FUTURE', message: 'x' }, 'kv.get', 'p:1');
    assert.equal(back.code, 'RPC_REMOTE_ERROR');
    assert.match(back.message, /FROM_THE_FUTURE/);
    assert.equal(toWireError('a string', 'm', 1024).code, 'RPC_REMOTE_ERROR');
    assert.equal(clipMessage('x'.repeat(50), 10), `${'x'.repeat(7)}...`);
  });
});
