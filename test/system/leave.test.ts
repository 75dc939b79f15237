import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MembersJson } from '../../src/node/members-http.js';
import { find, type Node, startNode, stopAll, view, waitViews } from './agent-cluster.js';

/**
 * A SIGTERMed agent leaves gracefully, every time: round after round, two fresh agents join a
 * cluster of four, are stopped with SIGTERM, and every remaining node must list them `left`; a
 * single `dead` in any view on the way fails the test (`left` outranks `dead`, so a late leave
 * would hide one). Four stayers so that the leaver's own gossip round (three peers) does not
 * reach everyone: the rest hear of the leave from relays. Preset `local` with a 500 ms probe
 * interval (the helpers' default), where a suspicion confirmed once times out in 1.5 s.
 */

const ROUNDS = Number(process.env.CAIRN_LEAVE_ROUNDS ?? 8);

/** Fails at once if `list` shows any of `leavers` dead; true when it lists them all `left`. */
function allLeft(list: MembersJson, observer: Node, leavers: readonly Node[]): boolean {
  for (const l of leavers) {
    assert.notEqual(find(list, l)?.state, 'dead', `${observer.name} lists ${l.name} dead: ${view(list)}`);
  }
  return leavers.every((l) => find(list, l)?.state === 'left');
}

describe('graceful leave of agent processes', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-leave-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(`a SIGTERMed node is listed left, never dead, by every node (${ROUNDS} rounds of 2)`, async (t) => {
    const stayers: Node[] = [];
    const all: Node[] = [];
    try {
      stayers.push(await startNode(dir, 's0', []));
      for (const name of ['s1', 's2', 's3']) stayers.push(await startNode(dir, name, [stayers[0]!]));
      all.push(...stayers);
      await waitViews('the stayers list each other alive', stayers, (list) =>
        stayers.every((n) => find(list, n)?.state === 'alive'),
      );
      for (let round = 0; round < ROUNDS; round++) {
        const leavers = await Promise.all(
          [0, 1].map((i) => startNode(dir, `l${round}-${i}`, [stayers[(round + i) % stayers.length]!])),
        );
        all.push(...leavers);
        const everyone = [...stayers, ...leavers];
        await waitViews(`round ${round}: everyone lists everyone alive`, everyone, (list) =>
          everyone.every((n) => find(list, n)?.state === 'alive'),
        );
        for (const l of leavers) l.proc.child.kill('SIGTERM');
        for (const l of leavers) {
          assert.deepEqual(await l.proc.exit(15_000), { code: 0, signal: null }, l.proc.stderr());
        }
        await waitViews(`round ${round}: the stayers list both leavers left`, stayers, (list, observer) =>
          allLeft(list, observer, leavers),
        );
        t.diagnostic(`round ${round}: left everywhere`);
      }
    } finally {
      await stopAll(all);
    }
  });
});
