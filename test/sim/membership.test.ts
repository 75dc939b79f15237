import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Seed } from '../../src/core/index.js';
import { forEachSeed, LONG, MembershipCluster, sweepSeeds } from './membership-harness.js';

/**
 * Membership on the simulator, no faults but the ones each test injects: join convergence, state
 * updates and deletes, crash detection, graceful leave, rejoin at a new address, reaping.
 * Every run checks the harness's safety invariants (incarnations never go back per observer; no
 * node the test did not take down is ever declared dead). A failure prints `seed=<s>` and:
 *   CAIRN_SEED=<s> node --import tsx --test --test-name-pattern="<test>" test/sim/membership.test.ts
 * `CAIRN_LONG=1` sweeps more seeds and adds the 1,000-node join (three seeds).
 */

const FILE = 'test/sim/membership.test.ts';
const SEEDS = sweepSeeds(2, 10);

async function joined(seed: Seed, size: number): Promise<MembershipCluster> {
  const c = await MembershipCluster.create({ seed, size });
  await c.joinAll({ maxMs: 30_000 });
  return c;
}

describe('membership simulation', () => {
  // 1,000 nodes take one to three minutes of wall time (about 730,000 events for a 2.6 s virtual
  // join), the largest share of `npm test`; they run in the long sweep only (`npm run
  // test:long`, CAIRN_LONG=1, three seeds). `npm test` joins 100 nodes.
  const JOIN_SIZES = LONG ? [1000, 100] : [100];
  for (const size of JOIN_SIZES) {
    it(`${size} nodes joining through one seed all list each other alive`, async () => {
      const seeds = size >= 1000 ? sweepSeeds(1, 3) : SEEDS;
      await forEachSeed(FILE, `${size} nodes joining`, seeds, async (seed) => {
        const wall = performance.now();
        const c = await MembershipCluster.create({ seed, size });
        const ms = await c.joinAll({ maxMs: 60_000 });
        c.assertSafe();
        c.assertNoFalseDeaths();
        process.stderr.write(
          `[join] seed=${String(seed)} nodes=${size} converged_ms=${ms.toFixed(0)} wall_ms=${(performance.now() - wall).toFixed(0)} events=${c.sim.eventCount}\n`,
        );
      });
    });
  }

  it('a set and a delete reach every node', async () => {
    await forEachSeed(FILE, 'a set and a delete', SEEDS, async (seed) => {
      const c = await joined(seed, 30);
      const writer = c.node('n2');
      const nodes = c.upNames().map((n) => c.node(n));
      const seenUpdates = new Set<string>();
      for (const name of c.upNames()) {
        c.node(name).on('update', (e) => {
          if (e.node === writer.id && e.key === 'role' && e.value === 'kv') seenUpdates.add(name);
        });
      }
      writer.local.set('role', 'kv');
      const setMs = await c.waitFor(
        'set',
        () => nodes.every((m) => m.lookup(writer.id, 'role') === 'kv'),
        10_000,
      );
      for (const m of nodes) assert.equal(m.member(writer.id)?.metadata.role, 'kv');
      assert.equal(seenUpdates.size, 30, 'every node (the writer too) published an update event');

      writer.local.set('bin', Uint8Array.of(1, 2, 3));
      writer.local.delete('role');
      const delMs = await c.waitFor(
        'delete',
        () =>
          nodes.every(
            (m) => m.lookup(writer.id, 'role') === undefined && m.lookup(writer.id, 'bin') !== undefined,
          ),
        10_000,
      );
      for (const m of nodes) {
        assert.equal('role' in (m.member(writer.id)?.metadata ?? {}), false);
        assert.deepEqual(m.lookup(writer.id, 'bin'), Uint8Array.of(1, 2, 3), 'bytes stay bytes');
      }
      // A deleted key stays deleted: anti-entropy must not bring it back.
      await c.sim.runFor(3_000);
      for (const m of nodes) assert.equal(m.lookup(writer.id, 'role'), undefined);
      c.assertSafe();
      c.assertNoFalseDeaths();
      process.stderr.write(
        `[update] seed=${String(seed)} set_ms=${setMs.toFixed(0)} delete_ms=${delMs.toFixed(0)}\n`,
      );
    });
  });

  it('a crashed node is declared dead by every other node, and no one else is', async () => {
    await forEachSeed(FILE, 'a crashed node', SEEDS, async (seed) => {
      const c = await joined(seed, 30);
      const victim = c.node('n3').id;
      const others = c.upNames().filter((n) => n !== 'n3');
      c.crash('n3');
      const ms = await c.waitFor('detection', () => others.every((o) => c.seen(o, 3) === 'dead'), 20_000);
      for (const o of others) assert.equal(c.node(o).member(victim)?.state, 'dead', `${o} lists n3`);
      // Everyone else stays alive in everyone's list for a while longer.
      await c.sim.runFor(5_000);
      c.assertMembersAlive(others, others);
      c.assertSafe();
      c.assertNoFalseDeaths();
      process.stderr.write(`[crash] seed=${String(seed)} detect_ms=${ms.toFixed(0)}\n`);
    });
  });

  it('a graceful leave is listed as left (never dead), then reaped with the dead', async () => {
    await forEachSeed(FILE, 'a graceful leave', SEEDS, async (seed) => {
      const c = await joined(seed, 20);
      const leaver = c.node('n4');
      const others = c.upNames().filter((n) => n !== 'n4' && n !== 'n5');
      // n4 leaves and then shuts down; n4 is not "expected down", so a dead event about it fails.
      let left = false;
      void leaver.leave(2_000).then(async () => {
        left = true;
        await c.sim.stopNode('n4');
      });
      await c.waitFor('leave resolves', () => left, 3_000);
      await c.waitFor('left everywhere', () => others.every((o) => c.seen(o, 4) === 'left'), 10_000);
      c.crash('n5');
      await c.waitFor('n5 dead everywhere', () => others.every((o) => c.seen(o, 5) === 'dead'), 20_000);
      // Left stays left: running on, nobody turns it into dead.
      await c.sim.runFor(2_000);
      for (const o of others) assert.equal(c.node(o).member(leaver.id)?.state, 'left', `${o} lists n4`);
      assert.deepEqual(
        c.falseDeaths.filter((d) => d.subject === 'n4'),
        [],
      );
      // Reaping: both are forgotten reapAfterMs after their last change.
      const reap = c.protocol.swim.reapAfterMs;
      const gone = () =>
        others.every(
          (o) => c.node(o).member(leaver.id) === undefined && c.node(o).member(c.ids[5]!) === undefined,
        );
      assert.equal(gone(), false, 'not reaped early');
      const ms = await c.waitFor('reaping', gone, reap + 10_000);
      assert.equal(c.node('n0').members().length, 18);
      c.assertSafe();
      c.assertNoFalseDeaths();
      process.stderr.write(
        `[leave] seed=${String(seed)} reaped_after_ms=${ms.toFixed(0)} (reapAfterMs=${reap})\n`,
      );
    });
  });

  it('a node rejoins with the same identity at a new address and a new generation', async () => {
    await forEachSeed(FILE, 'a node rejoins', SEEDS, async (seed) => {
      const c = await joined(seed, 20);
      const old = c.node('n6');
      const oldAddress = old.member(old.id)!.address;
      const oldGeneration = old.generation;
      old.local.set('era', 'old');
      const others = c.upNames().filter((n) => n !== 'n6');
      await c.waitFor(
        'old state everywhere',
        () => others.every((o) => c.node(o).lookup(old.id, 'era') === 'old'),
        5_000,
      );
      c.crash('n6');
      await c.waitFor('n6 dead', () => others.every((o) => c.seen(o, 6) === 'dead'), 20_000);
      // Same identity, new sim node, new address; its clock is later, so its generation is newer.
      const name = c.addNode(6);
      await c.sim.runFor(1);
      const fresh = c.node(name);
      assert.equal(fresh.id, old.id);
      // Events about the new generation must not carry the old generation's state.
      const staleEvents: string[] = [];
      for (const o of others) {
        for (const type of ['join', 'alive'] as const) {
          c.node(o).on(type, (e) => {
            if (
              e.member.id === fresh.id &&
              e.member.generation === fresh.generation &&
              'era' in e.member.metadata
            )
              staleEvents.push(`${o} ${type}`);
          });
        }
      }
      assert.ok(fresh.generation > oldGeneration);
      let answered = -1;
      void fresh.join([c.sim.addressOf('n0')]).then((n) => {
        answered = n;
      });
      const ms = await c.waitFor(
        'rejoin',
        () =>
          others.every((o) => {
            const m = c.node(o).member(fresh.id);
            return m?.state === 'alive' && m.generation === fresh.generation;
          }),
        20_000,
      );
      for (const o of others) {
        const m = c.node(o).member(fresh.id)!;
        assert.notEqual(m.address, oldAddress);
        assert.equal(m.address, c.sim.addressOf(name));
        // The old generation's state is dropped, not inherited.
        assert.equal(c.node(o).lookup(fresh.id, 'era'), undefined, `${o} kept the old generation's state`);
      }
      assert.deepEqual(staleEvents, [], 'events of the new generation with old state');
      assert.equal(answered, 1, 'join resolved with the one seed that answered');
      assert.equal(fresh.members().filter((m) => m.state === 'alive').length, 20);
      c.assertSafe();
      c.assertNoFalseDeaths();
      process.stderr.write(`[rejoin] seed=${String(seed)} rejoin_ms=${ms.toFixed(0)}\n`);
    });
  });
});
