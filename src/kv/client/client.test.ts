import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { systemClock } from '../../core/clock.js';
import { type Deferred, deferred } from '../../core/deferred.js';
import { isCairnError } from '../../core/errors.js';
import { ManualClock } from '../../core/manual-clock.js';
import { Rng } from '../../core/rng.js';
import { formatToken, mintToken } from '../../security/token.js';
import { isKvError, KvError } from '../errors.js';
import { MemoryKv } from '../memory-kv.js';
import { type RespServer, type RespServerOptions, serveResp } from '../resp/server.js';
import type { KvApi, KvEntry, KvReadOptions, KvScanPage, KvWriteOptions, RingInfo } from '../types.js';
import { KvClient } from './client.js';
import type { KvClientOptions } from './config.js';

/**
 * KvClient against the Redis front end (`serveResp`) over `MemoryKv` on 127.0.0.1: every call,
 * consistency per call, error mapping, AUTH, retries on unreachable nodes, timeouts, cancellation
 * and the bounded queue. The cluster tests (routing to replicas) are in client.cluster.test.ts.
 */

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());

/** A KvApi over MemoryKv that records the levels it is called with and can be told to misbehave. */
class ScriptedKv implements KvApi {
  readonly inner = new MemoryKv({ clock: systemClock });
  readonly levels: string[] = [];
  /** When set, get() throws it (or waits on it when it is a Deferred). */
  failGet: KvError | Deferred<void> | undefined;
  getCalls = 0;
  gotCall: Deferred<void> = deferred();
  ringOverride: RingInfo | undefined;
  resp: string | undefined;

  async get(key: Uint8Array, options?: KvReadOptions): Promise<KvEntry | undefined> {
    this.levels.push(`get ${options?.consistency}`);
    this.getCalls++;
    this.gotCall.resolve();
    const f = this.failGet;
    if (f instanceof KvError) throw f;
    if (f !== undefined) await f.promise;
    return this.inner.get(key, options);
  }
  put(key: Uint8Array, value: Uint8Array | undefined, options?: KvWriteOptions): Promise<void> {
    this.levels.push(`put ${options?.consistency}`);
    return this.inner.put(key, value, options);
  }
  scan(cursor: bigint, options: { count: number } & KvReadOptions): Promise<KvScanPage> {
    return this.inner.scan(cursor, options);
  }
  approximateSize(): Promise<number> {
    return this.inner.approximateSize();
  }
  ring(): RingInfo {
    if (this.ringOverride !== undefined) return this.ringOverride;
    const info = this.inner.ring();
    return this.resp === undefined
      ? info
      : { rf: info.rf, nodes: info.nodes.map((n) => ({ ...n, resp: this.resp! })) };
  }
}

const servers: RespServer[] = [];
const clients: KvClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
});

async function serve(kv: ScriptedKv, extra: Partial<RespServerOptions> = {}): Promise<RespServer> {
  const server = await serveResp({ kv, host: '127.0.0.1', port: 0, ...extra });
  servers.push(server);
  kv.resp = server.endpoint;
  return server;
}

async function client(options: KvClientOptions): Promise<KvClient> {
  const c = await KvClient.connect({ rng: Rng.fromSeed(1), ...options });
  clients.push(c);
  return c;
}

/** A port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function rejectsWith(
  p: Promise<unknown>,
  check: (err: unknown) => boolean,
  what: string,
): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    assert.ok(check(err), `${what}: got ${String(err)}`);
    return err;
  }
  assert.fail(`${what}: the call succeeded`);
}

describe('KvClient over serveResp and MemoryKv', () => {
  it('runs every call', async () => {
    const kv = new ScriptedKv();
    const server = await serve(kv);
    const c = await client({ nodes: [server.endpoint] });
    assert.equal(c.ring()?.nodes[0]?.resp, server.endpoint);
    await c.ping();
    assert.equal(await c.set('a', '1'), true);
    assert.equal(text(await c.get('a')), '1');
    assert.equal(await c.get('missing'), undefined);
    assert.equal(await c.set('a', '2', { nx: true }), false);
    assert.equal(await c.set('b', '2', { xx: true }), false);
    assert.equal(await c.set('b', '2', { nx: true }), true);
    assert.equal(await c.set('b', '3', { xx: true }), true);
    await c.mset([
      ['c', '3'],
      [Buffer.from([0, 255]), Buffer.from([1, 2, 3])],
    ]);
    assert.deepEqual(
      (await c.mget(['a', 'b', 'nope', 'c', Buffer.from([0, 255])])).map((v) =>
        v === undefined ? v : [...v],
      ),
      [[0x31], [0x33], undefined, [0x33], [1, 2, 3]],
    );
    assert.equal(await c.exists(['a', 'b', 'nope', 'a']), 3);
    assert.equal(await c.pttl('a'), -1);
    assert.equal(await c.pttl('nope'), -2);
    assert.equal(await c.expire('a', 60_000), true);
    assert.equal(await c.expire('nope', 60_000), false);
    const pttl = await c.pttl('a');
    assert.ok(pttl > 0 && pttl <= 60_000, String(pttl));
    assert.ok((await c.ttl('a')) >= 59);
    const entry = await c.entry('a');
    assert.equal(text(entry?.value), '1');
    assert.ok(entry?.expiresAt !== undefined && entry.expiresAt > Date.now());
    assert.equal(await c.persist('a'), true);
    assert.equal(await c.persist('a'), false);
    assert.deepEqual(await c.entry('a'), { value: Buffer.from('1') });
    const at = Date.now() + 3_600_000;
    assert.equal(await c.expireAt('b', at), true);
    assert.equal((await c.entry('b'))?.expiresAt !== undefined, true);
    await c.set('t', 'x', { ttlMs: 50_000 });
    assert.ok((await c.pttl('t')) > 0);
    await c.put('p', 'v', { expiresAt: at });
    assert.ok(Math.abs(((await c.entry('p'))?.expiresAt ?? 0) - at) < 5_000);
    await c.put('p', undefined);
    assert.equal(await c.get('p'), undefined);
    assert.equal(await c.del(['a', 'nope', 'c']), 2);
    assert.equal(await c.get('a'), undefined);
    assert.equal(await c.approximateSize(), 3);
    const keys: string[] = [];
    for await (const k of c.scan({ count: 2 })) keys.push(Buffer.from(k).toString('latin1'));
    assert.deepEqual(keys.sort(), ['\x00\xff', 'b', 't']);
    const matched: string[] = [];
    for await (const k of c.scan({ match: '[bt]' })) matched.push(Buffer.from(k).toString());
    assert.deepEqual(matched.sort(), ['b', 't']);
  });

  it('sends each call at its consistency, on connections set once per level pair', async () => {
    const kv = new ScriptedKv();
    const server = await serve(kv);
    const c = await client({ nodes: [server.endpoint], readConsistency: 'ONE' });
    await c.set('k', 'v');
    await c.get('k');
    await c.get('k', { consistency: 'ALL' });
    await c.set('k', 'w', { consistency: 'ALL' });
    await c.set('k', 'x', { consistency: 'ONE', nx: true });
    assert.deepEqual(kv.levels, ['put QUORUM', 'get ONE', 'get ALL', 'put ALL', 'get ONE']);
    // Lanes: ONE/QUORUM (the defaults), ALL/QUORUM, ONE/ALL and ONE/ONE, one connection each.
    assert.equal(server.stats.connectionsAccepted, 4);
  });

  it('maps error replies back to KvError codes', async () => {
    const kv = new ScriptedKv();
    const server = await serve(kv);
    const c = await client({ nodes: [server.endpoint] });
    kv.failGet = new KvError('TIMEOUT', 'only 1 of 2 replicas answered');
    const err = await rejectsWith(c.get('k'), (e) => isKvError(e, 'TIMEOUT'), 'TIMEOUT');
    assert.match((err as Error).message, /only 1 of 2 replicas answered/);
    kv.failGet = new KvError('UNAVAILABLE', 'two replicas are down');
    await rejectsWith(c.get('k'), (e) => isKvError(e, 'UNAVAILABLE'), 'UNAVAILABLE');
    kv.failGet = undefined;
    // MemoryKv refuses an empty key: -ERR ... -> INVALID_ARGUMENT.
    await rejectsWith(c.set('', 'v'), (e) => isKvError(e, 'INVALID_ARGUMENT'), 'empty key');
    await rejectsWith(
      c.set('k', 'v', { ttlMs: 5, expiresAt: 5 }),
      (e) => isKvError(e, 'INVALID_ARGUMENT'),
      'both ttls',
    );
    await rejectsWith(c.mget([]), (e) => isKvError(e, 'INVALID_ARGUMENT'), 'no keys');
  });

  it('authenticates with a token, and reports a refused one as DENIED', async () => {
    const root = new Uint8Array(32).fill(9);
    const kv = new ScriptedKv();
    const server = await serve(kv, { auth: { rootKeys: [root], clock: systemClock } });
    const c = await client({ nodes: [server.endpoint], token: formatToken(mintToken(root)) });
    await c.set('k', 'v');
    assert.equal(text(await c.get('k')), 'v');
    assert.equal(c.ring()?.nodes.length, 1);
    const other = formatToken(mintToken(new Uint8Array(32).fill(8)));
    await rejectsWith(
      KvClient.connect({ nodes: [server.endpoint], token: other }),
      (e) => isKvError(e, 'DENIED'),
      'forged',
    );
    await rejectsWith(
      KvClient.connect({ nodes: [server.endpoint] }),
      (e) => isKvError(e, 'DENIED'),
      'no token',
    );
  });

  it('goes to the next node when one cannot be reached, or refuses to coordinate', async () => {
    const kv = new ScriptedKv();
    const server = await serve(kv);
    const dead = `127.0.0.1:${await deadPort()}`;
    // Routing off: calls go to the seeds, in a random order.
    const c = await client({ nodes: [dead, server.endpoint], routing: false });
    for (let i = 0; i < 10; i++) await c.set(`k${i}`, 'v');
    assert.ok(c.stats().retries >= 1, JSON.stringify(c.stats()));
    const stopped = new ScriptedKv();
    const stoppedServer = await serve(stopped);
    stopped.failGet = new KvError('STOPPED', 'the node is stopping');
    const d = await client({ nodes: [stoppedServer.endpoint, server.endpoint], routing: false });
    for (let i = 0; i < 10; i++) assert.equal(text(await d.get(`k${i}`)), 'v');
    assert.ok(stopped.getCalls >= 1, 'the stopped node was tried');
    await rejectsWith(
      KvClient.connect({ nodes: [dead], connectTimeoutMs: 1000 }),
      (e) => isKvError(e, 'UNAVAILABLE'),
      'nothing reachable',
    );
  });

  it('times out a call that is not answered, closes that connection, and keeps working', async () => {
    const kv = new ScriptedKv();
    const server = await serve(kv);
    const clock = new ManualClock(Date.now());
    const c = await client({
      nodes: [server.endpoint],
      clock,
      requestTimeoutMs: 5_000,
      ringRefreshIntervalMs: 0,
    });
    await c.set('k', 'v');
    const hold = deferred<void>();
    kv.failGet = hold;
    kv.gotCall = deferred();
    const pending = c.get('k');
    await kv.gotCall.promise;
    clock.advance(5_000);
    await rejectsWith(pending, (e) => isKvError(e, 'TIMEOUT'), 'overdue read');
    assert.equal(kv.getCalls, 1, 'a read past its deadline is not sent again');
    kv.failGet = undefined;
    hold.resolve();
    assert.equal(text(await c.get('k')), 'v');
  });

  it('cancels a call when its signal aborts', async () => {
    const kv = new ScriptedKv();
    const server = await serve(kv);
    const c = await client({ nodes: [server.endpoint] });
    const hold = deferred<void>();
    kv.failGet = hold;
    kv.gotCall = deferred();
    const abort = new AbortController();
    const pending = c.get('k', { signal: abort.signal });
    await kv.gotCall.promise;
    abort.abort();
    await rejectsWith(pending, (e) => isCairnError(e, 'CANCELLED'), 'aborted');
    kv.failGet = undefined;
    hold.resolve();
    await rejectsWith(
      c.get('k', { signal: abort.signal }),
      (e) => isCairnError(e, 'CANCELLED'),
      'already aborted',
    );
    await c.set('k', 'v');
    assert.equal(text(await c.get('k')), 'v');
  });

  it('bounds calls in flight per connection and queued per node', async () => {
    const kv = new ScriptedKv();
    const server = await serve(kv);
    const c = await client({
      nodes: [server.endpoint],
      limits: { maxInFlightPerConnection: 4, connectionsPerLevel: 1, maxQueuedPerNode: 20 },
    });
    await c.set('k', 'v');
    const hold = deferred<void>();
    kv.failGet = hold;
    const calls = Array.from({ length: 40 }, () => c.get('k').then(text, (e: unknown) => e));
    // 4 in flight + 20 queued; the other 16 fail at once.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(c.stats().pools[server.endpoint]?.queued, 20);
    kv.failGet = undefined;
    hold.resolve();
    const results = await Promise.all(calls);
    assert.equal(results.filter((r) => r === 'v').length, 24);
    const refused = results.filter((r) => isKvError(r, 'UNAVAILABLE'));
    assert.equal(refused.length, 16);
    assert.match((refused[0] as Error).message, /maxQueuedPerNode/);
    // Many calls pipelined on one connection come back in order.
    const one = await client({ nodes: [server.endpoint], limits: { connectionsPerLevel: 1 } });
    const many = await Promise.all(
      Array.from({ length: 500 }, (_, i) => one.set(`m${i}`, `${i}`).then(() => one.get(`m${i}`))),
    );
    many.forEach((v, i) => {
      assert.equal(text(v), `${i}`);
    });
  });

  it('refuses a malformed ring and keeps serving through the seeds', async () => {
    const kv = new ScriptedKv();
    const server = await serve(kv);
    kv.ringOverride = { rf: 0, nodes: [] };
    const c = await client({ nodes: [server.endpoint] });
    assert.equal(c.ring(), undefined);
    assert.match(c.stats().lastRingProblem ?? '', /rf 0/);
    await c.set('k', 'v');
    kv.ringOverride = {
      rf: 1,
      nodes: [{ name: 'x', tokens: [5n], status: 'normal', resp: server.endpoint }],
    };
    assert.equal((await c.refreshRing())?.nodes[0]?.name, 'x');
    assert.equal(text(await c.get('k')), 'v');
  });
});
