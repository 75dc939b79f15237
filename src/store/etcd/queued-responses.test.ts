import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { describe, it } from 'node:test';
import type { StoreClient, WatchResponse } from '../api.js';
import { EtcdClientStore } from '../client/etcd-client-store.js';
import { GRPC } from '../errors.js';
import { decodeGrpcMessage, frameMessage, MessageReader } from './grpc-wire.js';
import { etcdMethod } from './proto.js';
import { type EtcdServer, serveEtcd } from './server.js';
import { TestingStore } from './testing-store.js';

/**
 * The bound on response bytes a connection holds unsent (maxQueuedResponseBytesPerConnection),
 * driven by a raw HTTP/2 client that opens calls and reads their answers only when told.
 */

const enc = new TextEncoder();
const LIMIT = 1024 * 1024;
const VALUE_BYTES = 256 * 1024;
/** Calls the tests open at most on one connection (bounds every loop). */
const MAX_CALLS = 64;

/** One raw gRPC call: its response headers, and its messages once `read` is called. */
interface RawCall {
  readonly stream: http2.ClientHttp2Stream;
  readonly headers: Promise<http2.IncomingHttpHeaders>;
  /** Starts reading; resolves with the messages and the grpc-status once the call ends. */
  read(): Promise<{ messages: Buffer[]; status: string | undefined; message: string }>;
  /** Messages received so far (after `read`). */
  readonly received: Buffer[];
}

function open(session: http2.ClientHttp2Session, service: string, method: string): RawCall {
  const stream = session.request({
    ':method': 'POST',
    ':path': `/etcdserverpb.${service}/${method}`,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.on('error', () => {});
  const headers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
  const received: Buffer[] = [];
  let trailers: http2.IncomingHttpHeaders = {};
  stream.once('trailers', (t) => {
    trailers = t;
  });
  const read = async () => {
    const reader = new MessageReader(64 * 1024 * 1024, undefined);
    const first = await headers;
    const ended = new Promise<void>((resolve) => stream.once('close', resolve));
    stream.on('data', (chunk: Buffer) => {
      const out = reader.push(chunk);
      if (Array.isArray(out)) received.push(...out);
    });
    await ended;
    const last = first['grpc-status'] !== undefined ? first : trailers;
    return {
      messages: received,
      status: last['grpc-status'] as string | undefined,
      message: decodeGrpcMessage(String(last['grpc-message'] ?? '')),
    };
  };
  return { stream, headers, read, received };
}

function rangeCall(session: http2.ClientHttp2Session, key: string): RawCall {
  const call = open(session, 'KV', 'Range');
  call.stream.end(frameMessage(etcdMethod('KV', 'Range').requestSerialize({ key: Buffer.from(key) })));
  return call;
}

/** The etcd API over `store` with the queued-response bound at {@link LIMIT}, and its busiest connection's queued bytes. */
async function serveBounded(store: StoreClient): Promise<{ server: EtcdServer; queued: () => number }> {
  const server = await serveEtcd({
    store,
    host: '127.0.0.1',
    port: 0,
    limits: { maxQueuedResponseBytesPerConnection: LIMIT },
  });
  return { server, queued: () => Math.max(0, ...server.queuedResponseBytes()) };
}

function connect(endpoint: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://${endpoint}`);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Waits, turn by turn of the event loop (bounded), until `done()` holds. */
async function settle(done: () => boolean, turns = 10_000): Promise<void> {
  for (let i = 0; i < turns && !done(); i++) await new Promise<void>((r) => setImmediate(r));
}

async function fill(store: StoreClient, prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++)
    await store.put({ key: enc.encode(`${prefix}${i}`), value: new Uint8Array(VALUE_BYTES).fill(i) });
}

/**
 * Opens unread Range calls (one value each) until one is refused; returns the held calls, the
 * refusal's headers and the largest queued count the server showed along the way.
 */
async function overfill(
  session: http2.ClientHttp2Session,
  queued: () => number,
): Promise<{ held: RawCall[]; refusal: http2.IncomingHttpHeaders | undefined; maxQueued: number }> {
  const held: RawCall[] = [];
  let refusal: http2.IncomingHttpHeaders | undefined;
  let maxQueued = 0;
  for (let i = 0; i < MAX_CALLS && refusal === undefined; i++) {
    const call = rangeCall(session, `big/${i % 4}`);
    const h = await call.headers;
    maxQueued = Math.max(maxQueued, queued());
    if (h['grpc-status'] !== undefined) refusal = h;
    else held.push(call);
  }
  return { held, refusal, maxQueued };
}

describe('etcd API: response bytes a connection holds unsent', { timeout: 60_000 }, () => {
  it('refuses calls on a connection over the bound, and serves them again once it reads', async () => {
    const store = new TestingStore();
    await fill(store, 'big/', 4);
    const { server, queued } = await serveBounded(store);
    const session = await connect(server.endpoint);
    const { held, refusal, maxQueued } = await overfill(session, queued);

    assert.ok(refusal !== undefined, 'a call on the full connection is refused');
    assert.equal(refusal['grpc-status'], String(GRPC.RESOURCE_EXHAUSTED));
    assert.match(decodeGrpcMessage(String(refusal['grpc-message'])), /response bytes unsent, over its limit/);
    assert.ok(held.length >= LIMIT / VALUE_BYTES, `${held.length} calls were answered before the bound`);
    // One reply may cross the bound; none is queued past it.
    assert.ok(maxQueued <= LIMIT + VALUE_BYTES + 1024, `queued ${maxQueued} stays within the bound`);
    assert.ok(queued() > LIMIT);

    // Another connection is not affected.
    const other = await connect(server.endpoint);
    const fine = await rangeCall(other, 'big/0').read();
    assert.equal(fine.status, '0');

    // The client reads: every held answer is whole, and the connection serves again.
    const answers = await Promise.all(held.map((c) => c.read()));
    for (const a of answers) {
      assert.equal(a.status, '0');
      const res = etcdMethod('KV', 'Range').responseDeserialize(a.messages[0]!) as {
        kvs: { value: Buffer }[];
      };
      assert.equal(res.kvs[0]!.value.length, VALUE_BYTES);
    }
    await settle(() => queued() === 0);
    assert.equal(queued(), 0, 'every queued byte was given back');
    const again = await rangeCall(session, 'big/1').read();
    assert.equal(again.status, '0');

    session.close();
    other.close();
    await server.close();
  });

  it('pauses a watch while its connection is over the bound, then delivers every event in order', async () => {
    const store = new TestingStore();
    await fill(store, 'big/', 4);
    // Counts what the store hands the watch and whether the watch asked it to pause.
    const deliveries: boolean[] = [];
    const counted = new Proxy(store, {
      get(target, name, receiver) {
        if (name !== 'watch') return Reflect.get(target, name, receiver);
        return (req: Parameters<StoreClient['watch']>[0], on: (res: WatchResponse) => unknown) =>
          target.watch(req, (res) => {
            const more = on(res);
            deliveries.push(more !== false);
            return more;
          });
      },
    });
    const { server, queued } = await serveBounded(counted);
    const session = await connect(server.endpoint);
    const watch = open(session, 'Watch', 'Watch');
    const watchDone = watch.read();
    const prefix = { key: Buffer.from('w/'), range_end: Buffer.from('w0') };
    watch.stream.write(
      frameMessage(etcdMethod('Watch', 'Watch').requestSerialize({ create_request: prefix })),
    );
    await settle(() => watch.received.length >= 1);
    assert.equal(watch.received.length, 1, 'created');

    const { held, refusal } = await overfill(session, queued);
    assert.ok(refusal !== undefined && queued() > LIMIT);

    const before = deliveries.length;
    const EVENTS = 50;
    for (let i = 0; i < EVENTS; i++)
      await store.put({ key: enc.encode(`w/${i % 5}`), value: enc.encode(`v${i}`) });
    // The first event is written and pauses the watch; the store holds the rest.
    assert.deepEqual(deliveries.slice(before), [false]);
    const queuedWhilePaused = queued();

    await Promise.all(held.map((c) => c.read()));
    assert.ok(queuedWhilePaused > LIMIT);
    const response = etcdMethod('Watch', 'Watch');
    const values = () =>
      watch.received
        .slice(1)
        .flatMap((m) => (response.responseDeserialize(m) as { events: { kv: { value: Buffer } }[] }).events)
        .map((e) => e.kv.value.toString());
    await settle(() => values().length >= EVENTS);
    assert.deepEqual(
      values(),
      Array.from({ length: EVENTS }, (_, i) => `v${i}`),
    );
    watch.stream.end();
    await watchDone;
    session.close();
    await server.close();
  });

  it('stops reading keep-alives while their answers cannot be written, and answers all of them after', async () => {
    const store = new TestingStore();
    await fill(store, 'big/', 4);
    const lease = await store.leaseGrant(60, 7);
    let refreshes = 0;
    const counted = new Proxy(store, {
      get(target, name, receiver) {
        if (name !== 'leaseKeepAlive') return Reflect.get(target, name, receiver);
        return (...args: Parameters<StoreClient['leaseKeepAlive']>) => {
          refreshes++;
          return target.leaseKeepAlive(...args);
        };
      },
    });
    const { server, queued } = await serveBounded(counted);
    const session = await connect(server.endpoint);
    const keepAlive = open(session, 'Lease', 'LeaseKeepAlive');
    const keepAliveDone = keepAlive.read();
    const request = frameMessage(etcdMethod('Lease', 'LeaseKeepAlive').requestSerialize({ ID: lease.id }));
    keepAlive.stream.write(request);
    await settle(() => keepAlive.received.length >= 1);
    assert.equal(refreshes, 1);

    const { held, refusal } = await overfill(session, queued);
    assert.ok(refusal !== undefined && queued() > LIMIT);
    // Over the bound: the next answer cannot be written, and the stream stops reading.
    const MORE = 50; // under maxKeepAlivesInFlight: all may be in flight at once
    for (let i = 0; i < MORE; i++) keepAlive.stream.write(request);
    // A refused call is a round trip behind the keep-alives: the server has read their frames.
    const probe = await rangeCall(session, 'big/0').headers;
    assert.equal(probe['grpc-status'], String(GRPC.RESOURCE_EXHAUSTED));
    assert.ok(refreshes <= 2, `${refreshes} refreshes ran while the connection was over`);

    await Promise.all(held.map((c) => c.read()));
    await settle(() => keepAlive.received.length >= 1 + MORE);
    assert.equal(keepAlive.received.length, 1 + MORE);
    assert.equal(refreshes, 1 + MORE);
    keepAlive.stream.end();
    await keepAliveDone;
    session.close();
    await server.close();
  });

  it('lets an etcd3 client read a prefix larger than the bound in one response', async () => {
    const store = new TestingStore();
    const KEYS = 12;
    await fill(store, 'big/', KEYS);
    const server = await serveEtcd({
      store,
      host: '127.0.0.1',
      port: 0,
      limits: { maxQueuedResponseBytesPerConnection: LIMIT },
    });
    const client = new EtcdClientStore({ hosts: [server.endpoint] });
    const res = await client.range({ key: enc.encode('big/'), rangeEnd: enc.encode('big0') });
    assert.equal(res.kvs.length, KEYS);
    assert.ok(res.kvs.every((kv) => kv.value.length === VALUE_BYTES));
    // And again at once on the same connection.
    const again = await client.range({ key: enc.encode('big/'), rangeEnd: enc.encode('big0') });
    assert.equal(again.kvs.length, KEYS);
    await client.close();
    await server.close();
  });
});

describe('etcd API: response bytes all connections hold unsent', { timeout: 60_000 }, () => {
  it('holds back the connections that pile answers up once the total is over, and serves the others', async () => {
    const store = new TestingStore();
    await fill(store, 'big/', 4);
    await store.put({ key: enc.encode('small'), value: enc.encode('v') });
    // Each connection's own bound is far above the server's total: only the total can refuse.
    const server = await serveEtcd({
      store,
      host: '127.0.0.1',
      port: 0,
      limits: { maxQueuedResponseBytesPerConnection: 8 * LIMIT, maxQueuedResponseBytes: LIMIT },
    });
    const total = () => server.queuedResponseBytes().reduce((a, b) => a + b, 0);
    const greedy = await connect(server.endpoint);
    const { held, refusal, maxQueued } = await overfill(greedy, total);
    assert.ok(refusal !== undefined, 'a call on the connection holding the answers is refused');
    assert.equal(refusal['grpc-status'], String(GRPC.RESOURCE_EXHAUSTED));
    assert.match(
      decodeGrpcMessage(String(refusal['grpc-message'])),
      /the server has \d+ response bytes unsent, over its limit of 1048576, and this connection holds \d+ of them/,
    );
    assert.ok(maxQueued <= LIMIT + VALUE_BYTES + 1024, `queued ${maxQueued} stays within the total`);

    // A connection that holds nothing is served while the total is over...
    const polite = await connect(server.endpoint);
    const small = await rangeCall(polite, 'small').read();
    assert.equal(small.status, '0');
    // ...until it piles answers up too: one large answer left unread takes it over its share.
    const unread = rangeCall(polite, 'big/0');
    assert.equal((await unread.headers)['grpc-status'], undefined);
    const refused = await rangeCall(polite, 'small').read();
    assert.equal(refused.status, String(GRPC.RESOURCE_EXHAUSTED));

    // The greedy client reads: the total drops and both connections are served again.
    await Promise.all(held.map((c) => c.read()));
    await unread.read();
    await settle(() => total() === 0);
    assert.equal(total(), 0);
    assert.equal((await rangeCall(greedy, 'small').read()).status, '0');
    assert.equal((await rangeCall(polite, 'small').read()).status, '0');
    greedy.close();
    polite.close();
    await server.close();
  });
});
