import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Rng } from '../../core/index.js';
import { type NodeId, NodeIdentity, type SignedRecord } from '../../security/index.js';
import type { MemberStatus } from '../swim/index.js';
import {
  compareSummary,
  MemberSummary,
  type MemberVisitor,
  memberKey,
  SUMMARY_ENTRY_BYTES,
  type SummarizedMember,
  writeSummary,
} from './summary.js';

const ids: NodeId[] = Array.from(
  { length: 12 },
  (_, i) => NodeIdentity.fromSeed(Rng.fromSeed(`summary:${i}`).bytes(32)).nodeId,
);
const STATUSES: MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];

/** A stand-in record that names its member and order, so tests can tell which one travelled. */
function recordOf(id: NodeId, generation: number, incarnation: number): SignedRecord {
  return { node: id, version: incarnation, payload: Uint8Array.of(generation), signature: new Uint8Array(0) };
}

const memberArb = fc.record({
  at: fc.nat({ max: ids.length - 1 }),
  generation: fc.integer({ min: 1, max: 3 }),
  incarnation: fc.nat({ max: 3 }),
  status: fc.constantFrom(...STATUSES),
});

/** Visits one alive member per key, in order (member i has key `keys[i]`). */
function visitKeys(keys: readonly number[]): MemberVisitor {
  return (fn) => {
    for (let i = 0; i < keys.length; i++) {
      fn({
        id: `m${i}`,
        key: keys[i]!,
        generation: 1,
        incarnation: 0,
        status: 'alive',
        aliveRecord: recordOf(`m${i}`, 1, 0),
      });
    }
  };
}

function table(entries: { at: number; generation: number; incarnation: number; status: MemberStatus }[]) {
  const byId = new Map<NodeId, SummarizedMember>();
  for (const e of entries) {
    const id = ids[e.at]!;
    byId.set(id, { id, key: memberKey(id), ...e, aliveRecord: recordOf(id, e.generation, e.incarnation) });
  }
  const visit: MemberVisitor = (fn) => {
    for (const m of byId.values()) fn(m);
  };
  return { byId, visit };
}

const up = (s: MemberStatus) => s === 'alive' || s === 'suspect';
const order = (m: { generation: number; incarnation: number }) => m.generation * 1000 + m.incarnation;

describe('push-pull member summaries', () => {
  it('round-trip every field, in visit order', () => {
    fc.assert(
      fc.property(fc.array(memberArb, { maxLength: 12 }), (entries) => {
        const t = table(entries);
        const { bytes, records } = writeSummary(t.visit, 100);
        assert.equal(bytes.length, t.byId.size * SUMMARY_ENTRY_BYTES);
        const s = MemberSummary.read(bytes, 100)!;
        const members = [...t.byId.values()];
        assert.equal(s.count, members.length);
        members.forEach((m, i) => {
          assert.equal(s.key(i), memberKey(m.id));
          assert.equal(s.generation(i), m.generation);
          assert.equal(s.incarnation(i), m.incarnation);
          assert.equal(s.status(i), m.status);
          assert.equal(records[i], m.aliveRecord);
          assert.equal(s.find(memberKey(m.id)), i);
        });
      }),
    );
  });

  it('find answers like a first-match scan, with repeated keys, misses and thousands of entries', () => {
    // Keys from a small set (so many repeat), spread over both 32-bit words.
    const keyArb = fc.integer({ min: 0, max: 40 }).map((k) => (k % 7) * 0x1_0000_0000 + k * 977);
    fc.assert(
      fc.property(fc.array(keyArb, { maxLength: 3000 }), (keys) => {
        const s = MemberSummary.read(writeSummary(visitKeys(keys), 5000).bytes, 5000)!;
        for (let k = 0; k <= 41; k++) {
          const key = (k % 7) * 0x1_0000_0000 + k * 977;
          const first = keys.indexOf(key);
          assert.equal(s.find(key), first < 0 ? undefined : first, `key ${key}`);
        }
      }),
      { numRuns: 100, seed: 21 },
    );
  });

  it('find stays right when summaries take turns (they share the index cells)', () => {
    // A copy: written summaries are views into a scratch buffer.
    const summaryOf = (keys: number[]) =>
      MemberSummary.read(writeSummary(visitKeys(keys), 5000).bytes.slice(), 5000)!;
    const a = summaryOf([5, 6, 7]);
    const b = summaryOf(Array.from({ length: 100 }, (_, i) => 1000 + i));
    for (let round = 0; round < 3; round++) {
      assert.equal(a.find(6), 1);
      assert.equal(b.find(1050), 50);
      assert.equal(a.find(1050), undefined);
      assert.equal(b.find(6), undefined);
    }
  });

  it('keys are 53-bit integers and differ between ids', () => {
    const keys = new Set(ids.map(memberKey));
    assert.equal(keys.size, ids.length);
    for (const k of keys) assert.ok(Number.isSafeInteger(k) && k >= 0);
  });

  it('reject malformed summaries: partial entries, too many, bad numbers, unknown status, wide keys', () => {
    const good = writeSummary(
      table([{ at: 0, generation: 5, incarnation: 2, status: 'alive' }]).visit,
      10,
    ).bytes;
    assert.ok(MemberSummary.read(good, 10) !== undefined);
    assert.equal(MemberSummary.read(good.subarray(0, 24), 10), undefined, 'partial entry');
    assert.equal(MemberSummary.read(new Uint8Array(SUMMARY_ENTRY_BYTES * 3), 2), undefined, 'too many');
    const edit = (f: (view: DataView, bytes: Uint8Array) => void) => {
      const bytes = Uint8Array.from(good);
      f(new DataView(bytes.buffer), bytes);
      return MemberSummary.read(bytes, 10);
    };
    assert.equal(
      edit((d) => d.setUint32(0, 1 << 21, true)),
      undefined,
      'key over 53 bits',
    );
    assert.equal(
      edit((d) => d.setFloat64(8, Number.NaN, true)),
      undefined,
      'NaN generation',
    );
    assert.equal(
      edit((d) => d.setFloat64(8, -1, true)),
      undefined,
      'negative generation',
    );
    assert.equal(
      edit((d) => d.setFloat64(16, 1.5, true)),
      undefined,
      'fractional incarnation',
    );
    assert.equal(
      edit((d) => d.setFloat64(16, 2 ** 60, true)),
      undefined,
      'unsafe incarnation',
    );
    assert.equal(
      edit((_, b) => {
        b[24] = 4;
      }),
      undefined,
      'unknown status',
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const s = MemberSummary.read(bytes, 10);
        if (s !== undefined) for (let i = 0; i < s.count; i++) assert.ok(STATUSES.includes(s.status(i)));
      }),
    );
  });

  it('give and want exactly what the other side lacks or holds older (against a model by id)', () => {
    fc.assert(
      fc.property(fc.array(memberArb, { maxLength: 12 }), fc.array(memberArb, { maxLength: 12 }), (a, b) => {
        const dialer = table(a);
        const listener = table(b);
        const summary = MemberSummary.read(writeSummary(dialer.visit, 100).bytes, 100)!;
        const { give, want } = compareSummary(summary, listener.visit, 100);
        const dialerList = [...dialer.byId.values()];
        // Model: by id, no hashing.
        const expectGive = [...listener.byId.values()]
          .filter((m) => up(m.status))
          .filter((m) => {
            const theirs = dialer.byId.get(m.id);
            return theirs === undefined || order(m) > order(theirs);
          })
          .map((m) => m.aliveRecord);
        const expectWant = dialerList
          .map((m, j) => ({ m, j }))
          .filter(({ m }) => up(m.status))
          .filter(({ m }) => {
            const ours = listener.byId.get(m.id);
            return ours === undefined || order(m) > order(ours);
          })
          .map(({ j }) => j);
        assert.deepEqual(new Set(give), new Set(expectGive));
        assert.deepEqual(
          [...want].sort((x, y) => x - y),
          expectWant,
        );
      }),
    );
  });

  it('two tables that agree exchange nothing', () => {
    const entries = ids.map((_, at) => ({
      at,
      generation: 2,
      incarnation: at % 3,
      status: 'alive' as const,
    }));
    const a = table(entries);
    const summary = MemberSummary.read(writeSummary(a.visit, 100).bytes, 100)!;
    assert.deepEqual(compareSummary(summary, table(entries).visit, 100), { give: [], want: [] });
  });

  it('caps what it gives', () => {
    const entries = ids.map((_, at) => ({ at, generation: 1, incarnation: 0, status: 'alive' as const }));
    const empty = MemberSummary.read(new Uint8Array(0), 10)!;
    assert.equal(compareSummary(empty, table(entries).visit, 5).give.length, 5);
  });
});
