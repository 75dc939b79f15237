import { CairnError, checkLimit, describeError, type Logger } from '../../core/index.js';

/** Receives a provider's new address list when it changes. */
export type AddressListener = (addresses: readonly string[]) => void;

/** Counters every provider keeps; see {@link DiscoveryProvider.stats}. */
export interface DiscoveryStats {
  /** Answers obtained and accepted (resolutions, file reads, mDNS records). */
  refreshes: number;
  /** Attempts that failed as a whole (resolver error, unreadable or invalid file, socket error); the last good answer was kept. */
  failures: number;
  /** Malformed inputs ignored (a bad DNS record, an undecodable or malformed mDNS packet). */
  malformed: number;
  /** Answers rejected for being over a limit of `DEFAULT_LIMITS`. */
  overLimit: number;
}

/**
 * A source of seed addresses: where to look for peers when joining, and whenever no peer is known.
 *
 * Contract:
 * - `discover()` resolves with canonical `host:port` addresses (see `normalizeAddress`), without
 *   duplicates, at most `maxAddressesPerAnswer` of them; possibly empty. Operating errors (DNS
 *   failure, unreadable file, malformed packets) never reject: they are counted in {@link stats},
 *   logged, and the last good answer is served. It rejects only with `CANCELLED` when `signal`
 *   aborts and with `CLOSED` after {@link close}.
 * - Background work (refresh timers, file watches, the mDNS responder) starts with `start()` or
 *   the first `discover()`/`onChange()`, runs on the injected `Clock`, and stops at `close()`.
 * - `onChange`, where offered, calls the listener with the new list after each change, never
 *   synchronously inside the subscription; it returns the unsubscribe function.
 */
export interface DiscoveryProvider {
  /** A short name for logs and metrics, e.g. `dns(seeds.example.com/SRV)`. */
  readonly name: string;
  /** The current seed addresses; see the contract above. */
  discover(signal?: AbortSignal): Promise<string[]>;
  /** Stops background work and releases sockets, watches and timers; idempotent. */
  close(): void;
  /** Subscribes to changes of the address list, for providers that can push. */
  onChange?(listener: AddressListener): () => void;
  /** Starts background work now instead of on first use (the mDNS responder needs this to answer others). */
  start?(): void;
  /** A copy of the provider's counters. */
  stats?(): DiscoveryStats;
}

/** Fresh zeroed counters. */
export function emptyStats(): DiscoveryStats {
  return { refreshes: 0, failures: 0, malformed: 0, overLimit: 0 };
}

/**
 * The change listeners of one provider: bounded, called asynchronously (a microtask after the
 * change), each in isolation (a throwing listener is logged and does not stop the others).
 */
export class ChangeListeners {
  private readonly listeners = new Set<AddressListener>();

  constructor(
    private readonly maxListeners: number,
    private readonly logger: Logger,
  ) {}

  /** Adds a listener; throws `LIMIT_EXCEEDED` past `maxListeners`. */
  add(listener: AddressListener): () => void {
    checkLimit('maxListeners', this.listeners.size + 1, this.maxListeners, 'discovery change listeners');
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Calls every listener with a copy of `addresses` on a microtask. */
  emit(addresses: readonly string[]): void {
    if (this.listeners.size === 0) return;
    const snapshot = Object.freeze([...addresses]);
    const targets = [...this.listeners];
    queueMicrotask(() => {
      for (const listener of targets) {
        try {
          listener(snapshot);
        } catch (err) {
          this.logger.error({ err: describeError(err) }, 'discovery change listener threw');
        }
      }
    });
  }

  /** Drops every listener (on close). */
  clear(): void {
    this.listeners.clear();
  }
}

/** Rejects with `CLOSED` for a provider that was closed. */
export function closedError(name: string): CairnError {
  return new CairnError('CLOSED', `discovery provider ${name} is closed`);
}

/**
 * Resolves or rejects as `promise` does, or rejects with `CANCELLED` as soon as `signal` aborts
 * (the underlying work is not stopped; its result is dropped).
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(new CairnError('CANCELLED', `${what} was cancelled`));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new CairnError('CANCELLED', `${what} was cancelled`));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
