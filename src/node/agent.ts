import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics } from 'prom-client';
import {
  CairnError,
  type Clock,
  createLogger,
  describeError,
  type Logger,
  Metrics,
  systemClock,
} from '../core/index.js';
import { type NodeIdentity, shortNodeId } from '../security/identity.js';
import { IDENTITY_FILE_NAME, loadOrCreateIdentity } from '../security/identity-file.js';
import type { AgentConfig } from './config.js';
import { SERVICE_PORT_FIELDS, servedServices } from './config-fields.js';
import { buildHttpApp, type HealthReport, listenHttp } from './http.js';
import { KvRole } from './kv-role.js';
import { isMembershipProvider, MembershipRole } from './membership-role.js';
import { formatHostPort } from './ports.js';
import { type Role, type RoleContext, RoleRegistry } from './role.js';
import { StoreRole } from './store-role.js';
import { CAIRN_VERSION } from './version.js';

/**
 * The agent: one node's composition of identity, logs, metrics, HTTP server and roles.
 *
 * Start order: identity (created on first start) -> logger -> metrics -> HTTP listening -> roles
 * in role order. Stop order is the reverse: roles in reverse order -> HTTP closed -> logs flushed.
 * `/health` answers from the moment HTTP listens, so a supervisor sees roles come up.
 */

/** Options of {@link startAgent} beyond the config. */
export interface AgentOptions {
  /** Role implementations; default {@link defaultRoles} (membership, placeholders for the rest). */
  roles?: RoleRegistry;
  /** Root logger; default a JSON logger on stdout at `config.log.level`. */
  logger?: Logger;
  /** Identity; default loaded from (or created in) `config.dataDir`. */
  identity?: NodeIdentity;
  /** Collect process metrics (CPU, memory, event loop, GC) into the node's registry; default true. */
  processMetrics?: boolean;
  /** Clock for uptime; default the system clock. */
  clock?: Clock;
}

/**
 * The roles every agent runs unless told otherwise: the real {@link MembershipRole},
 * {@link StoreRole} and {@link KvRole}, and placeholders for the bricks not built yet.
 */
export function defaultRoles(): RoleRegistry {
  return RoleRegistry.withPlaceholders()
    .register('membership', (config) => new MembershipRole(config))
    .register('store', (config) => new StoreRole(config))
    .register('kv', (config) => new KvRole(config));
}

/**
 * Where the node's services are reached (`host:port`, the advertise host when set). Only services
 * that run are listed (`servedServices`): no address is advertised that nothing serves.
 */
export interface AgentAddresses {
  /** HTTP server (bound: the real port even when configured as 0). */
  http: string;
  /**
   * Gossip, when the membership role runs (the real port once it started, else as configured).
   */
  gossip?: string;
  /** etcd v3 API, when the store role runs. */
  etcd?: string;
  /** Redis protocol, when the kv role runs. */
  resp?: string;
}

/** A running agent. */
export interface Agent {
  /** The configuration it runs with. */
  readonly config: AgentConfig;
  /** The node's name (configured or `<hostname>-<shortId>`). */
  readonly name: string;
  /** The node's identity. */
  readonly identity: NodeIdentity;
  /** The node's root logger. */
  readonly logger: Logger;
  /** The node's metrics registry. */
  readonly metrics: Metrics;
  /** Service addresses. */
  readonly addresses: AgentAddresses;
  /** The health report `/health` serves. */
  health(): HealthReport;
  /**
   * Stops roles in reverse order, closes HTTP and flushes logs. Idempotent: every call returns the
   * same promise. Rejects with `INTERNAL` listing the steps that failed (after trying them all).
   */
  stop(): Promise<void>;
}

function defaultName(identity: NodeIdentity): string {
  const host = hostname()
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  const short = shortNodeId(identity.nodeId);
  return host.length > 0 ? `${host}-${short}` : `node-${short}`;
}

/** What a path that is not what it should be is, for a message. */
function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFile()) return 'a file';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  return 'a device';
}

/**
 * Refuses a data directory that is not a directory, and a key file path that holds something
 * other than a regular file, with a sentence saying so. Without this check a directory named
 * `node.key` reads as a key file "accessible by other users" (its mode is 0755) and a FIFO there
 * blocks the start.
 */
async function checkIdentityPaths(dataDir: string): Promise<void> {
  const keyFile = join(dataDir, IDENTITY_FILE_NAME);
  for (const [path, want, what] of [
    [dataDir, 'directory', 'data directory'],
    [keyFile, 'file', 'node key file'],
  ] as const) {
    let stats: Stats;
    try {
      stats = await stat(path);
    } catch {
      return; // Missing (created on first start) or unreadable: the identity load says which.
    }
    const ok = want === 'directory' ? stats.isDirectory() : stats.isFile();
    if (!ok) {
      throw new CairnError(
        'AGENT_START_FAILED',
        `${what} ${path} is ${kindOf(stats)}, not a ${want}; move it away or choose another data directory`,
        { details: { path } },
      );
    }
  }
}

async function loadIdentity(config: AgentConfig): Promise<{ identity: NodeIdentity; created: boolean }> {
  await checkIdentityPaths(config.dataDir);
  try {
    return await loadOrCreateIdentity(config.dataDir);
  } catch (err) {
    if (err instanceof CairnError) throw err;
    throw new CairnError(
      'AGENT_START_FAILED',
      `cannot load or create the identity in ${config.dataDir}: ${describeError(err)}`,
      {
        cause: err,
      },
    );
  }
}

function flush(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    try {
      logger.flush(() => resolve());
    } catch {
      resolve();
    }
  });
}

/**
 * Starts an agent in this process.
 *
 * @param config - a built config (see `loadAgentConfig`)
 * @param options - roles, logger, identity; defaults described on {@link AgentOptions}
 * @returns the running agent; call `stop()` to end it
 * @throws `AGENT_START_FAILED` when the HTTP port is taken or a role fails to start (everything
 * started so far is stopped first); `IDENTITY_INVALID` when the key file is unsafe or malformed
 * @example
 * ```ts
 * const agent = await startAgent(await loadAgentConfig({ flags: { 'http-port': '0' } }));
 * console.log(agent.addresses.http);
 * await agent.stop();
 * ```
 */
export async function startAgent(config: AgentConfig, options: AgentOptions = {}): Promise<Agent> {
  const clock = options.clock ?? systemClock;
  const startedAt = clock.now();
  const loaded =
    options.identity === undefined
      ? await loadIdentity(config)
      : { identity: options.identity, created: false };
  const identity = loaded.identity;
  const name = config.name ?? defaultName(identity);
  const logger = options.logger ?? createLogger({ level: config.log.level, bindings: { node: name } });
  const log = logger.child({ brick: 'agent' });
  const metrics = new Metrics({ node: name });
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: metrics.registry });
  metrics
    .gauge('cairn_node_info', 'Constant 1, labelled with the node id and Cairn version.', [
      'node_id',
      'version',
    ])
    .set({ node_id: identity.nodeId, version: CAIRN_VERSION }, 1);

  const roles = (options.roles ?? defaultRoles()).create(config);
  const membershipRole = roles.find(isMembershipProvider);
  const storeRole = roles.find((r): r is StoreRole => r instanceof StoreRole);
  const kvRole = roles.find((r): r is KvRole => r instanceof KvRole);
  const abort = new AbortController();
  let stopping = false;
  const host = config.advertiseHost ?? config.bind.host;
  const addresses: AgentAddresses = { http: '' };
  for (const service of servedServices(config.roles)) {
    if (service !== 'http')
      addresses[service] = formatHostPort(host, config.bind[SERVICE_PORT_FIELDS[service]]);
  }
  const health = (): HealthReport => {
    const roleHealth: HealthReport['roles'] = {};
    for (const role of roles) roleHealth[role.name] = role.health();
    const failed = Object.values(roleHealth).some((h) => h.state === 'failed');
    return {
      status: stopping ? 'stopping' : failed ? 'degraded' : 'ok',
      name,
      nodeId: identity.nodeId,
      shortId: shortNodeId(identity.nodeId),
      version: CAIRN_VERSION,
      pid: process.pid,
      uptimeMs: Math.round(clock.now() - startedAt),
      addresses: { ...addresses },
      roles: roleHealth,
    };
  };

  const app = buildHttpApp({
    logger: logger.child({ brick: 'http' }),
    metrics,
    health,
    membership: () => membershipRole?.membership,
    storeStatus: () => storeRole?.statusJson(),
    kv: () => kvRole?.httpSource(),
  });
  const httpPort = await listenHttp(app, config.bind.host, config.bind.httpPort).catch(
    async (err: unknown) => {
      await app.close().catch(() => {});
      throw err;
    },
  );
  addresses.http = formatHostPort(host, httpPort);

  const ctx = (role: Role): RoleContext => ({
    config,
    name,
    identity,
    logger: logger.child({ brick: role.name }),
    metrics,
    signal: abort.signal,
    started: [...started],
  });
  const started: Role[] = [];
  for (const role of roles) {
    try {
      await role.start(ctx(role));
      started.push(role);
    } catch (err) {
      log.error({ role: role.name, err: describeError(err) }, 'role failed to start; stopping the agent');
      stopping = true;
      abort.abort();
      await stopAll(started, app, log);
      await flush(logger);
      throw new CairnError(
        'AGENT_START_FAILED',
        `role "${role.name}" failed to start: ${describeError(err)}`,
        { cause: err },
      );
    }
  }
  // The gossip port is known only once the membership role bound it (configured as 0).
  if (membershipRole instanceof MembershipRole && membershipRole.gossipAddress !== undefined) {
    addresses.gossip = membershipRole.gossipAddress;
  }
  // Likewise the etcd port, once the store role bound it.
  const etcdPort = storeRole?.etcdPort;
  if (etcdPort !== undefined) addresses.etcd = formatHostPort(host, etcdPort);
  // And the RESP port, once the kv role bound it.
  const respPort = kvRole?.respPort;
  if (respPort !== undefined) addresses.resp = formatHostPort(host, respPort);
  log.info(
    {
      nodeId: identity.nodeId,
      identityCreated: loaded.created,
      addresses,
      roles: config.roles,
      version: CAIRN_VERSION,
    },
    'agent started',
  );

  let stopped: Promise<void> | undefined;
  return {
    config,
    name,
    identity,
    logger,
    metrics,
    addresses,
    health,
    stop(): Promise<void> {
      if (stopped === undefined) {
        stopping = true;
        abort.abort();
        log.info('agent stopping');
        stopped = stopAll(started, app, log).then(async (errors) => {
          log.info({ errors: errors.length }, 'agent stopped');
          await flush(logger);
          if (errors.length > 0)
            throw new CairnError('INTERNAL', `agent stopped with errors: ${errors.join('; ')}`);
        });
      }
      return stopped;
    },
  };
}

/** Stops roles in reverse order, then closes HTTP; returns what failed (every step is tried). */
async function stopAll(started: readonly Role[], app: FastifyInstance, log: Logger): Promise<string[]> {
  const errors: string[] = [];
  for (const role of [...started].reverse()) {
    try {
      await role.stop();
    } catch (err) {
      errors.push(`role ${role.name}: ${describeError(err)}`);
      log.error({ role: role.name, err: describeError(err) }, 'role failed to stop');
    }
  }
  try {
    await app.close();
  } catch (err) {
    errors.push(`http: ${describeError(err)}`);
  }
  return errors;
}
