import { CairnError } from '../../core/index.js';
import { DEFAULT_LIMITS, type PexLimits } from './limits.js';

/** How the active side picks the peer it exchanges with (the paper's "peer selection"). */
export type PeerSelection = 'tail' | 'rand';

/**
 * Parameters of the peer sampling service, named as in Jelasity et al., "Gossip-based Peer
 * Sampling" (ACM TOCS 2007). See DESIGN.md for the reasons behind each preset value.
 *
 * Contract: a config is validated by {@link validatePexConfig} when a core is built; a bad field
 * is rejected with `INVALID_CONFIG` naming the field. The same config must be used on every node
 * for the paper's results to hold, but mixed configs interoperate on the wire.
 */
export interface PexConfig {
  /**
   * The view size `c`: how many node descriptors each node keeps. Larger views give a better
   * connected overlay and survive more failures, at the cost of bigger exchange messages (each
   * exchange sends c/2 descriptors). Unit: descriptors. Paper and default: 30.
   */
  readonly viewSize: number;
  /**
   * The healing parameter `H`: on every merge, up to H of the oldest descriptors are dropped
   * first, and an exchange that times out evicts its peer when H > 0. Larger H removes dead
   * nodes faster but lets a few young nodes dominate views (wider in-degree spread).
   * Unit: descriptors, 0..c/2. Default: 1.
   */
  readonly healing: number;
  /**
   * The swap parameter `S`: on every merge, after healing, up to S of the descriptors this node
   * just sent are dropped (they now live in the peer's view). Larger S balances in-degree
   * better; it does nothing for dead nodes. Unit: descriptors, 0..c/2-H. Default: c/2 - H.
   */
  readonly swap: number;
  /**
   * The cycle length `T`: how often a node starts an exchange, in milliseconds. Ages count
   * cycles. Shorter intervals converge and heal faster in wall time at proportionally more
   * traffic (one request and one reply of at most one packet each per node per interval).
   */
  readonly exchangeIntervalMs: number;
  /**
   * How long the active side waits for a PexPull before it counts the exchange as failed, in
   * milliseconds. Too short counts slow peers as failed (and evicts them when H > 0); too long
   * keeps dead peers in the view longer. Must not exceed `exchangeIntervalMs * maxPendingExchanges`.
   */
  readonly exchangeTimeoutMs: number;
  /**
   * `tail` picks the oldest descriptor (the paper's recommendation: old entries are refreshed
   * or found dead quickly); `rand` picks uniformly at random.
   */
  readonly peerSelection: PeerSelection;
}

/** The base every preset derives from: the paper's c=30 with H=1, S=c/2-1, tail, 1 s cycles. */
export const DEFAULT_PEX_CONFIG: PexConfig = Object.freeze({
  viewSize: 30,
  healing: 1,
  swap: 14,
  exchangeIntervalMs: 1000,
  exchangeTimeoutMs: 500,
  peerSelection: 'tail',
});

/**
 * The LAN preset: {@link DEFAULT_PEX_CONFIG} with optional overrides.
 *
 * @param overrides - fields to change (default: none)
 * @example
 * ```ts
 * const config = lanPexConfig({ viewSize: 40, swap: 19 });
 * ```
 */
export function lanPexConfig(overrides: Partial<PexConfig> = {}): PexConfig {
  return Object.freeze({ ...DEFAULT_PEX_CONFIG, ...overrides });
}

/**
 * The test preset: a smaller view (c=8, H=1, S=3) and 100 ms cycles with a 50 ms timeout, so
 * small clusters in simulation mix within a few virtual seconds.
 *
 * @param overrides - fields to change (default: none)
 */
export function testPexConfig(overrides: Partial<PexConfig> = {}): PexConfig {
  return lanPexConfig({
    viewSize: 8,
    healing: 1,
    swap: 3,
    exchangeIntervalMs: 100,
    exchangeTimeoutMs: 50,
    ...overrides,
  });
}

function bad(field: string, message: string): never {
  throw new CairnError('INVALID_CONFIG', `PexConfig.${field} ${message}`, { details: { field } });
}

function checkInt(field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    bad(field, `must be an integer in ${min}..${max}, got ${String(value)}`);
  }
}

/**
 * Checks every field of `config`; throws `INVALID_CONFIG` naming the first bad field.
 *
 * @param config - the config to check
 * @param limits - the limits in force (default {@link DEFAULT_LIMITS})
 * @returns the same config, for chaining
 */
export function validatePexConfig(config: PexConfig, limits: PexLimits = DEFAULT_LIMITS): PexConfig {
  checkInt('viewSize', config.viewSize, 2, limits.maxViewSize);
  const half = Math.floor(config.viewSize / 2);
  checkInt('healing', config.healing, 0, half);
  checkInt('swap', config.swap, 0, half - config.healing);
  checkInt('exchangeIntervalMs', config.exchangeIntervalMs, 1, 24 * 3600 * 1000);
  checkInt(
    'exchangeTimeoutMs',
    config.exchangeTimeoutMs,
    1,
    config.exchangeIntervalMs * limits.maxPendingExchanges,
  );
  if (config.peerSelection !== 'tail' && config.peerSelection !== 'rand') {
    bad('peerSelection', `must be 'tail' or 'rand', got ${JSON.stringify(config.peerSelection)}`);
  }
  return config;
}
