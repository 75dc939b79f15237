import { CairnError, Rng, type Seed } from '../../core/index.js';
import { DEFAULT_LIMITS } from '../run/limits.js';
import {
  type Fault,
  laneOf,
  makePartition,
  type NemesisKind,
  PARTITION_SHAPES,
  type PlannedFault,
} from './faults.js';

/**
 * The nemesis schedule: a pure function of a seed and the run's shape. The same seed, node count,
 * kinds, duration and timings give the same faults at the same offsets, so a run that found a bug
 * can be repeated (the processes' own timing still varies; the schedule does not).
 *
 * Two lanes run side by side: the `net` lane (partition, loss) and the `process` lane (kill,
 * pause, skew). Within a lane faults never overlap: a fault starts, lasts, heals, then the lane is
 * quiet for a while. Across lanes they do, so a kill can happen under packet loss, which is what
 * real networks do. One process fault at a time keeps a majority of nodes running.
 */

/** A range of milliseconds, both ends included. */
export type MsRange = readonly [min: number, max: number];

/** How long faults last and how long lanes rest between them. */
export interface ScheduleTiming {
  /** Rest of a lane between two faults, and before its first. */
  quietMs: MsRange;
  /** Duration of a partition or a loss episode. */
  netFaultMs: MsRange;
  /** Time a killed node stays down before it restarts on the same data directory. */
  killMs: MsRange;
  /** Time a paused node stays stopped (SIGSTOP) before SIGCONT. */
  pauseMs: MsRange;
  /** Time a node runs with a skewed clock before it restarts with the right one. */
  skewMs: MsRange;
}

/** Input of {@link planSchedule}. */
export interface ScheduleOptions {
  /** Root seed of the run; the schedule uses its child stream `nemesis`. */
  seed: Seed;
  /** Number of nodes. */
  nodes: number;
  /** Enabled fault kinds. */
  kinds: readonly NemesisKind[];
  /** Length of the fault phase, ms: every fault ends within it. */
  durationMs: number;
  /** Durations. */
  timing: ScheduleTiming;
  /** Loss rate of a loss episode, percent of packets (1-100). */
  lossPercent: number;
  /** Largest clock offset of a skew fault, ms (drawn in [-max, max], at least 1 s away from 0). */
  maxSkewMs: number;
}

function draw(rng: Rng, [min, max]: MsRange): number {
  return min + rng.int(max - min + 1);
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)]!;
}

function makeFault(kind: NemesisKind, o: ScheduleOptions, rng: Rng): Fault | undefined {
  switch (kind) {
    case 'partition':
      return makePartition(pick(rng, PARTITION_SHAPES), o.nodes, rng);
    case 'loss':
      return { kind: 'loss', percent: o.lossPercent, describe: `loss ${o.lossPercent}% between all nodes` };
    case 'kill': {
      const node = rng.int(o.nodes);
      return { kind: 'kill', node, describe: `kill -9 node-${node}, restart on its data dir` };
    }
    case 'pause': {
      const node = rng.int(o.nodes);
      return { kind: 'pause', node, describe: `SIGSTOP node-${node}, then SIGCONT` };
    }
    case 'skew': {
      const node = rng.int(o.nodes);
      const size = 1000 + rng.int(Math.max(1, o.maxSkewMs - 1000 + 1));
      const offsetMs = rng.int(2) === 0 ? -size : size;
      return {
        kind: 'skew',
        node,
        offsetMs,
        describe: `restart node-${node} with its clock ${offsetMs} ms off`,
      };
    }
  }
}

function durationOf(kind: NemesisKind, t: ScheduleTiming): MsRange {
  switch (kind) {
    case 'partition':
    case 'loss':
      return t.netFaultMs;
    case 'kill':
      return t.killMs;
    case 'pause':
      return t.pauseMs;
    case 'skew':
      return t.skewMs;
  }
}

function checkOptions(o: ScheduleOptions): void {
  const ranges = Object.entries(o.timing) as [string, MsRange][];
  for (const [name, [min, max]] of ranges) {
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 1 || max < min) {
      throw new CairnError(
        'INVALID_ARGUMENT',
        `timing.${name} must be [min, max] with 1 <= min <= max, got [${min}, ${max}]`,
      );
    }
  }
  if (!Number.isInteger(o.lossPercent) || o.lossPercent < 1 || o.lossPercent > 100) {
    throw new CairnError('INVALID_ARGUMENT', `the loss rate must be 1-100 percent, got ${o.lossPercent}`);
  }
  if (!Number.isSafeInteger(o.durationMs) || o.durationMs < 0) {
    throw new CairnError(
      'INVALID_ARGUMENT',
      `the duration must be a whole number of ms, got ${o.durationMs}`,
    );
  }
}

/**
 * The faults of a run, in start order.
 *
 * @throws CairnError `INVALID_ARGUMENT` for a bad timing or rate; `LIMIT_EXCEEDED` past `maxFaults`
 * @example
 * ```ts
 * const faults = planSchedule({ seed: 1, nodes: 3, kinds: ['kill'], durationMs: 60_000, timing, lossPercent: 10, maxSkewMs: 60_000 });
 * ```
 */
export function planSchedule(o: ScheduleOptions): PlannedFault[] {
  checkOptions(o);
  const root = Rng.fromSeed(o.seed).child('nemesis');
  const planned: Omit<PlannedFault, 'id'>[] = [];
  for (const lane of ['net', 'process'] as const) {
    const kinds = o.kinds.filter((k) => laneOf(k) === lane);
    if (kinds.length === 0) continue;
    const rng = root.child(lane);
    let t = draw(rng, o.timing.quietMs);
    for (;;) {
      const kind = pick(rng, kinds);
      const length = draw(rng, durationOf(kind, o.timing));
      if (t + length > o.durationMs) break;
      const fault = makeFault(kind, o, rng);
      if (fault !== undefined) planned.push({ lane, startMs: t, endMs: t + length, fault });
      if (planned.length > DEFAULT_LIMITS.maxFaults) {
        throw new CairnError(
          'LIMIT_EXCEEDED',
          `the schedule holds more than ${DEFAULT_LIMITS.maxFaults} faults (maxFaults)`,
        );
      }
      t += length + draw(rng, o.timing.quietMs);
    }
  }
  planned.sort((a, b) => a.startMs - b.startMs || (a.lane < b.lane ? -1 : 1));
  return planned.map((p, id) => ({ id, ...p }));
}
