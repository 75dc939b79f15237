import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../src/cli/run.js';
import { silentLogger } from '../../src/core/index.js';
import { type Agent, startAgent } from '../../src/node/agent.js';
import { buildAgentConfig, flagLayer } from '../../src/node/config.js';
import type { MembersJson } from '../../src/node/members-http.js';
import { followViews } from './agent-cluster.js';
import { freePort, memoryIo } from './agent-helpers.js';

/**
 * `cairn members` in this process against agents started in this process (real HTTP and gossip on
 * loopback): the table, `--json`, the address from a config file, and the failures (nothing
 * listening, a node without membership, a bad flag).
 */

async function agent(dir: string, name: string, flags: Record<string, string> = {}): Promise<Agent> {
  const config = buildAgentConfig([
    flagLayer({
      name,
      'data-dir': join(dir, name),
      'http-port': '0',
      'gossip-port': '0',
      'etcd-port': '0',
      'resp-port': '0',
      'membership-preset': 'local',
      roles: 'membership',
      ...flags,
    }),
  ]);
  return startAgent(config, { logger: silentLogger(), processMetrics: false });
}

describe('cairn members (in process)', () => {
  let dir: string;
  let a: Agent;
  let b: Agent;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-members-'));
    a = await agent(dir, 'm-a');
    b = await agent(dir, 'm-b', { seeds: a.addresses.gossip! });
    await followViews(
      'm-a and m-b list each other alive',
      [a, b].map((n) => `http://${n.addresses.http}`),
      (list) => list.members.filter((m) => m.state === 'alive').length === 2,
      20_000,
    );
    const res = await fetch(`http://${b.addresses.http}/v1/local/zone`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: 'eu-1' }),
    });
    assert.equal(res.status, 200);
  });
  after(async () => {
    await Promise.all([a.stop(), b.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('--json prints exactly one line, the body of /v1/members', async () => {
    const io = memoryIo();
    assert.equal(await runCli(['members', '--json', '--http', b.addresses.http], io), 0, io.err());
    const lines = io
      .out()
      .split('\n')
      .filter((l) => l !== '');
    assert.equal(lines.length, 1);
    const body = JSON.parse(lines[0]!) as MembersJson;
    const direct = (await (await fetch(`http://${b.addresses.http}/v1/members`)).json()) as MembersJson;
    assert.deepEqual(body, direct);
    assert.equal(body.node, b.identity.nodeId);
    assert.deepEqual(
      body.members.map((m) => [m.name, m.state, m.local, m.metadata]),
      [
        ['m-a', 'alive', false, {}],
        ['m-b', 'alive', true, { zone: 'eu-1' }],
      ],
    );
  });

  it('prints a table, the asked node marked, with the address read from a config file', async () => {
    const port = Number(a.addresses.http.split(':')[1]);
    const file = join(dir, 'a.yaml');
    await writeFile(file, `bind:\n  httpPort: ${port}\n`);
    const io = memoryIo();
    assert.equal(await runCli(['members', '--config', file], io), 0, io.err());
    const lines = io.out().trimEnd().split('\n');
    assert.match(lines[0]!, /^NAME\s+ID\s+STATE\s+ADDRESS\s+INC\s+METADATA$/);
    assert.match(
      lines[1]!,
      new RegExp(`^m-a \\*\\s+${a.identity.nodeId.slice(0, 8)}\\s+alive\\s+${a.addresses.gossip}\\s+0\\s+-$`),
    );
    assert.match(lines[2]!, /^m-b\s+\S{8}\s+alive\s+\S+\s+0\s+zone=eu-1$/);
    assert.equal(lines[3], '2 members: 2 alive (* = the node asked)');
  });

  it('exits 1 with a clear message when the node cannot be reached', async () => {
    const port = await freePort();
    const io = memoryIo();
    assert.equal(await runCli(['members', '--http', `127.0.0.1:${port}`], io), 1);
    assert.match(
      io.err(),
      new RegExp(
        `cannot reach the agent at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); is it running\\?`,
      ),
    );
    assert.equal(io.out(), '');
  });

  it("exits 1 when the node does not run membership, with the node's reason", async () => {
    const other = await agent(dir, 'm-none', { roles: 'config' });
    try {
      const io = memoryIo();
      assert.equal(await runCli(['members', '--http', other.addresses.http], io), 1);
      assert.match(io.err(), /\/v1\/members answered 503: the membership role is not running on this node/);
    } finally {
      await other.stop();
    }
  });

  it('escapes control characters in values, so a value cannot forge a row of the table', async () => {
    const url = `http://${b.addresses.http}/v1/local/note`;
    const forged = 'x\x1b[2K\nm-z *  ffffffff  alive';
    const res = await fetch(url, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: forged }),
    });
    assert.equal(res.status, 200);
    try {
      const io = memoryIo();
      assert.equal(await runCli(['members', '--http', b.addresses.http], io), 0, io.err());
      const lines = io.out().trimEnd().split('\n');
      assert.equal(lines.length, 4, io.out());
      assert.match(lines[2]!, /^m-b \*.* note=x\\x1b\[2K\\nm-z \* {2}ffffffff {2}alive zone=eu-1$/);
    } finally {
      await fetch(url, { method: 'DELETE' });
    }
  });

  it('exits 2 for a bad --http value, naming the flag', async () => {
    const io = memoryIo();
    assert.equal(await runCli(['members', '--http', 'nowhere'], io), 2);
    assert.match(io.err(), /flag --http must be host:port .*got "nowhere" \(see "cairn help members"\)/);
  });
});
