import { CairnError, describeError, Rng, type Seed } from '../core/index.js';
import { describeLatency, type Latency } from './latency.js';
import { DEFAULT_LIMITS } from './limits.js';
import { parseSeed } from './seed.js';
import { Simulator, type SimulatorOptions } from './simulator.js';

/** Which faults a scenario allows; the swarm draws concrete settings per seed within these. */
export interface FaultProfile {
  /** Highest packet loss drawn (uniform in [0, maxLoss]); default 0.2. 0 disables loss. */
  maxLoss?: number;
  /** Highest duplication drawn; default 0.05. */
  maxDuplicate?: number;
  /** Highest mean one-way latency drawn, ms; default 20. */
  maxLatencyMs?: number;
  /** Allow partitions (symmetric, one-way, isolate); default true. */
  partitions?: boolean;
  /** Allow process pauses; default true. */
  pauses?: boolean;
  /** Allow crashes (each followed by a restart); default false (the scenario must survive restarts). */
  crashes?: boolean;
  /** Most nodes down at once; default 1. */
  maxCrashed?: number;
  /** Longest a partition lasts: each cut is healed at most this long after it began; default unbounded. */
  maxPartitionMs?: number;
  /**
   * Allow clock skew: a node's clock offset (within ±`maxClockOffsetMs`) and drift (within
   * ±`maxClockDrift`) change at random; default false (the scenario must tolerate skewed clocks).
   */
  clockSkew?: boolean;
  /** Largest clock offset drawn, ms; default 60,000. */
  maxClockOffsetMs?: number;
  /** Largest clock drift drawn (0.001 = 0.1% fast); default 0.001. */
  maxClockDrift?: number;
  /**
   * Step a crashed node's clock back (by up to `maxClockOffsetMs`) before it restarts, so the new
   * process reads an earlier time than the old one did; default false. Needs `crashes`.
   */
  clockStepBack?: boolean;
}

/** Fault settings drawn for one seed; printed first, so a run can be read from its header. */
export interface FaultSettings {
  loss: number;
  duplicate: number;
  latency: Latency;
  partitions: boolean;
  pauses: boolean;
  crashes: boolean;
  maxCrashed: number;
  /** Mean virtual time between fault actions, ms. */
  faultIntervalMs: number;
  /** Longest a partition lasts, ms (Infinity: until a random heal). */
  maxPartitionMs: number;
  /** Largest clock offset the injector sets, ms; 0 when skew is off. */
  clockOffsetMs: number;
  /** Largest clock drift the injector sets; 0 when skew is off. */
  clockDrift: number;
  /** Whether a crashed node's clock is stepped back before it restarts. */
  clockStepBack: boolean;
}

/**
 * Draws fault settings for one seed within `profile`.
 *
 * @param rng - a stream derived from the seed
 */
export function drawFaults(rng: Rng, profile: FaultProfile = {}): FaultSettings {
  const maxLoss = profile.maxLoss ?? 0.2;
  const maxDup = profile.maxDuplicate ?? 0.05;
  const maxLatency = profile.maxLatencyMs ?? 20;
  const mean = Math.round((0.5 + rng.float() * Math.max(0, maxLatency - 0.5)) * 10) / 10;
  const latencyKinds: Latency[] = [
    { kind: 'constant', ms: mean },
    { kind: 'uniform', minMs: mean / 2, maxMs: mean * 1.5 },
    { kind: 'normal', meanMs: mean, stddevMs: Math.round((mean / 3) * 10) / 10 },
    {
      kind: 'exponential',
      minMs: Math.round((mean / 4) * 10) / 10,
      meanMs: Math.round(((mean * 3) / 4) * 10) / 10,
    },
  ];
  return {
    loss: maxLoss > 0 ? Math.round(rng.float() * maxLoss * 1000) / 1000 : 0,
    duplicate: maxDup > 0 ? Math.round(rng.float() * maxDup * 1000) / 1000 : 0,
    latency: rng.pick(latencyKinds),
    partitions: (profile.partitions ?? true) && rng.chance(0.8),
    pauses: (profile.pauses ?? true) && rng.chance(0.7),
    crashes: (profile.crashes ?? false) && rng.chance(0.7),
    maxCrashed: profile.maxCrashed ?? 1,
    faultIntervalMs: 200 + rng.int(2_000),
    maxPartitionMs: profile.maxPartitionMs ?? Number.POSITIVE_INFINITY,
    ...drawClockFaults(rng, profile),
  };
}

/** The clock part of {@link drawFaults}; draws nothing when skew is off, so other runs keep their schedule. */
function drawClockFaults(
  rng: Rng,
  profile: FaultProfile,
): Pick<FaultSettings, 'clockOffsetMs' | 'clockDrift' | 'clockStepBack'> {
  const skew = (profile.clockSkew ?? false) && rng.chance(0.8);
  const stepBack = (profile.clockStepBack ?? false) && (profile.crashes ?? false);
  if (!skew && !stepBack) return { clockOffsetMs: 0, clockDrift: 0, clockStepBack: false };
  const maxOffset = profile.maxClockOffsetMs ?? 60_000;
  return {
    clockOffsetMs: Math.round(rng.float() * maxOffset),
    clockDrift: skew ? Math.round(rng.float() * (profile.maxClockDrift ?? 0.001) * 1e6) / 1e6 : 0,
    clockStepBack: stepBack,
  };
}

/** One line describing fault settings. */
export function describeFaults(f: FaultSettings): string {
  const clock =
    f.clockOffsetMs > 0 || f.clockDrift > 0
      ? ` clockOffsetMs=${f.clockOffsetMs} clockDrift=${f.clockDrift} clockStepBack=${f.clockStepBack}`
      : '';
  return `loss=${f.loss} duplicate=${f.duplicate} latency=${describeLatency(f.latency)} partitions=${f.partitions} pauses=${f.pauses} crashes=${f.crashes} faultIntervalMs=${f.faultIntervalMs}${clock}`;
}

/** What a scenario's functions receive. */
export interface SwarmContext {
  /** The run's simulator. */
  readonly sim: Simulator;
  /** The run's seed. */
  readonly seed: Seed;
  /** The fault settings drawn for it. */
  readonly faults: FaultSettings;
  /** The scenario's own random stream (independent of the fault schedule's). */
  readonly rng: Rng;
  /** Virtual time when the liveness phase healed every fault; undefined during the safety phase. */
  healedAt: number | undefined;
}

/** A check of an invariant: throw (or return a message) when it is violated. */
export type SwarmChecker<S> = (state: S, ctx: SwarmContext) => string | undefined;

/** Options of {@link runSwarm}. */
export interface SwarmOptions<S> {
  /** Scenario name for the log. */
  name: string;
  /** Seeds to run. Default: `CAIRN_SEED` if set, otherwise `count` seeds from `startSeed`. */
  seeds?: readonly Seed[];
  /** Number of seeds when `seeds` is not given; default 10. */
  count?: number;
  /** First seed when `seeds` is not given; default 1. */
  startSeed?: number;
  /** Faults the scenario allows. */
  faults?: FaultProfile;
  /** Simulator options besides seed and network (e.g. `settle`, `traceLog`). */
  simulator?: Omit<SimulatorOptions, 'seed' | 'network'>;
  /** Builds the cluster; its result is the state checkers read. */
  setup(ctx: SwarmContext): S | Promise<S>;
  /** Safety invariants, checked after every `checkEvery` events of the faulty phase. */
  checkers?: ReadonlyArray<SwarmChecker<S>>;
  /** Virtual time of the faulty (safety) phase, ms; default 10,000. */
  safetyMs?: number;
  /** Events between checks; default 1 (after every event). */
  checkEvery?: number;
  /**
   * Runs once the liveness phase healed every fault and restarted every crashed node, before the
   * convergence wait (e.g. to crash a node for good, which `converged` must then see dead).
   */
  onHeal?: (state: S, ctx: SwarmContext) => void;
  /** Liveness: after healing, this must become true within `livenessMs`. */
  converged?: (state: S, ctx: SwarmContext) => boolean;
  /** What is not converged yet, appended to a liveness failure's message. */
  unconverged?: (state: S, ctx: SwarmContext) => string;
  /** Deadline of the liveness phase, ms; default 30,000. */
  livenessMs?: number;
  /** The command that replays one seed, printed on failure. */
  replayCommand(seed: Seed): string;
  /** Where lines go; default stderr. */
  log?: (line: string) => void;
  /** Buffer each run's lines and print them only when it fails; default false. */
  quiet?: boolean;
  /** Throw a `SIM_CHECK_FAILED` error on failure (after printing); default true. */
  throwOnFailure?: boolean;
}

/** The outcome of one seed. */
export interface SwarmRun {
  seed: Seed;
  ok: boolean;
  faults: FaultSettings;
  traceHash: string;
  virtualMs: number;
  events: number;
  /** Present when the run failed. */
  failure?: SwarmFailure;
}

/** Why a seed failed, with the line that replays it. */
export interface SwarmFailure {
  seed: Seed;
  phase: 'setup' | 'safety' | 'liveness';
  message: string;
  command: string;
  traceHash: string;
  virtualMs: number;
  /** The printed report (header, failure, replay command). */
  report: string;
}

/** The outcome of a swarm. */
export interface SwarmResult {
  ok: boolean;
  runs: SwarmRun[];
  failure?: SwarmFailure;
}

function seedsOf<S>(options: SwarmOptions<S>, max: number): Seed[] {
  let seeds: Seed[];
  if (options.seeds !== undefined) seeds = [...options.seeds];
  else if (process.env.CAIRN_SEED !== undefined && process.env.CAIRN_SEED.trim() !== '')
    seeds = [parseSeed(process.env.CAIRN_SEED)];
  else {
    const start = options.startSeed ?? 1;
    seeds = Array.from({ length: options.count ?? 10 }, (_, i) => start + i);
  }
  if (seeds.length > max)
    throw new CairnError('LIMIT_EXCEEDED', `swarm of ${seeds.length} seeds is over maxSwarmSeeds=${max}`);
  return seeds;
}

/** Injects random faults on `sim` until `stop()` is called; every choice comes from `rng`. */
class FaultInjector {
  private readonly crashed = new Set<string>();
  /** Clock offset the injector last set per node. */
  private readonly offsets = new Map<string, number>();
  private healPending = false;
  private stopped = false;

  constructor(
    private readonly sim: Simulator,
    private readonly faults: FaultSettings,
    private readonly rng: Rng,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    this.next();
  }

  stop(): void {
    this.stopped = true;
  }

  /** Names of nodes this injector crashed and did not restart yet. */
  get down(): string[] {
    return [...this.crashed];
  }

  private next(): void {
    this.sim.schedule(this.rng.exponential(this.faults.faultIntervalMs), () => {
      if (this.stopped) return;
      this.act();
      this.next();
    });
  }

  private act(): void {
    const sim = this.sim;
    const names = sim.nodeNames();
    if (names.length === 0) return;
    const actions: Array<() => void> = [];
    const f = this.faults;
    if (f.partitions && names.length >= 2) {
      actions.push(() => {
        const shuffled = this.rng.shuffle([...names]);
        const cut = 1 + this.rng.int(names.length - 1);
        sim.network.partition(shuffled.slice(0, cut), shuffled.slice(cut));
        this.log(`  t=${sim.elapsedMs.toFixed(0)} partition ${cut}/${names.length - cut}`);
      });
      actions.push(() => {
        const [a, b] = this.rng.sample(names, 2) as [string, string];
        sim.network.partitionOneWay(a, b);
        this.log(`  t=${sim.elapsedMs.toFixed(0)} one-way ${a} -> ${b}`);
      });
      actions.push(() => {
        const a = this.rng.pick(names);
        sim.network.isolate(a);
        this.log(`  t=${sim.elapsedMs.toFixed(0)} isolate ${a}`);
      });
      actions.push(() => {
        sim.network.heal();
        this.log(`  t=${sim.elapsedMs.toFixed(0)} heal`);
      });
    }
    if (f.pauses) {
      actions.push(() => {
        const a = this.rng.pick(names);
        if (sim.nodeState(a) === 'down') return;
        const ms = this.rng.exponential(f.faultIntervalMs);
        sim.pause(a, ms);
        this.log(`  t=${sim.elapsedMs.toFixed(0)} pause ${a} for ${ms.toFixed(0)}ms`);
      });
    }
    if (f.crashes) {
      actions.push(() => {
        const a = this.rng.pick(names);
        if (sim.nodeState(a) === 'down' || this.crashed.size >= f.maxCrashed) return;
        sim.crash(a);
        this.crashed.add(a);
        const after = this.rng.exponential(f.faultIntervalMs);
        this.log(`  t=${sim.elapsedMs.toFixed(0)} crash ${a}, restart in ${after.toFixed(0)}ms`);
        if (f.clockStepBack) {
          // The clock goes back further than the downtime, so the new process reads an earlier
          // time than the old one last did.
          const offsetMs =
            (this.offsets.get(a) ?? 0) - Math.round(after + 1 + this.rng.float() * f.clockOffsetMs);
          this.offsets.set(a, offsetMs);
          sim.setClockSkew(a, { offsetMs });
          this.log(`  t=${sim.elapsedMs.toFixed(0)} clock of ${a} stepped to offset ${offsetMs}ms`);
        }
        sim.schedule(after, () => this.restart(a));
      });
    }
    if (f.clockOffsetMs > 0 || f.clockDrift > 0) {
      actions.push(() => {
        const a = this.rng.pick(names);
        let offsetMs = Math.round((this.rng.float() * 2 - 1) * f.clockOffsetMs);
        // Without step-backs, an offset only moves forward: a restarted process (which reads the
        // clock afresh) must never read an earlier time than its previous incarnation did.
        if (!f.clockStepBack) offsetMs = Math.max(offsetMs, this.offsets.get(a) ?? 0);
        this.offsets.set(a, offsetMs);
        const drift = Math.round((this.rng.float() * 2 - 1) * f.clockDrift * 1e6) / 1e6;
        sim.setClockSkew(a, { offsetMs, drift });
        this.log(`  t=${sim.elapsedMs.toFixed(0)} clock of ${a}: offset ${offsetMs}ms drift ${drift}`);
      });
    }
    if (actions.length > 0) this.rng.pick(actions)();
    this.boundPartition();
  }

  /** With `maxPartitionMs`, heals every cut at most that long after it began. */
  private boundPartition(): void {
    const max = this.faults.maxPartitionMs;
    if (!Number.isFinite(max) || !this.sim.network.partitioned || this.healPending) return;
    this.healPending = true;
    this.sim.schedule(max, () => {
      this.healPending = false;
      if (this.stopped) return;
      this.sim.network.heal();
      this.log(`  t=${this.sim.elapsedMs.toFixed(0)} heal (maxPartitionMs)`);
    });
  }

  /** Restarts `name` if this injector crashed it and it is still down. */
  restart(name: string): void {
    if (!this.crashed.delete(name)) return;
    if (this.sim.nodeState(name) === 'down') this.sim.restart(name);
  }
}

/**
 * Runs a scenario over many seeds, each in two phases: a safety phase with randomized faults
 * (drawn from the seed) and checkers after every step, then a liveness phase that heals every
 * fault and runs until `converged` holds or the deadline passes.
 *
 * Every run prints its seed and fault settings first. On the first failure the swarm prints
 * `seed=<S>` and the replay command, stops, and throws (or returns, with `throwOnFailure: false`)
 * the failure.
 *
 * @example
 * ```ts
 * await runSwarm({
 *   name: 'ping', count: 5, quiet: true,
 *   setup: ({ sim }) => addPingNodes(sim, { nodes: 5 }),
 *   checkers: [(names, { sim }) => { ... }],
 *   replayCommand: (s) => `CAIRN_SEED=${s} node --import tsx --test test/sim/ping.test.ts`,
 * });
 * ```
 */
export async function runSwarm<S>(options: SwarmOptions<S>): Promise<SwarmResult> {
  const write = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const runs: SwarmRun[] = [];
  const seeds = seedsOf(options, DEFAULT_LIMITS.maxSwarmSeeds);
  for (const seed of seeds) {
    const run = await runOne(options, seed, write);
    runs.push(run);
    if (run.failure !== undefined) {
      if (options.throwOnFailure ?? true) {
        throw new CairnError('SIM_CHECK_FAILED', run.failure.report, {
          details: { seed, phase: run.failure.phase },
        });
      }
      return { ok: false, runs, failure: run.failure };
    }
  }
  return { ok: true, runs };
}

async function runOne<S>(
  options: SwarmOptions<S>,
  seed: Seed,
  write: (line: string) => void,
): Promise<SwarmRun> {
  const lines: string[] = [];
  const log = options.quiet ? (line: string) => lines.push(line) : write;
  const root = Rng.fromSeed(seed);
  const faults = drawFaults(root.child('swarm:faults'), options.faults);
  const sim = new Simulator({
    ...options.simulator,
    seed,
    network: { latency: faults.latency, loss: faults.loss, duplicate: faults.duplicate },
  });
  const ctx: SwarmContext = { sim, seed, faults, rng: root.child('swarm:scenario'), healedAt: undefined };
  log(`[${options.name}] seed=${seed} ${describeFaults(faults)}`);
  let phase: SwarmFailure['phase'] = 'setup';
  const injector = new FaultInjector(sim, faults, root.child('swarm:injector'), log);
  try {
    const state = await options.setup(ctx);
    phase = 'safety';
    const checkers = options.checkers ?? [];
    const check = () => {
      for (const checker of checkers) {
        const message = checker(state, ctx);
        if (typeof message === 'string') throw new CairnError('SIM_CHECK_FAILED', message);
      }
    };
    injector.start();
    await sim.runFor(options.safetyMs ?? 10_000, {
      afterEvent: check,
      afterEventEvery: options.checkEvery ?? 1,
    });
    check();
    phase = 'liveness';
    injector.stop();
    sim.network.heal();
    sim.network.clearLinks();
    sim.network.configure({ loss: 0, duplicate: 0 });
    for (const name of sim.nodeNames()) {
      if (sim.nodeState(name) === 'paused') sim.resume(name);
    }
    for (const name of injector.down) injector.restart(name);
    ctx.healedAt = sim.now;
    log(`  t=${sim.elapsedMs.toFixed(0)} healed; liveness phase`);
    options.onHeal?.(state, ctx);
    const converged = options.converged;
    if (converged !== undefined) {
      const held = await sim.runUntil(() => converged(state, ctx), { maxMs: options.livenessMs ?? 30_000 });
      if (!held)
        throw new CairnError(
          'SIM_CHECK_FAILED',
          `did not converge within ${options.livenessMs ?? 30_000} ms after healing${options.unconverged === undefined ? '' : `: ${options.unconverged(state, ctx)}`}`,
        );
    }
    log(`  ok trace=${sim.traceHash()} events=${sim.eventCount} virtualMs=${sim.elapsedMs.toFixed(0)}`);
    return {
      seed,
      ok: true,
      faults,
      traceHash: sim.traceHash(),
      virtualMs: sim.elapsedMs,
      events: sim.eventCount,
    };
  } catch (err) {
    const command = options.replayCommand(seed);
    const message =
      err instanceof CairnError && err.code === 'SIM_CHECK_FAILED' ? err.message : describeError(err);
    log(`FAIL [${options.name}] seed=${seed} phase=${phase} t=${sim.elapsedMs.toFixed(0)}ms: ${message}`);
    log(`replay: ${command}`);
    if (options.quiet) for (const line of lines) write(line);
    const failure: SwarmFailure = {
      seed,
      phase,
      message,
      command,
      traceHash: sim.traceHash(),
      virtualMs: sim.elapsedMs,
      report:
        lines.length > 0 ? lines.join('\n') : `seed=${seed} phase=${phase}: ${message}\nreplay: ${command}`,
    };
    return {
      seed,
      ok: false,
      faults,
      traceHash: failure.traceHash,
      virtualMs: failure.virtualMs,
      events: sim.eventCount,
      failure,
    };
  }
}
