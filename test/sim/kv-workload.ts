import { fromUtf8, type Rng, utf8 } from '../../src/core/index.js';
import { isKvError } from '../../src/kv/errors.js';
import type { Consistency, KvEntry } from '../../src/kv/types.js';
import type { KvHistory, ReadRecord, WriteRecord } from './kv-checkers.js';
import type { KvSimCluster } from './kv-harness.js';

/**
 * The kv swarm's clients: each loops over random operations on a small key set against random
 * coordinators (any node), with a deadline on the simulator's true clock, and records every
 * invocation and completion (kv-checkers.ts reads the history). Every written value is unique
 * (`<key>=<client>.<seq>`), so a value read names its write.
 *
 * Mix: QUORUM puts, QUORUM gets, QUORUM deletes, QUORUM puts with a TTL (short enough to expire
 * during the run), and some ONE and ALL puts and gets.
 */

export interface KvWorkloadOptions {
  readonly clients: number;
  readonly keys: readonly string[];
  /** A call not answered by then is recorded as unknown. */
  readonly deadlineMs: number;
  /** Mean pause between one client's operations, ms. */
  readonly thinkMs: number;
  /** TTLs drawn for TTL writes, ms. */
  readonly ttlMinMs: number;
  readonly ttlMaxMs: number;
  /**
   * A request coordinated by a node whose clock was pushed far off must fail once this long has
   * passed without faults (see KvSimCluster.mustRefuse).
   */
  readonly farSettleMs: number;
}

export const DEFAULT_KV_WORKLOAD: KvWorkloadOptions = {
  clients: 4,
  keys: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'],
  deadlineMs: 4_000,
  thinkMs: 40,
  ttlMinMs: 200,
  ttlMaxMs: 3_000,
  farSettleMs: 3_000,
};

type Op =
  | { kind: 'put'; level: Consistency; ttl: boolean }
  | { kind: 'delete'; level: Consistency }
  | { kind: 'get'; level: Consistency };

/** Draws an operation: mostly QUORUM (the checked guarantees), some ONE and ALL. */
function drawOp(rng: Rng): Op {
  const x = rng.float();
  if (x < 0.36) return { kind: 'put', level: 'QUORUM', ttl: false };
  if (x < 0.42) return { kind: 'put', level: 'QUORUM', ttl: true };
  if (x < 0.5) return { kind: 'delete', level: 'QUORUM' };
  if (x < 0.82) return { kind: 'get', level: 'QUORUM' };
  if (x < 0.87) return { kind: 'put', level: 'ONE', ttl: false };
  if (x < 0.9) return { kind: 'put', level: 'ALL', ttl: false };
  if (x < 0.96) return { kind: 'get', level: 'ONE' };
  return { kind: 'get', level: 'ALL' };
}

export class KvWorkload implements KvHistory {
  readonly writes: WriteRecord[] = [];
  readonly reads: ReadRecord[] = [];
  /** Violations found as the history runs (requests a far-off clock coordinated). */
  readonly violations: string[] = [];
  readonly counts = { ok: 0, fail: 0, unknown: 0, down: 0, skewRefusals: 0, farRequests: 0 };
  private stopped = false;
  private running = 0;
  private nextId = 1;

  constructor(
    private readonly cluster: KvSimCluster,
    private readonly rng: Rng,
    private readonly options: KvWorkloadOptions = DEFAULT_KV_WORKLOAD,
  ) {}

  start(): void {
    for (let c = 1; c <= this.options.clients; c++) {
      this.running++;
      this.client(c, this.rng.child(`client${c}`)).then(
        () => this.running--,
        (err: unknown) => {
          this.running--;
          this.violations.push(`client ${c} failed: ${String(err)}`);
        },
      );
    }
  }

  /** Stops issuing operations; calls in flight still complete or reach their deadline. */
  stop(): void {
    this.stopped = true;
  }

  /** True once every client stopped and every call settled or timed out. */
  get idle(): boolean {
    return this.running === 0;
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => this.cluster.sim.schedule(ms, resolve));
  }

  private async client(c: number, rng: Rng): Promise<void> {
    let seq = 0;
    for (let i = 0; i < 100_000 && !this.stopped; i++) {
      await this.delay(rng.exponential(this.options.thinkMs));
      if (this.stopped) return;
      const via = rng.pick(this.cluster.names());
      const key = rng.pick(this.options.keys);
      const op = drawOp(rng);
      if (this.cluster.node(via) === undefined) {
        this.counts.down++;
        continue;
      }
      if (op.kind === 'get') await this.read(c, via, key, op.level);
      else {
        seq++;
        const value = op.kind === 'put' ? `${key}=${c}.${seq}` : undefined;
        const ttl =
          op.kind === 'put' && op.ttl
            ? this.options.ttlMinMs + rng.float() * (this.options.ttlMaxMs - this.options.ttlMinMs)
            : 0;
        await this.write(c, via, key, value, op.level, ttl);
      }
    }
  }

  private async write(
    client: number,
    via: string,
    key: string,
    value: string | undefined,
    level: Consistency,
    ttlMs: number,
  ): Promise<void> {
    const sim = this.cluster.sim;
    const expiresAt = ttlMs > 0 ? Math.round(sim.now + ttlMs) : undefined;
    const abort = new AbortController();
    const record: WriteRecord = {
      id: this.nextId++,
      client,
      key,
      value,
      ...(expiresAt === undefined ? {} : { expiresAt }),
      level,
      node: via,
      invokedAt: sim.now,
      completedAt: undefined,
      outcome: undefined,
    };
    this.writes.push(record);
    const mustRefuse = this.cluster.mustRefuse(via, this.options.farSettleMs);
    const { promise, version } = this.cluster.issue(via, (node) =>
      node.put(utf8(key), value === undefined ? undefined : utf8(value), {
        consistency: level,
        signal: abort.signal,
        ...(expiresAt === undefined ? {} : { expiresAt }),
      }),
    );
    if (version !== undefined) record.version = version;
    await this.settle(record, promise, abort, mustRefuse);
  }

  private async read(client: number, via: string, key: string, level: Consistency): Promise<void> {
    const sim = this.cluster.sim;
    const abort = new AbortController();
    const record: ReadRecord = {
      id: this.nextId++,
      client,
      key,
      level,
      node: via,
      invokedAt: sim.now,
      completedAt: undefined,
      outcome: undefined,
    };
    this.reads.push(record);
    const mustRefuse = this.cluster.mustRefuse(via, this.options.farSettleMs);
    const { promise } = this.cluster.issue(via, (node) =>
      node.get(utf8(key), { consistency: level, signal: abort.signal }),
    );
    const ahead = () => Math.max(0, this.cluster.slots.get(via)?.farOffsetMs ?? 0);
    const aheadAtInvoke = ahead();
    await this.settle(record, promise, abort, mustRefuse, (entry: KvEntry | undefined) => {
      record.value = entry === undefined ? null : fromUtf8(entry.value);
      const aheadMs = Math.max(aheadAtInvoke, ahead());
      if (aheadMs > 0) record.aheadMs = aheadMs;
    });
  }

  /** Waits for `promise` or the deadline, and records the outcome in `record`. */
  private settle<T>(
    record: WriteRecord | ReadRecord,
    promise: Promise<T>,
    abort: AbortController,
    mustRefuse: boolean,
    onValue?: (value: T) => void,
  ): Promise<void> {
    const sim = this.cluster.sim;
    if (mustRefuse) this.counts.farRequests++;
    return new Promise((resolve) => {
      let done = false;
      const finish = (outcome: WriteRecord['outcome'], error?: unknown) => {
        if (done) return;
        done = true;
        record.completedAt = sim.now;
        record.outcome = outcome;
        if (error !== undefined) record.error = error instanceof Error ? error.message : String(error);
        if (outcome === 'ok') this.counts.ok++;
        else if (outcome === 'fail') this.counts.fail++;
        else this.counts.unknown++;
        if (isKvError(error, 'CLOCK_SKEW')) this.counts.skewRefusals++;
        if (mustRefuse && outcome === 'ok') {
          this.violations.push(
            `far-off clock: op#${record.id} on key ${record.key} coordinated by ${record.node} at t=${record.invokedAt.toFixed(0)} succeeded, though its clock had been far off for ${this.options.farSettleMs} ms without faults`,
          );
        }
        resolve();
      };
      sim.schedule(this.options.deadlineMs, () => {
        abort.abort();
        finish('unknown');
      });
      promise.then(
        (value) => {
          if (done) return;
          onValue?.(value);
          finish('ok');
        },
        (err: unknown) => {
          // TIMEOUT: the write may or may not have happened; it stays in the history with its version.
          finish(isKvError(err, 'TIMEOUT') ? 'unknown' : 'fail', err);
        },
      );
    });
  }
}
