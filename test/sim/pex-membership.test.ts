/**
 * Peer sampling inside membership: PeX runs beside SWIM as a fallback seed source, and a node that
 * lost every peer re-seeds by itself once the network heals.
 *
 * Run: node --import tsx --test test/sim/pex-membership.test.ts
 * Replay another seed: CAIRN_SEED=<seed> node --import tsx --test test/sim/pex-membership.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../src/core/index.js';
import { Membership, testConfig } from '../../src/membership/index.js';
import { testPexConfig } from '../../src/membership/pex/index.js';
import { NodeIdentity, simulatedScheme } from '../../src/security/index.js';
import { Simulator, seedFromEnv } from '../../src/sim/index.js';

const seed = process.env.CAIRN_SEED === undefined ? 11 : seedFromEnv();
const replay = `CAIRN_SEED=${seed} node --import tsx --test test/sim/pex-membership.test.ts`;

async function cluster(n: number) {
  const sim = new Simulator({ seed });
  const nodes: Membership[] = [];
  const addresses: string[] = [];
  for (let i = 0; i < n; i++) {
    const identity = NodeIdentity.fromSeed(Rng.fromSeed(`${seed}/id/${i}`).bytes(32));
    addresses.push(
      sim.addNode(`n${i}`, async (ctx) => {
        const m = await Membership.create({
          identity,
          transport: ctx.transport(),
          clock: ctx.clock,
          rng: ctx.rng,
          protocol: testConfig(),
          scheme: simulatedScheme,
          name: `n${i}`,
          seeds: i === 0 ? [] : [addresses[0]!],
          pex: testPexConfig(),
        });
        nodes[i] = m;
        return { stop: () => m.shutdown() };
      }),
    );
  }
  await sim.runFor(1);
  return { sim, nodes, addresses };
}

function allAlive(nodes: readonly Membership[], n: number): boolean {
  return nodes.every((m) => m.members().filter((x) => x.state === 'alive').length === n);
}

describe(`membership with PeX (seed=${seed}; replay: ${replay})`, () => {
  it('fills each node a PeX view of real members', async () => {
    const { sim, nodes, addresses } = await cluster(20);
    for (const m of nodes.slice(1)) void m.join([addresses[0]!]);
    assert.ok(
      await sim.runUntil(() => allAlive(nodes, 20), { maxMs: 30_000 }),
      `join did not converge; ${replay}`,
    );
    await sim.runFor(5_000);
    const known = new Set(addresses);
    for (const [i, m] of nodes.entries()) {
      const peers = m.samplePeers(3);
      assert.ok(peers.length > 0, `node n${i} has an empty PeX view; ${replay}`);
      for (const p of peers) assert.ok(known.has(p) && p !== addresses[i], `n${i} sampled ${p}; ${replay}`);
    }
  });

  it('re-seeds a node that lost every peer once the network heals', async () => {
    const { sim, nodes, addresses } = await cluster(8);
    for (const m of nodes.slice(1)) void m.join([addresses[0]!]);
    assert.ok(
      await sim.runUntil(() => allAlive(nodes, 8), { maxMs: 30_000 }),
      `join did not converge; ${replay}`,
    );
    const lonely = nodes[5]!;
    sim.network.isolate('n5');
    // Long enough for both sides to declare each other dead (or to reap the dead entry already).
    const gone = (state: string | undefined) => state === undefined || state === 'dead';
    const split = await sim.runUntil(
      () =>
        lonely.members().every((x) => x.local || gone(x.state)) &&
        nodes.every((m, i) => i === 5 || gone(m.member(lonely.id)?.state)),
      { maxMs: 60_000 },
    );
    assert.ok(split, `the isolated node was not declared dead on both sides; ${replay}`);
    sim.network.heal();
    const healed = await sim.runUntil(() => allAlive(nodes, 8), { maxMs: 60_000 });
    assert.ok(healed, `the cluster did not reconverge after the heal; ${replay}`);
    assert.ok(lonely.stats.reseeds > 0, 'the lonely node should have re-seeded');
  });
});
