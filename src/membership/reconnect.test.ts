import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../core/index.js';
import type { NodeId } from '../security/index.js';
import { Reconnector, summaryAccusesSelf } from './reconnect.js';
import { MemberSummary, memberKey, writeSummary } from './sync/summary.js';

const A = 'node-a' as NodeId;
const B = 'node-b' as NodeId;
const DAY_MS = 24 * 3600 * 1000;

/** Picks `tries` times with `up` members up; the addresses picked, by count. */
function picks(r: Reconnector, up: number, tries: number, nowMs = 0): Map<string, number> {
  const rng = Rng.fromSeed('reconnect');
  const out = new Map<string, number>();
  for (let i = 0; i < tries; i++) {
    const t = r.pick(nowMs, up, rng);
    if (t !== undefined) out.set(t.address, (out.get(t.address) ?? 0) + 1);
  }
  return out;
}

describe('Reconnector', () => {
  it('tries a member declared dead, also after a reap, and stops once it is up again', () => {
    const r = new Reconnector({ timeoutMs: DAY_MS });
    r.onEvent('dead', A, 'a:1', 0);
    r.onEvent('reap', A, 'a:1', 10);
    assert.deepEqual([...picks(r, 1, 5)], [['a:1', 5]]);
    r.onEvent('join', A, 'a:1', 20);
    assert.equal(r.size, 0);
    assert.equal(r.pick(30, 1, Rng.fromSeed(1)), undefined);
  });

  it('never reconnects a member that left gracefully', () => {
    const r = new Reconnector({ timeoutMs: DAY_MS });
    r.onEvent('dead', A, 'a:1', 0);
    r.onEvent('leave', A, 'a:1', 5);
    r.onEvent('leave', B, 'b:1', 5);
    assert.equal(r.size, 0);
  });

  it('forgets a death after the timeout', () => {
    const r = new Reconnector({ timeoutMs: 1_000 });
    r.onEvent('dead', A, 'a:1', 0);
    assert.equal(picks(r, 1, 1, 999).get('a:1'), 1);
    assert.equal(picks(r, 1, 1, 1_000).size, 0);
    assert.equal(r.size, 0);
  });

  it('stops trying an address where an exchange completed without bringing the member back', () => {
    const r = new Reconnector({ timeoutMs: DAY_MS });
    r.onEvent('dead', A, 'a:1', 0);
    r.onEvent('dead', B, 'b:1', 0);
    r.settled(B, true);
    assert.ok(r.has(B), 'a member back up is forgotten by its join event, not here');
    r.settled(A, false);
    assert.ok(!r.has(A));
  });

  it('keeps at most maxReconnectMembers, forgetting the oldest death', () => {
    const r = new Reconnector({ timeoutMs: DAY_MS, limits: { maxReconnectMembers: 2 } });
    r.noteDead(A, 'a:1', 0);
    r.noteDead(B, 'b:1', 1);
    r.noteDead('node-c' as NodeId, 'c:1', 2);
    assert.deepEqual([r.has(A), r.has(B), r.size], [false, true, 2]);
  });

  it('tries with probability dead / up, so the cluster tries each dead member about once a tick', () => {
    const r = new Reconnector({ timeoutMs: DAY_MS });
    r.noteDead(A, 'a:1', 0);
    const tries = 2_000;
    const got = picks(r, 4, tries).get('a:1') ?? 0;
    // One dead among four up: about a quarter of the ticks (a 10-sigma band).
    assert.ok(Math.abs(got - tries / 4) < 10 * Math.sqrt((tries * 3) / 16), `tried ${got} of ${tries}`);
    r.noteDead(B, 'b:1', 0);
    // The smaller side of a split (more dead than up) tries on every tick.
    assert.equal(
      [...picks(r, 2, 100).values()].reduce((x, y) => x + y, 0),
      100,
    );
  });
});

describe('summaryAccusesSelf', () => {
  const self = { id: A, key: memberKey(A), generation: 7, incarnation: 3 };
  function summaryOf(status: 'alive' | 'suspect' | 'dead' | 'left', generation: number, incarnation: number) {
    const written = writeSummary(
      (visit) => visit({ id: A, key: self.key, generation, incarnation, status, aliveRecord: {} as never }),
      16,
    );
    return MemberSummary.read(new Uint8Array(written.bytes), 16)!;
  }

  it('is true for a death or suspicion of the current generation at the current incarnation or later', () => {
    assert.equal(summaryAccusesSelf(summaryOf('dead', 7, 3), self), true);
    assert.equal(summaryAccusesSelf(summaryOf('suspect', 7, 3), self), true);
    assert.equal(summaryAccusesSelf(summaryOf('dead', 7, 4), self), true);
  });

  it('is false for an alive entry, an older incarnation or generation, a leave, or no entry', () => {
    assert.equal(summaryAccusesSelf(summaryOf('alive', 7, 3), self), false);
    assert.equal(summaryAccusesSelf(summaryOf('dead', 7, 2), self), false);
    assert.equal(summaryAccusesSelf(summaryOf('dead', 6, 9), self), false);
    assert.equal(summaryAccusesSelf(summaryOf('left', 7, 3), self), false);
    assert.equal(summaryAccusesSelf(summaryOf('dead', 7, 3), { ...self, key: memberKey(B) }), false);
  });
});
