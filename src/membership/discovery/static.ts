import { checkLimit } from '../../core/index.js';
import { parseSeedAddress } from './address.js';
import { type DiscoveryLimits, discoveryLimits } from './limits.js';
import { abortable, closedError, type DiscoveryProvider, type DiscoveryStats, emptyStats } from './types.js';

/**
 * A fixed list of seed addresses, as given in configuration (`join: ['10.0.0.1:7946', ...]`).
 *
 * Addresses are validated and normalised at construction, duplicates dropped (first one kept).
 * `discover()` returns the same list every time.
 *
 * @example
 * ```ts
 * const seeds = new StaticDiscovery(['10.0.0.1:7946', 'node-2.internal:7946', '[fd00::3]:7946']);
 * await seeds.discover(); // the three addresses
 * ```
 */
export class StaticDiscovery implements DiscoveryProvider {
  readonly name: string;
  private readonly addresses: readonly string[];
  private closed = false;
  private readonly counters = emptyStats();

  /**
   * @param addresses - seed addresses (`host:port`, port 1-65535, IPv6 bracketed)
   * @param limits - overrides of the discovery `DEFAULT_LIMITS`
   * @throws CairnError `INVALID_ARGUMENT` quoting the first malformed address; `LIMIT_EXCEEDED`
   *   when there are more than `maxAddressesPerAnswer` distinct addresses
   */
  constructor(addresses: readonly string[], limits: Partial<DiscoveryLimits> = {}) {
    const l = discoveryLimits(limits);
    const unique = new Set<string>();
    addresses.forEach((a, i) => {
      unique.add(parseSeedAddress(a, `static seed #${i}`));
    });
    checkLimit('maxAddressesPerAnswer', unique.size, l.maxAddressesPerAnswer, 'static seed addresses');
    this.addresses = Object.freeze([...unique]);
    this.name = 'static';
  }

  /** The configured addresses. Rejects with `CLOSED` after {@link close}, `CANCELLED` on an aborted signal. */
  discover(signal?: AbortSignal): Promise<string[]> {
    if (this.closed) return Promise.reject(closedError(this.name));
    this.counters.refreshes++;
    return abortable(Promise.resolve([...this.addresses]), signal, 'static discovery');
  }

  /** A copy of the counters (`refreshes` counts answers served). */
  stats(): DiscoveryStats {
    return { ...this.counters };
  }

  /** Marks the provider closed; later `discover()` calls reject with `CLOSED`. */
  close(): void {
    this.closed = true;
  }
}
