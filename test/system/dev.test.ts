import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { probeHealth } from '../../src/cli/dev-cluster.js';
import type { DevNodeInfo } from '../../src/cli/dev-command.js';
import { portPlan } from '../../src/node/ports.js';
import { type CliProcess, freeBasePort, get, isAlive, runCli, waitGone } from './agent-helpers.js';

/**
 * `cairn dev` as a real process tree: three agents become healthy with distinct identities on the
 * port plan and have joined each other when the ready line is printed, SIGINT stops them all, and
 * a SIGKILL of the parent still takes the agents down.
 */

async function startDev(
  dataRoot: string,
  nodes: number,
): Promise<{ proc: CliProcess; infos: DevNodeInfo[]; base: number }> {
  const base = await freeBasePort(nodes);
  const proc = runCli([
    'dev',
    '--nodes',
    String(nodes),
    '--json',
    '--base-port',
    String(base),
    '--data-root',
    dataRoot,
  ]);
  const line = await proc.line((l) => l.startsWith('{'), 30_000);
  const infos = (JSON.parse(line) as { nodes: DevNodeInfo[] }).nodes;
  return { proc, infos, base };
}

describe('cairn dev (process tree)', { concurrency: true }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-dev-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts 3 healthy nodes on the port plan; SIGINT stops every one and exits 0', async () => {
    const { proc, infos, base } = await startDev(join(dir, 'a'), 3);
    const pids = infos.map((n) => n.pid);
    try {
      assert.equal(infos.length, 3);
      assert.equal(new Set(infos.map((n) => n.nodeId)).size, 3, 'node ids are distinct');
      for (const [i, node] of infos.entries()) {
        const ports = portPlan(base, i);
        assert.equal(node.name, `node-${i}`);
        assert.equal(node.gossip, `127.0.0.1:${ports.gossip}`);
        assert.equal(node.http, `127.0.0.1:${ports.http}`);
        // The store role serves the etcd API on the plan's port, the kv role RESP on its own.
        assert.equal(node.etcd, `127.0.0.1:${ports.etcd}`);
        assert.equal(node.resp, `127.0.0.1:${ports.resp}`);
        const health = await get(`http://${node.http}/health`);
        assert.equal(health.status, 200);
        const body = JSON.parse(health.text) as {
          nodeId: string;
          pid: number;
          status: string;
          addresses: Record<string, string>;
        };
        assert.deepEqual(Object.keys(body.addresses).sort(), ['etcd', 'gossip', 'http', 'resp']);
        assert.equal(body.status, 'ok');
        assert.equal(body.nodeId, node.nodeId);
        assert.equal(body.pid, node.pid);
        assert.ok(isAlive(node.pid));
        // The line is printed only once every node lists every node alive. (A member may turn
        // suspect for a moment on a starved machine and refute it, so the state is not pinned.)
        const members = JSON.parse((await get(`http://${node.http}/v1/members`)).text) as {
          members: Array<{ id: string; name: string; address: string; state: string }>;
        };
        assert.deepEqual(
          members.members.map((m) => [m.name, m.id, m.address]),
          infos.map((n) => [n.name, n.nodeId, n.gossip]),
          `${node.name}'s view of the cluster`,
        );
        for (const m of members.members)
          assert.match(m.state, /^(alive|suspect)$/, `${node.name} sees ${m.name}`);
      }
    } finally {
      proc.child.kill('SIGINT');
    }
    assert.deepEqual(await proc.exit(20_000), { code: 0, signal: null }, proc.stderr());
    assert.deepEqual(await waitGone(pids), [], 'every agent is gone');
    assert.equal(proc.stdoutLines.filter((l) => l !== '').length, 1, 'exactly one stdout line with --json');
    assert.match(proc.stderr(), /stopping 3 nodes \(signal SIGINT\)/);
  });

  it("a /health answer from another process on the plan's HTTP port does not make a node ready", async () => {
    // Two clusters started at once on colliding port plans (two e2e files in parallel): both pass
    // the free-port check, the other binds first, and its agent answers on our node's HTTP port
    // while ours fails to bind. That answer once made the node ready with the other's addresses.
    const base = await freeBasePort(1);
    const other = 'f'.repeat(64);
    const squatter = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', nodeId: other, pid: process.pid, addresses: { resp: 'x' } }));
    });
    const plan = {
      index: 0,
      name: 'node-0',
      dataDir: dir,
      logFile: join(dir, 'log'),
      ports: portPlan(base, 0),
    };
    await new Promise<void>((resolve) => squatter.listen(plan.ports.http, '127.0.0.1', resolve));
    try {
      assert.equal(await probeHealth({ ...plan, pid: process.pid + 1 }), undefined);
      assert.deepEqual(await probeHealth({ ...plan, pid: process.pid }), {
        nodeId: other,
        addresses: { resp: 'x' },
      });
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('agents exit when the parent is killed with SIGKILL', async () => {
    const { proc, infos } = await startDev(join(dir, 'b'), 2);
    const pids = infos.map((n) => n.pid);
    assert.ok(pids.every(isAlive));
    proc.child.kill('SIGKILL');
    await proc.exit(10_000);
    assert.deepEqual(await waitGone(pids), [], 'no agent outlives its parent');
  });
});
