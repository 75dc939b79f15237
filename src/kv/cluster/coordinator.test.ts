import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, Rng, silentLogger, utf8 } from '../../core/index.js';
import { isKvError } from '../errors.js';
import { HybridClock, nodeTag } from '../hlc.js';
import { inTokenRange, tokenOf } from '../ring/partitioner.js';
import { Ring } from '../ring/ring.js';
import { type Cell, compareVersions, type RingNode } from '../types.js';
import { testKvConfig } from './config.js';
import { Coordinator, type CoordinatorContext } from './coordinator.js';
import { cellDigest } from './digest.js';
import type { KvEngines } from './ports.js';
import type { ReadAnswer, ReplicaClient } from './replica-client.js';
import { SkewMonitor } from './skew.js';

/**
 * The coordinator against scripted replicas (no network, no storage): which replicas a request
 * reaches, how many answers it waits for, what it hints and repairs. Replicas here are maps with
 * a one-line LWW rule (the oracle), each one able to be made to hang or fail.
 */

const newer = (a: Cell | undefined, b: Cell): Cell =>
  a === undefined || compareVersions(b.version, a.version) > 0 ? b : a;

interface FakeReplica {
  cells: Map<string, Cell>;
  /** 'ok' answers at once; 'hang' never answers; 'fail' rejects; 'held' answers when `release` is called. */
  mode: 'ok' | 'hang' | 'fail' | 'held';
  writes: number;
  reads: number;
  held: (() => void)[];
}

function setup(nodes: RingNode[], options: { alive?: (n: string) => boolean } = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  const replicas = new Map<string, FakeReplica>(
    nodes.map((n) => [n.name, { cells: new Map(), mode: 'ok', writes: 0, reads: 0, held: [] }]),
  );
  const hints: { target: string; cell: Cell }[] = [];
  const answer = <T>(name: string, f: (r: FakeReplica) => T): Promise<T> => {
    const r = replicas.get(name)!;
    if (r.mode === 'hang') return new Promise(() => {});
    if (r.mode === 'fail') return Promise.reject(new Error(`${name} is down`));
    if (r.mode === 'held') return new Promise((resolve) => r.held.push(() => resolve(f(r))));
    return Promise.resolve(f(r));
  };
  const write = (target: string, _kind: string, cells: { key: Uint8Array; cell: Cell }[]) =>
    answer(target, (r) => {
      r.writes++;
      for (const c of cells) r.cells.set(String(c.key), newer(r.cells.get(String(c.key)), c.cell));
    });
  const client = {
    write,
    writeThen: (
      target: string,
      kind: string,
      cells: { key: Uint8Array; cell: Cell }[],
      _deadlineMs: number,
      done: (o: { ok: true; value: undefined } | { ok: false; error: unknown }) => void,
    ) =>
      write(target, kind, cells).then(
        () => done({ ok: true, value: undefined }),
        (error: unknown) => done({ ok: false, error }),
      ),
    read: (target: string, key: Uint8Array, digest: boolean): Promise<ReadAnswer> =>
      answer(target, (r) => {
        r.reads++;
        const cell = r.cells.get(String(key));
        return digest ? { digest: cellDigest(cell) } : { cell };
      }),
  } as unknown as ReplicaClient;
  const ring = Ring.build(nodes, 3);
  const engines = {
    tokenOf,
    inTokenRange,
    isLive: (c: Cell) => c.value !== undefined,
    mergeCells: newer,
  } as unknown as KvEngines;
  const ctx: CoordinatorContext = {
    self: 'coord',
    clock,
    rng: Rng.fromSeed(1),
    logger: silentLogger(),
    config: testKvConfig(),
    engines,
    hlc: new HybridClock({ clock, node: nodeTag('coord') }),
    skew: new SkewMonitor(clock, 500, 60_000),
    replicas: client,
    ring: () => ring,
    isAlive: options.alive ?? (() => true),
    hint: (target, _key, cell) => hints.push({ target, cell }),
  };
  return { coordinator: new Coordinator(ctx), replicas, hints, clock, ring };
}

const tokens = (...t: bigint[]) => t;

/** Normal nodes with one token each, 2^60 apart in the order given. */
function normalNodes(...names: string[]): RingNode[] {
  return names.map((name, i) => ({ name, tokens: [BigInt(i + 1) << 60n], status: 'normal' }));
}
const key = utf8('k');

/** Three normal nodes and d joining at the key's own token: d is a pending replica of the key. */
function joiningRing(): RingNode[] {
  return [
    { name: 'a', tokens: tokens(1n << 60n), status: 'normal' },
    { name: 'b', tokens: tokens(2n << 60n), status: 'normal' },
    { name: 'c', tokens: tokens(3n << 60n), status: 'normal' },
    { name: 'd', tokens: tokens(tokenOf(key)), status: 'joining' },
  ];
}

describe('Coordinator', () => {
  it('writes to natural and pending replicas and waits for required + pending acks', async () => {
    const nodes = joiningRing();
    const { coordinator, replicas, ring, clock } = setup(nodes);
    const t = tokenOf(key);
    const pending = ring.pending(t);
    assert.equal(pending.length, 1, "d is pending for the key (its token is the key's)");
    // Two of the four targets hang: 2 acks < 2 + 1 needed.
    const natural = ring.replicas(t);
    replicas.get(natural[0]!)!.mode = 'hang';
    replicas.get(natural[1]!)!.mode = 'hang';
    const failing = coordinator.write(key, utf8('v'), undefined, 'QUORUM');
    const outcome = failing.then(
      () => 'ok',
      (e: unknown) => (isKvError(e, 'TIMEOUT') ? 'timeout' : String(e)),
    );
    await new Promise((r) => setImmediate(r));
    // Not answered yet: it waits for a third ack until the write timeout.
    clock.advance(2_000);
    assert.equal(await outcome, 'timeout');
    replicas.get(natural[1]!)!.mode = 'ok';
    await coordinator.write(key, utf8('v2'), undefined, 'QUORUM');
    assert.equal(replicas.get(pending[0]!)!.writes, 2, 'the pending replica got both writes');
  });

  it('refuses with UNAVAILABLE before sending, and hints replicas membership shows dead', async () => {
    const nodes = normalNodes('a', 'b', 'c');
    let dead = new Set(['b', 'c']);
    const { coordinator, replicas, hints } = setup(nodes, { alive: (n) => !dead.has(n) });
    await assert.rejects(coordinator.write(key, utf8('v'), undefined, 'QUORUM'), (e) =>
      isKvError(e, 'UNAVAILABLE'),
    );
    assert.equal(replicas.get('a')!.writes, 0, 'nothing was sent');
    await coordinator.write(key, utf8('v'), undefined, 'ONE');
    assert.deepEqual(hints.map((h) => h.target).sort(), ['b', 'c']);
    dead = new Set(['c']);
    await coordinator.write(key, utf8('w'), undefined, 'QUORUM');
    assert.deepEqual(hints.map((h) => h.target).sort(), ['b', 'c', 'c']);
  });

  it('answers a ONE read from its own replica alone, and from the others when its own fails', async () => {
    const nodes = normalNodes('coord', 'b', 'c');
    const { coordinator, replicas, clock } = setup(nodes);
    await coordinator.write(key, utf8('v'), undefined, 'ALL');
    assert.deepEqual((await coordinator.read(key, 'ONE'))?.value, utf8('v'));
    assert.deepEqual(
      ['coord', 'b', 'c'].map((n) => replicas.get(n)!.reads),
      [1, 0, 0],
    );
    replicas.get('coord')!.mode = 'fail';
    const read = coordinator.read(key, 'ONE');
    await new Promise((r) => setImmediate(r));
    clock.advance(testKvConfig().speculativeRetryMs);
    assert.deepEqual((await read)?.value, utf8('v'));
    assert.ok(replicas.get('b')!.reads + replicas.get('c')!.reads >= 1);
  });

  it('repairs a stale replica that answered, before the read returns', async () => {
    const nodes = normalNodes('a', 'b', 'c');
    const { coordinator, replicas, clock } = setup(nodes);
    await coordinator.write(key, utf8('v1'), undefined, 'ALL');
    const stale = replicas.get('b')!;
    stale.cells.clear();
    const got = await coordinator.read(key, 'ALL');
    assert.equal(got && Buffer.from(got.value).toString(), 'v1');
    assert.equal(coordinator.stats.readRepairs, 1);
    assert.ok(stale.cells.has(String(key)), 'b holds the value again');
    // A QUORUM read where the freshest replica hangs still answers (from the other two) and
    // never returns something older than what it repaired.
    replicas.get('a')!.mode = 'hang';
    const reading = coordinator.read(key, 'QUORUM');
    // If `a` was among the first two asked, the third is asked after the speculative retry delay.
    await new Promise((r) => setImmediate(r));
    clock.advance(100);
    const again = await reading;
    assert.equal(again && Buffer.from(again.value).toString(), 'v1');
  });

  it('while a range moves, returns a value only once it is on required + pending replicas', async () => {
    const nodes = joiningRing();
    let dead = new Set<string>();
    const { coordinator, replicas, ring } = setup(nodes, { alive: (n) => !dead.has(n) });
    const t = tokenOf(key);
    const [pending] = ring.pending(t);
    const natural = ring.replicas(t);
    // A write that failed part-way left its value on two natural replicas only (not on d).
    const cell: Cell = { version: { wall: 1_700_000_000_000, logical: 0, node: 7 }, value: utf8('partial') };
    for (const n of natural.slice(0, 2)) replicas.get(n)!.cells.set(String(key), cell);
    dead = new Set([natural[2]!]);
    // The two agree, so there is nothing to repair among them; the read still puts the value on
    // d before it answers: after the move, a quorum of d and the third replica must see it.
    const got = await coordinator.read(key, 'QUORUM');
    assert.equal(got && Buffer.from(got.value).toString(), 'partial');
    assert.deepEqual(replicas.get(pending!)!.cells.get(String(key)), cell, 'the pending replica holds it');
    // ONE promises no monotonic reads: nothing is copied.
    replicas.get(pending!)!.cells.clear();
    await coordinator.read(key, 'ONE');
    assert.equal(replicas.get(pending!)!.cells.has(String(key)), false);
    // With the pending replica and one natural down, too few are left to hold it: refused.
    dead = new Set([pending!, natural[2]!]);
    await assert.rejects(coordinator.read(key, 'QUORUM'), (e) => isKvError(e, 'UNAVAILABLE'));
  });

  it('waits past the speculative retry delay when no other replica is left to ask (ALL)', async () => {
    const nodes = normalNodes('a', 'b', 'c');
    const { coordinator, replicas, clock } = setup(nodes);
    await coordinator.write(key, utf8('v1'), undefined, 'ALL');
    const late = replicas.get('c')!;
    late.mode = 'held';
    const reading = coordinator.read(key, 'ALL');
    await new Promise((r) => setImmediate(r));
    clock.advance(150);
    await new Promise((r) => setImmediate(r));
    for (const release of late.held.splice(0)) release();
    const got = await reading;
    assert.equal(got && Buffer.from(got.value).toString(), 'v1');
  });
});
