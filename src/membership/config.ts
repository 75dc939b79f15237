import { CairnError } from '../core/index.js';
import { DEFAULT_PHI_ACCRUAL_CONFIG, type PhiAccrualConfig } from './detector/index.js';
import { DEFAULT_STATE_CONFIG, type StateConfig } from './state/index.js';
import {
  lanSwimConfig,
  localSwimConfig,
  type SwimConfig,
  testSwimConfig,
  validateSwimConfig,
  wanSwimConfig,
} from './swim/index.js';

/**
 * Protocol settings of a membership node: every knob that must be alike across a cluster, grouped
 * by the part that reads it. Start from a preset and override fields:
 *
 * @example
 * ```ts
 * const protocol = lanConfig({ swim: { probeIntervalMs: 500 }, detector: 'phi' });
 * ```
 */
export interface MembershipProtocolConfig {
  /** SWIM + Lifeguard parameters (probe, suspicion, gossip, retransmit, reap); see `SwimConfig`. */
  readonly swim: SwimConfig;
  /** Scuttlebutt parameters (value sizes, tombstone grace); see `StateConfig`. */
  readonly state: Partial<StateConfig>;
  /**
   * Which failure detector declares nodes suspect: `swim` (probes, the default) or `phi`
   * (phi accrual over Scuttlebutt heartbeats, Cassandra style; probing is off). Suspicion, refutation
   * and death work the same way in both.
   */
  readonly detector: 'swim' | 'phi';
  /** Phi-accrual parameters when `detector` is `phi`. */
  readonly phi: PhiAccrualConfig;
  /**
   * Anti-entropy interval, ms: every interval the node sends a Scuttlebutt `Syn` to one random
   * live member. Updates travel eagerly through SWIM's piggyback; this repairs what gossip missed.
   * Shorter repairs faster and costs one small packet exchange per interval.
   */
  readonly antiEntropyIntervalMs: number;
  /**
   * Whether the node bumps a signed Scuttlebutt heartbeat every `heartbeatIntervalMs`. Default: on
   * with the phi detector (its only input), off with SWIM, whose probes carry liveness (memberlist
   * has no heartbeats either). Each heartbeat is a signed record that every member would fetch and
   * keep: with SWIM it would cost a record per member pair and most anti-entropy bytes, for nothing
   * SWIM reads. A node without heartbeats still gossips its key/value state.
   */
  readonly heartbeats: boolean;
  /** Heartbeat interval, ms: how often the node bumps its signed heartbeat (the phi detector's input). */
  readonly heartbeatIntervalMs: number;
  /**
   * Full state sync over a stream with one random member, ms (memberlist's PushPullInterval). A
   * backstop for partitions: it exchanges every alive record and a large Scuttlebutt digest.
   */
  readonly pushPullIntervalMs: number;
  /** How long a push-pull or join sync may take before it is abandoned, ms. */
  readonly syncTimeoutMs: number;
  /**
   * After a push-pull (a join, say) that taught this node members it did not know, it syncs
   * again with the same peer this many ms later, and again while that brings news: the peer knew
   * more than this node, and in a mass join it keeps hearing from the other joiners. Shorter
   * completes a join sooner at more syncs when joins keep arriving; longer leaves it to gossip.
   * LAN 500, WAN 1000, local 250, test 50 (half an anti-entropy interval).
   */
  readonly catchUpDelayMs: number;
  /**
   * When the node knows no live peer, it asks its seeds and discovery providers again every this
   * many ms (re-seed; partitions heal by themselves).
   */
  readonly reseedIntervalMs: number;
  /**
   * Every this many ms, a push-pull with the address of one member declared dead, so that two
   * sides of a partition that declared each other dead merge once it heals (Serf's
   * ReconnectInterval). Each node tries with probability `dead / up`, so the cluster tries each
   * dead member about once per interval. Shorter heals sooner at more dials to truly dead nodes.
   * Equal to `pushPullIntervalMs` in every preset (LAN 30 s, Serf's value).
   */
  readonly reconnectIntervalMs: number;
  /**
   * How long after a death a member keeps being tried, ms, also after SWIM reaped it (Serf's
   * ReconnectTimeout). Longer heals longer partitions at dials to nodes that are gone for good.
   * 24 h in every preset (Serf's value).
   */
  readonly reconnectTimeoutMs: number;
}

/** A day in ms: Serf's ReconnectTimeout. */
const DAY_MS = 24 * 3600 * 1000;

/** Overrides of a preset: nested parts are merged field by field. */
export interface MembershipProtocolOverrides
  extends Partial<Omit<MembershipProtocolConfig, 'swim' | 'state' | 'phi'>> {
  readonly swim?: Partial<SwimConfig>;
  readonly state?: Partial<StateConfig>;
  readonly phi?: Partial<PhiAccrualConfig>;
}

function build(
  swim: SwimConfig,
  base: Omit<MembershipProtocolConfig, 'swim' | 'state' | 'phi' | 'detector' | 'heartbeats'>,
  overrides: MembershipProtocolOverrides,
): MembershipProtocolConfig {
  const config: MembershipProtocolConfig = {
    ...base,
    detector: 'swim',
    heartbeats: (overrides.detector ?? 'swim') === 'phi',
    ...stripParts(overrides),
    swim: Object.freeze({ ...swim, ...overrides.swim }),
    state: Object.freeze({ ...overrides.state }),
    phi: Object.freeze({ ...DEFAULT_PHI_ACCRUAL_CONFIG, ...overrides.phi }),
  };
  return Object.freeze(validateProtocolConfig(config));
}

function stripParts(o: MembershipProtocolOverrides): Partial<MembershipProtocolConfig> {
  const { swim: _s, state: _t, phi: _p, ...rest } = o;
  return rest;
}

/**
 * LAN preset: memberlist's `DefaultLANConfig` timings (probe 1 s, probe timeout 500 ms, gossip
 * 200 ms to 3 nodes, push-pull 30 s) with Cairn's suspicion rule (`LAN_SUSPICION`: half the
 * minimum timeout, three confirmations to reach it).
 */
export function lanConfig(overrides: MembershipProtocolOverrides = {}): MembershipProtocolConfig {
  return build(
    lanSwimConfig(),
    {
      antiEntropyIntervalMs: 1_000,
      catchUpDelayMs: 500,
      heartbeatIntervalMs: 1_000,
      pushPullIntervalMs: 30_000,
      syncTimeoutMs: 10_000,
      reseedIntervalMs: 10_000,
      reconnectIntervalMs: 30_000,
      reconnectTimeoutMs: DAY_MS,
    },
    overrides,
  );
}

/** WAN preset: memberlist's `DefaultWANConfig` (probe 5 s, timeout 3 s, push-pull 60 s). */
export function wanConfig(overrides: MembershipProtocolOverrides = {}): MembershipProtocolConfig {
  return build(
    wanSwimConfig(),
    {
      antiEntropyIntervalMs: 2_000,
      catchUpDelayMs: 1_000,
      heartbeatIntervalMs: 2_000,
      pushPullIntervalMs: 60_000,
      syncTimeoutMs: 30_000,
      reseedIntervalMs: 30_000,
      reconnectIntervalMs: 60_000,
      reconnectTimeoutMs: DAY_MS,
    },
    overrides,
  );
}

/** Local (loopback) preset: memberlist's `DefaultLocalConfig` (probe timeout 200 ms, push-pull 15 s). */
export function localConfig(overrides: MembershipProtocolOverrides = {}): MembershipProtocolConfig {
  return build(
    localSwimConfig(),
    {
      antiEntropyIntervalMs: 500,
      catchUpDelayMs: 250,
      heartbeatIntervalMs: 500,
      pushPullIntervalMs: 15_000,
      syncTimeoutMs: 1_000,
      reseedIntervalMs: 5_000,
      reconnectIntervalMs: 15_000,
      reconnectTimeoutMs: DAY_MS,
    },
    overrides,
  );
}

/** Test preset: everything fast, for simulations and system tests (probe 200 ms, gossip 20 ms). */
export function testConfig(overrides: MembershipProtocolOverrides = {}): MembershipProtocolConfig {
  return build(
    testSwimConfig(),
    {
      antiEntropyIntervalMs: 100,
      catchUpDelayMs: 50,
      heartbeatIntervalMs: 100,
      pushPullIntervalMs: 2_000,
      syncTimeoutMs: 500,
      reseedIntervalMs: 500,
      reconnectIntervalMs: 2_000,
      reconnectTimeoutMs: DAY_MS,
    },
    overrides,
  );
}

function positiveInt(field: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new CairnError(
      'INVALID_CONFIG',
      `MembershipProtocolConfig.${field} must be a positive integer (ms), got ${String(value)}`,
      { details: { field } },
    );
  }
}

/** Validates a protocol config; the error names the bad field. */
export function validateProtocolConfig(config: MembershipProtocolConfig): MembershipProtocolConfig {
  validateSwimConfig(config.swim);
  if (config.detector !== 'swim' && config.detector !== 'phi') {
    throw new CairnError(
      'INVALID_CONFIG',
      `MembershipProtocolConfig.detector must be "swim" or "phi", got ${String(config.detector)}`,
    );
  }
  if (typeof config.heartbeats !== 'boolean') {
    throw new CairnError(
      'INVALID_CONFIG',
      `MembershipProtocolConfig.heartbeats must be a boolean, got ${String(config.heartbeats)}`,
    );
  }
  if (config.detector === 'phi' && !config.heartbeats) {
    throw new CairnError(
      'INVALID_CONFIG',
      'MembershipProtocolConfig.heartbeats must be on with the phi detector (heartbeats are its input)',
    );
  }
  for (const field of [
    'antiEntropyIntervalMs',
    'heartbeatIntervalMs',
    'pushPullIntervalMs',
    'syncTimeoutMs',
    'catchUpDelayMs',
    'reseedIntervalMs',
    'reconnectIntervalMs',
    'reconnectTimeoutMs',
  ] as const) {
    positiveInt(field, config[field]);
  }
  for (const key of Object.keys(config.state)) {
    if (!(key in DEFAULT_STATE_CONFIG)) {
      throw new CairnError('INVALID_CONFIG', `MembershipProtocolConfig.state has an unknown field "${key}"`);
    }
  }
  return config;
}
