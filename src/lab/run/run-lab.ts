import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CairnError, type Clock, describeError, systemClock } from '../../core/index.js';
import type { MembershipPreset } from '../../node/config-fields.js';
import { LabHosts } from '../hosts/lab-hosts.js';
import { labUnavailableReason } from '../hosts/network.js';
import { NemesisExecutor } from '../nemesis/executor.js';
import type { NemesisKind } from '../nemesis/faults.js';
import { planSchedule } from '../nemesis/schedule.js';
import { KvWorkload } from '../workloads/kv/workload.js';
import { MembershipWorkload } from '../workloads/membership/workload.js';
import { StoreWorkload } from '../workloads/store/workload.js';
import { RunLog } from './run-log.js';
import { labTiming } from './timing.js';
import type { LabViolation, Workload } from './workload.js';

/**
 * One lab run, start to end: sweep and build the hosts, start the workload, run the nemesis for
 * the duration, heal, let the workload settle, check, and tear everything down on every path
 * (success, violation, failure, abort). The report says where the log directory is and the exact
 * command that repeats the run.
 */

/** The workloads that exist (a new one plugs in here and in `makeWorkload`: run/workload.ts). */
export const WORKLOADS = ['membership', 'store', 'kv'] as const;

/** One of {@link WORKLOADS}. */
export type WorkloadName = (typeof WORKLOADS)[number];

/** Options of {@link runLab}. */
export interface LabOptions {
  /** Which workload. */
  workload: WorkloadName;
  /** Number of agents. */
  nodes: number;
  /** Enabled faults. */
  nemesis: readonly NemesisKind[];
  /** Length of the fault phase, seconds. */
  durationS: number;
  /** Root seed. */
  seed: number;
  /** Loss rate of loss faults, percent. */
  lossPercent: number;
  /** Agents' membership preset. */
  preset: MembershipPreset;
  /** Largest clock skew, ms. */
  maxSkewMs: number;
  /** Folder under which the run's log directory is made; default `<tmp>/cairn-lab-runs`. */
  logRoot?: string;
  /** Folder of data directories and owner files; default `<tmp>/cairn-lab-state`. */
  stateRoot?: string;
  /** Progress lines. */
  progress: (line: string) => void;
  /** Fires on Ctrl-C: the run heals, checks what it has and tears down. */
  signal: AbortSignal;
  /** The lab clock; default the system clock. */
  clock?: Clock;
}

/** What a run ends with. */
export interface LabReport {
  /** `valid`, `invalid` (a violation), `failed` (the run itself broke), `aborted` or `unavailable`. */
  outcome: 'valid' | 'invalid' | 'failed' | 'aborted' | 'unavailable';
  /** Workload name. */
  workload: string;
  /** Root seed. */
  seed: number;
  /** The command that repeats this run. */
  command: string;
  /** Violations, first first. */
  violations: LabViolation[];
  /** Figures of the workload. */
  figures: Record<string, unknown>;
  /** Run log directory (absent when the lab could not run here). */
  logDir?: string;
  /** Why the run failed or could not run. */
  error?: string;
  /** Anything the teardown could not remove. */
  cleanupProblems: string[];
}

/** The `npm run lab` command line that repeats a run. */
export function replayCommand(o: LabOptions): string {
  return [
    'npm run lab --',
    o.workload,
    `--nodes ${o.nodes}`,
    `--nemesis ${o.nemesis.join(',') || 'none'}`,
    `--duration ${o.durationS}`,
    `--seed ${o.seed}`,
    `--loss ${o.lossPercent}`,
    `--preset ${o.preset}`,
    `--max-skew-ms ${o.maxSkewMs}`,
  ].join(' ');
}

function makeWorkload(o: LabOptions, clock: Clock): Workload {
  switch (o.workload) {
    case 'membership':
      return new MembershipWorkload({ preset: o.preset, timing: labTiming(o.preset, o.nodes), clock });
    case 'store':
      return new StoreWorkload({ nodes: o.nodes, preset: o.preset, seed: o.seed, clock });
    case 'kv':
      return new KvWorkload({ nodes: o.nodes, preset: o.preset, seed: o.seed });
  }
}

/**
 * Runs the lab once. Never throws for a run that went wrong: the report says how.
 *
 * @example
 * ```ts
 * const report = await runLab({ workload: 'membership', nodes: 3, nemesis: ['kill'], durationS: 60, seed: 1,
 *   lossPercent: 10, preset: 'local', maxSkewMs: 60_000, progress: console.error, signal });
 * ```
 */
export async function runLab(o: LabOptions): Promise<LabReport> {
  const base = {
    workload: o.workload,
    seed: o.seed,
    command: replayCommand(o),
    violations: [],
    figures: {},
    cleanupProblems: [],
  };
  const unavailable = await labUnavailableReason();
  if (unavailable !== undefined) return { ...base, outcome: 'unavailable', error: unavailable };

  const clock = o.clock ?? systemClock;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logDir = join(o.logRoot ?? join(tmpdir(), 'cairn-lab-runs'), `${stamp}-${o.workload}-seed${o.seed}`);
  const log = new RunLog(logDir, clock, o.progress);
  const stateRoot = o.stateRoot ?? join(tmpdir(), 'cairn-lab-state');
  const timing = labTiming(o.preset, o.nodes);
  const schedule = planSchedule({
    seed: o.seed,
    nodes: o.nodes,
    kinds: o.nemesis,
    durationMs: o.durationS * 1000,
    timing: timing.schedule,
    lossPercent: o.lossPercent,
    maxSkewMs: o.maxSkewMs,
  });
  log.record('run', {
    options: { ...o, progress: undefined, signal: undefined, clock: undefined },
    command: base.command,
    timing,
  });
  log.record('schedule', { faults: schedule });
  log.say(
    'plan',
    `${o.workload}: ${o.nodes} nodes, ${schedule.length} faults over ${o.durationS} s, seed ${o.seed}; log ${logDir}`,
  );

  const workload = makeWorkload(o, clock);
  let hosts: LabHosts | undefined;
  let report: LabReport;
  try {
    hosts = await LabHosts.create({
      nodes: o.nodes,
      spec: workload.agentSpec(),
      stateRoot,
      log,
      signal: o.signal,
      onCreated: (h) => {
        hosts = h;
      },
    });
    const ctx = { hosts, log, signal: o.signal };
    await workload.start(ctx);
    const nemesis = new NemesisExecutor(hosts, log, clock);
    await nemesis.run(schedule, o.signal);
    if (o.signal.aborted) throw new CairnError('CANCELLED', 'the run was interrupted');
    await workload.finish(ctx);
    await workload.stop();
    const result = workload.check(nemesis.record, logDir);
    const violations = [
      ...nemesis.record.errors.map((message) => ({ kind: 'nemesis-error', at: 0, message, around: [] })),
      ...result.violations,
    ];
    report = {
      ...base,
      outcome: violations.length === 0 ? 'valid' : 'invalid',
      violations,
      figures: result.figures,
      logDir,
    };
  } catch (err) {
    const aborted = o.signal.aborted;
    report = { ...base, outcome: aborted ? 'aborted' : 'failed', error: describeError(err), logDir };
  } finally {
    // A workload that fails to stop must not keep the teardown from running.
    await workload.stop().catch((err: unknown) => log.say('error', `workload stop: ${describeError(err)}`));
  }
  if (hosts !== undefined) {
    log.say('teardown', 'removing agents, namespaces, links, rules and data directories');
    report.cleanupProblems = await hosts
      .destroy()
      .catch((err: unknown) => [`teardown: ${describeError(err)}`]);
  }
  log.record('result', { report });
  writeFileSync(join(logDir, 'result.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
