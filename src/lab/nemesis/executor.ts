import { assertNever, type Clock, describeError, sleep } from '../../core/index.js';
import type { LabHosts } from '../hosts/lab-hosts.js';
import { applyRules } from '../hosts/network.js';
import type { RunLog } from '../run/run-log.js';
import type {
  CutRecord,
  KillRecord,
  LossRecord,
  Outage,
  TimelineEvent,
} from '../workloads/membership/history.js';
import { type Fault, hostRules, type PlannedFault } from './faults.js';

/**
 * Carries out a schedule on real hosts: nft rules for partitions and loss, SIGKILL and a restart
 * on the same data directory, SIGSTOP/SIGCONT, and a restart with a test-only clock offset for
 * skew. Each lane is a loop that waits for a fault's planned start, starts it, waits for its
 * planned end and heals it; a lane that falls behind (a slow restart) starts its next fault late,
 * never early, and the records hold the times things really happened.
 *
 * Every fault's start and end goes to the run log (`fault-start`, `fault-end`) with the lab's
 * timestamp. When the run is aborted (Ctrl-C, a failure) each lane heals its current fault before
 * it returns, so `run` always ends with the network whole and every agent running or restarted.
 */

/** What the nemesis did, in the run log's clock. */
export interface NemesisRecord {
  /** Faults started, by kind. */
  counts: Record<string, number>;
  /** Cuts as they were in place. */
  cuts: CutRecord[];
  /** Loss episodes as they were in place. */
  losses: LossRecord[];
  /** Kills, down until the restarted agent answered. */
  kills: KillRecord[];
  /** Kills, skew restarts and pauses. */
  outages: Outage[];
  /** Every fault start and end. */
  timeline: TimelineEvent[];
  /** Skew faults, from the stop before the skewed restart to the restart with the right clock. */
  skews: SkewRecord[];
  /** Problems met while healing (a restart that failed): the run cannot be trusted past them. */
  errors: string[];
}

/** A node that ran with a shifted clock (`CAIRN_TEST_CLOCK_OFFSET_MS`) during [from, to]. */
export interface SkewRecord {
  node: number;
  offsetMs: number;
  /** ms since the run epoch. */
  from: number;
  to: number;
}

/** Runs a schedule against `hosts`. */
export class NemesisExecutor {
  /** What happened so far. */
  readonly record: NemesisRecord = {
    counts: {},
    cuts: [],
    losses: [],
    kills: [],
    outages: [],
    timeline: [],
    skews: [],
    errors: [],
  };
  private readonly activeNet = new Map<number, Fault>();
  private readonly cutStart = new Map<number, number>();

  /**
   * @param hosts - the run's hosts
   * @param log - the run log (its clock is the records' clock)
   * @param clock - for the waits between faults
   */
  constructor(
    private readonly hosts: LabHosts,
    private readonly log: RunLog,
    private readonly clock: Clock,
  ) {}

  /**
   * Runs every fault of `schedule`, offsets counted from now; resolves when both lanes are done
   * (or aborted and healed).
   */
  async run(schedule: readonly PlannedFault[], signal: AbortSignal): Promise<void> {
    const phaseStart = this.log.now();
    // A lane that fails (an nft command refused) stops the other one too, which heals its
    // current fault; the failure is thrown once both are done, so nothing runs on after it.
    const stopLanes = new AbortController();
    const laneSignal = AbortSignal.any([signal, stopLanes.signal]);
    const lanes = ['net', 'process'].map((lane) =>
      this.runLane(
        schedule.filter((f) => f.lane === lane),
        phaseStart,
        laneSignal,
      ).catch((err: unknown) => {
        stopLanes.abort();
        throw err;
      }),
    );
    const results = await Promise.allSettled(lanes);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  private async until(phaseStart: number, offsetMs: number, signal: AbortSignal): Promise<boolean> {
    const wait = phaseStart + offsetMs - this.log.now();
    if (signal.aborted) return false;
    if (wait <= 0) return true;
    try {
      await sleep(this.clock, wait, signal);
      return true;
    } catch {
      return false;
    }
  }

  private async runLane(
    faults: readonly PlannedFault[],
    phaseStart: number,
    signal: AbortSignal,
  ): Promise<void> {
    for (const planned of faults) {
      if (!(await this.until(phaseStart, planned.startMs, signal))) return;
      const started = await this.start(planned);
      await this.until(phaseStart, planned.endMs, signal);
      await this.end(planned, started);
    }
  }

  private note(type: 'fault-start' | 'fault-end', planned: PlannedFault, extra = ''): number {
    const text = `${type === 'fault-start' ? 'start' : 'end  '} #${planned.id} ${planned.fault.describe}${extra}`;
    const t = this.log.say(type, text, {
      id: planned.id,
      fault: planned.fault,
      plannedMs: type === 'fault-start' ? planned.startMs : planned.endMs,
    });
    this.record.timeline.push({ at: t, text });
    return t;
  }

  private async applyNet(): Promise<void> {
    const rules = hostRules(this.hosts.plan.hosts.length, [...this.activeNet.values()]);
    await Promise.all(rules.map((r, i) => applyRules(this.hosts.plan, i, r)));
  }

  private async restart(node: number, offsetMs: number): Promise<void> {
    try {
      this.hosts.restart(node, offsetMs);
      await this.hosts.agents[node]!.waitHealthy();
    } catch (err) {
      const problem = `node-${node} did not come back: ${describeError(err)}`;
      this.record.errors.push(problem);
      this.log.say('error', problem);
    }
  }

  /** Starts a fault; returns when it was started (the lab clock). */
  private async start(planned: PlannedFault): Promise<number> {
    const f = planned.fault;
    this.record.counts[f.kind] = (this.record.counts[f.kind] ?? 0) + 1;
    const agent = (node: number) => this.hosts.agents[node]!;
    switch (f.kind) {
      case 'partition':
      case 'loss': {
        this.activeNet.set(planned.id, f);
        await this.applyNet();
        const t = this.note('fault-start', planned);
        this.cutStart.set(planned.id, t);
        return t;
      }
      case 'kill': {
        const t = this.note('fault-start', planned);
        await agent(f.node).kill();
        return t;
      }
      case 'pause': {
        const t = this.note('fault-start', planned);
        agent(f.node).pause();
        return t;
      }
      case 'skew': {
        const t = this.note('fault-start', planned);
        await agent(f.node).stop(5_000);
        await this.restart(f.node, f.offsetMs);
        this.record.outages.push({ node: f.node, kind: 'down', from: t, to: this.log.now() });
        return t;
      }
      default:
        return assertNever(f);
    }
  }

  /** Heals a fault. */
  private async end(planned: PlannedFault, startedAt: number): Promise<void> {
    const f = planned.fault;
    const agent = (node: number) => this.hosts.agents[node]!;
    switch (f.kind) {
      case 'partition':
      case 'loss': {
        this.activeNet.delete(planned.id);
        await this.applyNet();
        const t = this.note('fault-end', planned);
        const start = this.cutStart.get(planned.id) ?? startedAt;
        if (f.kind === 'partition') {
          for (const c of f.cuts) this.record.cuts.push({ from: c.from, to: c.to, start, end: t });
        } else {
          this.record.losses.push({ percent: f.percent, start, end: t });
        }
        return;
      }
      case 'kill': {
        await this.restart(f.node, 0);
        const t = this.note('fault-end', planned, ' (restarted, answering)');
        this.record.kills.push({ node: f.node, from: startedAt, to: t });
        this.record.outages.push({ node: f.node, kind: 'down', from: startedAt, to: t });
        return;
      }
      case 'pause': {
        agent(f.node).resume();
        const t = this.note('fault-end', planned);
        this.record.outages.push({ node: f.node, kind: 'paused', from: startedAt, to: t });
        return;
      }
      case 'skew': {
        const from = this.log.now();
        await agent(f.node).stop(5_000);
        await this.restart(f.node, 0);
        const t = this.note('fault-end', planned, ' (restarted with the right clock)');
        this.record.outages.push({ node: f.node, kind: 'down', from, to: t });
        this.record.skews.push({ node: f.node, offsetMs: f.offsetMs, from: startedAt, to: t });
        return;
      }
      default:
        return assertNever(f);
    }
  }
}
