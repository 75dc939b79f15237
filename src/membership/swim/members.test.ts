import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { SignedRecord } from '../../security/index.js';
import type { MemberStatus } from './claims.js';
import { memberKey } from './member-key.js';
import { MemberEntry, MemberTable } from './members.js';

const record: SignedRecord = {
  node: 'x',
  version: 0,
  payload: new Uint8Array(0),
  signature: new Uint8Array(0),
};
const STATUSES: MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];

function entry(n: number): MemberEntry {
  const node = `node-${n}`;
  return new MemberEntry(
    { node, key: memberKey(node), name: node, address: `a${n}`, generation: 1, record },
    0,
    'alive',
  );
}

describe('MemberTable', () => {
  it('keeps since-when and the up count per entry through adds, status changes and swap-removes', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('add' as const),
        n: fc.nat(40),
        at: fc.double({ min: 0, max: 1e6, noNaN: true }),
      }),
      fc.record({ kind: fc.constant('remove' as const), n: fc.nat(40) }),
      fc.record({
        kind: fc.constant('status' as const),
        n: fc.nat(40),
        status: fc.constantFrom(...STATUSES),
        at: fc.double({ min: 0, max: 1e6, noNaN: true }),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const table = new MemberTable();
        const live = new Map<number, MemberEntry>();
        const model = new Map<MemberEntry, { status: MemberStatus; since: number }>();
        for (const o of ops) {
          const e = live.get(o.n);
          if (o.kind === 'add' && e === undefined) {
            const fresh = entry(o.n);
            table.add(fresh, o.at);
            live.set(o.n, fresh);
            model.set(fresh, { status: 'alive', since: o.at });
          } else if (o.kind === 'remove' && e !== undefined) {
            table.remove(e);
            live.delete(o.n);
          } else if (o.kind === 'status' && e !== undefined) {
            table.setStatus(e, o.status, o.at);
            model.set(e, { status: o.status, since: o.at });
          }
        }
        // Every entry in the table answers what the model says.
        for (const [e, want] of model) {
          if (live.get(Number(e.id.slice(5))) !== e) continue;
          assert.equal(table.sinceOf(e), want.since);
          const v = table.view(e);
          assert.equal(v.statusSinceMs, want.since);
          assert.equal(v.status, want.status);
        }
        for (const [n, e] of live) assert.equal(table.get(`node-${n}`), e);
        const up = [...live.values()].filter((e) => e.up).length;
        assert.equal(table.upCount, up);
        assert.equal(table.size, live.size);
      }),
      { numRuns: 300, seed: 17 },
    );
  });
});
