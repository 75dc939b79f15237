import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError, Rng } from '../../core/index.js';
import { NodeIdentity, simulatedScheme } from '../../security/index.js';
import { testSwimConfig } from './config.js';
import { SwimCore } from './core.js';
import { aliveOf } from './harness.test-helper.js';
import { swimLimits } from './limits.js';
import {
  createSwimSigner,
  decodeSwimMessage,
  isBroadcastMessage,
  makeDeadRecord,
  makeSuspectRecord,
  openBroadcast,
  type SwimMessage,
  type VerifiedBroadcast,
} from './messages.js';
import { memberBroadcastKey } from './outbox.js';
import type { SwimEffects, SwimInput } from './types.js';

const config = testSwimConfig({ tcpFallback: true });
const ids = Array.from({ length: 6 }, (_, i) => NodeIdentity.fromSeed(new Uint8Array(32).fill(i + 1)));
const addr = (i: number) => `10.0.0.${i}:7946`;

function makeCore(i: number, overrides: Partial<ConstructorParameters<typeof SwimCore>[0]> = {}): SwimCore {
  return new SwimCore({
    self: { address: addr(i), name: `n${i}`, generation: 100 + i },
    signer: createSwimSigner(ids[i]!, simulatedScheme),
    config,
    rng: Rng.fromSeed(`core-${i}`),
    ...overrides,
  });
}

function messages(fx: SwimEffects, to?: string): SwimMessage[] {
  const out: SwimMessage[] = [];
  for (const p of fx.packets) {
    if (to !== undefined && p.to !== to) continue;
    for (const part of p.parts) {
      const m = decodeSwimMessage(part);
      assert.ok(m.ok);
      out.push(m.value);
    }
  }
  return out;
}

/** Feeds every message of `fx` addressed to `to` into `core` as from `from`. */
function deliver(fx: SwimEffects, from: string, to: string, core: SwimCore, now: number): SwimEffects[] {
  const out: SwimEffects[] = [];
  for (const m of messages(fx, to)) {
    let message: SwimInput;
    if (m.type === 'User') continue;
    if (isBroadcastMessage(m)) {
      const opened = openBroadcast(m, simulatedScheme);
      assert.ok(opened.ok);
      message = { type: 'message', from, message: opened.value };
    } else {
      message = { type: 'message', from, message: m };
    }
    out.push(core.step(message, now));
  }
  return out;
}

/** A cluster of `n` started cores that all know each other. */
function cluster(n: number): SwimCore[] {
  const cores = Array.from({ length: n }, (_, i) => makeCore(i));
  for (const c of cores) c.step({ type: 'start' }, 0);
  const all = cores.flatMap((c) => aliveOf(c).filter((m) => m.node === c.selfId));
  for (const c of cores) c.step({ type: 'join', members: all }, 0);
  return cores;
}

/** Ticks `core` until it sends a Ping; returns the time and the effects. */
function untilPing(
  core: SwimCore,
  from: number,
): { now: number; fx: SwimEffects; ping: SwimMessage & { type: 'Ping' } } {
  let now = from;
  for (let i = 0; i < 100; i++) {
    const fx = core.step({ type: 'tick' }, now);
    const ping = messages(fx).find((m) => m.type === 'Ping');
    if (ping !== undefined && ping.type === 'Ping') return { now, fx, ping };
    now = fx.timerAtMs ?? now + 1;
  }
  throw new Error('no ping within 100 ticks');
}

describe('SwimCore', () => {
  it('picks alive peers uniformly (never itself or a suspect) and counts the members up', () => {
    const [a, b, c, d] = cluster(4) as [SwimCore, SwimCore, SwimCore, SwimCore];
    assert.equal(a.upMembers, 4);
    a.step({ type: 'suspect', id: b.selfId }, 1000);
    assert.equal(a.upMembers, 4, 'a suspect is still up');
    const rng = Rng.fromSeed('peers');
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const id = a.randomAlivePeer(rng)!.id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), [c.selfId, d.selfId].sort());
    for (const n of counts.values()) assert.ok(n > 900 && n < 1100, `uneven pick: ${[...counts.values()]}`);
    // One alive peer among four entries: eight random tries often miss it, so the exact fallback
    // runs too; every pick is still that peer.
    a.step({ type: 'suspect', id: c.selfId }, 1000);
    for (let i = 0; i < 200; i++) assert.equal(a.randomAlivePeer(rng)?.id, d.selfId);
    assert.equal(a.hasAlivePeer(), true);
    assert.equal(a.knows(b.selfId), true, 'a suspect is still known');
    const lone = makeCore(5);
    lone.step({ type: 'start' }, 0);
    assert.equal(lone.randomAlivePeer(rng), undefined);
    assert.equal(lone.hasAlivePeer(), false);
    assert.equal(lone.knows(b.selfId), false);
    assert.equal(lone.upMembers, 1);
  });

  it('refuses inputs before start and bad API arguments', () => {
    const core = makeCore(0);
    assert.throws(
      () => core.step({ type: 'tick' }, 0),
      (e: unknown) => isCairnError(e, 'INVALID_ARGUMENT'),
    );
    const fx = core.step({ type: 'start' }, 0);
    assert.ok(fx.timerAtMs !== undefined && fx.timerAtMs < config.probeIntervalMs);
    assert.ok(core.isBroadcastPending(memberBroadcastKey(core.selfId)), 'own alive queued');
    assert.throws(
      () => core.step({ type: 'update-local', name: 'x'.repeat(1000) }, 0),
      (e: unknown) => isCairnError(e, 'INVALID_ARGUMENT'),
    );
    // A name or address this node could not announce (peers refuse them at decode) is refused here.
    for (const update of [{ name: 'row\nforged' }, { address: 'no-port' }]) {
      assert.throws(
        () => core.step({ type: 'update-local', ...update }, 0),
        (e: unknown) => isCairnError(e, 'INVALID_ARGUMENT'),
      );
    }
    assert.throws(
      () => core.step({ type: 'broadcast', key: 'k', data: new Uint8Array(2000) }, 0),
      (e: unknown) => isCairnError(e, 'LIMIT_EXCEEDED'),
    );
    assert.throws(
      () => makeCore(1, { config: { ...config, mtu: 10 } }),
      (e: unknown) => isCairnError(e, 'INVALID_CONFIG'),
    );
  });

  it('acks a ping addressed to it and drops a misdirected one', () => {
    const [a, b] = cluster(2) as [SwimCore, SwimCore];
    const fx = b.step(
      { type: 'message', from: addr(0), message: { type: 'Ping', seq: 9, target: b.selfId, from: a.selfId } },
      1,
    );
    const ack = messages(fx, addr(0)).find((m) => m.type === 'Ack');
    assert.deepEqual(ack, { type: 'Ack', seq: 9, from: b.selfId, members: 2 });
    const wrong = b.step(
      {
        type: 'message',
        from: addr(0),
        message: { type: 'Ping', seq: 10, target: a.selfId, from: a.selfId },
      },
      1,
    );
    assert.equal(wrong.packets.length, 0);
    assert.equal(b.counters.misdirectedPings, 1);
  });

  it('probes, goes indirect at the probe timeout, and suspects without any ack', () => {
    const cores = cluster(5);
    const a = cores[0]!;
    const { now, ping } = untilPing(a, 0);
    const target = ping.type === 'Ping' ? ping.target : '';
    // No ack: at the probe timeout, PingReqs to 3 other members and a TCP fallback request.
    const t1 = now + config.probeTimeoutMs;
    const fx = a.step({ type: 'tick' }, t1);
    const reqs = fx.packets.filter((p) =>
      messages({ ...fx, packets: [p] }).some((m) => m.type === 'PingReq'),
    );
    assert.equal(reqs.length, 3);
    assert.equal(fx.fallbackProbes.length, 1);
    assert.equal(fx.fallbackProbes[0]!.target, target);
    // One relay nacks; the probe interval ends without an ack: suspect, awareness +2 (missed nacks).
    a.step(
      { type: 'message', from: reqs[0]!.to, message: { type: 'Nack', seq: ping.seq, from: ids[4]!.nodeId } },
      t1 + 5,
    );
    a.step({ type: 'fallback-failed', seq: ping.seq }, t1 + 10);
    const end = a.step({ type: 'tick' }, now + config.probeIntervalMs);
    assert.deepEqual(
      end.events.map((e) => [e.type, e.member.id]),
      [['suspect', target]],
    );
    assert.equal(a.awareness, 2);
    assert.equal(a.counters.nacksMissed, 2);
    assert.equal(a.member(target)?.status, 'suspect');
  });

  it('counts a late direct or TCP ack as success and lowers awareness only for a timely one', () => {
    const cores = cluster(3);
    const a = cores[0]!;
    const { now, ping } = untilPing(a, 0);
    a.step({ type: 'tick' }, now + config.probeTimeoutMs);
    a.step({ type: 'fallback-ack', seq: ping.seq }, now + config.probeTimeoutMs + 1);
    const end = a.step({ type: 'tick' }, now + config.probeIntervalMs);
    assert.equal(end.events.length, 0);
    assert.equal(a.counters.fallbackOnlyAcks, 1);
    assert.equal(a.counters.probesFailed, 0);
  });

  it('relays a PingReq: forwards the ack, or nacks at 80% of the probe timeout', () => {
    const [a, b, c] = cluster(3) as [SwimCore, SwimCore, SwimCore];
    const req = {
      type: 'PingReq' as const,
      seq: 77,
      target: c.selfId,
      targetAddress: addr(2),
      from: a.selfId,
    };
    const fx = b.step({ type: 'message', from: addr(0), message: req }, 1000);
    const ping = messages(fx, addr(2)).find((m) => m.type === 'Ping');
    assert.ok(ping?.type === 'Ping' && ping.target === c.selfId);
    const acked = b.step(
      { type: 'message', from: addr(2), message: { type: 'Ack', seq: ping.seq, from: c.selfId } },
      1005,
    );
    assert.deepEqual(
      messages(acked, addr(0)).find((m) => m.type === 'Ack'),
      { type: 'Ack', seq: 77, from: b.selfId },
    );
    // A second request that gets no answer: Nack at 1010 + 0.8 * probeTimeout.
    b.step({ type: 'message', from: addr(0), message: { ...req, seq: 78 } }, 1010);
    const nackAt = 1010 + Math.floor(config.probeTimeoutMs * 0.8);
    assert.ok(b.deadlines().some((d) => d.key.startsWith('r:') && d.atMs === nackAt));
    assert.equal(
      messages(b.step({ type: 'tick' }, nackAt - 1), addr(0)).filter((m) => m.type === 'Nack').length,
      0,
    );
    const nack = b.step({ type: 'tick' }, nackAt);
    assert.deepEqual(
      messages(nack, addr(0)).find((m) => m.type === 'Nack'),
      { type: 'Nack', seq: 78, from: b.selfId },
    );
  });

  it('refutes a suspicion of itself with a higher incarnation', () => {
    const [a, b] = cluster(2) as [SwimCore, SwimCore];
    const record = makeSuspectRecord(
      ids[0]!,
      { target: b.selfId, generation: 101, incarnation: 0 },
      simulatedScheme,
    );
    const suspect: VerifiedBroadcast = {
      type: 'Suspect',
      from: a.selfId,
      target: b.selfId,
      generation: 101,
      incarnation: 0,
      record,
    };
    b.step({ type: 'message', from: addr(0), message: suspect }, 5);
    assert.equal(b.incarnation, 1);
    assert.equal(b.counters.refutations, 1);
    // The refutation rides on the next packet b sends (here: its ack to a ping).
    const fx = b.step(
      { type: 'message', from: addr(0), message: { type: 'Ping', seq: 1, target: b.selfId, from: a.selfId } },
      6,
    );
    const alive = messages(fx).find((m) => m.type === 'Alive');
    assert.ok(alive?.type === 'Alive' && alive.record.node === b.selfId && alive.record.version === 1);
    // a had b suspected; the refutation clears it.
    a.step({ type: 'message', from: addr(1), message: suspect }, 5);
    assert.equal(a.member(b.selfId)?.status, 'suspect');
    const [res] = deliver(fx, addr(1), addr(0), a, 7).slice(-1);
    assert.equal(a.member(b.selfId)?.status, 'alive');
    assert.ok(res !== undefined);
    // A stale accusation (incarnation 0 < 1) gets the current alive straight back to its sender.
    const again = b.step({ type: 'message', from: addr(0), message: suspect }, 8);
    assert.equal(b.incarnation, 1);
    const back = messages(again, addr(0)).find((m) => m.type === 'Alive');
    assert.ok(back?.type === 'Alive' && back.record.version === 1);
  });

  it('drops accusations of another member signed by a node it does not list', () => {
    const [a, b, c] = cluster(3) as [SwimCore, SwimCore, SwimCore];
    const accuse = (signer: number, type: 'Suspect' | 'Dead'): VerifiedBroadcast => {
      const fields = { target: b.selfId, generation: 101, incarnation: 0 };
      const record = (type === 'Dead' ? makeDeadRecord : makeSuspectRecord)(
        ids[signer]!,
        fields,
        simulatedScheme,
      );
      return { type, from: ids[signer]!.nodeId, record, ...fields };
    };
    // ids[5] never joined: its signed suspicions and deaths of b change nothing on a.
    for (const type of ['Suspect', 'Dead'] as const) {
      const fx = a.step({ type: 'message', from: addr(5), message: accuse(5, type) }, 1);
      assert.deepEqual(fx.events, []);
      assert.equal(fx.packets.length, 0, 'nothing relayed');
    }
    assert.equal(a.member(b.selfId)?.status, 'alive');
    assert.equal(a.counters.strangerAccusations, 2);
    // The same accusation signed by a member counts.
    const fx = a.step({ type: 'message', from: addr(2), message: accuse(2, 'Dead') }, 2);
    assert.deepEqual(
      fx.events.map((e) => e.type),
      ['dead'],
    );
    assert.equal(a.member(b.selfId)?.status, 'dead');
    assert.ok(c.member(b.selfId)?.status === 'alive');
  });

  it('sends the accusation with pings to a suspect (buddy system)', () => {
    const cores = cluster(2);
    const [a, b] = cores as [SwimCore, SwimCore];
    const record = makeSuspectRecord(
      ids[0]!,
      { target: b.selfId, generation: 101, incarnation: 0 },
      simulatedScheme,
    );
    a.step(
      {
        type: 'message',
        from: addr(0),
        message: {
          type: 'Suspect',
          from: a.selfId,
          target: b.selfId,
          generation: 101,
          incarnation: 0,
          record,
        },
      },
      0,
    );
    const { fx } = untilPing(a, 1);
    const parts = messages(fx, addr(1));
    assert.equal(parts[0]!.type, 'Ping');
    assert.equal(parts[1]!.type, 'Suspect');
  });

  it('ignores stale claims and counts them', () => {
    const [a, b] = cluster(2) as [SwimCore, SwimCore];
    const old = aliveOf(b).find((m) => m.node === b.selfId)!;
    b.step({ type: 'update-local', address: '10.9.9.9:7946' }, 1);
    const fresh = aliveOf(b).find((m) => m.node === b.selfId)!;
    const fx = a.step({ type: 'message', from: addr(1), message: fresh }, 2);
    assert.deepEqual(
      fx.events.map((e) => [e.type, e.member.address]),
      [['update', '10.9.9.9:7946']],
    );
    a.step({ type: 'message', from: addr(1), message: old }, 3);
    assert.equal(a.member(b.selfId)?.address, '10.9.9.9:7946');
    assert.equal(a.counters.staleClaims, 1);
  });

  it('rejects members over maxMembers and counts them', () => {
    const small = makeCore(0, { limits: swimLimits({ maxMembers: 2 }) });
    small.step({ type: 'start' }, 0);
    const others = [1, 2, 3].map((i) => {
      const c = makeCore(i);
      c.step({ type: 'start' }, 0);
      return aliveOf(c)[0]!;
    });
    small.step({ type: 'join', members: others }, 0);
    assert.equal(small.size, 2);
    assert.equal(small.counters.membersRejected, 2);
  });

  it('takes suspicions from another detector when probing is off', () => {
    const a = makeCore(0, { config: testSwimConfig({ probing: false }) });
    const b = makeCore(1);
    a.step({ type: 'start' }, 0);
    b.step({ type: 'start' }, 0);
    a.step({ type: 'join', members: aliveOf(b) }, 0);
    assert.ok(!a.deadlines().some((d) => d.key === 'probe'), 'no probe timer');
    for (let now = 0; now < 2000; now += 20) {
      const fx = a.step({ type: 'tick' }, now);
      assert.ok(!messages(fx).some((m) => m.type === 'Ping'));
    }
    const fx = a.step({ type: 'suspect', id: b.selfId }, 2000);
    assert.deepEqual(
      fx.events.map((e) => e.type),
      ['suspect'],
    );
    a.step({ type: 'suspect', id: 'x'.repeat(52) }, 2000);
    assert.equal(a.counters.unknownSubjects, 1);
    const dead = a.step({ type: 'tick' }, 2000 + config.suspicionMult * config.probeIntervalMs);
    assert.deepEqual(
      dead.events.map((e) => e.type),
      ['dead'],
    );
  });

  it('gossips a death at once, where it is declared and where it is first learned', () => {
    // Gossip ticks far apart: any Dead sent below is the eager push, not a gossip round.
    const slow = testSwimConfig({ gossipIntervalMs: 1_000_000 });
    const cores = [0, 1, 2, 3, 4].map((i) => makeCore(i, { config: slow }));
    for (const c of cores) c.step({ type: 'start' }, 0);
    const all = cores.flatMap((c) => aliveOf(c).filter((m) => m.node === c.selfId));
    for (const c of cores) c.step({ type: 'join', members: all }, 0);
    const [a, b, c] = cores as [SwimCore, SwimCore, SwimCore];
    const deadTo = (fx: SwimEffects) =>
      fx.packets.filter((p) => messages({ ...fx, packets: [p] }).some((m) => m.type === 'Dead'));
    // Declared: a suspects b (as another detector would), the suspicion times out.
    a.step({ type: 'suspect', id: b.selfId }, 10);
    const deathAt = a.deadlines().find((d) => d.key === `s:${b.selfId}`)?.atMs;
    assert.ok(deathAt !== undefined);
    assert.ok((a.deadlines().find((d) => d.key === 'gossip')?.atMs ?? 0) > deathAt, 'no gossip tick due');
    let declared: SwimEffects | undefined;
    for (let now = 10, i = 0; i < 1000 && declared === undefined; i++) {
      const fx = a.step({ type: 'tick' }, now);
      if (fx.events.some((e) => e.type === 'dead')) declared = fx;
      now = Math.min(fx.timerAtMs ?? deathAt, deathAt);
    }
    assert.ok(declared !== undefined, 'b declared dead');
    assert.equal(deadTo(declared).length, slow.gossipNodes);
    // Learned: c forwards the first Dead it hears of at once, and a repeat not again.
    const dead = messages(declared).find((m) => m.type === 'Dead');
    assert.ok(dead?.type === 'Dead');
    const opened = openBroadcast(dead, simulatedScheme);
    assert.ok(opened.ok);
    const learned = c.step({ type: 'message', from: addr(0), message: opened.value }, deathAt + 1);
    assert.deepEqual(
      learned.events.map((e) => e.type),
      ['dead'],
    );
    assert.ok(deadTo(learned).length >= 1, 'forwarded in the same step');
    const again = c.step({ type: 'message', from: addr(3), message: opened.value }, deathAt + 2);
    assert.equal(again.packets.length, 0);
  });

  it('piggybacks opaque broadcasts of the layer above and gossips eagerly on request', () => {
    const [a] = cluster(3) as [SwimCore];
    const fx = a.step({ type: 'broadcast', key: 'kv:x', data: new Uint8Array([7, 7]), eager: true }, 1);
    const users = messages(fx).filter((m) => m.type === 'User');
    assert.ok(users.length >= 1);
    assert.ok(users[0]?.type === 'User');
    assert.deepEqual([...users[0].data], [7, 7]);
  });
});
