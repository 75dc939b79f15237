import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createLogger, Metrics } from '../core/index.js';
import { localConfig } from '../membership/config.js';
import { Membership } from '../membership/driver/membership.js';
import { NodeIdentity } from '../security/identity.js';
import { NetTransport } from '../transport/net/net-transport.js';
import { buildHttpApp, type HealthReport } from './http.js';
import { isLoopback, type MemberJson, type MembersJson, memberToJson } from './members-http.js';

/** The `/v1` membership routes, through fastify's inject, on two real membership nodes on loopback. */

const health = (): HealthReport => ({
  status: 'ok',
  name: 'n',
  nodeId: 'x',
  shortId: 'x',
  version: '0',
  pid: 1,
  uptimeMs: 0,
  addresses: {},
  roles: {},
});

/** Log records the app writes, parsed. */
const logged: Array<{ level: number; msg: string; url?: string; status?: number }> = [];
const logSink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logged.push(JSON.parse(line));
    done();
  },
});

/** Resolves when `m` lists a member named `name` (on its join event; no polling), within 10 s. */
function memberJoined(m: Membership, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${name} did not join within 10 s`));
    }, 10_000);
    const off = m.on('join', (e) => {
      if (e.member.name !== name) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

async function node(name: string): Promise<{ m: Membership; t: NetTransport }> {
  const t = await NetTransport.create({ host: '127.0.0.1', port: 0 });
  const m = await Membership.create({
    identity: NodeIdentity.generate(),
    transport: t,
    name,
    protocol: localConfig(),
  });
  return { m, t };
}

describe('/v1 membership routes', () => {
  let a: { m: Membership; t: NetTransport };
  let b: { m: Membership; t: NetTransport };
  let app: FastifyInstance;
  let running = true;

  before(async () => {
    a = await node('alpha');
    b = await node('beta');
    const joined = memberJoined(a.m, 'beta');
    await b.m.join([a.t.localAddress]);
    await joined;
    app = buildHttpApp({
      logger: createLogger({ level: 'debug', destination: logSink }),
      metrics: new Metrics(),
      health,
      membership: () => (running ? a.m : undefined),
    });
  });
  after(async () => {
    await app.close();
    for (const n of [a, b]) {
      await n.m.shutdown();
      await n.t.close();
    }
  });

  const put = (key: string, body: unknown, remoteAddress = '127.0.0.1') =>
    app.inject({
      method: 'PUT',
      url: `/v1/local/${encodeURIComponent(key)}`,
      payload: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
      remoteAddress,
    });

  it('GET /v1/members lists the cluster as this node sees it, sorted by name', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/members' });
    assert.equal(res.statusCode, 200);
    const body = res.json<MembersJson>();
    assert.equal(body.node, a.m.id);
    assert.deepEqual(
      body.members.map((m) => [m.name, m.id, m.address, m.state, m.local]),
      [
        ['alpha', a.m.id, a.t.localAddress, 'alive', true],
        ['beta', b.m.id, b.t.localAddress, 'alive', false],
      ],
    );
    for (const m of body.members) {
      assert.equal(typeof m.incarnation, 'number');
      assert.ok(m.generation > 0);
      assert.deepEqual(m.metadata, {});
    }
  });

  it('GET /v1/members/:id returns one member, 404 for an unknown id', async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/members/${b.m.id}` });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json<MemberJson>().name, 'beta');
    const missing = await app.inject({ method: 'GET', url: '/v1/members/nosuchnode' });
    assert.equal(missing.statusCode, 404);
    assert.match(missing.json<{ error: string }>().error, /knows no member nosuchnode/);
  });

  it("PUT and DELETE /v1/local/:key set and delete this node's state (strings and base64 bytes)", async () => {
    const set = await put('role', { value: 'kv' });
    assert.equal(set.statusCode, 200, set.body);
    assert.deepEqual(set.json(), { key: 'role', value: 'kv' });
    assert.equal(a.m.local.get('role'), 'kv');

    const bytes = await put('blob', { value: { base64: 'AAEC/w==' } });
    assert.equal(bytes.statusCode, 200, bytes.body);
    assert.deepEqual(a.m.local.get('blob'), new Uint8Array([0, 1, 2, 255]));
    const self = await app.inject({ method: 'GET', url: `/v1/members/${a.m.id}` });
    assert.deepEqual(self.json<MemberJson>().metadata, { blob: { base64: 'AAEC/w==' }, role: 'kv' });

    const del = await app.inject({ method: 'DELETE', url: '/v1/local/blob' });
    assert.equal(del.statusCode, 200);
    assert.deepEqual(del.json(), { key: 'blob', deleted: true });
    assert.equal(a.m.local.get('blob'), undefined);
    const again = await app.inject({ method: 'DELETE', url: '/v1/local/blob' });
    assert.deepEqual(again.json(), { key: 'blob', deleted: false });
  });

  it('refuses writes from non-loopback clients with 403, before reading the body', async () => {
    const res = await put('role', { value: 'evil' }, '10.1.2.3');
    assert.equal(res.statusCode, 403);
    assert.match(res.json<{ error: string }>().error, /only from loopback/);
    const garbage = await put('role', '{not json', '192.168.0.9');
    assert.equal(garbage.statusCode, 403);
    const del = await app.inject({
      method: 'DELETE',
      url: '/v1/local/role',
      remoteAddress: '::ffff:10.0.0.1',
    });
    assert.equal(del.statusCode, 403);
    assert.equal(a.m.local.get('role'), 'kv', 'nothing changed');
  });

  it('answers 400 with a clear message for bad input', async () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['role', { value: 5 }, /"value" must be a string or \{ "base64": "\.\.\." \}/],
      ['role', {}, /"value" must be a string/],
      ['role', [1], /must be a JSON object/],
      ['role', { value: 'x', other: 1 }, /unknown field "other"/],
      ['role', { value: { base64: 'not base64!' } }, /value\.base64 is not valid base64/],
      ['role', { value: 'x'.repeat(513) }, /the value is 513 bytes; the limit is 512 bytes/],
      ['k'.repeat(129), { value: 'x' }, /the key is 129 bytes; the limit is 128 bytes/],
      ['a\u0001b', { value: 'x' }, /control characters/],
    ];
    for (const [key, body, pattern] of cases) {
      const res = await put(key, body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.match(res.json<{ error: string }>().error, pattern);
    }
    const invalidJson = await put('role', '{not json');
    assert.equal(invalidJson.statusCode, 400);
    assert.equal(a.m.local.get('role'), 'kv', 'nothing changed');
  });

  it('a blocking read (?index=) answers when the view changes, not before', async () => {
    const first = await app.inject({ method: 'GET', url: '/v1/members' });
    const index = Number(first.headers['x-cairn-index']);
    assert.ok(Number.isSafeInteger(index));
    let answered = false;
    const blocked = app
      .inject({ method: 'GET', url: `/v1/members?index=${index}&wait=20000` })
      .then((res) => {
        answered = true;
        return res;
      });
    // Another read in the meantime: the waiting one is still waiting, unless the view changed
    // (a member may turn suspect for a moment on a loaded machine: that is a change too).
    const between = await app.inject({ method: 'GET', url: '/v1/members' });
    assert.ok(!answered || Number(between.headers['x-cairn-index']) > index, 'answered without a change');
    a.m.local.set('watched', 'yes');
    let res = await blocked;
    assert.ok(Number(res.headers['x-cairn-index']) > index);
    // Follow the view as a client does until the write shows (bounded: one answer per change).
    for (
      let i = 0;
      i < 20 && res.json<MembersJson>().members.find((m) => m.local)?.metadata.watched !== 'yes';
      i++
    ) {
      res = await app.inject({
        method: 'GET',
        url: `/v1/members?index=${res.headers['x-cairn-index']}&wait=5000`,
      });
    }
    assert.equal(res.json<MembersJson>().members.find((m) => m.local)?.metadata.watched, 'yes');
    // An index that is not the current one answers at once; a short wait ends with the same index.
    assert.equal(
      (await app.inject({ method: 'GET', url: '/v1/members?index=0&wait=20000' })).statusCode,
      200,
    );
    const current = res.headers['x-cairn-index'];
    const timedOut = await app.inject({ method: 'GET', url: `/v1/members?index=${current}&wait=1` });
    assert.ok(Number(timedOut.headers['x-cairn-index']) >= Number(current));
    for (const query of ['index=-1', 'index=x', `index=${current}&wait=soon`]) {
      const bad = await app.inject({ method: 'GET', url: `/v1/members?${query}` });
      assert.equal(bad.statusCode, 400, query);
    }
  });

  it('logs refused requests (4xx) at debug, not error', async () => {
    logged.length = 0;
    const raw = await app.inject({
      method: 'PUT',
      url: '/v1/local/role\x1b[2J',
      payload: '{not json',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(raw.statusCode, 400);
    assert.equal((await put('role', { value: 'x'.repeat(20_000) })).statusCode, 413);
    const refused = logged.filter((r) => r.msg === 'HTTP request refused');
    assert.deepEqual(
      refused.map((r) => [r.level, r.status]),
      [
        [20, 400],
        [20, 413],
      ],
    );
    assert.equal(refused[0]!.url, '/v1/local/role%1B[2J');
    assert.deepEqual(
      logged.filter((r) => r.level >= 50),
      [],
      'nothing at error level',
    );
  });

  it('answers 503 while the membership role is not running', async () => {
    running = false;
    try {
      for (const [method, url] of [
        ['GET', '/v1/members'],
        ['GET', `/v1/members/${a.m.id}`],
        ['PUT', '/v1/local/role'],
      ] as const) {
        const res = await app.inject({
          method,
          url,
          ...(method === 'PUT' ? { payload: { value: 'x' } } : {}),
        });
        assert.equal(res.statusCode, 503, `${method} ${url}`);
        assert.match(res.json<{ error: string }>().error, /membership role is not running/);
      }
    } finally {
      running = true;
    }
  });
});

describe('members-http helpers', () => {
  it('isLoopback accepts 127/8, ::1 and mapped loopback only', () => {
    for (const ok of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopback(ok), ok);
    for (const no of [undefined, '', '10.0.0.1', '::ffff:10.0.0.1', '::2', '128.0.0.1', '0.0.0.0'])
      assert.ok(!isLoopback(no), String(no));
  });

  it('memberToJson marks bytes with base64 and sorts keys', () => {
    const json = memberToJson({
      id: 'id' as never,
      name: 'n',
      address: '127.0.0.1:1',
      state: 'suspect',
      incarnation: 2,
      generation: 3,
      metadata: { z: 'last', a: new Uint8Array([104, 105]) },
      local: false,
      stateSinceMs: 5,
    });
    assert.deepEqual(json, {
      id: 'id',
      name: 'n',
      address: '127.0.0.1:1',
      state: 'suspect',
      incarnation: 2,
      generation: 3,
      metadata: { a: { base64: 'aGk=' }, z: 'last' },
      local: false,
    });
    assert.deepEqual(Object.keys(json.metadata), ['a', 'z']);
  });
});
