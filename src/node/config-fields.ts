import { fail, type Validator, v } from '../core/index.js';
import { NODE_NAME_EXPECTED, NODE_NAME_MAX_LENGTH, NODE_NAME_PATTERN } from '../membership/node-name.js';
import { parseKey } from '../security/key-set.js';
import { DEFAULT_LIMITS as TRANSPORT_LIMITS } from '../transport/limits.js';
import { isHost, parseHostPort } from './ports.js';

/**
 * The table of agent configuration fields.
 *
 * One row per leaf field drives all three outside sources: the YAML file (by `path`), the
 * environment (by `env`) and the command line (by `flag`). A row says what the value must be in
 * words (`expected`, quoted in errors), how to check a value (`check`, built from core's `v`
 * validators) and how to read the value from text (`fromText`, for env and flags).
 */

/** The roles an agent can run; each is a plug point that later bricks fill. Start order is this order. */
export const ROLE_NAMES = ['membership', 'store', 'kv', 'config', 'agent'] as const;

/** One of {@link ROLE_NAMES}. */
export type RoleName = (typeof ROLE_NAMES)[number];

/** The services an agent can listen for, each with the `bind` field of its port. */
export const SERVICE_PORT_FIELDS = Object.freeze({
  http: 'httpPort',
  gossip: 'gossipPort',
  etcd: 'etcdPort',
  resp: 'respPort',
} as const);

/** One of the keys of {@link SERVICE_PORT_FIELDS}. */
export type ServiceName = keyof typeof SERVICE_PORT_FIELDS;

/**
 * The services each role listens for once its brick exists. Only what really runs is listed: a
 * role without a brick binds no port, so its port is neither checked, bound nor printed, and no
 * output advertises an address that nothing serves.
 */
export const ROLE_SERVICES: Readonly<Record<RoleName, readonly ServiceName[]>> = Object.freeze({
  membership: ['gossip'],
  store: ['etcd'],
  kv: ['resp'],
  config: [],
  agent: [],
});

/**
 * The services a node running `roles` listens for: HTTP always, then each role's, in
 * {@link SERVICE_PORT_FIELDS} order.
 *
 * @example
 * ```ts
 * servedServices(['membership', 'kv']); // ['http', 'gossip', 'resp']
 * ```
 */
export function servedServices(roles: readonly RoleName[]): ServiceName[] {
  const served = new Set<ServiceName>(['http', ...roles.flatMap((role) => ROLE_SERVICES[role])]);
  return (Object.keys(SERVICE_PORT_FIELDS) as ServiceName[]).filter((service) => served.has(service));
}

/** Log levels, as pino names them. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Limits on the agent configuration. */
export const CONFIG_LIMITS = Object.freeze({
  /** Largest config file read: a config is a page of YAML, anything bigger is a mistake. */
  maxConfigFileBytes: 1024 * 1024,
  /** Most alias uses when a YAML file is expanded: a few anchors are handy, a nested fan-out is a bomb. */
  maxYamlAliasCount: 100,
  /** Most seed addresses: seeds only bootstrap membership, a handful is plenty. */
  maxSeeds: 256,
  /** Most voters named in `store.initialCluster`: raft clusters of more than 7 voters only get slower. */
  maxStoreVoters: 7,
  /** Most keyring keys: one primary plus decrypt-only keys during rotations. */
  maxKeyringKeys: 16,
  /** Longest node name: names appear in logs, metrics labels and membership state (membership's rule). */
  maxNameLength: NODE_NAME_MAX_LENGTH,
  /** Longest path accepted for the data directory (Linux PATH_MAX). */
  maxPathLength: 4096,
  /** Longest keyring label (additional authenticated data on every packet). */
  maxLabelLength: 256,
  /** Longest shutdown timeout: ten minutes; a stuck shutdown must end. */
  maxShutdownTimeoutMs: 600_000,
  /** Longest membership probe or gossip interval: ten minutes; slower detects nothing in time. */
  maxMembershipIntervalMs: 600_000,
  /** Largest membership suspicion multiplier: memberlist uses 4-6; 100 is already days on a WAN. */
  maxSuspicionMult: 100,
  /** Longest graceful leave: one minute; a leave only waits for a few gossip rounds. */
  maxLeaveTimeoutMs: 60_000,
  /** Longest stream deadline of the gossip transport: one hour; past that a deadline bounds nothing. */
  maxTransportTimeoutMs: 3_600_000,
  /** Largest budget for frames still arriving: 1 GiB; a node that may hold more has no bound. */
  maxPartialFrameBytes: 1024 * 1024 * 1024,
});

/** Consistency levels of the partitioned store (`kv.readConsistency`, `kv.writeConsistency`). */
export const KV_CONSISTENCY_LEVELS = ['ONE', 'QUORUM', 'ALL'] as const;

/** Limits of the partitioned store's settings (the kv brick's own bounds). */
export const KV_CONFIG_LIMITS = Object.freeze({
  /** Largest replication factor: the kv cluster refuses more (its `maxRf`). */
  maxReplicationFactor: 15,
  /** Most tokens per node: a node's ring advert must fit membership's state limits (`maxTokensPerNode`). */
  maxTokens: 256,
  /** Most kv seed names: seeds are a new cluster's first nodes, a handful. */
  maxSeeds: 256,
  /** Longest ring delay: ten minutes; a join that waits longer helps nobody. */
  maxRingDelayMs: 600_000,
  /** Longest anti-entropy period: one day, far inside the 10-day grace period repair must beat. */
  maxAntiEntropyIntervalMs: 86_400_000,
  /** Longest hint replay period: one hour; membership changes replay hints sooner anyway. */
  maxHintReplayIntervalMs: 3_600_000,
});

/** Membership protocol presets an agent can run (`membership.preset`). */
export const MEMBERSHIP_PRESETS = ['lan', 'wan', 'local', 'test'] as const;

/** One of {@link MEMBERSHIP_PRESETS}. */
export type MembershipPreset = (typeof MEMBERSHIP_PRESETS)[number];

/** Per-item rules of a list field. */
export interface ListSpec {
  /** Most items. */
  maxLength: number;
  /** Items must be distinct. */
  unique: boolean;
  /** What one item must be, in words. */
  itemExpected: string;
  /** Checks one item; throws through `fail` (core validate) when it is bad. */
  item: Validator<unknown>;
}

/** One leaf field of the agent configuration. */
export interface FieldSpec {
  /** Dotted path in the config object and the YAML file, e.g. `bind.httpPort`. */
  path: string;
  /** Environment variable, e.g. `CAIRN_HTTP_PORT`; absent when the field has none. */
  env?: string;
  /** Command-line flag without dashes, e.g. `http-port`; absent when the field has none. */
  flag?: string;
  /** What the value must be, in words: `${path} must be ${expected}`. */
  expected: string;
  /** Checks a non-list value. */
  check?: Validator<unknown>;
  /** Present for list fields: text is a comma-separated list, items are checked one by one. */
  list?: ListSpec;
  /** Reads the value from env or flag text; the result is then checked like a file value. */
  fromText: (text: string) => unknown;
}

const asText = (text: string): unknown => text;
const asInt = (text: string): unknown => (/^-?\d+$/.test(text.trim()) ? Number(text.trim()) : text);
const asBoolean = (text: string): unknown => {
  const t = text.trim().toLowerCase();
  return t === 'true' || t === '1' || t === 'yes'
    ? true
    : t === 'false' || t === '0' || t === 'no'
      ? false
      : text;
};
const asList = (text: string): unknown =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

function custom(test: (value: unknown) => boolean, expected: string): Validator<unknown> {
  return (value, path = '$') => {
    if (!test(value)) fail(path, expected, value);
    return value;
  };
}

const port = v.int({ min: 0, max: 65535 });
const PORT_EXPECTED = 'an integer 0-65535 (0 picks a free port)';
const host = custom((x) => typeof x === 'string' && isHost(x), 'host');

/** Accepts exactly what the keyring accepts (security's `parseKey`). */
function isKey(x: unknown): boolean {
  if (typeof x !== 'string') return false;
  try {
    parseKey(x);
    return true;
  } catch {
    return false;
  }
}

function msField(path: string, env: string, flag: string, max: number): FieldSpec {
  return intField(path, env, flag, { min: 1, max, unit: 'milliseconds' });
}

function intField(
  path: string,
  env: string,
  flag: string,
  range: { min: number; max: number; unit: string },
): FieldSpec {
  const { min, max, unit } = range;
  return {
    path,
    env,
    flag,
    expected: `an integer ${min}-${max} (${unit})`,
    check: v.int({ min, max }),
    fromText: asInt,
  };
}

function portField(path: string, env: string, flag: string): FieldSpec {
  return { path, env, flag, expected: PORT_EXPECTED, check: port, fromText: asInt };
}

/** Every leaf field of the agent configuration, in documentation order. */
export const CONFIG_FIELDS: readonly FieldSpec[] = [
  {
    path: 'name',
    env: 'CAIRN_NAME',
    flag: 'name',
    expected: NODE_NAME_EXPECTED,
    check: v.string({ maxLength: CONFIG_LIMITS.maxNameLength, pattern: NODE_NAME_PATTERN }),
    fromText: asText,
  },
  {
    path: 'dataDir',
    env: 'CAIRN_DATA_DIR',
    flag: 'data-dir',
    expected: `a directory path of 1-${CONFIG_LIMITS.maxPathLength} characters`,
    check: v.string({ minLength: 1, maxLength: CONFIG_LIMITS.maxPathLength }),
    fromText: asText,
  },
  {
    path: 'bind.host',
    env: 'CAIRN_BIND_HOST',
    flag: 'bind-host',
    expected: 'an IP address or host name',
    check: host,
    fromText: asText,
  },
  portField('bind.gossipPort', 'CAIRN_GOSSIP_PORT', 'gossip-port'),
  portField('bind.httpPort', 'CAIRN_HTTP_PORT', 'http-port'),
  portField('bind.etcdPort', 'CAIRN_ETCD_PORT', 'etcd-port'),
  portField('bind.respPort', 'CAIRN_RESP_PORT', 'resp-port'),
  {
    path: 'advertiseHost',
    env: 'CAIRN_ADVERTISE_HOST',
    flag: 'advertise-host',
    expected: 'an IP address or host name',
    check: host,
    fromText: asText,
  },
  {
    path: 'roles',
    env: 'CAIRN_ROLES',
    flag: 'roles',
    expected: `a list of distinct roles from ${ROLE_NAMES.join(', ')}`,
    list: {
      maxLength: ROLE_NAMES.length,
      unique: true,
      itemExpected: `one of ${ROLE_NAMES.join(', ')}`,
      item: v.oneOf(ROLE_NAMES),
    },
    fromText: asList,
  },
  {
    path: 'seeds',
    env: 'CAIRN_SEEDS',
    flag: 'seeds',
    expected: `a list of at most ${CONFIG_LIMITS.maxSeeds} host:port addresses`,
    list: {
      maxLength: CONFIG_LIMITS.maxSeeds,
      unique: true,
      itemExpected: 'host:port with a port 1-65535 ([v6]:port for IPv6)',
      item: custom((x) => typeof x === 'string' && parseHostPort(x) !== undefined, 'host:port'),
    },
    fromText: asList,
  },
  {
    path: 'keyring.keys',
    env: 'CAIRN_KEYRING_KEYS',
    expected: `a list of at most ${CONFIG_LIMITS.maxKeyringKeys} base64 keys, the first one primary`,
    list: {
      maxLength: CONFIG_LIMITS.maxKeyringKeys,
      unique: true,
      itemExpected: 'a 32-byte key in base64 (44 characters ending in "=") or base64url (43 characters)',
      item: custom(isKey, 'key'),
    },
    fromText: asList,
  },
  {
    path: 'keyring.label',
    env: 'CAIRN_KEYRING_LABEL',
    flag: 'keyring-label',
    expected: `a cluster label of at most ${CONFIG_LIMITS.maxLabelLength} characters`,
    check: v.string({ maxLength: CONFIG_LIMITS.maxLabelLength }),
    fromText: asText,
  },
  {
    path: 'security.tokenRootKeys',
    env: 'CAIRN_TOKEN_ROOT_KEYS',
    expected: `a list of at most ${CONFIG_LIMITS.maxKeyringKeys} base64 keys, the first one minting`,
    list: {
      maxLength: CONFIG_LIMITS.maxKeyringKeys,
      unique: true,
      itemExpected: 'a 32-byte key in base64 (44 characters ending in "=") or base64url (43 characters)',
      item: custom(isKey, 'key'),
    },
    fromText: asList,
  },
  {
    path: 'store.initialCluster',
    env: 'CAIRN_STORE_INITIAL_CLUSTER',
    flag: 'store-initial-cluster',
    expected: `a list of at most ${CONFIG_LIMITS.maxStoreVoters} node names`,
    list: {
      maxLength: CONFIG_LIMITS.maxStoreVoters,
      unique: true,
      itemExpected: NODE_NAME_EXPECTED,
      item: v.string({ maxLength: CONFIG_LIMITS.maxNameLength, pattern: NODE_NAME_PATTERN }),
    },
    fromText: asList,
  },
  msField('store.tickMs', 'CAIRN_STORE_TICK_MS', 'store-tick-ms', 10_000),
  intField('store.electionTicks', 'CAIRN_STORE_ELECTION_TICKS', 'store-election-ticks', {
    min: 2,
    max: 1_000,
    unit: 'ticks',
  }),
  intField('kv.replicationFactor', 'CAIRN_KV_REPLICATION_FACTOR', 'kv-replication-factor', {
    min: 1,
    max: KV_CONFIG_LIMITS.maxReplicationFactor,
    unit: 'copies of every key',
  }),
  intField('kv.tokens', 'CAIRN_KV_TOKENS', 'kv-tokens', {
    min: 1,
    max: KV_CONFIG_LIMITS.maxTokens,
    unit: 'virtual nodes',
  }),
  {
    path: 'kv.readConsistency',
    env: 'CAIRN_KV_READ_CONSISTENCY',
    flag: 'kv-read-consistency',
    expected: `one of ${KV_CONSISTENCY_LEVELS.join(', ')}`,
    check: v.oneOf(KV_CONSISTENCY_LEVELS),
    fromText: (text) => text.trim().toUpperCase(),
  },
  {
    path: 'kv.writeConsistency',
    env: 'CAIRN_KV_WRITE_CONSISTENCY',
    flag: 'kv-write-consistency',
    expected: `one of ${KV_CONSISTENCY_LEVELS.join(', ')}`,
    check: v.oneOf(KV_CONSISTENCY_LEVELS),
    fromText: (text) => text.trim().toUpperCase(),
  },
  {
    path: 'kv.sync',
    env: 'CAIRN_KV_SYNC',
    flag: 'kv-sync',
    expected: 'true or false',
    check: custom((x) => typeof x === 'boolean', 'boolean'),
    fromText: asBoolean,
  },
  {
    path: 'kv.seeds',
    env: 'CAIRN_KV_SEEDS',
    flag: 'kv-seeds',
    expected: `a list of at most ${KV_CONFIG_LIMITS.maxSeeds} node names`,
    list: {
      maxLength: KV_CONFIG_LIMITS.maxSeeds,
      unique: true,
      itemExpected: NODE_NAME_EXPECTED,
      item: v.string({ maxLength: CONFIG_LIMITS.maxNameLength, pattern: NODE_NAME_PATTERN }),
    },
    fromText: asList,
  },
  intField('kv.ringDelayMs', 'CAIRN_KV_RING_DELAY_MS', 'kv-ring-delay-ms', {
    min: 0,
    max: KV_CONFIG_LIMITS.maxRingDelayMs,
    unit: 'milliseconds',
  }),
  intField('kv.antiEntropyIntervalMs', 'CAIRN_KV_ANTI_ENTROPY_INTERVAL_MS', 'kv-anti-entropy-interval-ms', {
    min: 0,
    max: KV_CONFIG_LIMITS.maxAntiEntropyIntervalMs,
    unit: 'milliseconds, 0 turns it off',
  }),
  msField(
    'kv.hintReplayIntervalMs',
    'CAIRN_KV_HINT_REPLAY_INTERVAL_MS',
    'kv-hint-replay-interval-ms',
    KV_CONFIG_LIMITS.maxHintReplayIntervalMs,
  ),
  {
    path: 'log.level',
    env: 'CAIRN_LOG_LEVEL',
    flag: 'log-level',
    expected: `one of ${LOG_LEVELS.join(', ')}`,
    check: v.oneOf(LOG_LEVELS),
    fromText: asText,
  },
  {
    path: 'shutdownTimeoutMs',
    env: 'CAIRN_SHUTDOWN_TIMEOUT_MS',
    flag: 'shutdown-timeout-ms',
    expected: `an integer 1-${CONFIG_LIMITS.maxShutdownTimeoutMs} (milliseconds)`,
    check: v.int({ min: 1, max: CONFIG_LIMITS.maxShutdownTimeoutMs }),
    fromText: asInt,
  },
  {
    path: 'membership.preset',
    env: 'CAIRN_MEMBERSHIP_PRESET',
    flag: 'membership-preset',
    expected: `one of ${MEMBERSHIP_PRESETS.join(', ')}`,
    check: v.oneOf(MEMBERSHIP_PRESETS),
    fromText: asText,
  },
  msField(
    'membership.probeIntervalMs',
    'CAIRN_MEMBERSHIP_PROBE_INTERVAL_MS',
    'membership-probe-interval-ms',
    CONFIG_LIMITS.maxMembershipIntervalMs,
  ),
  msField(
    'membership.probeTimeoutMs',
    'CAIRN_MEMBERSHIP_PROBE_TIMEOUT_MS',
    'membership-probe-timeout-ms',
    CONFIG_LIMITS.maxMembershipIntervalMs,
  ),
  {
    path: 'membership.suspicionMult',
    env: 'CAIRN_MEMBERSHIP_SUSPICION_MULT',
    flag: 'membership-suspicion-mult',
    expected: `an integer 1-${CONFIG_LIMITS.maxSuspicionMult}`,
    check: v.int({ min: 1, max: CONFIG_LIMITS.maxSuspicionMult }),
    fromText: asInt,
  },
  msField(
    'membership.gossipIntervalMs',
    'CAIRN_MEMBERSHIP_GOSSIP_INTERVAL_MS',
    'membership-gossip-interval-ms',
    CONFIG_LIMITS.maxMembershipIntervalMs,
  ),
  msField(
    'membership.leaveTimeoutMs',
    'CAIRN_MEMBERSHIP_LEAVE_TIMEOUT_MS',
    'membership-leave-timeout-ms',
    CONFIG_LIMITS.maxLeaveTimeoutMs,
  ),
  msField(
    'transport.firstFrameTimeoutMs',
    'CAIRN_TRANSPORT_FIRST_FRAME_TIMEOUT_MS',
    'transport-first-frame-timeout-ms',
    CONFIG_LIMITS.maxTransportTimeoutMs,
  ),
  msField(
    'transport.frameTimeoutMs',
    'CAIRN_TRANSPORT_FRAME_TIMEOUT_MS',
    'transport-frame-timeout-ms',
    CONFIG_LIMITS.maxTransportTimeoutMs,
  ),
  msField(
    'transport.idleTimeoutMs',
    'CAIRN_TRANSPORT_IDLE_TIMEOUT_MS',
    'transport-idle-timeout-ms',
    CONFIG_LIMITS.maxTransportTimeoutMs,
  ),
  intField(
    'transport.maxInboundStreams',
    'CAIRN_TRANSPORT_MAX_INBOUND_STREAMS',
    'transport-max-inbound-streams',
    {
      min: 1,
      max: TRANSPORT_LIMITS.maxStreams,
      unit: 'connections',
    },
  ),
  intField(
    'transport.maxStreamsPerHost',
    'CAIRN_TRANSPORT_MAX_STREAMS_PER_HOST',
    'transport-max-streams-per-host',
    {
      min: 1,
      max: TRANSPORT_LIMITS.maxStreams,
      unit: 'connections from one IP',
    },
  ),
  intField(
    'transport.unprovenMaxFrameBytes',
    'CAIRN_TRANSPORT_UNPROVEN_MAX_FRAME_BYTES',
    'transport-unproven-max-frame-bytes',
    { min: 1024, max: TRANSPORT_LIMITS.maxFrameBytes, unit: 'bytes' },
  ),
  intField(
    'transport.maxPartialFrameBytes',
    'CAIRN_TRANSPORT_MAX_PARTIAL_FRAME_BYTES',
    'transport-max-partial-frame-bytes',
    { min: 64 * 1024, max: CONFIG_LIMITS.maxPartialFrameBytes, unit: 'bytes' },
  ),
];

/** The fields by path. */
export const FIELDS_BY_PATH: ReadonlyMap<string, FieldSpec> = new Map(CONFIG_FIELDS.map((f) => [f.path, f]));

/** The nested sections of the config (`bind`, `keyring`, `log`, `membership`, `transport`) and their keys. */
export const SECTIONS: ReadonlyMap<string, readonly string[]> = (() => {
  const sections = new Map<string, string[]>();
  for (const f of CONFIG_FIELDS) {
    const dot = f.path.indexOf('.');
    if (dot < 0) continue;
    const section = f.path.slice(0, dot);
    const keys = sections.get(section) ?? [];
    keys.push(f.path.slice(dot + 1));
    sections.set(section, keys);
  }
  return sections;
})();

/** Top-level keys of the config file. */
export const TOP_LEVEL_KEYS: readonly string[] = [
  ...new Set(
    CONFIG_FIELDS.map((f) => (f.path.includes('.') ? f.path.slice(0, f.path.indexOf('.')) : f.path)),
  ),
];
