import {
  lanConfig,
  localConfig,
  type MembershipProtocolConfig,
  type MembershipProtocolOverrides,
  testConfig,
  wanConfig,
} from '../membership/config.js';
import type { SwimConfig } from '../membership/swim/index.js';
import type { MembershipPreset } from './config-fields.js';

/**
 * From the agent's `membership` settings to a `MembershipProtocolConfig`: the preset, with the
 * few overrides the agent config exposes applied to its SWIM part.
 */

const PRESETS: Readonly<
  Record<MembershipPreset, (overrides: MembershipProtocolOverrides) => MembershipProtocolConfig>
> = {
  lan: lanConfig,
  wan: wanConfig,
  local: localConfig,
  test: testConfig,
};

/** The agent's membership settings that shape the protocol (a subset of `AgentMembershipConfig`). */
export interface MembershipProtocolSettings {
  /** Preset name. */
  preset: MembershipPreset;
  /** Override of the preset's probe interval, ms. */
  probeIntervalMs?: number;
  /** Override of the preset's probe timeout, ms. */
  probeTimeoutMs?: number;
  /** Override of the preset's suspicion multiplier. */
  suspicionMult?: number;
  /** Override of the preset's gossip interval, ms. */
  gossipIntervalMs?: number;
}

/**
 * The protocol config for the agent's membership settings.
 *
 * @param settings - preset and optional overrides
 * @returns a validated, frozen protocol config
 * @throws CairnError `INVALID_CONFIG` naming the SWIM field when the overrides do not fit together
 *   (e.g. a probe timeout at or above the probe interval)
 * @example
 * ```ts
 * membershipProtocol({ preset: 'local', probeIntervalMs: 500 }).swim.probeTimeoutMs; // 200
 * ```
 */
export function membershipProtocol(settings: MembershipProtocolSettings): MembershipProtocolConfig {
  const swim: { -readonly [K in keyof SwimConfig]?: SwimConfig[K] } = {};
  if (settings.probeIntervalMs !== undefined) swim.probeIntervalMs = settings.probeIntervalMs;
  if (settings.probeTimeoutMs !== undefined) swim.probeTimeoutMs = settings.probeTimeoutMs;
  if (settings.suspicionMult !== undefined) swim.suspicionMult = settings.suspicionMult;
  if (settings.gossipIntervalMs !== undefined) swim.gossipIntervalMs = settings.gossipIntervalMs;
  return PRESETS[settings.preset]({ swim });
}
