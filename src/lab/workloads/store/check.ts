import {
  checkHistory,
  formatOperation,
  type KvInput,
  type KvOutput,
  kvModel,
  type LincheckLimits,
  type Operation,
  UNKNOWN,
} from '../../lincheck/index.js';
import { DEFAULT_LIMITS } from '../../run/limits.js';
import type { LabViolation, WorkloadResult } from '../../run/workload.js';
import type { FinalRow } from './client.js';

/**
 * The store workload's checker, pure: the recorded history must be linearizable under the KV
 * model (split per key, `src/lab/lincheck`), and the final reads after the heal must hold every
 * acknowledged write: a key whose final state is older than a write that was acknowledged is a
 * lost write, and a final value nobody wrote is a phantom. The final reads are in the history
 * too, so the linearizability check judges them against everything else as well; the explicit
 * check names the lost write directly.
 */

/** One node's final read of every key, after the heal. */
export interface FinalRead {
  /** Host index. */
  node: number;
  /** When the last page was answered (run log ms). */
  at: number;
  /** Every key used, in key order: absent ones with value null and modRevision 0. Absent on error. */
  rows?: FinalRow[];
  /** Why the node could not be read. */
  error?: string;
}

/** What the checker reads (and `history.json` holds). */
export interface StoreHistory {
  /** Number of hosts. */
  nodes: number;
  /** Every operation not failed, final reads included (clients >= {@link FINAL_CLIENT_BASE}). */
  operations: Operation<KvInput, KvOutput>[];
  /** Operations that definitely did not apply (left out of `operations`). */
  failed: number;
  /** Failed and unknown calls by error kind. */
  errors: Record<string, number>;
  /** Each node's final read. */
  final: FinalRead[];
  /** Faults started, by kind. */
  faultCounts: Record<string, number>;
  /** Every fault start and end, to print next to a violation. */
  timeline: { at: number; text: string }[];
}

/** Client ids of the final reads: this plus the node index. */
export const FINAL_CLIENT_BASE = 1000;

/** Options of {@link checkStore}. */
export interface StoreCheckOptions {
  /** Checker limits (budget, memo); default lincheck's. */
  limits?: Partial<LincheckLimits>;
}

type Op = Operation<KvInput, KvOutput>;

const isUnknown = (op: Op) => op.output === UNKNOWN;

/** A write whose success was acknowledged: its value (null for a delete) and revision. */
interface AckedWrite {
  op: Op;
  value: string | null;
  revision: number;
}

function ackedWrites(ops: readonly Op[]): AckedWrite[] {
  const out: AckedWrite[] = [];
  for (const op of ops) {
    if (op.output === UNKNOWN) continue;
    const o = op.output;
    if (op.input.type === 'put' && o.type === 'put' && o.revision !== undefined) {
      out.push({ op, value: op.input.value, revision: o.revision });
    } else if (op.input.type === 'cas' && o.type === 'cas' && o.succeeded && o.revision !== undefined) {
      out.push({ op, value: op.input.value, revision: o.revision });
    } else if (
      op.input.type === 'delete' &&
      o.type === 'delete' &&
      o.deleted > 0 &&
      o.revision !== undefined
    ) {
      out.push({ op, value: null, revision: o.revision });
    }
  }
  return out;
}

function writtenValue(op: Op): string | undefined {
  return op.input.type === 'put' || op.input.type === 'cas' ? op.input.value : undefined;
}

/** Operations and faults around a time window, for a violation's `around`. */
function around(
  h: StoreHistory,
  ops: readonly Op[],
  from: number,
  to: number,
  extra: { at: number; text: string }[] = [],
): { at: number; text: string }[] {
  const n = DEFAULT_LIMITS.maxEventsAroundViolation;
  const opLines = ops.map((op) => ({ at: op.call, text: formatOperation(kvModel, op) }));
  const faults = h.timeline.filter((e) => e.at >= from - 10_000 && e.at <= to + 1_000).slice(-n);
  return [...opLines, ...faults, ...extra].sort((a, b) => a.at - b.at);
}

function finalText(node: number, row: FinalRow): string {
  return `final read through node-${node}: ${row.key} = ${row.value === null ? 'absent' : JSON.stringify(row.value)} @ rev ${row.modRevision}`;
}

/** Lost and phantom writes of one key as one node's final read shows it. */
function checkFinalRow(
  h: StoreHistory,
  node: number,
  at: number,
  row: FinalRow,
  keyOps: readonly Op[],
): LabViolation[] {
  const violations: LabViolation[] = [];
  const acked = ackedWrites(keyOps);
  const unknownDelete = keyOps.some((op) => op.input.type === 'delete' && isUnknown(op));
  const deletes = acked.filter((w) => w.value === null).map((w) => w.revision);
  // The revision the final state must be at or after: present keys show their own, absent keys
  // were deleted no earlier than the last acknowledged delete (or by an unknown one, any time).
  const floor = row.value !== null ? row.modRevision : unknownDelete ? Infinity : Math.max(0, ...deletes);
  const recent = (w: AckedWrite) =>
    keyOps.filter((op) => op.call >= w.op.call - 1).slice(0, DEFAULT_LIMITS.maxEventsAroundViolation);
  for (const w of acked) {
    if (w.revision <= floor) continue;
    const what = w.value === null ? 'delete' : `write of ${JSON.stringify(w.value)}`;
    violations.push({
      kind: 'lost-write',
      at: w.op.ret,
      message: `the acknowledged ${what} to ${row.key} at revision ${w.revision} (#${w.op.id}) is missing: ${finalText(node, row)}`,
      around: around(h, recent(w), w.op.call, at, [{ at, text: finalText(node, row) }]),
    });
  }
  if (row.value !== null) {
    const writer = keyOps.find((op) => writtenValue(op) === row.value);
    const ack = writer === undefined ? undefined : acked.find((w) => w.op === writer);
    const bad =
      writer === undefined
        ? 'no operation wrote it'
        : ack !== undefined && ack.revision !== row.modRevision
          ? `#${writer.id} wrote it at revision ${ack.revision}`
          : undefined;
    if (bad !== undefined) {
      violations.push({
        kind: 'phantom-value',
        at,
        message: `${finalText(node, row)}, but ${bad}`,
        around: around(h, keyOps.slice(-DEFAULT_LIMITS.maxEventsAroundViolation), at, at, [
          { at, text: finalText(node, row) },
        ]),
      });
    }
  }
  return violations;
}

/** The figures of a store history (counts by outcome and type, errors, faults). */
function figuresOf(h: StoreHistory): Record<string, unknown> {
  const clientOps = h.operations.filter((op) => op.clientId < FINAL_CLIENT_BASE);
  const byType: Record<string, number> = {};
  let unknown = 0;
  for (const op of clientOps) {
    byType[op.input.type] = (byType[op.input.type] ?? 0) + 1;
    if (isUnknown(op)) unknown++;
  }
  const keys = new Set(clientOps.map((op) => op.input.key));
  return {
    operations: clientOps.length + h.failed,
    outcomes: { ok: clientOps.length - unknown, failed: h.failed, unknown },
    completedByType: byType,
    acknowledgedWrites: ackedWrites(clientOps).length,
    keys: keys.size,
    errors: h.errors,
    faults: h.faultCounts,
  };
}

/**
 * Checks a store history.
 *
 * Violations: `not-linearizable` (the first failing key, with the operations around it),
 * `not-proven` (the checker's budget ran out: never a pass), `lost-write`, `phantom-value`,
 * `final-read-failed` (a node could not be read after the heal).
 *
 * @example
 * ```ts
 * const { valid, violations } = checkStore(history);
 * ```
 */
export function checkStore(h: StoreHistory, options: StoreCheckOptions = {}): WorkloadResult {
  const violations: LabViolation[] = [];
  const result = checkHistory(
    kvModel,
    h.operations,
    options.limits === undefined ? {} : { limits: options.limits },
  );
  if (result.kind === 'illegal') {
    const v = result.violation;
    const shown = [...v.linearized.slice(-DEFAULT_LIMITS.maxEventsAroundViolation), ...v.candidates];
    const at = v.blocked?.ret ?? shown.at(-1)?.call ?? 0;
    const from = Math.min(...shown.map((op) => op.call));
    violations.push({
      kind: 'not-linearizable',
      at,
      message: `key ${JSON.stringify(v.partition)}: no order of its ${v.operations.length} operations explains what the clients saw${v.blocked === undefined ? '' : ` (#${v.blocked.id} returned before it could be placed)`}; state after the longest legal prefix: ${kvModel.describeState?.(v.state)}`,
      around: around(h, shown, from, at),
    });
  } else if (result.kind === 'unknown') {
    violations.push({
      kind: 'not-proven',
      at: 0,
      message: `the checker could not decide key ${JSON.stringify(result.partition)}: ${result.reason}`,
      around: [],
    });
  }
  const byKey = new Map<string, Op[]>();
  for (const op of h.operations) {
    if (op.clientId >= FINAL_CLIENT_BASE) continue;
    const list = byKey.get(op.input.key);
    if (list === undefined) byKey.set(op.input.key, [op]);
    else list.push(op);
  }
  for (const ops of byKey.values()) ops.sort((a, b) => a.call - b.call || a.id - b.id);
  let agree = true;
  for (const read of h.final) {
    if (read.rows === undefined) {
      violations.push({
        kind: 'final-read-failed',
        at: read.at,
        message: `node-${read.node} could not be read after the heal: ${read.error ?? 'no answer'}`,
        around: [],
      });
      continue;
    }
    const first = h.final.find((r) => r.rows !== undefined)?.rows;
    read.rows.forEach((row, i) => {
      const other = first?.[i];
      if (other !== undefined && (other.value !== row.value || other.modRevision !== row.modRevision))
        agree = false;
      violations.push(...checkFinalRow(h, read.node, read.at, row, byKey.get(row.key) ?? []));
    });
  }
  violations.sort((a, b) => a.at - b.at);
  return {
    valid: violations.length === 0,
    violations,
    figures: {
      ...figuresOf(h),
      checker: { result: result.kind, ms: Math.round(result.elapsedMs), keys: result.partitions },
      finalReads: {
        nodes: h.final.filter((r) => r.rows !== undefined).length,
        failed: h.final.filter((r) => r.rows === undefined).length,
        agree: agree ? 1 : 0,
      },
    },
  };
}
