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
  makeSuspectRecord,
  openBroadcast,
  type SwimMessage,
  type VerifiedBroadcast,
} from './messages.js';
import type { SwimEffects } from './types.js';

/*
 * A graceful leave reaches every member: the leaver tells each member directly (the transmit
 * limit alone lets gossip stop after two sends on the local preset), and a member that missed it
 * and accuses the leaver gets the leave back instead of declaring it dead.
 */

const ids = Array.from({ length: 6 }, (_, i) => NodeIdentity.fromSeed(new Uint8Array(32).fill(i + 60)));
const addr = (i: number) => `10.0.2.${i}:7946`;

function cluster(n: number): SwimCore[] {
  const cores = ids.slice(0, n).map(
    (identity, i) =>
      new SwimCore({
        self: { address: addr(i), name: `n${i}`, generation: 100 + i },
        signer: createSwimSigner(identity, simulatedScheme),
        config: localSwimConfig({ probing: false }),
        rng: Rng.fromSeed(`leave-${i}`),
      }),
  );
  for (const c of cores) c.step({ type: 'start' }, 0);
  const all = cores.flatMap((c) => aliveOf(c).filter((m) => m.node === c.selfId));
  for (const c of cores) c.step({ type: 'join', members: all }, 0);
  return cores;
}

/** Every message of `fx` with the address it goes to. */
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

describe('graceful leave', () => {
  it('tells every member directly', () => {
    const cores = cluster(6);
    const fx = cores[0]!.step({ type: 'leave' }, 10);
    const told = new Set(
      sent(fx)
        .filter((s) => s.m.type === 'Leave')
        .map((s) => s.to),
    );
    assert.deepEqual([...told].sort(), [1, 2, 3, 4, 5].map(addr));
  });

  it('answers an accusation of a member that left with its leave', () => {
    const [a, b] = cluster(6) as [SwimCore, SwimCore];
    const leave = sent(a.step({ type: 'leave' }, 10)).find((s) => s.m.type === 'Leave' && s.to === addr(1));
    assert.ok(leave !== undefined);
    b.step({ type: 'message', from: addr(0), message: opened(leave.m) }, 11);
    assert.equal(b.member(a.selfId)?.status, 'left');
    // Node 2 missed the leave, found node 0 gone and accuses it.
    const fields = { target: a.selfId, generation: 100, incarnation: 0 };
    const suspect: VerifiedBroadcast = {
      type: 'Suspect',
      from: ids[2]!.nodeId,
      ...fields,
      record: makeSuspectRecord(ids[2]!, fields, simulatedScheme),
    };
    const fx = b.step({ type: 'message', from: addr(2), message: suspect }, 2000);
    const back = sent(fx).filter((s) => s.to === addr(2) && s.m.type === 'Leave');
    assert.equal(back.length, 1, 'the leave goes back to the accuser');
    assert.equal(b.member(a.selfId)?.status, 'left');
    // Fed to a node that holds the leaver suspect, it ends the suspicion as a leave.
    const c = cluster(6)[2]!;
    c.step({ type: 'message', from: addr(3), message: { ...suspect } }, 2000);
    assert.equal(c.member(a.selfId)?.status, 'suspect');
    c.step({ type: 'message', from: addr(1), message: opened(back[0]!.m) }, 2001);
    assert.equal(c.member(a.selfId)?.status, 'left');
  });
});
