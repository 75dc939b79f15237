import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger, deferred, type Logger } from '../../core/index.js';
import { ManualClock } from '../../core/manual-clock.js';
import { Keyring } from '../../security/keyring.js';
import type { InboundLimits } from '../limits.js';
import { sealTransport } from '../sealed.js';
import type { Stream } from '../types.js';
import { encodeFrame } from './frame-decoder.js';
import { encodeHello } from './hello.js';
import { NetTransport } from './net-transport.js';

/** Short deadlines on a manual clock: the sweep runs every 250 ms of it. */
const DEADLINES: Partial<InboundLimits> = {
  firstFrameTimeoutMs: 1000,
  frameTimeoutMs: 1000,
  idleTimeoutMs: 4000,
};
const HELLO = encodeFrame(encodeHello('127.0.0.1:9'));
const PROTOCOL_BYTE = encodeFrame(Uint8Array.of(1));

interface Peer {
  socket: Socket;
  /** Resolves when the socket closed; `ended` tells whether the transport closed it cleanly (FIN). */
  closed: Promise<{ ended: boolean }>;
}

/** A raw TCP connection to `t`, from `from` (an address in 127.0.0.0/8), with `bytes` sent first. */
async function rawPeer(t: NetTransport, bytes: Uint8Array[], from = '127.0.0.1'): Promise<Peer> {
  const port = Number(t.localAddress.slice(t.localAddress.lastIndexOf(':') + 1));
  const socket = connect({ host: '127.0.0.1', port, localAddress: from });
  let ended = false;
  socket.on('end', () => {
    ended = true;
  });
  socket.on('data', () => {});
  socket.on('error', () => {});
  const closed = new Promise<{ ended: boolean }>((resolve) => socket.on('close', () => resolve({ ended })));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  for (const b of bytes) socket.write(b);
  return { socket, closed };
}

/** Streams `t` accepts, in order, with their frames; `next()` waits for the next one. */
function acceptAll(t: NetTransport) {
  const streams: Stream[] = [];
  let waiter = deferred<Stream>();
  t.onStream((s) => {
    s.onFrame(() => {});
    streams.push(s);
    waiter.resolve(s);
    waiter = deferred<Stream>();
  });
  return { streams, next: () => waiter.promise };
}

function header(length: number): Uint8Array {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(length, 0);
  return h;
}

/** Polls `ok` on the event loop, up to `tries` turns; fails with `what`. */
async function until(what: string, ok: () => boolean, tries = 2000): Promise<void> {
  for (let i = 0; i < tries && !ok(); i++) await new Promise((r) => setTimeout(r, 1));
  assert.ok(ok(), `not reached: ${what}`);
}

async function transport(
  inbound: Partial<InboundLimits>,
  extra: { logger?: Logger; maxStreams?: number } = {},
) {
  const clock = new ManualClock();
  const t = await NetTransport.create({
    host: '127.0.0.1',
    port: 0,
    clock,
    inbound,
    ...(extra.logger === undefined ? {} : { logger: extra.logger }),
    ...(extra.maxStreams === undefined ? {} : { limits: { maxStreams: extra.maxStreams } }),
  });
  return { t, clock };
}

describe('net transport: deadlines of accepted streams', { timeout: 20_000 }, () => {
  it('cuts a stream that sends its hello and then no frame, at firstFrameTimeoutMs', async () => {
    const { t, clock } = await transport(DEADLINES);
    try {
      const accepted = acceptAll(t);
      const peer = await rawPeer(t, [HELLO]);
      const stream = await accepted.next();
      clock.advance(750);
      assert.ok(stream.open, 'open before its deadline');
      clock.advance(250);
      assert.equal(stream.open, false);
      assert.equal(t.stats.dropped.first_frame_timeout, 1);
      assert.equal((await peer.closed).ended, false, 'an error close (RST), not a clean one');
      assert.equal(t.inboundStreams, 0);
    } finally {
      await t.close();
    }
  });

  it('a byte at a time does not keep a frame alive: cut at frameTimeoutMs after its header', async () => {
    const { t, clock } = await transport(DEADLINES);
    try {
      const accepted = acceptAll(t);
      const peer = await rawPeer(t, [HELLO, PROTOCOL_BYTE, header(100), Uint8Array.of(0)]);
      const stream = await accepted.next();
      await until('the frame is in flight', () => t.partialFrameBytes === 100);
      for (let i = 0; i < 8 && stream.open; i++) {
        await new Promise((resolve) => peer.socket.write(Uint8Array.of(i), resolve));
        clock.advance(250);
      }
      assert.equal(stream.open, false);
      assert.equal(t.stats.dropped.frame_timeout, 1);
      await peer.closed;
      assert.equal(t.partialFrameBytes, 0, 'the unfinished frame went back to the budget');
    } finally {
      await t.close();
    }
  });

  it('closes an accepted stream cleanly after idleTimeoutMs without a frame, but not a dialed one', async () => {
    const { t, clock } = await transport(DEADLINES);
    const far = await NetTransport.create({ host: '127.0.0.1', port: 0, clock });
    try {
      const accepted = acceptAll(t);
      far.onStream((s) => s.onFrame(() => {}));
      const peer = await rawPeer(t, [HELLO, PROTOCOL_BYTE]);
      const stream = await accepted.next();
      const dialed = await t.dial(far.localAddress);
      dialed.send(Uint8Array.of(1));
      await until('the first frame arrived', () => t.stats.framesReceived === 1);
      // Progress is stamped by the sweep that sees it, so a deadline fires up to one sweep late.
      clock.advance(3500);
      assert.ok(stream.open, 'open before its idle deadline');
      stream.send(Uint8Array.of(2)); // a frame we send is progress too
      clock.advance(3500);
      assert.ok(stream.open, 'sending a frame postponed the idle deadline');
      clock.advance(750);
      assert.equal(stream.open, false);
      assert.equal(t.stats.dropped.idle_timeout, 1);
      assert.equal((await peer.closed).ended, true, 'a clean close (FIN)');
      assert.ok(dialed.open, 'a stream this transport dialed is its owner to close');
    } finally {
      await far.close();
      await t.close();
    }
  });
});

describe('net transport: memory an accepted stream can make us spend', { timeout: 20_000 }, () => {
  it('allows a small first frame only, and the full size once a handler took one', async () => {
    const { t } = await transport({});
    try {
      const accepted = acceptAll(t);
      const eager = await rawPeer(t, [HELLO, header(1024 * 1024)]);
      await eager.closed;
      assert.equal(t.stats.dropped.frame_too_large, 1);
      const frames: number[] = [];
      t.onStream((s) => s.onFrame((f) => frames.push(f.length)));
      const proven = await rawPeer(t, [HELLO, PROTOCOL_BYTE, encodeFrame(new Uint8Array(1024 * 1024))]);
      await until('the large frame arrived', () => frames.length === 2);
      assert.deepEqual(frames, [1, 1024 * 1024]);
      proven.socket.destroy();
      assert.equal(accepted.streams.length, 1);
    } finally {
      await t.close();
    }
  });

  it('refuses a frame that would take the buffers of frames in flight over maxPartialFrameBytes', async () => {
    const { t } = await transport({ maxPartialFrameBytes: 1000 });
    try {
      const frames: number[] = [];
      t.onStream((s) => s.onFrame((f) => frames.push(f.length)));
      const first = await rawPeer(t, [HELLO, PROTOCOL_BYTE, header(600), Uint8Array.of(0)]);
      await until('the first frame is in flight', () => t.partialFrameBytes === 600);
      const second = await rawPeer(t, [HELLO, PROTOCOL_BYTE, header(600), Uint8Array.of(0)]);
      await second.closed;
      assert.equal(t.stats.dropped.frame_budget, 1);
      first.socket.write(new Uint8Array(599));
      await until('the first frame arrived', () => frames.includes(600));
      assert.equal(t.partialFrameBytes, 0);
    } finally {
      await t.close();
    }
  });
});

describe('net transport: slots', { timeout: 20_000 }, () => {
  it('gives back the slot and the buffer of a connection that leaves half way through its hello', async () => {
    const { t } = await transport({});
    try {
      const peers = await Promise.all(
        Array.from({ length: 5 }, () => rawPeer(t, [header(100), new Uint8Array(10)])),
      );
      await until('the hellos are in flight', () => t.partialFrameBytes === 500);
      for (const p of peers) p.socket.destroy();
      await until('every slot was given back', () => t.inboundStreams === 0);
      assert.equal(t.partialFrameBytes, 0);
    } finally {
      await t.close();
    }
  });

  it('keeps maxStreams - maxInboundStreams slots for its own dials', async () => {
    const { t } = await transport({ maxInboundStreams: 2 }, { maxStreams: 4 });
    const far = await NetTransport.create({ host: '127.0.0.1', port: 0 });
    try {
      const accepted = acceptAll(t);
      far.onStream((s) => s.onFrame(() => {}));
      await rawPeer(t, [HELLO]);
      await rawPeer(t, [HELLO]);
      await until('two inbound streams', () => accepted.streams.length === 2);
      const refused = await rawPeer(t, [HELLO]);
      await refused.closed;
      assert.equal(t.stats.dropped.max_streams, 1);
      const dials = await Promise.all([t.dial(far.localAddress), t.dial(far.localAddress)]);
      assert.ok(dials.every((s) => s.open));
    } finally {
      await far.close();
      await t.close();
    }
  });

  it('caps inbound connections per source IP, and logs a flood of refusals once per interval', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ level: 'warn', destination });
    const { t } = await transport({ maxStreamsPerHost: 1 }, { logger });
    try {
      const accepted = acceptAll(t);
      await rawPeer(t, [HELLO], '127.0.0.2');
      await accepted.next();
      const refused = await Promise.all(Array.from({ length: 40 }, () => rawPeer(t, [HELLO], '127.0.0.2')));
      await Promise.all(refused.map((p) => p.closed));
      assert.equal(t.stats.dropped.max_streams_per_host, 40);
      await rawPeer(t, [HELLO], '127.0.0.1');
      await accepted.next();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(lines.length, 1, lines.join(''));
    } finally {
      await t.close();
    }
  });
});

describe('net transport: the hello is a claim', { timeout: 20_000 }, () => {
  it('under a keyring, a peer with a forged hello and no key gets no frame to an owner and only a small one read', async () => {
    const { t } = await transport({});
    const sealed = sealTransport(t, new Keyring({ keys: [new Uint8Array(32).fill(5)], label: 'hello' }));
    try {
      const claimed: string[] = [];
      const frames: number[] = [];
      sealed.onStream((s) => {
        claimed.push(s.remoteAddress);
        s.onFrame((f) => frames.push(f.length));
      });
      // Claims to be a member at 10.0.0.1:7100, then sends what any peer without the key can.
      const forged = encodeFrame(encodeHello('10.0.0.1:7100'));
      const garbage = await rawPeer(t, [forged, encodeFrame(new Uint8Array(40).fill(1))]);
      await garbage.closed;
      const large = await rawPeer(t, [forged, header(16 * 1024 * 1024)]);
      await large.closed;
      assert.deepEqual(claimed, ['10.0.0.1:7100', '10.0.0.1:7100'], 'the claim is only a name');
      assert.deepEqual(frames, [], 'no frame reached an owner');
      assert.equal(sealed.stats.framesDropped, 1);
      assert.equal(t.stats.dropped.frame_too_large, 1, 'the 16 MiB header was refused before a frame opened');
    } finally {
      await sealed.close();
    }
  });
});
