import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError, sleep, utf8 } from '../core/index.js';
import { addPingNodes, type PingNode } from './ping.js';
import { SIM_EPOCH_MS, Simulator } from './simulator.js';

/** A little random workload: every node sets timers at random delays and pings random peers. */
async function workload(seed: number, settle = true): Promise<string> {
  const sim = new Simulator({
    seed,
    settle,
    network: { loss: 0.1, latency: { kind: 'normal', meanMs: 5, stddevMs: 2 } },
  });
  addPingNodes(sim, { nodes: 8, intervalMs: 100 });
  await sim.runFor(2_000);
  return sim.traceHash();
}

describe('Simulator determinism', () => {
  it('the same seed gives the same trace hash; another seed another', async () => {
    const a = await workload(1);
    assert.equal(await workload(1), a);
    assert.notEqual(await workload(2), a);
    assert.match(a, /^[0-9a-f]{16}$/);
  });

  it('synchronous drivers give the same hash with and without settling', async () => {
    assert.equal(await workload(5, false), await workload(5, true));
  });

  it('async drivers are deterministic: every promise an event releases settles before the next event', async () => {
    const run = async () => {
      const sim = new Simulator({ seed: 3 });
      const log: string[] = [];
      for (const name of ['a', 'b', 'c']) {
        sim.addNode(name, ({ clock, rng }) => {
          void (async () => {
            for (let i = 0; i < 5; i++) {
              await sleep(clock, rng.int(50));
              await Promise.resolve();
              log.push(`${name}${i}@${clock.now() - SIM_EPOCH_MS}`);
            }
          })();
          return {};
        });
      }
      await sim.runFor(1_000);
      return { log: log.join(','), hash: sim.traceHash() };
    };
    const first = await run();
    assert.equal(first.log.split(',').length, 15);
    assert.deepEqual(await run(), first);
  });
});

describe('virtual clock', () => {
  it('starts at the epoch, fires timers at exactly now + delay, same-time timers in order', async () => {
    const sim = new Simulator({ seed: 1 });
    assert.equal(sim.now, SIM_EPOCH_MS);
    const fired: string[] = [];
    sim.clock.setTimer(10, () => fired.push(`x@${sim.elapsedMs}`));
    sim.clock.setTimer(5, () => fired.push(`y@${sim.elapsedMs}`));
    sim.clock.setTimer(10, () => fired.push(`z@${sim.elapsedMs}`));
    const cancelled = sim.clock.setTimer(7, () => fired.push('cancelled'));
    sim.clock.cancel(cancelled);
    sim.clock.cancel(cancelled);
    await sim.runFor(9);
    assert.deepEqual(fired, ['y@5']);
    assert.equal(sim.elapsedMs, 9);
    await sim.runFor(100);
    assert.deepEqual(fired, ['y@5', 'x@10', 'z@10']);
  });

  it('skew changes what a node reads and scales its timers, never going backwards', async () => {
    const sim = new Simulator({ seed: 1 });
    let firedAtTrue = 0;
    let firedAtLocal = 0;
    let startLocal = 0;
    sim.addNode(
      'fast',
      ({ clock }) => {
        startLocal = clock.now();
        clock.setTimer(1_000, () => {
          firedAtTrue = sim.elapsedMs;
          firedAtLocal = clock.now();
        });
        return {};
      },
      { skew: { offsetMs: 5_000, drift: 0.25 } },
    );
    assert.equal(startLocal, SIM_EPOCH_MS + 5_000);
    await sim.runFor(2_000);
    assert.ok(Math.abs(firedAtTrue - 800) < 0.01, `fired at true ${firedAtTrue}`);
    assert.ok(firedAtLocal - startLocal >= 1_000 && firedAtLocal - startLocal < 1_000.01);
    const clock = sim.clockFor('fast');
    const before = clock.now();
    sim.setClockSkew('fast', { offsetMs: -10_000 });
    assert.ok(clock.now() >= before, 'a clock never reads backwards');
    // A restarted process reads the clock that was stepped back while it was down.
    sim.crash('fast');
    sim.restart('fast');
    assert.ok(
      sim.clockFor('fast').now() < before - 10_000,
      'the next incarnation reads the stepped-back clock',
    );
  });

  it('steadySince tells since when a node has run without a pause or crash', async () => {
    const sim = new Simulator({ seed: 1 });
    sim.addNode('a', () => ({}));
    assert.equal(sim.steadySince('a'), sim.now);
    await sim.runFor(1_000);
    sim.pause('a', 500);
    assert.equal(sim.steadySince('a'), undefined);
    await sim.runFor(600);
    assert.equal(sim.steadySince('a'), sim.now - 100, 'since the resume');
    sim.crash('a');
    assert.equal(sim.steadySince('a'), undefined);
    await sim.runFor(100);
    sim.restart('a');
    assert.equal(sim.steadySince('a'), sim.now);
  });
});

describe('running', () => {
  it('runUntil reports whether the predicate held within maxMs', async () => {
    const sim = new Simulator({ seed: 1 });
    let n = 0;
    const tick = () => {
      n++;
      sim.clock.setTimer(10, tick);
    };
    tick();
    assert.equal(await sim.runUntil(() => n >= 5, { maxMs: 1_000 }), true);
    assert.equal(sim.elapsedMs, 40);
    assert.equal(await sim.runUntil(() => n >= 1_000, { maxMs: 100 }), false);
    assert.equal(sim.elapsedMs, 140);
  });

  it('autoRun lets test code simply await virtual-time operations, and idles when empty', async () => {
    const sim = new Simulator({ seed: 1 });
    const stop = sim.autoRun();
    await sleep(sim.clock, 60_000);
    assert.equal(sim.elapsedMs, 60_000);
    await assert.rejects(sim.runFor(1), (e) => isCairnError(e, 'INVALID_ARGUMENT'));
    await stop();
    await sim.runFor(1);
  });

  it('a throwing timer fails the run; a livelock is detected', async () => {
    const sim = new Simulator({ seed: 1 });
    sim.clock.setTimer(1, () => {
      throw new Error('boom');
    });
    await assert.rejects(sim.runFor(10), /boom/);
    const loop = new Simulator({ seed: 1, limits: { maxEventsAtOneInstant: 1_000 } });
    const again = () => loop.clock.setTimer(0, again);
    again();
    await assert.rejects(loop.runFor(10, { settle: false }), (e) => isCairnError(e, 'LIMIT_EXCEEDED'));
  });

  it('keeps a bounded trace log when asked', async () => {
    const sim = new Simulator({ seed: 1, traceLog: 5 });
    addPingNodes(sim, { nodes: 3, intervalMs: 10 });
    await sim.runFor(100);
    const lines = sim.traceLines();
    assert.equal(lines.length, 5);
    assert.ok(lines.some((l) => /packet|timer/.test(l)));
  });
});

describe('node lifecycle', () => {
  it('pause holds timers and deliveries and runs them in order on resume', async () => {
    const sim = new Simulator({ seed: 1, network: { latency: { kind: 'constant', ms: 1 } } });
    const got: string[] = [];
    sim.addNode('b', (ctx) => {
      const t = ctx.transport();
      t.onPacket((_from, data) => got.push(`pkt${data[0]}@${sim.elapsedMs}`));
      ctx.clock.setTimer(5, () => got.push(`timer@${sim.elapsedMs}`));
      return {};
    });
    const a = sim.network.transport('192.168.0.1:1');
    sim.pause('b', 100);
    assert.equal(sim.nodeState('b'), 'paused');
    a.sendPacket(sim.addressOf('b'), new Uint8Array([1]));
    await sim.runFor(10);
    a.sendPacket(sim.addressOf('b'), new Uint8Array([2]));
    await sim.runFor(50);
    assert.deepEqual(got, []);
    await sim.runFor(100);
    assert.deepEqual(got, ['pkt1@100', 'timer@100', 'pkt2@100']);
    assert.equal(sim.nodeState('b'), 'up');
  });

  it('crash cancels timers, drops deliveries and unsynced writes; restart reruns the factory on the same disk', async () => {
    const sim = new Simulator({ seed: 1 });
    const starts: number[] = [];
    let ticks = 0;
    let packets = 0;
    sim.addNode('n', (ctx) => {
      starts.push(ctx.incarnation);
      const t = ctx.transport();
      t.onPacket(() => packets++);
      const tick = () => {
        ticks++;
        ctx.clock.setTimer(10, tick);
      };
      ctx.clock.setTimer(10, tick);
      if (ctx.incarnation === 0) {
        void ctx.disk.batch([{ type: 'put', key: utf8('synced'), value: utf8('1') }], { sync: true });
        void ctx.disk.batch([{ type: 'put', key: utf8('unsynced'), value: utf8('1') }]);
      }
      return { stop: () => undefined };
    });
    const probe = sim.network.transport('192.168.0.9:1');
    await sim.runFor(35);
    assert.equal(ticks, 3);
    probe.sendPacket(sim.addressOf('n'), new Uint8Array([1]));
    sim.crash('n');
    assert.equal(sim.nodeState('n'), 'down');
    assert.equal(sim.handle('n'), undefined);
    probe.sendPacket(sim.addressOf('n'), new Uint8Array([1]));
    await sim.runFor(100);
    assert.equal(ticks, 3, 'no timer of a crashed node fires');
    assert.equal(packets, 0);
    assert.equal(sim.network.stats.dropped.crashed + sim.network.stats.dropped.unbound, 2);
    sim.restart('n');
    assert.deepEqual(starts, [0, 1]);
    assert.notEqual(sim.handle('n'), undefined);
    const disk = sim.diskOf('n');
    assert.notEqual(await disk.get(utf8('synced')), undefined);
    assert.equal(await disk.get(utf8('unsynced')), undefined);
    await sim.runFor(25);
    assert.equal(ticks, 5);
    probe.sendPacket(sim.addressOf('n'), new Uint8Array([1]));
    await sim.runFor(25);
    assert.equal(packets, 1);
  });

  it('stopNode stops gracefully and keeps every write', async () => {
    const sim = new Simulator({ seed: 1 });
    let stopped = 0;
    sim.addNode('n', (ctx) => {
      void ctx.disk.batch([{ type: 'put', key: utf8('k'), value: utf8('v') }]);
      return { stop: () => void stopped++ };
    });
    await sim.runFor(1);
    await sim.stopNode('n');
    assert.equal(stopped, 1);
    sim.restart('n');
    assert.notEqual(await sim.diskOf('n').get(utf8('k')), undefined);
  });

  it('rejects duplicate names and unknown nodes', () => {
    const sim = new Simulator({ seed: 1 });
    sim.addNode('a', () => ({}));
    assert.throws(
      () => sim.addNode('a', () => ({})),
      (e) => isCairnError(e, 'INVALID_ARGUMENT'),
    );
    assert.throws(
      () => sim.crash('zz'),
      (e) => isCairnError(e, 'NOT_FOUND'),
    );
    assert.throws(
      () => sim.restart('a'),
      (e) => isCairnError(e, 'INVALID_ARGUMENT'),
    );
    sim.crash('a');
    assert.throws(
      () => sim.pause('a', 10),
      (e) => isCairnError(e, 'SIM_NODE_DOWN'),
    );
  });

  it('ping nodes answer each other', async () => {
    const sim = new Simulator({ seed: 9 });
    const names = addPingNodes(sim, { nodes: 4, intervalMs: 100 });
    await sim.runFor(1_000);
    for (const n of names) {
      const node = sim.handle<PingNode>(n)!;
      assert.equal(node.pingsSent, 10);
      assert.equal(node.acksReceived, 10);
    }
  });
});
