import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError, POISON_BYTE } from '../core/index.js';
import { Simulator } from './simulator.js';
import type { SimTransport } from './transport.js';

function setup(options: ConstructorParameters<typeof Simulator>[0]['network'] = {}) {
  const sim = new Simulator({ seed: 11, settle: false, network: options });
  const a = sim.network.transport('10.0.0.1:7946');
  const b = sim.network.transport('10.0.0.2:7946');
  const c = sim.network.transport('10.0.0.3:7946');
  const received = new Map<SimTransport, number[]>([
    [a, []],
    [b, []],
    [c, []],
  ]);
  for (const [t, list] of received) t.onPacket((_from, data) => list.push(data[0]!));
  return { sim, a, b, c, got: (t: SimTransport) => received.get(t)! };
}

function sendMany(from: SimTransport, to: SimTransport, n: number): void {
  for (let i = 0; i < n; i++) from.sendPacket(to.localAddress, new Uint8Array([i & 0xff]));
}

describe('SimNetwork packets', () => {
  it('delivers with latency, copies the payload and reports the sender', async () => {
    const { sim, a, b } = setup({ latency: { kind: 'constant', ms: 7 } });
    let from = '';
    let at = 0;
    let seen: number[] = [];
    let delivered: Uint8Array | undefined;
    b.onPacket((f, d) => {
      from = f;
      at = sim.elapsedMs;
      seen = [...d];
      delivered = d;
    });
    const data = new Uint8Array([1, 2, 3]);
    a.sendPacket(b.localAddress, data);
    data[0] = 9;
    await sim.runFor(100);
    assert.equal(from, a.localAddress);
    assert.equal(at, 7);
    assert.deepEqual(seen, [1, 2, 3]);
    // The packet is the handler's for the call only: afterwards its memory is poisoned for reuse.
    assert.deepEqual([...delivered!], [POISON_BYTE, POISON_BYTE, POISON_BYTE]);
  });

  it('loses packets at about the configured rate', async () => {
    const { sim, a, b, got } = setup({ loss: 0.25 });
    sendMany(a, b, 4_000);
    await sim.runFor(100);
    const lost = 4_000 - got(b).length;
    assert.ok(lost > 850 && lost < 1_150, `lost ${lost} of 4000`);
    assert.equal(sim.network.stats.dropped.loss, lost);
  });

  it('duplicates packets at about the configured rate', async () => {
    const { sim, a, b, got } = setup({ duplicate: 0.1 });
    sendMany(a, b, 2_000);
    await sim.runFor(100);
    const extra = got(b).length - 2_000;
    assert.ok(extra > 140 && extra < 260, `duplicated ${extra}`);
    assert.equal(sim.network.stats.packetsDuplicated, extra);
  });

  it('reorders packets through latency jitter', async () => {
    const { sim, a, b, got } = setup({ latency: { kind: 'uniform', minMs: 1, maxMs: 10 } });
    sendMany(a, b, 50);
    await sim.runFor(100);
    assert.equal(got(b).length, 50);
    assert.notDeepEqual(
      got(b),
      [...got(b)].sort((x, y) => x - y),
    );
  });

  it('rejects packets over the MTU and sends on a closed transport', async () => {
    const { a, b } = setup();
    assert.throws(
      () => a.sendPacket(b.localAddress, new Uint8Array(a.mtu + 1)),
      (e) => isCairnError(e, 'TRANSPORT_PACKET_TOO_LARGE'),
    );
    a.sendPacket(b.localAddress, new Uint8Array(a.mtu));
    await a.close();
    assert.throws(
      () => a.sendPacket(b.localAddress, new Uint8Array(1)),
      (e) => isCairnError(e, 'TRANSPORT_CLOSED'),
    );
  });

  it('drops packets to unbound addresses without throwing', async () => {
    const { sim, a } = setup();
    a.sendPacket('10.9.9.9:1', new Uint8Array([1]));
    await sim.runFor(10);
    assert.equal(sim.network.stats.dropped.unbound, 1);
  });

  it('a partition drops both ways; heal restores', async () => {
    const { sim, a, b, c, got } = setup();
    sim.network.partition([a.localAddress], [b.localAddress]);
    sendMany(a, b, 10);
    sendMany(b, a, 10);
    sendMany(a, c, 10);
    await sim.runFor(100);
    assert.equal(got(b).length, 0);
    assert.equal(got(a).length, 0);
    assert.equal(got(c).length, 10);
    assert.equal(sim.network.stats.dropped.partition, 20);
    sim.network.heal();
    sendMany(a, b, 10);
    await sim.runFor(100);
    assert.equal(got(b).length, 10);
  });

  it('cutSince answers whether a direction was cut at any moment of a window, healed cuts included', async () => {
    const { sim, a, b, c } = setup();
    const [pa, pb, pc] = [a.localAddress, b.localAddress, c.localAddress];
    assert.equal(sim.network.cutSince(pa, pb, sim.now), false);
    await sim.runFor(1_000);
    sim.network.partitionOneWay(pa, pb);
    assert.equal(sim.network.cutSince(pa, pb, sim.now - 500), true, 'cut now');
    assert.equal(sim.network.cutSince(pb, pa, sim.now - 500), false, 'the other direction is open');
    await sim.runFor(1_000);
    sim.network.heal();
    const healedAt = sim.now;
    await sim.runFor(1_000);
    assert.equal(sim.network.cutSince(pa, pb, healedAt - 1), true, 'cut within the window');
    assert.equal(sim.network.cutSince(pa, pb, healedAt + 1), false, 'healed before the window');
    assert.equal(sim.network.cutSince(pa, pc, 0), false, 'another link was never cut');
  });

  it('a one-way partition drops only one direction', async () => {
    const { sim, a, b, got } = setup();
    sim.network.partitionOneWay(a.localAddress, b.localAddress);
    sendMany(a, b, 10);
    sendMany(b, a, 10);
    await sim.runFor(100);
    assert.equal(got(b).length, 0);
    assert.equal(got(a).length, 10);
  });

  it('isolate cuts one endpoint from everyone, and node names work as endpoints', async () => {
    const sim = new Simulator({ seed: 2, settle: false });
    const counts: Record<string, number> = {};
    for (const name of ['x', 'y', 'z']) {
      counts[name] = 0;
      sim.addNode(name, (ctx) => {
        const t = ctx.transport();
        t.onPacket(() => counts[name]!++);
        return { t };
      });
    }
    const t = (n: string) => (sim.handle(n) as { t: SimTransport }).t;
    sim.network.isolate('x');
    t('x').sendPacket(sim.addressOf('y'), new Uint8Array(1));
    t('y').sendPacket(sim.addressOf('x'), new Uint8Array(1));
    t('y').sendPacket(sim.addressOf('z'), new Uint8Array(1));
    await sim.runFor(100);
    assert.deepEqual(counts, { x: 0, y: 0, z: 1 });
  });

  it('per-link rules override latency and loss for one direction', async () => {
    const { sim, a, b, c, got } = setup({ latency: { kind: 'constant', ms: 1 } });
    sim.network.setLink(a.localAddress, b.localAddress, { loss: 1 });
    sim.network.setLink(a.localAddress, c.localAddress, { latency: { kind: 'constant', ms: 50 } });
    sendMany(a, b, 10);
    sendMany(b, a, 10);
    sendMany(a, c, 1);
    await sim.runFor(49);
    assert.equal(got(b).length, 0);
    assert.equal(got(a).length, 10);
    assert.equal(got(c).length, 0);
    await sim.runFor(1);
    assert.equal(got(c).length, 1);
  });

  it('bounds packets in flight towards one transport', async () => {
    const sim = new Simulator({ seed: 1, settle: false, limits: { maxInFlightPacketsPerTransport: 5 } });
    const a = sim.network.transport('10.0.0.1:1');
    const b = sim.network.transport('10.0.0.2:1');
    b.onPacket(() => undefined);
    sendMany(a, b, 8);
    assert.equal(sim.network.stats.dropped.queue_full, 3);
    await sim.runFor(10);
    assert.equal(sim.network.stats.packetsDelivered, 5);
  });

  it('a throwing packet handler is counted, not fatal', async () => {
    const { sim, a, b } = setup();
    b.onPacket(() => {
      throw new Error('bad handler');
    });
    sendMany(a, b, 3);
    await sim.runFor(10);
    assert.equal(sim.network.stats.dropped.handler_error, 3);
  });
});
