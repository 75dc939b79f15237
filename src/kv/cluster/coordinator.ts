import { bytesEqual, type Clock, describeError, type Logger, type Rng } from '../../core/index.js';
import { isKvError, KvError } from '../errors.js';
import { type Cell, type Consistency, type KvEntry, requiredReplicas, type Token } from '../types.js';
import { AckDeadlines, AckWait } from './acks.js';
import type { ItemOutcome } from './batcher.js';
import type { KvConfig } from './config.js';
import { cellDigest } from './digest.js';
import { gather } from './gather.js';
import type { HlcPort, KvEngines, RingPort } from './ports.js';
import type { KeyedCell } from './protocol.js';
import type { ReadAnswer, ReplicaClient } from './replica-client.js';
import type { SkewMonitor } from './skew.js';

const NO_NODES: readonly string[] = [];

/** What the coordinator needs from its node. */
export interface CoordinatorContext {
  readonly self: string;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly logger: Logger;
  readonly config: KvConfig;
  readonly engines: KvEngines;
  readonly hlc: HlcPort;
  readonly skew: SkewMonitor;
  readonly replicas: ReplicaClient;
  /** The current ring (rebuilt on membership changes). */
  ring(): RingPort;
  /** True when membership shows `name` alive or suspect (worth trying). */
  isAlive(name: string): boolean;
  /**
   * Why this node cannot place keys yet (its ring is only remembered: it restarted and has heard
   * no live ring node since), or undefined when it can.
   */
  ringUnknown?(): string | undefined;
  /** Stores a hint for `target` (a write it missed). */
  hint(target: string, key: Uint8Array, cell: Cell): void;
}

/** Counters of the coordinator. */
export interface CoordinatorStats {
  writes: number;
  reads: number;
  /** Reads whose digests disagreed (a full read followed). */
  digestMismatches: number;
  /** Replicas repaired by blocking read repair. */
  readRepairs: number;
  unavailable: number;
  timeouts: number;
  /** Requests refused because this node's clock is off. */
  skewRefusals: number;
}

/**
 * The coordinator: runs one client request across the key's replicas.
 *
 * Writes: the coordinator's hybrid clock versions the cell; it goes to every natural replica and
 * every pending one (a node joining or taking over a leaving node's range). The write succeeds
 * once `required(level) + pending` replicas acknowledged it: the extra acknowledgements keep the
 * level's promise on the ring that follows the pending change (Cassandra's rule). Hints never
 * count. A replica that membership shows dead is hinted at once; one that fails or times out is
 * hinted when it does.
 *
 * Reads: the data from one replica (this node when it is one), digests from `required - 1` others,
 * and from the remaining live replicas too when those did not all answer within the speculative
 * retry delay (Cassandra's speculative retry). When `required(level)` answers are in, including the data, and every digest matches, that is the
 * answer. Otherwise full reads from the replicas that answered, resolution by last-write-wins, and
 * blocking read repair: every answering replica whose cell differs gets the winner, and the read
 * answers only when the winner is on `required(level)` replicas. Two QUORUM reads in sequence
 * therefore never go back in time (monotonic quorum reads).
 *
 * Errors: `UNAVAILABLE` before anything is sent when too few replicas are alive; `TIMEOUT` when
 * too few answered in time (a write may or may not be stored); `CLOCK_SKEW` when this node's clock
 * is off from most peers' (nothing is sent).
 */
export class Coordinator {
  readonly stats: CoordinatorStats = {
    writes: 0,
    reads: 0,
    digestMismatches: 0,
    readRepairs: 0,
    unavailable: 0,
    timeouts: 0,
    skewRefusals: 0,
  };

  /** The deadlines of running writes (one timer for all). */
  private readonly deadlines: AckDeadlines;

  constructor(private readonly ctx: CoordinatorContext) {
    this.deadlines = new AckDeadlines(ctx.clock);
  }

  /**
   * Refuses a request this node cannot coordinate: CLOCK_SKEW when its clock is off from most of
   * its peers'; UNAVAILABLE while its ring is only remembered (a node restarted inside a partition
   * cannot know of ring changes made meanwhile, and placing keys on the ring it remembers would
   * read replicas that no longer are: Cassandra does not start serving before it has gossiped
   * with a peer either).
   */
  checkCoordinating(): void {
    try {
      this.ctx.skew.check();
    } catch (err) {
      this.stats.skewRefusals++;
      throw err;
    }
    const unknown = this.ctx.ringUnknown?.();
    if (unknown !== undefined) {
      this.stats.unavailable++;
      throw new KvError('UNAVAILABLE', unknown);
    }
  }

  /**
   * Writes `value` (undefined: a tombstone) under a new version. Not an async function: the one
   * promise it returns settles straight from the acknowledgement count (the per-request path).
   *
   * @throws KvError UNAVAILABLE, TIMEOUT, CLOCK_SKEW (as a rejected promise, never synchronously)
   */
  write(
    key: Uint8Array,
    value: Uint8Array | undefined,
    expiresAt: number | undefined,
    level: Consistency,
    signal?: AbortSignal,
  ): Promise<void> {
    const { ctx } = this;
    let cell: Cell;
    let alive: readonly string[];
    let targets: readonly string[];
    let blockFor: number;
    try {
      this.checkCoordinating();
      this.stats.writes++;
      const ring = ctx.ring();
      const token = ctx.engines.tokenOf(key);
      const natural = ring.replicas(token);
      const pending = ring.pending(token);
      const required = requiredReplicas(level, ring.rf);
      blockFor = required + pending.length;
      targets = pending.length === 0 ? natural : [...natural, ...pending];
      alive = allAlive(targets, ctx.isAlive) ? targets : targets.filter((n) => ctx.isAlive(n));
      if (natural.length < required || alive.length < blockFor) {
        this.stats.unavailable++;
        throw new KvError(
          'UNAVAILABLE',
          `${level} write needs ${blockFor} of ${targets.length} replicas (${pending.length} pending) of token ${token}, only ${alive.length} alive`,
        );
      }
      const version = ctx.hlc.now();
      cell =
        value !== undefined && expiresAt !== undefined ? { version, value, expiresAt } : { version, value };
    } catch (err) {
      return Promise.reject(err);
    }
    if (alive.length < targets.length)
      for (const n of targets) if (!alive.includes(n)) ctx.hint(n, key, cell);
    return new Promise<void>((resolve, reject) => {
      const wait = new AckWait(
        blockFor,
        alive.length,
        ctx.clock.now() + ctx.config.writeTimeoutMs,
        (got) => {
          if (got.acks >= blockFor) resolve();
          else reject(this.shortfall('write', level, got.acks, blockFor, got.failures, got.timedOut));
        },
        signal,
      );
      const local = alive.includes(ctx.self);
      // Before this node has heard any peer's clock reading, its own apply waits for a remote
      // replica to accept the version (see applyOnceAccepted): only then are the calls promises.
      const remote: Promise<void>[] | undefined = local && !ctx.skew.heardAny() ? [] : undefined;
      const cells = [{ key, cell }]; // the same for every replica and the local apply (calls only read it)
      // Indexed loops on the per-request path: a heap profile found array iterators allocated here.
      for (let i = 0; i < alive.length; i++) {
        const n = alive[i]!;
        if (n === ctx.self) continue;
        // Whatever happens to the call later (after the write answered), a failure leaves a hint,
        // unless the replica refused this node's clock (then the version is what is wrong).
        const done = (o: ItemOutcome<void>): void => {
          if (o.ok) wait.ack();
          else {
            if (!isKvError(o.error, 'CLOCK_SKEW')) ctx.hint(n, key, cell);
            wait.fail(n, o.error);
          }
        };
        if (remote === undefined) ctx.replicas.writeThen(n, 'write', cells, ctx.config.writeTimeoutMs, done);
        else
          remote.push(
            new Promise<void>((resolveCall, rejectCall) =>
              ctx.replicas.writeThen(n, 'write', cells, ctx.config.writeTimeoutMs, (o) => {
                done(o);
                if (o.ok) resolveCall();
                else rejectCall(o.error);
              }),
            ),
          );
      }
      if (local) {
        const self = ctx.self;
        if (alive.length === 1)
          // Its own replica alone: at once (batching would only add event-loop turns).
          ctx.replicas
            .write(self, 'write', cells, ctx.config.writeTimeoutMs)
            .then(wait.ack, (err: unknown) => wait.fail(self, err));
        else if (remote === undefined)
          // With the remote calls: joins this node's other writes of the batching windows, so its
          // own replica stores them as one group, as the remote replicas do.
          ctx.replicas.writeThen(self, 'write', cells, ctx.config.writeTimeoutMs, (o) => {
            if (o.ok) wait.ack();
            else wait.fail(self, o.error);
          });
        else this.applyOnceAccepted(cells, remote).then(wait.ack, (err: unknown) => wait.fail(self, err));
      }
      if (!wait.done) this.deadlines.add(wait);
      wait.check();
    });
  }

  /**
   * Applies a write to this node's own replica once some remote replica accepted this node's clock
   * (answered, or failed for another reason than CLOCK_SKEW). A write applies locally without that
   * wait when this node has recent clock readings from peers (then `checkCoordinating` vouched for
   * its clock) or has no remote target; before it has heard any peer's reading, a node whose clock
   * runs ahead would otherwise plant a version from the future in its own replica, which read
   * repair would spread.
   */
  private async applyOnceAccepted(
    cells: readonly KeyedCell[],
    remote: readonly Promise<void>[],
  ): Promise<void> {
    const verdicts = remote.map((p) =>
      p.then(
        () => true,
        (err: unknown) => !isKvError(err, 'CLOCK_SKEW'),
      ),
    );
    // Resolves true as soon as one accepts; false once all refused.
    const accepted = await new Promise<boolean>((resolve) => {
      let refused = 0;
      for (const v of verdicts) {
        void v.then((ok) => {
          if (ok) resolve(true);
          else if (++refused === verdicts.length) resolve(false);
        });
      }
    });
    if (!accepted) throw new KvError('CLOCK_SKEW', 'every other replica refused this clock reading');
    await this.ctx.replicas.write(this.ctx.self, 'write', cells, this.ctx.config.writeTimeoutMs);
  }

  /**
   * Reads `key` at `level`, repairing stale replicas that answered.
   *
   * @throws KvError UNAVAILABLE, TIMEOUT, CLOCK_SKEW
   */
  read(key: Uint8Array, level: Consistency, signal?: AbortSignal): Promise<KvEntry | undefined> {
    try {
      this.checkCoordinating();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.readCell(key, level, signal).then(this.toEntry);
  }

  private readonly toEntry = (cell: Cell | undefined): KvEntry | undefined => {
    if (
      cell === undefined ||
      cell.value === undefined ||
      !this.ctx.engines.isLive(cell, this.ctx.clock.now())
    )
      return undefined;
    return cell.expiresAt === undefined
      ? { value: cell.value }
      : { value: cell.value, expiresAt: cell.expiresAt };
  };

  /** The resolved (and repaired) cell of `key`. */
  async readCell(key: Uint8Array, level: Consistency, signal?: AbortSignal): Promise<Cell | undefined> {
    const { ctx } = this;
    this.stats.reads++;
    const deadline = ctx.clock.now() + ctx.config.readTimeoutMs;
    const ring = ctx.ring();
    const token = ctx.engines.tokenOf(key);
    const natural = ring.replicas(token);
    const required = requiredReplicas(level, ring.rf);
    // A range in motion: what a QUORUM or ALL read returns must be on as many replicas as a write
    // of it would need, pending ones counted (see coverPending).
    const pending = level === 'ONE' ? NO_NODES : ring.pending(token);
    const alive = this.orderForRead(natural.filter((n) => ctx.isAlive(n)));
    if (alive.length < required) {
      this.stats.unavailable++;
      throw new KvError(
        'UNAVAILABLE',
        `${level} read needs ${required} of ${natural.length} replicas of token ${token}, only ${alive.length} alive`,
      );
    }
    const dataNode = alive[0]!;
    if (required === 1 && dataNode === ctx.self && pending.length === 0) {
      // The one answer needed is this node's own: no gathering and no speculative-retry timer. A
      // local read answers at once; should it fail, the others are asked as below.
      try {
        const own = await ctx.replicas.read(dataNode, key, false, left(ctx.clock, deadline));
        if ('cell' in own) return own.cell;
      } catch {
        // Asked again below, with the other live replicas after the speculative delay.
      }
    }
    const enough = (r: ReadonlyMap<string, ReadAnswer>) => r.has(dataNode) && r.size >= required;
    // Cassandra's read: the data and `required - 1` digests first; the other live replicas only
    // when those have not all answered within the speculative retry delay (or failed).
    const calls = new Map<string, Promise<ReadAnswer>>();
    const ask = (n: string) =>
      calls.set(n, ctx.replicas.read(n, key, n !== dataNode, left(ctx.clock, deadline)));
    for (const n of alive.slice(0, required)) ask(n);
    let first = await gather(
      ctx.clock,
      calls,
      enough,
      Math.min(ctx.config.speculativeRetryMs, left(ctx.clock, deadline)),
      signal,
    );
    // Past the speculative delay, wait out the deadline for the answers asked, plus the other
    // live replicas' when there are any (with none, e.g. at ALL, the first ones may still come).
    if (!enough(first.results) && !signal?.aborted) {
      for (const n of alive.slice(required)) ask(n);
      first = await gather(ctx.clock, calls, enough, left(ctx.clock, deadline), signal);
    }
    const data = first.results.get(dataNode);
    let resolved: { winner: Cell | undefined; holders: string[] } | undefined;
    if (data !== undefined && 'cell' in data && first.results.size >= required) {
      if (first.results.size === 1) return data.cell; // no digest to compare (ONE, or rf 1)
      const digest = cellDigest(data.cell);
      const agree = [...first.results.values()].every((a) =>
        'cell' in a ? true : bytesEqual(a.digest, digest),
      );
      if (agree) {
        if (pending.length === 0) return data.cell;
        resolved = { winner: data.cell, holders: [...first.results.keys()] };
      } else this.stats.digestMismatches++;
    }
    if (resolved === undefined) {
      if (first.timedOut && first.results.size < required) {
        throw this.shortfall('read', level, first.results.size, required, first.failures, true);
      }
      resolved = await this.resolveAndRepair(
        key,
        token,
        level,
        required,
        alive,
        first.failures,
        data,
        deadline,
        signal,
      );
      if (pending.length === 0) return resolved.winner;
    }
    return this.coverPending(
      key,
      token,
      level,
      required,
      resolved.winner,
      resolved.holders,
      natural,
      pending,
      deadline,
      signal,
    );
  }

  /**
   * While a range moves (a node joining, leaving or being removed), a QUORUM or ALL read may
   * return a cell only once it is on `required + pending` replicas, pending ones included, as a
   * write of it would have to be: otherwise a cell found on a quorum of the current replicas only
   * (a write that failed part-way, seen by this read) can be missing from a quorum of the replicas
   * the range has after the move, and a later read there returns an older one (monotonic reads
   * broken; Cassandra's CASSANDRA-14740). The cell is written, as a repair, to every live pending
   * and natural replica not known to hold it; the read waits until enough hold it.
   *
   * @throws KvError UNAVAILABLE when too few replicas are alive to hold it, TIMEOUT at the deadline
   */
  private async coverPending(
    key: Uint8Array,
    token: Token,
    level: Consistency,
    required: number,
    cell: Cell | undefined,
    holders: readonly string[],
    natural: readonly string[],
    pending: readonly string[],
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<Cell | undefined> {
    if (cell === undefined) return undefined;
    const { ctx } = this;
    const blockFor = required + pending.length;
    const have = new Set(holders);
    if (have.size >= blockFor) return cell;
    const targets = [...pending, ...natural].filter((n) => !have.has(n) && ctx.isAlive(n));
    if (have.size + targets.length < blockFor) {
      this.stats.unavailable++;
      throw new KvError(
        'UNAVAILABLE',
        `${level} read of token ${token} during a range movement needs its value on ${blockFor} replicas (${pending.length} pending), only ${have.size + targets.length} alive`,
      );
    }
    const calls = new Map<string, Promise<void>>();
    for (const n of targets)
      calls.set(n, ctx.replicas.write(n, 'repair', [{ key, cell }], left(ctx.clock, deadline)));
    const repaired = await gather(
      ctx.clock,
      calls,
      (r) => have.size + r.size >= blockFor,
      left(ctx.clock, deadline),
      signal,
    );
    this.stats.readRepairs += repaired.results.size;
    if (have.size + repaired.results.size >= blockFor) return cell;
    throw new KvError(
      'TIMEOUT',
      `${level} read of token ${token}: its value reached only ${have.size + repaired.results.size} of the ${blockFor} replicas a range movement needs before the deadline`,
    );
  }

  /** Full reads from the replicas that did not fail, LWW resolution and blocking repair. */
  private async resolveAndRepair(
    key: Uint8Array,
    token: Token,
    level: Consistency,
    required: number,
    alive: readonly string[],
    failed: ReadonlyMap<string, unknown>,
    data: ReadAnswer | undefined,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<{ winner: Cell | undefined; holders: string[] }> {
    const { ctx } = this;
    const calls = new Map<string, Promise<ReadAnswer>>();
    const dataNode = alive[0]!;
    for (const n of alive) {
      if (failed.has(n)) continue;
      if (n === dataNode && data !== undefined) calls.set(n, Promise.resolve(data));
      else calls.set(n, ctx.replicas.read(n, key, false, left(ctx.clock, deadline)));
    }
    const full = await gather(ctx.clock, calls, (r) => r.size >= required, left(ctx.clock, deadline), signal);
    if (full.results.size < required) {
      const failures = new Map([...failed, ...full.failures]);
      throw this.shortfall('read', level, full.results.size, required, failures, full.timedOut);
    }
    let winner: Cell | undefined;
    for (const a of full.results.values())
      if ('cell' in a && a.cell !== undefined) winner = ctx.engines.mergeCells(winner, a.cell);
    if (winner === undefined) return { winner, holders: [] };
    const winnerDigest = cellDigest(winner);
    const holding: string[] = [];
    const repairs = new Map<string, Promise<void>>();
    for (const [n, a] of full.results) {
      if ('cell' in a && bytesEqual(cellDigest(a.cell), winnerDigest)) holding.push(n);
      else
        repairs.set(n, ctx.replicas.write(n, 'repair', [{ key, cell: winner }], left(ctx.clock, deadline)));
    }
    if (repairs.size > 0) {
      const repaired = await gather(
        ctx.clock,
        repairs,
        (r) => r.size === repairs.size,
        left(ctx.clock, deadline),
        signal,
      );
      this.stats.readRepairs += repaired.results.size;
      holding.push(...repaired.results.keys());
      ctx.logger.debug({ token: String(token), repaired: repaired.results.size }, 'read repair');
    }
    const holders = holding.length;
    if (holders >= required) return { winner, holders: holding };
    throw new KvError(
      'TIMEOUT',
      `${level} read of token ${token}: read repair reached only ${holders} of ${required} replicas before the deadline`,
    );
  }

  /** This node first when it is a replica (no network hop for the data), then the others shuffled. */
  private orderForRead(names: readonly string[]): string[] {
    const others = this.ctx.rng.shuffle(names.filter((n) => n !== this.ctx.self));
    return names.includes(this.ctx.self) ? [this.ctx.self, ...others] : others;
  }

  private shortfall(
    op: 'read' | 'write',
    level: Consistency,
    got: number,
    needed: number,
    failures: ReadonlyMap<string, unknown>,
    timedOut: boolean,
  ): KvError {
    const refusals = [...failures.values()].filter((e) => isKvError(e, 'CLOCK_SKEW')).length;
    if (refusals > 0 && refusals * 2 >= failures.size) {
      this.stats.skewRefusals++;
      return new KvError(
        'CLOCK_SKEW',
        `${op} at ${level}: ${refusals} replicas refused this node's clock reading as too far ahead; this node's clock is off`,
      );
    }
    this.stats.timeouts++;
    const why = [...failures].slice(0, 3).map(([n, e]) => `${n}: ${describeError(e)}`);
    const tail = why.length > 0 ? ` (${why.join('; ')})` : '';
    return new KvError(
      'TIMEOUT',
      `${op} at ${level}: only ${got} of ${needed} replicas answered${timedOut ? ' before the deadline' : ''}${tail}`,
    );
  }
}

/** True when `isAlive` holds for every name (the common case: no filtered copy is made). */
function allAlive(names: readonly string[], isAlive: (name: string) => boolean): boolean {
  for (let i = 0; i < names.length; i++) if (!isAlive(names[i]!)) return false;
  return true;
}

function left(clock: Clock, deadline: number): number {
  return Math.max(0, deadline - clock.now());
}
