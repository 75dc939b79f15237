import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_LIMITS,
  lanPexConfig,
  type PexConfig,
  PexNode,
  testPexConfig,
} from '../../src/membership/pex/index.js';
import { parseSeed, runSwarm, Simulator } from '../../src/sim/index.js';

/**
 * PeX nodes (the production driver) on the simulated network: packet loss, latency jitter,
 * crashes, partitions. Every run prints its seed and replays with:
 *   CAIRN_SEED=<seed> node --import tsx --test test/sim/pex.test.ts
 */

const SEED = process.env.CAIRN_SEED ? parseSeed(process.env.CAIRN_SEED) : 7;
const REPLAY = (seed: unknown) => `CAIRN_SEED=${String(seed)} node --import tsx --test test/sim/pex.test.ts`;

interface Cluster {
  names: string[];
  addresses: string[];
}

/** Adds `n` PexNodes `p0..p{n-1}`, every one seeded with p0 (a star: the worst bootstrap). */
function addStar(sim: Simulator, n: number, config: PexConfig): Cluster {
  const names = Array.from({ length: n }, (_, i) => `p${i}`);
  const addresses: string[] = [];
  for (const name of names) {
    const first = addresses[0];
    addresses.push(
      sim.addNode(
        name,
        (ctx) =>
          new PexNode({
            transport: ctx.transport(),
            clock: ctx.clock,
            rng: ctx.rng,
            config,
            seeds: first === undefined ? [] : [first],
          }),
      ),
    );
  }
  return { names, addresses };
}

const up = (sim: Simulator, c: Cluster) => c.names.filter((n) => sim.nodeState(n) === 'up');

/** Whether every up node reaches every other up node over view edges among up nodes. */
function stronglyConnected(sim: Simulator, c: Cluster): boolean {
  const live = up(sim, c);
  const liveAddr = new Set(live.map((n) => sim.addressOf(n)));
  const out = new Map<string, string[]>();
  const back = new Map<string, string[]>();
  for (const n of live) {
    const from = sim.addressOf(n);
    for (const d of sim.handle<PexNode>(n)!.view()) {
      if (!liveAddr.has(d.address)) continue;
      out.set(from, [...(out.get(from) ?? []), d.address]);
      back.set(d.address, [...(back.get(d.address) ?? []), from]);
    }
  }
  const reach = (adj: Map<string, string[]>) => {
    const start = sim.addressOf(live[0]!);
    const seen = new Set([start]);
    const stack = [start];
    while (stack.length > 0) {
      for (const x of adj.get(stack.pop()!) ?? []) {
        if (seen.has(x)) continue;
        seen.add(x);
        stack.push(x);
      }
    }
    return seen.size;
  };
  return reach(out) === live.length && reach(back) === live.length;
}

function inDegrees(sim: Simulator, c: Cluster): number[] {
  const deg = new Map(up(sim, c).map((n) => [sim.addressOf(n), 0]));
  for (const n of up(sim, c))
    for (const d of sim.handle<PexNode>(n)!.view())
      if (deg.has(d.address)) deg.set(d.address, deg.get(d.address)! + 1);
  return [...deg.values()];
}

function deadEntries(sim: Simulator, c: Cluster): number {
  const live = new Set(up(sim, c).map((n) => sim.addressOf(n)));
  let dead = 0;
  for (const n of up(sim, c))
    for (const d of sim.handle<PexNode>(n)!.view()) if (!live.has(d.address)) dead++;
  return dead;
}

describe(`PeX on the simulated network (seed=${SEED}; replay: ${REPLAY(SEED)})`, () => {
  it('200 nodes, star bootstrap, 10% loss: connected, balanced, deterministic; a 30% crash is purged', async () => {
    const run = async () => {
      const sim = new Simulator({ seed: SEED, settle: false, network: { loss: 0.1 } });
      const c = addStar(sim, 200, lanPexConfig());
      await sim.runFor(60_000);
      return { sim, c };
    };
    const { sim, c } = await run();
    const deg = inDegrees(sim, c);
    const max = Math.max(...deg);
    const min = Math.min(...deg);
    const mean = deg.reduce((a, b) => a + b, 0) / deg.length;
    const sd = Math.sqrt(deg.reduce((a, b) => a + (b - mean) ** 2, 0) / deg.length);
    const counters = c.names.map((n) => sim.handle<PexNode>(n)!.counters());
    const timeouts = counters.reduce((a, x) => a + x.timeouts, 0);
    const started = counters.reduce((a, x) => a + x.exchangesStarted, 0);
    console.log(
      `seed=${SEED} 200 nodes loss=0.1 after 60 s: in-degree min ${min} max ${max} mean ${mean.toFixed(1)} sd ${sd.toFixed(2)}; ` +
        `exchanges ${started}, timeouts ${timeouts}; trace ${sim.traceHash()}`,
    );
    assert.ok(stronglyConnected(sim, c), 'the overlay is not strongly connected');
    assert.ok(max <= 60 && min >= 1, `in-degree spread ${min}..${max}: the star hub was not dissolved`);
    assert.ok(
      timeouts > 0.1 * started && timeouts < 0.3 * started,
      'about 1 - 0.9^2 = 19% of exchanges should fail',
    );
    assert.equal(
      counters.reduce((a, x) => a + x.malformed, 0),
      0,
    );
    assert.equal(sim.network.stats.dropped.handler_error, 0);

    const again = await run();
    assert.equal(again.sim.traceHash(), sim.traceHash(), 'same seed, different run');

    const rng = sim.rng.child('victims');
    for (const name of rng.sample(c.names, 60)) sim.crash(name);
    const before = deadEntries(sim, c);
    let rounds = 0;
    while (deadEntries(sim, c) > 0 && rounds < 60) {
      await sim.runFor(1_000);
      rounds++;
    }
    console.log(`crash of 60: ${before} dead entries purged in ${rounds} cycles`);
    assert.ok(before > 1000, 'the crash should leave many dead entries');
    assert.equal(deadEntries(sim, c), 0, `dead entries left after ${rounds} cycles`);
    assert.ok(stronglyConnected(sim, c), 'survivors are not connected');
  });

  it('a long partition makes each side forget the other; exchangeWith(seed) reconnects', async () => {
    const sim = new Simulator({ seed: SEED, settle: false });
    const c = addStar(sim, 40, testPexConfig());
    await sim.runFor(5_000);
    assert.ok(stronglyConnected(sim, c));
    const left = c.names.slice(0, 20);
    const right = c.names.slice(20);
    sim.network.partition(left, right);
    await sim.runFor(20_000);
    const rightAddr = new Set(right.map((n) => sim.addressOf(n)));
    const crossing = left.some((n) =>
      sim
        .handle<PexNode>(n)!
        .view()
        .some((d) => rightAddr.has(d.address)),
    );
    assert.ok(!crossing, 'healing should have evicted every unreachable descriptor');
    sim.network.heal();
    await sim.runFor(5_000);
    assert.ok(!stronglyConnected(sim, c), 'the halves cannot find each other without a seed');
    for (const n of right) sim.handle<PexNode>(n)!.exchangeWith(c.addresses[0]!);
    await sim.runFor(5_000);
    assert.ok(stronglyConnected(sim, c), 'exchanging with the seed did not reconnect the halves');
  });

  it('swarm: view invariants hold under loss, duplication, jitter, pauses and crashes; heals to connected', async () => {
    const config = testPexConfig();
    const result = await runSwarm<Cluster>({
      name: 'pex',
      count: 3,
      quiet: true,
      safetyMs: 10_000,
      livenessMs: 20_000,
      checkEvery: 50,
      faults: { partitions: false, crashes: true, maxCrashed: 3 },
      simulator: { settle: false },
      setup: ({ sim }) => addStar(sim, 30, config),
      checkers: [
        (c, { sim }) => {
          const known = new Set(c.addresses);
          for (const n of up(sim, c)) {
            const node = sim.handle<PexNode>(n);
            if (node === undefined) continue;
            const view = node.view();
            const self = sim.addressOf(n);
            if (view.length > config.viewSize) return `${n} holds ${view.length} > c entries`;
            if (new Set(view.map((d) => d.address)).size !== view.length) return `${n} has a duplicate`;
            for (const d of view) {
              if (d.address === self) return `${n} holds itself`;
              if (!known.has(d.address)) return `${n} holds an invented address ${d.address}`;
              if (d.age < 0 || d.age > DEFAULT_LIMITS.maxAge) return `${n} holds age ${d.age}`;
            }
            if (node.counters().malformed > 0) return `${n} saw a malformed packet`;
          }
          return undefined;
        },
      ],
      converged: (c, { sim }) => stronglyConnected(sim, c) && deadEntries(sim, c) === 0,
      replayCommand: REPLAY,
    });
    assert.equal(result.ok, true);
  });
});
