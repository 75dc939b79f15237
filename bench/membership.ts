/**
 * Membership benchmark, Cairn against hashicorp/memberlist measured in the same run:
 * `npm run bench -- membership [--nodes 64] [--rounds 1] [--json] [--preset lan|local] [--seed S]
 *  [--intern node|process] [--memberlist run|skip] [--timeout-ms 60000] [--settle-ms 2000]
 *  [--steady-ms 3000] [--leave-timeout-ms 2500]`.
 *
 * N Cairn membership nodes in one process, each on its own real `NetTransport` (UDP + TCP on
 * 127.0.0.1, ephemeral ports), Ed25519 signatures, the LAN preset by default. Then, one after the
 * other (never at once), N memberlist nodes with `DefaultLANConfig` in one Go process
 * (`bench/memberlist/main.go`, built by `bench/_memberlist.ts`; needs Debian `golang-go` and
 * `golang-github-hashicorp-memberlist-dev`). Both measure, on the same definitions:
 * - `join_ms`: from the first join call (every node but the seed joins the seed at once) until
 *   every node lists all N members alive;
 * - `update_ms`: one node changes a value (Cairn: sets one key; memberlist: its metadata, then
 *   UpdateNode) until every other node has had the `update` event (memberlist: NotifyUpdate);
 * - `detect_ms`: one node stops abruptly (shut down and transport closed, no leave) until every
 *   other node has had its `dead` event (memberlist: NotifyLeave in state dead);
 * - leave: one node leaves as the agent does on SIGTERM (`leave(leaveTimeoutMs)`, then shut down);
 *   each other node counts as having seen it `left` or `dead` (whichever came first), and
 *   `leave_all_left_rounds` is how many rounds every node saw `left`.
 * Times are event arrival times (no polling). `--rounds R` repeats update, detection and leave
 * (different nodes; detection and leave rounds run on N-1, N-2, ... nodes) and reports medians,
 * every round's figure beside them. Every wait has a deadline; a missed one reports the figure as
 * null and names the phase in `timed_out`.
 *
 * Ratios are Cairn's figure over memberlist's; the goals (`MEMBERSHIP_GOALS`: detect at most
 * 0.7x, update 0.5x, join 1.0x) are checked on them. The machine's load average is recorded before
 * each tool; absolute times move with it, the same-run ratio much less. If Go or memberlist is
 * missing, `memberlist` says why (`"not run: go not found"`) and Cairn's figures are printed alone.
 *
 * What one real node pays: with `--intern node` (default) each Cairn node runs in an intern scope
 * of its own (`src/membership/intern.ts`), so it verifies and decodes every record it receives
 * itself, as alone in its process; `--intern process` shares that work across the process, as the
 * simulator does, which makes the in-process cluster cheaper than reality. Also reported: CPU per
 * node per second, CPU and event-loop utilisation per phase, event-loop delay, bytes and packets
 * sent per node per second. Measures; never fails on a time.
 */
import { availableParallelism, loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Rng } from '../src/core/index.js';
import { lanConfig, localConfig } from '../src/membership/index.js';
import { PROCESS_SCOPE } from '../src/membership/intern.js';
import { intOption } from './_args.js';
import { type MemberlistOptions, type MemberlistOutcome, runMemberlist } from './_memberlist.js';
import { Cluster, type ClusterNode } from './_membership-cluster.js';
import { compareFigures, configDifferences } from './_membership-compare.js';

const UPDATE_KEY = 'bench-update';
/** An event-loop delay above this in a phase is reported as a warning next to the figures. */
const STALL_WARN_MS = 500;

interface PhaseCost {
  wall_ms: number;
  cpu_ms: number;
  /** CPU time / wall time: 1.0 is one core fully busy. */
  cpu_cores: number;
  /** CPU time per running node per second of the phase, ms. */
  cpu_ms_per_node_per_s: number;
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
      cpu_ms_per_node_per_s: round(cpuMs / nodeSeconds, 2),
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

type Spread = ReturnType<typeof spread>;

/** The arrival time of `id` in `table` if it came at or after `start`. */
function since(table: ReadonlyMap<string, number>, id: string, start: number): number | undefined {
  const t = table.get(id);
  return t !== undefined && t >= start ? t : undefined;
}

/** The Cairn bench's options: the memberlist harness gets the same. */
type BenchOptions = MemberlistOptions;

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '64' },
      preset: { type: 'string', default: 'lan' },
      seed: { type: 'string', default: '1' },
      rounds: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      intern: { type: 'string', default: 'node' },
      memberlist: { type: 'string', default: 'run' },
      'timeout-ms': { type: 'string', default: '60000' },
      'settle-ms': { type: 'string', default: '2000' },
      'steady-ms': { type: 'string', default: '3000' },
      'leave-timeout-ms': { type: 'string', default: '2500' },
    },
  });
  const n = intOption('nodes', values.nodes, 4, 1024);
  // Updaters, victims and leavers are 3 x rounds distinct nodes besides the seed.
  const maxRounds = Math.min(10, Math.floor((n - 1) / 3));
  const rounds = intOption('rounds', values.rounds, 1, maxRounds);
  if (values.preset !== 'lan' && values.preset !== 'local') {
    throw new Error(`--preset must be lan or local, got ${values.preset}`);
  }
  if (values.intern !== 'node' && values.intern !== 'process') {
    throw new Error(`--intern must be node or process, got ${values.intern}`);
  }
  if (values.memberlist !== 'run' && values.memberlist !== 'skip') {
    throw new Error(`--memberlist must be run or skip, got ${values.memberlist}`);
  }
  const bench: BenchOptions = {
    nodes: n,
    rounds,
    seed: values.seed,
    timeoutMs: intOption('timeout-ms', values['timeout-ms'], 1, 3_600_000),
    settleMs: intOption('settle-ms', values['settle-ms'], 0, 3_600_000),
    steadyMs: intOption('steady-ms', values['steady-ms'], 0, 3_600_000),
    leaveTimeoutMs: intOption('leave-timeout-ms', values['leave-timeout-ms'], 1, 3_600_000),
  };
  const intern: 'node' | 'process' = values.intern;
  return { bench, preset: values.preset, intern, memberlist: values.memberlist, json: values.json };
}

async function runUpdates(cluster: Cluster, updaters: readonly ClusterNode[], o: BenchOptions) {
  const updateRounds: Array<Spread & { complete: boolean }> = [];
  for (const [r, updater] of updaters.entries()) {
    if (r > 0) await idle(500);
    const updateKey = `${updater.membership.id}/${UPDATE_KEY}`;
    const others = cluster.nodes.filter((x) => x !== updater);
    const start = performance.now();
    cluster.inNode(updater, () => updater.membership.local.set(UPDATE_KEY, `value-${o.seed}-${r}`));
    const complete = await cluster.waitFor(() => others.every((x) => x.updateAt.has(updateKey)), o.timeoutMs);
    const at = others.map((x) => x.updateAt.get(updateKey)).filter((t): t is number => t !== undefined);
    updateRounds.push({ ...spread(at, start), complete });
    log(
      `update ${r}: ${complete ? `${updateRounds[r]!.last} ms` : 'timed out'} (${at.length}/${o.nodes - 1} nodes)`,
    );
  }
  return updateRounds;
}

async function runDetections(cluster: Cluster, victims: readonly ClusterNode[], o: BenchOptions) {
  const detectRounds: Array<{ nodes: number; complete: boolean; dead: Spread; first_suspect: Spread }> = [];
  for (const [r, victim] of victims.entries()) {
    if (r > 0) await idle(1000);
    const id = victim.membership.id;
    const survivors = cluster.running().filter((x) => x !== victim);
    const start = performance.now();
    await cluster.crash(victim);
    const complete = await cluster.waitFor(
      () => survivors.every((x) => since(x.deadAt, id, start) !== undefined),
      o.timeoutMs,
    );
    const deadAt = survivors
      .map((x) => since(x.deadAt, id, start))
      .filter((t): t is number => t !== undefined);
    const suspectAt = survivors
      .map((x) => since(x.suspectAt, id, start))
      .filter((t): t is number => t !== undefined);
    const dead = spread(deadAt, start);
    const suspect = spread(suspectAt, start);
    detectRounds.push({ nodes: survivors.length + 1, complete, dead, first_suspect: suspect });
    log(
      `detect ${r}: ${complete ? `${dead.last} ms` : 'timed out'} (${deadAt.length}/${survivors.length} ` +
        `nodes; first suspicion at ${suspect.first} ms, first death at ${dead.first} ms)`,
    );
  }
  return detectRounds;
}

/**
 * Each leaver leaves as the agent does on SIGTERM; every other node counts as having seen it left
 * or dead, by whichever event came first (or nothing by the deadline).
 */
async function runLeaves(cluster: Cluster, leavers: readonly ClusterNode[], o: BenchOptions) {
  const leaveRounds: Array<{
    nodes: number;
    complete: boolean;
    saw_left: number;
    saw_dead: number;
    saw_nothing: number;
    left: Spread;
    leave_call_ms: number;
  }> = [];
  for (const [r, leaver] of leavers.entries()) {
    await idle(1000);
    const id = leaver.membership.id;
    const survivors = cluster.running().filter((x) => x !== leaver);
    const start = performance.now();
    const leaveCallMs = await cluster.leave(leaver, o.leaveTimeoutMs);
    const seen = (x: ClusterNode) => since(x.leftAt, id, start) ?? since(x.deadAt, id, start);
    const complete = await cluster.waitFor(() => survivors.every((x) => seen(x) !== undefined), o.timeoutMs);
    let sawLeft = 0;
    let sawDead = 0;
    for (const x of survivors) {
      const left = since(x.leftAt, id, start);
      const dead = since(x.deadAt, id, start);
      if (dead !== undefined && (left === undefined || dead < left)) sawDead++;
      else if (left !== undefined) sawLeft++;
    }
    const leftAt = survivors
      .map((x) => since(x.leftAt, id, start))
      .filter((t): t is number => t !== undefined);
    leaveRounds.push({
      nodes: survivors.length + 1,
      complete,
      saw_left: sawLeft,
      saw_dead: sawDead,
      saw_nothing: survivors.length - sawLeft - sawDead,
      left: spread(leftAt, start),
      leave_call_ms: round(leaveCallMs),
    });
    log(`leave ${r}: ${sawLeft} left, ${sawDead} dead, ${survivors.length - sawLeft - sawDead} saw nothing`);
  }
  return leaveRounds;
}

/** Runs the benchmark; returns the figures (printed as JSON by bench/run.ts). */
export async function main(argv: string[]): Promise<object> {
  const options = parseOptions(argv);
  const o = options.bench;
  const { nodes: n, rounds, seed, timeoutMs, settleMs, steadyMs } = o;
  const preset = options.preset;
  const protocol = preset === 'lan' ? lanConfig() : localConfig();
  const rng = Rng.fromSeed(`${seed}/bench`);
  log(
    `membership bench: ${n} nodes, ${preset} preset, seed ${seed}, ${rounds} round(s), ` +
      `intern per ${options.intern}, node ${process.version}`,
  );

  const loadBefore = loadavg()[0] ?? 0;
  const cpuStart = process.cpuUsage();
  const processScopeBefore = { ...PROCESS_SCOPE.stats };
  const setupStart = performance.now();
  const cluster = await Cluster.start({ nodes: n, protocol, seed, intern: options.intern });
  const setupMs = performance.now() - setupStart;
  const meter = new PhaseMeter(cluster);
  const timedOut: string[] = [];
  const nodes = cluster.nodes;
  const seedNode = nodes[0]!;
  // Updaters, victims and leavers: distinct non-seed nodes, chosen by the seed.
  const picked = rng.sample(nodes.slice(1), 3 * rounds);
  const updaters = picked.slice(0, rounds);
  const victims = picked.slice(rounds, 2 * rounds);
  const leavers = picked.slice(2 * rounds);

  // ---- join -------------------------------------------------------------------------------------
  meter.start();
  const joinStart = performance.now();
  let joinErrors = 0;
  // Failed join calls by error code: the node still joins through the seed's gossip, later.
  const joinErrorCodes: Record<string, number> = {};
  const joinCalls = Promise.all(
    nodes.slice(1).map((node) =>
      cluster
        .inNode(node, () => node.membership.join([seedNode.transport.localAddress]))
        .catch((err: unknown) => {
          joinErrors++;
          const code = String((err as { code?: unknown } | null)?.code ?? 'unknown');
          joinErrorCodes[code] = (joinErrorCodes[code] ?? 0) + 1;
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

  // ---- update, detect, leave ---------------------------------------------------------------------
  meter.start();
  const updateRounds = await runUpdates(cluster, updaters, o);
  const updateCost = meter.end();
  if (updateRounds.some((u) => !u.complete)) timedOut.push('update');
  await idle(Math.min(settleMs, 1000));
  meter.start();
  const detectRounds = await runDetections(cluster, victims, o);
  const detectCost = meter.end();
  if (detectRounds.some((d) => !d.complete)) timedOut.push('detect');
  meter.start();
  const leaveRounds = await runLeaves(cluster, leavers, o);
  const leaveCost = meter.end();
  if (leaveRounds.some((d) => !d.complete)) timedOut.push('leave');

  const survivors = cluster.running();
  const swimCounters: Record<string, number> = {};
  for (const x of survivors) {
    for (const [k, v] of Object.entries(x.membership.swimStats().counters)) {
      swimCounters[k] = (swimCounters[k] ?? 0) + v;
    }
  }
  const rejected = survivors.reduce((s, x) => s + x.membership.stats.rejectedRecords, 0);
  const malformed = survivors.reduce((s, x) => s + x.membership.stats.malformed, 0);
  // With a scope per node, nothing of a node should have interned in the process scope.
  const processScopeLookups =
    PROCESS_SCOPE.stats.hits +
    PROCESS_SCOPE.stats.misses -
    processScopeBefore.hits -
    processScopeBefore.misses;

  meter.close();
  const stopped = await cluster.stop(10_000);
  if (!stopped) timedOut.push('shutdown');
  const cpuTotal = process.cpuUsage(cpuStart);

  // ---- memberlist, after Cairn's cluster is gone ----------------------------------------------------
  const loadBeforeMemberlist = loadavg()[0] ?? 0;
  const memberlist: MemberlistOutcome =
    options.memberlist === 'skip'
      ? { ran: false, reason: 'skipped (--memberlist skip)' }
      : preset !== 'lan'
        ? { ran: false, reason: 'the harness runs DefaultLANConfig only; use --preset lan' }
        : await runMemberlist(o);
  if (!memberlist.ran) log(`memberlist: not run: ${memberlist.reason}`);

  const updateMs = updateRounds.every((u) => u.complete) ? median(updateRounds.map((u) => u.last)) : null;
  const detectMs = detectRounds.every((d) => d.complete)
    ? median(detectRounds.map((d) => d.dead.last))
    : null;
  const joinMs = joined ? join.last : null;
  const theirs = memberlist.ran ? memberlist.figures : undefined;
  const goals = compareFigures(
    { join_ms: joinMs, update_ms: updateMs, detect_ms: detectMs },
    theirs,
    timeoutMs,
  );
  const warnings: string[] = [];
  const phases = { join: joinCost, steady, update: updateCost, detect: detectCost, leave: leaveCost };
  for (const [phase, cost] of Object.entries(phases)) {
    if (cost.event_loop_delay_max_ms > STALL_WARN_MS) {
      warnings.push(
        `event loop stalled ${cost.event_loop_delay_max_ms} ms during ${phase}: that phase's figures are inflated`,
      );
    }
  }
  if (options.intern === 'node' && processScopeLookups > 0) {
    warnings.push(
      `${processScopeLookups} intern lookups ran outside the nodes' scopes: some work was shared`,
    );
  }
  const result = {
    nodes: n,
    preset,
    seed,
    rounds,
    signature_scheme: 'ed25519',
    transport: 'NetTransport (UDP + TCP, 127.0.0.1), one per node, one process',
    intern: options.intern === 'node' ? 'one scope per node' : 'one scope for the process',
    join_ms: joinMs,
    update_ms: updateMs,
    detect_ms: detectMs,
    update_ms_rounds: updateRounds.map((u) => (u.complete ? u.last : null)),
    detect_ms_rounds: detectRounds.map((d) => (d.complete ? d.dead.last : null)),
    leave_all_left_rounds: leaveRounds.filter((l) => l.saw_left === l.nodes - 1).length,
    leave_saw_dead_rounds: leaveRounds.map((l) => l.saw_dead),
    reference: memberlist.ran
      ? `hashicorp/memberlist ${memberlist.version} measured in this run after Cairn (bench/memberlist)`
      : `memberlist not run: ${memberlist.reason}`,
    memberlist_join_ms: theirs === undefined ? null : (theirs.join_ms ?? null),
    memberlist_update_ms: theirs === undefined ? null : (theirs.update_ms ?? null),
    memberlist_detect_ms: theirs === undefined ? null : (theirs.detect_ms ?? null),
    memberlist_leave_all_left_rounds: theirs === undefined ? null : (theirs.leave_all_left_rounds ?? null),
    ratios: { join: goals.join.ratio, update: goals.update.ratio, detect: goals.detect.ratio },
    goals,
    goal_join_ms: goals.join.goal_ms,
    goal_update_ms: goals.update.goal_ms,
    goal_detect_ms: goals.detect.goal_ms,
    join_goal_met: goals.join.met,
    update_goal_met: goals.update.met,
    detect_goal_met: goals.detect.met,
    bytes_per_node_per_s: steady.bytes_per_node_per_s,
    packets_per_node_per_s: steady.packets_per_node_per_s,
    cpu_cores_steady: steady.cpu_cores,
    cpu_ms_per_node_per_s_steady: steady.cpu_ms_per_node_per_s,
    cpu_ms_total: round((cpuTotal.user + cpuTotal.system) / 1000),
    warnings,
    ...(preset === 'lan' ? {} : { note: 'memberlist runs DefaultLANConfig: no comparison for this preset' }),
    timed_out: timedOut,
    machine: {
      cpus: availableParallelism(),
      node: process.version,
      load_avg_1m_before: round(loadBefore, 2),
      load_avg_1m_before_memberlist: round(loadBeforeMemberlist, 2),
      load_avg_1m_after: round(loadavg()[0] ?? 0, 2),
      note: 'all nodes of a tool share one process; other load on the machine inflates every figure',
    },
    config_differences: theirs === undefined ? null : configDifferences(protocol, theirs.config),
    memberlist: memberlist.ran
      ? { version: memberlist.version, build_ms: memberlist.buildMs, ...memberlist.figures }
      : `not run: ${memberlist.reason}`,
    detail: {
      setup_ms: round(setupMs),
      join_calls_resolved_ms: round(joinCallsMs),
      join_errors: joinErrors,
      join_error_codes: joinErrorCodes,
      join_spread_ms: join,
      update_spread_ms: updateRounds,
      detect_spread_ms: detectRounds,
      leave_rounds: leaveRounds,
      false_deaths: cluster.falseDeaths,
      false_suspicions: cluster.falseSuspicions,
      rejected_records: rejected,
      malformed_packets: malformed,
      process_scope_intern_lookups: processScopeLookups,
      swim_counters_sum: swimCounters,
      clean_shutdown: stopped,
    },
    cost: {
      note:
        'per phase (update, detect and leave include the pauses between rounds); cpu_cores 1.0 = one ' +
        'core busy; bytes and packets are sent by all running nodes; ed25519 counts are checks that ' +
        'reached node:crypto, below the verification caches',
      ...phases,
    },
  };
  if (!options.json) {
    const ratio = (x: number | null) => (x === null ? 'n/a' : `${x}x`);
    log(
      `join_ms ${joinMs} (${ratio(goals.join.ratio)} memberlist), update_ms ${updateMs} ` +
        `(${ratio(goals.update.ratio)}), detect_ms ${detectMs} (${ratio(goals.detect.ratio)}); leave seen ` +
        `as left by all in ${result.leave_all_left_rounds}/${rounds} rounds; steady ` +
        `${steady.bytes_per_node_per_s} B/node/s, ${steady.cpu_ms_per_node_per_s} CPU ms/node/s` +
        (warnings.length > 0 ? `; ${warnings.join('; ')}` : ''),
    );
  }
  return result;
}
