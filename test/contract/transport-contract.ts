/**
 * The transport contract suite: one set of tests every {@link Transport} implementation passes.
 *
 * Implementation-neutral on purpose: no sleeps and no timing. Every wait is for an event (a frame,
 * a close, a packet, a settled promise), so it runs on real sockets and on the simulated network
 * whose virtual clock advances in the background. It assumes packets between `a` and `b` are not
 * lost (a loss-free network), and never that a packet to a dead address produces any signal.
 *
 * `describeTransportContract` runs the suite three ways: plain, with both sides sealed by one
 * keyring, and sealed with mismatched keys or labels (which must not talk).
 *
 * @example
 * ```ts
 * describeTransportContract('net', async () => {
 *   const a = await NetTransport.create({ host: '127.0.0.1', port: 0 });
 *   const b = await NetTransport.create({ host: '127.0.0.1', port: 0 });
 *   return { a, b, unreachable: '127.0.0.1:1', cleanup: async () => { await a.close(); await b.close(); } };
 * });
 * ```
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CairnError, deferred, isCairnError } from '../../src/core/index.js';
import { sealTransport } from '../../src/transport/sealed.js';
import type { Address, Transport } from '../../src/transport/types.js';
import {
  connectPair,
  frameIndex,
  indexedFrame,
  nextPacket,
  nextStream,
  Recorder,
  testKeyring,
} from './helpers.js';

/** Two connected transports and an address where nobody listens. */
export interface ContractEnv {
  a: Transport;
  b: Transport;
  /** An address where no transport listens. */
  unreachable: Address;
  /** Closes everything the env made. */
  cleanup(): Promise<void>;
}

/** Options for {@link describeTransportContract}. */
export interface ContractOptions {
  /** Also run the suite on sealed transports and the mismatched-key tests; default true. */
  sealed?: boolean;
}

/**
 * Declares the contract suite for one implementation.
 *
 * @param name - shown in the test names
 * @param makeEnv - makes a fresh env per test; `cleanup` is always called
 */
export function describeTransportContract(
  name: string,
  makeEnv: () => Promise<ContractEnv>,
  options: ContractOptions = {},
): void {
  describe(`transport contract: ${name}`, () => defineCases(makeEnv));
  if (options.sealed === false) return;
  describe(`transport contract: ${name} (sealed)`, () => defineCases(sealedEnv(makeEnv)));
  describe(`transport contract: ${name} (sealed, mismatched keyrings)`, () => defineMismatchCases(makeEnv));
}

function sealedEnv(makeEnv: () => Promise<ContractEnv>): () => Promise<ContractEnv> {
  return async () => {
    const env = await makeEnv();
    const ring = testKeyring(7);
    return { ...env, a: sealTransport(env.a, ring), b: sealTransport(env.b, ring) };
  };
}

async function withEnv(
  makeEnv: () => Promise<ContractEnv>,
  body: (env: ContractEnv) => Promise<void>,
): Promise<void> {
  const env = await makeEnv();
  try {
    await body(env);
  } finally {
    await env.cleanup();
  }
}

function hasCode(code: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(isCairnError(err), `expected a CairnError ${code}, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

function maxFrame(env: ContractEnv): number {
  return Math.min(env.a.limits.maxFrameBytes, env.b.limits.maxFrameBytes);
}

function defineCases(makeEnv: () => Promise<ContractEnv>): void {
  it('delivers a packet with the sender address as `from`', () =>
    withEnv(makeEnv, async ({ a, b }) => {
      const got = nextPacket(b);
      a.sendPacket(b.localAddress, Uint8Array.of(1, 2, 3));
      const { from, data } = await got;
      assert.equal(from, a.localAddress);
      assert.deepEqual(data, Uint8Array.of(1, 2, 3));
    }));

  it('delivers a packet of exactly the MTU and rejects one byte more', () =>
    withEnv(makeEnv, async ({ a, b }) => {
      assert.throws(
        () => a.sendPacket(b.localAddress, new Uint8Array(a.mtu + 1)),
        hasCode('TRANSPORT_PACKET_TOO_LARGE'),
      );
      const got = nextPacket(b);
      const full = indexedFrame(9, Math.min(a.mtu, b.mtu));
      a.sendPacket(b.localAddress, full);
      assert.deepEqual((await got).data, full);
    }));

  it('a packet handler that throws does not stop later packets', () =>
    withEnv(makeEnv, async ({ a, b }) => {
      const second = deferred<Uint8Array>();
      let calls = 0;
      b.onPacket((_from, data) => {
        calls++;
        if (calls === 1) throw new Error('handler bug');
        second.resolve(Uint8Array.from(data));
      });
      a.sendPacket(b.localAddress, Uint8Array.of(1));
      a.sendPacket(b.localAddress, Uint8Array.of(2));
      const data = await second.promise;
      assert.ok(data[0] === 1 || data[0] === 2);
    }));

  it('carries frames both ways, whole and in order, and names the dialer as remoteAddress', () =>
    withEnv(makeEnv, async ({ a, b }) => {
      const { out, inb } = await connectPair(a, b);
      assert.equal(inb.remoteAddress, a.localAddress);
      assert.equal(out.remoteAddress, b.localAddress);
      assert.ok(out.open && inb.open);
      const atB = new Recorder(inb);
      const atA = new Recorder(out);
      for (let i = 0; i < 5; i++) out.send(indexedFrame(i, 10 + i));
      for (let i = 0; i < 3; i++) inb.send(indexedFrame(100 + i, 50));
      assert.deepEqual((await atB.framesUntil(5)).map(frameIndex), [0, 1, 2, 3, 4]);
      assert.deepEqual((await atA.framesUntil(3)).map(frameIndex), [100, 101, 102]);
      assert.deepEqual(
        atB.frames.map((f) => f.length),
        [10, 11, 12, 13, 14],
      );
    }));

  it('delivers many frames including empty ones and one of maxFrameBytes', () =>
    withEnv(makeEnv, async (env) => {
      const { out, inb } = await connectPair(env.a, env.b);
      const atB = new Recorder(inb);
      const count = 300;
      const sizes: number[] = [];
      for (let i = 0; i < count; i++) sizes.push(i % 10 === 0 ? 0 : (i * 37) % 2000);
      sizes.push(maxFrame(env));
      for (let i = 0; i < sizes.length; i++) {
        const size = sizes[i]!;
        await out.write(size === 0 ? new Uint8Array(0) : indexedFrame(i, Math.max(4, size)));
      }
      const frames = await atB.framesUntil(sizes.length);
      for (let i = 0; i < sizes.length; i++) {
        const size = sizes[i]!;
        if (size === 0) assert.equal(frames[i]!.length, 0, `frame ${i} should be empty`);
        else assert.equal(frameIndex(frames[i]!), i, `frame ${i} arrived damaged or out of order`);
      }
    }));

  it('rejects an oversize frame at the sender and keeps the stream usable', () =>
    withEnv(makeEnv, async (env) => {
      const { out, inb } = await connectPair(env.a, env.b);
      const atB = new Recorder(inb);
      assert.throws(
        () => out.send(new Uint8Array(env.a.limits.maxFrameBytes + 1)),
        hasCode('TRANSPORT_FRAME_TOO_LARGE'),
      );
      await assert.rejects(
        out.write(new Uint8Array(env.a.limits.maxFrameBytes + 1)),
        hasCode('TRANSPORT_FRAME_TOO_LARGE'),
      );
      out.send(indexedFrame(1, 8));
      assert.equal(frameIndex((await atB.framesUntil(1))[0]!), 1);
      assert.ok(out.open);
    }));

  it('a clean close delivers every frame, then closes the peer without error, once', () =>
    withEnv(makeEnv, async ({ a, b }) => {
      const { out, inb } = await connectPair(a, b);
      const atB = new Recorder(inb);
      const atA = new Recorder(out);
      for (let i = 0; i < 50; i++) out.send(indexedFrame(i, 300));
      out.close();
      out.close(); // idempotent
      assert.equal(out.open, false);
      assert.equal(await atB.whenClosed(), undefined);
      assert.deepEqual(
        atB.frames.map(frameIndex),
        Array.from({ length: 50 }, (_, i) => i),
      );
      assert.equal(await atA.whenClosed(), undefined);
      assert.equal(inb.open, false);
      // Another full exchange gives any duplicate close notification time to show up.
      const again = await connectPair(a, b);
      const r = new Recorder(again.inb);
      again.out.send(Uint8Array.of(1, 2, 3, 4));
      await r.framesUntil(1);
      assert.equal(atB.closeCalls, 1);
      assert.equal(atA.closeCalls, 1);
    }));

  it('the peer closing cleanly is seen as a clean close by the dialer', () =>
    withEnv(makeEnv, async ({ a, b }) => {
      const { out, inb } = await connectPair(a, b);
      const atA = new Recorder(out);
      inb.send(indexedFrame(5, 20));
      inb.close();
      assert.equal(await atA.whenClosed(), undefined);
      assert.deepEqual(atA.frames.map(frameIndex), [5]);
    }));

  it('destroy gives the peer an error close', () =>
    withEnv(makeEnv, async ({ a, b }) => {
      const { out, inb } = await connectPair(a, b);
      const atB = new Recorder(inb);
      const atA = new Recorder(out);
      out.destroy(new CairnError('CANCELLED', 'test destroys the stream'));
      const err = await atB.whenClosed();
      assert.ok(err instanceof Error, 'peer should see an error close');
      assert.ok((await atA.whenClosed()) instanceof Error);
      assert.equal(out.open, false);
    }));

  it('a frame handler that throws destroys that stream only', () =>
    withEnv(makeEnv, async ({ a, b }) => {
      const { out, inb } = await connectPair(a, b);
      const atA = new Recorder(out);
      inb.onFrame(() => {
        throw new Error('handler bug');
      });
      out.send(Uint8Array.of(1));
      assert.ok((await atA.whenClosed()) instanceof Error);
      const again = await connectPair(a, b);
      const r = new Recorder(again.inb);
      again.out.send(indexedFrame(2, 8));
      assert.equal(frameIndex((await r.framesUntil(1))[0]!), 2);
    }));

  it('dialing an address where nobody listens rejects', () =>
    withEnv(makeEnv, async ({ a, unreachable }) => {
      await assert.rejects(a.dial(unreachable, { timeoutMs: 2000 }), (err) => {
        assert.ok(isCairnError(err, 'TRANSPORT_UNREACHABLE') || isCairnError(err, 'TIMEOUT'), String(err));
        return true;
      });
    }));

  it('an aborted dial rejects with CANCELLED', () =>
    withEnv(makeEnv, async ({ a, b }) => {
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(a.dial(b.localAddress, { signal: ac.signal }), hasCode('CANCELLED'));
    }));

  it('send and write after close throw TRANSPORT_CLOSED', () =>
    withEnv(makeEnv, async ({ a, b }) => {
      const { out, inb } = await connectPair(a, b);
      const atB = new Recorder(inb);
      out.close();
      assert.throws(() => out.send(Uint8Array.of(1)), hasCode('TRANSPORT_CLOSED'));
      await assert.rejects(out.write(Uint8Array.of(1)), hasCode('TRANSPORT_CLOSED'));
      await atB.whenClosed();
      assert.throws(() => inb.send(Uint8Array.of(1)), hasCode('TRANSPORT_CLOSED'));
    }));

  it('write() waits out backpressure and every frame arrives in order', () =>
    withEnv(makeEnv, async (env) => {
      const { out, inb } = await connectPair(env.a, env.b);
      const atB = new Recorder(inb);
      const size = Math.min(64 * 1024, maxFrame(env));
      const count = Math.min(2000, Math.ceil((3 * env.a.limits.streamHighWaterBytes) / size) + 1);
      for (let i = 0; i < count; i++) await out.write(indexedFrame(i, size));
      assert.ok(out.bufferedBytes <= env.a.limits.maxStreamBufferBytes);
      const frames = await atB.framesUntil(count);
      assert.deepEqual(
        frames.map(frameIndex),
        Array.from({ length: count }, (_, i) => i),
      );
    }));

  it('send() past maxStreamBufferBytes throws TRANSPORT_BACKPRESSURE instead of growing', () =>
    withEnv(makeEnv, async (env) => {
      const { out, inb } = await connectPair(env.a, env.b);
      inb.onFrame(() => {});
      const frame = new Uint8Array(Math.min(256 * 1024, maxFrame(env)));
      const bound = Math.ceil((env.a.limits.maxStreamBufferBytes + 64 * 1024 * 1024) / frame.length);
      let sawFalse = false;
      let error: unknown;
      for (let i = 0; i < bound && error === undefined; i++) {
        try {
          if (!out.send(frame)) sawFalse = true;
        } catch (err) {
          error = err;
        }
      }
      assert.ok(sawFalse, 'send should return false above the high-water mark');
      assert.ok(
        isCairnError(error, 'TRANSPORT_BACKPRESSURE'),
        `expected TRANSPORT_BACKPRESSURE, got ${String(error)}`,
      );
      assert.ok(out.bufferedBytes <= env.a.limits.maxStreamBufferBytes);
      out.destroy();
    }));

  it('closing a transport closes its streams and refuses new work', () =>
    withEnv(makeEnv, async ({ a, b }) => {
      const { out, inb } = await connectPair(a, b);
      const atA = new Recorder(out);
      const atB = new Recorder(inb);
      await a.close();
      await atA.whenClosed();
      await atB.whenClosed();
      assert.equal(out.open, false);
      assert.throws(() => out.send(Uint8Array.of(1)), hasCode('TRANSPORT_CLOSED'));
      await assert.rejects(a.dial(b.localAddress), hasCode('TRANSPORT_CLOSED'));
      assert.throws(() => a.sendPacket(b.localAddress, Uint8Array.of(1)), hasCode('TRANSPORT_CLOSED'));
      await a.close(); // idempotent
    }));

  it('streams to one peer are independent', () =>
    withEnv(makeEnv, async ({ a, b }) => {
      const accepted: Recorder[] = [];
      const both = deferred<void>();
      b.onStream((s) => {
        accepted.push(new Recorder(s));
        if (accepted.length === 2) both.resolve();
      });
      const s1 = await a.dial(b.localAddress);
      const s2 = await a.dial(b.localAddress);
      await both.promise;
      s1.send(indexedFrame(1, 16));
      s2.send(indexedFrame(2, 16));
      const got = (await Promise.all(accepted.map((r) => r.framesUntil(1))))
        .map((f) => frameIndex(f[0]!))
        .sort();
      assert.deepEqual(got, [1, 2]);
      s1.destroy();
      await accepted.find((r) => frameIndex(r.frames[0]!) === 1)!.whenClosed();
      assert.ok(s2.open);
    }));
}

function defineMismatchCases(makeEnv: () => Promise<ContractEnv>): void {
  const variants = [
    { what: 'a different key', a: () => testKeyring(1, 'x'), b: () => testKeyring(2, 'x') },
    { what: 'a different label', a: () => testKeyring(1, 'x'), b: () => testKeyring(1, 'y') },
  ];
  for (const variant of variants) {
    it(`drops packets sealed with ${variant.what}`, () =>
      withEnv(makeEnv, async (env) => {
        const dropped = deferred<string>();
        const a = sealTransport(env.a, variant.a());
        const b = sealTransport(env.b, variant.b(), { onDrop: (channel) => dropped.resolve(channel) });
        let delivered = 0;
        b.onPacket(() => delivered++);
        a.sendPacket(b.localAddress, Uint8Array.of(1, 2, 3));
        assert.equal(await dropped.promise, 'packet');
        assert.equal(delivered, 0);
        assert.equal(b.stats.packetsDropped, 1);
      }));

    it(`destroys a stream whose frames are sealed with ${variant.what}`, () =>
      withEnv(makeEnv, async (env) => {
        const a = sealTransport(env.a, variant.a());
        const b = sealTransport(env.b, variant.b());
        const accepted = nextStream(b);
        const out = await a.dial(b.localAddress);
        const atA = new Recorder(out);
        const atB = new Recorder(await accepted);
        out.send(Uint8Array.of(1, 2, 3));
        const err = await atB.whenClosed();
        assert.ok(isCairnError(err, 'DECRYPT_FAILED'), `expected DECRYPT_FAILED, got ${String(err)}`);
        assert.equal(atB.frames.length, 0);
        assert.ok((await atA.whenClosed()) instanceof Error);
        assert.equal(b.stats.framesDropped, 1);
      }));
  }
}
