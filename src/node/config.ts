import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { CairnError, isCairnError } from '../core/index.js';
import {
  CONFIG_FIELDS,
  CONFIG_LIMITS,
  FIELDS_BY_PATH,
  type FieldSpec,
  type LogLevel,
  type MembershipPreset,
  ROLE_NAMES,
  type RoleName,
  SECTIONS,
  SERVICE_PORT_FIELDS,
  servedServices,
  TOP_LEVEL_KEYS,
} from './config-fields.js';
import { membershipProtocol } from './membership-protocol.js';
import { portPlan } from './ports.js';

/**
 * The agent configuration and where it comes from.
 *
 * Four sources, lowest to highest precedence: defaults < YAML file < environment < flags. Each
 * source becomes a {@link ConfigLayer} (field path -> value and source), every value checked as it
 * enters; {@link buildAgentConfig} lays the layers over the defaults and checks the fields against
 * each other. Every error is a `CairnError('AGENT_CONFIG_INVALID')` whose message starts with the
 * source and names the field: `config file cairn.yaml: bind.httpPort must be an integer 0-65535
 * (0 picks a free port), got "80a"`.
 */

/** Where the agent listens. Port 0 lets the system pick a free port. */
export interface BindConfig {
  /** Address every listener binds to; default `127.0.0.1` (nothing reachable from outside unless asked). */
  host: string;
  /** Gossip port (UDP and TCP); default 7100. */
  gossipPort: number;
  /** HTTP port (`/health`, `/metrics`); default 7200. */
  httpPort: number;
  /** etcd v3 API port of the store role; default 7300. Bound and checked only when the store role runs. */
  etcdPort: number;
  /** Redis protocol (RESP) port of the kv role; default 7400. Bound and checked only when the kv role runs. */
  respPort: number;
}

/** Gossip encryption keys; absent means gossip is not encrypted. */
export interface KeyringConfig {
  /** Base64 AES-256 keys (32 bytes each); the first is the primary, the others decrypt only. */
  keys: string[];
  /** Cluster label, authenticated with every packet so two clusters never mix; default none. */
  label?: string;
}

/**
 * Membership settings of the agent (the `membership` role). The protocol timings must be alike on
 * every node of a cluster: start from a preset and override a few fields if needed.
 */
export interface AgentMembershipConfig {
  /**
   * Protocol preset (see `cairn/membership` config.ts): `lan` (default; memberlist's LAN timings,
   * probe 1 s), `wan` (probe 5 s), `local` (loopback: probe timeout 200 ms, suspicion x3) or
   * `test` (everything fast: probe 200 ms; for tests on one machine only).
   */
  preset: MembershipPreset;
  /** Override of the preset's probe interval, ms. */
  probeIntervalMs?: number;
  /** Override of the preset's probe timeout, ms (must stay below the probe interval). */
  probeTimeoutMs?: number;
  /** Override of the preset's suspicion multiplier. */
  suspicionMult?: number;
  /** Override of the preset's gossip interval, ms. */
  gossipIntervalMs?: number;
  /**
   * How long a stopping agent waits for its graceful leave to be gossiped before it shuts down,
   * ms; default 2500. Must be below `shutdownTimeoutMs`.
   */
  leaveTimeoutMs: number;
}

/**
 * What peers may spend of the gossip transport (`cairn/transport` InboundLimits): deadlines of
 * accepted streams, slots and buffered bytes; each field left out keeps the transport's default.
 * Shorter deadlines free the slots of silent or trickling peers sooner, and close idle pooled
 * streams sooner (their pools redial).
 */
export interface AgentTransportConfig {
  /** An accepted stream must deliver its first whole frame within this many ms; default 10000. */
  firstFrameTimeoutMs?: number;
  /** A frame whose header arrived must be complete within this many ms; default 30000. */
  frameTimeoutMs?: number;
  /** An accepted stream without a whole frame either way for this many ms is closed; default 300000. */
  idleTimeoutMs?: number;
  /** Inbound connections at once; default 768 of the transport's 1,024 (the rest is for dials). */
  maxInboundStreams?: number;
  /** Inbound connections from one source IP; default 256. */
  maxStreamsPerHost?: number;
  /** Largest frame of a stream that has not yet proven itself; default 65 KiB. */
  unprovenMaxFrameBytes?: number;
  /** Bytes of frames still arriving, over every stream; default 32 MiB. */
  maxPartialFrameBytes?: number;
}

/** The configuration of one agent. */
export interface AgentConfig {
  /** Node name in logs, metrics and membership; default `<hostname>-<short node id>`. */
  name?: string;
  /** Directory for the identity and every brick's data, absolute once built; default `.cairn/agent`. */
  dataDir: string;
  /** Listen addresses. */
  bind: BindConfig;
  /** Host other nodes use to reach this one; default `bind.host`. */
  advertiseHost?: string;
  /** Roles to run, each a plug point; default all of {@link ROLE_NAMES}. */
  roles: RoleName[];
  /** Gossip addresses (`host:port`) of nodes to join through; default none. */
  seeds: string[];
  /** Gossip encryption; default none. */
  keyring?: KeyringConfig;
  /** Logging. */
  log: { level: LogLevel };
  /** How long a shutdown may take before the process gives up and exits non-zero; default 10000 ms. */
  shutdownTimeoutMs: number;
  /** Membership protocol preset, overrides and graceful-leave bound. */
  membership: AgentMembershipConfig;
  /** Deadlines of the gossip transport's accepted streams; default the transport's. */
  transport: AgentTransportConfig;
  /** Client credentials; default none (only a loopback-bound agent serves without them). */
  security: AgentSecurityConfig;
  /** The consistent store (the `store` role). */
  store: AgentStoreConfig;
  /** The partitioned store (the `kv` role). */
  kv: AgentKvConfig;
}

/**
 * Client credentials. With root keys set, every call to a client API (the etcd API) must carry a
 * capability token minted from one of them (`cairn token mint`); an agent whose APIs listen beyond
 * loopback refuses to start without them.
 */
export interface AgentSecurityConfig {
  /** Root keys of capability tokens (base64, 32 bytes); the first mints, all verify. */
  tokenRootKeys: string[];
}

/** Settings of the consistent store (the `store` role). */
export interface AgentStoreConfig {
  /**
   * Names of the voters that bootstrap the store's raft group on their first start. A node named
   * here bootstraps with exactly these voters; any other store node waits until the leader adds
   * it as a learner. Default empty: the node bootstraps a store of its own, alone.
   */
  initialCluster: string[];
  /** Raft tick, ms; default 100 (etcd's heartbeat interval). */
  tickMs: number;
  /** Ticks without a leader before an election; default 10 (etcd's 1 s election timeout). */
  electionTicks: number;
}

/**
 * Settings of the partitioned store (the `kv` role). `replicationFactor` and `tokens` must be alike
 * on every node of a cluster; the consistency levels are each node's defaults for requests that
 * name none (`cairn kv --consistency` and RESP's `CAIRN CONSISTENCY` choose per request or connection).
 */
export interface AgentKvConfig {
  /** Copies of every key (N); default 3. More survives more failures and costs more writes. */
  replicationFactor: number;
  /** Tokens (virtual nodes) this node takes on the ring; default 16 (Cassandra 4's `num_tokens`). */
  tokens: number;
  /** Default level of reads; default QUORUM (with QUORUM writes a read sees every acknowledged write). */
  readConsistency: 'ONE' | 'QUORUM' | 'ALL';
  /** Default level of writes; default QUORUM. */
  writeConsistency: 'ONE' | 'QUORUM' | 'ALL';
  /**
   * fsync every storage batch before a write is acknowledged; default true. Trade-off: false makes
   * writes about three times faster (fewer, larger disk flushes), but a power loss or kernel crash
   * can drop this replica's last acknowledged writes. At QUORUM the other replicas still hold them
   * unless a majority of a key's replicas lose power at once; a `kill -9` of the process loses
   * nothing either way (the OS still holds the written pages).
   */
  sync: boolean;
  /**
   * Names of the nodes that start a new cluster: a node listed here takes its place on the ring
   * as `normal` on its first start, without streaming (Cassandra's seeds). A node not listed that
   * finds other kv nodes on its first start joins: it streams its ranges first. Default empty
   * (the first node finding no other kv node starts normal; later nodes join).
   */
  seeds: string[];
  /**
   * How long a joining or leaving node waits after announcing it before streaming, so that every
   * coordinator sends writes to the new replica first, ms; default 30000 (Cassandra's RING_DELAY).
   * Must exceed the time gossip takes to spread a change through the cluster.
   */
  ringDelayMs: number;
  /**
   * Period of anti-entropy rounds (a Merkle tree exchange per replicated range), ms; default
   * 600000 (10 minutes); 0 turns them off. Shorter finds divergence sooner and costs a tree per
   * range per round. Repair must run more often than the 10-day tombstone grace period, or a
   * replica that missed a delete can bring the value back.
   */
  antiEntropyIntervalMs: number;
  /** How often stored hints are offered to live targets, ms (also on every membership change); default 10000. */
  hintReplayIntervalMs: number;
}

/** One value of a layer and the source it came from. */
export interface ConfigValue {
  /** The checked value. */
  value: unknown;
  /** Where it came from, as errors quote it: `config file x.yaml`, `environment CAIRN_NAME`, `flag --name`. */
  source: string;
}

/** The fields one source sets, by dotted path. */
export type ConfigLayer = ReadonlyMap<string, ConfigValue>;

/**
 * The defaults: data in `.cairn/agent`, listening on 127.0.0.1 with node 0's ports of the base-7000
 * plan, all roles, no seeds, no keyring, level `info`, 10 s shutdown timeout, membership preset
 * `lan` with a 2.5 s graceful leave.
 */
export function defaultAgentConfig(): AgentConfig {
  const ports = portPlan();
  return {
    dataDir: '.cairn/agent',
    bind: {
      host: '127.0.0.1',
      gossipPort: ports.gossip,
      httpPort: ports.http,
      etcdPort: ports.etcd,
      respPort: ports.resp,
    },
    roles: [...ROLE_NAMES],
    seeds: [],
    log: { level: 'info' },
    shutdownTimeoutMs: 10_000,
    membership: { preset: 'lan', leaveTimeoutMs: 2_500 },
    transport: {},
    security: { tokenRootKeys: [] },
    store: { initialCluster: [], tickMs: 100, electionTicks: 10 },
    kv: {
      replicationFactor: 3,
      tokens: 16,
      readConsistency: 'QUORUM',
      writeConsistency: 'QUORUM',
      sync: true,
      seeds: [],
      ringDelayMs: 30_000,
      antiEntropyIntervalMs: 600_000,
      hintReplayIntervalMs: 10_000,
    },
  };
}

function configError(source: string, message: string, field?: string): CairnError {
  return new CairnError('AGENT_CONFIG_INVALID', `${source}: ${message}`, {
    details: field === undefined ? { source } : { source, field },
  });
}

/** A short, secret-free rendering of a bad value for an error message. */
function show(value: unknown, secret = false): string {
  if (secret)
    return typeof value === 'string' ? `a string of ${value.length} characters` : describeType(value);
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function describeType(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'a list' : `a ${typeof value}`;
}

/**
 * Checks one value for a field; returns it (lists copied) or throws naming field and source.
 *
 * @param spec - the field
 * @param value - the value, native (YAML) or read from text
 * @param source - quoted in the error
 */
export function checkField(spec: FieldSpec, value: unknown, source: string): unknown {
  const list = spec.list;
  const secret = spec.path === 'keyring.keys';
  if (list === undefined) {
    try {
      return spec.check?.(value, spec.path);
    } catch {
      throw configError(
        source,
        `${spec.path} must be ${spec.expected}, got ${show(value, secret)}`,
        spec.path,
      );
    }
  }
  if (!Array.isArray(value)) {
    throw configError(source, `${spec.path} must be ${spec.expected}, got ${show(value, secret)}`, spec.path);
  }
  if (value.length > list.maxLength) {
    throw configError(source, `${spec.path} must be ${spec.expected}, got ${value.length} items`, spec.path);
  }
  const seen = new Set<unknown>();
  value.forEach((item, i) => {
    const at = `${spec.path}[${i}]`;
    try {
      list.item(item, at);
    } catch {
      throw configError(source, `${at} must be ${list.itemExpected}, got ${show(item, secret)}`, spec.path);
    }
    if (list.unique && seen.has(item)) {
      throw configError(
        source,
        `${at} repeats an earlier item${secret ? '' : ` (${show(item)})`}`,
        spec.path,
      );
    }
    seen.add(item);
  });
  return [...value];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function squash(text: string): string {
  return text.replace(/[-_]/g, '').toLowerCase();
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost));
    }
    prev = row;
  }
  return prev[b.length]!;
}

function unknownField(source: string, path: string, key: string, known: readonly string[]): CairnError {
  const near = known.find((k) => squash(k) === squash(key)) ?? known.find((k) => editDistance(k, key) <= 2);
  const hint = near === undefined ? '' : ` (did you mean "${near}"?)`;
  return configError(source, `unknown field "${path}"${hint}; known fields here: ${known.join(', ')}`, path);
}

/**
 * Parses the text of a YAML config file into a layer. Unknown fields are errors (a typo must not
 * pass silently); `null` (`key:` with nothing after it) leaves a field unset.
 *
 * @param text - the file's contents
 * @param fileName - the file's name as the user gave it, quoted in errors
 * @throws `AGENT_CONFIG_INVALID` naming the file and the field
 * @example
 * ```ts
 * parseConfigText('bind:\n  httpPort: 8080\n', 'cairn.yaml').get('bind.httpPort'); // { value: 8080, ... }
 * ```
 */
export function parseConfigText(text: string, fileName: string): ConfigLayer {
  const source = `config file ${fileName}`;
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const first = doc.errors[0];
  if (first !== undefined)
    throw configError(source, `is not valid YAML: ${first.message.split('\n')[0]?.replace(/:$/, '')}`);
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: CONFIG_LIMITS.maxYamlAliasCount });
  } catch (err) {
    // The yaml library throws a plain ReferenceError for an alias bomb; it is bad input like any other.
    const why = err instanceof Error ? err.message : String(err);
    throw configError(
      source,
      `cannot be expanded (${why}); at most ${CONFIG_LIMITS.maxYamlAliasCount} alias uses are allowed (maxYamlAliasCount)`,
    );
  }
  const layer = new Map<string, ConfigValue>();
  if (root === null || root === undefined) return layer;
  if (!isPlainObject(root))
    throw configError(source, `must be a YAML mapping of settings, got ${describeType(root)}`);
  const put = (path: string, value: unknown) => {
    if (value === null) return;
    layer.set(path, { value: checkField(FIELDS_BY_PATH.get(path)!, value, source), source });
  };
  for (const [key, value] of Object.entries(root)) {
    const sectionKeys = SECTIONS.get(key);
    if (sectionKeys !== undefined) {
      if (value === null) continue;
      if (!isPlainObject(value)) {
        throw configError(
          source,
          `${key} must be a mapping with keys ${sectionKeys.join(', ')}, got ${describeType(value)}`,
          key,
        );
      }
      for (const [sub, subValue] of Object.entries(value)) {
        if (!sectionKeys.includes(sub)) throw unknownField(source, `${key}.${sub}`, sub, sectionKeys);
        put(`${key}.${sub}`, subValue);
      }
    } else if (FIELDS_BY_PATH.has(key)) {
      put(key, value);
    } else {
      throw unknownField(source, key, key, TOP_LEVEL_KEYS);
    }
  }
  return layer;
}

/** What a path that is not a regular file is, for an error message. */
function fileKind(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Reads at most `maxBytes + 1` bytes of the regular file at `path`, so a file over the limit is
 * known to be over it without reading it whole. Opened non-blocking: opening a FIFO for reading
 * would otherwise wait for a writer forever, before the file could even be looked at.
 */
async function readCapped(path: string, maxBytes: number): Promise<Buffer> {
  const source = `config file ${path}`;
  let file: Awaited<ReturnType<typeof open>>;
  try {
    file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw configError(source, `cannot be read (${code})`);
  }
  try {
    const stats = await file.stat();
    if (!stats.isFile()) {
      throw configError(source, `is ${fileKind(stats)}; a config file must be a regular file`);
    }
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await file.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) {
      throw configError(
        source,
        `is over ${maxBytes} bytes, the limit maxConfigFileBytes (a config is a page of YAML)`,
      );
    }
    return buffer.subarray(0, length);
  } catch (err) {
    if (isCairnError(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw configError(source, `cannot be read (${code})`);
  } finally {
    await file.close().catch(() => {});
  }
}

/**
 * Reads and parses a YAML config file; see {@link parseConfigText}. Only a regular file is read
 * (a FIFO, device or directory is refused before any byte is read), and at most
 * `CONFIG_LIMITS.maxConfigFileBytes` of it: a larger file is refused without being read whole.
 *
 * @throws `AGENT_CONFIG_INVALID` when the file cannot be read, is not a regular file, is too large
 * or is invalid
 */
export async function readConfigFile(path: string): Promise<ConfigLayer> {
  const bytes = await readCapped(path, CONFIG_LIMITS.maxConfigFileBytes);
  return parseConfigText(bytes.toString('utf8'), path);
}

/**
 * The layer the environment sets: `CAIRN_NAME`, `CAIRN_DATA_DIR`, `CAIRN_BIND_HOST`,
 * `CAIRN_ADVERTISE_HOST`, `CAIRN_GOSSIP_PORT`, `CAIRN_HTTP_PORT`, `CAIRN_ETCD_PORT`,
 * `CAIRN_RESP_PORT`, `CAIRN_ROLES` and `CAIRN_SEEDS` (comma lists), `CAIRN_KEYRING_KEYS` (comma
 * list), `CAIRN_KEYRING_LABEL`, `CAIRN_LOG_LEVEL`, `CAIRN_SHUTDOWN_TIMEOUT_MS`,
 * `CAIRN_MEMBERSHIP_PRESET`, `CAIRN_MEMBERSHIP_PROBE_INTERVAL_MS`, `CAIRN_MEMBERSHIP_PROBE_TIMEOUT_MS`,
 * `CAIRN_MEMBERSHIP_SUSPICION_MULT`, `CAIRN_MEMBERSHIP_GOSSIP_INTERVAL_MS`,
 * `CAIRN_MEMBERSHIP_LEAVE_TIMEOUT_MS`, `CAIRN_TRANSPORT_FIRST_FRAME_TIMEOUT_MS`,
 * `CAIRN_TRANSPORT_FRAME_TIMEOUT_MS`, `CAIRN_TRANSPORT_IDLE_TIMEOUT_MS`, the `CAIRN_KV_*` settings
 * of the kv role, and every other field's `env` in `CONFIG_FIELDS`. Empty variables count as unset.
 *
 * @param env - the environment; default `process.env`
 */
export function envLayer(env: NodeJS.ProcessEnv = process.env): ConfigLayer {
  const layer = new Map<string, ConfigValue>();
  for (const spec of CONFIG_FIELDS) {
    if (spec.env === undefined) continue;
    const text = env[spec.env];
    if (text === undefined || text === '') continue;
    const source = `environment ${spec.env}`;
    layer.set(spec.path, { value: checkField(spec, spec.fromText(text), source), source });
  }
  return layer;
}

/**
 * The layer command-line flags set, from `parseArgs` values keyed by flag name (`http-port`).
 * List flags may be repeated and each value may be a comma list. Keys that are no config flag are
 * ignored, so the caller can pass every parsed flag.
 */
export function flagLayer(flags: Readonly<Record<string, unknown>>): ConfigLayer {
  const layer = new Map<string, ConfigValue>();
  for (const spec of CONFIG_FIELDS) {
    if (spec.flag === undefined) continue;
    const raw = flags[spec.flag];
    if (raw === undefined) continue;
    const source = `flag --${spec.flag}`;
    const texts = (Array.isArray(raw) ? raw : [raw]).map(String);
    const value =
      spec.list !== undefined
        ? texts.flatMap((t) => spec.fromText(t) as string[])
        : spec.fromText(texts.at(-1)!);
    layer.set(spec.path, { value: checkField(spec, value, source), source });
  }
  return layer;
}

/**
 * Lays `layers` over the defaults in order (later wins), checks the fields against each other and
 * returns the config, `dataDir` made absolute against `cwd`.
 *
 * @param layers - lowest precedence first: file, env, flags
 * @param cwd - base of a relative `dataDir`; default `process.cwd()`
 * @throws `AGENT_CONFIG_INVALID` for conflicts (two services on one port, a label without keys)
 */
export function buildAgentConfig(layers: readonly ConfigLayer[], cwd: string = process.cwd()): AgentConfig {
  const merged = new Map<string, ConfigValue>();
  for (const layer of layers) for (const [path, value] of layer) merged.set(path, value);
  const get = <T>(path: string, fallback: T): T => (merged.get(path)?.value as T | undefined) ?? fallback;
  const d = defaultAgentConfig();
  const config: AgentConfig = {
    dataDir: resolve(cwd, get('dataDir', d.dataDir)),
    bind: {
      host: get('bind.host', d.bind.host),
      gossipPort: get('bind.gossipPort', d.bind.gossipPort),
      httpPort: get('bind.httpPort', d.bind.httpPort),
      etcdPort: get('bind.etcdPort', d.bind.etcdPort),
      respPort: get('bind.respPort', d.bind.respPort),
    },
    roles: get('roles', d.roles),
    seeds: get('seeds', d.seeds),
    log: { level: get('log.level', d.log.level) },
    shutdownTimeoutMs: get('shutdownTimeoutMs', d.shutdownTimeoutMs),
    membership: {
      preset: get('membership.preset', d.membership.preset),
      leaveTimeoutMs: get('membership.leaveTimeoutMs', d.membership.leaveTimeoutMs),
    },
    transport: {},
    security: { tokenRootKeys: get('security.tokenRootKeys', d.security.tokenRootKeys) },
    store: {
      initialCluster: get('store.initialCluster', d.store.initialCluster),
      tickMs: get('store.tickMs', d.store.tickMs),
      electionTicks: get('store.electionTicks', d.store.electionTicks),
    },
    kv: {
      replicationFactor: get('kv.replicationFactor', d.kv.replicationFactor),
      tokens: get('kv.tokens', d.kv.tokens),
      readConsistency: get('kv.readConsistency', d.kv.readConsistency),
      writeConsistency: get('kv.writeConsistency', d.kv.writeConsistency),
      sync: get('kv.sync', d.kv.sync),
      seeds: get('kv.seeds', d.kv.seeds),
      ringDelayMs: get('kv.ringDelayMs', d.kv.ringDelayMs),
      antiEntropyIntervalMs: get('kv.antiEntropyIntervalMs', d.kv.antiEntropyIntervalMs),
      hintReplayIntervalMs: get('kv.hintReplayIntervalMs', d.kv.hintReplayIntervalMs),
    },
  };
  for (const key of [
    'firstFrameTimeoutMs',
    'frameTimeoutMs',
    'idleTimeoutMs',
    'maxInboundStreams',
    'maxStreamsPerHost',
    'unprovenMaxFrameBytes',
    'maxPartialFrameBytes',
  ] as const) {
    const value = merged.get(`transport.${key}`)?.value as number | undefined;
    if (value !== undefined) config.transport[key] = value;
  }
  for (const key of ['probeIntervalMs', 'probeTimeoutMs', 'suspicionMult', 'gossipIntervalMs'] as const) {
    const value = merged.get(`membership.${key}`)?.value as number | undefined;
    if (value !== undefined) config.membership[key] = value;
  }
  const name = merged.get('name')?.value as string | undefined;
  if (name !== undefined) config.name = name;
  const advertiseHost = merged.get('advertiseHost')?.value as string | undefined;
  if (advertiseHost !== undefined) config.advertiseHost = advertiseHost;
  const keys = get<string[]>('keyring.keys', []);
  const label = merged.get('keyring.label');
  if (keys.length > 0)
    config.keyring = label === undefined ? { keys } : { keys, label: label.value as string };
  else if (label !== undefined)
    throw configError(label.source, 'keyring.label is set but keyring.keys is empty', 'keyring.label');
  checkPortsDistinct(config, merged);
  checkMembership(config, merged);
  return config;
}

function checkMembership(config: AgentConfig, merged: ReadonlyMap<string, ConfigValue>): void {
  const from = (path: string) => merged.get(path)?.source ?? 'default';
  if (config.membership.leaveTimeoutMs >= config.shutdownTimeoutMs) {
    throw configError(
      'config',
      `membership.leaveTimeoutMs (${from('membership.leaveTimeoutMs')}) is ${config.membership.leaveTimeoutMs} ms but must be below shutdownTimeoutMs (${from('shutdownTimeoutMs')}, ${config.shutdownTimeoutMs} ms): the leave is part of the shutdown`,
      'membership.leaveTimeoutMs',
    );
  }
  try {
    membershipProtocol(config.membership);
  } catch (err) {
    if (!isCairnError(err, 'INVALID_CONFIG')) throw err;
    // The field at fault may be a preset value; the user's settings are what made it wrong.
    const set = [...merged].filter(([path]) => path.startsWith('membership.'));
    const by = set.map(([path, v]) => `${path} from ${v.source}`).join(', ');
    throw configError(
      'config',
      `membership settings (${by}) do not fit the "${config.membership.preset}" preset: ${err.message}`,
      'membership',
    );
  }
}

/** No two services that run share a non-zero port (ports of services that do not run yet are free to clash). */
function checkPortsDistinct(config: AgentConfig, merged: ReadonlyMap<string, ConfigValue>): void {
  const seen = new Map<number, string>();
  for (const key of servedServices(config.roles).map((service) => SERVICE_PORT_FIELDS[service])) {
    const port = config.bind[key];
    if (port === 0) continue;
    const other = seen.get(port);
    if (other !== undefined) {
      const from = (k: string) => merged.get(`bind.${k}`)?.source ?? 'default';
      throw configError(
        'config',
        `bind.${other} (${from(other)}) and bind.${key} (${from(key)}) are both ${port}; every service needs its own port`,
        `bind.${key}`,
      );
    }
    seen.set(port, key);
  }
}

/** Inputs of {@link loadAgentConfig}. */
export interface LoadConfigOptions {
  /** Path of a YAML config file; default none. */
  configFile?: string;
  /** The environment; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Parsed flags keyed by flag name; default none. */
  flags?: Readonly<Record<string, unknown>>;
  /** Base of a relative data dir; default `process.cwd()`. */
  cwd?: string;
}

/**
 * Loads the agent config from all sources: defaults < file < environment < flags.
 *
 * @example
 * ```ts
 * const config = await loadAgentConfig({ configFile: 'cairn.yaml', flags: { 'http-port': '8080' } });
 * ```
 * @throws `AGENT_CONFIG_INVALID` naming the source and the field
 */
export async function loadAgentConfig(options: LoadConfigOptions = {}): Promise<AgentConfig> {
  const layers: ConfigLayer[] = [];
  if (options.configFile !== undefined) layers.push(await readConfigFile(options.configFile));
  layers.push(envLayer(options.env ?? process.env));
  if (options.flags !== undefined) layers.push(flagLayer(options.flags));
  return buildAgentConfig(layers, options.cwd);
}
