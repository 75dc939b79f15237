/**
 * Membership benchmark:
 * `npm run bench -- membership [--nodes 64] [--json] [--preset lan|local] [--seed S] [--rounds 1]
 *  [--timeout-ms 60000] [--settle-ms 2000] [--steady-ms 3000]`.
 *
 * N membership nodes in one process, each on its own real `NetTransport` (UDP + TCP on 127.0.0.1,
 * ephemeral ports), Ed25519 signatures, the LAN preset by default (memberlist's DefaultLANConfig
 * probe and gossip intervals). It measures, on the definitions issue 3 gives for
 * hashicorp/memberlist's figures:
 * - `join_ms`: from the first join call (every node but the seed joins the seed at once) until
 *   every node lists all N members alive;
 * - `update_ms`: one node sets one key until every other node has had the `update` event;
 * - `detect_ms`: one node stops abruptly (membership shut down and transport closed, no leave)
 *   until every other node has had its `dead` event.
 * Times are event arrival times (no polling). `--rounds R` repeats the update (R different nodes)
 * and the detection (R victims, one after another, so later rounds run on N-1, N-2, ... nodes) and
 * reports the median, with every round's figure beside it: detection time has a random part (how
 * long until some member probes the victim, about one probe interval on average), so one sample
 * says little. Every wait has a deadline; a missed one reports the figure as null and names the
 * phase in `timed_out`. Also reported: CPU time and event-loop
 * utilisation per phase, event-loop delay, bytes and packets sent per node per second.
 *
 * Memberlist is not run here (no Go toolchain); its figures are the ones issue 3 states.
 * Measures; never fails on a time.
 */
import { availableParallelism, loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Rng } from '../src/core/index.js';
import { lanConfig, localConfig } from '../src/membership/index.js';
import { Cluster } from './_membership-cluster.js';

/** hashicorp/memberlist on the same definitions and intervals, as stated in issue 3. */
const MEMBERLIST_UPDATE_MS = 600;
const MEMBERLIST_DETECT_MS = 9000;
const UPDATE_KEY = 'bench-update';
/** An event-loop delay above this in a phase is reported as a warning next to the figures. */
const STALL_WARN_MS = 500;

interface PhaseCost {
  wall_ms: number;
  cpu_ms: number;
  /** CPU time / wall time: 1.0 is one core fully busy. */
  cpu_cores: number;
  event_loop_utilization: number;
  event_loop_delay_p99_ms: number;
  event_loop_delay_max_ms: number;
  bytes_per_node_per_s: number;
  packets_per_node_per_s: number;
  ed25519_verifies_per_node_per_s: number;
  ed25519_signs_per_node_per_s: number;
}

/** Measures CPU, event loop and traffic between `start()` and `end()`. */
class PhaseMeter {
  private readonly histogram = monitorEventLoopDelay({ resolution: 10 });
  private t = 0;
  private cpu = process.cpuUsage();
  private elu = performance.eventLoopUtilization();
  private bytes = 0;
  private packets = 0;
  private verifies = 0;
  private signs = 0;

  constructor(private readonly cluster: Cluster) {
    this.histogram.enable();
  }

  start(): void {
    this.t = performance.now();
    this.cpu = process.cpuUsage();
    this.elu = performance.eventLoopUtilization();
    this.bytes = this.cluster.bytesSent();
    this.packets = this.cluster.packetsSent();
    this.verifies = this.cluster.crypto.verifies;
    this.signs = this.cluster.crypto.signs;
    this.histogram.reset();
  }

  end(): PhaseCost {
    const wall = performance.now() - this.t;
    const cpu = process.cpuUsage(this.cpu);
    const elu = performance.eventLoopUtilization(this.elu);
    const nodeSeconds = Math.max(1, this.cluster.running().length) * (wall / 1000);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    return {
      wall_ms: round(wall),
      cpu_ms: round(cpuMs),
      cpu_cores: round(cpuMs / Math.max(wall, 1), 2),
      event_loop_utilization: round(elu.utilization, 2),
      event_loop_delay_p99_ms: round(this.histogram.percentile(99) / 1e6, 1),
      event_loop_delay_max_ms: round(this.histogram.max / 1e6, 1),
      bytes_per_node_per_s: Math.round((this.cluster.bytesSent() - this.bytes) / nodeSeconds),
      packets_per_node_per_s: round((this.cluster.packetsSent() - this.packets) / nodeSeconds, 1),
      ed25519_verifies_per_node_per_s: round((this.cluster.crypto.verifies - this.verifies) / nodeSeconds, 1),
      ed25519_signs_per_node_per_s: round((this.cluster.crypto.signs - this.signs) / nodeSeconds, 1),
    };
  }

  close(): void {
    this.histogram.disable();
  }
}

function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function median(xs: readonly number[]): number {
  const d = [...xs].sort((a, b) => a - b);
  if (d.length === 0) return Number.NaN;
  const mid = Math.floor(d.length / 2);
  return d.length % 2 === 1 ? d[mid]! : round((d[mid - 1]! + d[mid]!) / 2);
}

/** Spread of arrival times after `t0`: first, median, last (ms). */
function spread(times: readonly number[], t0: number): { first: number; p50: number; last: number } {
  const d = times.map((t) => t - t0).sort((a, b) => a - b);
  return {
    first: round(d[0] ?? Number.NaN),
    p50: round(d[Math.floor((d.length - 1) / 2)] ?? Number.NaN),
    last: round(d[d.length - 1] ?? Number.NaN),
  };
}

const idle = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Runs the benchmark; returns the figures (printed as JSON by bench/run.ts). */
export async function main(argv: string[]): Promise<object> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '64' },
      preset: { type: 'string', default: 'lan' },
      seed: { type: 'string', default: '1' },
      rounds: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      'timeout-ms': { type: 'string', default: '60000' },
      'settle-ms': { type: 'string', default: '2000' },
      'steady-ms': { type: 'string', default: '3000' },
    },
  });
  const n = Number(values.nodes);
  if (!Number.isSafeInteger(n) || n < 3 || n > 1024) {
    throw new Error(`--nodes must be 3..1024, got ${values.nodes}`);
  }
  const rounds = Number(values.rounds);
  if (!Number.isSafeInteger(rounds) || rounds < 1 || rounds > Math.min(10, Math.floor((n - 1) / 2))) {
    throw new Error(`--rounds must be 1..${Math.min(10, Math.floor((n - 1) / 2))}, got ${values.rounds}`);
  }
  if (values.preset !== 'lan' && values.preset !== 'local') {
    throw new Error(`--preset must be lan or local, got ${values.preset}`);
  }
  const preset = values.preset;
  const protocol = preset === 'lan' ? lanConfig() : localConfig();
  const seed = values.seed;
  const timeoutMs = Number(values['timeout-ms']);
  const settleMs = Number(values['settle-ms']);
  const steadyMs = Number(values['steady-ms']);
  const rng = Rng.fromSeed(`${seed}/bench`);
  log(
    `membership bench: ${n} nodes, ${preset} preset, seed ${seed}, ${rounds} round(s), node ${process.version}`,
  );

  const loadBefore = loadavg()[0] ?? 0;
  const cpuStart = process.cpuUsage();
  const setupStart = performance.now();
  const cluster = await Cluster.start({ nodes: n, protocol, seed });
  const setupMs = performance.now() - setupStart;
  const meter = new PhaseMeter(cluster);
  const timedOut: string[] = [];
  const nodes = cluster.nodes;
  const seedNode = nodes[0]!;
  // Updaters and victims: distinct non-seed nodes, chosen by the seed.
  const picked = rng.sample(nodes.slice(1), 2 * rounds);
  const updaters = picked.slice(0, rounds);
  const victims = picked.slice(rounds);

  // ---- join -------------------------------------------------------------------------------------
  meter.start();
  const joinStart = performance.now();
  let joinErrors = 0;
  const joinCalls = Promise.all(
    nodes.slice(1).map((node) =>
      node.membership.join([seedNode.transport.localAddress]).catch(() => {
        joinErrors++;
      }),
    ),
  ).then(() => performance.now() - joinStart);
  const joined = await cluster.waitFor(() => nodes.every((x) => x.allAliveAt !== undefined), timeoutMs);
  const joinCost = meter.end();
  if (!joined) timedOut.push('join');
  const joinCallsMs = await Promise.race([joinCalls, idle(timeoutMs).then(() => Number.NaN)]);
  const joinAt = nodes.map((x) => x.allAliveAt).filter((t): t is number => t !== undefined);
  const join = spread(joinAt, joinStart);
  log(`join: ${joined ? `${join.last} ms` : 'timed out'} (${joinAt.length}/${n} nodes saw all ${n} alive)`);

  // ---- steady state: join gossip dies down (unmeasured), then a measured quiet window -------------
  await idle(settleMs);
  meter.start();
  await idle(steadyMs);
  const steady = meter.end();

  // ---- update ----------------------------------------------------------------------------------
  const updateRounds: Array<ReturnType<typeof spread> & { complete: boolean }> = [];
  meter.start();
  for (const [r, updater] of updaters.entries()) {
    if (r > 0) await idle(500);
    const updateKey = `${updater.membership.id}/${UPDATE_KEY}`;
    const others = nodes.filter((x) => x !== updater);
    const start = performance.now();
    updater.membership.local.set(UPDATE_KEY, `value-${seed}-${r}`);
    const complete = await cluster.waitFor(() => others.every((x) => x.updateAt.has(updateKey)), timeoutMs);
    const at = others.map((x) => x.updateAt.get(updateKey)).filter((t): t is number => t !== undefined);
    updateRounds.push({ ...spread(at, start), complete });
    log(
      `update ${r}: ${complete ? `${updateRounds[r]!.last} ms` : 'timed out'} (${at.length}/${n - 1} nodes)`,
    );
  }
  const updateCost = meter.end();
  if (updateRounds.some((u) => !u.complete)) timedOut.push('update');
  await idle(Math.min(settleMs, 1000));

  // ---- detect ----------------------------------------------------------------------------------
  const detectRounds: Array<{
    nodes: number;
    complete: boolean;
    dead: ReturnType<typeof spread>;
    first_suspect: ReturnType<typeof spread>;
  }> = [];
  meter.start();
  for (const [r, victim] of victims.entries()) {
    if (r > 0) await idle(1000);
    const victimId = victim.membership.id;
    const survivors = cluster.running().filter((x) => x !== victim);
    const start = performance.now();
    await cluster.crash(victim);
    const since = (t: number | undefined) => (t !== undefined && t >= start ? t : undefined);
    const complete = await cluster.waitFor(
      () => survivors.every((x) => since(x.deadAt.get(victimId)) !== undefined),
      timeoutMs,
    );
    const deadAt = survivors
      .map((x) => since(x.deadAt.get(victimId)))
      .filter((t): t is number => t !== undefined);
    const suspectAt = survivors
      .map((x) => since(x.suspectAt.get(victimId)))
      .filter((t): t is number => t !== undefined);
    const dead = spread(deadAt, start);
    const suspect = spread(suspectAt, start);
    detectRounds.push({ nodes: survivors.length + 1, complete, dead, first_suspect: suspect });
    log(
      `detect ${r}: ${complete ? `${dead.last} ms` : 'timed out'} (${deadAt.length}/${survivors.length} ` +
        `nodes; first suspicion at ${suspect.first} ms, first death at ${dead.first} ms)`,
    );
  }
  const detectCost = meter.end();
  if (detectRounds.some((d) => !d.complete)) timedOut.push('detect');

  const survivors = cluster.running();
  const swimCounters: Record<string, number> = {};
  for (const x of survivors) {
    for (const [k, v] of Object.entries(x.membership.swimStats().counters)) {
      swimCounters[k] = (swimCounters[k] ?? 0) + v;
    }
  }
  const rejected = survivors.reduce((s, x) => s + x.membership.stats.rejectedRecords, 0);
  const malformed = survivors.reduce((s, x) => s + x.membership.stats.malformed, 0);

  meter.close();
  const stopped = await cluster.stop(10_000);
  if (!stopped) timedOut.push('shutdown');

  const goalUpdateMs = MEMBERLIST_UPDATE_MS / 2;
  const goalDetectMs = MEMBERLIST_DETECT_MS;
  const updateMs = updateRounds.every((u) => u.complete) ? median(updateRounds.map((u) => u.last)) : null;
  const detectMs = detectRounds.every((d) => d.complete)
    ? median(detectRounds.map((d) => d.dead.last))
    : null;
  const cpuTotal = process.cpuUsage(cpuStart);
  const warnings: string[] = [];
  const phases = { join: joinCost, steady, update: updateCost, detect: detectCost };
  for (const [phase, cost] of Object.entries(phases)) {
    if (cost.event_loop_delay_max_ms > STALL_WARN_MS) {
      warnings.push(
        `event loop stalled ${cost.event_loop_delay_max_ms} ms during ${phase}: that phase's figures are inflated`,
      );
    }
  }
  const result = {
    nodes: n,
    preset,
    seed,
    rounds,
    signature_scheme: 'ed25519',
    transport: 'NetTransport (UDP + TCP, 127.0.0.1), one per node, one process',
    join_ms: joined ? join.last : null,
    update_ms: updateMs,
    detect_ms: detectMs,
    update_ms_rounds: updateRounds.map((u) => (u.complete ? u.last : null)),
    detect_ms_rounds: detectRounds.map((d) => (d.complete ? d.dead.last : null)),
    reference: 'hashicorp/memberlist figures as stated in issue 3, not measured here',
    memberlist_update_ms: MEMBERLIST_UPDATE_MS,
    memberlist_detect_ms: MEMBERLIST_DETECT_MS,
    goal_update_ms: goalUpdateMs,
    goal_detect_ms: goalDetectMs,
    update_goal_met: updateMs !== null && updateMs <= goalUpdateMs,
    detect_goal_met: detectMs !== null && detectMs <= goalDetectMs,
    bytes_per_node_per_s: steady.bytes_per_node_per_s,
    packets_per_node_per_s: steady.packets_per_node_per_s,
    cpu_cores_steady: steady.cpu_cores,
    cpu_ms_total: round((cpuTotal.user + cpuTotal.system) / 1000),
    warnings,
    ...(preset === 'lan' ? {} : { note: 'reference figures and goals are for the LAN intervals' }),
    timed_out: timedOut,
    machine: {
      cpus: availableParallelism(),
      node: process.version,
      load_avg_1m_before: round(loadBefore, 2),
      load_avg_1m_after: round(loadavg()[0] ?? 0, 2),
      note: 'all nodes share one process and event loop; other load on the machine inflates every figure',
    },
    detail: {
      setup_ms: round(setupMs),
      join_calls_resolved_ms: round(joinCallsMs),
      join_errors: joinErrors,
      join_spread_ms: join,
      update_spread_ms: updateRounds,
      detect_spread_ms: detectRounds,
      false_deaths: cluster.falseDeaths,
      false_suspicions: cluster.falseSuspicions,
      rejected_records: rejected,
      malformed_packets: malformed,
      swim_counters_sum: swimCounters,
      clean_shutdown: stopped,
    },
    cost: {
      note:
        'per phase (update and detect include the pauses between rounds); cpu_cores 1.0 = one core ' +
        'busy; bytes and packets are sent by all running nodes; ed25519 counts are checks that reached ' +
        'node:crypto, below the verification caches',
      ...phases,
    },
  };
  if (!values.json) {
    log(
      `join_ms ${result.join_ms}, update_ms ${updateMs} (goal <= ${goalUpdateMs}), ` +
        `detect_ms ${detectMs} (goal <= ${goalDetectMs}); steady ${steady.bytes_per_node_per_s} B/node/s, ` +
        `${steady.cpu_cores} cores, event-loop utilisation ${steady.event_loop_utilization}` +
        (warnings.length > 0 ? `; ${warnings.join('; ')}` : ''),
    );
  }
  return result;
}
