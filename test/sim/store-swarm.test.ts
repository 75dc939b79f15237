import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type FaultProfile, runSwarm, type SwarmRun } from '../../src/sim/index.js';
import { DEFAULT_CLUSTER, StoreCluster } from './store-harness.js';
import { DEFAULT_WORKLOAD, Workload } from './store-workload.js';
import { LONG, replayCommand, sweepSeeds, withRegressions } from './sweep.js';

/**
 * The consistent store under `runSwarm`: 3 voting members of the production StoreServer (raft
 * driver on the segment log over simulated files, MVCC on the simulated disk) on the simulated
 * network, 4 clients issuing puts, linearizable gets, deletes and compare-and-set txns on 3 keys
 * against random members, and an operator adding a learner, promoting it, removing voters and
 * adding again during the faults (up to 5 members). In half the seeds the raft drivers send on a
 * zero-delay timer, as the agent's do on `setImmediate` (proposals of one I/O phase as one batch).
 * Snapshots every 40 entries: metadata-only ones after the MVCC store is synced (images built at
 * send time for lagging members) in three quarters of the seeds, full images in the rest.
 *
 * Safety phase: loss, duplication, latency (reordering), partitions (symmetric, one-way,
 * isolation), pauses, crashes with restarts (unsynced writes lost, the last one possibly torn),
 * clock offsets and drift. Checked as it runs (store-safety.ts): one leader per term, committed
 * entries never lost or changed (in any node's log at or below its commit, in what it applies,
 * and in what a restarted node recovers), equal MVCC state at equal applied index.
 *
 * Liveness after heal: one leader, the membership reconciled (learners promoted), every member
 * applied the leader's commit, a final put and linearizable gets succeed on every member, every
 * member holds the same state, and the whole history is linearizable (lincheck, per key), which
 * includes every acknowledged write being visible to the final reads.
 *
 * CI sweeps 200 seeds; `CAIRN_LONG=1` 10,000. A failure prints `seed=<s>` and the replay command:
 *   CAIRN_SEED=<s> node --import tsx --test test/sim/store-swarm.test.ts
 */

const FILE = 'test/sim/store-swarm.test.ts';
/**
 * Seeds that once found a bug, run with every sweep: 39590, a follower whose connect to the leader
 * was lost in a partition waited out the transport's 10 s dial timeout after the heal (its final
 * put timed out; raft peer dials now time out after one second plus the election timeout).
 */
const REGRESSION_SEEDS = [39590];
const SEEDS = withRegressions(sweepSeeds(200, 10_000), REGRESSION_SEEDS);
/** Virtual time of the faulty phase per seed: several elections, membership changes and crashes. */
const SAFETY_MS = 6_000;
/** Liveness deadline: elections, catch-up by snapshot, membership reconciliation, final ops. */
const LIVENESS_MS = 60_000;
const PROFILE: FaultProfile = {
  maxLoss: 0.2,
  maxDuplicate: 0.05,
  maxLatencyMs: 20,
  crashes: true,
  maxCrashed: 1,
  clockSkew: true,
  maxClockOffsetMs: 10_000,
  maxClockDrift: 0.001,
};

interface State {
  readonly cluster: StoreCluster;
  readonly workload: Workload;
  /** Whether the raft drivers send on a zero-delay timer in this seed. */
  readonly scheduleSends: boolean;
  done: boolean;
  error: unknown;
}

describe('store swarm', () => {
  it(`is safe under faults and converges after heal over ${SEEDS.length} seeds`, {
    timeout: LONG ? Number.POSITIVE_INFINITY : 600_000,
  }, async () => {
    const started = Date.now();
    const tally = {
      ok: 0,
      fail: 0,
      info: 0,
      memberChanges: 0,
      restarts: 0,
      leaders: 0,
      leases: 0,
      compactions: 0,
      watchers: 0,
      watchRevisions: 0,
      scheduledSends: 0,
      persisted: 0,
      images: 0,
      restores: 0,
    };
    const result = await runSwarm<State>({
      name: 'store',
      seeds: SEEDS,
      faults: PROFILE,
      safetyMs: SAFETY_MS,
      livenessMs: LIVENESS_MS,
      quiet: true,
      setup: ({ sim, rng }) => {
        // Half the seeds send on a zero-delay timer, as the agent does on setImmediate.
        const scheduleSends = rng.child('schedule-sends').chance(0.5);
        // A quarter of the seeds take full-image snapshots (appliers without persist).
        const fullImageSnapshots = rng.child('full-image-snapshots').chance(0.25);
        const cluster = new StoreCluster(sim, { ...DEFAULT_CLUSTER, scheduleSends, fullImageSnapshots });
        const workload = new Workload(cluster, rng.child('workload'), DEFAULT_WORKLOAD);
        workload.start();
        return { cluster, workload, scheduleSends, done: false, error: undefined };
      },
      checkers: [(state) => state.cluster.check()],
      onHeal: (state, { sim }) => {
        state.workload.stop();
        state.workload.finish(sim.now + LIVENESS_MS - 1_000).then(
          () => {
            state.done = true;
          },
          (err: unknown) => {
            state.error = new Error(
              `${err instanceof Error ? err.message : String(err)}\nmembership:\n${state.workload.notes.join('\n')}`,
            );
          },
        );
      },
      converged: (state) => {
        const violation = state.cluster.check();
        if (violation !== undefined) throw new Error(violation);
        if (state.error !== undefined) throw state.error;
        if (state.done) {
          const c = state.workload.counts;
          tally.ok += c.ok;
          tally.fail += c.fail;
          tally.info += c.info;
          tally.memberChanges += c.memberChanges;
          tally.leases += c.leases;
          tally.compactions += c.compactions;
          tally.restarts += state.cluster.safety.counts.restarts;
          tally.scheduledSends += state.scheduleSends ? 1 : 0;
          tally.persisted += state.cluster.snapshotCounts.persisted;
          tally.images += state.cluster.snapshotCounts.images;
          tally.restores += state.cluster.snapshotCounts.restores;
          tally.leaders += state.cluster.safety.counts.leaders;
          tally.watchers += state.cluster.watches.counts.watchers;
          tally.watchRevisions += state.cluster.watches.counts.revisions;
        }
        return state.done;
      },
      replayCommand: (seed) => replayCommand(FILE, seed),
      throwOnFailure: false,
    });
    const runs: SwarmRun[] = result.runs;
    process.stderr.write(
      `store swarm: ${runs.length} seeds, ${result.ok ? 'zero violations' : 'FAILED'}; ops ok=${tally.ok} fail=${tally.fail} info=${tally.info}; member changes=${tally.memberChanges}; leases=${tally.leases} compactions=${tally.compactions}; restarts=${tally.restarts}; watchers=${tally.watchers} watched revisions=${tally.watchRevisions}; terms with a leader=${tally.leaders}; seeds with scheduled sends=${tally.scheduledSends}; snapshots: metadata-only=${tally.persisted} images=${tally.images} restores=${tally.restores}; ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    assert.ok(result.ok, result.failure?.report);
  });
});
