import {
  CairnError,
  type Clock,
  checkLimit,
  describeError,
  type Logger,
  type Rng,
  silentLogger,
  sleep,
} from '../../core/index.js';
import { parseSeedAddress } from './address.js';
import { CompositeDiscovery } from './composite.js';
import { type DiscoveryLimits, discoveryLimits } from './limits.js';
import type { DiscoveryProvider } from './types.js';

/** Options of {@link Reseeder}. */
export interface ReseederOptions {
  /** Where seeds come from; asked in parallel and merged in this order. */
  providers: readonly DiscoveryProvider[];
  /** The clock for backoff waits and per-attempt timeouts. */
  clock: Clock;
  /** The random stream for backoff jitter. */
  rng: Rng;
  /** The local node's address(es), never returned as a seed. */
  localAddress?: string | readonly string[];
  /** Attempts per `seeds()` call before giving up with an empty list; default 8 (at most `maxReseedAttempts`). */
  maxAttempts?: number;
  /** Backoff before the second attempt, in ms; doubles per attempt. Default 500. */
  initialBackoffMs?: number;
  /** Largest backoff, in ms; default 30000. */
  maxBackoffMs?: number;
  /** How long one attempt waits for the providers, in ms; a provider still silent then counts as failed. Default 5000. */
  attemptTimeoutMs?: number;
  /** Logger; default silent. */
  logger?: Logger;
  /** Overrides of the discovery `DEFAULT_LIMITS`. */
  limits?: Partial<DiscoveryLimits>;
}

/** The backoff settings of {@link backoffDelayMs}. */
export interface BackoffOptions {
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

/**
 * The wait before retry number `attempt` (1 for the first retry): exponential backoff
 * `min(max, initial * 2^(attempt-1))` with "equal jitter": uniformly in [backoff/2, backoff], so
 * retries of many nodes spread out but never collapse to zero.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions, rng: Rng): number {
  const base = Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** Math.max(0, attempt - 1));
  return base / 2 + rng.float() * (base / 2);
}

function option(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) {
    throw new CairnError('INVALID_CONFIG', `reseeder: ${name} must be > 0, got ${String(value)}`, {
      details: { field: name },
    });
  }
  return v;
}

/**
 * Finds seeds when the node knows no peer ("re-seed whenever no peer is known"): asks every
 * provider, merges their answers without duplicates and without the local address, and when that
 * gives nothing, retries with exponential backoff and jitter, a bounded number of times.
 *
 * Contract:
 * - `seeds()` resolves with a non-empty list as soon as one attempt finds an address, or with an
 *   empty list after `maxAttempts` attempts (logged). It never rejects for provider errors; it
 *   rejects with `CANCELLED` when `signal` aborts and `CLOSED` after {@link close}.
 * - Each attempt lasts at most `attemptTimeoutMs` on the clock; all waits are on the clock.
 * - The reseeder owns its providers: `close()` closes them.
 *
 * @example
 * ```ts
 * const reseeder = new Reseeder({ providers: [dns, file], clock, rng: rng.child('reseed'), localAddress: '10.0.0.5:7946' });
 * const seeds = await reseeder.seeds();
 * if (seeds.length > 0) await membership.join(seeds);
 * ```
 */
export class Reseeder {
  private readonly composite: CompositeDiscovery;
  private readonly options: ReseederOptions;
  private readonly exclude: ReadonlySet<string>;
  private readonly maxAttempts: number;
  private readonly backoff: BackoffOptions;
  private readonly attemptTimeoutMs: number;
  private readonly logger: Logger;
  private readonly closer = new AbortController();
  private attemptsTotal = 0;

  /** @throws CairnError `INVALID_CONFIG` naming a bad option; `LIMIT_EXCEEDED` over `maxProviders` or `maxReseedAttempts` */
  constructor(options: ReseederOptions) {
    const limits = discoveryLimits(options.limits);
    this.logger = options.logger ?? silentLogger();
    this.composite = new CompositeDiscovery(options.providers, { logger: this.logger, limits });
    this.options = options;
    const local =
      options.localAddress === undefined
        ? []
        : typeof options.localAddress === 'string'
          ? [options.localAddress]
          : options.localAddress;
    this.exclude = new Set(local.map((a) => parseSeedAddress(a, 'reseeder localAddress')));
    this.maxAttempts = option('maxAttempts', options.maxAttempts, 8);
    if (!Number.isInteger(this.maxAttempts)) {
      throw new CairnError('INVALID_CONFIG', 'reseeder: maxAttempts must be an integer', {
        details: { field: 'maxAttempts' },
      });
    }
    checkLimit('maxReseedAttempts', this.maxAttempts, limits.maxReseedAttempts, 'reseeder maxAttempts');
    this.backoff = {
      initialBackoffMs: option('initialBackoffMs', options.initialBackoffMs, 500),
      maxBackoffMs: option('maxBackoffMs', options.maxBackoffMs, 30_000),
    };
    this.attemptTimeoutMs = option('attemptTimeoutMs', options.attemptTimeoutMs, 5000);
  }

  /** Attempts made over the reseeder's life (for metrics and tests). */
  get attempts(): number {
    return this.attemptsTotal;
  }

  /** Starts the providers' background work (refresh timers, watches, the mDNS responder). */
  start(): void {
    this.composite.start();
  }

  /** Seeds, retrying with backoff while every provider answers nothing; see the contract. */
  async seeds(signal?: AbortSignal): Promise<string[]> {
    const stop = signal === undefined ? this.closer.signal : AbortSignal.any([signal, this.closer.signal]);
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      this.check(stop);
      const found = await this.attempt(stop);
      if (found.length > 0) return found;
      if (attempt === this.maxAttempts) break;
      const delay = backoffDelayMs(attempt, this.backoff, this.options.rng);
      this.logger.debug({ attempt, delayMs: Math.round(delay) }, 'no seeds found; backing off');
      try {
        await sleep(this.options.clock, delay, stop);
      } catch (err) {
        this.check(stop);
        throw err;
      }
    }
    this.logger.warn({ attempts: this.maxAttempts }, 'no seeds found from any discovery provider');
    return [];
  }

  /** Closes the providers; pending `seeds()` calls reject with `CLOSED`. */
  close(): void {
    this.closer.abort();
    this.composite.close();
  }

  private check(stop: AbortSignal): void {
    if (this.closer.signal.aborted) throw new CairnError('CLOSED', 'reseeder is closed');
    if (stop.aborted) throw new CairnError('CANCELLED', 'reseeding was cancelled');
  }

  /** One round: every provider, bounded by `attemptTimeoutMs`, merged minus the local address. */
  private async attempt(stop: AbortSignal): Promise<string[]> {
    this.attemptsTotal++;
    const timeout = new AbortController();
    const timer = this.options.clock.setTimer(this.attemptTimeoutMs, () => timeout.abort());
    try {
      const merged = await this.composite.discover(AbortSignal.any([stop, timeout.signal]));
      this.check(stop);
      return merged.filter((a) => !this.exclude.has(a));
    } catch (err) {
      this.check(stop);
      // Timed out before any provider answered: an empty round.
      this.logger.warn(
        { err: describeError(err), timeoutMs: this.attemptTimeoutMs },
        'discovery attempt timed out',
      );
      return [];
    } finally {
      this.options.clock.cancel(timer);
    }
  }
}
