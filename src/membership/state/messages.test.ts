import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encode, isCairnError } from '../../core/index.js';
import { simulatedScheme } from '../../security/index.js';
import { minimumMtuBytes, stateConfig } from './config.js';
import { identities } from './harness.test-helper.js';
import {
  type Digest,
  decodeStateMessage,
  digestEntryBytes,
  encodeStateMessage,
  type NodeDelta,
  nodeDeltaHeaderBytes,
  stateMessageToWire,
  wireRecordBytes,
} from './messages.js';
import { makeKvRecord } from './records.js';
import { arrayHeaderBytes, binBytes, strBytes, uintBytes } from './wire-size.js';

const [alice] = identities(1, 'messages');
const node = alice!.nodeId;

test('size helpers equal the codec for every width', () => {
  fc.assert(
    fc.property(
      fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      fc.string({ maxLength: 300 }),
      fc.nat({ max: 70_000 }),
      fc.nat({ max: 70_000 }),
      (n, s, len, count) => {
        assert.equal(uintBytes(n), encode(n).length);
        assert.equal(strBytes(s), encode(s).length);
        assert.equal(binBytes(len), encode(new Uint8Array(len)).length);
        assert.equal(
          arrayHeaderBytes(count % 20 === 0 ? count : count % 20),
          encode(new Array(count % 20 === 0 ? count : count % 20).fill(0)).length -
            (count % 20 === 0 ? count : count % 20),
        );
      },
    ),
    { numRuns: 200 },
  );
});

test('digest entry, record and node delta sizes equal the codec', () => {
  fc.assert(
    fc.property(
      fc.array(fc.nat({ max: 2 ** 40 }), { minLength: 5, maxLength: 5 }),
      fc.nat({ max: 40 }),
      fc.boolean(),
      (nums, n, hb) => {
        const [g, a, b, c, d] = nums as [number, number, number, number, number];
        const entry = { node, generation: g, maxVersion: a, gcVersion: b, heartbeat: c };
        assert.equal(digestEntryBytes(entry), encode([node, g, a, b, c]).length);
        const rec = makeKvRecord(
          alice!,
          { generation: g + 1, version: d + 1, key: 'k'.repeat(n + 1), value: 'v'.repeat(n * 7) },
          simulatedScheme,
        );
        assert.equal(wireRecordBytes(rec), encode([rec.version, rec.payload, rec.signature]).length);
        const delta: NodeDelta = {
          node,
          generation: g,
          fromVersion: a,
          maxVersion: b,
          gcVersion: c,
          heartbeat: hb ? rec : undefined,
          records: Array(n).fill(rec),
        };
        const wire = stateMessageToWire({ type: 'Ack', delta: [delta] }) as { delta: unknown[] };
        assert.equal(nodeDeltaHeaderBytes(delta, n) + n * wireRecordBytes(rec), encode(wire.delta[0]).length);
      },
    ),
    { numRuns: 100 },
  );
});

test('messages round-trip through the codec', () => {
  const rec = makeKvRecord(alice!, { generation: 3, version: 2, key: 'k', value: 'v' }, simulatedScheme);
  const digest: Digest = {
    partial: true,
    entries: [{ node, generation: 3, maxVersion: 2, gcVersion: 0, heartbeat: 4 }],
  };
  const delta: NodeDelta[] = [
    {
      node,
      generation: 3,
      fromVersion: 0,
      maxVersion: 2,
      gcVersion: 0,
      heartbeat: undefined,
      records: [rec],
    },
  ];
  for (const m of [
    { type: 'Syn', cluster: 'prod', digest },
    { type: 'Syn', digest },
    { type: 'SynAck', digest, delta },
    { type: 'Ack', delta },
  ] as const) {
    const back = decodeStateMessage(encodeStateMessage(m));
    assert.ok(back);
    assert.equal(back.type, m.type);
    assert.equal(encodeStateMessage(back).length, encodeStateMessage(m).length);
  }
});

test('malformed messages decode to undefined, never throw', () => {
  const bad = [
    new Uint8Array([0xc1]),
    encode({ type: 'Nope' }),
    encode({ type: 'Syn', partial: false, digest: [['not-a-node', 1, 1, 1, 1]] }),
    encode({ type: 'Ack', delta: [[node, 1, 0, 1, 0, null, [[1, new Uint8Array(1), 'sig']]]] }),
    encode({ type: 'Ack', delta: [[node, -1, 0, 1, 0, null, []]] }),
    encode({ type: 'SynAck', partial: false, digest: [], delta: 'x' }),
  ];
  for (const bytes of bad) assert.equal(decodeStateMessage(bytes), undefined);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      decodeStateMessage(bytes);
    }),
  );
});

test('config validation names the bad field; a record must fit the MTU', () => {
  const bad: [Record<string, unknown>, string][] = [
    [{ mtuBytes: 0 }, 'mtuBytes'],
    [{ tombstoneGraceMs: -1 }, 'tombstoneGraceMs'],
    [{ maxKeysPerNode: 1e9 }, 'maxKeysPerNode'],
    [{ maxKeyBytes: 1.5 }, 'maxKeyBytes'],
    [{ maxValueBytes: 1200 }, 'maxValueBytes'],
  ];
  for (const [overrides, field] of bad) {
    assert.throws(
      () => stateConfig(overrides),
      (err: unknown) => isCairnError(err, 'INVALID_CONFIG') && err.details?.field === field,
    );
  }
  const c = stateConfig();
  assert.ok(minimumMtuBytes(c) <= c.mtuBytes);
  assert.ok(stateConfig({ mtuBytes: 65_000, maxValueBytes: 60_000 }));
});
