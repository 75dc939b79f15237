import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../core/index.js';
import { simulatedScheme } from '../../security/index.js';
import type { ScuttlebuttState } from './cluster-state.js';
import { exchange, identities, makeNode } from './harness.test-helper.js';

const SEED = Number(process.env.SEED ?? 7);
const N = 100;
const LOSS = 0.1;
const ROUND_MS = 1000;
const config = { tombstoneGraceMs: 30_000 };

/**
 * 100 pure cores gossiping in a tiny deterministic loop: each round every node sends a Syn to
 * one random peer; each message is lost with probability 10%. Replay: SEED=<n> node --import tsx
 * --test src/membership/state/convergence.test.ts
 */
class Loop {
  readonly rng = Rng.fromSeed(SEED).child('loop');
  now = 0;
  rounds = 0;
  readonly down = new Set<number>();
  constructor(readonly nodes: ScuttlebuttState[]) {}

  round(): void {
    this.now += ROUND_MS;
    this.rounds++;
    for (let i = 0; i < this.nodes.length; i++) {
      if (this.down.has(i)) continue;
      let j = this.rng.int(this.nodes.length - 1);
      if (j >= i) j++;
      if (this.down.has(j)) continue;
      exchange(this.nodes[i]!, this.nodes[j]!, this.now, this.rng, LOSS);
    }
    for (const n of this.nodes) n.collectGarbage(this.now);
  }

  /** Runs rounds until `done` holds (at most `max`); returns the rounds it took. */
  until(done: () => boolean, max: number, what: string): number {
    const start = this.rounds;
    while (!done()) {
      assert.ok(this.rounds - start < max, `seed=${SEED}: ${what} not reached in ${max} rounds`);
      this.round();
    }
    return this.rounds - start;
  }
}

test(`100 nodes converge on updates, deletes, GC and restarts (seed=${SEED})`, () => {
  const ids = identities(N, `conv/${SEED}`);
  const nodes = ids.map((id) => makeNode(id, 1, simulatedScheme, config));
  for (const [i, n] of nodes.entries()) n.set(`key-${i}`, `value-${i}`);
  const loop = new Loop(nodes);
  const everyoneHas = (owner: number, key: string, value: string | undefined, skip = new Set<number>()) =>
    nodes.every((n, i) => skip.has(i) || n.get(ids[owner]!.nodeId, key) === value);

  const join = loop.until(
    () => nodes.every((_, o) => everyoneHas(o, `key-${o}`, `value-${o}`)),
    200,
    'initial convergence',
  );

  nodes[3]!.set('late', 'yes');
  const update = loop.until(() => everyoneHas(3, 'late', 'yes'), 100, 'update convergence');

  // Node 9 is away while node 5 deletes a key and the tombstone is collected everywhere else.
  loop.down.add(9);
  nodes[5]!.delete('key-5', loop.now);
  loop.until(() => everyoneHas(5, 'key-5', undefined, loop.down), 100, 'delete convergence');
  loop.until(
    () => nodes.every((n, i) => i === 9 || n.entry(ids[5]!.nodeId, 'key-5') === undefined),
    100,
    'tombstone collection',
  );
  assert.ok((nodes[0]!.nodeInfo(ids[5]!.nodeId)?.gcVersion ?? 0) >= 2, 'gcVersion raised');
  assert.equal(nodes[9]!.get(ids[5]!.nodeId, 'key-5'), 'value-5', 'node 9 missed the delete');
  loop.down.delete(9);
  loop.until(() => nodes[9]!.get(ids[5]!.nodeId, 'key-5') === undefined, 100, 'reset of the returning node');
  assert.ok(nodes[9]!.stats.gcResets >= 1);
  for (let r = 0; r < 10; r++) loop.round();
  assert.ok(everyoneHas(5, 'key-5', undefined), 'the returning node resurrected a deleted key');

  // Node 7 restarts with a new generation and different state.
  nodes[7] = makeNode(ids[7]!, 2, simulatedScheme, config);
  nodes[7].set('key-7b', 'reborn');
  const restart = loop.until(
    () => everyoneHas(7, 'key-7b', 'reborn') && everyoneHas(7, 'key-7', undefined),
    100,
    'restart convergence',
  );
  assert.ok(nodes.every((n) => n.nodeInfo(ids[7]!.nodeId)?.generation === 2));
  const totals = nodes.reduce(
    (acc, n) => acc + n.stats.rejected.forged + n.stats.rejected.malformed + n.stats.rejected.unsigned,
    0,
  );
  assert.equal(totals, 0, 'honest gossip is never rejected');
  console.log(
    JSON.stringify({
      seed: SEED,
      nodes: N,
      loss: LOSS,
      join_rounds: join,
      update_rounds: update,
      restart_rounds: restart,
    }),
  );
});
