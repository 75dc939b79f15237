import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Clock, describeError, isCairnError, type Logger, Rng, systemClock } from '../core/index.js';
import { KvNode, type KvNodeStatus } from '../kv/cluster/kv-node.js';
import { isKvError, KvError } from '../kv/errors.js';
import { type RespServer, serveResp } from '../kv/resp/index.js';
import type { KvApi } from '../kv/types.js';
import { parseToken, verifyToken } from '../security/token.js';
import { LevelStorage } from '../storage/level.js';
import type { AgentConfig } from './config.js';
import {
  type KvAdminOp,
  type KvDecommissionJson,
  type KvHttpSource,
  type KvRemovalJson,
  type KvRingJson,
  type KvStatusJson,
  ringToJson,
  sortedTokens,
} from './kv-http.js';
import { registerKvMetrics } from './kv-metrics.js';
import { membershipKvView } from './kv-view.js';
import { runningMembership } from './membership-role.js';
import { formatHostPort } from './ports.js';
import type { Role, RoleContext, RoleHealth, RoleState } from './role.js';
import { clientRootKeys } from './root-keys.js';

/** The mux channel of the gossip transport the kv replicas speak on (membership's is 1, the store's 8). */
export const KV_CHANNEL = 9;

/**
 * The audience and operation a token must allow to decommission a node over HTTP from afar;
 * removing another node needs operation `kv:removenode` at the same audience.
 */
export const KV_ADMIN_TOKEN = Object.freeze({ audience: 'http', op: 'kv:decommission' });

/**
 * The `kv` role: a node of the partitioned store on this agent.
 *
 * It builds on the membership role: the replica rpc rides channel {@link KV_CHANNEL} of the gossip
 * transport (sealed when a keyring is set), and the ring is read from and published to membership
 * state (`kv-view.ts` adapts `Membership` to the node's view). Data lives in LevelDB under
 * `<dataDir>/kv/` (cells, hints and the node's tokens in one store). It serves the Redis protocol
 * on `bind.respPort`: on loopback with no credentials; bound anywhere else every connection must
 * AUTH with a capability token minted from `security.tokenRootKeys`, and the role refuses to start
 * without those keys (as the store role does for the etcd API).
 *
 * Settings: `kv.*` of the agent config (replication factor, tokens, default levels, fsync, seeds,
 * ring delay). `/v1/kv/status`, `/v1/kv/ring` and `POST /v1/kv/decommission` come from
 * {@link httpSource}; counters go to the node's metrics (`kv-metrics.ts`).
 */
export class KvRole implements Role {
  readonly name = 'kv' as const;
  private state: RoleState = 'stopped';
  private detail: string | undefined;
  private node: KvNode | undefined;
  private resp: RespServer | undefined;
  private storage: LevelStorage | undefined;
  private view: ReturnType<typeof membershipKvView> | undefined;
  private logger: Logger | undefined;
  private respAddress = '';
  private decommissioning: KvDecommissionJson | undefined;
  private removal: KvRemovalJson | undefined;
  /** The decommission or removal running in the background, if any (one at a time). */
  private operationRun: Promise<void> | undefined;
  private readonly stopOperations = new AbortController();
  private readonly clock: Clock;
  private rootKeys: Uint8Array[] = [];

  constructor(
    private readonly config: AgentConfig,
    options: { clock?: Clock } = {},
  ) {
    this.clock = options.clock ?? systemClock;
  }

  /** The running kv node, or undefined. */
  get kv(): KvNode | undefined {
    return this.state === 'running' ? this.node : undefined;
  }

  /** The port RESP listens on (the real one when configured as 0), once running. */
  get respPort(): number | undefined {
    return this.resp?.port;
  }

  async start(ctx: RoleContext): Promise<void> {
    this.state = 'starting';
    this.logger = ctx.logger;
    // Credentials first: a config that would expose RESP without them fails before anything binds.
    const auth = this.authOptions();
    let running: ReturnType<typeof runningMembership>;
    try {
      running = runningMembership(ctx.started, 'kv');
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
    const { membership: node, mux } = running;
    const dir = join(ctx.config.dataDir, 'kv');
    const host = this.config.advertiseHost ?? this.config.bind.host;
    const kv = this.config.kv;
    try {
      await mkdir(dir, { recursive: true });
      this.storage = await LevelStorage.open(dir);
      // RESP binds first: the node advertises its address on the ring from its first advert.
      this.resp = await serveResp({
        kv: deferredKv(() => this.node),
        host: this.config.bind.host,
        port: this.config.bind.respPort,
        clock: this.clock,
        logger: ctx.logger,
        consistency: { read: kv.readConsistency, write: kv.writeConsistency },
        info: () => this.info(),
        ...(auth === undefined ? {} : { auth }),
      });
      this.respAddress = formatHostPort(host, this.resp.port);
      this.view = membershipKvView(node);
      this.node = await KvNode.start({
        name: ctx.name,
        transport: mux.channel(KV_CHANNEL),
        view: this.view,
        storage: this.storage,
        clock: this.clock,
        rng: Rng.fromSeed(`${ctx.identity.nodeId}:kv:${this.clock.now()}`),
        logger: ctx.logger,
        metrics: ctx.metrics,
        respAddress: this.respAddress,
        batchDefer: setImmediate,
        config: {
          rf: kv.replicationFactor,
          tokensPerNode: kv.tokens,
          readConsistency: kv.readConsistency,
          writeConsistency: kv.writeConsistency,
          sync: kv.sync,
          seeds: kv.seeds,
          ringDelayMs: kv.ringDelayMs,
          antiEntropyIntervalMs: kv.antiEntropyIntervalMs,
          hintReplayIntervalMs: kv.hintReplayIntervalMs,
        },
      });
      registerKvMetrics(ctx.metrics, () => this.kv?.status());
      ctx.logger.info(
        {
          resp: this.respAddress,
          ring: this.node.status().ring,
          rf: kv.replicationFactor,
          tokens: kv.tokens,
          sync: kv.sync,
          auth: auth !== undefined,
        },
        'kv started',
      );
    } catch (err) {
      this.state = 'failed';
      this.detail = describeError(err);
      await this.release();
      throw err;
    }
    this.state = 'running';
  }

  async stop(): Promise<void> {
    this.state = 'stopping';
    this.stopOperations.abort();
    await this.operationRun;
    await this.release();
    this.state = 'stopped';
  }

  health(): RoleHealth {
    const node = this.kv;
    if (node === undefined) {
      return { state: this.state, ...(this.detail === undefined ? {} : { detail: this.detail }) };
    }
    const s = node.status();
    const ring = node.ring();
    const hints = Object.values(s.hintsPending).reduce((a, b) => a + b, 0);
    const detail = s.clock.refusal === undefined ? s.ring : `${s.ring}; ${s.clock.refusal}`;
    return {
      state: 'running',
      detail,
      counts: {
        ringNodes: ring.nodes.length,
        tokens: s.tokens,
        rf: s.rf,
        hintBytesPending: hints,
        reads: s.coordinator.reads,
        writes: s.coordinator.writes,
        readRepairs: s.coordinator.readRepairs,
        antiEntropyRounds: s.antiEntropy.rounds,
        respConnections: this.resp?.stats.connectionsOpen ?? 0,
      },
    };
  }

  /** What the `/v1/kv` routes serve. */
  httpSource(): KvHttpSource {
    return {
      status: () => this.statusJson(),
      ring: () => {
        const node = this.kv;
        return node === undefined ? undefined : ringToJson(node.status().name, node.ring());
      },
      decommission: () => this.decommission(),
      removeNode: (name) => this.removeNode(name),
      tokenDenial: (token, op) => this.tokenDenial(token, op),
    };
  }

  /** What `GET /v1/kv/status` shows, or undefined while the node does not run. */
  statusJson(): KvStatusJson | undefined {
    const node = this.kv;
    if (node === undefined) return undefined;
    const s: KvNodeStatus = node.status();
    const own = node.ring().nodes.find((n) => n.name === s.name);
    return {
      name: s.name,
      status: s.ring,
      tokens: own === undefined ? [] : sortedTokens(own.tokens),
      rf: s.rf,
      resp: this.respAddress,
      ...(s.streaming === undefined ? {} : { streaming: s.streaming }),
      ...(this.decommissioning === undefined ? {} : { decommission: { ...this.decommissioning } }),
      ...(this.removal === undefined ? {} : { removal: { ...this.removal } }),
      hintsPending: s.hintsPending,
      handoff: s.handoff,
      antiEntropy: s.antiEntropy,
      coordinator: s.coordinator,
      replica: s.replica,
      clock: s.clock,
    };
  }

  /** The ring as `GET /v1/kv/ring` shows it, or undefined while the node does not run. */
  ringJson(): KvRingJson | undefined {
    return this.httpSource().ring();
  }

  /**
   * Starts a decommission in the background; resolves once it is under way (`{}`) or refused
   * (`{ error }`: the node is not normal, another is running, or too few nodes would remain).
   */
  async decommission(): Promise<{ error?: string }> {
    const node = this.kv;
    if (node === undefined) return { error: 'the kv node is not running' };
    if (this.operationRun !== undefined) return { error: 'a decommission or removal is already running' };
    return this.background(node.decommission(undefined, this.stopOperations.signal), {
      started: () => {
        this.decommissioning = { state: 'running' };
        this.logger?.info('decommission started: streaming this node’s ranges to their new owners');
      },
      done: () => {
        this.decommissioning = { state: 'done' };
        this.logger?.info('decommissioned: this node left the ring; it may be stopped');
      },
      failed: (error) => {
        this.decommissioning = { state: 'failed', error };
        this.logger?.warn({ err: error }, 'decommission failed; the node is normal again');
      },
    });
  }

  /**
   * Starts removing `name` (a node gone for good) from the ring in the background; resolves once
   * it is under way (`{}`) or refused (`{ error }`: see `KvNode.removeNode`).
   */
  async removeNode(name: string): Promise<{ error?: string }> {
    const node = this.kv;
    if (node === undefined) return { error: 'the kv node is not running' };
    if (this.operationRun !== undefined) return { error: 'a decommission or removal is already running' };
    return this.background(node.removeNode(name, undefined, this.stopOperations.signal), {
      started: () => {
        this.removal = { node: name, state: 'running' };
        this.logger?.info({ node: name }, 'removenode started: copying its ranges to their new owners');
      },
      done: () => {
        this.removal = { node: name, state: 'done' };
        this.logger?.info({ node: name }, 'removenode done: the node is off the ring');
      },
      failed: (error) => {
        this.removal = { node: name, state: 'failed', error };
        this.logger?.warn({ node: name, err: error }, 'removenode failed; the removal is withdrawn');
      },
    });
  }

  /**
   * Runs a ring operation in the background. The node refuses (INVALID_ARGUMENT) before its first
   * await; past that, it is under way.
   */
  private async background(
    run: Promise<void>,
    on: { started(): void; done(): void; failed(error: string): void },
  ): Promise<{ error?: string }> {
    let refusal: string | undefined;
    run.catch((err: unknown) => {
      if (isKvError(err, 'INVALID_ARGUMENT')) refusal ??= err.message;
    });
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (refusal !== undefined) return { error: refusal };
    on.started();
    this.operationRun = run.then(
      () => on.done(),
      (err: unknown) => on.failed(describeError(err)),
    );
    void this.operationRun.finally(() => {
      this.operationRun = undefined;
    });
    return {};
  }

  /** Lines of INFO's `# Cairn` section. */
  private info(): Record<string, string | number> {
    const node = this.kv;
    if (node === undefined) return {};
    const s = node.status();
    return {
      cairn_node: s.name,
      cairn_ring_status: s.ring,
      cairn_ring_nodes: node.ring().nodes.length,
      cairn_rf: s.rf,
      cairn_hints_pending_bytes: Object.values(s.hintsPending).reduce((a, b) => a + b, 0),
      cairn_read_repairs: s.coordinator.readRepairs,
      cairn_anti_entropy_rounds: s.antiEntropy.rounds,
    };
  }

  private tokenDenial(text: string | undefined, op: KvAdminOp): string | undefined {
    if (this.rootKeys.length === 0) {
      return `${op.slice(3)} is allowed only from loopback clients on a node without token root keys`;
    }
    if (text === undefined) return 'a capability token is required (Authorization: Bearer <token>)';
    try {
      verifyToken(parseToken(text), {
        rootKeys: this.rootKeys,
        request: { nowMs: this.clock.now(), audience: KV_ADMIN_TOKEN.audience, op },
      });
      return undefined;
    } catch (err) {
      if (isCairnError(err)) return err.message;
      throw err;
    }
  }

  /** Token verification for RESP, or undefined on loopback without keys. */
  private authOptions(): Parameters<typeof serveResp>[0]['auth'] {
    let keys: Uint8Array[] | undefined;
    try {
      keys = clientRootKeys(this.config, 'the Redis protocol');
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
    this.rootKeys = keys ?? [];
    return keys === undefined ? undefined : { rootKeys: keys, clock: this.clock };
  }

  private async release(): Promise<void> {
    const errors: string[] = [];
    const step = async (what: string, fn: (() => Promise<unknown>) | undefined) => {
      if (fn === undefined) return;
      try {
        await fn();
      } catch (err) {
        errors.push(`${what}: ${describeError(err)}`);
      }
    };
    const { resp, node, storage, view } = this;
    this.resp = undefined;
    this.node = undefined;
    this.storage = undefined;
    this.view = undefined;
    await step('RESP', resp && (() => resp.close()));
    await step('kv node', node && (() => node.stop()));
    view?.close();
    await step('storage', storage && (() => storage.close()));
    if (errors.length > 0) this.logger?.warn({ errors }, 'kv stopped with errors');
  }
}

/**
 * A `KvApi` that forwards to the node once it exists: RESP binds before the node starts (the node
 * advertises RESP's bound port), and answers `STOPPED` until then and after the node stopped.
 */
function deferredKv(get: () => KvNode | undefined): KvApi {
  const node = (): KvNode => {
    const n = get();
    if (n === undefined) throw new KvError('STOPPED', 'the kv node is starting or has stopped');
    return n;
  };
  const stopped = () => Promise.reject(new KvError('STOPPED', 'the kv node is starting or has stopped'));
  return {
    // The per-request calls are not async wrappers: KvNode's get and put already answer with a
    // promise (never throw), so one promise and its ticks less per request.
    get: (key, options) => get()?.get(key, options) ?? stopped(),
    put: (key, value, options) => get()?.put(key, value, options) ?? stopped(),
    scan: async (cursor, options) => node().scan(cursor, options),
    approximateSize: async () => node().approximateSize(),
    ring: () => get()?.ring() ?? { rf: 0, nodes: [] },
  };
}
