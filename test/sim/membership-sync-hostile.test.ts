import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Membership } from '../../src/membership/driver/membership.js';
import { encodeStateMessage, ScuttlebuttState } from '../../src/membership/state/index.js';
import { makeAliveRecord } from '../../src/membership/swim/index.js';
import { SYNC_BUDGET_LIMITS } from '../../src/membership/sync/budget.js';
import { CHANNEL_SYNC, encodeSyncFrame, type SyncFrame } from '../../src/membership/wire.js';
import { ed25519Scheme, type SignedRecord } from '../../src/security/index.js';
import { TransportMux } from '../../src/transport/mux.js';
import type { Stream, Transport } from '../../src/transport/types.js';
import { forEachSeed, MembershipCluster, sweepSeeds } from './membership-harness.js';

/**
 * A hostile peer on the push-pull channel: frames out of phase or over their counts close the
 * stream (counted) before any record is verified, and the records of a frame cost at most the
 * peer's verification budget. A failure prints `seed=<s>` and:
 *   CAIRN_SEED=<s> node --import tsx --test --test-name-pattern="<test>" test/sim/membership-sync-hostile.test.ts
 */

const FILE = 'test/sim/membership-sync-hostile.test.ts';
const SEEDS = sweepSeeds(1, 3);
const SIZE = 4;

/** A cluster of SIZE joined nodes (Ed25519) and Mallory's sync channel beside it. */
async function setup(seed: Parameters<typeof MembershipCluster.create>[0]['seed']) {
  const c = await MembershipCluster.create({ seed, size: SIZE, scheme: ed25519Scheme });
  await c.joinAll({ maxMs: 30_000 });
  let sync: Transport | undefined;
  c.sim.addNode('mallory', (ctx) => {
    sync = new TransportMux(ctx.transport()).channel(CHANNEL_SYNC);
    return {};
  });
  await c.sim.runFor(1);
  const mallory = c.identities[SIZE]!;
  const address = c.sim.addressOf('mallory');
  const alive = makeAliveRecord(mallory, { generation: 1, incarnation: 0, address, name: 'mallory' });
  const syn = encodeStateMessage(
    new ScuttlebuttState({ identity: mallory, generation: 1, initialHeartbeat: false }).createSyn(),
  );
  /** Dials the victim n1 and sends `frames`; resolves once the victim closed the stream. */
  const exchange = async (frames: SyncFrame[]): Promise<Stream> => {
    let dialed: Stream | undefined;
    void sync!.dial(c.sim.addressOf('n1')).then((s) => {
      dialed = s;
    });
    await c.waitFor('Mallory dials the victim', () => dialed !== undefined, 5_000);
    const stream = dialed!;
    let closed = false;
    stream.onClose(() => {
      closed = true;
    });
    for (const frame of frames) stream.send(encodeSyncFrame(frame));
    await c.waitFor('the victim closes the stream', () => closed, 5_000);
    return stream;
  };
  return { c, sync: () => sync!, mallory, alive, syn, exchange };
}

/** `n` alive records in the name of `node`, with signatures that are random bytes. */
function forgedAlive(node: SignedRecord, n: number): SignedRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const signature = new Uint8Array(64);
    for (let b = 0; b < 64; b += 4) new DataView(signature.buffer).setUint32(b, (i * 2654435761 + b) >>> 0);
    return { ...node, signature };
  });
}

/** The victim's join through Mallory, run on the simulator until it settles. */
async function syncOnce(c: MembershipCluster, victim: Membership): Promise<void> {
  let settled = false;
  void victim
    .join([c.sim.addressOf('mallory')])
    .catch(() => 0)
    .finally(() => {
      settled = true;
    });
  await c.waitFor('the sync with Mallory ends', () => settled, 5_000);
}

describe('push-pull against a hostile peer', () => {
  it('a push with more than its own alive record, or a second push, closes the stream unverified', async () => {
    await forEachSeed(FILE, 'push counts', SEEDS, async (seed) => {
      const { c, alive, syn, exchange } = await setup(seed);
      const victim = c.node('n1');
      const before = victim.stats;
      const errors = before.syncProtocolErrors;
      const rejected = before.rejectedRecords;
      const extra = forgedAlive(alive, 16_384 - 1);
      await exchange([{ t: 'push', have: new Uint8Array(0), alive: [alive, ...extra], state: syn }]);
      assert.equal(victim.stats.syncProtocolErrors, errors + 1);
      assert.equal(victim.stats.rejectedRecords, rejected, 'no record of the frame was verified');
      assert.equal(victim.member(c.ids[SIZE]!), undefined, 'Mallory was not taken from a refused frame');

      const push: SyncFrame = { t: 'push', have: new Uint8Array(0), alive: [alive], state: syn };
      await exchange([push, push, push]);
      assert.equal(victim.stats.syncProtocolErrors, errors + 2);
      c.assertSafe();
      c.assertNoFalseDeaths();
    });
  });

  it('a done with records not asked for, or before the pull, closes the stream unverified', async () => {
    await forEachSeed(FILE, 'done counts', SEEDS, async (seed) => {
      const { c, alive, syn, exchange } = await setup(seed);
      const victim = c.node('n1');
      const errors = victim.stats.syncProtocolErrors;
      const rejected = victim.stats.rejectedRecords;
      const forged = forgedAlive(alive, 1024);
      await exchange([{ t: 'done', alive: forged }]);
      assert.equal(victim.stats.syncProtocolErrors, errors + 1, 'a done before any push');
      // An empty summary asks for nothing, so a done may carry no record.
      const push: SyncFrame = { t: 'push', have: new Uint8Array(0), alive: [alive], state: syn };
      await exchange([push, { t: 'done', alive: forged }]);
      assert.equal(victim.stats.syncProtocolErrors, errors + 2, 'a done over what was asked');
      // Mallory's own record was the push's and verified; none of the done's was.
      assert.equal(victim.stats.rejectedRecords, rejected, 'no forged record was verified');
      c.assertSafe();
    });
  });

  it('a pull of 16,384 forged records costs the victim at most its verification budget', async () => {
    await forEachSeed(FILE, 'pull budget', SEEDS, async (seed) => {
      const { c, alive, sync } = await setup(seed);
      const victim = c.node('n1');
      const forged = forgedAlive(alive, 16_384);
      const stateOf = new ScuttlebuttState({ identity: c.identities[SIZE]!, generation: 1 });
      sync().onStream((stream) => {
        stream.onFrame(() => {
          const synAck = stateOf.handleSyn(stateOf.createSyn(), 0).reply!;
          stream.send(
            encodeSyncFrame({ t: 'pull', alive: forged, want: [], state: encodeStateMessage(synAck) }),
          );
        });
      });
      const rejected = victim.stats.rejectedRecords;
      const overBudget = victim.stats.syncOverBudget;
      await syncOnce(c, victim);
      const checked = victim.stats.rejectedRecords - rejected;
      const refused = victim.stats.syncOverBudget - overBudget;
      assert.ok(checked <= SYNC_BUDGET_LIMITS.perPeerBurst, `${checked} forged records were verified`);
      assert.equal(checked + refused, forged.length, 'every forged record was either checked or refused');
      c.assertSafe();
      c.assertNoFalseDeaths();
    });
  });
});
