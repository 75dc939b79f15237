import { Rng } from '../../core/index.js';
import { NodeIdentity, simulatedScheme } from '../../security/index.js';
import { decodeCompound, encodeCompound } from './compound.js';
import type { SwimConfig } from './config.js';
import { SwimCore } from './core.js';
import {
  createSwimSigner,
  decodeSwimMessage,
  isBroadcastMessage,
  openAliveRecord,
  openBroadcast,
  type VerifiedAlive,
} from './messages.js';
import type { SwimEffects, SwimEvent, SwimInput } from './types.js';

/**
 * A tiny deterministic message loop for in-core scenario tests: N cores, a fake network that
 * delivers each effect's packets after a seeded latency with seeded loss (through the real wire
 * path: encodeCompound -> decodeCompound -> decodeSwimMessage -> openBroadcast), a fake TCP
 * fallback, and one timer per node. Not the simulator (that comes with the driver): just enough
 * to script clusters step by step.
 */

interface QEvent {
  at: number;
  seq: number;
  node: number;
  kind: 'timer' | 'packet' | 'fallback';
  version: number;
  from?: string;
  bytes?: Uint8Array;
  fallback?: { seq: number; ok: boolean };
}

class Heap {
  private items: QEvent[] = [];
  get size(): number {
    return this.items.length;
  }
  push(e: QEvent): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  peek(): QEvent | undefined {
    return this.items[0];
  }
  pop(): QEvent | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

function less(a: QEvent, b: QEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** One simulated node. */
export interface HarnessNode {
  index: number;
  identity: NodeIdentity;
  address: string;
  core: SwimCore;
  up: boolean;
  timerVersion: number;
  events: Array<SwimEvent & { at: number }>;
}

/** Options of {@link Harness}. */
export interface HarnessOptions {
  seed: number | string;
  nodes: number;
  config: SwimConfig;
  /** Probability that a packet is lost (default 0). */
  loss?: number;
  /** Latency bounds in ms (default 1..5). */
  minLatencyMs?: number;
  maxLatencyMs?: number;
}

/** See the module comment. */
export class Harness {
  readonly nodes: HarnessNode[] = [];
  readonly rng: Rng;
  now = 0;
  loss: number;
  rejected = 0;
  delivered = 0;
  lost = 0;
  /** Packets to these addresses are dropped (a one-node partition, inbound). */
  readonly blackholed = new Set<string>();
  private readonly queue = new Heap();
  private seq = 0;
  private generationClock = 1;
  private readonly byAddress = new Map<string, HarnessNode>();

  constructor(readonly options: HarnessOptions) {
    this.rng = Rng.fromSeed(options.seed);
    this.loss = options.loss ?? 0;
    for (let i = 0; i < options.nodes; i++) this.addNode(i);
  }

  private addNode(
    i: number,
    identity?: NodeIdentity,
    address = `10.0.${i >> 8}.${i & 255}:7946`,
  ): HarnessNode {
    const id = identity ?? NodeIdentity.fromSeed(this.rng.child(`id-${i}`).bytes(32));
    const core = new SwimCore({
      self: { address, name: `n${i}`, generation: this.generationClock++ },
      signer: createSwimSigner(id, simulatedScheme),
      config: this.options.config,
      rng: this.rng.child(`core-${i}-${this.generationClock}`),
    });
    const node: HarnessNode = {
      index: i,
      identity: id,
      address,
      core,
      up: true,
      timerVersion: 0,
      events: [],
    };
    this.nodes[i] = node;
    this.byAddress.set(address, node);
    this.apply(node, core.step({ type: 'start' }, this.now));
    return node;
  }

  /** Feeds `input` to node `i` now and carries out the effects. */
  step(i: number, input: SwimInput): SwimEffects {
    const node = this.nodes[i]!;
    const fx = node.core.step(input, this.now);
    this.apply(node, fx);
    return fx;
  }

  /** A push-pull join of node `i` through `seed`: each learns the other's view of alive members. */
  join(i: number, seed: number): void {
    const a = this.nodes[i]!;
    const b = this.nodes[seed]!;
    this.step(i, { type: 'join', members: aliveOf(b.core) });
    this.step(seed, { type: 'join', members: aliveOf(a.core) });
  }

  /** Stops node `i` abruptly: it neither sends nor receives from now on. */
  kill(i: number): void {
    this.nodes[i]!.up = false;
  }

  /** Replaces node `i` by a fresh process with the same identity, a newer generation and `address`. */
  restart(i: number, address: string): HarnessNode {
    const old = this.nodes[i]!;
    old.up = false;
    this.byAddress.delete(old.address);
    return this.addNode(i, old.identity, address);
  }

  /** Runs events until virtual time `untilMs` (bounded by `maxEvents`). */
  runUntil(untilMs: number, maxEvents = 5_000_000): void {
    for (let n = 0; n < maxEvents; n++) {
      const top = this.queue.peek();
      if (top === undefined || top.at > untilMs) {
        this.now = Math.max(this.now, untilMs);
        return;
      }
      this.queue.pop();
      this.now = top.at;
      this.handle(top);
    }
    throw new Error(`harness did not reach ${untilMs} ms within ${maxEvents} events`);
  }

  /** Runs until `done()` holds, checking every `stepMs`; returns the time or `undefined` at `limitMs`. */
  runUntilTrue(done: () => boolean, limitMs: number, stepMs = 10): number | undefined {
    while (this.now < limitMs) {
      if (done()) return this.now;
      this.runUntil(this.now + stepMs);
    }
    return done() ? this.now : undefined;
  }

  private handle(e: QEvent): void {
    const node = this.nodes[e.node]!;
    if (!node.up) return;
    if (e.kind === 'timer') {
      if (e.version !== node.timerVersion) return;
      this.apply(node, node.core.step({ type: 'tick' }, this.now));
      return;
    }
    if (e.kind === 'fallback') {
      const f = e.fallback!;
      this.apply(
        node,
        node.core.step({ type: f.ok ? 'fallback-ack' : 'fallback-failed', seq: f.seq }, this.now),
      );
      return;
    }
    this.receive(node, e.from!, e.bytes!);
  }

  private receive(node: HarnessNode, from: string, bytes: Uint8Array): void {
    const compound = decodeCompound(bytes);
    if (!compound.ok) throw new Error(`harness: bad compound ${compound.reason}`);
    for (const partBytes of compound.value) {
      const decoded = decodeSwimMessage(partBytes);
      if (!decoded.ok) throw new Error(`harness: bad part ${decoded.reason}`);
      const m = decoded.value;
      if (m.type === 'User') continue;
      let input: SwimInput;
      if (isBroadcastMessage(m)) {
        const opened = openBroadcast(m, simulatedScheme);
        if (!opened.ok) {
          this.rejected++;
          continue;
        }
        input = { type: 'message', from, message: opened.value };
      } else {
        input = { type: 'message', from, message: m };
      }
      this.apply(node, node.core.step(input, this.now));
      this.delivered++;
    }
  }

  private latency(): number {
    const min = this.options.minLatencyMs ?? 1;
    const max = this.options.maxLatencyMs ?? 5;
    return this.rng.range(min, max);
  }

  private apply(node: HarnessNode, fx: SwimEffects): void {
    for (const p of fx.packets) {
      const bytes = encodeCompound(p.parts);
      if (bytes.length > this.options.config.mtu)
        throw new Error(`packet of ${bytes.length} bytes over the MTU`);
      const target = this.byAddress.get(p.to);
      if (target === undefined || this.blackholed.has(p.to) || this.blackholed.has(node.address)) continue;
      if (this.rng.chance(this.loss)) {
        this.lost++;
        continue;
      }
      this.push({
        at: this.now + this.latency(),
        node: target.index,
        kind: 'packet',
        from: node.address,
        bytes,
      });
    }
    for (const f of fx.fallbackProbes) {
      const target = this.byAddress.get(f.address);
      const reachable =
        target?.up === true && !this.blackholed.has(f.address) && !this.blackholed.has(node.address);
      const at = reachable ? this.now + 2 * this.latency() : f.deadlineMs;
      this.push({ at, node: node.index, kind: 'fallback', fallback: { seq: f.seq, ok: reachable } });
    }
    for (const ev of fx.events) node.events.push({ ...ev, at: this.now });
    node.timerVersion = this.seq++;
    if (fx.timerAtMs !== undefined) {
      this.push({ at: Math.max(this.now, fx.timerAtMs), node: node.index, kind: 'timer' });
    }
  }

  private push(e: Omit<QEvent, 'seq' | 'version'>): void {
    const node = this.nodes[e.node]!;
    this.queue.push({ ...e, seq: this.seq++, version: node.timerVersion });
  }

  /** Live nodes. */
  live(): HarnessNode[] {
    return this.nodes.filter((n) => n.up);
  }

  /** True when every live node lists every live node as alive (and nothing else as alive/suspect). */
  converged(): boolean {
    const live = this.live();
    const ids = new Set(live.map((n) => n.identity.nodeId));
    for (const n of live) {
      let up = 0;
      for (const m of n.core.members()) {
        if (m.status === 'alive' || m.status === 'suspect') {
          if (!ids.has(m.id) || m.status !== 'alive') return false;
          up++;
        }
      }
      if (up !== ids.size) return false;
    }
    return true;
  }
}

/** The verified alive records of every alive/suspect member a core knows (a push-pull payload). */
export function aliveOf(core: SwimCore): VerifiedAlive[] {
  const out: VerifiedAlive[] = [];
  for (const m of core.members()) {
    if (m.status !== 'alive' && m.status !== 'suspect') continue;
    const opened = openAliveRecord(m.aliveRecord, simulatedScheme);
    if (opened.ok) out.push(opened.value);
  }
  return out;
}
