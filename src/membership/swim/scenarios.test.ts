import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { testSwimConfig } from './config.js';
import { Harness } from './harness.test-helper.js';

/*
 * Scripted cluster scenarios on the in-test message loop (harness.test-helper.ts): 50 cores, the
 * real wire path, seeded latency 1-5 ms, the test preset (probe 200 ms, gossip 20 ms). One cluster
 * is built and then taken through the scenarios in order, each on different nodes.
 * Replay: CAIRN_SEED=<seed> node --import tsx --test src/membership/swim/scenarios.test.ts
 */

const SEED = process.env.CAIRN_SEED ?? 'swim-scenarios-1';
const N = 50;
const config = testSwimConfig();

describe(`SWIM scenarios (seed=${SEED})`, () => {
  let h: Harness;
  const idOf = (i: number) => h.nodes[i]!.identity.nodeId;
  const statusEverywhere = (i: number) =>
    h
      .live()
      .filter((n) => n.index !== i)
      .map((n) => n.core.member(idOf(i))?.status);

  before(() => {
    h = new Harness({ seed: SEED, nodes: N, config });
  });

  it('50 nodes converge to all-alive after joining through random earlier nodes', (t) => {
    for (let i = 1; i < N; i++) h.join(i, h.rng.int(i));
    const at = h.runUntilTrue(() => h.converged(), 20_000);
    t.diagnostic(`join converged at ${at} ms virtual, ${h.delivered} messages delivered`);
    assert.ok(at !== undefined, `not converged after 20 s (seed=${SEED})`);
    for (const n of h.nodes) assert.equal(n.core.size, N);
  });

  it('a killed node is suspected, then dead on every other node, then reaped', (t) => {
    const victim = 7;
    const killedAt = h.now;
    h.kill(victim);
    const at = h.runUntilTrue(() => statusEverywhere(victim).every((s) => s === 'dead'), killedAt + 60_000);
    assert.ok(at !== undefined, `victim not dead everywhere (seed=${SEED}): ${statusEverywhere(victim)}`);
    t.diagnostic(`dead everywhere ${at - killedAt} ms after the kill`);
    const suspects = h
      .live()
      .flatMap((n) => n.events.filter((e) => e.member.id === idOf(victim) && e.type === 'suspect'));
    const deaths = h
      .live()
      .flatMap((n) => n.events.filter((e) => e.member.id === idOf(victim) && e.type === 'dead'));
    assert.equal(deaths.length, N - 1, 'one dead event per other node');
    const firstSuspicion = Math.min(...suspects.map((e) => e.at));
    assert.ok(suspects.length > 0 && deaths.every((d) => d.at >= firstSuspicion), 'suspected before dead');
    // Nobody else was declared dead.
    for (const n of h.live()) {
      assert.equal(n.core.members().filter((m) => m.status !== 'alive').length, 1, `node ${n.index}`);
    }
    // Reaping: gone everywhere reapAfterMs after the death.
    const reaped = h.runUntilTrue(
      () => h.live().every((n) => n.core.member(idOf(victim)) === undefined),
      at + config.reapAfterMs + 1000,
    );
    assert.ok(reaped !== undefined, 'victim not reaped');
    assert.ok(reaped - at >= config.reapAfterMs - 2000, `reaped too early: ${reaped - at} ms`);
    for (const n of h.live())
      assert.ok(n.events.some((e) => e.type === 'reap' && e.member.id === idOf(victim)));
  });

  it('a suspected live node refutes and is never declared dead', (t) => {
    const x = 5;
    const from = h.now;
    h.blackholed.add(h.nodes[x]!.address);
    const suspected = h.runUntilTrue(() => statusEverywhere(x).some((s) => s === 'suspect'), from + 5_000, 5);
    assert.ok(suspected !== undefined, 'never suspected while cut off');
    h.blackholed.delete(h.nodes[x]!.address);
    h.runUntil(h.now + 10_000);
    t.diagnostic(
      `suspected at +${suspected - from} ms; refuted at incarnation ${h.nodes[x]!.core.incarnation}`,
    );
    assert.ok(h.nodes[x]!.core.incarnation >= 1);
    assert.ok(
      statusEverywhere(x).every((s) => s === 'alive'),
      `not alive everywhere: ${statusEverywhere(x)}`,
    );
    const deaths = h.nodes.flatMap((n) =>
      n.events.filter((e) => e.member.id === idOf(x) && e.type === 'dead'),
    );
    assert.equal(deaths.length, 0);
  });

  it('a graceful leave yields left (not dead) everywhere', () => {
    const x = 9;
    h.step(x, { type: 'leave' });
    const at = h.runUntilTrue(() => statusEverywhere(x).every((s) => s === 'left'), h.now + 10_000);
    assert.ok(at !== undefined, `not left everywhere: ${statusEverywhere(x)}`);
    // The driver's leave(timeoutMs) waits for this: the leave retransmitted to its limit.
    const pending = () => h.nodes[x]!.core.isBroadcastPending(`m:${idOf(x)}`);
    assert.ok(
      h.runUntilTrue(() => !pending(), h.now + 5_000, 5) !== undefined,
      'leave never fully retransmitted',
    );
    h.kill(x);
    h.runUntil(h.now + 5_000);
    assert.ok(
      statusEverywhere(x).every((s) => s === 'left'),
      'left stays left, never dead',
    );
  });

  it('a restarted node with a newer generation replaces its old entry', () => {
    const x = 11;
    const oldGeneration = h.nodes[x]!.core.member(idOf(x))!.generation;
    const node = h.restart(x, '10.1.0.11:7946');
    h.join(x, 0);
    const ok = () =>
      h.live().every((n) => {
        const m = n.core.member(idOf(x));
        return m?.status === 'alive' && m.address === '10.1.0.11:7946' && m.generation > oldGeneration;
      });
    const wrong = () =>
      h
        .live()
        .map((n) => [n.index, n.core.member(idOf(x))] as const)
        .filter(
          ([, m]) =>
            !(m?.status === 'alive' && m.address === '10.1.0.11:7946' && m.generation > oldGeneration),
        )
        .map(([i, m]) => `${i}:${m?.status}@${m?.address}`);
    assert.ok(h.runUntilTrue(ok, h.now + 10_000) !== undefined, `restart not seen everywhere: ${wrong()}`);
    assert.ok(node.core.size >= N - 3);
    for (const n of h.live()) {
      if (n.index === x) continue;
      const ev = n.events.find((e) => e.member.id === idOf(x) && e.restarted);
      assert.ok(ev !== undefined && (ev.type === 'update' || ev.type === 'join'), `node ${n.index}`);
    }
  });
});
