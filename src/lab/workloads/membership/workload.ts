import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CairnError, type Clock, sleep } from '../../../core/index.js';
import type { MembershipPreset } from '../../../node/config-fields.js';
import type { AgentSpec } from '../../hosts/agent-process.js';
import type { NemesisRecord } from '../../nemesis/executor.js';
import { DEFAULT_LIMITS } from '../../run/limits.js';
import type { LabTiming } from '../../run/timing.js';
import type { Workload, WorkloadContext, WorkloadResult } from '../../run/workload.js';
import { checkMembership } from './check.js';
import type { MembershipHistory, Observation } from './history.js';
import { ViewWatcher } from './watcher.js';

/**
 * The membership workload: N agents running only the membership role; one watcher per agent
 * records every change of its view while the nemesis runs (kills, pauses, loss, partitions,
 * skew); after the final heal it waits for every view to agree; then `checkMembership` judges the
 * history (check.ts).
 */

/** Options of {@link MembershipWorkload}. */
export interface MembershipWorkloadOptions {
  /** Membership preset of every agent. */
  preset: MembershipPreset;
  /** Windows and bounds (run/timing.ts). */
  timing: LabTiming;
  /** The lab clock, for the waits. */
  clock: Clock;
}

/** The file of a run's log directory that holds its history, for `npm run lab -- check <dir>`. */
export const HISTORY_FILE = 'history.json';

/** What {@link HISTORY_FILE} holds. */
export interface SavedMembershipHistory {
  /** Always `membership`. */
  workload: 'membership';
  /** The checker's windows of the run. */
  options: { shadowMs: number; detectBoundMs: number; suspicionWindowMs?: number };
  /** Everything recorded. */
  history: MembershipHistory;
}

/** How often the in-memory views are compared while waiting for agreement, ms. */
const AGREE_POLL_MS = 100;

/** See the file comment. */
export class MembershipWorkload implements Workload {
  readonly name = 'membership';
  private watchers: ViewWatcher[] = [];
  private readonly observations: Observation[] = [];
  private healedAt = 0;
  private convergedAt: number | undefined;
  private finalViews: MembershipHistory['final']['views'] = {};
  private nodes = 0;

  /** @param options - preset, timing, clock */
  constructor(private readonly options: MembershipWorkloadOptions) {}

  agentSpec(): AgentSpec {
    return { roles: ['membership'], preset: this.options.preset };
  }

  async start(ctx: WorkloadContext): Promise<void> {
    const { hosts, log } = ctx;
    this.nodes = hosts.agents.length;
    this.watchers = hosts.agents.map(
      (agent, i) =>
        new ViewWatcher(
          i,
          agent,
          (id) => hosts.indexOf(id),
          () => log.now(),
          (o) => this.observe(ctx, o),
        ),
    );
    for (const w of this.watchers) w.start();
    const formed = await this.waitAgreement(DEFAULT_LIMITS.formTimeoutMs, 0, ctx.signal);
    if (formed === undefined) {
      throw new CairnError(
        'TIMEOUT',
        `the cluster did not form within ${DEFAULT_LIMITS.formTimeoutMs} ms (formTimeoutMs): ${this.describeViews()}`,
      );
    }
    log.say('formed', `every node lists all ${this.nodes} alive`);
  }

  async finish(ctx: WorkloadContext): Promise<void> {
    this.healedAt = ctx.log.say('healed', 'every fault healed; waiting for the views to agree');
    this.convergedAt = await this.waitAgreement(
      this.options.timing.convergeTimeoutMs,
      this.healedAt,
      ctx.signal,
    );
    this.finalViews = this.snapshotViews();
    if (this.convergedAt === undefined)
      ctx.log.say('converge', `views did not agree: ${this.describeViews()}`);
    else ctx.log.say('converge', `views agree ${this.convergedAt - this.healedAt} ms after the heal`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.watchers.map((w) => w.stop()));
  }

  check(nemesis: NemesisRecord, logDir: string): WorkloadResult {
    const history: MembershipHistory = {
      nodes: this.nodes,
      faultCounts: nemesis.counts,
      cuts: nemesis.cuts,
      losses: nemesis.losses,
      kills: nemesis.kills,
      outages: nemesis.outages,
      observations: this.observations,
      timeline: nemesis.timeline,
      final: {
        healedAt: this.healedAt,
        ...(this.convergedAt === undefined ? {} : { convergedAt: this.convergedAt }),
        views: this.finalViews,
      },
    };
    const { shadowMs, detectBoundMs, suspicionWindowMs } = this.options.timing;
    const saved: SavedMembershipHistory = {
      workload: 'membership',
      options: { shadowMs, detectBoundMs, suspicionWindowMs },
      history,
    };
    writeFileSync(join(logDir, HISTORY_FILE), `${JSON.stringify(saved)}\n`);
    const result = checkMembership(history, { shadowMs, detectBoundMs, suspicionWindowMs });
    return {
      valid: result.valid,
      violations: result.violations,
      figures: { ...result.figures, shadowMs, detectBoundMs },
    };
  }

  /** The history so far (for saving next to the run log). */
  history(): Observation[] {
    return this.observations;
  }

  private observe(ctx: WorkloadContext, o: Observation): void {
    if (this.observations.length >= DEFAULT_LIMITS.maxObservations) return;
    this.observations.push(o);
    ctx.log.record('view', { ...o });
    if (o.to === 'dead' && o.from !== 'dead') {
      ctx.log.say('death', `node-${o.observer} sees node-${o.member} dead`, {
        observer: o.observer,
        member: o.member,
      });
    }
  }

  private snapshotViews(): MembershipHistory['final']['views'] {
    const views: MembershipHistory['final']['views'] = {};
    this.watchers.forEach((w, x) => {
      const view: Record<number, string> = {};
      for (const [m, e] of [...w.view.entries()].sort((a, b) => a[0] - b[0]))
        view[m] = `${e.state}@${e.generation}`;
      views[x] = view;
    });
    return views;
  }

  private describeViews(): string {
    return Object.entries(this.snapshotViews())
      .map(
        ([x, v]) =>
          `node-${x}: ${
            Object.entries(v)
              .map(([m, s]) => `node-${m}=${s}`)
              .join(' ') || '(no answer)'
          }`,
      )
      .join('; ');
  }

  /** True when every node lists every node alive, with the same generation everywhere. */
  private agree(): boolean {
    const generations = new Map<number, number>();
    for (const w of this.watchers) {
      for (let m = 0; m < this.nodes; m++) {
        const e = w.view.get(m);
        if (e === undefined || e.state !== 'alive') return false;
        const g = generations.get(m);
        if (g !== undefined && g !== e.generation) return false;
        generations.set(m, e.generation);
      }
    }
    return true;
  }

  /**
   * Resolves with the time views agreed (the last view change, or `since` when they already
   * agreed), or undefined after `timeoutMs` or an abort.
   */
  private async waitAgreement(
    timeoutMs: number,
    since: number,
    signal: AbortSignal,
  ): Promise<number | undefined> {
    const start = Date.now();
    while (Date.now() - start < timeoutMs) {
      if (this.agree()) return Math.max(since, this.observations.at(-1)?.at ?? 0);
      try {
        await sleep(this.options.clock, AGREE_POLL_MS, signal);
      } catch {
        return undefined;
      }
    }
    return undefined;
  }
}
