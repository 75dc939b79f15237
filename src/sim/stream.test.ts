import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError, isLoaned, POISON_BYTE, takeBytes } from '../core/index.js';
import { FRAME_COPY_MAX_BYTES } from '../transport/limits.js';
import type { Stream } from '../transport/types.js';
import { Simulator } from './simulator.js';

function pair(seed = 1, network: ConstructorParameters<typeof Simulator>[0]['network'] = {}) {
  const sim = new Simulator({ seed, network });
  const a = sim.network.transport('10.0.0.1:7946');
  const b = sim.network.transport('10.0.0.2:7946', {
    limits: { streamHighWaterBytes: 1_000, maxStreamBufferBytes: 5_000 },
  });
  const accepted: Stream[] = [];
  b.onStream((s) => accepted.push(s));
  return { sim, a, b, accepted };
}

/**
 * A stream from `pair`'s first transport to a third one with default limits (the second transport of
 * `pair` has a small buffer; this one takes large frames), and the accepted ends of the third.
 */
async function largeFrameStream(): Promise<{ sim: Simulator; s: Stream; accepted: Stream[] }> {
  const { sim, a } = pair();
  const c = sim.network.transport('10.0.0.3:7946');
  const accepted: Stream[] = [];
  c.onStream((st) => accepted.push(st));
  const s = await dialed(sim, a.dial(c.localAddress));
  return { sim, s, accepted };
}

/** A stream of `pair`'s transports whose two ends record the first byte of each frame they get. */
async function connected() {
  const { sim, a, b, accepted } = pair();
  const s = await dialed(sim, a.dial(b.localAddress));
  const server = accepted[0]!;
  const atServer: number[] = [];
  const atClient: number[] = [];
  server.onFrame((f) => atServer.push(f[0]!));
  s.onFrame((f) => atClient.push(f[0]!));
  return { sim, a, b, s, server, atServer, atClient };
}

async function dialed(sim: Simulator, p: Promise<Stream>): Promise<Stream> {
  let stream: Stream | undefined;
  let error: unknown;
  p.then(
    (s) => {
      stream = s;
    },
    (e: unknown) => {
      error = e;
    },
  );
  await sim.runUntil(() => stream !== undefined || error !== undefined, { maxMs: 60_000 });
  if (error !== undefined) throw error;
  return stream!;
}

describe('SimNetwork streams', () => {
  it('connects with simulated latency and keeps frames in order despite jitter', async () => {
    const { sim, a, b, accepted } = pair(3, { latency: { kind: 'exponential', minMs: 1, meanMs: 20 } });
    const s = await dialed(sim, a.dial(b.localAddress));
    assert.ok(sim.elapsedMs > 0);
    assert.equal(s.remoteAddress, b.localAddress);
    const server = accepted[0]!;
    assert.equal(server.remoteAddress, a.localAddress);
    const got: number[] = [];
    const back: number[] = [];
    server.onFrame((f) => {
      got.push(f[0]!);
      server.send(f);
    });
    s.onFrame((f) => back.push(f[0]!));
    for (let i = 0; i < 200; i++) s.send(new Uint8Array([i]));
    await sim.runFor(10_000);
    const expected = Array.from({ length: 200 }, (_, i) => i);
    assert.deepEqual(got, expected);
    assert.deepEqual(back, expected);
  });

  it('copies frames up to FRAME_COPY_MAX_BYTES when sent and keeps larger ones by reference, as TCP does', async () => {
    const { sim, s, accepted } = await largeFrameStream();
    const small = new Uint8Array(FRAME_COPY_MAX_BYTES).fill(1);
    const large = new Uint8Array(FRAME_COPY_MAX_BYTES + 1).fill(1);
    s.send(small);
    s.send(large);
    small[0] = 9; // after send: the copy is unaffected
    // Read during the call: a delivered frame is the handler's for the call only.
    const got: { first: number; frame: Uint8Array }[] = [];
    accepted[0]!.onFrame((f) => got.push({ first: f[0]!, frame: f }));
    await sim.runFor(100);
    assert.equal(got.length, 2);
    assert.equal(got[0]!.first, 1);
    assert.notEqual(got[0]!.frame, small);
    assert.equal(got[1]!.frame, large);
    // The small frame's copy went back to the pool, poisoned; the sender's large array is its own.
    assert.equal(got[0]!.frame[0], POISON_BYTE);
    assert.ok(large.every((b) => b === 1));
  });

  it('recycles a large frame taken with takeBytes once the handler returned, not before', async () => {
    const { sim, s, accepted } = await largeFrameStream();
    const frame = takeBytes(FRAME_COPY_MAX_BYTES + 100);
    frame.fill(5);
    const seen: number[] = [];
    accepted[0]!.onFrame((f) => {
      assert.equal(f, frame, 'kept by reference');
      seen.push(f[0]!, f[f.length - 1]!);
    });
    s.send(frame);
    await sim.runFor(100);
    assert.deepEqual(seen, [5, 5]);
    assert.equal(frame[0], POISON_BYTE);
    assert.equal(isLoaned(frame), false, 'given back');
  });

  it('buffers frames that arrive before a frame handler is set', async () => {
    const { sim, a, b, accepted } = pair();
    const s = await dialed(sim, a.dial(b.localAddress));
    s.send(new Uint8Array([1]));
    s.send(new Uint8Array([2]));
    await sim.runFor(100);
    const got: number[] = [];
    accepted[0]!.onFrame((f) => got.push(f[0]!));
    assert.deepEqual(got, [1, 2]);
  });

  it('dial failures: unreachable, timeout across a partition, cancelled, closed transport', async () => {
    const { sim, a, b } = pair();
    await assert.rejects(dialed(sim, a.dial('10.0.0.99:7946')), (e) =>
      isCairnError(e, 'TRANSPORT_UNREACHABLE'),
    );
    sim.network.partition([a.localAddress], [b.localAddress]);
    const started = sim.elapsedMs;
    await assert.rejects(dialed(sim, a.dial(b.localAddress, { timeoutMs: 3_000 })), (e) =>
      isCairnError(e, 'TIMEOUT'),
    );
    assert.equal(sim.elapsedMs - started, 3_000);
    sim.network.heal();
    const ac = new AbortController();
    const p = a.dial(b.localAddress, { signal: ac.signal });
    ac.abort();
    await assert.rejects(p, (e) => isCairnError(e, 'CANCELLED'));
    await sim.runFor(100);
    assert.equal(b.streams.size, 0, 'the abandoned connection is reset on the listener too');
    await a.close();
    await assert.rejects(a.dial(b.localAddress), (e) => isCairnError(e, 'TRANSPORT_CLOSED'));
  });

  it('a clean close delivers the frames sent before it, then closes both ends without error', async () => {
    const { sim, a, b, accepted } = pair(5, { latency: { kind: 'uniform', minMs: 1, maxMs: 30 } });
    const s = await dialed(sim, a.dial(b.localAddress));
    const server = accepted[0]!;
    const got: number[] = [];
    const events: string[] = [];
    server.onFrame((f) => got.push(f[0]!));
    server.onClose((err) => events.push(`server:${err === undefined ? 'clean' : 'error'}:${got.length}`));
    s.onClose((err) => events.push(`client:${err === undefined ? 'clean' : 'error'}`));
    for (let i = 0; i < 20; i++) s.send(new Uint8Array([i]));
    s.close();
    s.close();
    assert.equal(s.open, false);
    assert.throws(
      () => s.send(new Uint8Array(1)),
      (e) => isCairnError(e, 'TRANSPORT_CLOSED'),
    );
    await sim.runFor(1_000);
    assert.deepEqual(events, ['server:clean:20', 'client:clean']);
    assert.equal(server.open, false);
  });

  it('destroy closes at once and the peer sees an error close', async () => {
    const { sim, a, b, accepted } = pair();
    const s = await dialed(sim, a.dial(b.localAddress));
    const errors: Array<Error | undefined> = [];
    accepted[0]!.onClose((e) => errors.push(e));
    let local: Error | undefined;
    s.onClose((e) => {
      local = e;
    });
    s.destroy();
    assert.ok(isCairnError(local, 'TRANSPORT_CLOSED'));
    await sim.runFor(100);
    assert.equal(errors.length, 1);
    assert.ok(isCairnError(errors[0], 'TRANSPORT_CLOSED'));
  });

  it("a partition with streams: 'reset' breaks open streams on both sides", async () => {
    const { sim, a, b, accepted } = pair();
    const s = await dialed(sim, a.dial(b.localAddress));
    const errors: unknown[] = [];
    s.onClose((e) => errors.push(e));
    accepted[0]!.onClose((e) => errors.push(e));
    sim.network.partitionOneWay(b.localAddress, a.localAddress, { streams: 'reset' });
    await sim.runFor(10);
    assert.equal(errors.length, 2);
    for (const e of errors) assert.ok(isCairnError(e, 'TRANSPORT_UNREACHABLE'));
    assert.equal(sim.network.stats.streamsBroken, 2);
  });

  it('a partition black-holes open streams: frames wait, in order, with the buffer full, and arrive on heal', async () => {
    const { sim, a, b, s, server, atServer: got } = await connected();
    const closes: unknown[] = [];
    s.onClose((e) => closes.push(e));
    server.onClose((e) => closes.push(e));
    s.send(new Uint8Array([1])); // in flight when the cut comes: stalls at delivery
    sim.network.partition([a.localAddress], [b.localAddress]);
    s.send(new Uint8Array([2]));
    s.send(new Uint8Array([3]));
    await sim.runFor(60_000);
    assert.deepEqual(got, [], 'nothing crosses the cut');
    assert.deepEqual(closes, [], 'neither end is told: only its own timeouts could notice');
    assert.equal(s.open, true);
    assert.equal(s.bufferedBytes, 3, 'the stalled bytes stay in the sender buffer (backpressure applies)');
    assert.equal(sim.network.stats.streamEventsStalled, 3);
    sim.network.heal();
    s.send(new Uint8Array([4]));
    await sim.runFor(100);
    assert.deepEqual(got, [1, 2, 3, 4]);
    assert.equal(s.bufferedBytes, 0);
    assert.equal(sim.network.stats.streamsBroken, 0);
  });

  it('a one-way cut stalls one direction only; a reset across the cut arrives on heal', async () => {
    const { sim, a, b, s, server, atServer, atClient } = await connected();
    let serverError: unknown;
    server.onClose((e) => {
      serverError = e;
    });
    sim.network.partitionOneWay(a.localAddress, b.localAddress);
    s.send(new Uint8Array([1]));
    server.send(new Uint8Array([9]));
    await sim.runFor(1_000);
    assert.deepEqual(atServer, []);
    assert.deepEqual(atClient, [9]);
    s.destroy();
    await sim.runFor(1_000);
    assert.equal(server.open, true, 'the reset is stalled with the frame before it');
    sim.network.heal();
    await sim.runFor(100);
    assert.deepEqual(atServer, [1]);
    assert.ok(isCairnError(serverError, 'TRANSPORT_CLOSED'));
  });

  it('a crash behind a partition loses what the crashed side had stalled; the reset waits for heal', async () => {
    const sim = new Simulator({ seed: 1 });
    const got: number[] = [];
    let sender: Stream | undefined;
    sim.addNode('server', (ctx) => {
      const t = ctx.transport();
      t.onStream((st) => {
        sender = st;
      });
      return {};
    });
    const client = sim.network.transport('192.168.1.1:1');
    const s = await dialed(sim, client.dial(sim.addressOf('server')));
    s.onFrame((f) => got.push(f[0]!));
    let clientError: unknown;
    s.onClose((e) => {
      clientError = e;
    });
    sim.network.isolate('server');
    sender!.send(new Uint8Array([7]));
    await sim.runFor(1_000);
    sim.crash('server');
    await sim.runFor(1_000);
    assert.equal(clientError, undefined, 'the reset cannot cross the partition');
    sim.network.heal();
    await sim.runFor(100);
    assert.deepEqual(got, [], "the crashed side's unacknowledged frame is lost");
    assert.ok(isCairnError(clientError, 'TRANSPORT_CLOSED'));
  });

  it("a crash resets the peer's streams and runs no handler on the crashed side", async () => {
    const sim = new Simulator({ seed: 1 });
    let serverClosed = 0;
    sim.addNode('server', (ctx) => {
      const t = ctx.transport();
      t.onStream((s) => s.onClose(() => serverClosed++));
      return {};
    });
    const client = sim.network.transport('192.168.1.1:1');
    const s = await dialed(sim, client.dial(sim.addressOf('server')));
    let clientError: unknown;
    s.onClose((e) => {
      clientError = e;
    });
    sim.crash('server');
    await sim.runFor(100);
    assert.ok(isCairnError(clientError, 'TRANSPORT_CLOSED'));
    assert.equal(serverClosed, 0);
    await assert.rejects(dialed(sim, client.dial(sim.addressOf('server'))), (e) =>
      isCairnError(e, 'TRANSPORT_UNREACHABLE'),
    );
    sim.restart('server');
    const again = await dialed(sim, client.dial(sim.addressOf('server')));
    assert.equal(again.open, true);
  });

  it('applies backpressure: false above the high-water mark, drain after delivery, hard cap', async () => {
    const { sim, a, b, accepted } = pair();
    await dialed(sim, a.dial(b.localAddress));
    const server = accepted[0]!;
    let drains = 0;
    server.onDrain(() => drains++);
    assert.equal(server.send(new Uint8Array(600)), true);
    assert.equal(server.send(new Uint8Array(600)), false);
    assert.equal(server.bufferedBytes, 1_200);
    assert.throws(
      () => server.send(new Uint8Array(4_000)),
      (e) => isCairnError(e, 'TRANSPORT_BACKPRESSURE'),
    );
    let written = false;
    void server.write(new Uint8Array(10)).then(() => {
      written = true;
    });
    await sim.runFor(100);
    assert.equal(server.bufferedBytes, 0);
    assert.equal(drains, 1);
    assert.equal(written, true);
    assert.throws(
      () => server.send(new Uint8Array(server.bufferedBytes + b.limits.maxFrameBytes + 1)),
      (e) => isCairnError(e, 'TRANSPORT_FRAME_TOO_LARGE') || isCairnError(e, 'TRANSPORT_BACKPRESSURE'),
    );
  });

  it('refuses dials when nobody handles streams, and closing a transport closes its streams', async () => {
    const sim = new Simulator({ seed: 1 });
    const a = sim.network.transport('10.0.0.1:1');
    const quiet = sim.network.transport('10.0.0.2:1');
    await assert.rejects(dialed(sim, a.dial(quiet.localAddress)), (e) =>
      isCairnError(e, 'TRANSPORT_UNREACHABLE'),
    );
    const { a: c, b: d } = pair(2);
    const s = await dialed(c.network.sim, c.dial(d.localAddress));
    let err: unknown;
    s.onClose((e) => {
      err = e;
    });
    await d.close();
    await c.network.sim.runFor(100);
    assert.ok(isCairnError(err, 'TRANSPORT_CLOSED'));
  });
});
