import { performance } from 'node:perf_hooks';
import type { Operation } from './history.js';
import { DEFAULT_LIMITS, type LincheckLimits, lincheckLimits } from './limits.js';
import type { Model } from './model.js';
import { formatViolation } from './report.js';
import { searchPartition } from './search.js';

/** Where a history stopped being linearizable: the smallest failing partition's deepest point. */
export interface Violation<State, Input, Output> {
  /** The partition's key (`''` when the model does not partition). */
  readonly partition: string;
  /** Every operation of that partition, in call order. */
  readonly operations: readonly Operation<Input, Output>[];
  /** The longest legal linearized prefix the search found, in order. */
  readonly linearized: readonly Operation<Input, Output>[];
  /** The model's state after that prefix. */
  readonly state: State;
  /** The operations that could have come next; none was legal (or each led to a dead end). */
  readonly candidates: readonly Operation<Input, Output>[];
  /** The completed operation that was left unlinearized at its response. */
  readonly blocked: Operation<Input, Output> | undefined;
}

/** The checker's answer. `unknown` is never a pass: treat it as "not proven". */
export type CheckResult<State, Input, Output> =
  | {
      readonly kind: 'ok';
      readonly partitions: number;
      readonly operations: number;
      readonly elapsedMs: number;
    }
  | {
      readonly kind: 'illegal';
      readonly partitions: number;
      readonly operations: number;
      readonly elapsedMs: number;
      readonly violation: Violation<State, Input, Output>;
      /** The violation, printed for humans (several lines). */
      readonly report: string;
    }
  | {
      readonly kind: 'unknown';
      readonly partitions: number;
      readonly operations: number;
      readonly elapsedMs: number;
      readonly partition: string;
      readonly reason: string;
    };

/** Options of {@link checkHistory}. */
export interface CheckOptions {
  /** Limits (budget, memo size, report length); default {@link DEFAULT_LIMITS}. */
  limits?: Partial<LincheckLimits>;
  /** The clock the budget is measured on, in ms; default `performance.now`. */
  now?: () => number;
}

/**
 * Checks that a history is linearizable with respect to `model`.
 *
 * The history is split by `model.partitionKey` (P-compositionality) and each partition searched
 * on its own, smallest first, so an `illegal` answer names the smallest failing partition and
 * reports its longest legal prefix, the state there and the operations that could not follow.
 * Operations with `ret = Infinity` (unknown outcome) may take effect any time after their call,
 * or never.
 *
 * Contract: `ok` means a linearization exists for every partition; `illegal` means one partition
 * has none; `unknown` means the budget (`checkBudgetMs`, `maxMemoEntries`) ran out before either
 * was proven and no partition was found illegal. Pure apart from reading the clock.
 *
 * @param model - the sequential specification
 * @param history - the recorded operations (ids unique), e.g. `recorder.operations()`
 * @example
 * ```ts
 * const r = checkHistory(kvModel, recorder.operations());
 * if (r.kind !== 'ok') throw new Error(r.kind === 'illegal' ? r.report : r.reason);
 * ```
 */
export function checkHistory<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly Operation<Input, Output>[],
  options: CheckOptions = {},
): CheckResult<State, Input, Output> {
  const limits = options.limits === undefined ? DEFAULT_LIMITS : lincheckLimits(options.limits);
  const now = options.now ?? (() => performance.now());
  const start = now();
  const budget = {
    now,
    deadline: start + limits.checkBudgetMs,
    stepsPerClockRead: limits.stepsPerClockRead,
    maxMemoEntries: limits.maxMemoEntries,
  };
  const partitions = partition(model, history);
  const counts = { partitions: partitions.length, operations: history.length };
  let unknown: { partition: string; reason: string } | undefined;
  for (const [key, ops] of partitions) {
    const outcome = searchPartition(model, ops, budget);
    if (outcome.kind === 'unknown') {
      unknown ??= { partition: key, reason: outcome.reason };
      // The budget is shared: once spent, the rest cannot be searched either.
      if (now() > budget.deadline) break;
      continue;
    }
    if (outcome.kind === 'ok') continue;
    const d = outcome.deepest;
    const violation: Violation<State, Input, Output> = {
      partition: key,
      operations: ops,
      linearized: d.linearized.map((i) => ops[i]!),
      state: d.state,
      candidates: d.candidates.map((i) => ops[i]!),
      blocked: d.blocked === undefined ? undefined : ops[d.blocked],
    };
    const report = formatViolation(model, violation, limits.reportContextOperations);
    return { kind: 'illegal', ...counts, elapsedMs: now() - start, violation, report };
  }
  if (unknown !== undefined) return { kind: 'unknown', ...counts, elapsedMs: now() - start, ...unknown };
  return { kind: 'ok', ...counts, elapsedMs: now() - start };
}

/** Splits a history by partition key; partitions in ascending size, operations in call order. */
function partition<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
): [string, Operation<I, O>[]][] {
  const groups = new Map<string, Operation<I, O>[]>();
  for (const op of history) {
    const key = model.partitionKey === undefined ? '' : model.partitionKey(op.input);
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [op]);
    else g.push(op);
  }
  const out = [...groups];
  for (const [, ops] of out) ops.sort((a, b) => a.call - b.call || a.id - b.id);
  return out.sort((a, b) => a[1].length - b[1].length || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}
