import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isCairnError, silentLogger } from '../core/index.js';
import { NodeIdentity, shortNodeId } from '../security/identity.js';
import { startAgent } from './agent.js';
import { type AgentConfig, buildAgentConfig, flagLayer } from './config.js';
import type { RoleName } from './config-fields.js';
import type { HealthReport } from './http.js';
import { type Role, type RoleHealth, RoleRegistry } from './role.js';

/** A role that records its calls in a shared journal. */
class RecordingRole implements Role {
  state: RoleHealth['state'] = 'stopped';
  constructor(
    readonly name: RoleName,
    private readonly journal: string[],
    private readonly failStart = false,
  ) {}
  async start(): Promise<void> {
    this.journal.push(`start ${this.name}`);
    if (this.failStart) throw new Error(`${this.name} cannot start`);
    this.state = 'running';
  }
  async stop(): Promise<void> {
    this.journal.push(`stop ${this.name}`);
    this.state = 'stopped';
  }
  health(): RoleHealth {
    return { state: this.state };
  }
}

function config(dataDir: string, flags: Record<string, string> = {}): AgentConfig {
  return buildAgentConfig([
    flagLayer({
      'data-dir': dataDir,
      'http-port': '0',
      'gossip-port': '0',
      'etcd-port': '0',
      'resp-port': '0',
      ...flags,
    }),
  ]);
}

/** Binds `port` (default 0: any) on loopback, releases it and returns the port bound. */
function freePort(port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address() as AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

async function health(http: string): Promise<{ status: number; body: HealthReport }> {
  const res = await fetch(`http://${http}/health`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as HealthReport };
}

describe('startAgent (in process)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-agent-unit-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists only the addresses of services that run (no RESP without the kv role)', async () => {
    const agent = await startAgent(config(join(dir, 'served'), { roles: 'config' }), {
      logger: silentLogger(),
      processMetrics: false,
    });
    try {
      assert.deepEqual(Object.keys(agent.addresses), ['http']);
      const { body } = await health(agent.addresses.http);
      assert.deepEqual(Object.keys(body.addresses), ['http']);
    } finally {
      await agent.stop();
    }
  });

  it('runs the store on membership: the etcd address is the bound port; alone it bootstraps itself', async () => {
    const agent = await startAgent(config(join(dir, 'store'), { roles: 'membership,store' }), {
      logger: silentLogger(),
      processMetrics: false,
    });
    try {
      assert.deepEqual(Object.keys(agent.addresses).sort(), ['etcd', 'gossip', 'http']);
      assert.doesNotMatch(agent.addresses.etcd!, /:0$/);
      const res = await fetch(`http://${agent.addresses.http}/v1/store/status`, {
        signal: AbortSignal.timeout(5000),
      });
      assert.equal(res.status, 200);
      const status = (await res.json()) as { members: { name: string }[] };
      assert.equal(status.members.length, 1);
    } finally {
      await agent.stop();
    }
  });

  it('refuses the store role without membership, saying why', async () => {
    await assert.rejects(
      startAgent(config(join(dir, 'lonely'), { roles: 'store' }), {
        logger: silentLogger(),
        processMetrics: false,
      }),
      /the store role needs the membership role/,
    );
  });

  it('starts roles in role order, reports them in /health, stops them in reverse', async () => {
    const journal: string[] = [];
    const roles = RoleRegistry.withPlaceholders();
    for (const name of ['membership', 'kv', 'store'] as const)
      roles.register(name, () => new RecordingRole(name, journal));
    // Roles are configured out of order: start order is the fixed role order, not the list's.
    const agent = await startAgent(config(join(dir, 'a'), { roles: 'kv,membership,store,config' }), {
      roles,
      logger: silentLogger(),
      processMetrics: false,
    });
    assert.deepEqual(journal, ['start membership', 'start store', 'start kv']);
    const { status, body } = await health(agent.addresses.http);
    assert.equal(status, 200);
    assert.equal(body.status, 'ok');
    assert.deepEqual(body.roles, {
      membership: { state: 'running' },
      store: { state: 'running' },
      kv: { state: 'running' },
      config: { state: 'not-implemented' },
    });
    assert.equal(body.name, `${hostname()}-${shortNodeId(agent.identity.nodeId)}`);
    const stopping = agent.stop();
    assert.equal(agent.stop(), stopping, 'stop is idempotent');
    await stopping;
    assert.deepEqual(journal.slice(3), ['stop kv', 'stop store', 'stop membership']);
    await assert.rejects(health(agent.addresses.http), 'HTTP is closed after stop');
  });

  it('when a role fails to start, stops the ones before it, releases the port and says which role', async () => {
    const journal: string[] = [];
    const roles = new RoleRegistry()
      .register('membership', () => new RecordingRole('membership', journal))
      .register('store', () => new RecordingRole('store', journal, true))
      .register('kv', () => new RecordingRole('kv', journal));
    const port = await freePort();
    const cfg = config(join(dir, 'b'), { roles: 'membership,store,kv', 'http-port': String(port) });
    await assert.rejects(
      startAgent(cfg, { roles, logger: silentLogger(), processMetrics: false }),
      (err: unknown) => {
        assert.ok(isCairnError(err, 'AGENT_START_FAILED'));
        assert.match(err.message, /role "store" failed to start: Error: store cannot start/);
        return true;
      },
    );
    assert.deepEqual(journal, ['start membership', 'start store', 'stop membership']);
    assert.equal(await freePort(port), port, 'the HTTP port is free again');
  });

  it('reports degraded (503) when a role has failed', async () => {
    const failing: Role = {
      name: 'kv',
      start: async () => {},
      stop: async () => {},
      health: () => ({ state: 'failed', detail: 'disk full' }),
    };
    const roles = RoleRegistry.withPlaceholders().register('kv', () => failing);
    const agent = await startAgent(config(join(dir, 'c')), {
      roles,
      logger: silentLogger(),
      processMetrics: false,
    });
    try {
      const { status, body } = await health(agent.addresses.http);
      assert.equal(status, 503);
      assert.equal(body.status, 'degraded');
      assert.deepEqual(body.roles.kv, { state: 'failed', detail: 'disk full' });
    } finally {
      await agent.stop();
    }
  });

  it('creates the identity file once (mode 0600) and reuses it; an injected identity writes nothing', async () => {
    const dataDir = join(dir, 'd');
    const first = await startAgent(config(dataDir, { name: 'n1' }), {
      logger: silentLogger(),
      processMetrics: false,
    });
    await first.stop();
    assert.equal((await stat(join(dataDir, 'node.key'))).mode & 0o777, 0o600);
    const second = await startAgent(config(dataDir, { name: 'n1' }), {
      logger: silentLogger(),
      processMetrics: false,
    });
    await second.stop();
    assert.equal(second.identity.nodeId, first.identity.nodeId);

    const identity = NodeIdentity.generate();
    const injected = await startAgent(config(join(dir, 'e')), {
      identity,
      logger: silentLogger(),
      processMetrics: false,
    });
    await injected.stop();
    assert.equal(injected.identity.nodeId, identity.nodeId);
    await assert.rejects(stat(join(dir, 'e', 'node.key')), /ENOENT/);
  });

  it('serves its own metrics registry with process metrics and the node info', async () => {
    const agent = await startAgent(config(join(dir, 'f'), { name: 'metrics-node' }), {
      logger: silentLogger(),
    });
    try {
      const res = await fetch(`http://${agent.addresses.http}/metrics`, {
        signal: AbortSignal.timeout(5000),
      });
      const text = await res.text();
      assert.equal(res.status, 200);
      assert.match(text, /^process_cpu_user_seconds_total\{node="metrics-node"\}/m);
      assert.match(
        text,
        new RegExp(
          `cairn_node_info\\{node_id="${agent.identity.nodeId}",version="[^"]+",node="metrics-node"\\} 1`,
        ),
      );
    } finally {
      await agent.stop();
    }
  });
});
