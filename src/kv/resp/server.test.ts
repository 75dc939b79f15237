import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type Clock, systemClock } from '../../core/clock.js';
import { deferred } from '../../core/deferred.js';
import { ManualClock } from '../../core/manual-clock.js';
import { Rng } from '../../core/rng.js';
import { formatToken, mintToken } from '../../security/token.js';
import { MemoryKv } from '../memory-kv.js';
import type { KvApi, KvEntry } from '../types.js';
import { type RespServer, serveResp } from './server.js';

/**
 * The server over real sockets on 127.0.0.1: raw RESP (pipelining, RESP3, protocol errors,
 * limits), ioredis (every supported command) and redis-cli, each skipped with a reason when the
 * client is not installed.
 */

/** A raw client: writes bytes, reads until `done(received)` says the expected replies are in. */
class RawClient {
  private readonly chunks: Buffer[] = [];
  /** CRLFs received so far, counted as chunks arrive (a CR LF may straddle two chunks). */
  private crlfs = 0;
  private lastByte = -1;
  private waiter: (() => void) | undefined;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      this.chunks.push(c);
      if (this.lastByte === 0x0d && c[0] === 0x0a) this.crlfs++;
      for (let i = c.indexOf(0x0d); i >= 0 && i < c.length - 1; i = c.indexOf(0x0d, i + 1))
        if (c[i + 1] === 0x0a) this.crlfs++;
      this.lastByte = c[c.length - 1] ?? -1;
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => {});
  }

  static async open(port: number): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  /** Waits until the received text contains `count` CRLF-terminated lines, or the socket closes. */
  async lines(count: number): Promise<string[]> {
    while (this.crlfs < count && !this.closed) {
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
      this.waiter = undefined;
    }
    return this.text().split('\r\n').slice(0, count);
  }

  async untilClosed(): Promise<string> {
    while (!this.closed)
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    return this.text();
  }

  private text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  send(text: string | Buffer): void {
    this.socket.write(text);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A store whose GETs wait until the test releases them, in any order. */
class GatedKv extends MemoryKv {
  readonly gates = new Map<string, ReturnType<typeof deferred<void>>>();
  override async get(key: Uint8Array): Promise<KvEntry | undefined> {
    const name = Buffer.from(key).toString();
    const gate = deferred<void>();
    this.gates.set(name, gate);
    await gate.promise;
    return super.get(key);
  }
}

/** A store whose puts wait until the test resolves their gate (`held`, in call order). */
class SlowPuts extends MemoryKv {
  readonly held: ReturnType<typeof deferred<void>>[] = [];
  override async put(...args: Parameters<MemoryKv['put']>): Promise<void> {
    const gate = deferred<void>();
    this.held.push(gate);
    await gate.promise;
    return super.put(...args);
  }
}

async function withServer<T>(
  kv: KvApi,
  fn: (server: RespServer) => Promise<T>,
  extra: object = {},
): Promise<T> {
  const server = await serveResp({ kv, host: '127.0.0.1', port: 0, ...extra });
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

describe('serveResp over TCP', () => {
  it('answers pipelined commands in request order when the store finishes out of order', async () => {
    const kv = new GatedKv({ clock: systemClock });
    await withServer(kv, async (server) => {
      await kv.put(Buffer.from('a'), Buffer.from('1'));
      await kv.put(Buffer.from('b'), Buffer.from('2'));
      const c = await RawClient.open(server.port);
      c.send('GET a\r\nGET b\r\nPING\r\n');
      while (kv.gates.size < 2) await new Promise((r) => setImmediate(r));
      kv.gates.get('b')!.resolve();
      await new Promise((r) => setImmediate(r));
      kv.gates.get('a')!.resolve();
      assert.deepEqual(await c.lines(5), ['$1', '1', '$1', '2', '+PONG']);
      c.close();
    });
  });

  it('runs the commands of a pipeline on one key in the order sent (SET then GET reads the new value)', async () => {
    // Without ordering, the GET behind a held SET would read the old value.
    const kv = new SlowPuts({ clock: systemClock });
    await withServer(kv, async (server) => {
      const c = await RawClient.open(server.port);
      c.send('SET a new\r\nGET a\r\nGET b\r\n');
      while (kv.held.length < 1) await new Promise((r) => setImmediate(r));
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      kv.held[0]!.resolve();
      assert.deepEqual(await c.lines(4), ['+OK', '$3', 'new', '$-1']);
      c.close();
    });
  });

  it('orders a command that arrives while an earlier one on its key is still running', {
    timeout: 20_000,
  }, async () => {
    // The first SET runs alone (nothing in flight): its keys are indexed only when the next
    // commands arrive, in later packets.
    const kv = new SlowPuts({ clock: systemClock });
    await withServer(kv, async (server) => {
      const c = await RawClient.open(server.port);
      c.send('SET a 1\r\n');
      while (kv.held.length < 1) await new Promise((r) => setImmediate(r));
      c.send('SET b 2\r\n');
      while (kv.held.length < 2) await new Promise((r) => setImmediate(r));
      c.send('GET a\r\nDBSIZE\r\nGET b\r\nPING\r\n');
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      // GET a, DBSIZE and GET b wait; PING waits for nothing but answers in its turn.
      assert.equal(kv.held.length, 2);
      kv.held[1]!.resolve();
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      kv.held[0]!.resolve();
      assert.deepEqual(await c.lines(8), ['+OK', '+OK', '$1', '1', ':2', '$1', '2', '+PONG']);
      // Every gate released: a later command on the same key runs at once.
      c.send('SET a 3\r\n');
      while (kv.held.length < 3) await new Promise((r) => setImmediate(r));
      kv.held[2]!.resolve();
      c.send('GET a\r\n');
      assert.deepEqual((await c.lines(11)).slice(8), ['+OK', '$1', '3']);
      c.close();
    });
  });

  it('close writes the replies owed before closing connections', async () => {
    const kv = new GatedKv({ clock: systemClock });
    await kv.put(Buffer.from('a'), Buffer.from('1'));
    const server = await serveResp({ kv, host: '127.0.0.1', port: 0 });
    const c = await RawClient.open(server.port);
    c.send('GET a\r\n');
    while (kv.gates.size < 1) await new Promise((r) => setImmediate(r));
    const closed = server.close();
    kv.gates.get('a')!.resolve();
    assert.equal(await c.untilClosed(), '$1\r\n1\r\n');
    await closed;
  });

  it('speaks RESP3 after HELLO 3', async () => {
    await withServer(new MemoryKv({ clock: systemClock }), async (server) => {
      const c = await RawClient.open(server.port);
      c.send('*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\n');
      // %7, then seven pairs in 23 lines (bulk keys and values, integers for proto and id, *0).
      const lines = await c.lines(24 + 3);
      assert.equal(lines[0], '%7');
      assert.deepEqual(lines.slice(9, 11), ['$5', 'proto']);
      assert.equal(lines[11], ':3');
      assert.equal(lines[26], '_'); // GET of a missing key is RESP3's null
      c.close();
    });
  });

  it('answers a protocol error after the earlier replies, then closes', async () => {
    await withServer(new MemoryKv({ clock: systemClock }), async (server) => {
      const c = await RawClient.open(server.port);
      c.send('PING\r\n*1\r\n+x\r\nPING\r\n');
      assert.equal(await c.untilClosed(), "+PONG\r\n-ERR Protocol error: expected '$', got '+'\r\n");
      assert.equal(server.stats.protocolErrors, 1);
    });
  });

  it('QUIT replies OK and closes; later commands are not run', async () => {
    await withServer(new MemoryKv({ clock: systemClock }), async (server) => {
      const c = await RawClient.open(server.port);
      c.send('QUIT\r\nSET a 1\r\n');
      assert.equal(await c.untilClosed(), '+OK\r\n');
      const d = await RawClient.open(server.port);
      d.send('EXISTS a\r\n');
      assert.deepEqual(await d.lines(1), [':0']);
      d.close();
    });
  });

  it('refuses connections past maxConnections with Redis’s error', async () => {
    await withServer(
      new MemoryKv({ clock: systemClock }),
      async (server) => {
        const a = await RawClient.open(server.port);
        a.send('PING\r\n');
        await a.lines(1);
        const b = await RawClient.open(server.port);
        assert.equal(await b.untilClosed(), '-ERR max number of clients reached\r\n');
        a.close();
      },
      { limits: { maxConnections: 1 } },
    );
  });

  it('stops reading past maxInFlightPerConnection and answers everything once the store catches up', async () => {
    const kv = new GatedKv({ clock: systemClock });
    await withServer(
      kv,
      async (server) => {
        const c = await RawClient.open(server.port);
        let pipeline = '';
        for (let i = 0; i < 20; i++) pipeline += `GET k${i}\r\n`;
        c.send(pipeline);
        while (kv.gates.size < 4 || server.stats.readPauses === 0) await new Promise((r) => setImmediate(r));
        // Only four commands run; the rest wait unparsed until replies go out.
        for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
        assert.equal(kv.gates.size, 4);
        assert.equal(server.stats.commandsProcessed, 4);
        const released = new Set<string>();
        while (released.size < 20) {
          for (const [k, g] of kv.gates)
            if (!released.has(k)) {
              released.add(k);
              g.resolve();
            }
          await new Promise((r) => setImmediate(r));
        }
        assert.equal((await c.lines(20)).length, 20);
        c.close();
      },
      { limits: { maxInFlightPerConnection: 4 } },
    );
  });

  it('limits connections per remote address', async () => {
    await withServer(
      new MemoryKv({ clock: systemClock }),
      async (server) => {
        const a = await RawClient.open(server.port);
        a.send('PING\r\n');
        await a.lines(1);
        const b = await RawClient.open(server.port);
        assert.equal(await b.untilClosed(), '-ERR max number of clients reached\r\n');
        a.close();
        await once(a.socket, 'close');
        while (server.stats.connectionsOpen > 0) await new Promise((r) => setImmediate(r));
        const c = await RawClient.open(server.port);
        c.send('PING\r\n');
        assert.deepEqual(await c.lines(1), ['+PONG']);
        c.close();
      },
      { limits: { maxConnectionsPerAddress: 1 } },
    );
  });

  it('stops reading from a client that does not read its replies', async () => {
    const kv = new MemoryKv({ clock: systemClock });
    const value = Buffer.alloc(256 * 1024, 0x61);
    await kv.put(Buffer.from('big'), value);
    await withServer(
      kv,
      async (server) => {
        const c = await RawClient.open(server.port);
        c.socket.pause();
        const count = 40; // 10 MiB of replies
        c.send('GET big\r\n'.repeat(count));
        // Once more than maxPendingReplyBytes went to the socket, the server must stop taking commands.
        while (server.stats.bytesOut <= 1024 * 1024) await new Promise((r) => setImmediate(r));
        for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
        assert.ok(server.stats.commandsProcessed < count, `ran ${server.stats.commandsProcessed}`);
        c.socket.resume();
        const lines = await c.lines(count * 2);
        assert.equal(lines.length, count * 2);
        assert.equal(lines[count * 2 - 1]!.length, value.length);
        assert.equal(server.stats.commandsProcessed, count);
        c.close();
      },
      { limits: { maxPendingReplyBytes: 1024 * 1024, maxInFlightPerConnection: 8 } },
    );
  });

  it('closes idle connections', async () => {
    await withServer(
      new MemoryKv({ clock: systemClock }),
      async (server) => {
        const c = await RawClient.open(server.port);
        c.send('PING\r\n');
        assert.deepEqual(await c.lines(1), ['+PONG']);
        assert.equal(await c.untilClosed(), '+PONG\r\n');
      },
      { limits: { idleTimeoutMs: 50 } },
    );
  });

  it('keeps a connection whose command runs past the idle timeout, and a busy one', async () => {
    const kv = new GatedKv({ clock: systemClock });
    await kv.put(Buffer.from('a'), Buffer.from('1'));
    // The sweep runs on real timers but reads this clock: idle time passes only when the test says.
    const clock = new ManualClock();
    await withServer(
      kv,
      async (server) => {
        const sweep = async () => {
          const until = server.stats.idleSweeps + 1;
          while (server.stats.idleSweeps < until) await new Promise((r) => setTimeout(r, 5));
        };
        const held = await RawClient.open(server.port);
        const busy = await RawClient.open(server.port);
        const idle = await RawClient.open(server.port);
        held.send('GET a\r\n');
        while (kv.gates.size < 1) await new Promise((r) => setImmediate(r));
        // Eight idle timeouts pass with the GET in flight; the busy client sends within each one.
        for (let i = 1; i <= 8; i++) {
          clock.advance(40);
          busy.send('PING\r\n');
          assert.equal((await busy.lines(i)).length, i);
          await sweep();
        }
        assert.equal(await idle.untilClosed(), '');
        assert.equal(held.closed, false);
        assert.equal(busy.closed, false);
        kv.gates.get('a')!.resolve();
        assert.deepEqual(await held.lines(2), ['$1', '1']);
        // Once both are quiet for the idle timeout, the sweep closes them too.
        clock.advance(50);
        assert.equal(await held.untilClosed(), '$1\r\n1\r\n');
        assert.match(await busy.untilClosed(), /^(\+PONG\r\n){8}$/);
      },
      { limits: { idleTimeoutMs: 50 }, clock },
    );
  });

  it('survives random bytes on many connections and keeps serving', async () => {
    const seed = process.env.CAIRN_SEED === undefined ? Date.now() % 100_000 : Number(process.env.CAIRN_SEED);
    const rng = Rng.fromSeed(seed);
    await withServer(new MemoryKv({ clock: systemClock }), async (server) => {
      for (let i = 0; i < 20; i++) {
        const c = await RawClient.open(server.port);
        const pieces = ['*', '$', '\r\n', '3', '-1', 'SET', 'GET', ' ', '"', '\\x', '\0', 'a'];
        let junk = '';
        for (let j = 0; j < 200; j++) junk += pieces[rng.int(pieces.length)]!;
        c.send(junk);
        c.send(Buffer.from(Array.from({ length: 100 }, () => rng.int(256))));
        c.close();
      }
      const d = await RawClient.open(server.port);
      d.send('PING\r\n');
      assert.deepEqual(
        await d.lines(1),
        ['+PONG'],
        `seed=${seed}; replay: CAIRN_SEED=${seed} node --import tsx --test src/kv/resp/server.test.ts`,
      );
      d.close();
    });
  });

  it('requires AUTH with a token when auth is on', async () => {
    const root = new Uint8Array(32).fill(3);
    const token = formatToken(mintToken(root));
    await withServer(
      new MemoryKv({ clock: systemClock }),
      async (server) => {
        const c = await RawClient.open(server.port);
        c.send(`GET a\r\nAUTH ${token}\r\nGET a\r\n`);
        assert.deepEqual(await c.lines(3), ['-NOAUTH Authentication required.', '+OK', '$-1']);
        c.close();
        // Before AUTH, Redis 7's small limits apply.
        const d = await RawClient.open(server.port);
        d.send(`*1\r\n$${64 * 1024}\r\n`);
        assert.equal(await d.untilClosed(), '-ERR Protocol error: unauthenticated bulk length\r\n');
      },
      { auth: { rootKeys: [root], clock: systemClock } },
    );
  });
});

// ---- ioredis ----

/** The part of ioredis these tests use (loaded by name, so type checking does not need it). */
interface IoRedis {
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ...args: (string | number)[]): Promise<string | null>;
  del(...keys: string[]): Promise<number>;
  exists(...keys: string[]): Promise<number>;
  mget(...keys: string[]): Promise<(string | null)[]>;
  mset(...kv: string[]): Promise<string>;
  expire(key: string, s: number): Promise<number>;
  pexpire(key: string, ms: number): Promise<number>;
  ttl(key: string): Promise<number>;
  pttl(key: string): Promise<number>;
  persist(key: string): Promise<number>;
  dbsize(): Promise<number>;
  ping(): Promise<string>;
  echo(s: string): Promise<string>;
  select(db: number): Promise<string>;
  info(): Promise<string>;
  scan(cursor: string, ...args: (string | number)[]): Promise<[string, string[]]>;
  incr(key: string): Promise<number>;
  pipeline(): {
    set(k: string, v: string): unknown;
    get(k: string): unknown;
    exec(): Promise<[Error | null, unknown][]>;
  };
  client(sub: string, ...args: string[]): Promise<unknown>;
  config(sub: string, ...args: string[]): Promise<unknown>;
  quit(): Promise<string>;
  disconnect(): void;
}
type IoRedisCtor = new (options: Record<string, unknown>) => IoRedis;

const ioredisName = 'ioredis';
const ioredis: IoRedisCtor | undefined = await import(ioredisName)
  .then((m: { default: IoRedisCtor }) => m.default)
  .catch(() => undefined);

describe('serveResp with ioredis', {
  skip: ioredis === undefined ? 'ioredis is not installed' : false,
}, () => {
  let server: RespServer;
  let redis: IoRedis;
  const root = new Uint8Array(32).fill(5);
  before(async () => {
    server = await serveResp({
      kv: new MemoryKv({ clock: systemClock, name: 'n1' }),
      host: '127.0.0.1',
      port: 0,
      auth: { rootKeys: [root], clock: systemClock },
    });
    redis = new ioredis!({
      host: '127.0.0.1',
      port: server.port,
      password: formatToken(mintToken(root)),
      connectionName: 'tests',
      maxRetriesPerRequest: 0,
      lazyConnect: false,
    });
  });
  after(async () => {
    await redis.quit();
    await server.close();
  });

  it('runs every supported command', async () => {
    assert.equal(await redis.ping(), 'PONG');
    assert.equal(await redis.echo('hi'), 'hi');
    assert.equal(await redis.select(0), 'OK');
    assert.equal(await redis.set('a', '1'), 'OK');
    assert.equal(await redis.get('a'), '1');
    assert.equal(await redis.set('a', '2', 'NX'), null);
    assert.equal(await redis.set('a', '2', 'XX', 'GET'), '1');
    assert.equal(await redis.set('b', 'x', 'EX', 100), 'OK');
    assert.equal(await redis.ttl('b'), 100);
    assert.ok((await redis.pttl('b')) > 99_000);
    assert.equal(await redis.persist('b'), 1);
    assert.equal(await redis.ttl('b'), -1);
    assert.equal(await redis.expire('b', 50), 1);
    assert.equal(await redis.pexpire('b', 50_000), 1);
    assert.equal(await redis.mset('c', '3', 'd', '4'), 'OK');
    assert.deepEqual(await redis.mget('a', 'c', 'zz'), ['2', '3', null]);
    assert.equal(await redis.exists('a', 'zz', 'c'), 2);
    assert.equal(await redis.dbsize(), 4);
    const keys = new Set<string>();
    let cursor = '0';
    do {
      const [next, page] = await redis.scan(cursor, 'MATCH', '*', 'COUNT', 2);
      for (const k of page) keys.add(k);
      cursor = next;
    } while (cursor !== '0');
    assert.deepEqual([...keys].sort(), ['a', 'b', 'c', 'd']);
    assert.equal(await redis.del('a', 'c', 'zz'), 2);
    assert.equal(await redis.client('GETNAME'), 'tests');
    assert.equal(typeof (await redis.client('ID')), 'number');
    assert.deepEqual(await redis.config('GET', 'save'), ['save', '']);
    assert.match(await redis.info(), /loading:0/);
    assert.deepEqual(await redis.call('CAIRN', 'CONSISTENCY', 'ONE'), 'OK');
    assert.deepEqual(await redis.call('CAIRN', 'CONSISTENCY'), ['read', 'ONE', 'write', 'ONE']);
    assert.deepEqual(await redis.call('CAIRN', 'RING'), [1, [['n1', '', 'normal', ['0']]]]);
    await assert.rejects(redis.incr('a'), /INCR is not supported/);
    await assert.rejects(
      redis.call('NOSUCH', 'x'),
      /unknown command 'NOSUCH', with args beginning with: 'x'/,
    );
  });

  it('pipelines', async () => {
    const p = redis.pipeline();
    for (let i = 0; i < 100; i++) p.set(`p${i}`, String(i));
    for (let i = 0; i < 100; i++) p.get(`p${i}`);
    const results = await p.exec();
    assert.equal(results.length, 200);
    for (let i = 0; i < 100; i++) {
      assert.deepEqual(results[i], [null, 'OK']);
      assert.deepEqual(results[100 + i], [null, String(i)]);
    }
  });
});

// ---- redis-cli ----

const run = promisify(execFile);
const redisCli: boolean = await run('redis-cli', ['--version']).then(
  () => true,
  () => false,
);

describe('serveResp with redis-cli', { skip: redisCli ? false : 'redis-cli is not in PATH' }, () => {
  it('runs commands the way a user types them', async () => {
    // Time stands still for the store: each redis-cli is a process start, and under load the
    // half second that TTL's rounding allows between SET and TTL can pass.
    const start = systemClock.now();
    const frozen: Clock = {
      now: () => start,
      setTimer: (ms, fn) => systemClock.setTimer(ms, fn),
      cancel: (handle) => systemClock.cancel(handle),
    };
    await withServer(new MemoryKv({ clock: frozen }), async (server) => {
      const cli = async (...args: string[]) =>
        (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(server.port), ...args], { timeout: 10_000 }))
          .stdout;
      assert.equal(await cli('PING'), 'PONG\n');
      assert.equal(await cli('SET', 'k', 'hello world'), 'OK\n');
      assert.equal(await cli('GET', 'k'), 'hello world\n');
      assert.equal(await cli('SET', 'k2', 'v', 'EX', '60'), 'OK\n');
      assert.equal(await cli('TTL', 'k2'), '60\n');
      assert.equal(await cli('DBSIZE'), '2\n');
      assert.equal((await cli('--scan')).split('\n').filter(Boolean).sort().join(','), 'k,k2');
      assert.match(await cli('-3', 'HELLO', '3'), /proto\s3\n/);
      assert.match(await cli('INCR', 'k'), /INCR is not supported/);
      assert.equal(await cli('DEL', 'k', 'k2'), '2\n');
      assert.match(await cli('INFO', 'keyspace'), /# Keyspace/);
    });
  });
});
