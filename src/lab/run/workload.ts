import type { AgentSpec } from '../hosts/agent-process.js';
import type { LabHosts } from '../hosts/lab-hosts.js';
import type { NemesisRecord } from '../nemesis/executor.js';
import type { RunLog } from './run-log.js';

/**
 * The plug point of the lab: a workload drives the agents while the nemesis breaks things, and
 * judges the history afterwards. `runLab` (run-lab.ts) calls, in order: `agentSpec` (how to start
 * every agent), `start` (hosts up, before the first fault: start clients or watchers, wait for the
 * cluster to form), then the nemesis runs, then `finish` (everything healed: wait for convergence,
 * stop clients), then `check`. `stop` is called on every path, also after a failure or Ctrl-C.
 *
 * Two exist: `workloads/membership` and `workloads/store` (etcd clients recorded with
 * `HistoryRecorder` and checked with `src/lab/lincheck`); register a new one in `WORKLOADS` and
 * `makeWorkload` (run/run-lab.ts).
 */
export interface Workload {
  /** The name on the command line. */
  readonly name: string;
  /** How every agent of the run is started. */
  agentSpec(): AgentSpec;
  /** Hosts are up: start observing or driving them; resolve when the workload is ready for faults. */
  start(ctx: WorkloadContext): Promise<void>;
  /** Every fault healed: wait for the system to settle and stop driving it. */
  finish(ctx: WorkloadContext): Promise<void>;
  /** Stops everything the workload started; idempotent, called on every path. */
  stop(): Promise<void>;
  /**
   * The verdict on the recorded history, given what the nemesis did. Saves the history in
   * `logDir` so the run can be checked again (`npm run lab -- check <logDir>`).
   */
  check(nemesis: NemesisRecord, logDir: string): WorkloadResult;
}

/** What a workload is handed. */
export interface WorkloadContext {
  /** The run's hosts and agents. */
  hosts: LabHosts;
  /** The run log. */
  log: RunLog;
  /** Fires on Ctrl-C or a failure: stop waiting. */
  signal: AbortSignal;
}

/** A violation, workload-independent. */
export interface LabViolation {
  /** Rule name (`false-death`, `undetected-kill`, `views-disagree`, `not-linearizable`, ...). */
  kind: string;
  /** When, ms since the run epoch. */
  at: number;
  /** A sentence. */
  message: string;
  /** Faults, view changes or operations around it. */
  around: { at: number; text: string }[];
}

/** The verdict of a workload. */
export interface WorkloadResult {
  /** True when nothing was violated. */
  valid: boolean;
  /** Violations in time order (the first is the one to read). */
  violations: LabViolation[];
  /** Figures to print (numbers, or objects of numbers). */
  figures: Record<string, unknown>;
}
