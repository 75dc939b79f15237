import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { describe, it } from 'node:test';
import { ManualClock } from '../../core/manual-clock.js';
import { frameMessage } from './grpc-wire.js';
import { etcdMethod } from './proto.js';
import { serveEtcd } from './server.js';
import { TestingStore } from './testing-store.js';

/**
 * Idle connections and keep-alive pings in the etcd API's server, on loopback, with the server's
 * timers on a manual clock.
 */

function connect(endpoint: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://${endpoint}`);
    s.on('error', () => {});
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** One Range call; resolves with its grpc-status. */
function range(session: http2.ClientHttp2Session, key: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/etcdserverpb.KV/Range',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let status: string | undefined;
    stream.on('response', (h) => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
    });
    stream.on('trailers', (t) => {
      status = String(t['grpc-status']);
    });
    stream.on('error', reject);
    stream.on('data', () => {});
    stream.on('close', () => resolve(status));
    stream.end(frameMessage(etcdMethod('KV', 'Range').requestSerialize({ key: Buffer.from(key) })));
  });
}

async function serve(clock: ManualClock, limits: Record<string, number>) {
  return serveEtcd({ store: new TestingStore(), host: '127.0.0.1', port: 0, clock, limits });
}

describe('etcd API: idle connections and keep-alive', { timeout: 30_000 }, () => {
  it('closes a connection with no call open for idleConnectionMs with GOAWAY, and keeps one with a watch open', async () => {
    const clock = new ManualClock();
    const server = await serve(clock, { idleConnectionMs: 1000 });
    const idle = await connect(server.endpoint);
    const watching = await connect(server.endpoint);
    assert.equal(await range(idle, 'k'), '0');
    const watch = watching.request({
      ':method': 'POST',
      ':path': '/etcdserverpb.Watch/Watch',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    watch.on('error', () => {});
    watch.write(
      frameMessage(
        etcdMethod('Watch', 'Watch').requestSerialize({ create_request: { key: Buffer.from('k') } }),
      ),
    );
    await new Promise((resolve) => watch.once('data', resolve)); // created: the call is open on the server
    const goaway = new Promise<number>((resolve) => idle.once('goaway', (code: number) => resolve(code)));
    const closed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    let watchingGoaway = false;
    watching.once('goaway', () => {
      watchingGoaway = true;
    });

    clock.advance(1000);
    assert.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR, 'a graceful GOAWAY');
    await closed;
    // The watching connection was not closed: a call on it is served (one sent after a GOAWAY
    // would be refused by the server).
    assert.equal(await range(watching, 'k'), '0');
    assert.equal(watchingGoaway, false);

    watch.close();
    watching.close();
    await server.close();
  });

  it('cuts a connection whose peer does not answer pings, and keeps one that does', async () => {
    const clock = new ManualClock();
    const server = await serve(clock, {
      idleConnectionMs: 10 ** 9,
      keepAliveIntervalMs: 1000,
      keepAliveTimeoutMs: 100,
    });
    // A peer that speaks HTTP/2's preface and SETTINGS and then reads and answers nothing.
    const [host, port] = server.endpoint.split(':');
    const mute = net.connect(Number(port), host);
    mute.on('error', () => {});
    await new Promise((resolve) => mute.once('connect', resolve));
    mute.write(
      Buffer.concat([
        Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
        Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
      ]),
    );
    let sawPing = false;
    const pinged = new Promise<void>((resolve) =>
      mute.on('data', (chunk: Buffer) => {
        // A PING frame: type 6, flags 0 (not an ack), on stream 0.
        for (let i = 0; i + 9 <= chunk.length; i++)
          if (
            chunk[i + 3] === 6 &&
            chunk[i + 4] === 0 &&
            chunk.readUInt32BE(i + 5) === 0 &&
            chunk.readUIntBE(i, 3) === 8
          ) {
            sawPing = true;
            resolve();
          }
      }),
    );
    const muteClosed = new Promise<void>((resolve) => mute.once('close', () => resolve()));
    const live = await connect(server.endpoint);
    assert.equal(await range(live, 'k'), '0');
    // Both sessions are open on the server before the clock moves.
    clock.advance(1000); // both are pinged
    await pinged;
    assert.ok(sawPing);
    // The live client's HTTP/2 stack answers by itself. Its own ping's answer comes after the
    // server's ping, and a call it sends after that goes after its answer: once the call is
    // served, the server has the answer, before its timeout runs.
    const pong = await new Promise<boolean>((resolve) => live.ping((err) => resolve(err === null)));
    assert.ok(pong);
    assert.equal(await range(live, 'k'), '0');
    clock.advance(100);
    await muteClosed;
    assert.equal(await range(live, 'k'), '0', 'the connection that answered is kept');

    live.close();
    mute.destroy();
    await server.close();
  });
});
