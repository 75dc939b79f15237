import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CairnError, Rng } from '../../core/index.js';
import { NodeIdentity, simulatedScheme } from '../../security/index.js';
import { Simulator } from '../../sim/index.js';
import type { Address, PacketHandler, Transport } from '../../transport/types.js';
import { testConfig } from '../config.js';
import type { MembershipEvent, UserMessage } from '../types.js';
import { CHANNEL_USER } from '../wire.js';
import { Membership, type MembershipOptions } from './membership.js';

/** Small behaviours of the driver on a 3-node simulation (the full scenarios are in test/sim/). */

/** A transport that keeps a copy of every direct-message packet it receives, to deliver again. */
class Tap {
  readonly captured: Array<{ from: Address; data: Uint8Array }> = [];
  handler: PacketHandler | undefined;

  wrap(inner: Transport): Transport {
    return new Proxy(inner, {
      get: (target, key) => {
        if (key === 'onPacket') {
          return (handler: PacketHandler) => {
            this.handler = handler;
            target.onPacket((from, data) => {
              if (data[0] === CHANNEL_USER) this.captured.push({ from, data: new Uint8Array(data) });
              handler(from, data);
            });
          };
        }
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  /** Delivers `packet` to the tapped node again, as the network would a replayed datagram. */
  replay(packet: { from: Address; data: Uint8Array }): void {
    this.handler!(packet.from, new Uint8Array(packet.data));
  }
}

interface Trio {
  sim: Simulator;
  nodes: Membership[];
  inbox: UserMessage[][];
}

async function trio(
  extra: (i: number) => Partial<MembershipOptions> = () => ({}),
  join = true,
  transport: (i: number, t: Transport) => Transport = (_i, t) => t,
): Promise<Trio> {
  const sim = new Simulator({ seed: 'membership-unit' });
  const nodes: Membership[] = [];
  const inbox: UserMessage[][] = [[], [], []];
  for (let i = 0; i < 3; i++) {
    sim.addNode(`n${i}`, async (ctx) => {
      const m = await Membership.create({
        identity: NodeIdentity.fromSeed(Rng.fromSeed(`unit-${i}`).bytes(32)),
        transport: transport(i, ctx.transport()),
        clock: ctx.clock,
        rng: ctx.rng,
        protocol: testConfig(),
        scheme: simulatedScheme,
        name: `n${i}`,
        ...extra(i),
      });
      m.onMessage((msg) => inbox[i]!.push(msg));
      nodes[i] = m;
      return m;
    });
  }
  await sim.runFor(1);
  if (join) {
    for (const m of nodes.slice(1)) void m.join([sim.addressOf('n0')]);
    const ok = await sim.runUntil(
      () => nodes.every((m) => m.members().filter((x) => x.state === 'alive').length === 3),
      {
        maxMs: 10_000,
      },
    );
    assert.ok(ok, 'three nodes joined');
  }
  return { sim, nodes, inbox };
}

describe('Membership driver', () => {
  it('sends a direct message as a packet, and one larger than a packet over a stream', async () => {
    const { sim, nodes, inbox } = await trio();
    const small = Uint8Array.of(1, 2, 3);
    const large = Rng.fromSeed('big').bytes(10_000);
    nodes[0]!.send(nodes[1]!.id, small);
    nodes[0]!.send(nodes[2]!.id, large);
    await sim.runUntil(() => inbox[1]!.length > 0 && inbox[2]!.length > 0, { maxMs: 5_000 });
    await sim.runFor(500);
    assert.equal(inbox[1]!.length, 1);
    assert.deepEqual(inbox[1]![0], { from: nodes[0]!.id, data: small, kind: 'direct' });
    assert.equal(inbox[2]!.length, 1);
    assert.equal(inbox[2]![0]!.from, nodes[0]!.id);
    assert.deepEqual(inbox[2]![0]!.data, large);
    assert.equal(inbox[0]!.length, 0);
    assert.throws(
      () => nodes[0]!.send(NodeIdentity.fromSeed(new Uint8Array(32)).nodeId, small),
      (e: unknown) => e instanceof CairnError && e.code === 'MEMBERSHIP_UNKNOWN_NODE',
    );
  });

  it('delivers a replayed direct message once, and never to a node it was not sent to', async () => {
    const taps = [new Tap(), new Tap(), new Tap()];
    const { sim, nodes, inbox } = await trio(
      () => ({}),
      true,
      (i, t) => taps[i]!.wrap(t),
    );
    nodes[0]!.send(nodes[1]!.id, Uint8Array.of(7));
    await sim.runUntil(() => inbox[1]!.length > 0, { maxMs: 5_000 });
    const [packet] = taps[1]!.captured;
    assert.ok(packet !== undefined, 'the direct packet was captured');
    for (let i = 0; i < 3; i++) taps[1]!.replay(packet);
    taps[2]!.replay(packet); // the same signed bytes, sent to another member
    assert.equal(inbox[1]!.length, 1);
    assert.equal(inbox[2]!.length, 0);
    assert.equal(nodes[1]!.stats.directRefused, 3);
    assert.equal(nodes[2]!.stats.directRefused, 1);
    // Later messages of the same sender still arrive, once each.
    nodes[0]!.send(nodes[1]!.id, Uint8Array.of(8));
    await sim.runUntil(() => inbox[1]!.length > 1, { maxMs: 5_000 });
    assert.deepEqual(
      inbox[1]!.map((m) => [...m.data]),
      [[7], [8]],
    );
  });

  it('delivers a broadcast to every other node exactly once', async () => {
    const { sim, nodes, inbox } = await trio();
    nodes[1]!.broadcast(Uint8Array.of(42));
    nodes[1]!.broadcast(Uint8Array.of(43));
    await sim.runFor(3_000); // long enough for every retransmission and re-gossip
    for (const i of [0, 2]) {
      assert.deepEqual(
        inbox[i]!.map((m) => [m.from, m.kind, [...m.data]]).sort((a, b) => Number(a[2]) - Number(b[2])),
        [
          [nodes[1]!.id, 'broadcast', [42]],
          [nodes[1]!.id, 'broadcast', [43]],
        ],
        `n${i} inbox`,
      );
    }
    assert.equal(inbox[1]!.length, 0, 'the origin does not hear its own broadcast');
    assert.throws(
      () => nodes[1]!.broadcast(new Uint8Array(5_000)),
      (e: unknown) => e instanceof CairnError && e.code === 'LIMIT_EXCEEDED',
    );
  });

  it('delivers a broadcast too large for its own packets without relaying it (no throw)', async () => {
    const small = testConfig();
    const { sim, nodes, inbox } = await trio((i) =>
      i === 1 ? { protocol: { ...small, swim: { ...small.swim, mtu: 600 } } } : {},
    );
    const data = Rng.fromSeed('wide').bytes(900);
    nodes[0]!.broadcast(data);
    await sim.runUntil(() => inbox[1]!.length > 0 && inbox[2]!.length > 0, { maxMs: 5_000 });
    assert.deepEqual(
      inbox.map((box) => box.map((m) => m.data.length)),
      [[], [900], [900]],
    );
    assert.equal(nodes[1]!.stats.malformed, 0);
  });

  it('shows initial state to every node after the join', async () => {
    const { sim, nodes } = await trio((i) =>
      i === 2 ? { initialState: { zone: 'eu-1', raw: Uint8Array.of(9) } } : {},
    );
    const has = (m: Membership) => m.lookup(nodes[2]!.id, 'zone') === 'eu-1';
    const atJoin = nodes.map(has);
    // Gossip brings it to the node that did not sync with n2 soon after.
    assert.ok(
      await sim.runUntil(() => nodes.every(has), { maxMs: 2_000 }),
      `every node has it (at join: ${atJoin})`,
    );
    for (const m of nodes) {
      assert.equal(m.lookup(nodes[2]!.id, 'zone'), 'eu-1');
      const meta = m.member(nodes[2]!.id)?.metadata ?? {};
      assert.equal(meta.zone, 'eu-1');
      assert.ok(meta.raw instanceof Uint8Array, 'bytes stay bytes');
      assert.deepEqual([...meta.raw], [9]);
    }
    assert.equal(nodes[2]!.local.get('zone'), 'eu-1');
  });

  it('an events iterator sees join, update and dead', async () => {
    const { sim, nodes } = await trio(() => ({}), false);
    const seen: MembershipEvent[] = [];
    const controller = new AbortController();
    const done = (async () => {
      for await (const e of nodes[0]!.events({ signal: controller.signal })) seen.push(e);
    })();
    for (const m of nodes.slice(1)) void m.join([sim.addressOf('n0')]);
    await sim.runUntil(() => seen.filter((e) => e.type === 'join').length === 2, { maxMs: 10_000 });
    nodes[1]!.local.set('k', 'v');
    await sim.runUntil(() => seen.some((e) => e.type === 'update'), { maxMs: 5_000 });
    sim.crash('n2');
    await sim.runUntil(() => seen.some((e) => e.type === 'dead'), { maxMs: 20_000 });
    controller.abort();
    await done;
    const joins = seen.filter((e) => e.type === 'join').map((e) => (e.type === 'join' ? e.member.id : ''));
    assert.deepEqual(new Set(joins), new Set([nodes[1]!.id, nodes[2]!.id]));
    const update = seen.find((e) => e.type === 'update');
    assert.deepEqual(update && { ...update, version: 0 }, {
      type: 'update',
      node: nodes[1]!.id,
      key: 'k',
      value: 'v',
      version: 0,
    });
    const dead = seen.find((e) => e.type === 'dead');
    assert.equal(dead?.type === 'dead' && dead.member.id, nodes[2]!.id);
  });

  it('shutdown stops every timer and later calls throw CLOSED', async () => {
    const { sim, nodes } = await trio();
    for (const m of nodes) await m.shutdown();
    await nodes[0]!.shutdown(); // idempotent
    // Let in-flight packets land and cancelled timers drain, then nothing may run any more.
    await sim.runFor(5_000);
    const events = sim.eventCount;
    await sim.runFor(60_000);
    assert.equal(sim.eventCount, events, 'no event ran after the shutdown');
    assert.equal(sim.nextEventAt(), undefined, 'the queue drained');
    const closed = (e: unknown) => e instanceof CairnError && e.code === 'CLOSED';
    const m = nodes[0]!;
    await assert.rejects(m.join([sim.addressOf('n1')]), closed);
    await assert.rejects(m.leave(100), closed);
    assert.throws(() => m.send(nodes[1]!.id, Uint8Array.of(1)), closed);
    assert.throws(() => m.broadcast(Uint8Array.of(1)), closed);
    assert.throws(() => m.local.set('k', 'v'), closed);
    assert.throws(() => m.local.delete('k'), closed);
  });
});
