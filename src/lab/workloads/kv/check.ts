import { DEFAULT_LIMITS } from '../../run/limits.js';
import type { LabViolation, WorkloadResult } from '../../run/workload.js';
import { FINAL_CLIENT_BASE, type KvHistory, type KvOp } from './history.js';

/**
 * The kv workload's checker, pure. The partitioned store is last-write-wins by version (a hybrid
 * logical clock reading of the write's coordinator) and the Redis protocol does not show versions,
 * so the checker orders writes only where the history proves their order:
 *
 * - **Certainly older** (`X ≺ W`): X was acknowledged more than `slackMs` before W was invoked,
 *   and neither coordinator ran with a shifted clock during its call. A version is made between a
 *   write's invocation and its acknowledgement, from a clock within `maxClockOffsetMs` of the
 *   others (a replica refuses readings further ahead, a node far off refuses to coordinate), so
 *   X's version is then below W's. A write of unknown outcome is never certainly older than
 *   anything: a node paused with the command in its socket can version it much later.
 * - Everything else may be in either order, and the checker accepts either (never a false
 *   violation; a violation it reports is one the store cannot explain).
 *
 * Values are unique (`c<client>-<seq>`), so a value read names its write; an absent key is
 * explained by a delete (a tombstone), or by the key never having been written.
 *
 * Rules, each a violation kind:
 * 1. `stale-read` / `lost-write`: a read at QUORUM or ALL that began after write W was
 *    acknowledged returns W, or a write not certainly older than W (absent: a delete invoked
 *    before the read answered and not certainly older than W). A final read after the heal that
 *    breaks it is a lost write: neither W nor any write that could have replaced it is there.
 * 2. `phantom-value`: every value read (at any level) was written to that key by a SET invoked
 *    before the read answered that did not certainly fail.
 * 3. `replicas-disagree`: after the heal every node answers every key the same at ALL and QUORUM,
 *    and at ONE too when repair (hints delivered, anti-entropy rounds) was seen to complete.
 * 4. `non-monotonic-read`: a QUORUM/ALL read never returns a write certainly older than what a
 *    QUORUM/ALL read that completed before it began returned (where the history can tell).
 * Plus `final-read-failed`: a node that could not be read after the heal.
 */

/** Options of {@link checkKv}. */
export interface KvCheckOptions {
  /** Violations listed per kind (the rest are counted); default `kvMaxViolationsPerKind`. */
  maxPerKind?: number;
}

const isFinal = (op: KvOp) => op.client >= FINAL_CLIENT_BASE;
const isWrite = (op: KvOp) => op.type === 'set' || op.type === 'del';
const isStrong = (op: KvOp) => op.level === 'QUORUM' || op.level === 'ALL';

function describeOp(op: KvOp): string {
  const who = isFinal(op) ? 'final read' : `c${op.client}`;
  const what =
    op.type === 'set'
      ? `SET ${JSON.stringify(op.value)}`
      : op.type === 'del'
        ? 'DEL'
        : `GET -> ${op.outcome === 'ok' ? (op.read === null ? 'absent' : JSON.stringify(op.read)) : '?'}`;
  const outcome =
    op.outcome === 'ok' ? '' : ` ${op.outcome}${op.error === undefined ? '' : ` (${op.error})`}`;
  const span = `[${op.call}, ${op.ret ?? '?'}]`;
  return `#${op.id} ${who} ${what} ${op.key} ${op.level} via node-${op.node} ${span}${outcome}`;
}

/** The operations of one key, indexed for the rules. */
class KeyIndex {
  readonly writes: KvOp[] = [];
  readonly reads: KvOp[] = [];
  /** SETs by value. */
  readonly byValue = new Map<string, KvOp>();
}

/** Collects violations, at most `max` listed per kind. */
class Violations {
  readonly listed: LabViolation[] = [];
  readonly counts: Record<string, number> = {};
  constructor(private readonly max: number) {}
  add(v: LabViolation): void {
    const n = (this.counts[v.kind] ?? 0) + 1;
    this.counts[v.kind] = n;
    if (n <= this.max) this.listed.push(v);
  }
}

/** The kv checker over one history; see the file comment. */
class KvChecker {
  private readonly keys = new Map<string, KeyIndex>();
  private readonly allValues = new Map<string, KvOp>();
  private readonly skewCache = new Map<KvOp, boolean>();
  readonly out: Violations;
  /** Pairs of strong reads the monotonic rule compared, and those whose order it could tell. */
  monotonicPairs = 0;
  monotonicOrdered = 0;
  /** Keys whose final ONE reads differed across nodes when repair was not seen to complete (not a violation then). */
  oneDisagreements = 0;

  constructor(
    private readonly h: KvHistory,
    options: KvCheckOptions,
  ) {
    this.out = new Violations(options.maxPerKind ?? DEFAULT_LIMITS.kvMaxViolationsPerKind);
    for (const op of h.ops) {
      let k = this.keys.get(op.key);
      if (k === undefined) {
        k = new KeyIndex();
        this.keys.set(op.key, k);
      }
      if (isWrite(op)) k.writes.push(op);
      else k.reads.push(op);
      if (op.type === 'set' && op.value !== undefined) {
        k.byValue.set(op.value, op);
        this.allValues.set(op.value, op);
      }
    }
    for (const k of this.keys.values()) {
      k.writes.sort((a, b) => a.call - b.call || a.id - b.id);
      k.reads.sort((a, b) => a.call - b.call || a.id - b.id);
    }
  }

  /** True when op's coordinator ran with a shifted clock at some time during the call (cached). */
  private skewed(op: KvOp): boolean {
    let v = this.skewCache.get(op);
    if (v === undefined) {
      const to = op.ret ?? Number.POSITIVE_INFINITY;
      v = this.h.skews.some((s) => s.node === op.node && s.from <= to && s.to >= op.call);
      this.skewCache.set(op, v);
    }
    return v;
  }

  /** X ≺ W: X's version is certainly below W's (see the file comment). */
  private older(x: KvOp, w: KvOp): boolean {
    if (x.outcome !== 'ok' || x.ret === null) return false;
    if (!(x.ret + this.h.slackMs < w.call)) return false;
    return !this.skewed(x) && !this.skewed(w);
  }

  /** The SET of `key` that wrote what `r` read (undefined: a phantom, rule 2 reports it). */
  private writerOf(k: KeyIndex, r: KvOp): KvOp | undefined {
    if (r.read === null || r.read === undefined) return undefined;
    const w = k.byValue.get(r.read);
    return w !== undefined && w.outcome !== 'fail' ? w : undefined;
  }

  /** Deletes of the key that may explain a read that found it absent: invoked before it answered, not certainly failed. */
  private deletesBefore(k: KeyIndex, r: KvOp): KvOp[] {
    const end = r.ret ?? Number.POSITIVE_INFINITY;
    return k.writes.filter((d) => d.type === 'del' && d.outcome !== 'fail' && d.call < end);
  }

  /**
   * The latest a write may be invoked and still be certainly newer than none of `dels`: a write W
   * invoked after it has every delete certainly older (`d ≺ W` for all), unless W itself ran
   * skewed. +Infinity when some delete can never be certainly older (unknown outcome, skewed).
   */
  private latestDeleteEnd(dels: readonly KvOp[]): number {
    let latest = Number.NEGATIVE_INFINITY;
    for (const d of dels) {
      if (d.outcome !== 'ok' || d.ret === null || this.skewed(d)) return Number.POSITIVE_INFINITY;
      latest = Math.max(latest, d.ret + this.h.slackMs);
    }
    return latest;
  }

  /**
   * Whether what `r` read may have a version at least `w`'s: true when it could; false when it is
   * certainly older; undefined when `r` read a phantom (judged by rule 2). `delEnd` is
   * {@link latestDeleteEnd} of `r`'s deletes (for a read that found the key absent).
   */
  private atLeast(k: KeyIndex, r: KvOp, w: KvOp, delEnd: number): boolean | undefined {
    if (r.read === null) return w.type === 'del' || this.skewed(w) || delEnd >= w.call;
    const y = this.writerOf(k, r);
    if (y === undefined) return undefined;
    return y === w || !this.older(y, w);
  }

  run(): void {
    for (const [key, k] of this.keys) {
      this.phantoms(key, k);
      this.readsSeeAcknowledgedWrites(k);
      this.monotonic(k);
      this.agreement(key, k);
    }
    for (const f of this.h.finalFailures) {
      this.out.add({
        kind: 'final-read-failed',
        at: f.at,
        message: `node-${f.node} could not be read at ${f.level} after the heal: ${f.error}`,
        around: [],
      });
    }
  }

  /** Rule 2. */
  private phantoms(key: string, k: KeyIndex): void {
    const seen = new Set<string>();
    for (const r of k.reads) {
      if (r.outcome !== 'ok' || r.read === null || r.read === undefined || seen.has(r.read)) continue;
      const w = k.byValue.get(r.read);
      const end = r.ret ?? Number.POSITIVE_INFINITY;
      let why: string | undefined;
      if (w === undefined) {
        const other = this.allValues.get(r.read);
        why =
          other === undefined ? 'no SET wrote it' : `it was written to ${other.key} (${describeOp(other)})`;
      } else if (w.outcome === 'fail') why = `its SET certainly failed: ${describeOp(w)}`;
      else if (w.call > end) why = `its SET was invoked after the read answered: ${describeOp(w)}`;
      if (why === undefined) continue;
      seen.add(r.read);
      this.out.add({
        kind: 'phantom-value',
        at: r.ret ?? r.call,
        message: `${describeOp(r)} read ${JSON.stringify(r.read)} from ${key}, but ${why}`,
        around: this.around([r, ...(w === undefined ? [] : [w])], r.call, end),
      });
    }
  }

  /** Rule 1 (stale-read during the run, lost-write for the final reads). */
  private readsSeeAcknowledgedWrites(k: KeyIndex): void {
    const acked = k.writes.filter((w) => w.outcome === 'ok' && w.ret !== null);
    const lost = new Map<KvOp, KvOp[]>();
    for (const r of k.reads) {
      if (r.outcome !== 'ok' || !isStrong(r)) continue;
      // The latest-invoked acknowledged write it misses is the most telling one.
      let missed: KvOp | undefined;
      const delEnd = r.read === null ? this.latestDeleteEnd(this.deletesBefore(k, r)) : 0;
      for (const w of acked) {
        if (w.ret! >= r.call) continue;
        if (this.atLeast(k, r, w, delEnd) === false) missed = w;
      }
      if (missed === undefined) continue;
      if (isFinal(r)) {
        const list = lost.get(missed);
        if (list === undefined) lost.set(missed, [r]);
        else list.push(r);
        continue;
      }
      this.out.add({
        kind: 'stale-read',
        at: r.ret ?? r.call,
        message: `${describeOp(r)} began after ${describeOp(missed)} was acknowledged, but ${this.readText(k, r)}`,
        around: this.around(this.opsBetween(k, missed, r), missed.call, r.ret ?? r.call),
      });
    }
    for (const [w, reads] of lost) {
      const r = reads[0]!;
      const nodes = [...new Set(reads.map((x) => `node-${x.node} ${x.level}`))].join(', ');
      this.out.add({
        kind: 'lost-write',
        at: w.ret!,
        message: `the acknowledged ${describeOp(w)} is missing after the heal and repair: final reads through ${nodes} show ${r.read === null ? 'the key absent' : JSON.stringify(r.read)}, and ${this.readText(k, r)}`,
        around: this.around(
          this.opsBetween(k, w, undefined).slice(-DEFAULT_LIMITS.maxEventsAroundViolation),
          w.call,
          r.call,
          [{ at: r.call, text: describeOp(r) }],
        ),
      });
    }
  }

  /** Why what `r` read is older than the write it should have seen. */
  private readText(k: KeyIndex, r: KvOp): string {
    if (r.read === null) {
      return `it read the key absent and every delete of it invoked before then was acknowledged more than ${this.h.slackMs} ms before that write began (or there was none)`;
    }
    const y = this.writerOf(k, r);
    return `it read the value of ${y === undefined ? '?' : describeOp(y)}, acknowledged more than ${this.h.slackMs} ms before that write began`;
  }

  /**
   * Rule 4, only where the history tells the order of what two reads returned: `monotonicPairs`
   * counts pairs of strong reads, one completed before the other began, that returned different
   * writes; `monotonicOrdered` those whose writes the checker could order (the rest pass untested).
   */
  private monotonic(k: KeyIndex): void {
    const reads = k.reads.filter((r) => r.outcome === 'ok' && r.ret !== null && isStrong(r));
    const firstAcked = Math.min(
      ...k.writes.filter((w) => w.outcome === 'ok' && w.ret !== null).map((w) => w.ret!),
    );
    const delsOf = reads.map((r) => (r.read === null ? this.deletesBefore(k, r) : []));
    const delEnds = delsOf.map((d) => this.latestDeleteEnd(d));
    for (let i = 0; i < reads.length; i++) {
      const r1 = reads[i]!;
      const y1 = this.writerOf(k, r1);
      // r1 read absent: the tombstone it saw is one of the deletes invoked before it answered,
      // unless the key had never been written when it began (then any later value is newer).
      const dels = delsOf[i]!;
      const neverWritten = r1.read === null && !(firstAcked < r1.call);
      let firstDelCall = Number.POSITIVE_INFINITY;
      for (const d of dels)
        firstDelCall = Math.min(firstDelCall, this.skewed(d) ? Number.NEGATIVE_INFINITY : d.call);
      for (let j = i + 1; j < reads.length; j++) {
        const r2 = reads[j]!;
        if (r2.call <= r1.ret! || r2.read === r1.read) continue;
        let older: boolean;
        let ordered: boolean;
        if (r1.read !== null) {
          if (y1 === undefined) continue;
          this.monotonicPairs++;
          if (r2.read === null) {
            older = !this.atLeast(k, r2, y1, delEnds[j]!);
            ordered = older || delsOf[j]!.some((d) => this.older(y1, d));
          } else {
            const y2 = this.writerOf(k, r2);
            if (y2 === undefined) continue;
            older = this.older(y2, y1);
            ordered = older || this.older(y1, y2);
          }
        } else {
          const y2 = this.writerOf(k, r2);
          if (y2 === undefined) continue;
          this.monotonicPairs++;
          if (neverWritten || dels.length === 0) continue; // no tombstone: rule 1 judges r1
          older = y2.outcome === 'ok' && !this.skewed(y2) && y2.ret! + this.h.slackMs < firstDelCall;
          ordered = older || dels.some((d) => this.older(d, y2));
        }
        if (ordered) this.monotonicOrdered++;
        if (!older) continue;
        this.out.add({
          kind: 'non-monotonic-read',
          at: r2.ret!,
          message: `${describeOp(r2)} returned a write certainly older than what ${describeOp(r1)} returned before it began`,
          around: this.around(this.opsBetween(k, r1, r2), r1.call, r2.ret!),
        });
      }
    }
  }

  /** Rule 3. */
  private agreement(key: string, k: KeyIndex): void {
    if (!this.h.repaired) {
      // Not judged (repair was not seen to complete), but counted: how often ONE still lagged.
      const one = new Set(
        k.reads.filter((r) => isFinal(r) && r.outcome === 'ok' && r.level === 'ONE').map((r) => r.read),
      );
      if (one.size > 1) this.oneDisagreements++;
    }
    const finals = k.reads.filter(
      (r) => isFinal(r) && r.outcome === 'ok' && (r.level !== 'ONE' || this.h.repaired),
    );
    const answers = new Map<string, string[]>();
    for (const r of finals) {
      const v = r.read === null ? 'absent' : JSON.stringify(r.read);
      const list = answers.get(v);
      const who = `node-${r.node} ${r.level}`;
      if (list === undefined) answers.set(v, [who]);
      else list.push(who);
    }
    if (answers.size <= 1) return;
    const text = [...answers].map(([v, who]) => `${who.join(', ')}: ${v}`).join('; ');
    const at = Math.max(...finals.map((r) => r.ret ?? r.call));
    this.out.add({
      kind: 'replicas-disagree',
      at,
      message: `after the heal${this.h.repaired ? ' and repair' : ''} the nodes answer ${key} differently: ${text}`,
      around: this.around(finals, at, at),
    });
  }

  /** The key's operations from `from`'s invocation to `to`'s (or the end), in call order. */
  private opsBetween(k: KeyIndex, from: KvOp, to: KvOp | undefined): KvOp[] {
    const end = to === undefined ? Number.POSITIVE_INFINITY : to.call;
    return [...k.writes, ...k.reads]
      .filter((op) => op.call >= from.call && op.call <= end)
      .sort((a, b) => a.call - b.call || a.id - b.id);
  }

  /** Operations plus the faults from 10 s before `from` to 1 s after `to`, in time order. */
  private around(
    ops: readonly KvOp[],
    from: number,
    to: number,
    extra: { at: number; text: string }[] = [],
  ): { at: number; text: string }[] {
    const n = DEFAULT_LIMITS.maxEventsAroundViolation;
    const lines = ops.slice(0, 2 * n).map((op) => ({ at: op.call, text: describeOp(op) }));
    const faults = this.h.timeline.filter((e) => e.at >= from - 10_000 && e.at <= to + 1_000).slice(-n);
    return [...lines, ...faults, ...extra].sort((a, b) => a.at - b.at);
  }
}

/** The figures of a kv history. */
function figuresOf(h: KvHistory): Record<string, unknown> {
  const client = h.ops.filter((op) => !isFinal(op));
  const outcomes = { ok: 0, failed: 0, unknown: 0 };
  const byType: Record<string, number> = {};
  for (const op of client) {
    if (op.outcome === 'ok') {
      outcomes.ok++;
      byType[op.type] = (byType[op.type] ?? 0) + 1;
    } else if (op.outcome === 'fail') outcomes.failed++;
    else outcomes.unknown++;
  }
  const finals = h.ops.filter(isFinal);
  return {
    operations: client.length,
    outcomes,
    completedByType: byType,
    acknowledgedWrites: client.filter((op) => isWrite(op) && op.outcome === 'ok').length,
    keys: new Set(client.map((op) => op.key)).size,
    errors: h.errors,
    faults: h.faultCounts,
    finalReads: {
      reads: finals.filter((op) => op.outcome === 'ok').length,
      nodesFailed: new Set(h.finalFailures.map((f) => f.node)).size,
      repaired: h.repaired ? 1 : 0,
    },
    slackMs: h.slackMs,
  };
}

/**
 * Checks a kv history (see the file comment for the rules).
 *
 * @example
 * ```ts
 * const { valid, violations, figures } = checkKv(history);
 * ```
 */
export function checkKv(h: KvHistory, options: KvCheckOptions = {}): WorkloadResult {
  const started = performance.now();
  const checker = new KvChecker(h, options);
  checker.run();
  const violations = checker.out.listed.sort((a, b) => a.at - b.at);
  return {
    valid: violations.length === 0,
    violations,
    figures: {
      ...figuresOf(h),
      violations: checker.out.counts,
      monotonic: { pairs: checker.monotonicPairs, ordered: checker.monotonicOrdered },
      ...(h.repaired ? {} : { keysOneReadsDiffer: checker.oneDisagreements }),
      checkerMs: Math.round(performance.now() - started),
    },
  };
}
