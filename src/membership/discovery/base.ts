import { type Clock, type Logger, silentLogger, type TimerHandle } from '../../core/index.js';
import { sameAddresses } from './address.js';
import { type DiscoveryLimits, discoveryLimits } from './limits.js';
import {
  type AddressListener,
  ChangeListeners,
  type DiscoveryProvider,
  type DiscoveryStats,
  emptyStats,
} from './types.js';

/** The outcome of one fetch of a provider's list (a DNS answer, a seed file read). */
export type FetchResult =
  | { ok: true; addresses: string[] }
  | { ok: false; reason: string; overLimit?: boolean };

/** Options every provider takes. */
export interface ProviderBaseOptions {
  /** The clock of the provider's timers. */
  clock: Clock;
  /** Logger; default silent. */
  logger?: Logger;
  /** Overrides of the discovery `DEFAULT_LIMITS`. */
  limits?: Partial<DiscoveryLimits>;
}

/**
 * What the DNS, file and mDNS providers share: limits, logger, bounded change listeners, counters,
 * a start-once guard, `onChange` (which starts the provider), `stats()`, `close()`, a periodic
 * timer on the clock, and the last good list with the rule for replacing it.
 */
export abstract class ProviderBase implements DiscoveryProvider {
  abstract readonly name: string;
  protected readonly clock: Clock;
  protected readonly limits: DiscoveryLimits;
  protected readonly logger: Logger;
  protected readonly listeners: ChangeListeners;
  protected readonly counters = emptyStats();
  /** The last good list; undefined until a fetch succeeded. */
  protected current: string[] | undefined;
  protected closed = false;
  private started = false;
  private timer: TimerHandle | undefined;

  constructor(options: ProviderBaseOptions) {
    this.clock = options.clock;
    this.limits = discoveryLimits(options.limits);
    this.logger = options.logger ?? silentLogger();
    this.listeners = new ChangeListeners(this.limits.maxListeners, this.logger);
  }

  abstract discover(signal?: AbortSignal): Promise<string[]>;

  /** The provider's background work, begun once by {@link start}. */
  protected abstract begin(): void;

  /** Starts background work (once; never after close). Idempotent. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.begin();
  }

  /** Subscribes to changes of the list; starts the provider. */
  onChange(listener: AddressListener): () => void {
    const off = this.listeners.add(listener);
    this.start();
    return off;
  }

  /** A copy of the counters. */
  stats(): DiscoveryStats {
    return { ...this.counters };
  }

  /** Stops the timer, drops listeners, then releases what the provider holds (`release`). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.clock.cancel(this.timer);
    this.timer = undefined;
    this.listeners.clear();
    this.release();
  }

  /** Releases the provider's own resources on close (watches, sockets); default nothing. */
  protected release(): void {}

  /**
   * Runs `work` every `intervalMs` on the clock until closed; the next run is armed when the
   * previous one has finished, so runs never overlap.
   */
  protected every(intervalMs: number, work: () => Promise<unknown>): void {
    this.timer = this.clock.setTimer(intervalMs, () => {
      this.timer = undefined;
      if (this.closed) return;
      void work().finally(() => {
        if (!this.closed) this.every(intervalMs, work);
      });
    });
  }

  /**
   * Applies one fetch. A failure is counted (`overLimit` or `failures`) and logged with `failure`,
   * and the last good list is kept. A success is counted in `refreshes` and becomes the current
   * list; listeners hear of it when it differs from the previous one.
   *
   * @returns true when the fetch succeeded
   */
  protected accept(fetched: FetchResult, failure: string): boolean {
    if (!fetched.ok) {
      if (fetched.overLimit === true) this.counters.overLimit++;
      else this.counters.failures++;
      this.logger.warn(
        { provider: this.name, reason: fetched.reason, serving: this.current?.length ?? 0 },
        failure,
      );
      return false;
    }
    this.counters.refreshes++;
    const changed = !sameAddresses(this.current, fetched.addresses);
    this.current = fetched.addresses;
    if (changed) this.listeners.emit(fetched.addresses);
    return true;
  }
}
