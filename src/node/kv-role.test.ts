import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { isCairnError, silentLogger } from '../core/index.js';
import { parseKey } from '../security/key-set.js';
import { attenuate, formatToken, mintToken } from '../security/token.js';
import { type Agent, defaultRoles, startAgent } from './agent.js';
import { type AgentConfig, buildAgentConfig, envLayer, flagLayer } from './config.js';
import type { KvRingJson, KvStatusJson } from './kv-http.js';
import { KvRole } from './kv-role.js';

/**
 * The kv role in one in-process agent (membership + kv, replication factor 1, a node alone): RESP
 * on the bound port with tokens, the `/v1/kv` routes, health counts and metrics; and the refusals
 * (no membership, RESP beyond loopback without token root keys).
 */

const ROOT_KEY = Buffer.alloc(32, 7).toString('base64');

function config(
  dataDir: string,
  flags: Record<string, string> = {},
  env: NodeJS.ProcessEnv = {},
): AgentConfig {
  return buildAgentConfig([
    envLayer(env),
    flagLayer({
      'data-dir': dataDir,
      'http-port': '0',
      'gossip-port': '0',
      'resp-port': '0',
      roles: 'membership,kv',
      'kv-replication-factor': '1',
      'kv-tokens': '8',
      ...flags,
    }),
  ]);
}

async function http<T>(
  agent: Agent,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://${agent.addresses.http}${path}`, {
    ...init,
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, body: (await res.json()) as T };
}

describe('kv role (in process)', () => {
  let dir: string;
  let agent: Agent;
  const token = formatToken(mintToken(parseKey(ROOT_KEY)));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-kv-role-'));
    agent = await startAgent(
      config(join(dir, 'a'), { 'kv-read-consistency': 'ONE' }, { CAIRN_TOKEN_ROOT_KEYS: ROOT_KEY }),
      {
        logger: silentLogger(),
        processMetrics: false,
      },
    );
  });

  after(async () => {
    await agent.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves RESP on the bound port; with token root keys a connection must AUTH first', async () => {
    assert.match(agent.addresses.resp ?? '', /^127\.0\.0\.1:[1-9]\d*$/);
    const port = Number(agent.addresses.resp!.split(':')[1]);
    const redis = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on('error', () => {});
    try {
      await redis.connect();
      await assert.rejects(redis.set('k', 'v'), /^ReplyError: NOAUTH/);
      assert.equal(await redis.call('AUTH', token), 'OK');
      assert.equal(await redis.set('k', 'v'), 'OK');
      assert.equal(await redis.get('k'), 'v');
      // A connection starts with the node's configured levels.
      assert.deepEqual(await redis.call('CAIRN', 'CONSISTENCY'), ['read', 'ONE', 'write', 'QUORUM']);
    } finally {
      redis.disconnect();
    }
  });

  it('GET /v1/kv/status and /v1/kv/ring show the node normal with its tokens', async () => {
    const { status, body } = await http<KvStatusJson>(agent, '/v1/kv/status');
    assert.equal(status, 200);
    assert.equal(body.status, 'normal');
    assert.equal(body.tokens.length, 8);
    assert.equal(body.rf, 1);
    assert.equal(body.resp, agent.addresses.resp);
    assert.ok(body.coordinator.writes >= 1);
    const ring = await http<KvRingJson>(agent, '/v1/kv/ring');
    assert.equal(ring.status, 200);
    assert.deepEqual(
      ring.body.nodes.map((n) => [n.name, n.status, n.tokens]),
      [[agent.name, 'normal', body.tokens]],
    );
  });

  it('refuses to decommission the only node (409, with the reason), from loopback without a token', async () => {
    const { status, body } = await http<{ error: string }>(agent, '/v1/kv/decommission', { method: 'POST' });
    assert.equal(status, 409);
    assert.match(body.error, /cannot decommission/);
    const after = await http<KvStatusJson>(agent, '/v1/kv/status');
    assert.equal(after.body.status, 'normal');
    assert.equal(after.body.decommission, undefined);
  });

  it('POST /v1/kv/removenode checks its body (400) and answers a refusal with the reason (409)', async () => {
    for (const body of ['{}', '{"node": 3}', '{"node": ""}', JSON.stringify({ node: 'x'.repeat(300) })]) {
      const { status, body: answer } = await http<{ error: string }>(agent, '/v1/kv/removenode', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      assert.equal(status, 400, body);
      assert.match(answer.error, /"node"/);
    }
    const refuse = async (node: string, why: RegExp) => {
      const { status, body } = await http<{ error: string }>(agent, '/v1/kv/removenode', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ node }),
      });
      assert.equal(status, 409, node);
      assert.match(body.error, why);
    };
    await refuse(agent.name, /cannot remove itself/);
    await refuse('nobody', /not on the ring/);
    const after = await http<KvStatusJson>(agent, '/v1/kv/status');
    assert.equal(after.body.removal, undefined);
  });

  it('reports health counts and kv metrics', async () => {
    const health = agent.health().roles.kv;
    assert.equal(health?.state, 'running');
    assert.equal(health?.detail, 'normal');
    assert.equal(health?.counts?.ringNodes, 1);
    assert.equal(health?.counts?.tokens, 8);
    const text = await agent.metrics.text();
    assert.match(text, /cairn_kv_requests_total\{[^}]*op="put"[^}]*\} [1-9]/);
    assert.match(text, /cairn_kv_read_repairs_total\{[^}]*\} 0/);
    assert.match(text, /cairn_kv_ring_status\{status="normal"[^}]*\} 1/);
    assert.match(text, /cairn_kv_hints_total\{event="stored"/);
  });
});

describe('kv role refusals', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-kv-refuse-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the /v1/kv routes answer 503 on a node without the kv role', async () => {
    const agent = await startAgent(config(join(dir, 'nokv'), { roles: 'membership' }), {
      logger: silentLogger(),
      processMetrics: false,
    });
    try {
      assert.equal(agent.addresses.resp, undefined);
      for (const [path, method] of [
        ['/v1/kv/status', 'GET'],
        ['/v1/kv/ring', 'GET'],
        ['/v1/kv/decommission', 'POST'],
        ['/v1/kv/removenode', 'POST'],
      ] as const) {
        const { status, body } = await http<{ error: string }>(agent, path, { method });
        assert.equal(status, 503, path);
        assert.match(body.error, /runs no kv role/);
      }
    } finally {
      await agent.stop();
    }
  });

  it('refuses to start without the membership role, saying why', async () => {
    await assert.rejects(
      startAgent(config(join(dir, 'lonely'), { roles: 'kv' }), {
        logger: silentLogger(),
        processMetrics: false,
      }),
      /the kv role needs the membership role/,
    );
  });

  it('refuses RESP beyond loopback without token root keys, before anything binds', async () => {
    const role = new KvRole(config(join(dir, 'open'), { 'bind-host': '0.0.0.0' }));
    await assert.rejects(
      role.start({
        config: config(join(dir, 'open')),
        name: 'n',
        identity: undefined as never,
        logger: silentLogger(),
        metrics: undefined as never,
        signal: new AbortController().signal,
        started: [],
      }),
      (err: unknown) =>
        isCairnError(err, 'AGENT_START_FAILED') && /beyond loopback.*tokenRootKeys/.test(err.message),
    );
    assert.equal(role.health().state, 'failed');
  });

  it('with root keys, a decommission from afar needs a token allowing kv:decommission at audience http', async () => {
    const cfg = config(join(dir, 'keys'), {}, { CAIRN_TOKEN_ROOT_KEYS: ROOT_KEY });
    const role = new KvRole(cfg);
    const agent = await startAgent(cfg, {
      logger: silentLogger(),
      processMetrics: false,
      roles: defaultRoles().register('kv', () => role),
    });
    try {
      const root = parseKey(ROOT_KEY);
      const deny = (t: string | undefined) => role.httpSource().tokenDenial(t, 'kv:decommission');
      assert.equal(deny(formatToken(mintToken(root))), undefined);
      assert.equal(
        deny(formatToken(attenuate(mintToken(root), [{ type: 'ops', ops: ['kv:decommission'] }]))),
        undefined,
      );
      assert.match(
        deny(formatToken(attenuate(mintToken(root), [{ type: 'ops', ops: ['kv:read'] }]))) ?? '',
        /does not allow/,
      );
      assert.match(deny(formatToken(mintToken(Buffer.alloc(32, 9)))) ?? '', /does not verify/);
      assert.match(deny(undefined) ?? '', /token is required/);
      assert.match(deny('garbage') ?? '', /./);
      // Removing another node is a separate operation: a decommission-only token does not allow it.
      const decommissionOnly = formatToken(
        attenuate(mintToken(root), [{ type: 'ops', ops: ['kv:decommission'] }]),
      );
      assert.match(role.httpSource().tokenDenial(decommissionOnly, 'kv:removenode') ?? '', /does not allow/);
      const removeOnly = formatToken(attenuate(mintToken(root), [{ type: 'ops', ops: ['kv:removenode'] }]));
      assert.equal(role.httpSource().tokenDenial(removeOnly, 'kv:removenode'), undefined);
    } finally {
      await agent.stop();
    }
  });
});
