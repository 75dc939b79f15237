import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../core/index.js';
import { lanPexConfig, type PexConfig } from './config.js';
import { PexCore } from './core.js';
import { decodePexMessage, encodePexMessage } from './messages.js';

/**
 * Many pure cores in a tiny deterministic message loop: virtual time, a binary heap of events,
 * 1..10 ms latency, every message through the real codec. Checks the overlay properties the
 * paper measures: connectivity, in-degree spread, and self-healing after mass failure.
 */

const SEED = Number(process.env.PEX_SEED ?? 20240611);
const INTERVAL = 1000;

interface Event {
  at: number;
  seq: number;
  node: number;
  /** 'timer' events carry the generation they were armed with; deliveries carry bytes. */
  gen: number;
  from?: string;
  bytes?: Uint8Array;
}

class Heap {
  private items: Event[] = [];
  get size(): number {
    return this.items.length;
  }
  private less(a: Event, b: Event): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
  push(e: Event): void {
    const h = this.items;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  pop(): Event {
    const h = this.items;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
  peekAt(): number {
    return this.items[0]?.at ?? Number.POSITIVE_INFINITY;
  }
}

const addressOf = (i: number) => `10.0.${i >> 8}.${i & 255}:7946`;

class Loop {
  readonly cores: PexCore[] = [];
  readonly alive: boolean[] = [];
  private readonly gens: number[] = [];
  private readonly heap = new Heap();
  private readonly index = new Map<string, number>();
  private readonly net: Rng;
  private seq = 0;
  now = 0;
  maxPacketBytes = 0;

  constructor(n: number, config: PexConfig, seed: number) {
    const root = Rng.fromSeed(seed);
    this.net = root.child('net');
    for (let i = 0; i < n; i++) {
      this.index.set(addressOf(i), i);
      this.cores.push(new PexCore({ self: addressOf(i), config, rng: root.child(i), nowMs: 0 }));
      this.alive.push(true);
      this.gens.push(0);
    }
    for (let i = 0; i < n; i++) this.arm(i, this.cores[i]!.nextTimerAtMs());
  }

  seed(i: number, peers: number[]): void {
    const fx = this.cores[i]!.step({ type: 'seed', addresses: peers.map(addressOf) }, this.now);
    this.arm(i, fx.timerAtMs);
  }

  private arm(i: number, at: number): void {
    this.gens[i]!++;
    this.heap.push({ at, seq: this.seq++, node: i, gen: this.gens[i]! });
  }

  /** Runs every event up to and including `untilMs`. */
  run(untilMs: number): void {
    let guard = 0;
    while (this.heap.size > 0 && this.heap.peekAt() <= untilMs) {
      assert.ok(guard++ < 10_000_000, 'event loop runaway');
      const e = this.heap.pop();
      this.now = e.at;
      if (!this.alive[e.node]) continue;
      const core = this.cores[e.node]!;
      let fx: ReturnType<PexCore['step']>;
      if (e.bytes === undefined) {
        if (e.gen !== this.gens[e.node]) continue;
        fx = core.step({ type: 'tick' }, this.now);
      } else {
        const message = decodePexMessage(e.bytes);
        assert.ok(message !== undefined, 'a core produced an undecodable message');
        fx = core.step({ type: 'message', from: e.from!, message }, this.now);
      }
      for (const s of fx.sends) {
        const bytes = encodePexMessage(s.message);
        this.maxPacketBytes = Math.max(this.maxPacketBytes, bytes.length);
        const to = this.index.get(s.to);
        assert.ok(to !== undefined, `send to unknown address ${s.to}`);
        const at = this.now + 1 + this.net.int(10);
        this.heap.push({ at, seq: this.seq++, node: to, gen: 0, from: addressOf(e.node), bytes });
      }
      this.arm(e.node, fx.timerAtMs);
    }
    this.now = untilMs;
  }

  kill(fraction: number, rng: Rng): void {
    const live = this.cores.map((_, i) => i).filter((i) => this.alive[i]);
    for (const i of rng.sample(live, Math.floor(live.length * fraction))) this.alive[i] = false;
  }

  liveNodes(): number[] {
    return this.cores.map((_, i) => i).filter((i) => this.alive[i]);
  }

  /** Out-edges of live nodes, by node index. */
  edges(i: number): number[] {
    return this.cores[i]!.viewEntries().map((d) => this.index.get(d.address)!);
  }

  inDegrees(): number[] {
    const deg = this.cores.map(() => 0);
    for (const i of this.liveNodes()) for (const j of this.edges(i)) deg[j]!++;
    return this.liveNodes().map((i) => deg[i]!);
  }

  /** True when every live node reaches every other live node over live view edges. */
  stronglyConnected(): boolean {
    const live = this.liveNodes();
    const reach = (start: number, forward: boolean): number => {
      const adj = new Map<number, number[]>();
      for (const i of live) {
        for (const j of this.edges(i)) {
          if (!this.alive[j]) continue;
          const [a, b] = forward ? [i, j] : [j, i];
          adj.set(a, [...(adj.get(a) ?? []), b]);
        }
      }
      const seen = new Set([start]);
      const stack = [start];
      while (stack.length > 0) {
        for (const j of adj.get(stack.pop()!) ?? []) {
          if (!seen.has(j)) {
            seen.add(j);
            stack.push(j);
          }
        }
      }
      return seen.size;
    };
    return reach(live[0]!, true) === live.length && reach(live[0]!, false) === live.length;
  }

  /** Fraction of view entries of live nodes that point at dead nodes. */
  deadFraction(): number {
    let dead = 0;
    let total = 0;
    for (const i of this.liveNodes()) {
      for (const j of this.edges(i)) {
        total++;
        if (!this.alive[j]) dead++;
      }
    }
    return total === 0 ? 0 : dead / total;
  }
}

function stats(xs: number[]): { min: number; max: number; mean: number; stddev: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  return { min: Math.min(...xs), max: Math.max(...xs), mean, stddev: Math.sqrt(variance) };
}

const N = 200;
const ROUNDS = 50;

function star(config: PexConfig, seed: number): Loop {
  const loop = new Loop(N, config, seed);
  for (let i = 1; i < N; i++) loop.seed(i, [0]);
  return loop;
}

function chain(config: PexConfig, seed: number): Loop {
  const loop = new Loop(N, config, seed);
  for (let i = 0; i < N; i++)
    loop.seed(
      i,
      [i - 1, i + 1].filter((j) => j >= 0 && j < N),
    );
  return loop;
}

describe(`PeX overlay, ${N} pure cores (seed=${SEED}; replay: PEX_SEED=${SEED} node --import tsx --test src/membership/pex/overlay.test.ts)`, () => {
  it('a star bootstrap becomes a connected overlay with a narrow in-degree spread', () => {
    const config = lanPexConfig();
    const loop = star(config, SEED);
    loop.run(ROUNDS * INTERVAL);
    const deg = stats(loop.inDegrees());
    console.log(`star: in-degree ${JSON.stringify(deg)}, max packet ${loop.maxPacketBytes} bytes`);
    assert.ok(loop.stronglyConnected(), 'overlay is not strongly connected');
    // Mean in-degree is c (every view is full). The hub starts in 199 views; it must have
    // dropped to the pack, and nobody may be left out.
    assert.equal(Math.round(deg.mean), config.viewSize);
    assert.ok(deg.max <= 2 * config.viewSize, `max in-degree ${deg.max} > 2c`);
    assert.ok(deg.min >= 1, 'some node is in no view');
    assert.ok(deg.stddev < config.viewSize / 3, `in-degree stddev ${deg.stddev.toFixed(2)} too wide`);
    assert.ok(loop.maxPacketBytes <= 1400);
  });

  it('a chain bootstrap becomes a connected overlay with a narrow in-degree spread', () => {
    const config = lanPexConfig();
    const loop = chain(config, SEED + 1);
    loop.run(ROUNDS * INTERVAL);
    const deg = stats(loop.inDegrees());
    console.log(`chain: in-degree ${JSON.stringify(deg)}`);
    assert.ok(loop.stronglyConnected(), 'overlay is not strongly connected');
    assert.equal(Math.round(deg.mean), config.viewSize);
    assert.ok(deg.max <= 2 * config.viewSize, `max in-degree ${deg.max} > 2c`);
    assert.ok(deg.stddev < config.viewSize / 3, `in-degree stddev ${deg.stddev.toFixed(2)} too wide`);
  });

  it('healing (H>0) purges dead descriptors after 50% of nodes die; H=0 is much slower', () => {
    const MAX_ROUNDS = 50;
    const WARMUP = 25;
    /** Dead fraction of survivors' view entries after each round, until zero or `rounds`. */
    const purge = (config: PexConfig, rounds: number): number[] => {
      const loop = star(config, SEED + 2);
      loop.run(WARMUP * INTERVAL);
      loop.kill(0.5, Rng.fromSeed(SEED).child('kill'));
      const fractions: number[] = [loop.deadFraction()];
      for (let r = 1; r <= rounds && fractions.at(-1)! > 0; r++) {
        loop.run((WARMUP + r) * INTERVAL);
        fractions.push(loop.deadFraction());
      }
      assert.ok(loop.stronglyConnected(), 'survivors are not connected');
      return fractions;
    };
    const healed = purge(lanPexConfig({ healing: 1, swap: 14 }), MAX_ROUNDS);
    const roundsToZero = healed.length - 1;
    const unhealed = purge(lanPexConfig({ healing: 0, swap: 15 }), roundsToZero);
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(3)).join(' ');
    console.log(`dead fraction per round, H=1 S=14: ${fmt(healed)}`);
    console.log(`dead fraction per round, H=0 S=15: ${fmt(unhealed)}`);
    assert.ok(healed[0]! > 0.4, 'the kill should leave about half the entries dead');
    assert.equal(healed.at(-1), 0, `H=1 left dead entries after ${MAX_ROUNDS} rounds`);
    assert.ok(unhealed.at(-1)! > 0.3, `H=0 purged too fast: ${unhealed.at(-1)} after ${roundsToZero} rounds`);
  });
});
