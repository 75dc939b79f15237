import { type Clock, systemClock, type TimerHandle } from '../../core/clock.js';
import { CairnError } from '../../core/errors.js';
import { withLimits } from '../../core/limits.js';
import type { Logger } from '../../core/log.js';
import { Rng } from '../../core/rng.js';
import { isKvError, KvError } from '../errors.js';
import type { Consistency, KvEntry, KvReadOptions, KvScanPage, KvWriteOptions, RingInfo } from '../types.js';
import { clientConfig, type KvClientConfig, type KvClientOptions } from './config.js';
import type { CommandArg } from './connection.js';
import { errorFromReply, isCoordinatorRefusal, UnsentError } from './errors.js';
import { DEFAULT_LIMITS, type KvClientLimits } from './limits.js';
import { NodePool } from './pool.js';
import { type Reply, ReplyError } from './reply-reader.js';
import { type NodeAddress, parseAddress, parseRingReply, Router } from './routing.js';

/** A key or value: bytes, or text sent as UTF-8. */
export type KvBytes = Uint8Array | string;

/** Options of {@link KvClient.set}. */
export interface KvSetOptions extends KvWriteOptions {
  /** Time to live in ms (SET PX); exclusive with `expiresAt` (SET PXAT). */
  readonly ttlMs?: number;
  /** Write only when the key is absent (SET NX). Not a lock: see the note on {@link KvClient.set}. */
  readonly nx?: boolean;
  /** Write only when the key is present (SET XX). */
  readonly xx?: boolean;
}

/** Options of {@link KvClient.scan} and {@link KvClient.scanPage}. */
export interface KvScanOptions extends KvReadOptions {
  /** Keys per page asked of the server (SCAN COUNT). Default 100. */
  readonly count?: number;
  /** A Redis glob the keys must match (SCAN MATCH); applied by the server after reading a page. */
  readonly match?: string;
}

/** What {@link KvClient.stats} reports. */
export interface KvClientStats {
  /** Calls started. */
  calls: number;
  /** Attempts sent again to another node (the first was not sent, or was a read that lost its connection). */
  retries: number;
  /** Calls that failed, by KvError code (or CANCELLED, DECODE_FAILED). */
  failures: Record<string, number>;
  /** Ring replies applied. */
  ringRefreshes: number;
  /** Why the last ring reply or refresh failed, if it did. */
  lastRingProblem?: string;
}

/** One command's wire form and how its reply becomes a result. */
interface Call<T> {
  readonly args: readonly CommandArg[];
  readonly read: Consistency;
  readonly write: Consistency;
  /** True when running it twice does no harm: it may be sent again after its connection failed. */
  readonly idempotent: boolean;
  readonly decode: (reply: Exclude<Reply, ReplyError>) => T | undefined;
  readonly signal?: AbortSignal | undefined;
}

/**
 * The `cairn/kv` client: the partitioned store's operations over its Redis-protocol front end,
 * with consistency per call and ring-aware routing.
 *
 * Routing: the client fetches the ring (`CAIRN RING`) at connect, every `ringRefreshIntervalMs`
 * and after errors, and sends each call to one of its key's natural replicas (which coordinates
 * it), else to any other node (routing.ts). Multi-key calls (MGET, MSET, DEL, EXISTS) are split
 * by node. Consistency: each call runs on a connection whose levels were set once with `CAIRN
 * CONSISTENCY READ r WRITE w` (one connection lane per level pair, pool.ts), so calls at different
 * levels pipeline without extra round trips.
 *
 * Contract:
 * - Errors are {@link KvError}s with the store's codes: UNAVAILABLE, TIMEOUT (the call may or may
 *   not have run), CLOCK_SKEW, STOPPED, DENIED (token refused), INVALID_ARGUMENT (the server's
 *   `ERR ...`, e.g. INCR's refusal). Cancelled calls reject with CairnError CANCELLED, a reply of
 *   the wrong shape with CairnError DECODE_FAILED.
 * - Retries: a call that never left the process (the node could not be reached) is sent to the
 *   next node, up to `maxAttempts`; a read whose connection broke after sending is sent again
 *   too; a write that was sent never is (its outcome is unknown: TIMEOUT). A node that refuses
 *   to coordinate (STOPPED, CLOCK_SKEW) did nothing, so the call moves to another node.
 * - Not atomic, as on the front end: SET NX/XX, the expiry calls and DEL read then write (see
 *   src/kv/DESIGN.md, "What is not atomic"); multi-key calls are independent per key.
 *
 * @example
 * ```ts
 * const kv = await KvClient.connect({ nodes: ['127.0.0.1:6379'] });
 * await kv.set('user:1', 'ada', { ttlMs: 60_000 });
 * const v = await kv.get('user:1', { consistency: 'ONE' }); // Uint8Array
 * for await (const key of kv.scan({ match: 'user:*' })) console.log(Buffer.from(key).toString());
 * await kv.close();
 * ```
 */
export class KvClient {
  private readonly config: KvClientConfig;
  private readonly limits: KvClientLimits;
  private readonly clock: Clock;
  private readonly router: Router;
  private readonly pools = new Map<string, NodePool>();
  private readonly counters: KvClientStats = { calls: 0, retries: 0, failures: {}, ringRefreshes: 0 };
  private refreshing: Promise<RingInfo | undefined> | undefined;
  private lastRefreshAt = Number.NEGATIVE_INFINITY;
  private refreshTimer: TimerHandle | undefined;
  private closed = false;

  private constructor(
    private readonly options: KvClientOptions,
    private readonly logger: Logger | undefined,
  ) {
    this.config = clientConfig(options);
    this.limits = withLimits(DEFAULT_LIMITS, options.limits) as KvClientLimits;
    this.clock = options.clock ?? systemClock;
    if (options.nodes.length === 0)
      throw new KvError('INVALID_ARGUMENT', 'a kv client needs at least one node address');
    const seeds: NodeAddress[] = [];
    for (const text of options.nodes) {
      const a = parseAddress(text);
      if (a === undefined) throw new KvError('INVALID_ARGUMENT', `node address '${text}' is not host:port`);
      seeds.push(a);
    }
    this.router = new Router({
      seeds,
      clock: this.clock,
      rng: options.rng ?? Rng.fromSeed(Rng.randomSeed()),
      downBackoffMs: this.config.downBackoffMs,
      maxDownBackoffMs: this.config.maxDownBackoffMs,
    });
  }

  /**
   * A client of the nodes at `options.nodes`. Fetches the ring first (unless `routing` is off).
   *
   * @throws KvError UNAVAILABLE when no node answers, DENIED when the token is refused,
   *   INVALID_ARGUMENT for bad options
   */
  static async connect(options: KvClientOptions): Promise<KvClient> {
    const client = new KvClient(options, options.logger);
    try {
      if (client.config.routing) await client.refreshRing();
      else await client.ping();
    } catch (err) {
      client.close();
      throw err;
    }
    client.scheduleRefresh();
    return client;
  }

  // ---- reads ----

  /** The key's value, or undefined (absent, deleted or expired). GET. */
  async get(key: KvBytes, options: KvReadOptions = {}): Promise<Uint8Array | undefined> {
    const k = bytes(key);
    return (await this.run(k, this.readCall(['GET', k], options, bulkOrNull))) ?? undefined;
  }

  /**
   * The key's value and expiry: GET and PTTL, pipelined to the same node (two reads, not one
   * snapshot: a write in between can pair a value with another write's TTL). `expiresAt` is the
   * server's remaining time added to this client's clock.
   */
  async entry(key: KvBytes, options: KvReadOptions = {}): Promise<KvEntry | undefined> {
    const k = bytes(key);
    const route = this.router.route(this.config.routing ? k : undefined);
    const [value, pttl] = await Promise.all([
      this.attempt(route, this.readCall(['GET', k], options, bulkOrNull)),
      this.attempt(route, this.readCall(['PTTL', k], options, integer)),
    ]);
    if (value === null || pttl === -2) return undefined;
    return pttl < 0 ? { value } : { value, expiresAt: Math.round(this.clock.now()) + pttl };
  }

  /** How many of `keys` exist (a key named twice counts twice, as in Redis). EXISTS, split per node. */
  async exists(keys: KvBytes | readonly KvBytes[], options: KvReadOptions = {}): Promise<number> {
    const list = keyList(keys, this.limits);
    const counts = await this.perNode(list, (group) => this.readCall(['EXISTS', ...group], options, integer));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** The values of `keys`, in order (undefined for absent ones). MGET, split per node. */
  async mget(keys: readonly KvBytes[], options: KvReadOptions = {}): Promise<(Uint8Array | undefined)[]> {
    const list = keyList(keys, this.limits);
    const out: (Uint8Array | undefined)[] = new Array(list.length).fill(undefined);
    await this.perNode(list, (group, indices) =>
      this.readCall(['MGET', ...group], options, (reply) => {
        if (!Array.isArray(reply) || reply.length !== group.length) return undefined;
        for (let i = 0; i < reply.length; i++) {
          const v = bulkOrNull(reply[i] as Reply);
          if (v === undefined && reply[i] !== null) return undefined;
          out[indices[i]!] = v ?? undefined;
        }
        return true;
      }),
    );
    return out;
  }

  /** Remaining time to live in ms; -1 when the key has no expiry, -2 when it is absent (Redis's PTTL). */
  pttl(key: KvBytes, options: KvReadOptions = {}): Promise<number> {
    const k = bytes(key);
    return this.run(k, this.readCall(['PTTL', k], options, integer));
  }

  /** Remaining time to live in s (rounded); -1 without expiry, -2 when absent (Redis's TTL). */
  ttl(key: KvBytes, options: KvReadOptions = {}): Promise<number> {
    const k = bytes(key);
    return this.run(k, this.readCall(['TTL', k], options, integer));
  }

  // ---- writes ----

  /**
   * Writes `value` under `key`: SET with PX/PXAT/NX/XX.
   *
   * NX and XX read the key and then write, at this call's levels: two clients can both see a key
   * absent and both write (the later version stays). Use them to avoid needless writes, not as a
   * lock.
   *
   * @returns true when written, false when NX or XX held it back
   */
  set(key: KvBytes, value: KvBytes, options: KvSetOptions = {}): Promise<boolean> {
    const k = bytes(key);
    const args: CommandArg[] = ['SET', k, bytes(value)];
    if (options.ttlMs !== undefined && options.expiresAt !== undefined)
      return Promise.reject(new KvError('INVALID_ARGUMENT', 'set takes ttlMs or expiresAt, not both'));
    if (options.ttlMs !== undefined) args.push('PX', String(positiveMs(options.ttlMs, 'ttlMs')));
    if (options.expiresAt !== undefined)
      args.push('PXAT', String(positiveMs(options.expiresAt, 'expiresAt')));
    if (options.nx === true) args.push('NX');
    if (options.xx === true) args.push('XX');
    const readsFirst = options.nx === true || options.xx === true;
    const call = readsFirst
      ? this.readWriteCall(args, options, okOrNull)
      : this.writeCall(args, options, okOrNull);
    return this.run(k, call);
  }

  /**
   * `KvApi.put`: writes `value` (with `expiresAt`, absolute ms), or deletes the key when `value`
   * is undefined.
   */
  async put(key: KvBytes, value: KvBytes | undefined, options: KvWriteOptions = {}): Promise<void> {
    if (value === undefined) await this.del(key, options);
    else await this.set(key, value, options);
  }

  /** Sets every pair; MSET, split per node. Pairs are written independently: a failure can leave some written. */
  async mset(entries: Iterable<readonly [KvBytes, KvBytes]>, options: KvWriteOptions = {}): Promise<void> {
    const pairs = [...entries];
    const list = keyList(
      pairs.map((p) => p[0]),
      this.limits,
    );
    const values = pairs.map((p) => bytes(p[1]));
    await this.perNode(list, (group, indices) => {
      const args: CommandArg[] = ['MSET'];
      for (let i = 0; i < group.length; i++) args.push(group[i]!, values[indices[i]!]!);
      return this.writeCall(args, options, okOrNull);
    });
  }

  /**
   * Deletes `keys` (tombstones, even for keys not found: a replica the read missed may hold one);
   * DEL, split per node.
   *
   * @returns how many of them were live before
   */
  async del(keys: KvBytes | readonly KvBytes[], options: KvWriteOptions = {}): Promise<number> {
    const list = keyList(keys, this.limits);
    const counts = await this.perNode(list, (group) =>
      this.readWriteCall(['DEL', ...group], options, integer),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Sets a time to live of `ttlMs` on an existing key (PEXPIRE); a value <= 0 deletes it. @returns false when the key is absent */
  expire(key: KvBytes, ttlMs: number, options: KvWriteOptions = {}): Promise<boolean> {
    const k = bytes(key);
    return this.run(k, this.readWriteCall(['PEXPIRE', k, String(wholeMs(ttlMs, 'ttlMs'))], options, flag));
  }

  /** Sets the absolute expiry (ms since the epoch) of an existing key (PEXPIREAT). @returns false when the key is absent */
  expireAt(key: KvBytes, atMs: number, options: KvWriteOptions = {}): Promise<boolean> {
    const k = bytes(key);
    return this.run(k, this.readWriteCall(['PEXPIREAT', k, String(wholeMs(atMs, 'atMs'))], options, flag));
  }

  /** Removes a key's expiry (PERSIST). @returns false when absent or without expiry */
  persist(key: KvBytes, options: KvWriteOptions = {}): Promise<boolean> {
    const k = bytes(key);
    return this.run(k, this.readWriteCall(['PERSIST', k], options, flag));
  }

  // ---- whole store ----

  /**
   * One SCAN page from ring position `cursor` (0n: the start); `cursor` 0n in the result ends the
   * scan. Any node serves any page.
   */
  scanPage(cursor: bigint, options: KvScanOptions = {}): Promise<KvScanPage> {
    const count = options.count ?? 100;
    if (!Number.isSafeInteger(count) || count < 1)
      return Promise.reject(
        new KvError('INVALID_ARGUMENT', `scan count must be a positive integer, got ${count}`),
      );
    if (cursor < 0n || cursor >= 1n << 64n)
      return Promise.reject(new KvError('INVALID_ARGUMENT', `scan cursor ${cursor} is outside 0..2^64-1`));
    const args: CommandArg[] = ['SCAN', cursor.toString(), 'COUNT', String(count)];
    if (options.match !== undefined) args.push('MATCH', options.match);
    return this.run(undefined, this.readCall(args, options, scanReply));
  }

  /**
   * Every live key, page by page (Redis's SCAN promise: a key present for the whole scan is
   * returned at least once; keys may repeat; keys written during the scan may or may not appear).
   */
  async *scan(options: KvScanOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    let cursor = 0n;
    do {
      const page = await this.scanPage(cursor, options);
      yield* page.keys;
      cursor = page.cursor;
    } while (cursor !== 0n);
  }

  /** An estimate of the live keys in the cluster (DBSIZE of one node). */
  approximateSize(): Promise<number> {
    return this.run(undefined, this.readCall(['DBSIZE'], {}, integer));
  }

  /** Checks that some node answers (PING). */
  async ping(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.run(
      undefined,
      this.readCall(['PING'], options, (r) => (r === 'PONG' ? true : undefined)),
    );
  }

  /** The ring as last fetched, or undefined when none was (routing off, or no node allowed it). */
  ring(): RingInfo | undefined {
    return this.router.ringInfo;
  }

  /**
   * Fetches the ring from some node now and routes by it.
   *
   * @returns the ring, or undefined when the answer was refused (malformed, DENIED); the reason is in `stats().lastRingProblem`
   * @throws KvError UNAVAILABLE when no node answers
   */
  refreshRing(): Promise<RingInfo | undefined> {
    this.refreshing ??= this.fetchRing().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Counters since connect. */
  stats(): Readonly<KvClientStats> & { readonly pools: Record<string, { open: number; queued: number }> } {
    const pools: Record<string, { open: number; queued: number }> = {};
    for (const [id, p] of this.pools) pools[id] = { open: p.openConnections, queued: p.queuedCalls };
    return { ...this.counters, failures: { ...this.counters.failures }, pools };
  }

  /** Closes every connection; calls in flight fail (TIMEOUT if sent, UNAVAILABLE if not). */
  close(): void {
    this.closed = true;
    if (this.refreshTimer !== undefined) this.clock.cancel(this.refreshTimer);
    for (const p of this.pools.values()) p.close();
    this.pools.clear();
  }

  // ---- internals ----

  private readCall<T>(args: readonly CommandArg[], o: KvReadOptions, decode: Call<T>['decode']): Call<T> {
    const read = o.consistency ?? this.config.readConsistency;
    return { args, read, write: this.config.writeConsistency, idempotent: true, decode, signal: o.signal };
  }

  private writeCall<T>(args: readonly CommandArg[], o: KvWriteOptions, decode: Call<T>['decode']): Call<T> {
    const write = o.consistency ?? this.config.writeConsistency;
    return { args, read: this.config.readConsistency, write, idempotent: false, decode, signal: o.signal };
  }

  /** A command that reads, then writes: an explicit level applies to both. */
  private readWriteCall<T>(
    args: readonly CommandArg[],
    o: KvWriteOptions,
    decode: Call<T>['decode'],
  ): Call<T> {
    const read = o.consistency ?? this.config.readConsistency;
    const write = o.consistency ?? this.config.writeConsistency;
    return { args, read, write, idempotent: false, decode, signal: o.signal };
  }

  private run<T>(key: Uint8Array | undefined, call: Call<T>): Promise<T> {
    return this.attempt(this.router.route(this.config.routing ? key : undefined), call);
  }

  /** `keys` split by the node routing picks for each, in commands of at most maxKeysPerCommand keys. */
  private async perNode<T>(
    keys: readonly Uint8Array[],
    build: (group: Uint8Array[], indices: number[]) => Call<T>,
  ): Promise<T[]> {
    const groups = new Map<string, { route: NodeAddress[]; keys: Uint8Array[]; indices: number[] }[]>();
    const perCommand = this.limits.maxKeysPerCommand;
    keys.forEach((k, i) => {
      const route = this.router.route(this.config.routing ? k : undefined);
      const id = route[0]?.id ?? '';
      let list = groups.get(id);
      if (list === undefined) {
        list = [];
        groups.set(id, list);
      }
      let last = list[list.length - 1];
      if (last === undefined || last.keys.length >= perCommand) {
        last = { route, keys: [], indices: [] };
        list.push(last);
      }
      last.keys.push(k);
      last.indices.push(i);
    });
    const calls: Promise<T>[] = [];
    for (const list of groups.values())
      for (const g of list) calls.push(this.attempt(g.route, build(g.keys, g.indices)));
    return Promise.all(calls);
  }

  /** Sends `call` to the nodes of `route` in turn, as the retry rules allow; see the class comment. */
  private async attempt<T>(route: readonly NodeAddress[], call: Call<T>): Promise<T> {
    this.counters.calls++;
    const deadline = this.clock.now() + this.config.requestTimeoutMs;
    const tries = Math.min(this.limits.maxAttempts, route.length);
    let last: unknown = new KvError('UNAVAILABLE', 'no kv node is known to send the call to');
    for (let i = 0; i < tries; i++) {
      if (i > 0) this.counters.retries++;
      const node = route[i]!;
      const outcome = await this.once(node, call, deadline);
      if (outcome.ok) return outcome.value;
      last = outcome.error;
      if (!outcome.retry || this.clock.now() >= deadline || this.closed) break;
    }
    const code = isKvError(last) || last instanceof CairnError ? last.code : 'OTHER';
    this.counters.failures[code] = (this.counters.failures[code] ?? 0) + 1;
    throw last;
  }

  private async once<T>(
    node: NodeAddress,
    call: Call<T>,
    deadline: number,
  ): Promise<{ ok: true; value: T } | { ok: false; error: unknown; retry: boolean; replied: boolean }> {
    let reply: Reply;
    try {
      reply = await this.pool(node).call(call.read, call.write, call.args, { deadline, signal: call.signal });
    } catch (error) {
      if (error instanceof UnsentError) {
        this.router.markDown(node.id);
        this.refreshSoon();
        return { ok: false, error, retry: true, replied: false };
      }
      // The connection broke after sending (not the deadline): a read may go elsewhere.
      const broken = isKvError(error, 'TIMEOUT') && this.clock.now() < deadline;
      if (broken) this.router.markDown(node.id);
      return { ok: false, error, retry: broken && call.idempotent, replied: false };
    }
    this.router.markUp(node.id);
    if (reply instanceof ReplyError) {
      const error = errorFromReply(reply, `node ${node.id}`);
      if (error.code === 'UNAVAILABLE') this.refreshSoon();
      return { ok: false, error, retry: isCoordinatorRefusal(error), replied: true };
    }
    const value = call.decode(reply);
    if (value === undefined) {
      const name = typeof call.args[0] === 'string' ? call.args[0] : 'command';
      return {
        ok: false,
        error: new CairnError(
          'DECODE_FAILED',
          `${node.id} answered ${name} with an unexpected ${describeReply(reply)}`,
        ),
        retry: false,
        replied: true,
      };
    }
    return { ok: true, value: value as T };
  }

  private pool(node: NodeAddress): NodePool {
    let pool = this.pools.get(node.id);
    if (pool === undefined) {
      pool = new NodePool({
        host: node.host,
        port: node.port,
        label: `kv node ${node.id}`,
        token: this.options.token,
        connectTimeoutMs: this.config.connectTimeoutMs,
        limits: this.limits,
        clock: this.clock,
      });
      this.pools.set(node.id, pool);
    }
    return pool;
  }

  private async fetchRing(): Promise<RingInfo | undefined> {
    this.lastRefreshAt = this.clock.now();
    const route = this.router.route();
    let lastError: unknown;
    for (const node of route.slice(0, this.limits.maxAttempts)) {
      const outcome = await this.once(
        node,
        this.readCall(['CAIRN', 'RING'], {}, (r) => r),
        this.clock.now() + this.config.requestTimeoutMs,
      );
      if (!outcome.ok) {
        lastError = outcome.error;
        this.counters.lastRingProblem = describe(outcome.error);
        if (outcome.retry) continue;
        // A node that answered CAIRN RING with a refusal (a token without kv:read, an old
        // server): route through the seeds. Anything else (a refused AUTH) is the caller's.
        if (outcome.replied) return undefined;
        throw outcome.error;
      }
      const info = parseRingReply(outcome.value);
      const problem = typeof info === 'string' ? info : this.router.update(info, node.host);
      if (problem !== undefined) {
        this.counters.lastRingProblem = `${node.id}: ${problem}`;
        this.logger?.warn({ node: node.id, problem }, 'kv client refused a ring');
        continue;
      }
      this.counters.ringRefreshes++;
      delete this.counters.lastRingProblem;
      this.dropUnknownPools();
      return this.router.ringInfo;
    }
    if (lastError !== undefined && (isKvError(lastError, 'UNAVAILABLE') || isKvError(lastError, 'TIMEOUT')))
      throw lastError;
    return undefined;
  }

  /** Closes pools of addresses neither the ring nor the seeds name any more. */
  private dropUnknownPools(): void {
    for (const [id, pool] of this.pools)
      if (this.router.address(id) === undefined) {
        pool.close();
        this.pools.delete(id);
      }
  }

  private refreshSoon(): void {
    if (!this.config.routing || this.closed) return;
    if (this.refreshing !== undefined) return;
    if (this.clock.now() - this.lastRefreshAt < this.config.minRingRefreshIntervalMs) return;
    this.refreshRing().catch((err: unknown) => {
      this.counters.lastRingProblem = describe(err);
    });
  }

  private scheduleRefresh(): void {
    if (!this.config.routing || this.config.ringRefreshIntervalMs === 0 || this.closed) return;
    this.refreshTimer = this.clock.setTimer(this.config.ringRefreshIntervalMs, () => {
      this.refreshRing()
        .catch((err: unknown) => {
          this.counters.lastRingProblem = describe(err);
        })
        .finally(() => this.scheduleRefresh());
    });
  }
}

// ---- argument and reply helpers ----

function bytes(b: KvBytes): Uint8Array {
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
}

function keyList(keys: KvBytes | readonly KvBytes[], limits: KvClientLimits): Uint8Array[] {
  const list = typeof keys === 'string' || keys instanceof Uint8Array ? [keys] : keys;
  if (list.length === 0) throw new KvError('INVALID_ARGUMENT', 'the call names no key');
  if (list.length > limits.maxKeysPerCall)
    throw new KvError(
      'INVALID_ARGUMENT',
      `the call names ${list.length} keys, over maxKeysPerCall=${limits.maxKeysPerCall}`,
    );
  return list.map(bytes);
}

function positiveMs(ms: number, name: string): number {
  if (!Number.isSafeInteger(ms) || ms <= 0)
    throw new KvError('INVALID_ARGUMENT', `${name} must be a positive whole number of ms, got ${ms}`);
  return ms;
}

function wholeMs(ms: number, name: string): number {
  if (!Number.isSafeInteger(ms))
    throw new KvError('INVALID_ARGUMENT', `${name} must be a whole number of ms, got ${ms}`);
  return ms;
}

function bulkOrNull(reply: Reply): Uint8Array | undefined | null {
  if (reply === null) return null;
  return Buffer.isBuffer(reply) ? reply : undefined;
}

function integer(reply: Reply): number | undefined {
  return typeof reply === 'number' ? reply : undefined;
}

function flag(reply: Reply): boolean | undefined {
  return reply === 1 ? true : reply === 0 ? false : undefined;
}

function okOrNull(reply: Reply): boolean | undefined {
  return reply === 'OK' ? true : reply === null ? false : undefined;
}

function scanReply(reply: Reply): KvScanPage | undefined {
  if (!Array.isArray(reply) || reply.length !== 2) return undefined;
  const [cursor, keys] = reply as readonly Reply[];
  if (!Buffer.isBuffer(cursor) || !/^[0-9]{1,20}$/.test(cursor.toString('latin1')) || !Array.isArray(keys))
    return undefined;
  const list = keys as readonly Reply[];
  if (!list.every((k) => Buffer.isBuffer(k))) return undefined;
  const next = BigInt(cursor.toString('latin1'));
  if (next >= 1n << 64n) return undefined;
  return { keys: list as Buffer[], cursor: next };
}

function describeReply(reply: Reply): string {
  if (reply === null) return 'null';
  if (Array.isArray(reply)) return `array of ${reply.length}`;
  if (Buffer.isBuffer(reply)) return `bulk string of ${reply.length} bytes`;
  return `${typeof reply} ${String(reply).slice(0, 40)}`;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
