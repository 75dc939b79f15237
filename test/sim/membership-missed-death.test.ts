import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { localConfig, type MembershipEvent, swim } from '../../src/membership/index.js';
import { forEachSeed, MembershipCluster, sweepSeeds } from './membership-harness.js';

/**
 * A node cut off while another dies must learn the death soon after the cut heals.
 *
 * The fault lab's membership run (seed 7: 5 agents, local preset) found it: node-1 was isolated
 * for 9.5 s, 0.9 s after node-2 was killed; the others declared node-2 dead at once, and their
 * `dead` broadcasts ran out of retransmits while node-1 could not hear them. After the heal node-1
 * suspected node-2 by its own probe, and every member that heard the suspicion already listed
 * node-2 dead at that incarnation, so it dropped the suspicion as stale: nobody confirmed it,
 * nobody told node-1, and node-1's suspicion ran the unconfirmed maximum (6 x 3 s = 18 s here).
 * node-2 restarted 16.6 s after the heal, undeclared.
 *
 * Here: 5 nodes on the same preset, n1 isolated, n2 crashed 500 ms later, the others declare n2
 * dead, the cut holds at least 10 s and 2 s past that, then heals. Checked:
 * - a suspicion of n2 that n1 raises after the heal ends in `dead` within the minimum suspicion
 *   timeout (that of a confirmed suspicion: the cluster already knows the death, so n1 must not
 *   wait the unconfirmed maximum); before the fix it took the maximum, 18 s;
 * - n1 lists n2 dead within a bound from the heal: the time its probes take to reach n2
 *   ({@link probesUntilReachedMs}), then that minimum timeout. A suspicion n1 raised during the
 *   cut (nobody could hear it, and its broadcasts are spent) ends by its own timer or when n1
 *   next probes n2, whichever is first; both are within the bound.
 * A failure prints `seed=<s>` and:
 *   CAIRN_SEED=<s> node --import tsx --test test/sim/membership-missed-death.test.ts
 */

const FILE = 'test/sim/membership-missed-death.test.ts';
const SEEDS = sweepSeeds(4, 20);
const SIZE = 5;
/** The shortest cut: the lab run's was 9.5 s. */
const CUT_MS = 10_000;
/** Longest wait for the connected members to declare the crashed node dead. */
const MAX_CUT_MS = 30_000;
/** How long the cut holds after they all did, so the death's broadcasts are spent. */
const DRAIN_MS = 2_000;

/**
 * The longest n1 can take after the heal to probe n2 (and fail): in the worst case n2 was the
 * first of one round of the shuffled round-robin and is the last of the next, so 2 * (size - 1)
 * probes, the one running at the heal included. Each waits the probe interval scaled by the local
 * health multiplier: the awareness at the heal, plus one for refuting its own death, less one
 * for each timely ack before it (nothing is lost after the heal), never below 0.
 */
function probesUntilReachedMs(awareness: number, size: number, probeIntervalMs: number): number {
  let total = 0;
  for (let j = 0; j < 2 * (size - 1); j++) total += (Math.max(0, awareness + 1 - j) + 1) * probeIntervalMs;
  return total;
}

describe('membership: a death missed during a partition', () => {
  it('an isolated node declares a node that died meanwhile dead soon after the heal', async () => {
    const protocol = localConfig();
    const s = protocol.swim;
    const minSuspicionMs = swim.suspicionTimeoutMinMs(s.suspicionMult, SIZE, s.probeIntervalMs);
    const maxSuspicionMs = minSuspicionMs * s.suspicionMaxTimeoutMult;
    let exercised = 0;
    await forEachSeed(FILE, 'missed death', SEEDS, async (seed) => {
      const c = await MembershipCluster.create({ seed, size: SIZE, protocol });
      await c.joinAll({ maxMs: 30_000 });
      const names = c.upNames();
      const others = names.filter((n) => n !== 'n1' && n !== 'n2');
      const n2 = c.node('n2').id;

      // n1's suspicions of n2 and when each ended.
      const suspectedAt: number[] = [];
      let deadAt: number | undefined;
      c.node('n1').on('suspect', (e: MembershipEvent) => {
        if (e.type === 'suspect' && e.member.id === n2) suspectedAt.push(c.sim.now);
      });
      c.node('n1').on('dead', (e: MembershipEvent) => {
        if (e.type === 'dead' && e.member.id === n2 && deadAt === undefined) deadAt = c.sim.now;
      });

      const cutAt = c.sim.now;
      c.sim.network.isolate(c.sim.addressOf('n1'));
      c.expectedDown.add(1);
      await c.sim.runFor(500);
      c.crash('n2');
      await c.waitFor(
        'the connected members declare n2 dead',
        () => others.every((o) => c.seen(o, 2) === 'dead'),
        MAX_CUT_MS,
      );
      // The cut outlasts the death's gossip (eager, a few hundred ms), as in the lab run.
      await c.sim.runFor(Math.max(cutAt + CUT_MS - c.sim.now, DRAIN_MS));
      if (c.seen('n1', 2) === 'dead') {
        // n1's own suspicion, raised in the cut, ran out before the others were done: nothing
        // was missed, so this seed does not test the repair (counted below).
        process.stderr.write(`[missed-death] seed=${String(seed)} void: n1 declared n2 dead in the cut\n`);
        return;
      }
      exercised++;

      const awareness = c.node('n1').swimStats().awareness;
      c.sim.network.heal();
      const healAt = c.sim.now;
      const boundMs = probesUntilReachedMs(awareness, SIZE, s.probeIntervalMs) + minSuspicionMs;
      await c.sim.runUntil(() => deadAt !== undefined, { maxMs: boundMs + maxSuspicionMs + 5_000 });
      const detectMs = deadAt === undefined ? undefined : deadAt - healAt;
      // A suspicion n1 raised after the heal, when the members that know of the death can hear it.
      const raised = suspectedAt.find((t) => t >= healAt && (deadAt === undefined || t <= deadAt));
      const suspicionMs = deadAt === undefined || raised === undefined ? undefined : deadAt - raised;
      process.stderr.write(
        `[missed-death] seed=${String(seed)} awareness_at_heal=${awareness} detect_after_heal_ms=${detectMs ?? 'never'} suspicion_to_dead_ms=${suspicionMs ?? '-'} bound_ms=${boundMs}\n`,
      );
      assert.ok(detectMs !== undefined, 'n1 never declared n2 dead');
      if (suspicionMs !== undefined) {
        assert.ok(
          suspicionMs <= minSuspicionMs,
          `n1's suspicion of n2 took ${suspicionMs} ms to end in dead, over the confirmed timeout ${minSuspicionMs} ms: nobody told n1 of the death it missed`,
        );
      }
      assert.ok(detectMs <= boundMs, `n1 declared n2 dead ${detectMs} ms after the heal, over ${boundMs} ms`);
      await c.waitFor(
        'every live node lists the others alive',
        c.everyoneSeesAlive(
          names.filter((n) => n !== 'n2'),
          () => SIZE - 2,
        ),
        30_000,
      );
      c.assertSafe();
    });
    assert.ok(exercised > 0, `no seed of ${SEEDS.join(',')} left n1 to learn the death after the heal`);
  });
});
