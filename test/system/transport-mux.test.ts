/**
 * The transport contract on mux channels, over real sockets and over the simulated network, plus
 * the mux's own rules: channels are isolated, unknown protocols are refused, bad input is counted.
 *
 * Run: node --import tsx --test test/system/transport-mux.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError } from '../../src/core/index.js';
import { Simulator } from '../../src/sim/index.js';
import { TransportMux } from '../../src/transport/mux.js';
import { NetTransport } from '../../src/transport/net/net-transport.js';
import type { Transport } from '../../src/transport/types.js';
import { describeTransportContract } from '../contract/transport-contract.js';

const LIMITS = {
  maxFrameBytes: 1024 * 1024,
  maxStreamBufferBytes: 8 * 1024 * 1024,
  streamHighWaterBytes: 256 * 1024,
};

function net(): Promise<NetTransport> {
  return NetTransport.create({ host: '127.0.0.1', port: 0, limits: LIMITS });
}

describeTransportContract(
  'mux channel over net',
  async () => {
    const ma = new TransportMux(await net());
    const mb = new TransportMux(await net());
    // A second open channel on each side must not disturb the one under test.
    ma.channel(9);
    mb.channel(9);
    const deadMux = new TransportMux(await net());
    const unreachable = deadMux.inner.localAddress;
    await deadMux.close();
    return {
      a: ma.channel(1),
      b: mb.channel(1),
      unreachable,
      cleanup: async () => {
        await ma.close();
        await mb.close();
      },
    };
  },
  { sealed: false },
);

describeTransportContract(
  'mux channel over sim',
  async () => {
    const sim = new Simulator({ seed: 3 });
    const ma = new TransportMux(sim.network.transport('10.0.0.1:7946'));
    const mb = new TransportMux(sim.network.transport('10.0.0.2:7946'));
    const stop = sim.autoRun();
    return {
      a: ma.channel(1),
      b: mb.channel(1),
      unreachable: '10.0.0.99:7946',
      cleanup: async () => {
        await ma.close();
        await mb.close();
        await stop();
      },
    };
  },
  { sealed: false },
);

function nextPacket(t: Transport): Promise<{ from: string; data: Uint8Array }> {
  return new Promise((resolve) => t.onPacket((from, data) => resolve({ from, data })));
}

describe('TransportMux', () => {
  it('keeps channels apart and strips the protocol byte', async () => {
    const ma = new TransportMux(await net());
    const mb = new TransportMux(await net());
    try {
      const a1 = ma.channel(1);
      const a2 = ma.channel(2);
      const b1 = mb.channel(1);
      const b2 = mb.channel(2);
      assert.equal(a1.mtu, ma.inner.mtu - 1);
      const got2 = nextPacket(b2);
      let wrong = 0;
      b1.onPacket(() => wrong++);
      a2.sendPacket(b2.localAddress, Uint8Array.of(7, 8));
      const p = await got2;
      assert.deepEqual([...p.data], [7, 8]);
      assert.equal(p.from, a1.localAddress);

      const accepted = new Promise<Uint8Array>((resolve) =>
        b1.onStream((s) => s.onFrame((f) => resolve(Uint8Array.from(f)))),
      );
      let streamsOn2 = 0;
      b2.onStream(() => streamsOn2++);
      const s = await a1.dial(b1.localAddress);
      s.send(Uint8Array.of(42));
      assert.deepEqual([...(await accepted)], [42]);
      assert.equal(wrong, 0);
      assert.equal(streamsOn2, 0);
      assert.throws(
        () => a1.sendPacket(b1.localAddress, new Uint8Array(a1.mtu + 1)),
        (e) => isCairnError(e, 'TRANSPORT_PACKET_TOO_LARGE'),
      );
      assert.throws(() => ma.channel(1), /already open/);
      assert.throws(() => ma.channel(256), /integer 0-255/);
    } finally {
      await ma.close();
      await mb.close();
    }
  });

  it('counts packets and refuses streams for protocols nobody opened', async () => {
    const raw = await net();
    const mb = new TransportMux(await net());
    try {
      const b1 = mb.channel(1);
      const arrived = nextPacket(b1);
      raw.sendPacket(b1.localAddress, Uint8Array.of(5, 1, 2)); // protocol 5: not open
      raw.sendPacket(b1.localAddress, new Uint8Array(0));
      raw.sendPacket(b1.localAddress, Uint8Array.of(1, 3)); // protocol 1: delivered
      assert.deepEqual([...(await arrived).data], [3]);
      // Loopback UDP keeps order between one pair of sockets, so both drops were counted by now.
      assert.equal(mb.stats.packetsDropped, 2);

      const s = await raw.dial(b1.localAddress);
      const closed = new Promise<Error | undefined>((resolve) => s.onClose(resolve));
      s.send(Uint8Array.of(5));
      assert.ok((await closed) !== undefined, 'the peer should reset a stream for an unknown protocol');
      assert.equal(mb.stats.streamsRefused, 1);
    } finally {
      await raw.close();
      await mb.close();
    }
  });
});
