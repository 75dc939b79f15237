import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encode, isCairnError, withLimits } from '../../core/index.js';
import { DEFAULT_PEX_CONFIG, lanPexConfig, testPexConfig, validatePexConfig } from './config.js';
import { DEFAULT_LIMITS } from './limits.js';
import {
  decodePexMessage,
  encodePexMessage,
  MAX_EXCHANGE_ID,
  MESSAGE_OVERHEAD_BYTES,
  type PexMessage,
} from './messages.js';

describe('PeX messages', () => {
  it('round-trip through the codec, with and without node ids', () => {
    const m: PexMessage = {
      type: 'PexPush',
      id: MAX_EXCHANGE_ID,
      entries: [
        { address: '10.0.0.1:7946', age: 0, id: 'node-a' },
        { address: '[::1]:7946', age: 1_000_000 },
        { address: 'host.example:1', age: 3 },
      ],
    };
    assert.deepEqual(decodePexMessage(encodePexMessage(m)), m);
    const pull: PexMessage = { type: 'PexPull', id: 0, entries: [] };
    assert.deepEqual(decodePexMessage(encodePexMessage(pull)), pull);
  });

  it('the overhead bound covers the largest header', () => {
    const entries = Array.from({ length: DEFAULT_LIMITS.maxBufferEntries }, () => ({
      address: 'a:1',
      age: 0,
    }));
    const m: PexMessage = { type: 'PexPush', id: MAX_EXCHANGE_ID, entries };
    const entryBytes = encode(['a:1', 0]).length * entries.length;
    assert.ok(encodePexMessage(m).length <= MESSAGE_OVERHEAD_BYTES + entryBytes);
  });

  it('rejects malformed and hostile input without throwing', () => {
    const bad: unknown[] = [
      { type: 'PexPush', id: 1, entries: [['not an address', 0]] },
      { type: 'PexPush', id: 1, entries: [['10.0.0.1:7946', -1]] },
      { type: 'PexPush', id: 1, entries: [['10.0.0.1:7946', DEFAULT_LIMITS.maxAge + 1]] },
      { type: 'PexPush', id: 1, entries: [['10.0.0.1:7946', 1.5]] },
      { type: 'PexPush', id: 1, entries: [['10.0.0.1:7946', 0, '']] },
      { type: 'PexPush', id: 1, entries: [['10.0.0.1:7946', 0, 'x'.repeat(DEFAULT_LIMITS.maxIdLength + 1)]] },
      { type: 'PexPush', id: 1, entries: [['10.0.0.1:7946', 0, 'id', 'extra']] },
      { type: 'PexPush', id: 1, entries: [[`${'a'.repeat(DEFAULT_LIMITS.maxAddressLength)}:1`, 0]] },
      { type: 'PexPush', id: -1, entries: [] },
      { type: 'PexPush', id: MAX_EXCHANGE_ID + 1, entries: [] },
      { type: 'PexShove', id: 1, entries: [] },
      { type: 'PexPull', id: 1 },
      { type: 'PexPull', id: 1, entries: {} },
      {
        type: 'PexPull',
        id: 1,
        entries: Array.from({ length: DEFAULT_LIMITS.maxBufferEntries + 1 }, () => ['a:1', 0]),
      },
      [1, 2, 3],
      'PexPush',
      null,
    ];
    for (const value of bad) assert.equal(decodePexMessage(encode(value)), undefined, JSON.stringify(value));
    assert.equal(decodePexMessage(new Uint8Array(0)), undefined);
    assert.equal(decodePexMessage(new Uint8Array([0xc1])), undefined);
    assert.equal(decodePexMessage(new Uint8Array(DEFAULT_LIMITS.maxBufferBytes + 1)), undefined, 'oversized');
  });

  it('never throws on arbitrary bytes (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const m = decodePexMessage(bytes);
        if (m !== undefined) assert.ok(m.type === 'PexPush' || m.type === 'PexPull');
      }),
    );
  });

  it('honours custom limits', () => {
    const limits = withLimits(DEFAULT_LIMITS, { maxBufferEntries: 1 });
    const m: PexMessage = {
      type: 'PexPush',
      id: 1,
      entries: [
        { address: 'a:1', age: 0 },
        { address: 'b:1', age: 0 },
      ],
    };
    assert.notEqual(decodePexMessage(encodePexMessage(m)), undefined);
    assert.equal(decodePexMessage(encodePexMessage(m), limits), undefined);
  });
});

describe('PexConfig', () => {
  it('presets are valid and derive from the default', () => {
    assert.deepEqual(lanPexConfig(), DEFAULT_PEX_CONFIG);
    validatePexConfig(lanPexConfig());
    validatePexConfig(testPexConfig());
    assert.equal(lanPexConfig({ viewSize: 40 }).viewSize, 40);
  });

  it('validation names the bad field', () => {
    const cases: [Partial<typeof DEFAULT_PEX_CONFIG>, string][] = [
      [{ viewSize: 1 }, 'viewSize'],
      [{ viewSize: DEFAULT_LIMITS.maxViewSize + 1 }, 'viewSize'],
      [{ viewSize: 30.5 }, 'viewSize'],
      [{ healing: 16 }, 'healing'],
      [{ healing: -1 }, 'healing'],
      [{ healing: 10, swap: 6 }, 'swap'],
      [{ exchangeIntervalMs: 0 }, 'exchangeIntervalMs'],
      [{ exchangeTimeoutMs: 0 }, 'exchangeTimeoutMs'],
      [{ exchangeTimeoutMs: 1000 * DEFAULT_LIMITS.maxPendingExchanges + 1 }, 'exchangeTimeoutMs'],
      [{ peerSelection: 'head' as 'tail' }, 'peerSelection'],
    ];
    for (const [overrides, field] of cases) {
      assert.throws(
        () => validatePexConfig(lanPexConfig(overrides)),
        (e) => isCairnError(e, 'INVALID_CONFIG') && e.message.startsWith(`PexConfig.${field} `),
        `${JSON.stringify(overrides)} should name ${field}`,
      );
    }
  });
});
