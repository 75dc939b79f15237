import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger, withLimits } from '../../core/index.js';
import { Simulator } from '../../sim/index.js';
import type { StoreCommand } from '../command.js';
import { Lessor } from '../mvcc/index.js';
import { LeaseKeeper } from './lease-keeper.js';
import { DEFAULT_LIMITS, type StoreServerLimits } from './limits.js';

/** The keeper over the real lessor on a virtual clock, with proposals recorded (and applied at once). */
function setup(limits: Partial<StoreServerLimits>) {
  const sim = new Simulator({ seed: 1 });
  const lessor = new Lessor();
  const proposed: { at: number; cmd: StoreCommand }[] = [];
  let keeper: LeaseKeeper;
  const propose = async (cmd: StoreCommand) => {
    proposed.push({ at: sim.clock.now() - sim.epochMs, cmd });
    if (cmd.t === 'leaseRevoke') keeper.leaseRevoked(cmd.id);
    if (cmd.t === 'leaseCheckpoint') keeper.leaseCheckpointed(cmd.checkpoints);
  };
  keeper = new LeaseKeeper(
    lessor,
    propose,
    sim.clock,
    1_000,
    withLimits(DEFAULT_LIMITS, limits),
    silentLogger(),
  );
  return { sim, keeper, proposed };
}

describe('LeaseKeeper', () => {
  it('revokes every expired lease at most maxLeaseRevokesPerRound per round, none left waiting a retry', async () => {
    const { sim, keeper, proposed } = setup({ maxLeaseRevokesPerRound: 2 });
    keeper.setLeader(true);
    for (let id = 1; id <= 5; id++) keeper.leaseGranted(id, 1);
    await sim.runFor(10_000);
    const revokes = proposed.filter((p) => p.cmd.t === 'leaseRevoke');
    assert.deepEqual(
      revokes.map((p) => (p.cmd.t === 'leaseRevoke' ? p.cmd.id : -1)),
      [1, 2, 3, 4, 5],
      'each once, earliest first',
    );
    // Expiry at 1 s (+ the 1 s extension only applies to leases held at promotion): rounds every
    // 500 ms take two each, so the last goes within three rounds, well before the lessor's 3 s retry.
    const rounds = new Set(revokes.map((p) => p.at));
    assert.equal(rounds.size, 3, `three rounds: ${[...rounds]}`);
    assert.ok(Math.max(...rounds) - Math.min(...rounds) <= 1_000);
    keeper.stop();
  });

  it('checkpoints at most one proposal per round and continues next round when it was full', async () => {
    const { sim, keeper, proposed } = setup({
      maxLeaseCheckpointsPerProposal: 2,
      leaseCheckpointIntervalMs: 60_000,
    });
    for (let id = 1; id <= 5; id++) keeper.leaseGranted(id, 3_600);
    keeper.setLeader(true);
    await sim.runFor(400_000);
    const cps = proposed.filter((p) => p.cmd.t === 'leaseCheckpoint');
    const first = cps.filter((p) => p.at < 330_000);
    assert.deepEqual(
      first.map((p) => (p.cmd.t === 'leaseCheckpoint' ? p.cmd.checkpoints.length : -1)),
      [2, 2, 1],
      'five leases due (the lessor checkpoints every 5 min) in proposals of at most two, one per round',
    );
    assert.ok(first[2]!.at - first[0]!.at <= 1_000, 'the rest follow in the next rounds');
    keeper.stop();
  });
});
