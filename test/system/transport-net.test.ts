/**
 * The transport contract on real sockets (127.0.0.1, ephemeral ports), plus what only the net
 * implementation has: hostile peers speaking raw TCP, the hello frame, restarts on the same port.
 *
 * Run: node --import tsx --test test/system/transport-net.test.ts
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { deferred, isCairnError, Metrics, Rng } from '../../src/core/index.js';
import { encodeFrame } from '../../src/transport/net/frame-decoder.js';
import { encodeHello } from '../../src/transport/net/hello.js';
import { NetTransport, type NetTransportOptions } from '../../src/transport/net/net-transport.js';
import { StreamPool } from '../../src/transport/pool.js';
import {
  connectPair,
  deadAddress,
  frameIndex,
  indexedFrame,
  ManualClock,
  nextStream,
  Recorder,
} from '../contract/helpers.js';
import { describeTransportContract } from '../contract/transport-contract.js';

/** Smaller than the defaults so the backpressure cases stay fast; the logic is the same. */
const TEST_LIMITS = {
  maxFrameBytes: 1024 * 1024,
  maxStreamBufferBytes: 8 * 1024 * 1024,
  streamHighWaterBytes: 256 * 1024,
};

function make(extra: Partial<NetTransportOptions> = {}): Promise<NetTransport> {
  return NetTransport.create({ host: '127.0.0.1', port: 0, limits: TEST_LIMITS, ...extra });
}

describeTransportContract('net', async () => {
  const a = await make();
  const b = await make();
  return {
    a,
    b,
    unreachable: await deadAddress(),
    cleanup: async () => {
      await a.close();
      await b.close();
    },
  };
});

/** A raw TCP client for playing a hostile or broken peer. */
async function rawClient(address: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    Number(address.slice(address.lastIndexOf(':') + 1)),
  ];
  const socket = connect({ host, port });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => {});
  socket.on('data', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, closed };
}

function header(length: number): Uint8Array {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(length >>> 0, 0);
  return h;
}

/** The transport still accepts and serves a well-behaved peer. */
async function stillServes(t: NetTransport): Promise<void> {
  const probe = await make();
  try {
    const { out, inb } = await connectPair(probe, t);
    const r = new Recorder(inb);
    out.send(indexedFrame(42, 16));
    assert.equal(frameIndex((await r.framesUntil(1))[0]!), 42);
  } finally {
    await probe.close();
  }
}

describe('net transport: hostile and broken peers', () => {
  it('cuts off a peer announcing a 4 GiB frame after its hello, without allocating it', async () => {
    const t = await make();
    try {
      const accepted = nextStream(t);
      const { socket, closed } = await rawClient(t.localAddress);
      socket.write(encodeFrame(encodeHello('127.0.0.1:9')));
      const r = new Recorder(await accepted);
      socket.write(header(0xffffffff));
      const err = await r.whenClosed();
      assert.ok(isCairnError(err, 'TRANSPORT_FRAME_TOO_LARGE'), String(err));
      await closed;
      assert.equal(t.stats.dropped.frame_too_large, 1);
      await stillServes(t);
    } finally {
      await t.close();
    }
  });

  it('cuts off a peer whose first frame (the hello) announces 4 GiB', async () => {
    const t = await make();
    try {
      let streams = 0;
      t.onStream(() => streams++);
      const { socket, closed } = await rawClient(t.localAddress);
      socket.write(header(0xffffffff));
      await closed;
      assert.equal(streams, 0);
      assert.equal(t.stats.dropped.frame_too_large, 1);
    } finally {
      await t.close();
    }
  });

  it('survives random garbage from many connections', async () => {
    const t = await make();
    try {
      let streams = 0;
      t.onStream((s) => {
        streams++;
        s.onFrame(() => {});
      });
      const rng = Rng.fromSeed('garbage');
      for (let i = 0; i < 20; i++) {
        const { socket, closed } = await rawClient(t.localAddress);
        socket.end(rng.bytes(1 + rng.int(2000)));
        await closed;
      }
      assert.ok(streams <= 20);
      await stillServes(t);
    } finally {
      await t.close();
    }
  });

  for (const [what, hello] of [
    ['a wrong version', Uint8Array.of(2, ...Buffer.from('127.0.0.1:9'))],
    ['an address without a port', Uint8Array.of(1, ...Buffer.from('127.0.0.1'))],
    ['port 0', Uint8Array.of(1, ...Buffer.from('127.0.0.1:0'))],
    ['invalid UTF-8', Uint8Array.of(1, 0xff, 0xfe, 0x3a, 0x39)],
    ['an empty hello', new Uint8Array(0)],
  ] as const) {
    it(`rejects a hello with ${what}`, async () => {
      const t = await make();
      try {
        let streams = 0;
        t.onStream(() => streams++);
        const { socket, closed } = await rawClient(t.localAddress);
        socket.write(encodeFrame(hello));
        await closed;
        assert.equal(streams, 0);
        assert.equal(t.stats.dropped.bad_hello, 1);
      } finally {
        await t.close();
      }
    });
  }

  it('cuts a connection that never sends its hello once the hello timeout passes', async () => {
    const clock = new ManualClock();
    const t = await make({ clock, helloTimeoutMs: 5000 });
    try {
      const { closed } = await rawClient(t.localAddress);
      // Wait until the server side has registered the connection (its timer exists).
      for (let i = 0; i < 1000 && clock.pending === 0; i++) await new Promise((r) => setImmediate(r));
      clock.advance(4999);
      assert.equal(t.stats.dropped.hello_timeout, 0);
      clock.advance(1);
      await closed;
      assert.equal(t.stats.dropped.hello_timeout, 1);
    } finally {
      await t.close();
    }
  });

  it('reassembles hello and frames written one byte at a time', async () => {
    const t = await make();
    try {
      const accepted = nextStream(t);
      const { socket } = await rawClient(t.localAddress);
      const bytes = Buffer.concat([
        encodeFrame(encodeHello('127.0.0.1:4242')),
        encodeFrame(indexedFrame(1, 9)),
        encodeFrame(new Uint8Array(0)),
        encodeFrame(indexedFrame(2, 300)),
      ]);
      let recorder: Recorder | undefined;
      void accepted.then((s) => {
        recorder = new Recorder(s);
      });
      for (const byte of bytes)
        await new Promise<void>((resolve) => socket.write(Uint8Array.of(byte), () => resolve()));
      const stream = await accepted;
      assert.equal(stream.remoteAddress, '127.0.0.1:4242');
      const frames = await recorder!.framesUntil(3);
      assert.deepEqual([frameIndex(frames[0]!), frames[1]!.length, frameIndex(frames[2]!)], [1, 0, 2]);
      socket.destroy();
    } finally {
      await t.close();
    }
  });

  it('reports a peer that closes in the middle of a frame as an error close', async () => {
    const t = await make();
    try {
      const accepted = nextStream(t);
      const { socket } = await rawClient(t.localAddress);
      socket.write(encodeFrame(encodeHello('127.0.0.1:9')));
      const r = new Recorder(await accepted);
      socket.end(Buffer.concat([header(100), Buffer.alloc(10)]));
      const err = await r.whenClosed();
      assert.ok(isCairnError(err, 'TRANSPORT_CLOSED'), String(err));
      assert.equal(r.frames.length, 0);
    } finally {
      await t.close();
    }
  });

  it('refuses inbound connections past maxStreams', async () => {
    const t = await make({ limits: { ...TEST_LIMITS, maxStreams: 1 } });
    const c = await make();
    try {
      const first = await connectPair(c, t);
      const { closed } = await rawClient(t.localAddress);
      await closed;
      assert.equal(t.stats.dropped.max_streams, 1);
      assert.ok(first.inb.open);
    } finally {
      await c.close();
      await t.close();
    }
  });
});

describe('net transport: addresses, ports and lifecycle', () => {
  it('names inbound streams by the advertised address and binds TCP and UDP on one port', async () => {
    const a = await make({ advertiseAddress: '127.0.0.1:65000' });
    const b = await make();
    try {
      assert.equal(a.localAddress, '127.0.0.1:65000');
      assert.notEqual(a.boundAddress, a.localAddress);
      const accepted = nextStream(b);
      await a.dial(b.localAddress);
      assert.equal((await accepted).remoteAddress, '127.0.0.1:65000');
      // Packets come from the bound port, which is also the TCP port.
      const got = deferred<string>();
      b.onPacket((from) => got.resolve(from));
      a.sendPacket(b.localAddress, Uint8Array.of(1));
      assert.equal(await got.promise, a.boundAddress);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('fails with IO_ERROR when the port is taken, and INVALID_CONFIG for a bad host', async () => {
    const a = await make();
    try {
      const port = Number(a.localAddress.split(':')[1]);
      await assert.rejects(NetTransport.create({ host: '127.0.0.1', port }), (err) =>
        isCairnError(err, 'IO_ERROR'),
      );
      await assert.rejects(NetTransport.create({ host: 'localhost', port: 0 }), (err) =>
        isCairnError(err, 'INVALID_CONFIG'),
      );
      await assert.rejects(NetTransport.create({ host: '127.0.0.1', port: 0, mtu: 0 }), (err) =>
        isCairnError(err, 'INVALID_CONFIG'),
      );
    } finally {
      await a.close();
    }
  });

  it('aborting a dial in flight rejects with CANCELLED and leaves no stream', async () => {
    const a = await make();
    const b = await make();
    try {
      let accepted = 0;
      b.onStream(() => accepted++);
      const ac = new AbortController();
      const dial = a.dial(b.localAddress, { signal: ac.signal });
      ac.abort();
      await assert.rejects(dial, (err) => isCairnError(err, 'CANCELLED'));
      await stillServes(b);
      assert.ok(accepted <= 1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a dial timeout fires on the injected clock', async () => {
    const clock = new ManualClock();
    const a = await make({ clock });
    try {
      const dial = a.dial('127.0.0.1:9', { timeoutMs: 100 });
      clock.advance(100);
      await assert.rejects(
        dial,
        (err) => isCairnError(err, 'TIMEOUT') || isCairnError(err, 'TRANSPORT_UNREACHABLE'),
      );
    } finally {
      await a.close();
    }
  });

  it('counts traffic and exposes it on the metrics registry', async () => {
    const metrics = new Metrics();
    const a = await make({ metrics });
    const b = await make();
    try {
      const { out, inb } = await connectPair(a, b);
      const r = new Recorder(inb);
      out.send(new Uint8Array(100));
      await r.framesUntil(1);
      assert.equal(a.stats.framesSent, 1);
      assert.equal(a.stats.frameBytesSent, 100);
      assert.equal(b.stats.framesReceived, 1);
      const text = await metrics.text();
      assert.match(text, /cairn_transport_frames_sent_total 1/);
      assert.match(text, /cairn_transport_dropped_total\{reason="bad_hello"\} 0/);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('reconnects through a StreamPool after the peer restarts on the same port', async () => {
    const clock = new ManualClock();
    const a = await make();
    let b = await make();
    const port = Number(b.localAddress.split(':')[1]);
    const pool = new StreamPool(a, { clock, rng: Rng.fromSeed(1) });
    try {
      b.onStream((s) => s.onFrame((f) => s.send(f)));
      const first = await pool.get(b.localAddress);
      assert.equal(await pool.get(b.localAddress), first, 'an open stream is reused');
      const r1 = new Recorder(first);
      first.send(indexedFrame(1, 8));
      await r1.framesUntil(1);

      await b.close();
      await r1.whenClosed();
      await assert.rejects(pool.get(b.localAddress), (err) => isCairnError(err, 'TRANSPORT_UNREACHABLE'));
      // Backing off: refused at once, without dialing.
      await assert.rejects(pool.get(b.localAddress), /next dial in/);

      b = await NetTransport.create({ host: '127.0.0.1', port, limits: TEST_LIMITS });
      b.onStream((s) => s.onFrame((f) => s.send(f)));
      clock.advance(POOL_MAX_FIRST_BACKOFF_MS);
      const second = await pool.get(b.localAddress);
      assert.notEqual(second, first);
      const r2 = new Recorder(second);
      second.send(indexedFrame(2, 8));
      assert.equal(frameIndex((await r2.framesUntil(1))[0]!), 2);
    } finally {
      await pool.close();
      await a.close();
      await b.close();
    }
  });
});

/** The first backoff is at most the base delay (100 ms). */
const POOL_MAX_FIRST_BACKOFF_MS = 100;
