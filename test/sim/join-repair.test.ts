/**
 * Join repair: when many nodes join through one seed at once, some alive records run out of
 * retransmits before reaching everyone. A node whose peer's Scuttlebutt digest names a node it has
 * never heard of syncs with that peer at once, instead of waiting for the periodic push-pull.
 *
 * Run: node --import tsx --test test/sim/join-repair.test.ts
 * Replay another seed: CAIRN_SEED=<seed> node --import tsx --test test/sim/join-repair.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../src/core/index.js';
import { localConfig, Membership } from '../../src/membership/index.js';
import { NodeIdentity, simulatedScheme } from '../../src/security/index.js';
import { Simulator, seedFromEnv } from '../../src/sim/index.js';

const seeds =
  process.env.CAIRN_SEED !== undefined
    ? [seedFromEnv()]
    : process.env.CAIRN_LONG
      ? [1, 2, 3, 4, 5, 6]
      : [1, 2];

describe('join repair through Scuttlebutt digests', () => {
  for (const seed of seeds) {
    const replay = `CAIRN_SEED=${seed} node --import tsx --test test/sim/join-repair.test.ts`;
    it(`50 nodes joining one seed at once converge long before a push-pull (seed=${seed}; replay: ${replay})`, async () => {
      const n = 50;
      // The periodic push-pull is out of reach: only gossip and the triggered sync can converge.
      const protocol = localConfig({ pushPullIntervalMs: 60_000 });
      const sim = new Simulator({ seed });
      const nodes: Membership[] = [];
      const addresses: string[] = [];
      for (let i = 0; i < n; i++) {
        const identity = NodeIdentity.fromSeed(Rng.fromSeed(`${seed}/join-repair/${i}`).bytes(32));
        addresses.push(
          sim.addNode(`n${i}`, async (ctx) => {
            const m = await Membership.create({
              identity,
              transport: ctx.transport(),
              clock: ctx.clock,
              rng: ctx.rng,
              protocol,
              scheme: simulatedScheme,
              name: `n${i}`,
            });
            nodes[i] = m;
            return { stop: () => m.shutdown() };
          }),
        );
      }
      await sim.runFor(1);
      for (const m of nodes.slice(1)) void m.join([addresses[0]!]).catch(() => {});
      let converged = false;
      for (let t = 0; t < 10_000 && !converged; t += 100) {
        await sim.runFor(100);
        converged = nodes.every((m) => m.members().filter((x) => x.state === 'alive').length === n);
      }
      assert.ok(converged, `50 nodes did not all list each other alive within 10 s virtual; ${replay}`);
      const triggered = nodes.reduce((sum, m) => sum + m.stats.triggeredSyncs, 0);
      assert.ok(
        triggered > 0,
        `no node needed a triggered sync, so this run did not test the repair; ${replay}`,
      );
    });
  }
});
