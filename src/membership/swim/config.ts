import { CairnError } from '../../core/index.js';
import { DEFAULT_LIMITS, type SwimLimits } from './limits.js';

/**
 * Parameters of the SWIM + Lifeguard core. Values follow hashicorp/memberlist `config.go`
 * (`DefaultLANConfig`, `DefaultWANConfig`, `DefaultLocalConfig`), whose names these are in
 * camelCase with the unit last.
 *
 * Contract: a config is validated by {@link validateSwimConfig} when a core is built; a bad field
 * is rejected with `INVALID_CONFIG` naming the field. Nodes with different configs interoperate on
 * the wire, but detection times and false-positive rates are only as analysed when every node
 * runs the same one.
 */
export interface SwimConfig {
  /**
   * Time between two probes of one member each, in ms (scaled by the local health multiplier).
   * Shorter detects failures sooner at more traffic (one ping and ack per interval per node).
   * LAN 1000, WAN 5000, local 1000.
   */
  readonly probeIntervalMs: number;
  /**
   * How long a direct ping waits for its ack before indirect probes start, in ms (scaled by the
   * local health multiplier). Should be above the 99th-percentile round trip; too short causes
   * needless indirect probes, too long leaves less of the interval for them. Must be below
   * `probeIntervalMs`. LAN 500, WAN 3000, local 200.
   */
  readonly probeTimeoutMs: number;
  /**
   * Members asked to ping a target that missed its direct ack (PingReq). More makes a false
   * suspicion from one lossy path less likely at more traffic per failed probe. LAN 3, local 1.
   */
  readonly indirectChecks: number;
  /**
   * Multiplier of the minimum suspicion timeout `suspicionMult * max(1, log10(n)) * probeIntervalMs`,
   * the timeout of a suspicion confirmed by `suspicionConfirmations` members. Higher gives a
   * suspect more time to refute (fewer false deaths) and detects later. Cairn LAN 2 (memberlist
   * 4), WAN 6, local 3.
   */
  readonly suspicionMult: number;
  /**
   * The maximum suspicion timeout as a multiple of the minimum: the timeout a suspicion starts
   * with before confirmations arrive. Higher protects a slow-but-alive node longer when only one
   * member suspects it. Cairn LAN 12 (with half memberlist's minimum, the same maximum as
   * memberlist's 6), others 6.
   */
  readonly suspicionMaxTimeoutMult: number;
  /**
   * Lifeguard's `k`: independent confirmations (members other than the first accuser whose own
   * probes failed) that bring a suspicion's timeout down from the maximum to the minimum, on a
   * logarithmic curve; capped at `n - 2`, the members able to confirm. More lets a lower minimum
   * stay safe: one lossy path or one struggling prober cannot reach it. Memberlist derives it as
   * `suspicionMult - 2`; Cairn LAN 3 (memberlist 2), WAN 4, local 1.
   */
  readonly suspicionConfirmations: number;
  /**
   * A broadcast is piggybacked `retransmitMult * ceil(log10(n + 1))` times before it leaves the
   * queue. Higher reaches every member with higher probability at more bytes. LAN 4, local 2.
   */
  readonly retransmitMult: number;
  /**
   * Time between two gossip rounds, in ms: each round sends a packet of pending broadcasts to
   * `gossipNodes` random members. Shorter spreads updates faster at more packets.
   * LAN 200, WAN 500, local 100.
   */
  readonly gossipIntervalMs: number;
  /** Members each gossip round sends to. More spreads faster at more packets. LAN 3, WAN 4. */
  readonly gossipNodes: number;
  /**
   * How long a dead member keeps receiving gossip after it was declared dead, in ms, so that a
   * member cut off by a partition learns of its own death and refutes when the partition heals.
   * Longer heals more partitions by gossip alone at some wasted packets. LAN 30000, WAN 60000,
   * local 15000.
   */
  readonly gossipToTheDeadMs: number;
  /**
   * The local health multiplier ranges over 0..awarenessMaxMultiplier-1; probe interval and
   * timeout are multiplied by `awareness + 1`. Higher lets a struggling node slow down further
   * before it accuses others. Default 8 (memberlist: probes back off to 8 s on a LAN).
   */
  readonly awarenessMaxMultiplier: number;
  /**
   * How long a dead or left member stays in the table after its last state change, in ms, before
   * it is forgotten. While it stays, stale alive records about it are rejected and it is listed
   * as dead or left; once reaped, a node with the same id is a new member. Must be at least
   * `gossipToTheDeadMs`. Default 24 h (Serf's reconnect and tombstone timeouts).
   */
  readonly reapAfterMs: number;
  /**
   * Ask the driver for a TCP ping (over a stream) in parallel with the indirect probes, as
   * memberlist does: it catches members whose UDP path alone is broken. Default true.
   */
  readonly tcpFallback: boolean;
  /**
   * Largest compound packet the core produces, in bytes: the transport's MTU minus anything the
   * driver adds (keyring seal overhead). Larger packs more broadcasts per packet but risks IP
   * fragmentation. Default 1400 (memberlist's UDPBufferSize).
   */
  readonly mtu: number;
  /**
   * Lifeguard on (default): local health multiplier, dynamic suspicion timeout, buddy system and
   * nacks. Off gives plain SWIM with a fixed suspicion timeout (the minimum) and exists to
   * measure what Lifeguard buys; keep it on.
   */
  readonly lifeguard: boolean;
  /**
   * Probe members (SWIM's own failure detector). False when another detector (phi accrual over
   * heartbeats) feeds `suspect` inputs instead; suspicion, refutation, dissemination and reaping
   * work the same. Default true.
   */
  readonly probing: boolean;
}

/**
 * The base every preset derives from: memberlist's `DefaultLANConfig` (hashicorp/memberlist
 * `config.go`): ProbeInterval 1 s, ProbeTimeout 500 ms, IndirectChecks 3, SuspicionMult 4,
 * SuspicionMaxTimeoutMult 6 (so `k` = SuspicionMult - 2 = 2), RetransmitMult 4, GossipInterval
 * 200 ms, GossipNodes 3, GossipToTheDeadTime 30 s, AwarenessMaxMultiplier 8, UDPBufferSize 1400.
 */
export const DEFAULT_SWIM_CONFIG: SwimConfig = Object.freeze({
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  suspicionConfirmations: 2,
  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  awarenessMaxMultiplier: 8,
  reapAfterMs: 24 * 3600 * 1000,
  tcpFallback: true,
  mtu: 1400,
  lifeguard: true,
  probing: true,
});

/**
 * The suspicion rule of Cairn's LAN preset: half memberlist's minimum (2 x log10(n) probe
 * intervals, 3.6 s at 64 nodes instead of 7.2 s), reached only with three independent
 * confirmations instead of two, from the same maximum (43 s at 64 nodes), so that a suspicion one
 * lossy path or one struggling prober raised still waits long. Lifeguard (arXiv 1707.00788)
 * shows that more confirmations lower false positives and detection time together; measurements
 * in the membership DESIGN.md ("Where SWIM's detection time goes").
 */
export const LAN_SUSPICION: Pick<
  SwimConfig,
  'suspicionMult' | 'suspicionMaxTimeoutMult' | 'suspicionConfirmations'
> = Object.freeze({ suspicionMult: 2, suspicionMaxTimeoutMult: 12, suspicionConfirmations: 3 });

function fromBase(overrides: Partial<SwimConfig>): SwimConfig {
  return Object.freeze({ ...DEFAULT_SWIM_CONFIG, ...overrides });
}

/**
 * The LAN preset: memberlist's `DefaultLANConfig` ({@link DEFAULT_SWIM_CONFIG}: same probe,
 * timeout and gossip intervals) with Cairn's suspicion rule {@link LAN_SUSPICION}, then
 * `overrides`.
 *
 * @param overrides - fields to change (default: none)
 * @example
 * ```ts
 * const config = lanSwimConfig({ mtu: 1200 });
 * ```
 */
export function lanSwimConfig(overrides: Partial<SwimConfig> = {}): SwimConfig {
  return fromBase({ ...LAN_SUSPICION, ...overrides });
}

/**
 * The WAN preset, memberlist `DefaultWANConfig`: ProbeInterval 5 s, ProbeTimeout 3 s,
 * SuspicionMult 6 (k = 4), GossipInterval 500 ms, GossipNodes 4, GossipToTheDeadTime 60 s.
 *
 * @param overrides - fields to change (default: none)
 */
export function wanSwimConfig(overrides: Partial<SwimConfig> = {}): SwimConfig {
  return fromBase({
    probeIntervalMs: 5000,
    probeTimeoutMs: 3000,
    suspicionMult: 6,
    suspicionConfirmations: 4,
    gossipIntervalMs: 500,
    gossipNodes: 4,
    gossipToTheDeadMs: 60_000,
    ...overrides,
  });
}

/**
 * The loopback preset, memberlist `DefaultLocalConfig`: ProbeInterval 1 s, ProbeTimeout 200 ms,
 * IndirectChecks 1, RetransmitMult 2, SuspicionMult 3 (k = 1), GossipInterval 100 ms,
 * GossipToTheDeadTime 15 s.
 *
 * @param overrides - fields to change (default: none)
 */
export function localSwimConfig(overrides: Partial<SwimConfig> = {}): SwimConfig {
  return fromBase({
    probeIntervalMs: 1000,
    probeTimeoutMs: 200,
    indirectChecks: 1,
    retransmitMult: 2,
    suspicionMult: 3,
    suspicionConfirmations: 1,
    gossipIntervalMs: 100,
    gossipToTheDeadMs: 15_000,
    ...overrides,
  });
}

/**
 * The test preset: the loopback preset at a fifth of its intervals (probe 200 ms / 40 ms, gossip
 * 20 ms) with memberlist's LAN fan-out and suspicion (IndirectChecks 3, RetransmitMult 4,
 * SuspicionMult 4, k = 2), gossip to the
 * dead 3 s and reaping after 10 s, so scripted clusters finish in a few virtual seconds.
 *
 * @param overrides - fields to change (default: none)
 */
export function testSwimConfig(overrides: Partial<SwimConfig> = {}): SwimConfig {
  return localSwimConfig({
    probeIntervalMs: 200,
    probeTimeoutMs: 40,
    indirectChecks: 3,
    retransmitMult: 4,
    suspicionMult: 4,
    suspicionConfirmations: 2,
    gossipIntervalMs: 20,
    gossipToTheDeadMs: 3000,
    reapAfterMs: 10_000,
    ...overrides,
  });
}

function bad(field: string, message: string): never {
  throw new CairnError('INVALID_CONFIG', `SwimConfig.${field} ${message}`, { details: { field } });
}

function checkInt(field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    bad(field, `must be an integer in ${min}..${max}, got ${String(value)}`);
  }
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * Checks every field of `config`; throws `INVALID_CONFIG` naming the first bad field.
 *
 * @param config - the config to check
 * @param limits - the limits in force (default {@link DEFAULT_LIMITS})
 * @returns the same config, for chaining
 */
export function validateSwimConfig(config: SwimConfig, limits: SwimLimits = DEFAULT_LIMITS): SwimConfig {
  checkInt('probeIntervalMs', config.probeIntervalMs, 1, DAY_MS);
  checkInt('probeTimeoutMs', config.probeTimeoutMs, 1, config.probeIntervalMs - 1);
  checkInt('indirectChecks', config.indirectChecks, 0, 64);
  checkInt('suspicionMult', config.suspicionMult, 1, 1000);
  checkInt('suspicionMaxTimeoutMult', config.suspicionMaxTimeoutMult, 1, 1000);
  checkInt('suspicionConfirmations', config.suspicionConfirmations, 0, 64);
  checkInt('retransmitMult', config.retransmitMult, 1, 1000);
  checkInt('gossipIntervalMs', config.gossipIntervalMs, 1, DAY_MS);
  checkInt('gossipNodes', config.gossipNodes, 0, 64);
  checkInt('gossipToTheDeadMs', config.gossipToTheDeadMs, 0, 30 * DAY_MS);
  checkInt('awarenessMaxMultiplier', config.awarenessMaxMultiplier, 1, 1000);
  checkInt('reapAfterMs', config.reapAfterMs, config.gossipToTheDeadMs, 365 * DAY_MS);
  if (typeof config.tcpFallback !== 'boolean')
    bad('tcpFallback', `must be a boolean, got ${String(config.tcpFallback)}`);
  checkInt('mtu', config.mtu, limits.minMtu, limits.maxMtu);
  if (typeof config.lifeguard !== 'boolean')
    bad('lifeguard', `must be a boolean, got ${String(config.lifeguard)}`);
  if (typeof config.probing !== 'boolean') bad('probing', `must be a boolean, got ${String(config.probing)}`);
  return config;
}
