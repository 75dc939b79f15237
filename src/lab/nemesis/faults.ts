import { assertNever, type Rng } from '../../core/index.js';

/**
 * The faults the nemesis injects, as data. A fault is planned (start and end offsets from the
 * start of the fault phase) by the schedule, carried out by the executor, and read back by the
 * checkers, which must know what was broken when.
 */

/** The fault kinds a run may enable (`--nemesis`). */
export const NEMESIS_KINDS = ['partition', 'loss', 'kill', 'pause', 'skew'] as const;

/** One of {@link NEMESIS_KINDS}. */
export type NemesisKind = (typeof NEMESIS_KINDS)[number];

/** Shapes of a partition. */
export const PARTITION_SHAPES = ['halves', 'isolate', 'bridge', 'oneway'] as const;

/** One of {@link PARTITION_SHAPES}. */
export type PartitionShape = (typeof PARTITION_SHAPES)[number];

/** A directed link that drops everything: packets from `from` never reach `to`. */
export interface Cut {
  /** Sending node index. */
  from: number;
  /** Receiving node index. */
  to: number;
}

/** A fault as planned. */
export type Fault =
  | { kind: 'partition'; shape: PartitionShape; cuts: Cut[]; describe: string }
  | { kind: 'loss'; percent: number; describe: string }
  | { kind: 'kill'; node: number; describe: string }
  | { kind: 'pause'; node: number; describe: string }
  | { kind: 'skew'; node: number; offsetMs: number; describe: string };

/** A fault with its place in the schedule. */
export interface PlannedFault {
  /** Sequence number in the schedule (start order). */
  id: number;
  /** `net` faults run one after another, `process` faults too; the two lanes overlap. */
  lane: 'net' | 'process';
  /** Planned start, ms after the fault phase starts. */
  startMs: number;
  /** Planned end (heal), ms after the fault phase starts. */
  endMs: number;
  /** What is broken. */
  fault: Fault;
}

/** The lane a fault kind runs in. */
export function laneOf(kind: NemesisKind): 'net' | 'process' {
  switch (kind) {
    case 'partition':
    case 'loss':
      return 'net';
    case 'kill':
    case 'pause':
    case 'skew':
      return 'process';
    default:
      return assertNever(kind);
  }
}

/** Every ordered pair (a, b) with a in `from` and b in `to`. */
function cutsBetween(from: readonly number[], to: readonly number[]): Cut[] {
  return from.flatMap((a) => to.map((b) => ({ from: a, to: b })));
}

function both(a: readonly number[], b: readonly number[]): Cut[] {
  return [...cutsBetween(a, b), ...cutsBetween(b, a)];
}

function list(nodes: readonly number[]): string {
  return nodes.map((i) => `node-${i}`).join(',');
}

/**
 * A partition of `n` nodes of `shape`, its sides drawn from `rng`.
 *
 * - `halves`: two sides of floor(n/2) and the rest, cut both ways;
 * - `isolate`: one node cut from all others both ways;
 * - `bridge`: one node sees both sides, the two sides do not see each other (needs n >= 3);
 * - `oneway`: two halves, packets from the first side to the second are dropped, the other way
 *   passes.
 *
 * @returns undefined when `n` is too small for the shape (every shape needs n >= 2)
 */
export function makePartition(shape: PartitionShape, n: number, rng: Rng): Fault | undefined {
  if (n < 2 || (shape === 'bridge' && n < 3)) return undefined;
  const order = shuffle(
    Array.from({ length: n }, (_, i) => i),
    rng,
  );
  switch (shape) {
    case 'halves': {
      const a = order.slice(0, Math.floor(n / 2)).sort(byNumber);
      const b = order.slice(Math.floor(n / 2)).sort(byNumber);
      return { kind: 'partition', shape, cuts: both(a, b), describe: `halves {${list(a)}} | {${list(b)}}` };
    }
    case 'isolate': {
      const x = order[0]!;
      const rest = order.slice(1).sort(byNumber);
      return { kind: 'partition', shape, cuts: both([x], rest), describe: `isolate node-${x}` };
    }
    case 'bridge': {
      const b = order[0]!;
      const others = order.slice(1);
      const left = others.slice(0, Math.floor(others.length / 2)).sort(byNumber);
      const right = others.slice(Math.floor(others.length / 2)).sort(byNumber);
      return {
        kind: 'partition',
        shape,
        cuts: both(left, right),
        describe: `bridge node-${b} between {${list(left)}} | {${list(right)}}`,
      };
    }
    case 'oneway': {
      const a = order.slice(0, Math.floor(n / 2)).sort(byNumber);
      const b = order.slice(Math.floor(n / 2)).sort(byNumber);
      return {
        kind: 'partition',
        shape,
        cuts: cutsBetween(a, b),
        describe: `one-way {${list(a)}} -> {${list(b)}} dropped`,
      };
    }
    default:
      return assertNever(shape);
  }
}

function byNumber(a: number, b: number): number {
  return a - b;
}

/** Fisher-Yates with the injected rng. */
export function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** What one host's firewall must do: the sources it drops, and a per-packet loss from the others. */
export interface HostRules {
  /** Node indexes whose packets this host drops entirely. */
  dropFrom: number[];
  /** Percentage (0-100) of the other nodes' packets dropped at random; 0 for none. */
  lossPercent: number;
}

/**
 * The firewall of every host for the active network faults (at most one partition and one loss,
 * since the net lane runs one fault at a time, but any number is handled).
 *
 * Only traffic between lab nodes is touched: the lab's own reads through the bridge address pass,
 * so the lab keeps observing a partitioned node.
 */
export function hostRules(n: number, active: readonly Fault[]): HostRules[] {
  const rules = Array.from({ length: n }, () => ({ drop: new Set<number>(), lossPercent: 0 }));
  for (const fault of active) {
    if (fault.kind === 'partition') {
      for (const cut of fault.cuts) rules[cut.to]?.drop.add(cut.from);
    } else if (fault.kind === 'loss') {
      for (const r of rules) r.lossPercent = Math.max(r.lossPercent, fault.percent);
    }
  }
  return rules.map((r) => ({ dropFrom: [...r.drop].sort(byNumber), lossPercent: r.lossPercent }));
}
