/**
 * Redis tools against Cairn's partitioned store: an ioredis suite of our own covering every
 * supported command, redis-cli (commands, `--scan`, RESP3), a short redis-benchmark, and the
 * `cairn/kv` client, against `cairn dev --nodes 3 --roles membership,kv` (rf 3, QUORUM).
 *
 * Target: `CAIRN_RESP_ENDPOINTS` (comma-separated `host:port` of a running cluster's RESP ports)
 * or else a cluster started here (`bench/_cairn-kv.ts`). Skipped with a reason when `redis-cli` is
 * absent (Debian package redis-tools); the redis-benchmark test when that is.
 *
 * Run: node --import tsx --test test/e2e/kv-redis.test.ts
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { startCairnKv } from '../../bench/_cairn-kv.js';
import { KvClient } from '../../src/kv/client/index.js';
import { isKvError } from '../../src/kv/errors.js';

const redisCliMissing =
  spawnSync('redis-cli', ['--version']).status === 0
    ? undefined
    : 'no redis-cli on the PATH (Debian package redis-tools)';
const redisBenchmarkMissing =
  spawnSync('redis-benchmark', ['--version']).status === 0
    ? undefined
    : 'no redis-benchmark on the PATH (Debian package redis-tools)';
/** Longest one redis-cli or redis-benchmark command may take. */
const COMMAND_TIMEOUT_MS = 60_000;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], input?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: COMMAND_TIMEOUT_MS }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

function hostPort(endpoint: string): [string, string] {
  const sep = endpoint.lastIndexOf(':');
  return [endpoint.slice(0, sep), endpoint.slice(sep + 1)];
}

async function cli(endpoint: string, ...args: string[]): Promise<string> {
  const [host, port] = hostPort(endpoint);
  const r = await run('redis-cli', ['-h', host, '-p', port, ...args]);
  assert.equal(r.code, 0, `redis-cli ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

describe('Redis tools against cairn dev (3 nodes, kv)', () => {
  let endpoints: string[] = [];
  let stop: (() => Promise<void>) | undefined;
  const skip: string | undefined = redisCliMissing;
  const redis: Redis[] = [];
  const p = `e2e:${process.pid}:${Date.now()}:`;

  before(async () => {
    if (skip !== undefined) return;
    const given = process.env.CAIRN_RESP_ENDPOINTS;
    if (given !== undefined && given !== '') {
      endpoints = given.split(',');
      return;
    }
    const cluster = await startCairnKv({ nodes: 3 });
    endpoints = cluster.endpoints;
    stop = cluster.stop;
  });
  after(async () => {
    for (const r of redis) r.disconnect();
    await stop?.();
  });

  function connect(index = 0): Redis {
    const [host, port] = hostPort(endpoints[index]!);
    const r = new Redis({ host, port: Number(port), maxRetriesPerRequest: 0, connectionName: 'e2e' });
    redis.push(r);
    return r;
  }

  const test = (title: string, fn: () => Promise<void>, reason?: string) =>
    it(title, async (t) => {
      if (skip !== undefined || reason !== undefined) {
        t.skip(skip ?? reason);
        return;
      }
      await fn();
    });

  test('ioredis: connection and server commands', async () => {
    const r = connect();
    assert.equal(await r.ping(), 'PONG');
    assert.equal(await r.echo('hi'), 'hi');
    assert.equal(await r.select(0), 'OK');
    await assert.rejects(r.select(1), /DB index is out of range/);
    const hello = (await r.call('HELLO', '2')) as unknown[];
    assert.ok(Array.isArray(hello) && hello.includes('proto') && hello.includes(2), JSON.stringify(hello));
    assert.equal(await r.client('SETNAME', 'renamed'), 'OK');
    assert.equal(await r.client('GETNAME'), 'renamed');
    assert.equal(typeof (await r.client('ID')), 'number');
    const commands = (await r.call('COMMAND', 'COUNT')) as number;
    assert.ok(commands >= 30, String(commands));
    const list = (await r.call('COMMAND')) as unknown[][];
    assert.ok(list.some((c) => c[0] === 'get'));
    const docs = (await r.call('COMMAND', 'DOCS', 'GET')) as unknown[];
    assert.equal(docs[0], 'get');
    const info = await r.info();
    assert.match(info, /# Server/);
    assert.match(info, /ring_rf:3/);
    assert.deepEqual(await r.config('GET', 'appendonly'), ['appendonly', 'no']);
    assert.equal(typeof (await r.dbsize()), 'number');
    await assert.rejects(
      r.call('NOSUCHCOMMAND', 'a'),
      /ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'a'/i,
    );
    await assert.rejects(r.incr(`${p}n`), /ERR INCR is not supported/);
  });

  test('ioredis: data commands through every node', async () => {
    const [a, b, c] = [connect(0), connect(1), connect(2)];
    assert.equal(await a.set(`${p}a`, '1'), 'OK');
    assert.equal(await b.get(`${p}a`), '1');
    assert.equal(await c.set(`${p}a`, '2', 'NX'), null);
    assert.equal(await c.set(`${p}a`, '2', 'XX', 'GET'), '1');
    assert.equal(await a.get(`${p}a`), '2');
    assert.equal(await a.set(`${p}b`, 'x', 'EX', 100), 'OK');
    assert.ok((await b.ttl(`${p}b`)) > 95);
    assert.equal(await b.set(`${p}px`, 'y', 'PX', 100_000), 'OK');
    assert.ok((await c.pttl(`${p}px`)) > 95_000);
    assert.equal(await c.persist(`${p}b`), 1);
    assert.equal(await a.ttl(`${p}b`), -1);
    assert.equal(await a.ttl(`${p}none`), -2);
    assert.equal(await a.expire(`${p}b`, 50), 1);
    assert.equal(await b.pexpire(`${p}b`, 50_000), 1);
    assert.ok((await c.pttl(`${p}b`)) > 45_000);
    assert.equal(await a.mset(`${p}c`, '3', `${p}d`, '4'), 'OK');
    assert.deepEqual(await b.mget(`${p}a`, `${p}c`, `${p}zz`), ['2', '3', null]);
    assert.equal(await c.exists(`${p}a`, `${p}zz`, `${p}c`), 2);
    assert.equal(await a.del(`${p}a`, `${p}c`, `${p}zz`), 2);
    assert.equal(await b.get(`${p}a`), null);
    assert.equal(await b.exists(`${p}c`), 0);
    const keys = new Set<string>();
    let cursor = '0';
    for (let i = 0; i < 10_000; i++) {
      const [next, page] = await c.scan(cursor, 'MATCH', `${p}*`, 'COUNT', 5);
      for (const k of page) keys.add(k);
      cursor = next;
      if (cursor === '0') break;
    }
    assert.equal(cursor, '0');
    assert.deepEqual([...keys].sort(), [`${p}b`, `${p}d`, `${p}px`]);
  });

  test('ioredis: CAIRN CONSISTENCY per connection, and pipelining', async () => {
    const r = connect(1);
    assert.deepEqual(await r.call('CAIRN', 'CONSISTENCY'), ['read', 'QUORUM', 'write', 'QUORUM']);
    assert.equal(await r.call('CAIRN', 'CONSISTENCY', 'READ', 'ONE', 'WRITE', 'ALL'), 'OK');
    assert.deepEqual(await r.call('CAIRN', 'CONSISTENCY'), ['read', 'ONE', 'write', 'ALL']);
    await assert.rejects(r.call('CAIRN', 'CONSISTENCY', 'SOME'), /ERR/);
    assert.equal(await r.set(`${p}all`, 'v'), 'OK');
    assert.equal(await r.get(`${p}all`), 'v');
    const ring = (await r.call('CAIRN', 'RING')) as [number, [string, string, string, string[]][]];
    assert.equal(ring[0], 3);
    assert.equal(ring[1].length, 3);
    // Pipelined commands run concurrently on the server (replies keep their order): unlike
    // Redis, a GET pipelined behind a SET of the same key may run first. So the writes go in
    // one pipeline and the reads in the next.
    const writes = r.pipeline();
    for (let i = 0; i < 200; i++) writes.set(`${p}pipe:${i}`, String(i));
    const written = (await writes.exec())!;
    assert.equal(written.length, 200);
    for (const w of written) assert.deepEqual(w, [null, 'OK']);
    const reads = r.pipeline();
    for (let i = 0; i < 200; i++) reads.get(`${p}pipe:${i}`);
    const read = (await reads.exec())!;
    assert.deepEqual(
      read.map((x) => x[1]),
      Array.from({ length: 200 }, (_, i) => String(i)),
    );
  });

  test('redis-cli: set, get, del, scan, --scan and RESP3', async () => {
    const ep = endpoints[2]!;
    assert.equal(await cli(ep, 'set', `${p}cli`, 'hello world'), 'OK\n');
    assert.equal(await cli(ep, 'get', `${p}cli`), 'hello world\n');
    assert.equal(await cli(ep, 'set', `${p}cli2`, '2'), 'OK\n');
    const scanned = (await cli(ep, '--scan', '--pattern', `${p}cli*`)).split('\n').filter((l) => l !== '');
    assert.deepEqual(scanned.sort(), [`${p}cli`, `${p}cli2`]);
    const page = await cli(ep, 'scan', '0', 'match', `${p}cli*`, 'count', '1000');
    assert.match(page, /^\d+\n/);
    assert.equal(await cli(ep, 'del', `${p}cli`, `${p}cli2`), '2\n');
    assert.equal(await cli(ep, 'get', `${p}cli`), '\n');
    const hello3 = await cli(ep, '-3', 'hello', '3');
    assert.match(hello3, /proto/);
    assert.match(hello3, /3/);
    assert.match(await cli(ep, 'incr', `${p}n`), /INCR is not supported/);
  });

  test(
    'redis-benchmark: a short SET/GET run completes without errors',
    async () => {
      const [host, port] = hostPort(endpoints[0]!);
      const r = await run('redis-benchmark', [
        '-h',
        host,
        '-p',
        port,
        '-n',
        '2000',
        '-t',
        'set,get',
        '-r',
        '1000',
        '--csv',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /"SET","[0-9.]+"/);
      assert.match(r.stdout, /"GET","[0-9.]+"/);
      assert.doesNotMatch(r.stderr, /Error from server/);
    },
    redisBenchmarkMissing,
  );

  test('cairn/kv client: routed calls over the cluster', async () => {
    const client = await KvClient.connect({ nodes: [endpoints[0]!] });
    try {
      assert.equal(client.ring()?.nodes.length, 3);
      for (let i = 0; i < 30; i++) await client.set(`${p}client:${i}`, `c${i}`, { ttlMs: 600_000 });
      const values = await client.mget(Array.from({ length: 30 }, (_, i) => `${p}client:${i}`));
      values.forEach((v, i) => {
        assert.equal(Buffer.from(v!).toString(), `c${i}`);
      });
      assert.ok((await client.pttl(`${p}client:0`)) > 0);
      assert.equal(await client.del([`${p}client:0`, `${p}client:1`], { consistency: 'ALL' }), 2);
      assert.equal(await client.get(`${p}client:0`, { consistency: 'ALL' }), undefined);
      const seen = new Set<string>();
      for await (const k of client.scan({ match: `${p}client:*` })) seen.add(Buffer.from(k).toString());
      assert.equal(seen.size, 28);
      await assert.rejects(client.set('', 'x'), (e) => isKvError(e, 'INVALID_ARGUMENT'));
    } finally {
      client.close();
    }
  });
});
