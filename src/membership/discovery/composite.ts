import { CairnError, checkLimit, describeError, type Logger, silentLogger } from '../../core/index.js';
import { type DiscoveryLimits, discoveryLimits } from './limits.js';
import {
  type AddressListener,
  abortable,
  ChangeListeners,
  closedError,
  type DiscoveryProvider,
  type DiscoveryStats,
  emptyStats,
} from './types.js';

/** Options of {@link CompositeDiscovery}. */
export interface CompositeDiscoveryOptions {
  /** Logger; default silent. */
  logger?: Logger;
  /** Overrides of the discovery `DEFAULT_LIMITS`. */
  limits?: Partial<DiscoveryLimits>;
}

/**
 * Several providers as one: asks all of them in parallel and merges their answers in provider
 * order, without duplicates.
 *
 * Contract (beyond {@link DiscoveryProvider}'s):
 * - A provider that rejects (or is still pending when `signal` aborts) contributes nothing; the
 *   failure is logged and counted in `failures`. When `signal` aborts, the composite resolves at
 *   once with the answers that had arrived (so a timeout still yields the fast providers' seeds),
 *   and rejects with `CANCELLED` only if none had. It rejects with `CLOSED` after `close()`.
 * - The merged answer holds at most `maxProviders * maxAddressesPerAnswer` addresses, since each
 *   provider is bounded by `maxAddressesPerAnswer`.
 * - `onChange` fires with the merged list of the providers' latest answers whenever a provider
 *   that can push reports a change.
 * - `close()` closes every provider.
 *
 * @example
 * ```ts
 * const seeds = new CompositeDiscovery([new StaticDiscovery(['10.0.0.1:7946']), dns]);
 * ```
 */
export class CompositeDiscovery implements DiscoveryProvider {
  readonly name: string;
  /** The providers, in merge order. */
  readonly providers: readonly DiscoveryProvider[];
  private readonly logger: Logger;
  private readonly listeners: ChangeListeners;
  private readonly counters = emptyStats();
  private readonly latest: (readonly string[])[];
  private unsubscribers: (() => void)[] | undefined;
  private closed = false;

  /** @throws CairnError `LIMIT_EXCEEDED` with more than `maxProviders` providers */
  constructor(providers: readonly DiscoveryProvider[], options: CompositeDiscoveryOptions = {}) {
    const limits = discoveryLimits(options.limits);
    checkLimit('maxProviders', providers.length, limits.maxProviders, 'discovery providers');
    this.providers = Object.freeze([...providers]);
    this.logger = options.logger ?? silentLogger();
    this.listeners = new ChangeListeners(limits.maxListeners, this.logger);
    this.latest = providers.map(() => []);
    this.name = `composite(${providers.map((p) => p.name).join(',')})`;
  }

  /** Starts every provider that has background work. */
  start(): void {
    if (this.closed) return;
    for (const p of this.providers) p.start?.();
  }

  /** Every provider's answer, merged; see the contract. */
  async discover(signal?: AbortSignal): Promise<string[]> {
    if (this.closed) throw closedError(this.name);
    // Each provider is raced against the signal, so an abort settles every slot at once.
    const settled = await Promise.allSettled(
      this.providers.map((p) => abortable(p.discover(signal), signal, `${p.name} discovery`)),
    );
    if (this.closed) throw closedError(this.name);
    if (signal?.aborted && !settled.some((r) => r.status === 'fulfilled')) {
      throw new CairnError('CANCELLED', `${this.name} discovery was cancelled`);
    }
    settled.forEach((result, i) => {
      const provider = this.providers[i]!;
      if (result.status === 'fulfilled') {
        this.counters.refreshes++;
        this.latest[i] = result.value;
      } else {
        this.counters.failures++;
        this.logger.warn(
          { provider: provider.name, err: describeError(result.reason) },
          'discovery provider failed',
        );
      }
    });
    return mergeAddresses(settled.map((r) => (r.status === 'fulfilled' ? r.value : [])));
  }

  /** Subscribes to merged changes of every provider that can push. */
  onChange(listener: AddressListener): () => void {
    const off = this.listeners.add(listener);
    this.unsubscribers ??= this.providers.flatMap((p, i) =>
      p.onChange === undefined
        ? []
        : [
            p.onChange((list) => {
              this.latest[i] = list;
              this.listeners.emit(mergeAddresses(this.latest));
            }),
          ],
    );
    return off;
  }

  /** A copy of the counters: one refresh or failure per provider asked. */
  stats(): DiscoveryStats {
    return { ...this.counters };
  }

  /** Closes every provider. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.unsubscribers ?? []) off();
    this.listeners.clear();
    for (const p of this.providers) {
      try {
        p.close();
      } catch (err) {
        this.logger.error({ provider: p.name, err: describeError(err) }, 'discovery provider close failed');
      }
    }
  }
}

/**
 * Concatenates address lists in order, dropping duplicates (first occurrence kept) and every
 * address in `exclude`.
 */
export function mergeAddresses(
  lists: readonly (readonly string[])[],
  exclude: ReadonlySet<string> = new Set(),
): string[] {
  const out = new Set<string>();
  for (const list of lists) for (const a of list) if (!exclude.has(a)) out.add(a);
  return [...out];
}
