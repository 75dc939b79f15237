import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../core/index.js';
import { NodeIdentity, simulatedScheme } from '../../security/index.js';
import { localSwimConfig } from './config.js';
import { SwimCore } from './core.js';
import { aliveOf } from './harness.test-helper.js';
import {
  createSwimSigner,
  decodeSwimMessage,
  makeDeadRecord,
  makeSuspectRecord,
  openBroadcast,
  type SwimMessage,
  type VerifiedBroadcast,
} from './messages.js';
import type { SwimEffects } from './types.js';

/*
 * A member that lists another dead tells a node that evidently missed the death: one that suspects
 * the dead member (an older claim than the death), and one that asks it to probe the dead member
 * (a PingReq). Without it, every member that knows drops the latecomer's suspicion as stale, and
 * the latecomer waits its unconfirmed maximum suspicion timeout (found by the fault lab: a node
 * isolated while another died). Two nodes that agree never answer each other.
 */

const ids = Array.from({ length: 5 }, (_, i) => NodeIdentity.fromSeed(new Uint8Array(32).fill(i + 90)));
const addr = (i: number) => `10.0.3.${i}:7946`;
const GENERATION = (i: number) => 100 + i;

function cluster(n: number): SwimCore[] {
  const cores = ids.slice(0, n).map(
    (identity, i) =>
      new SwimCore({
        self: { address: addr(i), name: `n${i}`, generation: GENERATION(i) },
        signer: createSwimSigner(identity, simulatedScheme),
        config: localSwimConfig({ probing: false }),
        rng: Rng.fromSeed(`death-notice-${i}`),
      }),
  );
  for (const c of cores) c.step({ type: 'start' }, 0);
  const all = cores.flatMap((c) => aliveOf(c).filter((m) => m.node === c.selfId));
  for (const c of cores) c.step({ type: 'join', members: all }, 0);
  return cores;
}

function sent(fx: SwimEffects): Array<{ to: string; m: SwimMessage }> {
  return fx.packets.flatMap((p) =>
    p.parts.map((part) => {
      const m = decodeSwimMessage(part);
      assert.ok(m.ok);
      return { to: p.to, m: m.value };
    }),
  );
}

function opened(m: SwimMessage): VerifiedBroadcast {
  const o = openBroadcast(m as Parameters<typeof openBroadcast>[0], simulatedScheme);
  assert.ok(o.ok);
  return o.value;
}

/** An accusation of node `target` signed by node `by`, at incarnation 0 of its generation. */
function accusation(type: 'Suspect' | 'Dead', by: number, target: number): VerifiedBroadcast {
  const fields = { target: ids[target]!.nodeId, generation: GENERATION(target), incarnation: 0 };
  const make = type === 'Suspect' ? makeSuspectRecord : makeDeadRecord;
  return { type, from: ids[by]!.nodeId, ...fields, record: make(ids[by]!, fields, simulatedScheme) };
}

/** Node 0 with node 4 listed dead (node 2 declared it). */
function knowing(): { cores: SwimCore[]; a: SwimCore } {
  const cores = cluster(5);
  const a = cores[0]!;
  a.step({ type: 'message', from: addr(2), message: accusation('Dead', 2, 4) }, 10);
  assert.equal(a.member(ids[4]!.nodeId)?.status, 'dead');
  return { cores, a };
}

describe('death notices', () => {
  it('answers a suspicion of a member listed dead with its death, which ends the suspicion', () => {
    const { cores, a } = knowing();
    const late = cores[1]!;
    // Node 1 missed the death and suspects node 4 by its own probe.
    const suspect = accusation('Suspect', 1, 4);
    late.step({ type: 'message', from: addr(1), message: suspect }, 2000);
    assert.equal(late.member(ids[4]!.nodeId)?.status, 'suspect');
    const fx = a.step({ type: 'message', from: addr(1), message: suspect }, 2000);
    const back = sent(fx).filter((s) => s.to === addr(1) && s.m.type === 'Dead');
    assert.equal(back.length, 1, 'the death goes back to the suspecting node');
    assert.equal(a.counters.downNotices, 1);
    late.step({ type: 'message', from: addr(0), message: opened(back[0]!.m) }, 2001);
    assert.equal(late.member(ids[4]!.nodeId)?.status, 'dead', 'the late node lists it dead at once');
  });

  it('answers a PingReq for a member listed dead with its death, and still relays the ping', () => {
    const { a } = knowing();
    const fx = a.step(
      {
        type: 'message',
        from: addr(1),
        message: {
          type: 'PingReq',
          seq: 7,
          target: ids[4]!.nodeId,
          targetAddress: addr(4),
          from: ids[1]!.nodeId,
        },
      },
      2000,
    );
    const out = sent(fx);
    assert.equal(out.filter((s) => s.to === addr(1) && s.m.type === 'Dead').length, 1);
    assert.equal(out.filter((s) => s.to === addr(4) && s.m.type === 'Ping').length, 1);
  });

  it('does not answer the same death, nor a PingReq for a member up', () => {
    const { a } = knowing();
    // Node 3 gossips the death node 0 already holds: nothing goes back (no echo between agreeing nodes).
    const fx = a.step({ type: 'message', from: addr(3), message: accusation('Dead', 3, 4) }, 2000);
    assert.equal(sent(fx).filter((s) => s.to === addr(3)).length, 0);
    const ping = a.step(
      {
        type: 'message',
        from: addr(1),
        message: {
          type: 'PingReq',
          seq: 8,
          target: ids[2]!.nodeId,
          targetAddress: addr(2),
          from: ids[1]!.nodeId,
        },
      },
      2001,
    );
    assert.equal(sent(ping).filter((s) => s.m.type === 'Dead' || s.m.type === 'Leave').length, 0);
    assert.equal(a.counters.downNotices, 0);
  });

  it('forgets the notice when the member comes back', () => {
    const { cores, a } = knowing();
    // Node 4 was alive after all: its refutation (incarnation 1) clears the death.
    const back = cores[4]!;
    back.step({ type: 'message', from: addr(0), message: accusation('Dead', 2, 4) }, 20);
    const alive = aliveOf(back).find((m) => m.node === back.selfId);
    assert.equal(alive?.incarnation, 1);
    a.step({ type: 'message', from: addr(4), message: alive! }, 21);
    assert.equal(a.member(ids[4]!.nodeId)?.status, 'alive');
    const fx = a.step({ type: 'message', from: addr(1), message: accusation('Suspect', 1, 4) }, 2000);
    assert.equal(sent(fx).filter((s) => s.m.type === 'Dead').length, 0);
  });
});
