import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { CairnError, type Seed } from '../../core/index.js';
import {
  lanConfig,
  localConfig,
  type MembershipProtocolConfig,
  testConfig,
} from '../../membership/config.js';
import { Membership } from '../../membership/driver/membership.js';
import type { MembershipEvent } from '../../membership/types.js';
import { ed25519Scheme, type NodeId, NodeIdentity, simulatedScheme } from '../../security/index.js';
import { parseSeed } from '../../sim/seed.js';
import { Simulator } from '../../sim/simulator.js';
import type { Address } from '../../transport/types.js';

/**
 * The fields of a {@link MembershipSimResult} measured on the host (wall clock, memory): the only
 * ones that differ between two runs of the same options.
 */
export const HOST_MEASURED_FIELDS: readonly string[] = Object.freeze([
  'wall_ms',
  'setup_ms',
  'phase_wall_ms',
  'heap_peak_mb',
  'rss_peak_mb',
  'array_buffers_peak_mb',
  'heap_limit_mb',
]);

/**
 * `cairn sim membership`: N production membership nodes (the same driver as on real sockets) on the
 * deterministic simulator, measured in virtual time.
 *
 * Run (one simulator, one seed):
 * 1. **join**: seeds `n0..n(s-1)` (s = `seeds`, default min(3, N)); `n1..n(s-1)` join `n0` at t=0,
 *    every other node joins through one seed picked at random, at a time spread evenly over
 *    `joinWindowMs` (a rolling start of a deployment; default 1 ms per node, at most 10 s). Nodes
 *    have no configured seeds, so each joins exactly once, at its time (no re-seeding).
 *    `join_converged_ms`: from the first join call until every node lists every node `alive`.
 * 2. **update**: one node sets one key; `update_converged_ms` until every node has seen the value.
 * 3. **detect**: one node (not a seed, not the writer) crashes abruptly; `detect_converged_ms`
 *    until every other node lists it `dead`.
 * `false_deaths` counts, over the whole run, `dead` events any node published about a node that
 * was never crashed. `bytes_per_node_per_s` is every packet and stream-frame byte the simulated
 * network carried, per node per virtual second of the run (join start to the end).
 *
 * Determinism: the same options give the same `trace_hash` and the same figures. Not
 * deterministic: the {@link HOST_MEASURED_FIELDS}.
 */

/** Options of {@link runMembershipSim}. */
export interface MembershipSimOptions {
  /** Number of simulated nodes (at least 1). */
  nodes: number;
  /** The seed; decimal strings are read as numbers (see `parseSeed`). */
  seed: Seed;
  /** Packet loss probability 0..1; default 0. */
  loss?: number;
  /** Failure detector; default `swim`. */
  detector?: 'swim' | 'phi';
  /** Lifeguard on or off; default on. */
  lifeguard?: boolean;
  /** Protocol preset; default `lan` (memberlist's LAN timings). */
  protocol?: 'test' | 'local' | 'lan';
  /**
   * Signature scheme: `ed25519`, `simulated` (insecure SHA-512 stand-in), or `auto` (default):
   * Ed25519 up to 200 nodes, simulated above. The result says which one ran.
   */
  scheme?: 'auto' | 'ed25519' | 'simulated';
  /** Seed nodes everyone joins through; default min(3, nodes). */
  seeds?: number;
  /** Virtual time over which joins are spread, ms; default min(10,000, nodes). */
  joinWindowMs?: number;
  /** Most virtual time one phase may take before it is reported as not converged; default 600,000. */
  maxPhaseMs?: number;
  /** Called with a line of progress now and then (phase ends, every ~10 s of wall time). */
  onProgress?: (line: string) => void;
}

/** The result of {@link runMembershipSim}; JSON-ready, snake_case as the CLI prints it. */
export interface MembershipSimResult {
  seed: Seed;
  nodes: number;
  loss: number;
  detector: 'swim' | 'phi';
  lifeguard: boolean;
  protocol: 'test' | 'local' | 'lan';
  scheme: string;
  join_pattern: string;
  trace_hash: string;
  /** Virtual ms from the first join call until every node lists every node alive; null if never. */
  join_converged_ms: number | null;
  /** Virtual ms from a key write until every node has seen it; null if never. */
  update_converged_ms: number | null;
  /** Virtual ms from a crash until every other node lists the node dead; null if never or N < 2. */
  detect_converged_ms: number | null;
  false_deaths: number;
  false_suspicions: number;
  /** Join calls that failed (no seed answered). */
  join_failures: number;
  bytes_per_node_per_s: number;
  packets_sent: number;
  frames_sent: number;
  events: number;
  virtual_ms: number;
  wall_ms: number;
  setup_ms: number;
  phase_wall_ms: { join: number; update: number; detect: number };
  heap_peak_mb: number;
  rss_peak_mb: number;
  /** Peak memory of ArrayBuffers (packets, frames, records), outside the JS heap. */
  array_buffers_peak_mb: number;
  /** V8's old-space limit in force (host setting, e.g. raised by the CLI's re-exec). */
  heap_limit_mb: number;
}

const UNKNOWN = 0;
const ALIVE = 1;
const SUSPECT = 2;
const DEAD = 3;
const LEFT = 4;
const STATE_CODE: Record<string, number> = { alive: ALIVE, suspect: SUSPECT, dead: DEAD, left: LEFT };

/**
 * What every node lists about every node, as one byte per (observer, subject) pair, kept from the
 * nodes' events: N^2 bytes (100 MB at 10,000 nodes), so convergence checks cost O(1) per event.
 */
class ClusterView {
  readonly states: Uint8Array;
  readonly aliveCount: Int32Array;
  /** Observers that list all N nodes alive. */
  fullyAlive = 0;
  /** Observers that list `watched` dead (the watched node itself excluded). */
  watchedDead = 0;
  watched = -1;
  falseDeaths = 0;
  falseSuspicions = 0;
  readonly crashed: Uint8Array;

  constructor(readonly n: number) {
    this.states = new Uint8Array(n * n);
    this.aliveCount = new Int32Array(n);
    this.crashed = new Uint8Array(n);
    for (let i = 0; i < n; i++) this.set(i, i, ALIVE);
  }

  set(observer: number, subject: number, code: number): void {
    const at = observer * this.n + subject;
    const old = this.states[at]!;
    if (old === code) return;
    this.states[at] = code;
    if (old === ALIVE) {
      if (this.aliveCount[observer] === this.n) this.fullyAlive--;
      this.aliveCount[observer]!--;
    } else if (code === ALIVE) {
      this.aliveCount[observer]!++;
      if (this.aliveCount[observer] === this.n) this.fullyAlive++;
    }
    if (subject === this.watched && observer !== subject) {
      if (old === DEAD) this.watchedDead--;
      else if (code === DEAD) this.watchedDead++;
    }
    if (this.crashed[subject] === 0) {
      if (code === DEAD) this.falseDeaths++;
      else if (code === SUSPECT) this.falseSuspicions++;
    }
  }

  watch(subject: number): void {
    this.watched = subject;
    this.crashed[subject] = 1;
    let dead = 0;
    for (let i = 0; i < this.n; i++) {
      if (i !== subject && this.states[i * this.n + subject] === DEAD) dead++;
    }
    this.watchedDead = dead;
  }
}

function presetConfig(
  name: 'test' | 'local' | 'lan',
  nodes: number,
  detector: 'swim' | 'phi',
  lifeguard: boolean,
): MembershipProtocolConfig {
  const preset = name === 'test' ? testConfig : name === 'local' ? localConfig : lanConfig;
  const base = preset();
  return preset({
    detector,
    swim: { lifeguard },
    // memberlist's pushPullScale: the full-state exchange slows down as the cluster grows.
    pushPullIntervalMs: base.pushPullIntervalMs * pushPullScale(nodes),
  });
}

/** memberlist's push-pull multiplier: 1 up to 32 nodes, then +1 per doubling. */
export function pushPullScale(nodes: number): number {
  if (nodes <= 32) return 1;
  return Math.ceil(Math.log2(nodes) - Math.log2(32)) + 1;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * Runs N membership nodes on the simulator and measures join, update and failure-detection
 * convergence, false deaths and bandwidth (see the module comment for definitions).
 *
 * @example
 * ```ts
 * const r = await runMembershipSim({ nodes: 100, seed: 1 });
 * console.log(r.join_converged_ms, r.trace_hash);
 * ```
 */
export async function runMembershipSim(options: MembershipSimOptions): Promise<MembershipSimResult> {
  const n = options.nodes;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new CairnError('INVALID_ARGUMENT', `nodes must be a positive integer, got ${n}`);
  }
  const seed = parseSeed(options.seed);
  const loss = options.loss ?? 0;
  const detector = options.detector ?? 'swim';
  const lifeguard = options.lifeguard ?? true;
  const protocolName = options.protocol ?? 'lan';
  const schemeName = options.scheme ?? 'auto';
  const scheme =
    schemeName === 'ed25519' || (schemeName === 'auto' && n <= 200) ? ed25519Scheme : simulatedScheme;
  const seedCount = Math.max(1, Math.min(options.seeds ?? 3, n));
  const joinWindowMs = options.joinWindowMs ?? Math.min(10_000, n);
  const maxPhaseMs = options.maxPhaseMs ?? 600_000;
  const progress = options.onProgress ?? (() => {});
  const protocol = presetConfig(protocolName, n, detector, lifeguard);

  const started = performance.now();
  const sim = new Simulator({ seed, settle: true, network: { loss } });
  const view = new ClusterView(n);
  const indexOf = new Map<NodeId, number>();
  const members: Membership[] = new Array(n);
  const addresses: Address[] = [];

  const listen = (observer: number, m: Membership) => {
    const onMember = (e: Extract<MembershipEvent, { member: unknown }>) => {
      const subject = indexOf.get(e.member.id);
      if (subject !== undefined) view.set(observer, subject, STATE_CODE[e.member.state] ?? UNKNOWN);
    };
    m.on('join', onMember);
    m.on('alive', onMember);
    m.on('suspect', onMember);
    m.on('dead', onMember);
    m.on('leave', onMember);
  };

  for (let i = 0; i < n; i++) {
    const identity = NodeIdentity.fromSeed(sim.rng.child(`identity:${i}`).bytes(32));
    indexOf.set(identity.nodeId, i);
    const name = `n${i}`;
    const address = sim.addNode(name, async (ctx) => {
      const m = await Membership.create({
        identity,
        transport: ctx.transport(),
        clock: ctx.clock,
        rng: ctx.rng,
        protocol,
        scheme,
        // No configured seeds: a node with seeds that knows no peer re-seeds (joins every seed) on
        // its own timer, so with a join window of seconds many nodes joined all three seeds before
        // their turn, and again at it: in the first 0.8 s of 10,000 nodes, 2.2 million records
        // moved instead of 0.2 million. Each node joins once, at its time, through `join([seed])`.
        name,
      });
      members[i] = m;
      listen(i, m);
      return { stop: () => m.shutdown() };
    });
    addresses.push(address);
  }
  await sim.runFor(1);
  const setupMs = performance.now() - started;
  for (let i = 0; i < n; i++) {
    if (members[i] === undefined) throw new CairnError('INTERNAL', `node n${i} did not start`);
  }

  let heapPeak = 0;
  let rssPeak = 0;
  let buffersPeak = 0;
  let lastProgress = performance.now();
  const sample = () => {
    const mem = process.memoryUsage();
    heapPeak = Math.max(heapPeak, mem.heapUsed);
    rssPeak = Math.max(rssPeak, mem.rss);
    buffersPeak = Math.max(buffersPeak, mem.arrayBuffers);
    const now = performance.now();
    if (now - lastProgress > 10_000) {
      lastProgress = now;
      progress(
        `  t=${sim.elapsedMs.toFixed(0)}ms virtual, ${((now - started) / 1000).toFixed(0)}s wall, ` +
          `alive-complete ${view.fullyAlive}/${n}, heap ${(mem.heapUsed / 2 ** 20).toFixed(0)} MB`,
      );
    }
  };
  const runOptions = { afterEvent: sample, afterEventEvery: 20_000 } as const;

  // ---- join
  const joinRng = sim.rng.child('join-plan');
  const joinStart = sim.now;
  let joinFailures = 0;
  const joinVia = (i: number, seedIndex: number) => {
    members[i]!.join([addresses[seedIndex]!]).catch(() => {
      joinFailures++;
    });
  };
  for (let i = 1; i < seedCount; i++) joinVia(i, 0);
  const rest = n - seedCount;
  for (let i = seedCount; i < n; i++) {
    const at = rest <= 1 ? 0 : ((i - seedCount) / (rest - 1)) * joinWindowMs;
    const via = joinRng.int(seedCount);
    sim.schedule(at, () => joinVia(i, via));
  }
  let phaseWall = performance.now();
  const joined = await sim.runUntil(() => view.fullyAlive === n, { maxMs: maxPhaseMs, ...runOptions });
  const joinMs = joined ? sim.now - joinStart : null;
  const joinWall = performance.now() - phaseWall;
  progress(
    `join: ${joined ? `${round1(joinMs!)} ms virtual` : 'not converged'}, ${(joinWall / 1000).toFixed(1)} s wall`,
  );

  // ---- update
  phaseWall = performance.now();
  const writer = n > 1 ? 1 : 0;
  const writerId = members[writer]!.id;
  const key = 'eval';
  const value = `v-${String(seed)}`;
  const seen = new Uint8Array(n);
  let seenCount = 1;
  seen[writer] = 1;
  for (let i = 0; i < n; i++) {
    if (i === writer) continue;
    const observer = i;
    members[i]!.on('update', (e) => {
      if (seen[observer] === 0 && e.node === writerId && e.key === key && e.value === value) {
        seen[observer] = 1;
        seenCount++;
      }
    });
  }
  const updateStart = sim.now;
  members[writer]!.local.set(key, value);
  const updated = await sim.runUntil(() => seenCount === n, { maxMs: maxPhaseMs, ...runOptions });
  const updateMs = updated ? sim.now - updateStart : null;
  const updateWall = performance.now() - phaseWall;
  progress(`update: ${updated ? `${round1(updateMs!)} ms virtual` : 'not converged'}`);

  // ---- detect
  phaseWall = performance.now();
  let detectMs: number | null = null;
  if (n >= 2) {
    const victim = n - 1 === writer ? 0 : n - 1;
    view.watch(victim);
    const detectStart = sim.now;
    sim.crash(`n${victim}`);
    const detected = await sim.runUntil(() => view.watchedDead === n - 1, {
      maxMs: maxPhaseMs,
      ...runOptions,
    });
    detectMs = detected ? sim.now - detectStart : null;
  }
  const detectWall = performance.now() - phaseWall;
  progress(`detect: ${detectMs === null ? 'not converged' : `${round1(detectMs)} ms virtual`}`);
  sample();

  const stats = sim.network.stats;
  const virtualMs = sim.now - joinStart;
  const bytes = stats.packetBytesSent + stats.frameBytesSent;
  const wallMs = performance.now() - started;
  return {
    seed,
    nodes: n,
    loss,
    detector,
    lifeguard,
    protocol: protocolName,
    scheme: scheme.name,
    join_pattern: `${seedCount} seed(s); the others each join one random seed, spread over ${joinWindowMs} ms`,
    trace_hash: sim.traceHash(),
    join_converged_ms: joinMs === null ? null : round1(joinMs),
    update_converged_ms: updateMs === null ? null : round1(updateMs),
    detect_converged_ms: detectMs === null ? null : round1(detectMs),
    false_deaths: view.falseDeaths,
    false_suspicions: view.falseSuspicions,
    bytes_per_node_per_s: virtualMs > 0 ? Math.round(bytes / n / (virtualMs / 1000)) : 0,
    packets_sent: stats.packetsSent,
    frames_sent: stats.framesSent,
    events: sim.eventCount,
    virtual_ms: round1(sim.elapsedMs),
    wall_ms: round1(wallMs),
    setup_ms: round1(setupMs),
    phase_wall_ms: { join: round1(joinWall), update: round1(updateWall), detect: round1(detectWall) },
    heap_peak_mb: Math.round(heapPeak / 2 ** 20),
    rss_peak_mb: Math.round(rssPeak / 2 ** 20),
    array_buffers_peak_mb: Math.round(buffersPeak / 2 ** 20),
    heap_limit_mb: Math.round(getHeapStatistics().heap_size_limit / 2 ** 20),
    join_failures: joinFailures,
  };
}
