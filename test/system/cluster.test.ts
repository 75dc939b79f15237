import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MembersJson } from '../../src/node/members-http.js';
import { find, members, type Node, startNode, stopAll, view, waitViews } from './agent-cluster.js';
import { get, runCli } from './agent-helpers.js';

/**
 * A cluster of real `cairn agent` processes on 127.0.0.1: they join through their seeds, an update
 * on one node reaches every node, a SIGKILLed node is declared dead by every other node, a
 * SIGTERMed node leaves gracefully (`left`, not `dead`), and `cairn members --json` lists the
 * cluster. Then the keyring: nodes with the same key join, a node with another key never appears.
 *
 * Timings: the `local` preset with a 500 ms probe interval, so a dead node is detected in seconds
 * (suspicion timeout 1.5 s once confirmed by a second node, 9 s at most). Every wait polls a
 * follows blocking reads of `/v1/members` or waits for a log line, with a deadline.
 */

// The two tests run one after the other: each is a cluster of agent processes, and two at once on
// a two-core machine starve each other's probes into false suspicions.
describe('a cluster of agent processes', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-cluster-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('joins, spreads an update, detects a killed node, sees a graceful leave; cairn members lists it', async (t) => {
    const nodes: Node[] = [];
    let mark = performance.now();
    const phase = (what: string) => {
      const now = performance.now();
      t.diagnostic(`${what}: ${Math.round(now - mark)} ms`);
      mark = now;
    };
    try {
      nodes.push(await startNode(dir, 'c0', []));
      nodes.push(...(await Promise.all(['c1', 'c2', 'c3'].map((name) => startNode(dir, name, [nodes[0]!])))));
      const [n0, n1, n2, n3] = nodes as [Node, Node, Node, Node];
      phase('4 agents started');

      await waitViews('every node lists all 4 alive', nodes, (list) =>
        nodes.every((n) => find(list, n)?.state === 'alive'),
      );
      phase('joined');
      const first = await members(n1);
      assert.deepEqual(
        first.members.map((m) => [m.name, m.id, m.address, m.local]),
        nodes.map((n) => [n.name, n.nodeId, n.gossip, n === n1]),
      );

      // An update on one node reaches every node.
      const put = await fetch(`${n1.http}/v1/local/role`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ value: 'kv' }),
      });
      assert.equal(put.status, 200, await put.text());
      await waitViews(
        'every node sees role=kv on c1',
        nodes,
        (list) => find(list, n1)?.metadata.role === 'kv',
      );
      phase('update seen everywhere');

      // A killed node is declared dead by every other node.
      n3.proc.child.kill('SIGKILL');
      await n3.proc.exit(10_000);
      // Up to the maximum suspicion timeout (6 x 1.5 s) when no confirmation arrives, plus gossip.
      await waitViews(
        'c0, c1, c2 list c3 as dead',
        [n0, n1, n2],
        (list) => find(list, n3)?.state === 'dead',
        300,
      );
      phase('kill detected everywhere');

      // A stopped node leaves gracefully: left, not dead.
      n2.proc.child.kill('SIGTERM');
      assert.deepEqual(await n2.proc.exit(15_000), { code: 0, signal: null }, n2.proc.stderr());
      assert.match(n2.proc.stdoutLines.join('\n'), /"left the cluster"/);
      await waitViews('c0 and c1 list c2 as left', [n0, n1], (list) => find(list, n2)?.state === 'left');
      phase('graceful stop (exit 0) and left seen');

      // `cairn members --json` prints the node's view as one JSON line.
      const cli = runCli(['members', '--json', '--http', n0.http.replace('http://', '')]);
      assert.deepEqual(await cli.exit(20_000), { code: 0, signal: null }, cli.stderr());
      const lines = cli.stdoutLines.filter((l) => l !== '');
      assert.equal(lines.length, 1, 'exactly one line');
      const listed = JSON.parse(lines[0]!) as MembersJson;
      assert.equal(listed.node, n0.nodeId);
      assert.deepEqual(
        listed.members.map((m) => [m.name, m.id, m.local]),
        nodes.map((n) => [n.name, n.nodeId, n === n0]),
      );
      // c1 may be suspect for a moment on a starved machine (and refute it); the others are final.
      assert.deepEqual(
        listed.members.map((m) => m.state),
        ['alive', listed.members[1]!.state === 'suspect' ? 'suspect' : 'alive', 'left', 'dead'],
      );
      // Its own key, and the store role's advert (each agent here bootstraps a store of its own).
      assert.equal(listed.members[1]!.metadata.role, 'kv');
      assert.match(
        String(listed.members[1]!.metadata.store),
        /^\{"id":"[0-9a-f]{16}","etcd":"127\.0\.0\.1:\d+","cluster":"[0-9a-f]{16}"\}$/,
      );
    } finally {
      await stopAll(nodes);
    }
  });

  it('keyring: nodes with the same key join; a node with another key never appears', async () => {
    const key = (byte: number) => Buffer.alloc(32, byte).toString('base64');
    const same = { CAIRN_KEYRING_KEYS: key(7), CAIRN_KEYRING_LABEL: 'sys' };
    const nodes: Node[] = [];
    try {
      const a = await startNode(dir, 'k-a', [], same);
      nodes.push(a);
      const [b, c] = await Promise.all([
        startNode(dir, 'k-b', [a], same),
        // At debug level k-c logs each failed join attempt: the test waits for the second one.
        startNode(dir, 'k-c', [a], {
          CAIRN_KEYRING_KEYS: key(8),
          CAIRN_KEYRING_LABEL: 'sys',
          CAIRN_LOG_LEVEL: 'debug',
        }),
      ]);
      nodes.push(b, c);
      await waitViews('k-a and k-b list each other alive', [a, b], (list) =>
        [a, b].every((n) => find(list, n)?.state === 'alive'),
      );

      // k-c tried to join k-a at least twice, and k-a refused what it sent (it does not open): k-a
      // counts the drop when the input arrives, before k-c sees its attempt fail.
      await c.proc.line((l) => l.includes('"join failed; retrying"') && l.includes('"attempt":2'), 30_000);
      const health = JSON.parse((await get(`${c.http}/health`)).text) as {
        roles: { membership: { detail?: string } };
      };
      const detail = health.roles.membership.detail ?? '';
      const metrics = (await get(`${a.http}/metrics`)).text;
      const dropped = [...metrics.matchAll(/^cairn_transport_sealed_dropped_total\{[^}]*\} (\d+)/gm)].reduce(
        (sum, m) => sum + Number(m[1]),
        0,
      );
      assert.match(detail, /joining: no seed answered yet \((\d{2,}|[2-9]) attempts\)/);
      assert.ok(dropped > 0, 'k-a dropped sealed input from k-c');

      for (const n of [a, b]) {
        const list = await members(n);
        assert.equal(find(list, c), undefined, `${n.name} does not list k-c: ${view(list)}`);
        assert.equal(list.members.length, 2);
      }
      assert.deepEqual(
        (await members(c)).members.map((m) => m.name),
        ['k-c'],
      );
    } finally {
      await stopAll(nodes);
    }
  });
});
