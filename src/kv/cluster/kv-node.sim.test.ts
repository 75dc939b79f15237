import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromUtf8, isCairnError, utf8, v } from '../../core/index.js';
import { defineMethod, RpcClient } from '../../rpc/index.js';
import { Simulator } from '../../sim/index.js';
import { isKvError } from '../errors.js';
import type { Consistency } from '../types.js';
import { DEFAULT_LIMITS as KV_CLUSTER_LIMITS } from './config.js';
import { defaultEngines } from './engines.js';
import type { KvNode } from './kv-node.js';
import type { KvEngines } from './ports.js';
import { SimKvCluster, type SimKvClusterOptions } from './testing.js';

/**
 * KvNodes on the simulator (simulated network, disks and clocks; a fake membership the test
 * drives). Each scenario is deterministic for its seed; replay one with
 * `CAIRN_SEED=<seed> node --import tsx --test src/kv/cluster/kv-node.sim.test.ts`.
 */

const SEED = process.env.CAIRN_SEED ?? '1';

/** Engines whose hint store keeps nothing: replicas stay stale until read repair or anti-entropy. */
const noHints: KvEngines = {
  ...defaultEngines,
  openHintStore: async (options) => {
    const real = await defaultEngines.openHintStore(options);
    return { ...bind(real), add: async () => false };
  },
};

function bind<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  let proto: object | null = o;
  while (proto !== null && proto !== Object.prototype) {
    for (const k of Object.getOwnPropertyNames(proto)) {
      const value = (o as Record<string, unknown>)[k];
      if (k !== 'constructor' && typeof value === 'function' && !(k in out)) out[k] = value.bind(o);
    }
    proto = Object.getPrototypeOf(proto);
  }
  return out as T;
}

async function cluster(names: readonly string[], options: SimKvClusterOptions = {}): Promise<SimKvCluster> {
  const sim = new Simulator({ seed: `${SEED}:${names.join('')}` });
  const c = new SimKvCluster(sim, options);
  // Started together, before any advert is out: every node finds an empty ring and starts normal,
  // as a fresh cluster's bootstrap does.
  await c.addAll(names);
  return c;
}

/** Whether node `via` has `name` on its ring. */
function onRing(c: SimKvCluster, via: string, name: string): boolean {
  return c
    .node(via)
    .ring()
    .nodes.some((x) => x.name === name);
}

/** Node `via`'s ring as text, sorted: names joined by commas, or with `full` each node's status and tokens too. */
function ringText(c: SimKvCluster, via: string, full: boolean): string {
  const nodes = c.node(via).ring().nodes;
  return full
    ? nodes
        .map((x) => `${x.name}:${x.status}:${x.tokens.join(',')}`)
        .sort()
        .join(' ')
    : nodes
        .map((x) => x.name)
        .sort()
        .join(',');
}

const k = (i: number | string) => utf8(`key-${i}`);

async function readOne(c: SimKvCluster, via: string, key: Uint8Array): Promise<string | undefined> {
  const got = await c.run(c.node(via).get(key, { consistency: 'ONE' }));
  return got === undefined ? undefined : fromUtf8(got.value);
}

async function put(
  c: SimKvCluster,
  via: string,
  key: Uint8Array,
  value: string,
  level: Consistency = 'QUORUM',
) {
  await c.run(c.node(via).put(key, utf8(value), { consistency: level }));
}

describe(`KvNode on the simulator (seed=${SEED})`, () => {
  it('a quorum write survives a dead replica, and its hint is replayed when it comes back', async () => {
    const c = await cluster(['a', 'b', 'c']);
    c.crash('c');
    await put(c, 'a', k(1), 'one');
    await c.run(c.node('a').flushHints());
    assert.ok((c.node('a').status().hintsPending.c ?? 0) > 0, 'a holds a hint for c');
    assert.equal(await c.run(c.node('a').get(k(1))).then((e) => e && fromUtf8(e.value)), 'one');
    await c.restart('c');
    const replayed = await c.sim.runUntil(() => c.node('a').status().hintsPending.c === undefined, {
      maxMs: 30_000,
    });
    assert.ok(replayed, 'the hint was delivered');
    assert.equal(c.node('a').status().handoff.delivered, 1);
    assert.equal(await readOne(c, 'c', k(1)), 'one', 'c has the write without any read repair');
    assert.equal(c.node('c').status().coordinator.readRepairs, 0);
  });

  it('a node that left membership with its tokens (a clean stop) stays on the ring and is hinted', async () => {
    const c = await cluster(['a', 'b', 'c']);
    c.sim.crash('c');
    c.membership.setState('c', 'left');
    c.node('a').status(); // the view changed: the ring is rebuilt from it
    assert.ok(
      c
        .node('a')
        .ring()
        .nodes.some((n) => n.name === 'c'),
      'c keeps its ranges while it is away',
    );
    await put(c, 'a', k(9), 'while-away');
    await c.run(c.node('a').flushHints());
    assert.ok((c.node('a').status().hintsPending.c ?? 0) > 0, 'the write for c is hinted, not moved');
  });

  it('fails fast with UNAVAILABLE when too few replicas are alive, and with TIMEOUT when they do not answer', async () => {
    const c = await cluster(['a', 'b', 'c']);
    c.crash('b');
    c.crash('c');
    await assert.rejects(c.run(c.node('a').put(k(2), utf8('x'))), (e) => isKvError(e, 'UNAVAILABLE'));
    await put(c, 'a', k(2), 'x', 'ONE');
    await c.restart('b');
    await c.restart('c');
    c.sim.network.isolate('a');
    await assert.rejects(c.run(c.node('a').put(k(3), utf8('y'))), (e) => isKvError(e, 'TIMEOUT'));
    await assert.rejects(c.run(c.node('a').get(k(3))), (e) => isKvError(e, 'TIMEOUT'));
    c.sim.network.heal();
    await c.sim.runFor(2_000); // past the rpc client's redial backoff
    await put(c, 'a', k(3), 'z');
    assert.equal(await c.run(c.node('b').get(k(3))).then((e) => e && fromUtf8(e.value)), 'z');
  });

  it('read repair fixes a stale replica before the read answers', async () => {
    const c = await cluster(['a', 'b', 'c'], { nodeOptions: () => ({ engines: noHints }) });
    c.crash('c');
    await put(c, 'a', k(1), 'v1');
    await c.restart('c');
    assert.equal(await readOne(c, 'c', k(1)), undefined, 'c missed the write');
    // A QUORUM read coordinated by c: c's own (stale) data and a digest that disagrees.
    const got = await c.run(c.node('c').get(k(1)));
    assert.equal(got && fromUtf8(got.value), 'v1');
    assert.equal(c.node('c').status().coordinator.readRepairs, 1);
    assert.equal(await readOne(c, 'c', k(1)), 'v1', 'c was repaired before the read answered');
    // Tombstones are repaired the same way.
    c.crash('b');
    await c.run(c.node('a').put(k(1), undefined));
    await c.restart('b');
    assert.equal(await readOne(c, 'b', k(1)), 'v1');
    assert.equal(await c.run(c.node('b').get(k(1))), undefined);
    assert.equal(await readOne(c, 'b', k(1)), undefined, 'the delete reached b');
  });

  it('anti-entropy converges replicas that diverged, streaming only what differs', async () => {
    const c = await cluster(['a', 'b', 'c'], { nodeOptions: () => ({ engines: noHints }) });
    for (let i = 0; i < 20; i++) await put(c, 'a', k(i), `old-${i}`, 'ALL');
    c.crash('c');
    for (let i = 0; i < 40; i++) await put(c, 'a', k(i), `new-${i}`);
    for (let i = 0; i < 5; i++) await c.run(c.node('a').put(k(i), undefined));
    await c.restart('c');
    assert.equal(await readOne(c, 'c', k(10)), 'old-10');
    await c.run(c.node('c').repair());
    const ae = c.node('c').status().antiEntropy;
    assert.ok(ae.rangesDiffering > 0 && ae.cellsPulled > 0, JSON.stringify(ae));
    for (let i = 0; i < 40; i++) {
      assert.equal(await readOne(c, 'c', k(i)), i < 5 ? undefined : `new-${i}`, `key ${i} on c`);
    }
    // A second round finds nothing to stream.
    const before = c.node('c').status().antiEntropy.rangesDiffering;
    await c.run(c.node('c').repair());
    assert.equal(c.node('c').status().antiEntropy.rangesDiffering, before);
  });

  it('periodic anti-entropy carries a delete to a stale replica within the grace period, then purges it', async () => {
    const c = await cluster(['a', 'b', 'c'], {
      config: { antiEntropyIntervalMs: 2_000, gcGraceMs: 20_000 },
      nodeOptions: () => ({ engines: noHints }),
    });
    await put(c, 'a', k(1), 'doomed', 'ALL');
    c.crash('c');
    await c.run(c.node('a').put(k(1), undefined));
    await c.restart('c');
    assert.equal(await readOne(c, 'c', k(1)), 'doomed', 'c missed the delete');
    // Rounds run on their own timer; within the grace period the tombstone reaches c.
    await c.sim.runFor(6_000);
    assert.equal(await readOne(c, 'c', k(1)), undefined, 'the tombstone reached c before any purge');
    // Past the grace period every replica purges it, and nothing brings the value back.
    await c.sim.runFor(30_000);
    const purged = ['a', 'b', 'c'].map((n) => c.node(n).status().antiEntropy.purged);
    assert.ok(
      purged.every((p) => p >= 1),
      `purged ${purged}`,
    );
    assert.equal(await c.run(c.node('b').get(k(1), { consistency: 'ALL' })), undefined);
    for (const n of ['a', 'b', 'c']) assert.equal(await readOne(c, n, k(1)), undefined, `${n} after purge`);
  });

  it('scans every live key once or more, in pages, skipping deleted ones', async () => {
    const c = await cluster(['a', 'b', 'c']);
    const live = new Set<string>();
    for (let i = 0; i < 60; i++) {
      await put(c, 'a', k(i), `v${i}`);
      live.add(`key-${i}`);
    }
    for (let i = 0; i < 60; i += 7) {
      await c.run(c.node('b').put(k(i), undefined));
      live.delete(`key-${i}`);
    }
    const seen = new Set<string>();
    let cursor = 0n;
    let pages = 0;
    do {
      const page = await c.run(c.node('c').scan(cursor, { count: 8 }));
      for (const key of page.keys) seen.add(fromUtf8(key));
      cursor = page.cursor;
      pages++;
    } while (cursor !== 0n && pages < 500);
    assert.deepEqual([...seen].sort(), [...live].sort());
    assert.ok(pages > 3, `${pages} pages`);
    const size = await c.run(c.node('a').approximateSize());
    assert.ok(size > 0);
  });

  it('a node whose clock is far off refuses to coordinate and says why; replicas refuse its versions', async () => {
    const c = await cluster(['a', 'b', 'c']);
    // A restarted node reads its skewed clock at once (a running one never steps back).
    c.sim.setClockSkew('c', { offsetMs: -5_000 });
    c.crash('c');
    await c.restart('c');
    // The first request teaches c its peers' readings (its write lands: behind is not refused).
    await c.run(c.node('c').put(k(1), utf8('x'))).catch(() => {});
    await c.sim.runFor(100); // the last answer's reading
    await assert.rejects(
      c.run(c.node('c').put(k(1), utf8('y'))),
      (e) => isKvError(e, 'CLOCK_SKEW') && /clock trails [12] of [12] peers/.test(e.message),
    );
    await assert.rejects(c.run(c.node('c').get(k(1))), (e) => isKvError(e, 'CLOCK_SKEW'));
    assert.match(c.node('c').status().clock.refusal ?? '', /maxClockOffsetMs=500/);
    // The others keep working: c is a minority of their peers.
    await put(c, 'a', k(2), 'ok');
    assert.equal(c.node('a').status().clock.refusal, undefined);

    const fast = await cluster(['d', 'e', 'f']);
    fast.sim.setClockSkew('f', { offsetMs: 5_000 });
    await assert.rejects(fast.run(fast.node('f').put(k(1), utf8('future'))), (e) =>
      isKvError(e, 'CLOCK_SKEW'),
    );
    assert.ok(
      fast.node('d').status().replica.skewRefusals + fast.node('e').status().replica.skewRefusals >= 1,
    );
    const v = await fast.run(fast.node('d').get(k(1)));
    assert.notEqual(
      v && fromUtf8(v.value),
      'future',
      'no replica stored a version from the future at QUORUM',
    );
  });
});

describe(`KvNode hostile input and restarts (seed=${SEED})`, () => {
  it('keeps its tokens across a restart, ignores malformed adverts, refuses malformed requests', async () => {
    const c = await cluster(['a', 'b', 'c']);
    const tokensOf = (via: string, name: string) =>
      c
        .node(via)
        .ring()
        .nodes.find((n) => n.name === name)?.tokens;
    const before = tokensOf('a', 'c');
    assert.equal(before?.length, c.config.tokensPerNode);
    c.crash('c');
    await c.restart('c');
    assert.deepEqual(tokensOf('c', 'c'), before, 'c took its stored tokens back');
    assert.equal(c.node('c').status().ring, 'normal');

    // A member whose advert is garbage stays off the ring.
    c.membership.add('evil', '10.9.9.9:7946');
    c.membership.setValue('evil', 'kv.0', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]));
    assert.deepEqual(
      c
        .node('a')
        .ring()
        .nodes.map((n) => n.name)
        .sort(),
      ['a', 'b', 'c'],
    );

    // Requests that fail validation are answered with an error; the replica keeps serving.
    const raw = (name: string) => defineMethod(name, v.unknown(), v.unknown());
    c.sim.addNode('probe', (ctx) => ({ client: new RpcClient(ctx.transport(), { clock: ctx.clock }) }));
    const { client } = c.sim.handle<{ client: RpcClient }>('probe')!;
    const garbage: [string, unknown][] = [
      [
        'kv.write',
        { from: 'x', hlc: { w: 1, l: 0, n: 0 }, kind: 'write', cells: [{ k: 'not bytes', c: {} }] },
      ],
      ['kv.writeCells', { from: 'x', hlc: { w: 1, l: 0, n: 0 }, kind: 'write', cells: 'not bytes' }],
      ['kv.readCells', { from: 'x', hlc: { w: 1, l: 0, n: 0 }, keys: [1, 2] }],
      ['kv.read', { from: 'x', hlc: { w: -1, l: 0, n: 0 }, key: new Uint8Array(1), digest: false }],
      ['kv.scan', { from: 'x', hlc: { w: 1, l: 0, n: 0 }, range: { s: 1, e: 2 }, limit: 10 }],
      [
        'kv.merkle',
        {
          from: 'x',
          hlc: { w: 1, l: 0, n: 0 },
          range: { s: new Uint8Array(8), e: new Uint8Array(8) },
          depth: 99,
        },
      ],
      ['kv.size', [1, 2, 3]],
    ];
    for (const [name, payload] of garbage) {
      await assert.rejects(
        c.run(client.call(c.sim.addressOf('a'), raw(name), payload, { deadlineMs: 1_000 })),
        (e) => isCairnError(e, 'INVALID_ARGUMENT'),
        name,
      );
    }
    // A request from the far future is refused and stores nothing.
    const future = await c.run(
      client.call(
        c.sim.addressOf('a'),
        raw('kv.write'),
        {
          from: 'x',
          hlc: { w: Math.floor(c.sim.now) + 3_600_000, l: 0, n: 0 },
          kind: 'write',
          cells: [
            { k: utf8('planted'), c: { w: Math.floor(c.sim.now) + 3_600_000, l: 0, n: 0, v: utf8('x') } },
          ],
        },
        { deadlineMs: 1_000 },
      ),
    );
    assert.equal((future as { err?: string }).err, 'CLOCK_SKEW');
    // Binary cells that do not decode (a key cut short) are refused whole, as INVALID_ARGUMENT.
    const truncated = await c.run(
      client.call(
        c.sim.addressOf('a'),
        raw('kv.writeCells'),
        {
          from: 'x',
          hlc: { w: Math.floor(c.sim.now), l: 0, n: 0 },
          kind: 'write',
          cells: new Uint8Array([0, 0, 0, 9, 65]),
        },
        { deadlineMs: 1_000 },
      ),
    );
    assert.equal((truncated as { err?: string }).err, 'INVALID_ARGUMENT');
    assert.equal(await readOne(c, 'a', utf8('planted')), undefined);
    // Malformed read keys (unknown flags, then a truncated key) are refused, answering nothing.
    for (const keys of [new Uint8Array([4, 0, 0, 0, 1, 65]), new Uint8Array([0, 0, 0, 0, 9, 65])]) {
      const refused = await c.run(
        client.call(
          c.sim.addressOf('a'),
          raw('kv.readCells'),
          { from: 'x', hlc: { w: Math.floor(c.sim.now), l: 0, n: 0 }, keys },
          { deadlineMs: 1_000 },
        ),
      );
      assert.equal((refused as { err?: string }).err, 'INVALID_ARGUMENT');
      assert.equal((refused as { answers: Uint8Array }).answers.length, 0);
    }
    // Client arguments the store could not take are refused before anything is sent.
    const big = new Uint8Array(KV_CLUSTER_LIMITS.maxValueBytes + 1);
    await assert.rejects(c.node('a').put(k(1), big), (e) => isKvError(e, 'INVALID_ARGUMENT'));
    await assert.rejects(c.node('a').put(new Uint8Array(0), utf8('x')), (e) =>
      isKvError(e, 'INVALID_ARGUMENT'),
    );
    await assert.rejects(c.node('a').get(k(1), { consistency: 'TWO' as 'ONE' }), (e) =>
      isKvError(e, 'INVALID_ARGUMENT'),
    );
    await put(c, 'a', k(1), 'still serving');
    assert.equal(await readOne(c, 'a', k(1)), 'still serving');
  });
});

describe(`KvNode join and decommission (seed=${SEED})`, () => {
  /** Writes keys at QUORUM while `busy()` holds; returns the acknowledged values. */
  function writer(c: SimKvCluster, via: readonly string[], busy: () => boolean, max = 400) {
    const acked = new Map<string, string>();
    const done = (async () => {
      for (let i = 0; i < max && busy(); i++) {
        const key = `w-${i % 150}`;
        const value = `v-${i}`;
        try {
          await c.node(via[i % via.length]!).put(utf8(key), utf8(value));
          acked.set(key, value);
        } catch {
          // A failed write may or may not be stored; later acked writes of the key replace it.
        }
      }
    })();
    return { acked, done };
  }

  /** Writes keys `init-<i>` at QUORUM through a, to be read back after the ring changed. */
  async function writeInitial(c: SimKvCluster, count: number): Promise<Map<string, string>> {
    const acked = new Map<string, string>();
    for (let i = 0; i < count; i++) {
      await put(c, 'a', utf8(`init-${i}`), `v-init-${i}`);
      acked.set(`init-${i}`, `v-init-${i}`);
    }
    return acked;
  }

  async function checkAcked(c: SimKvCluster, acked: ReadonlyMap<string, string>, via: string) {
    for (const [key, value] of acked) {
      const got = await c.run(c.node(via).get(utf8(key)));
      assert.equal(got && fromUtf8(got.value), value, `acknowledged ${key}=${value}`);
    }
  }

  /** Every replica of every acknowledged key holds it (read at ONE on the replica itself). */
  async function checkReplicas(c: SimKvCluster, acked: ReadonlyMap<string, string>, via: string) {
    const engines = defaultEngines;
    const ring = engines.buildRing(c.node(via).ring().nodes, c.config.rf);
    for (const [key, value] of acked) {
      for (const r of ring.replicas(engines.tokenOf(utf8(key)))) {
        assert.equal(await readOne(c, r, utf8(key)), value, `${r} holds ${key}`);
      }
    }
  }

  it('a joining node streams its ranges while writes go on, and no acknowledged write is lost', async () => {
    const c = await cluster(['a', 'b', 'c', 'd']);
    // Keys written before the join and never again: only streaming can bring them to e.
    for (let i = 0; i < 150; i++) await put(c, 'a', utf8(`init-${i}`), `v-init-${i}`);
    c.add('e');
    let joined = false;
    const w = writer(c, ['a', 'b', 'c', 'd'], () => !joined);
    await c.sim.runUntil(() => c.sim.handle('e') !== undefined, { maxMs: 10_000 });
    const e: KvNode = c.node('e');
    assert.equal(e.status().ring, 'joining');
    await c.run(e.ready(), 120_000);
    joined = true;
    await c.run(w.done, 120_000);
    await c.sim.runFor(3_000); // hints for writes that failed meanwhile
    assert.equal(e.status().ring, 'normal');
    assert.ok((e.status().streaming?.cells ?? 0) > 0, 'e received data');
    const acked = new Map<string, string>();
    for (let i = 0; i < 150; i++) acked.set(`init-${i}`, `v-init-${i}`);
    for (const [key, value] of w.acked) acked.set(key, value);
    await checkReplicas(c, acked, 'a');
    await checkAcked(c, acked, 'e');
  });

  it('a node that crashes while joining streams again when it restarts', async () => {
    const c = await cluster(['a', 'b', 'c', 'd']);
    const acked = await writeInitial(c, 150);
    c.add('e');
    await c.sim.runUntil(() => (c.sim.handle<KvNode>('e')?.status().streaming?.cells ?? 0) > 0, {
      maxMs: 30_000,
    });
    assert.equal(c.node('e').status().ring, 'joining');
    c.crash('e');
    await c.restart('e');
    assert.equal(c.node('e').status().ring, 'joining', 'the stored join state survived the crash');
    await c.run(c.node('e').ready(), 120_000);
    await checkReplicas(c, acked, 'a');
  });

  it('a joining node cut off from every owner keeps retrying, and joins once it can reach them', async () => {
    const c = await cluster(['a', 'b', 'c', 'd']);
    const acked = await writeInitial(c, 100);
    c.add('e');
    c.sim.network.isolate('e');
    // Far longer than the streaming retries of several join attempts (10 per range, a second apart).
    await c.sim.runFor(200_000);
    const e = c.node('e');
    assert.equal(e.status().ring, 'joining');
    assert.equal(e.status().streaming?.phase, 'failed', 'attempts failed while cut off');
    c.sim.network.heal();
    await c.run(e.ready(), 120_000);
    assert.equal(e.status().ring, 'normal');
    await checkReplicas(c, acked, 'a');
  });

  it("a node that is not a seed joins even when it starts before the others' adverts reach it", async () => {
    let hidden = true;
    let c: SimKvCluster | undefined;
    c = await cluster(['a', 'b', 'c'], {
      config: { seeds: ['a', 'b', 'c'] },
      nodeOptions: (name) => {
        if (name !== 'd' || c === undefined) return {};
        const real = c.membership.viewFor('d');
        // Membership has not brought the other nodes yet: d sees only itself.
        return {
          view: { ...real, members: () => real.members().filter((m) => !hidden || m.name === 'd') },
        };
      },
    });
    const acked = await writeInitial(c, 60);
    c.add('d');
    await c.sim.runFor(5_000);
    const d = c.node('d');
    assert.equal(d.status().ring, 'joining', 'd did not start a ring of its own');
    hidden = false;
    c.membership.setState('a', 'alive'); // a membership change: d's view now shows everyone
    await c.run(d.ready(), 120_000);
    assert.ok((d.status().streaming?.cells ?? 0) > 0, 'd streamed its ranges');
    await checkReplicas(c, acked, 'a');
  });

  it('removenode refuses itself, a live node, an unknown node, and a cut the rest cannot hold', async () => {
    const c = await cluster(['a', 'b', 'c', 'd']);
    const refused = async (via: string, name: string, why: RegExp) =>
      assert.rejects(
        c.run(c.node(via).removeNode(name)),
        (e) => isKvError(e, 'INVALID_ARGUMENT') && why.test(String(e)),
      );
    await refused('a', 'a', /cannot remove itself/);
    await refused('a', 'b', /b is alive/);
    await refused('a', 'zz', /not on the ring/);
    c.crash('d');
    c.crash('c');
    // Both dead, still both on the ring: removing one needs the other as a source, and fails.
    await assert.rejects(c.run(c.node('a').removeNode('d'), 300_000), (e) => isKvError(e, 'UNAVAILABLE'));
    assert.equal(c.node('a').status().ring, 'normal');
    const small = await cluster(['a', 'b', 'c']);
    small.crash('c');
    await assert.rejects(
      small.run(small.node('a').removeNode('c')),
      (e) => isKvError(e, 'INVALID_ARGUMENT') && /other normal nodes could not hold rf=3/.test(String(e)),
    );
    assert.equal(
      c
        .node('a')
        .ring()
        .nodes.filter((n) => n.name === 'd')
        .map((n) => n.status)
        .join(),
      'normal',
      'a refused removal leaves the node as it was',
    );
  });

  it("removenode copies a dead node's ranges to their new owners while writes go on, and every node drops it", async () => {
    const c = await cluster(['a', 'b', 'c', 'd', 'e']);
    // Keys written before and never again: only the removal's copies can bring them to d's successors.
    for (let i = 0; i < 150; i++) await put(c, 'a', utf8(`init-${i}`), `v-init-${i}`);
    c.crash('d');
    // Writes while d is down and still on the ring leave hints for it.
    for (let i = 0; i < 30; i++) await put(c, 'a', utf8(`hinted-${i}`), `v-hinted-${i}`);
    assert.ok((c.node('a').status().hintsPending.d ?? 0) > 0, 'a holds hints for d');
    let removed = false;
    const w = writer(c, ['a', 'b', 'c', 'e'], () => !removed);
    const progress: string[] = [];
    await c.run(
      c
        .node('b')
        .removeNode('d', (p) => progress.push(`${p.operation}:${p.phase}`))
        .finally(() => {
          removed = true;
        }),
      120_000,
    );
    await c.run(w.done, 120_000);
    await c.sim.runFor(3_000);
    assert.ok(progress.includes('removenode:done'), `progress was reported: ${progress.at(-1)}`);
    assert.ok((c.node('b').status().streaming?.cells ?? 0) > 0, 'cells were copied');
    for (const n of ['a', 'b', 'c', 'e']) {
      assert.ok(!onRing(c, n, 'd'), `${n} dropped d from its ring`);
      // Its hints go with it: d's ranges are other nodes' now.
      assert.equal(c.node(n).status().hintsPending.d, undefined, `${n} dropped its hints for d`);
    }
    assert.ok(c.node('a').status().handoff.forgotten > 0, 'a counted the hints it dropped');
    const acked = new Map<string, string>();
    for (let i = 0; i < 150; i++) acked.set(`init-${i}`, `v-init-${i}`);
    for (let i = 0; i < 30; i++) acked.set(`hinted-${i}`, `v-hinted-${i}`);
    for (const [key, value] of w.acked) acked.set(key, value);
    await checkReplicas(c, acked, 'a');
    await checkAcked(c, acked, 'c');
    // The removal outlives its remover: every other node announces it too.
    c.crash('b');
    await c.sim.runFor(3_000);
    assert.ok(!onRing(c, 'a', 'd'), 'd stays off without b');
    // d comes back on its old data: it sees the removal and leaves the ring instead of serving
    // stale cells.
    await c.restart('d');
    await c.sim.runUntil(() => c.node('d').status().ring === 'left', { maxMs: 30_000 });
    assert.equal(c.node('d').status().ring, 'left');
    await c.sim.runFor(3_000);
    assert.ok(!onRing(c, 'a', 'd'), 'd stayed off the ring');
    await checkAcked(c, acked, 'e');
  });

  it('keeps a down node on the ring of nodes that never learned it or reaped it, and removenode still takes it off', async () => {
    const c = await cluster(['a', 'b', 'c', 'd', 'e']);
    const acked = await writeInitial(c, 100);
    const ringOf = (n: string) => ringText(c, n, true);
    c.crash('d');
    await c.sim.runFor(1_000);
    // c restarts while d is down: its membership learns live members only, never d.
    c.crash('c');
    c.membership.forget('c', 'd');
    await c.restart('c');
    await c.sim.runFor(1_000);
    assert.ok(onRing(c, 'c', 'd'), 'c learned d from the others');
    assert.equal(ringOf('c'), ringOf('a'), 'c and a agree on the ring');
    for (let i = 0; i < 40; i++) {
      await put(c, 'c', utf8(`via-c-${i}`), `v-${i}`);
      acked.set(`via-c-${i}`, `v-${i}`);
    }
    // Membership reaps d everywhere: every node keeps it from the others' ghosts.
    c.membership.reap('d');
    await c.sim.runFor(3_000);
    for (const n of ['a', 'b', 'c', 'e']) {
      assert.ok(onRing(c, n, 'd'), `${n} keeps d after the reap`);
      assert.equal(ringOf(n), ringOf('a'), `${n} agrees with a`);
    }
    await checkAcked(c, acked, 'e');
    // removenode works on the reaped node, and the ghosts go with it.
    await c.run(c.node('b').removeNode('d'), 120_000);
    await c.sim.runFor(5_000);
    for (const n of ['a', 'b', 'c', 'e']) assert.ok(!onRing(c, n, 'd'), `${n} dropped d`);
    // A node that starts now (nothing of d in its membership) does not bring it back either.
    c.crash('e');
    c.membership.forget('e', 'd');
    await c.restart('e');
    await c.sim.runFor(5_000);
    for (const n of ['a', 'b', 'c', 'e']) assert.ok(!onRing(c, n, 'd'), `${n} keeps d off`);
    await checkReplicas(c, acked, 'a');
    await checkAcked(c, acked, 'e');
  });

  it('keeps a down node on the ring when every other node restarts while it is down', async () => {
    const c = await cluster(['a', 'b', 'c', 'd', 'e']);
    const acked = await writeInitial(c, 80);
    const ringOf = (n: string) => ringText(c, n, true);
    const before = ringOf('a');
    c.crash('e');
    await c.sim.runFor(1_000);
    // The whole cluster stops, then starts again while e is still down: each node comes back in a
    // new membership generation (its old state values gone) and learns live members only, so none
    // holds e's advert or hears it from another's membership. (A rolling restart keeps e through
    // the ghosts of the nodes still up.)
    for (const n of ['a', 'b', 'c', 'd']) {
      c.crash(n);
      c.membership.viewFor(n).publish(new Map());
      c.membership.forget(n, 'e');
    }
    await c.sim.runFor(1_000);
    for (const n of ['a', 'b', 'c', 'd']) await c.restart(n);
    await c.sim.runFor(3 * c.config.ringDelayMs);
    for (const n of ['a', 'b', 'c', 'd']) {
      assert.ok(onRing(c, n, 'e'), `${n} keeps e`);
      assert.equal(ringOf(n), before, `${n} has the ring of before`);
    }
    for (let i = 0; i < 40; i++) {
      await put(c, 'b', utf8(`after-${i}`), `v-${i}`);
      acked.set(`after-${i}`, `v-${i}`);
    }
    await c.restart('e');
    await c.sim.runFor(5_000);
    assert.equal(ringOf('e'), before);
    await checkAcked(c, acked, 'e');
  });

  it('a node restarted knowing no one places keys on the ring it remembers, not on a ring of itself', async () => {
    const c = await cluster(['a', 'b', 'c', 'd', 'e']);
    const acked = await writeInitial(c, 60);
    const names = (n: string) => ringText(c, n, false);
    c.crash('c');
    // c restarts and its membership lists no one yet (cut off, or before gossip brought anyone).
    for (const n of ['a', 'b', 'd', 'e']) c.membership.forget('c', n);
    await c.restart('c');
    assert.equal(names('c'), 'a,b,c,d,e', 'the remembered ring, not a ring of c alone');
    // Until it hears a live ring node, c coordinates nothing: its ring is only remembered and may
    // miss changes made while it was away (never answered from c alone as if it were the only
    // replica, nor from a replica that no longer is one).
    for (let i = 0; i < 20; i++) {
      const got = await c.run(c.node('c').get(utf8(`init-${i}`), { consistency: 'ONE' })).then(
        (e) => (e === undefined ? 'absent' : fromUtf8(e.value)),
        (err: unknown) =>
          isKvError(err, 'UNAVAILABLE') && /not yet heard from any live ring node/.test(err.message)
            ? 'unavailable'
            : String(err),
      );
      assert.equal(got, 'unavailable', `init-${i} through c`);
    }
    // Membership brings the others back: the same ring, and every write reads back through c.
    for (const n of ['a', 'b', 'd', 'e']) c.membership.add(n, { host: '', port: 0 } as never);
    await c.sim.runFor(c.config.ringDelayMs + 1_000);
    assert.equal(names('c'), names('a'));
    await checkAcked(c, acked, 'c');
  });

  it('refuses to decommission when the rest could not hold rf replicas', async () => {
    const c = await cluster(['a', 'b', 'c']);
    await assert.rejects(c.run(c.node('c').decommission()), (e) => isKvError(e, 'INVALID_ARGUMENT'));
    assert.equal(c.node('c').status().ring, 'normal');
  });

  it('a decommissioned node hands its ranges over while writes go on, then leaves the ring', async () => {
    const c = await cluster(['a', 'b', 'c', 'd', 'e']);
    // Keys written before and never again: only streaming can bring them to e's successors.
    for (let i = 0; i < 150; i++) await put(c, 'a', utf8(`init-${i}`), `v-init-${i}`);
    let left = false;
    const w = writer(c, ['a', 'b', 'c', 'd'], () => !left);
    const progress: number[] = [];
    await c.run(
      c
        .node('e')
        .decommission((p) => progress.push(p.rangesDone))
        .finally(() => {
          left = true;
        }),
      120_000,
    );
    await c.run(w.done, 120_000);
    await c.sim.runFor(3_000);
    assert.equal(c.node('e').status().ring, 'left');
    assert.ok(progress.length > 0 && progress.at(-1)! > 0, 'progress was reported');
    await c.sim.runUntil(
      () =>
        !c
          .node('a')
          .ring()
          .nodes.some((n) => n.name === 'e'),
      { maxMs: 1_000 },
    );
    assert.ok(
      !c
        .node('a')
        .ring()
        .nodes.some((n) => n.name === 'e'),
      'e is off the ring',
    );
    const acked = new Map<string, string>();
    for (let i = 0; i < 150; i++) acked.set(`init-${i}`, `v-init-${i}`);
    for (const [key, value] of w.acked) acked.set(key, value);
    c.crash('e');
    await checkReplicas(c, acked, 'a');
    await checkAcked(c, acked, 'b');
    // Started again on its old data, the decommissioned node refuses to start (its stale cells
    // could bring back keys deleted since).
    c.sim.restart('e');
    await c.sim.runFor(5_000);
    assert.equal(c.sim.handle('e'), undefined, 'a decommissioned node does not start again');
    assert.ok(
      !c
        .node('a')
        .ring()
        .nodes.some((n) => n.name === 'e'),
      'e stayed off the ring',
    );
  });
});
