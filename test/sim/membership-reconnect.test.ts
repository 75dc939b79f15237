import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type MembershipProtocolConfig, testConfig } from '../../src/membership/index.js';
import { forEachSeed, MembershipCluster, sweepSeeds } from './membership-harness.js';

/**
 * Reconnect: halves of a partition that outlasts gossip to the dead have declared each other
 * dead and no longer hear from each other; nobody is alone, so nobody re-seeds. After the heal
 * they must merge through reconnects (`reconnectIntervalMs`), both while the dead are still in
 * each table (the LAN preset keeps them 24 h) and after they were reaped. A failure prints
 * `seed=<s>` and:
 *   CAIRN_SEED=<s> node --import tsx --test --test-name-pattern="<test>" test/sim/membership-reconnect.test.ts
 */

const FILE = 'test/sim/membership-reconnect.test.ts';
const SEEDS = sweepSeeds(2, 20);
const SIZE = 10;

/** Within this after the heal: two reconnect intervals, two push-pulls and a probe round. */
function mergeBoundMs(p: MembershipProtocolConfig): number {
  return 2 * p.reconnectIntervalMs + 2 * p.pushPullIntervalMs + SIZE * p.swim.probeIntervalMs;
}

async function splitHealMerge(
  seed: number,
  protocol: MembershipProtocolConfig,
  reaped: boolean,
): Promise<{ healMs: number; reconnects: number }> {
  const c = await MembershipCluster.create({ seed, size: SIZE, protocol });
  await c.joinAll({ maxMs: 30_000 });
  const names = c.upNames();
  const a = names.slice(0, SIZE / 2);
  const b = names.slice(SIZE / 2);
  const across = names.flatMap((o) => (a.includes(o) ? b : a).map((s) => [c.node(o), c.node(s).id] as const));
  // Counted from the cut: a reconnect dialed during the partition is black-holed, not refused,
  // and may be the one that completes at the heal.
  const before = names.reduce((sum, n) => sum + c.node(n).stats.reconnects, 0);
  c.sim.network.partition(a, b);
  const want = reaped ? undefined : 'dead';
  await c.waitFor(
    `each half lists the other ${want ?? 'reaped'}`,
    () => across.every(([o, s]) => o.member(s)?.state === want),
    60_000,
  );
  // Past gossip to the dead: from here on, nothing but a reconnect crosses the healed cut.
  await c.sim.runFor(protocol.swim.gossipToTheDeadMs + protocol.swim.gossipIntervalMs);
  c.sim.network.heal();
  const healMs = await c.waitFor(
    'the halves merged',
    c.everyoneSeesAlive(names, () => SIZE - 1),
    mergeBoundMs(protocol),
  );
  c.assertMembersAlive(names, names);
  c.assertSafe();
  if (!reaped) {
    // Each side held the other dead at its incarnation: only a higher one brings it back.
    for (const n of names) assert.ok(c.node(n).swimStats().incarnation > 0, `${n} never refuted its death`);
  }
  const reconnects = names.reduce((sum, n) => sum + c.node(n).stats.reconnects, 0) - before;
  assert.ok(reconnects > 0, 'no reconnect was tried');
  return { healMs, reconnects };
}

describe('membership reconnect', () => {
  it('halves that hold each other dead merge after the heal', async () => {
    // Dead members stay in the table for the whole run (the LAN preset keeps them 24 h).
    const protocol = testConfig({ swim: { reapAfterMs: 3_600_000 } });
    await forEachSeed(FILE, 'hold each other dead', SEEDS, async (seed) => {
      const r = await splitHealMerge(Number(seed), protocol, false);
      process.stderr.write(
        `[reconnect dead] seed=${String(seed)} heal_converged_ms=${r.healMs.toFixed(0)} reconnects=${r.reconnects}\n`,
      );
    });
  });

  it('halves that reaped each other merge after the heal', async () => {
    const protocol = testConfig();
    await forEachSeed(FILE, 'reaped each other', SEEDS, async (seed) => {
      const r = await splitHealMerge(Number(seed), protocol, true);
      process.stderr.write(
        `[reconnect reaped] seed=${String(seed)} heal_converged_ms=${r.healMs.toFixed(0)} reconnects=${r.reconnects}\n`,
      );
    });
  });
});
