import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROLE_NAMES } from '../../src/node/config-fields.js';
import { type CliProcess, get, runCli } from './agent-helpers.js';

/**
 * `cairn agent` as a real process: identity on disk, /health, /metrics and /v1/members over HTTP
 * (membership running on a gossip port it picked), clean exit on
 * SIGTERM and when the parent's pipe closes, restart with the same identity. (Exit codes of bad
 * configuration and a taken port are in cli.test.ts, in process.)
 */

const ZERO_PORTS = ['--http-port', '0', '--gossip-port', '0', '--etcd-port', '0', '--resp-port', '0'];

interface Started {
  proc: CliProcess;
  http: string;
  nodeId: string;
}

async function startAgentProcess(dataDir: string, extra: string[] = []): Promise<Started> {
  const proc = runCli(['agent', '--data-dir', dataDir, ...ZERO_PORTS, ...extra]);
  const line = await proc.line((l) => l.includes('"agent started"'));
  const record = JSON.parse(line) as { nodeId: string; addresses: { http: string } };
  return { proc, http: `http://${record.addresses.http}`, nodeId: record.nodeId };
}

describe('cairn agent (process)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-agent-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates its identity (0600), serves /health and /metrics, exits 0 on SIGTERM, keeps its id on restart', async () => {
    const dataDir = join(dir, 'node');
    const first = await startAgentProcess(dataDir, ['--name', 'sys-a']);
    try {
      const key = await stat(join(dataDir, 'node.key'));
      assert.equal(key.mode & 0o777, 0o600);

      const health = await get(`${first.http}/health`);
      assert.equal(health.status, 200);
      const body = JSON.parse(health.text) as Record<string, unknown> & {
        roles: Record<string, { state: string }>;
      };
      assert.equal(body.status, 'ok');
      assert.equal(body.name, 'sys-a');
      assert.equal(body.nodeId, first.nodeId);
      assert.equal(body.pid, first.proc.child.pid);
      assert.deepEqual(Object.keys(body.roles), [...ROLE_NAMES]);
      for (const [name, role] of Object.entries(body.roles))
        assert.equal(
          role.state,
          name === 'membership' || name === 'store' || name === 'kv' ? 'running' : 'not-implemented',
          name,
        );
      // Gossip was configured as port 0: health shows the port membership really bound.
      const gossip = (body.addresses as Record<string, string>).gossip ?? '';
      assert.match(gossip, /^127\.0\.0\.1:[1-9]\d*$/);
      const members = JSON.parse((await get(`${first.http}/v1/members`)).text) as {
        node: string;
        members: Array<{ id: string; name: string; address: string; state: string; local: boolean }>;
      };
      assert.equal(members.node, first.nodeId);
      assert.deepEqual(
        members.members.map((m) => [m.id, m.name, m.address, m.state, m.local]),
        [[first.nodeId, 'sys-a', gossip, 'alive', true]],
      );

      const metrics = await get(`${first.http}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(metrics.contentType, /^text\/plain/);
      assert.match(metrics.text, new RegExp(`cairn_node_info\\{node_id="${first.nodeId}"`));
      assert.match(metrics.text, /^process_resident_memory_bytes/m);
      assert.match(metrics.text, /cairn_http_requests_total\{route="\/health",status="200"/);
    } finally {
      first.proc.child.kill('SIGTERM');
    }
    const exit = await first.proc.exit(10_000);
    assert.deepEqual(exit, { code: 0, signal: null }, first.proc.stderr());
    assert.match(first.proc.stdoutLines.join('\n'), /"agent stopped"/);

    // Restart on the same data dir, this time stopped by closing stdin (--exit-with-parent), the
    // way `cairn dev` agents notice their parent is gone.
    const second = await startAgentProcess(dataDir, ['--exit-with-parent']);
    assert.equal(second.nodeId, first.nodeId, 'the identity survives a restart');
    second.proc.child.stdin.end();
    assert.deepEqual(await second.proc.exit(10_000), { code: 0, signal: null }, second.proc.stderr());
    assert.match(second.proc.stdoutLines.join('\n'), /"reason":"stdin closed"/);
  });
});
