import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { ManualClock, settle } from './manual-clock.test-helper.js';
import { MdnsDiscovery, type MdnsQuestion, type MdnsRecord, type MdnsSocket } from './mdns.js';

/** An in-memory multicast segment: every packet reaches every socket, the sender included. */
class FakeBus {
  readonly sockets = new Set<FakeSocket>();
  socket(): FakeSocket {
    const s = new FakeSocket(this);
    this.sockets.add(s);
    return s;
  }
  deliver(event: 'query' | 'response', packet: unknown): void {
    for (const s of [...this.sockets])
      s.emit(event, structuredClone(packet), { address: '127.0.0.1', port: 5353 });
  }
}

class FakeSocket extends EventEmitter implements MdnsSocket {
  queries = 0;
  responses: { answers: MdnsRecord[]; additionals?: MdnsRecord[] }[] = [];
  destroyed = false;
  constructor(private readonly bus: FakeBus) {
    super();
  }
  query(packet: { questions: MdnsQuestion[] }): void {
    this.queries++;
    this.bus.deliver('query', { type: 'query', ...packet });
  }
  respond(
    packet: { answers: MdnsRecord[]; additionals?: MdnsRecord[] },
    callback?: (err: Error | null) => void,
  ): void {
    this.responses.push(packet);
    this.bus.deliver('response', { type: 'response', additionals: [], ...packet });
    callback?.(null);
  }
  destroy(callback?: () => void): void {
    this.destroyed = true;
    this.bus.sockets.delete(this);
    callback?.();
  }
}

function node(
  bus: FakeBus,
  clock: ManualClock,
  port: number | undefined,
  extra: Partial<ConstructorParameters<typeof MdnsDiscovery>[0]> = {},
) {
  const socket = bus.socket();
  const provider = new MdnsDiscovery({
    service: 'test',
    clock,
    socket,
    answerWaitMs: 500,
    ...(port === undefined ? {} : { advertise: { host: '127.0.0.1', port } }),
    ...extra,
  });
  return { socket, provider };
}

describe('MdnsDiscovery on an in-memory multicast bus', () => {
  it('finds the other nodes (SRV + A) and never itself', async () => {
    const bus = new FakeBus();
    const clock = new ManualClock();
    const a = node(bus, clock, 7001);
    const b = node(bus, clock, 7002);
    const c = node(bus, clock, 7003);
    for (const n of [a, b, c]) n.provider.start();
    assert.deepEqual((await a.provider.discover()).sort(), ['127.0.0.1:7002', '127.0.0.1:7003']);
    assert.deepEqual((await c.provider.discover()).sort(), ['127.0.0.1:7001', '127.0.0.1:7002']);
    const srv = a.socket.responses[0]?.answers[0];
    assert.equal(srv?.name, 'test._cairn._udp.local');
    assert.deepEqual(srv?.data, {
      priority: 0,
      weight: 0,
      port: 7001,
      target: '127-0-0-1-7001.test._cairn._udp.local',
    });
    assert.deepEqual(a.socket.responses[0]?.additionals?.[0]?.data, '127.0.0.1');
    for (const n of [a, b, c]) n.provider.close();
  });

  it('answers queries only when advertising, and a browser finds advertisers', async () => {
    const bus = new FakeBus();
    const clock = new ManualClock();
    const browser = node(bus, clock, undefined);
    const server = node(bus, clock, 7001);
    server.provider.start();
    assert.deepEqual(await browser.provider.discover(), ['127.0.0.1:7001']);
    assert.equal(browser.socket.responses.length, 0);
    browser.provider.close();
    server.provider.close();
  });

  it('waits up to answerWaitMs for a first answer, on the clock', async () => {
    const bus = new FakeBus();
    const clock = new ManualClock();
    const lonely = node(bus, clock, 7001);
    let result: string[] | undefined;
    void lonely.provider.discover().then((r) => {
      result = r;
    });
    await settle();
    assert.equal(result, undefined, 'still waiting');
    clock.advance(500);
    await settle();
    assert.deepEqual(result, []);
    // A late joiner's announcement wakes a waiting discover() at once.
    let second: string[] | undefined;
    void lonely.provider.discover().then((r) => {
      second = r;
    });
    await settle();
    const late = node(bus, clock, 7002);
    late.provider.start();
    await settle();
    assert.deepEqual(second, ['127.0.0.1:7002']);
    lonely.provider.close();
    late.provider.close();
  });

  it('queries periodically and forgets peers whose TTL ran out, notifying listeners', async () => {
    const bus = new FakeBus();
    const clock = new ManualClock();
    const a = node(bus, clock, 7001, { queryIntervalMs: 10_000 });
    const b = node(bus, clock, 7002, { recordTtlSeconds: 30, queryIntervalMs: 10_000 });
    const changes: (readonly string[])[] = [];
    a.provider.onChange((list) => changes.push(list));
    b.provider.start();
    await settle();
    assert.deepEqual(changes, [['127.0.0.1:7002']]);
    const before = a.socket.queries;
    clock.advance(30_000);
    assert.equal(a.socket.queries, before + 3);
    // b answered each query, so its record stays fresh. Now b goes silent without a goodbye.
    bus.sockets.delete(b.socket);
    clock.advance(30_000);
    await settle();
    assert.deepEqual(changes.at(-1), []);
    const pending = a.provider.discover();
    clock.advance(500);
    assert.deepEqual(await pending, []);
    a.provider.close();
    b.provider.close();
  });

  it('forgets a node that says goodbye (TTL 0) on close', async () => {
    const bus = new FakeBus();
    const clock = new ManualClock();
    const a = node(bus, clock, 7001);
    const b = node(bus, clock, 7002);
    a.provider.start();
    b.provider.start();
    assert.deepEqual(await a.provider.discover(), ['127.0.0.1:7002']);
    b.provider.close();
    assert.equal(b.socket.destroyed, true);
    assert.deepEqual(b.socket.responses.at(-1)?.answers[0]?.ttl, 0);
    const pending = a.provider.discover();
    clock.advance(500);
    assert.deepEqual(await pending, []);
    a.provider.close();
  });

  it('advertises IPv6 with AAAA and a DNS name with no address record', async () => {
    const bus = new FakeBus();
    const clock = new ManualClock();
    const v6 = node(bus, clock, undefined, { advertise: { host: 'fd00::7', port: 7001 } });
    const named = node(bus, clock, undefined, { advertise: { host: 'node-9.example.com', port: 7002 } });
    const browser = node(bus, clock, undefined);
    v6.provider.start();
    named.provider.start();
    assert.equal(v6.socket.responses[0]?.additionals?.[0]?.type, 'AAAA');
    assert.equal(named.socket.responses[0]?.additionals?.length, 0);
    assert.deepEqual((await browser.provider.discover()).sort(), [
      '[fd00::7]:7001',
      'node-9.example.com:7002',
    ]);
    for (const n of [v6, named, browser]) n.provider.close();
  });

  it('counts and ignores malformed packets and records', async () => {
    const bus = new FakeBus();
    const clock = new ManualClock();
    const a = node(bus, clock, 7001);
    a.provider.start();
    const name = 'test._cairn._udp.local';
    const junk: unknown[] = [
      null,
      'text',
      { answers: 'not an array' },
      { answers: [null, 7, { name, type: 'SRV', ttl: 120, data: null }] },
      { answers: [{ name, type: 'SRV', ttl: 120, data: { port: 0, target: 'x.local' } }] },
      { answers: [{ name, type: 'SRV', ttl: -1, data: { port: 7, target: 'h.example.com' } }] },
      { answers: [{ name, type: 'SRV', ttl: 120, data: { port: 7, target: 'unresolved.local' } }] },
      {
        answers: [{ name, type: 'SRV', ttl: 120, data: { port: 7, target: 'h.local' } }],
        additionals: [{ name: 'h.local', type: 'A', ttl: 120, data: '999.1.1.1' }],
      },
      { questions: 'nope' },
    ];
    for (const packet of junk) {
      a.socket.emit('response', packet);
      a.socket.emit('query', packet);
    }
    a.socket.emit('warning', new Error('Header must be 12 bytes'));
    a.socket.emit(
      'error',
      Object.assign(new Error('bind EADDRINUSE'), { syscall: 'bind', code: 'EADDRINUSE' }),
    );
    const stats = a.provider.stats();
    assert.equal(stats.malformed, 8);
    assert.equal(stats.failures, 1);
    assert.equal(stats.refreshes, 0);
    const pending = a.provider.discover();
    clock.advance(500);
    assert.deepEqual(await pending, []);
    a.provider.close();
  });

  it('rejects new peers over maxMdnsPeers and keeps the known ones', async () => {
    const bus = new FakeBus();
    const clock = new ManualClock();
    const a = node(bus, clock, undefined, { limits: { maxMdnsPeers: 2 } });
    a.provider.start();
    const others = [7001, 7002, 7003].map((port) => node(bus, clock, port));
    for (const o of others) o.provider.start();
    assert.deepEqual(await a.provider.discover(), ['127.0.0.1:7001', '127.0.0.1:7002']);
    // 7003 is turned away on its announcement and again on its answer to its own query.
    assert.equal(a.provider.stats().overLimit, 2);
    for (const n of [a, ...others]) n.provider.close();
  });

  it('caps record TTLs at maxMdnsTtlSeconds', async () => {
    const bus = new FakeBus();
    const clock = new ManualClock();
    const a = node(bus, clock, undefined, { limits: { maxMdnsTtlSeconds: 10 }, queryIntervalMs: 1e9 });
    const b = node(bus, clock, 7002, { recordTtlSeconds: 4000 });
    a.provider.start();
    b.provider.start();
    assert.deepEqual(await a.provider.discover(), ['127.0.0.1:7002']);
    bus.sockets.delete(b.socket);
    clock.advance(10_000);
    const pending = a.provider.discover();
    clock.advance(500);
    assert.deepEqual(await pending, []);
    a.provider.close();
    b.provider.close();
  });

  it('validates options naming the field', () => {
    const clock = new ManualClock();
    const cases: [Record<string, unknown>, string][] = [
      [{ service: 'bad service' }, 'service'],
      [{ service: 'x', port: 0 }, 'port'],
      [{ service: 'x', queryIntervalMs: 0 }, 'queryIntervalMs'],
      [{ service: 'x', answerWaitMs: -1 }, 'answerWaitMs'],
      [{ service: 'x', advertise: { host: 'bad host!', port: 1 } }, 'advertise'],
    ];
    for (const [opts, field] of cases) {
      assert.throws(
        () => new MdnsDiscovery({ clock, ...opts } as never),
        (err: { code?: string; message?: string }) =>
          err.code === 'INVALID_CONFIG' && (err.message ?? '').includes(field),
        field,
      );
    }
  });

  it('rejects discover() after close', async () => {
    const bus = new FakeBus();
    const a = node(bus, new ManualClock(), 7001);
    a.provider.close();
    await assert.rejects(a.provider.discover(), { code: 'CLOSED' });
  });
});

describe('MdnsDiscovery over real multicast on the loopback interface', () => {
  // The group is joined on 127.0.0.1 only and the socket is bound to the group address, so nothing
  // leaves the host; the port is not 5353 so a system responder is not involved.
  const port = 40_000 + (process.pid % 20_000);
  const real = (advertisePort: number) =>
    new MdnsDiscovery({
      service: `cairn-test-${process.pid}`,
      clock: new ManualClock(),
      advertise: { host: '127.0.0.1', port: advertisePort },
      port,
      interface: '127.0.0.1',
      mdns: { bind: '224.0.0.251', loopback: true, ttl: 1 },
    });

  it('two nodes find each other and a goodbye removes the leaver', { timeout: 10_000 }, async () => {
    const a = real(7101);
    const b = real(7102);
    try {
      await Promise.all([a.ready(), b.ready()]);
      // discover() queries and waits (the manual clock never expires the wait) for the answer.
      assert.deepEqual(await a.discover(), ['127.0.0.1:7102']);
      assert.deepEqual(await b.discover(), ['127.0.0.1:7101']);
      const gone = new Promise<readonly string[]>((resolve) => {
        a.onChange((list) => {
          if (list.length === 0) resolve(list);
        });
      });
      b.close();
      assert.deepEqual(await gone, []);
      assert.equal(a.stats().failures, 0);
    } finally {
      a.close();
      b.close();
    }
  });
});
