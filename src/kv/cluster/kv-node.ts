import {
  type Clock,
  describeError,
  type Logger,
  type Metrics,
  type Rng,
  type Storage,
  silentLogger,
  sleep,
} from '../../core/index.js';
import { RpcClient, RpcServer } from '../../rpc/index.js';
import type { Transport } from '../../transport/types.js';
import { KvError } from '../errors.js';
import { tokensDigest } from '../ring/removals.js';
import type {
  Consistency,
  KvApi,
  KvEntry,
  KvReadOptions,
  KvScanPage,
  KvWriteOptions,
  RingInfo,
  RingNodeStatus,
  Token,
} from '../types.js';
import { Admission } from './admission.js';
import { AntiEntropy, type AntiEntropyStats } from './anti-entropy.js';
import type { Defer } from './batcher.js';
import { DEFAULT_KV_CONFIG, DEFAULT_LIMITS, type KvConfig, validateKvConfig } from './config.js';
import { Coordinator, type CoordinatorContext, type CoordinatorStats } from './coordinator.js';
import {
  type ElasticContext,
  type StreamProgress,
  streamDecommission,
  streamJoin,
  streamRemoval,
} from './elastic.js';
import { defaultEngines } from './engines.js';
import { type HandoffStats, HintedHandoff } from './handoff.js';
import type { KvEngines, ReplicaPort } from './ports.js';
import { ReplicaService, type ReplicaStats } from './replica.js';
import { ReplicaClient } from './replica-client.js';
import { type KvMembershipView, RingTracker } from './ring-tracker.js';
import { scanPage } from './scan.js';
import { SkewMonitor } from './skew.js';
import type { StreamContext } from './streaming.js';

/** Options of {@link KvNode.start}. */
export interface KvNodeOptions {
  /** This node's membership name. */
  readonly name: string;
  /** A mux channel of the gossip transport: the replica rpc runs on it (served and dialled). */
  readonly transport: Transport;
  /** Membership as the node needs it (the agent adapts `Membership`; tests fake it). */
  readonly view: KvMembershipView;
  /** The node's storage: LevelStorage in the agent, a SimDisk in simulation. */
  readonly storage: Storage;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** Overrides of {@link DEFAULT_KV_CONFIG}. */
  readonly config?: Partial<KvConfig>;
  /** This node's Redis-protocol address `host:port`, advertised on the ring for clients. */
  readonly respAddress?: string;
  /** The engine bindings; default the real ones (tests may wrap them). */
  readonly engines?: KvEngines;
  /**
   * When batched replica calls leave (see `batcher.ts`): `setImmediate` batches one event-loop
   * turn (the agent: requests read from many client connections in one turn share one message per
   * replica); the default, `queueMicrotask`, batches the current task only and keeps simulation
   * deterministic.
   */
  readonly batchDefer?: Defer;
}

/** The metric series one kind of request counts into. */
interface RequestSeries {
  readonly count: { inc(): void };
  readonly seconds: { observe(value: number): void };
}

/** A node's ring status, plus `left` once decommissioned. */
export type KvNodeRingStatus = RingNodeStatus | 'left';

/** What {@link KvNode.status} reports. */
export interface KvNodeStatus {
  readonly name: string;
  readonly ring: KvNodeRingStatus;
  readonly tokens: number;
  readonly rf: number;
  /** The last join or decommission's progress. */
  readonly streaming?: StreamProgress;
  /** Hint bytes waiting, per target. */
  readonly hintsPending: Record<string, number>;
  readonly handoff: HandoffStats;
  readonly antiEntropy: AntiEntropyStats;
  readonly coordinator: CoordinatorStats;
  readonly replica: ReplicaStats;
  /** Peers' recent clock offsets (ms, positive: the peer is ahead), and why this node refuses to coordinate, if it does. */
  readonly clock: { readonly offsets: Record<string, number>; readonly refusal?: string };
}

/**
 * A node of the partitioned store: replica, coordinator, hinted handoff, anti-entropy and ring
 * membership in one object that implements {@link KvApi}.
 *
 * Lifecycle: {@link start} loads the node's tokens (or picks new ones and stores them), publishes
 * its ring advert and serves the replica rpc. A node that finds other kv nodes on its first start
 * (and is not a seed) joins: it advertises `joining`, waits `ringDelayMs` so every
 * coordinator sends it writes as a pending replica, streams its future ranges, then advertises
 * `normal` ({@link ready} resolves). {@link decommission} is the reverse. {@link stop} stops serving;
 * the storage and transport belong to the caller.
 *
 * @example
 * ```ts
 * const node = await KvNode.start({ name: 'n1', transport: mux.channel(KV_CHANNEL), view, storage, clock, rng });
 * await node.put(utf8('k'), utf8('v'));
 * (await node.get(utf8('k')))?.value; // 'v' as bytes
 * ```
 */
export class KvNode implements KvApi {
  readonly config: KvConfig;
  private readonly tracker: RingTracker;
  private readonly service: ReplicaService;
  private readonly coordinator: Coordinator;
  private readonly handoff: HintedHandoff;
  private readonly antiEntropy: AntiEntropy;
  private readonly skew: SkewMonitor;
  private readonly ctx: CoordinatorContext;
  private readonly elastic: ElasticContext;
  private readonly unsubscribe: () => void;
  private ringStatus: KvNodeRingStatus = 'normal';
  /** The other nodes on the ring as of the last membership change ({@link forgetLeavers}). */
  private ringNames: ReadonlySet<string> = new Set();
  private tokens: readonly Token[] = [];
  private progress: StreamProgress | undefined;
  /**
   * Metric series by op, level and result (a few dozen at most: ops, 3 levels, error codes):
   * nested maps, so a request finds its series without building a key.
   */
  private readonly seriesCache = new Map<string, Map<string, Map<string, RequestSeries>>>();
  private stopped = false;
  /** Aborted by {@link stop}: ends a join's streaming and its waits between attempts. */
  private readonly stopSignal = new AbortController();
  private readyWaiters: (() => void)[] = [];
  private busy: Promise<unknown> | undefined;
  /** The ring memory's saves, chained (stop waits for the last before the store closes). */
  private savingMemory: Promise<void> = Promise.resolve();

  private constructor(
    private readonly options: KvNodeOptions,
    private readonly engines: KvEngines,
    private readonly store: ReplicaPort,
    private readonly rpcServer: RpcServer,
    private readonly rpcClient: RpcClient,
    hints: Awaited<ReturnType<KvEngines['openHintStore']>>,
    config: KvConfig,
  ) {
    this.config = config;
    const { name, clock, view } = options;
    const logger = options.logger ?? silentLogger();
    const hlc = engines.hybridClock({
      clock,
      node: engines.nodeTag(name),
      maxOffsetMs: config.maxClockOffsetMs,
    });
    this.tracker = new RingTracker(name, view, engines, config.rf, logger, {
      clock,
      settleMs: config.ringDelayMs,
      // One save at a time, in order; a failed one is logged (the memory is a cache).
      save: (nodes) => {
        this.savingMemory = this.savingMemory
          .then(() => (this.stopped ? undefined : engines.saveRingMemory(options.storage, nodes)))
          .catch((err: unknown) =>
            logger.warn({ err: describeError(err) }, 'could not save the ring memory'),
          );
      },
    });
    this.tracker.onSelfRemoved((by) => this.removedFromRing(by));
    this.skew = new SkewMonitor(
      clock,
      config.maxClockOffsetMs,
      config.clockReadingTtlMs,
      () => this.tracker.others().filter((n) => this.tracker.isAlive(n.name)).length,
    );
    this.service = new ReplicaService(store, hlc, this.skew, logger);
    this.service.register(rpcServer);
    const replicas = new ReplicaClient(
      name,
      rpcClient,
      (n) => this.tracker.addressOf(n),
      { service: this.service, store },
      hlc,
      this.skew,
      engines,
      {
        gate: new Admission(
          clock,
          DEFAULT_LIMITS.maxCallsInFlightPerReplica,
          DEFAULT_LIMITS.maxCallsWaitingPerReplica,
        ),
        now: () => clock.now(),
      },
      options.batchDefer,
    );
    const isAlive = (n: string) => this.tracker.isAlive(n);
    const ring = () => this.tracker.current();
    this.handoff = new HintedHandoff({
      hints,
      replicas,
      clock,
      logger,
      isAlive,
      replayIntervalMs: config.hintReplayIntervalMs,
      pageEntries: config.streamPageEntries,
      deliveryTimeoutMs: config.writeTimeoutMs,
    });
    this.ctx = {
      self: name,
      clock,
      rng: options.rng.child('coordinator'),
      logger,
      config,
      engines,
      hlc,
      skew: this.skew,
      replicas,
      ring,
      isAlive,
      ringUnknown: () => this.tracker.ringUnknown(),
      hint: (target, key, cell) => this.handoff.add(target, key, cell),
    };
    this.coordinator = new Coordinator(this.ctx);
    const stream: StreamContext = {
      replicas,
      service: this.service,
      store,
      pageEntries: config.streamPageEntries,
      pageTimeoutMs: config.readTimeoutMs,
    };
    this.antiEntropy = new AntiEntropy({
      self: name,
      clock,
      logger,
      stream,
      ring,
      isAlive,
      intervalMs: config.antiEntropyIntervalMs,
      depth: config.merkleDepth,
      treeTimeoutMs: config.readTimeoutMs,
    });
    this.elastic = {
      self: name,
      clock,
      logger,
      stream,
      ring,
      isAlive,
      ringDelayMs: config.ringDelayMs,
      attempts: 10,
    };
    this.unsubscribe = view.onChange(() => {
      if (this.stopped) return;
      this.tracker.refresh();
      this.handoff.replay();
      this.forgetLeavers();
    });
  }

  /**
   * Starts a node: opens its replica store and hint store on `storage`, serves the replica rpc on
   * `transport`, takes its place on the ring (joining in the background when others hold data).
   *
   * @throws CairnError INVALID_CONFIG for a bad config field
   */
  static async start(options: KvNodeOptions): Promise<KvNode> {
    const config = validateKvConfig({ ...DEFAULT_KV_CONFIG, ...options.config });
    const engines = options.engines ?? defaultEngines;
    const { storage, clock, logger } = options;
    const store = await engines.openReplicaStore({
      storage,
      clock,
      gcGraceMs: config.gcGraceMs,
      sync: config.sync,
    });
    const hints = await engines.openHintStore({
      storage,
      clock,
      windowMs: config.hintWindowMs,
      maxBytesPerTarget: config.hintMaxBytesPerTarget,
      sync: config.sync,
    });
    const rpcServer = new RpcServer({ clock, ...(logger === undefined ? {} : { logger }) });
    const rpcClient = new RpcClient(options.transport, {
      clock,
      rng: options.rng.child('kv-rpc'),
      methods: rpcServer,
      dialTimeoutMs: Math.min(config.writeTimeoutMs, 1_000),
      // A restarted replica is back within seconds; membership, not dial backoff, says who is down.
      poolLimits: { backoffBaseMs: 10, backoffMaxMs: 1_000 },
      ...(logger === undefined ? {} : { logger }),
    });
    rpcServer.listen(options.transport);
    const node = new KvNode(options, engines, store, rpcServer, rpcClient, hints, config);
    try {
      await node.takePlace();
    } catch (err) {
      await node.stop();
      throw err;
    }
    node.handoff.start();
    node.antiEntropy.start();
    return node;
  }

  private async takePlace(): Promise<void> {
    const { storage, name, rng } = this.options;
    const meta = await this.engines.loadNodeMeta(storage);
    this.tracker.restore(meta === undefined ? [] : await this.engines.loadRingMemory(storage));
    if (meta?.status === 'left') {
      // Cassandra refuses too: the cells left behind are stale, and tombstones purged elsewhere
      // since could let a rejoin with this data bring deleted keys back.
      throw new KvError(
        'INVALID_ARGUMENT',
        `kv node ${name} was decommissioned and handed its ranges over; to join again as a new node, start it with an empty data directory`,
      );
    }
    let status: 'joining' | 'normal';
    if (meta !== undefined) {
      this.tokens = meta.tokens;
      status = meta.status;
    } else {
      const others = this.tracker.others();
      // With seeds configured, only a seed starts a ring: any other node joins, even when it has
      // not yet heard of the others (membership may not have brought their adverts yet, and
      // starting normal then would skip streaming its ranges). Without seeds, a node that sees no
      // other kv node starts the ring.
      const seeds = this.config.seeds;
      const first = seeds.length > 0 ? seeds.includes(name) : others.length === 0;
      const taken = new Set(others.flatMap((n) => n.tokens));
      this.tokens = this.engines.randomTokens(rng.child('tokens'), this.config.tokensPerNode, taken);
      status = first ? 'normal' : 'joining';
      await this.engines.saveNodeMeta(storage, { tokens: this.tokens, status });
    }
    this.setRingStatus(status);
    if (status === 'joining') {
      this.busy = this.join().finally(() => {
        this.busy = undefined;
      });
    }
  }

  /**
   * Drops the hints of nodes this node saw leave the ring since the last membership change: on
   * the ring then, off it now (decommissioned, removed or reaped). Only a departure seen here
   * counts: a node missing from a ring still being learned after a restart is not one.
   */
  private forgetLeavers(): void {
    const now = new Set<string>();
    for (const n of this.tracker.current().info().nodes) if (n.name !== this.options.name) now.add(n.name);
    const gone: string[] = [];
    for (const name of this.ringNames) if (!now.has(name)) gone.push(name);
    this.ringNames = now;
    if (gone.length > 0) this.handoff.forget(gone);
  }

  private setRingStatus(status: KvNodeRingStatus): void {
    this.ringStatus = status;
    if (status === 'left') this.tracker.setOwn(undefined);
    else {
      const resp = this.options.respAddress;
      this.tracker.setOwn(
        resp === undefined ? { tokens: this.tokens, status } : { tokens: this.tokens, status, resp },
      );
    }
    if (status === 'normal') for (const w of this.readyWaiters.splice(0)) w();
  }

  /**
   * Streams this node's future ranges, then turns it `normal`. A failed attempt (owners down or
   * cut off) is retried after a doubling wait, up to `maxJoinRetryDelayMs` apart, until the join
   * completes or the node stops.
   */
  private async join(): Promise<void> {
    const logger = this.ctx.logger;
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        if (!this.tracker.others().some((n) => n.status === 'normal')) {
          throw new KvError('UNAVAILABLE', 'no normal kv node is known yet: a joining node streams from one');
        }
        this.progress = await streamJoin(this.elastic, (p) => this.report(p), this.stopSignal.signal);
        if (this.stopped) return;
        await this.engines.saveNodeMeta(this.options.storage, { tokens: this.tokens, status: 'normal' });
        this.setRingStatus('normal');
        logger.info({ cells: this.progress.cells }, 'joined the ring');
        return;
      } catch (err) {
        if (this.stopped) return;
        const delayMs = Math.min(1_000 * 2 ** Math.min(attempt - 1, 20), DEFAULT_LIMITS.maxJoinRetryDelayMs);
        logger.warn({ attempt, delayMs, err: describeError(err) }, 'joining the ring failed; will retry');
        try {
          await sleep(this.options.clock, delayMs, this.stopSignal.signal);
        } catch {
          return; // stopped
        }
      }
    }
  }

  /**
   * Counts a request's outcome and time in the metrics (when the node has them). Chained with
   * `then` rather than an async frame: one promise less per request.
   */
  private measure<T>(op: string, level: Consistency, run: Promise<T>): Promise<T> {
    const metrics = this.options.metrics;
    if (metrics === undefined) return run;
    const start = this.options.clock.now();
    return run.then(
      (value) => {
        this.record(metrics, op, level, 'ok', start);
        return value;
      },
      (err: unknown) => {
        this.record(metrics, op, level, err instanceof KvError ? err.code : 'error', start);
        throw err;
      },
    );
  }

  private record(metrics: Metrics, op: string, level: Consistency, result: string, start: number): void {
    const series = this.requestSeries(metrics, op, level, result);
    series.count.inc();
    series.seconds.observe((this.options.clock.now() - start) / 1000);
  }

  /**
   * The metric series of one (op, level, result), made once: plain numbers read when `/metrics`
   * is (prom-client's own children hash their labels on every call).
   */
  private requestSeries(metrics: Metrics, op: string, level: string, result: string): RequestSeries {
    let byLevel = this.seriesCache.get(op);
    if (byLevel === undefined) {
      byLevel = new Map();
      this.seriesCache.set(op, byLevel);
    }
    let byResult = byLevel.get(level);
    if (byResult === undefined) {
      byResult = new Map();
      byLevel.set(level, byResult);
    }
    let series = byResult.get(result);
    if (series === undefined) {
      series = {
        count: metrics
          .hotCounter('cairn_kv_requests_total', 'Requests this node coordinated, by outcome', [
            'op',
            'level',
            'result',
          ])
          .series(op, level, result),
        seconds: metrics
          .hotHistogram(
            'cairn_kv_request_seconds',
            'Time to answer a coordinated request',
            [0.001, 0.005, 0.02, 0.1, 0.5, 2, 5],
            ['op'],
          )
          .series(op),
      };
      byResult.set(result, series);
    }
    return series;
  }

  /** Keeps a join or decommission's progress for status() and the metrics. */
  private report(p: StreamProgress): void {
    this.progress = p;
    const metrics = this.options.metrics;
    if (metrics === undefined) return;
    const labels = { operation: p.operation };
    metrics
      .gauge('cairn_kv_stream_ranges_total', 'Ranges the current join or decommission streams', ['operation'])
      .set(labels, p.rangesTotal);
    metrics
      .gauge('cairn_kv_stream_ranges_done', 'Ranges the current join or decommission has streamed', [
        'operation',
      ])
      .set(labels, p.rangesDone);
    metrics
      .gauge('cairn_kv_stream_bytes', 'Bytes the current join or decommission has streamed', ['operation'])
      .set(labels, p.bytes);
  }

  /** Resolves once this node is `normal` on the ring. */
  ready(): Promise<void> {
    if (this.ringStatus === 'normal') return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /**
   * Streams this node's ranges to their new owners, then leaves the ring and waits `ringDelayMs`
   * more for its departure marker to spread (it may be stopped once this resolves). Writes keep
   * reaching this node (as a natural replica) and the new owners (as pending ones) meanwhile; no
   * write acknowledged before or during it is lost. On failure the node goes back to `normal`.
   *
   * @param onProgress - called on every streamed page and range
   * @param signal - aborts the streaming (the node goes back to `normal`)
   * @throws KvError INVALID_ARGUMENT when the node is not `normal` or the other normal nodes are
   *   fewer than rf (Cassandra refuses too); UNAVAILABLE when a new owner cannot be reached
   */
  async decommission(onProgress?: (p: StreamProgress) => void, signal?: AbortSignal): Promise<void> {
    if (this.ringStatus !== 'normal' || this.busy !== undefined) {
      throw new KvError('INVALID_ARGUMENT', `cannot decommission a node that is ${this.ringStatus}`);
    }
    const others = this.tracker.others().filter((n) => n.status === 'normal').length;
    if (others < this.config.rf) {
      throw new KvError(
        'INVALID_ARGUMENT',
        `cannot decommission: ${others} other normal nodes could not hold rf=${this.config.rf} replicas`,
      );
    }
    this.setRingStatus('leaving');
    await this.streaming(
      (report) => streamDecommission(this.elastic, report, signal),
      onProgress,
      () => this.setRingStatus('normal'),
    );
    this.handoff.replay();
    await this.engines.saveNodeMeta(this.options.storage, { tokens: this.tokens, status: 'left' });
    this.setRingStatus('left');
    // As Cassandra announces LEFT for RING_DELAY before it returns: stopped at once, the node would
    // leave coordinators that have not yet seen its departure marker sending it requests that time out.
    await sleep(this.options.clock, this.config.ringDelayMs, signal).catch(() => {});
  }

  /**
   * Takes `name`, a node that is gone for good without decommissioning, off the ring (Cassandra's
   * `nodetool removenode`): announces it `removing` (every node then reads it as `leaving`, so
   * writes also reach its ranges' new owners), copies each of its ranges to the new owners from
   * `rf - quorum + 1` live surviving replicas, then announces it `removed` (every node leaves it
   * off the ring and keeps announcing that, so the removal outlives this node). Should the node
   * come back with its old data, it sees the removal and leaves the ring.
   *
   * @throws KvError INVALID_ARGUMENT when `name` is this node, is not on the ring or is alive, when
   *   this node is not `normal` or is busy with another join, decommission or removal, or when the
   *   remaining normal nodes are fewer than rf; UNAVAILABLE when a range cannot be copied, or the
   *   node came back meanwhile (the removal is then withdrawn)
   */
  async removeNode(
    name: string,
    onProgress?: (p: StreamProgress) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    if (name === this.options.name) {
      throw new KvError('INVALID_ARGUMENT', 'a node cannot remove itself: decommission it instead');
    }
    if (this.ringStatus !== 'normal' || this.busy !== undefined) {
      const what = this.busy !== undefined ? 'busy streaming' : this.ringStatus;
      throw new KvError('INVALID_ARGUMENT', `cannot remove a node while this node is ${what}`);
    }
    const tokens = this.tracker.advertisedTokens(name);
    const onRing = this.tracker.current().info().nodes;
    if (tokens === undefined || !onRing.some((n) => n.name === name)) {
      throw new KvError('INVALID_ARGUMENT', `${name} is not on the ring (unknown, left or already removed)`);
    }
    if (this.tracker.isAlive(name)) {
      throw new KvError(
        'INVALID_ARGUMENT',
        `${name} is alive: decommission it, or stop it first (removenode is for a node gone for good)`,
      );
    }
    const remaining = onRing.filter((n) => n.name !== name && n.status === 'normal').length;
    if (remaining < this.config.rf) {
      throw new KvError(
        'INVALID_ARGUMENT',
        `cannot remove ${name}: ${remaining} other normal nodes could not hold rf=${this.config.rf} replicas`,
      );
    }
    const digest = tokensDigest(tokens);
    try {
      this.tracker.announce(name, digest, 'removing');
    } catch (err) {
      throw new KvError('INVALID_ARGUMENT', `cannot remove ${name}: ${describeError(err)}`);
    }
    await this.streaming(
      (report) => streamRemoval(this.elastic, name, report, signal),
      onProgress,
      () => this.tracker.announce(name, digest, undefined),
    );
    if (this.tracker.isAlive(name)) {
      this.tracker.announce(name, digest, undefined);
      throw new KvError(
        'UNAVAILABLE',
        `${name} came back while it was being removed; the removal is withdrawn`,
      );
    }
    this.tracker.announce(name, digest, 'removed');
    this.ctx.logger.info({ node: name, cells: this.progress?.cells }, 'removed a node from the ring');
  }

  /**
   * Runs a decommission's or a removal's streaming as this node's one busy operation, reporting
   * progress to the metrics and `onProgress`; on failure runs `undo` (unless the node stopped)
   * and rethrows.
   */
  private async streaming(
    start: (report: (p: StreamProgress) => void) => Promise<StreamProgress>,
    onProgress: ((p: StreamProgress) => void) | undefined,
    undo: () => void,
  ): Promise<void> {
    const run = start((p) => {
      this.report(p);
      onProgress?.(p);
    });
    this.busy = run;
    try {
      this.progress = await run;
    } catch (err) {
      if (!this.stopped) undo();
      throw err;
    } finally {
      this.busy = undefined;
    }
  }

  /** Another node removed this one (it was thought gone): its data is stale, so it leaves the ring. */
  private removedFromRing(by: string): void {
    if (this.stopped || this.ringStatus === 'left') return;
    this.ctx.logger.error(
      { by },
      'this node was removed from the ring while it was away; it leaves the ring (start it with an empty data directory to join again)',
    );
    this.setRingStatus('left');
    this.engines
      .saveNodeMeta(this.options.storage, { tokens: this.tokens, status: 'left' })
      .catch((err: unknown) =>
        this.ctx.logger.warn({ err: describeError(err) }, 'could not store the left state'),
      );
  }

  // ------------------------------------------------------------------ KvApi

  // get and put are the per-request path: plain functions that return the measured promise (a
  // refusal as a rejected promise), not async frames around it.

  get(key: Uint8Array, options: KvReadOptions = {}): Promise<KvEntry | undefined> {
    let level: Consistency;
    try {
      this.checkServing();
      checkKey(key);
      level = this.level(options.consistency, 'read');
    } catch (err) {
      return Promise.reject(err);
    }
    return this.measure('get', level, this.coordinator.read(key, level, options.signal));
  }

  put(key: Uint8Array, value: Uint8Array | undefined, options: KvWriteOptions = {}): Promise<void> {
    let level: Consistency;
    try {
      this.checkServing();
      checkKey(key);
      checkPut(value, options.expiresAt);
      level = this.level(options.consistency, 'write');
    } catch (err) {
      return Promise.reject(err);
    }
    const expiresAt = value === undefined ? undefined : options.expiresAt;
    return this.measure('put', level, this.coordinator.write(key, value, expiresAt, level, options.signal));
  }

  async scan(cursor: bigint, options: { count: number } & KvReadOptions): Promise<KvScanPage> {
    this.checkServing();
    if (typeof cursor !== 'bigint') throw new KvError('INVALID_ARGUMENT', 'a scan cursor must be a bigint');
    if (!Number.isSafeInteger(options.count) || options.count < 1) {
      throw new KvError('INVALID_ARGUMENT', `scan count must be a positive integer, got ${options.count}`);
    }
    this.coordinator.checkCoordinating();
    return scanPage(this.ctx, cursor, options.count, this.level(options.consistency, 'read'), options.signal);
  }

  async approximateSize(): Promise<number> {
    this.checkServing();
    const ring = this.tracker.current();
    const nodes = ring.info().nodes.filter((n) => n.status !== 'joining' && this.tracker.isAlive(n.name));
    const counts = await Promise.all(
      nodes.map((n) => this.ctx.replicas.size(n.name, this.config.readTimeoutMs).catch(() => 0)),
    );
    const total = counts.reduce((a, b) => a + b, 0);
    return Math.round(total / Math.max(1, Math.min(ring.rf, nodes.length)));
  }

  ring(): RingInfo {
    return this.tracker.current().info();
  }

  // ------------------------------------------------------------------ operations

  /** The node's state and counters. */
  status(): KvNodeStatus {
    const refusal = this.skew.verdict();
    return {
      name: this.options.name,
      ring: this.ringStatus,
      tokens: this.tokens.length,
      rf: this.config.rf,
      ...(this.progress === undefined ? {} : { streaming: this.progress }),
      hintsPending: this.handoff.pending(),
      handoff: { ...this.handoff.stats },
      antiEntropy: { ...this.antiEntropy.stats },
      coordinator: { ...this.coordinator.stats },
      replica: { ...this.service.stats, cellsWritten: { ...this.service.stats.cellsWritten } },
      clock:
        refusal === undefined
          ? { offsets: this.skew.snapshot() }
          : { offsets: this.skew.snapshot(), refusal },
    };
  }

  /** Runs one anti-entropy round now (tests, `cairn kv repair`). */
  repair(): Promise<void> {
    return this.antiEntropy.round();
  }

  /** Offers stored hints to live targets now. */
  replayHints(): void {
    this.handoff.replay();
  }

  /** Resolves once hints being stored are on disk. */
  flushHints(): Promise<void> {
    return this.handoff.flush();
  }

  /** Stops serving: replica requests are refused, loops stop, rpc channels close. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopSignal.abort();
    this.unsubscribe();
    this.tracker.dispose();
    this.service.stop();
    this.handoff.stop();
    this.antiEntropy.stop();
    this.rpcServer.close();
    await this.rpcClient.close();
    await this.handoff.flush();
    await this.savingMemory;
    await this.store.close();
  }

  private checkServing(): void {
    if (this.stopped) throw new KvError('STOPPED', `kv node ${this.options.name} has stopped`);
  }

  private level(given: Consistency | undefined, op: 'read' | 'write'): Consistency {
    const level = given ?? (op === 'read' ? this.config.readConsistency : this.config.writeConsistency);
    if (level !== 'ONE' && level !== 'QUORUM' && level !== 'ALL') {
      throw new KvError('INVALID_ARGUMENT', `unknown consistency level ${String(level)}`);
    }
    return level;
  }
}

/** Refuses a value or expiry `put` cannot store. */
function checkPut(value: Uint8Array | undefined, expiresAt: number | undefined): void {
  if (
    value !== undefined &&
    (!(value instanceof Uint8Array) || value.length > DEFAULT_LIMITS.maxValueBytes)
  ) {
    throw new KvError('INVALID_ARGUMENT', `a value must be bytes of at most ${DEFAULT_LIMITS.maxValueBytes}`);
  }
  if (expiresAt !== undefined && (!Number.isSafeInteger(expiresAt) || expiresAt < 0)) {
    throw new KvError('INVALID_ARGUMENT', `expiresAt must be a non-negative integer of ms, got ${expiresAt}`);
  }
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length === 0 || key.length > DEFAULT_LIMITS.maxKeyBytes) {
    throw new KvError('INVALID_ARGUMENT', `a key must be 1 to ${DEFAULT_LIMITS.maxKeyBytes} bytes`);
  }
}
