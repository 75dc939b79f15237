import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode } from '../../core/index.js';
import { Simulator } from '../../sim/index.js';
import type { Transport } from '../../transport/types.js';
import { testPexConfig } from './config.js';
import { PexNode } from './driver.js';
import { decodePexMessage, encodePexMessage } from './messages.js';

/** Adds a PeX node named `name` seeded with `seeds` (addresses); returns its address. */
function addPex(
  sim: Simulator,
  name: string,
  seeds: string[],
  extra: { mtu?: number; selfId?: string } = {},
): string {
  return sim.addNode(name, (ctx) => {
    const transport = ctx.transport(extra.mtu === undefined ? {} : { mtu: extra.mtu });
    return new PexNode({
      transport,
      clock: ctx.clock,
      rng: ctx.rng,
      config: testPexConfig(),
      seeds,
      ...(extra.selfId === undefined ? {} : { selfId: extra.selfId }),
    });
  });
}

const pex = (sim: Simulator, name: string) => sim.handle<PexNode>(name)!;
const viewOf = (sim: Simulator, name: string) =>
  pex(sim, name)
    .view()
    .map((d) => d.address)
    .sort();

describe('PexNode over the simulated network', () => {
  it('two nodes learn each other; counters and sample reflect it', async () => {
    const sim = new Simulator({ seed: 1, settle: false });
    const b = addPex(sim, 'b', []);
    const a = addPex(sim, 'a', [b]);
    await sim.runFor(1_000);
    assert.deepEqual(viewOf(sim, 'a'), [b]);
    assert.deepEqual(viewOf(sim, 'b'), [a]);
    const ca = pex(sim, 'a').counters();
    assert.ok(ca.exchangesStarted >= 5 && ca.exchangesCompleted === ca.exchangesStarted, JSON.stringify(ca));
    assert.equal(ca.malformed + ca.timeouts + ca.sendErrors, 0);
    assert.deepEqual(
      pex(sim, 'a')
        .sample(5)
        .map((d) => d.address),
      [b],
    );
    assert.equal(sim.network.stats.dropped.handler_error, 0);
  });

  it('counts malformed packets and keeps working', async () => {
    const sim = new Simulator({ seed: 2, settle: false });
    const b = addPex(sim, 'b', []);
    addPex(sim, 'a', [b]);
    let raw: Transport | undefined;
    sim.addNode('x', (ctx) => {
      raw = ctx.transport();
      return {};
    });
    const garbage = [
      new Uint8Array([0xc1]),
      encode({ type: 'PexPush', id: 1, entries: [['nope', 0]] }),
      encode({ type: 'PexPull', id: 1, entries: 'x' }),
    ];
    for (const g of garbage) raw!.sendPacket(b, g);
    await sim.runFor(1_000);
    assert.equal(pex(sim, 'b').counters().malformed, 3);
    assert.equal(viewOf(sim, 'b').length, 1);
    assert.equal(sim.network.stats.dropped.handler_error, 0);
  });

  it('keeps every packet within a small MTU, even with long addresses and ids', async () => {
    const mtu = 320; // self plus two descriptors of about 100 bytes each
    const sim = new Simulator({ seed: 3, settle: false });
    const names = Array.from({ length: 12 }, (_, i) => `n${i}`);
    const addrs = names.map((_, i) => `${'node'.repeat(8)}-${i}.pex.example:7946`);
    let largest = 0;
    names.forEach((name, i) => {
      sim.addNode(
        name,
        (ctx) => {
          const transport = ctx.transport({ mtu });
          const send = transport.sendPacket.bind(transport);
          transport.sendPacket = (to, data) => {
            largest = Math.max(largest, data.length);
            send(to, data);
          };
          return new PexNode({
            transport,
            clock: ctx.clock,
            rng: ctx.rng,
            config: testPexConfig({ viewSize: 12, healing: 1, swap: 5 }),
            selfId: `id-${'x'.repeat(40)}-${i}`,
            seeds: [addrs[(i + 1) % names.length]!],
          });
        },
        { address: addrs[i]! },
      );
    });
    await sim.runFor(3_000);
    assert.ok(largest > 0 && largest <= mtu, `largest packet ${largest}`);
    assert.ok(
      names.every((n) => pex(sim, n).view().length >= 3),
      'views did not grow',
    );
    assert.ok(
      pex(sim, 'n0')
        .view()
        .some((d) => d.id?.startsWith('id-')),
      'node ids travel with descriptors',
    );
    assert.equal(sim.network.stats.dropped.handler_error, 0);
  });

  it('a crashed peer times out and is retried; remove() forgets it; stop() ends all activity', async () => {
    const sim = new Simulator({ seed: 4, settle: false });
    const b = addPex(sim, 'b', []);
    addPex(sim, 'a', [b]);
    await sim.runFor(500);
    sim.crash('b');
    await sim.runFor(500);
    const c = pex(sim, 'a').counters();
    // Below c entries nothing overflows, so healing drops nothing: the view keeps b (membership
    // would call remove()), and a keeps retrying it since it has no one else.
    assert.ok(c.timeouts >= 3, JSON.stringify(c));
    assert.deepEqual(viewOf(sim, 'a'), [b]);
    pex(sim, 'a').remove(b);
    assert.deepEqual(viewOf(sim, 'a'), []);

    pex(sim, 'a').seed([b]);
    pex(sim, 'a').stop();
    const sent = sim.network.stats.packetsSent;
    await sim.runFor(1_000);
    assert.equal(sim.network.stats.packetsSent, sent, 'a stopped node sent packets');
    assert.equal(sim.pendingEvents, 0, 'a stopped node left a timer');
  });

  it('a PexPush gets a PexPull with the same id from the node it was sent to', async () => {
    const sim = new Simulator({ seed: 5, settle: false });
    const a = addPex(sim, 'a', []);
    const replies: unknown[] = [];
    let raw: Transport | undefined;
    sim.addNode(
      'x',
      (ctx) => {
        raw = ctx.transport();
        raw.onPacket((from, data) => replies.push({ from, message: decodePexMessage(data) }));
        return {};
      },
      { address: '10.9.9.9:7946' },
    );
    raw!.sendPacket(
      a,
      encodePexMessage({ type: 'PexPush', id: 77, entries: [{ address: '10.9.9.9:7946', age: 0 }] }),
    );
    await sim.runFor(50);
    assert.deepEqual(replies, [
      { from: a, message: { type: 'PexPull', id: 77, entries: [{ address: a, age: 0 }] } },
    ]);
    assert.deepEqual(viewOf(sim, 'a'), ['10.9.9.9:7946']);
  });
});
