import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/log.js';
import type { Rng } from '../../core/rng.js';
import { KvError } from '../errors.js';
import { CONSISTENCY_LEVELS, type Consistency } from '../types.js';
import type { KvClientLimits } from './limits.js';

/** The client's settings; every field but `nodes` has a default in {@link DEFAULT_CLIENT_CONFIG}. */
export interface KvClientConfig {
  /** Consistency of reads that name none. Default QUORUM (the store's default). */
  readonly readConsistency: Consistency;
  /** Consistency of writes that name none. Default QUORUM. */
  readonly writeConsistency: Consistency;
  /**
   * Longest a call may take (ms), queueing, retries and reply included; past it the call fails
   * with TIMEOUT. Default 10,000: above the store's own read timeout (5 s) so that a slow quorum
   * comes back as the server's TIMEOUT, with its reason, rather than the client's.
   */
  readonly requestTimeoutMs: number;
  /** Longest a connection may take to open, setup included (ms). Default 2,000. */
  readonly connectTimeoutMs: number;
  /** Period of ring refreshes (ms); 0 refreshes only on errors. Default 30,000: joins and leaves take longer than that to stream. */
  readonly ringRefreshIntervalMs: number;
  /** Fewest ms between two refreshes that errors trigger. Default 1,000: a failing node does not make every call ask for the ring. */
  readonly minRingRefreshIntervalMs: number;
  /** First backoff (ms) before a node that could not be reached is tried again. Default 1,000; doubles per failure. */
  readonly downBackoffMs: number;
  /** Longest backoff (ms). Default 30,000. */
  readonly maxDownBackoffMs: number;
  /** Send calls to a key's replicas (true) or only to the seed nodes (false). Default true. */
  readonly routing: boolean;
}

/** The defaults; see each field of {@link KvClientConfig}. */
export const DEFAULT_CLIENT_CONFIG: KvClientConfig = Object.freeze({
  readConsistency: 'QUORUM',
  writeConsistency: 'QUORUM',
  requestTimeoutMs: 10_000,
  connectTimeoutMs: 2_000,
  ringRefreshIntervalMs: 30_000,
  minRingRefreshIntervalMs: 1_000,
  downBackoffMs: 1_000,
  maxDownBackoffMs: 30_000,
  routing: true,
});

/** Options of {@link KvClient.connect}. */
export interface KvClientOptions extends Partial<KvClientConfig> {
  /** Seed nodes' Redis-protocol addresses, `host:port` (`[::1]:6379`); at least one. */
  readonly nodes: readonly string[];
  /** A capability token (audience `resp`), sent with AUTH on every connection. */
  readonly token?: string;
  /** Timers and the time TTLs are read against; default the system clock. */
  readonly clock?: Clock;
  /** Chooses among replicas; default seeded from the OS. */
  readonly rng?: Rng;
  readonly logger?: Logger;
  /** Overrides of the client's DEFAULT_LIMITS (limits.ts). */
  readonly limits?: Partial<KvClientLimits>;
}

/** The config of `options` with defaults filled in, validated (INVALID_ARGUMENT names the field). */
export function clientConfig(options: Partial<KvClientConfig>): KvClientConfig {
  const config: KvClientConfig = { ...DEFAULT_CLIENT_CONFIG };
  for (const key of Object.keys(DEFAULT_CLIENT_CONFIG) as (keyof KvClientConfig)[]) {
    const value = options[key];
    if (value !== undefined) (config as unknown as Record<string, unknown>)[key] = value;
  }
  for (const field of ['readConsistency', 'writeConsistency'] as const)
    if (!CONSISTENCY_LEVELS.includes(config[field]))
      throw new KvError(
        'INVALID_ARGUMENT',
        `${field} must be ONE, QUORUM or ALL, got ${String(config[field])}`,
      );
  for (const field of [
    'requestTimeoutMs',
    'connectTimeoutMs',
    'minRingRefreshIntervalMs',
    'downBackoffMs',
    'maxDownBackoffMs',
  ] as const)
    if (!Number.isFinite(config[field]) || config[field] <= 0)
      throw new KvError(
        'INVALID_ARGUMENT',
        `${field} must be a positive number of ms, got ${String(config[field])}`,
      );
  if (!Number.isFinite(config.ringRefreshIntervalMs) || config.ringRefreshIntervalMs < 0)
    throw new KvError(
      'INVALID_ARGUMENT',
      `ringRefreshIntervalMs must be 0 or more, got ${String(config.ringRefreshIntervalMs)}`,
    );
  if (typeof config.routing !== 'boolean') throw new KvError('INVALID_ARGUMENT', 'routing must be a boolean');
  return config;
}
