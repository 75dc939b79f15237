import { Resolver } from 'node:dns/promises';
import { CairnError, type Clock, describeError, type Logger, type Rng } from '../../core/index.js';
import { addressOf, isIpOf } from './address.js';
import { type FetchResult, ProviderBase } from './base.js';
import type { DiscoveryLimits } from './limits.js';
import { isSrvRecord, orderSrv, type SrvRecord } from './srv.js';
import { abortable, closedError } from './types.js';

/** The three lookups {@link DnsDiscovery} needs; `node:dns/promises` `Resolver` has them. */
export interface DnsResolverLike {
  resolve4(hostname: string): Promise<string[]>;
  resolve6(hostname: string): Promise<string[]>;
  resolveSrv(hostname: string): Promise<SrvRecord[]>;
}

/** Options of {@link DnsDiscovery}. */
export interface DnsDiscoveryOptions {
  /** The DNS name to resolve, e.g. `cairn.service.consul` or `_cairn._udp.example.com`. */
  name: string;
  /** Record type: `A`/`AAAA` give hosts (with {@link port}); `SRV` gives targets and their ports. */
  type: 'A' | 'AAAA' | 'SRV';
  /** The membership port of every address; required for `A` and `AAAA`, rejected for `SRV`. */
  port?: number;
  /** The resolver; default a `node:dns/promises` `Resolver` with {@link servers} when given. */
  resolver?: DnsResolverLike;
  /** DNS servers for the default resolver (`['10.0.0.2', '127.0.0.1:5353']`); default the system's. */
  servers?: readonly string[];
  /** Per-try timeout of the default resolver in ms; default 2000 (a seed lookup must not hang a join). */
  resolverTimeoutMs?: number;
  /** Tries per server of the default resolver; default 2. */
  resolverTries?: number;
  /**
   * Interval between background re-resolutions in ms, and the age after which `discover()`
   * resolves again instead of serving the cache. Lower follows DNS changes sooner at the cost of
   * more queries. Default 30000.
   */
  refreshIntervalMs?: number;
  /** The clock for the refresh timer and the cache age. */
  clock: Clock;
  /** Random stream for RFC 2782 weighted ordering of SRV records; without it the order is deterministic. */
  rng?: Rng;
  /** Logger; default silent. */
  logger?: Logger;
  /** Overrides of the discovery `DEFAULT_LIMITS`. */
  limits?: Partial<DiscoveryLimits>;
}

const NAME =
  /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/;

function invalid(field: string, message: string): never {
  throw new CairnError('INVALID_CONFIG', `dns discovery: ${field} ${message}`, { details: { field } });
}

/**
 * Seeds from DNS: the `A`/`AAAA` addresses of a name with a fixed port, or the targets and ports of
 * its `SRV` records (RFC 2782 order), re-resolved periodically.
 *
 * Contract (beyond {@link DiscoveryProvider}'s):
 * - The last good answer is cached. `discover()` serves it while it is younger than
 *   `refreshIntervalMs`, and otherwise resolves first (concurrent callers share one lookup).
 *   A background timer on the clock re-resolves every `refreshIntervalMs` once started, and
 *   listeners hear about changes.
 * - A failed lookup (timeout, SERVFAIL, NXDOMAIN, no records) keeps the last good answer; it is
 *   logged and counted in `failures`. Malformed records are skipped and counted in `malformed`;
 *   an answer with no usable record is a failure. An answer with more than
 *   `maxAddressesPerAnswer` records is rejected whole (`overLimit`).
 * - SRV targets are returned as host names (`node-1.example.com:7946`), resolved when dialled;
 *   a target of `.` ("no service") is skipped.
 *
 * @example
 * ```ts
 * const dns = new DnsDiscovery({ name: '_cairn._udp.example.com', type: 'SRV', clock: systemClock });
 * const seeds = await dns.discover();
 * ```
 */
export class DnsDiscovery extends ProviderBase {
  readonly name: string;
  private readonly options: DnsDiscoveryOptions;
  private readonly resolver: DnsResolverLike;
  private readonly refreshIntervalMs: number;
  private cachedAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<boolean> | undefined;

  /** @throws CairnError `INVALID_CONFIG` naming the bad option */
  constructor(options: DnsDiscoveryOptions) {
    super(options);
    if (typeof options.name !== 'string' || !NAME.test(options.name))
      invalid('name', `"${options.name}" is not a DNS name`);
    if (options.type !== 'A' && options.type !== 'AAAA' && options.type !== 'SRV') {
      invalid('type', `must be 'A', 'AAAA' or 'SRV', got ${String(options.type)}`);
    }
    if (options.type === 'SRV' && options.port !== undefined)
      invalid('port', 'is taken from the SRV records; do not set it');
    if (options.type !== 'SRV') {
      const p = options.port;
      if (p === undefined || !Number.isInteger(p) || p < 1 || p > 65535)
        invalid('port', `must be 1-65535 for ${options.type}`);
    }
    this.refreshIntervalMs = options.refreshIntervalMs ?? 30_000;
    if (!Number.isFinite(this.refreshIntervalMs) || this.refreshIntervalMs <= 0)
      invalid('refreshIntervalMs', 'must be > 0');
    this.options = options;
    this.resolver = options.resolver ?? defaultResolver(options);
    this.name = `dns(${options.name}/${options.type})`;
  }

  /** The background refresh timer (the first refresh comes one interval from now). */
  protected begin(): void {
    this.every(this.refreshIntervalMs, () => this.refresh());
  }

  /** The cached answer, resolving first when it is missing or older than `refreshIntervalMs`. */
  async discover(signal?: AbortSignal): Promise<string[]> {
    if (this.closed) throw closedError(this.name);
    this.start();
    if (this.current === undefined || this.clock.now() - this.cachedAt >= this.refreshIntervalMs) {
      await abortable(this.refresh(), signal, `${this.name} lookup`);
    }
    if (this.closed) throw closedError(this.name);
    return [...(this.current ?? [])];
  }

  /**
   * Resolves now (or joins the lookup in flight). Never rejects.
   *
   * @returns true when the lookup gave a usable answer (now cached)
   */
  refresh(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    this.inflight ??= this.lookup().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async lookup(): Promise<boolean> {
    let answer: FetchResult;
    try {
      answer = await this.query();
    } catch (err) {
      answer = { ok: false, reason: describeError(err) };
    }
    if (this.closed) return false;
    if (!this.accept(answer, 'dns discovery lookup failed; keeping the last good answer')) return false;
    this.cachedAt = this.clock.now();
    return true;
  }

  private async query(): Promise<FetchResult> {
    const { name, type } = this.options;
    const records: unknown = await (type === 'A'
      ? this.resolver.resolve4(name)
      : type === 'AAAA'
        ? this.resolver.resolve6(name)
        : this.resolver.resolveSrv(name));
    if (!Array.isArray(records)) return { ok: false, reason: 'resolver returned a non-array answer' };
    if (records.length > this.limits.maxAddressesPerAnswer) {
      return {
        ok: false,
        overLimit: true,
        reason: `${records.length} records, over the limit maxAddressesPerAnswer=${this.limits.maxAddressesPerAnswer}`,
      };
    }
    const addresses = type === 'SRV' ? this.fromSrv(records) : this.fromHosts(records, type === 'A' ? 4 : 6);
    if (addresses.length === 0)
      return { ok: false, reason: `no usable ${type} record among ${records.length}` };
    return { ok: true, addresses };
  }

  private fromHosts(records: unknown[], family: 4 | 6): string[] {
    const out = new Set<string>();
    for (const r of records) {
      const address = isIpOf(r, family) ? addressOf(r, this.options.port) : undefined;
      if (address === undefined) this.counters.malformed++;
      else out.add(address);
    }
    return [...out];
  }

  private fromSrv(records: unknown[]): string[] {
    const valid: SrvRecord[] = [];
    for (const r of records) {
      if (isSrvRecord(r)) {
        if (r.name !== '.' && r.name !== '') valid.push(r);
      } else {
        this.counters.malformed++;
      }
    }
    const out = new Set<string>();
    for (const r of orderSrv(valid, this.options.rng)) {
      const address = addressOf(r.name, r.port);
      if (address === undefined) this.counters.malformed++;
      else out.add(address);
    }
    return [...out];
  }
}

function defaultResolver(options: DnsDiscoveryOptions): DnsResolverLike {
  const timeout = options.resolverTimeoutMs ?? 2000;
  const tries = options.resolverTries ?? 2;
  if (!Number.isInteger(timeout) || timeout <= 0) invalid('resolverTimeoutMs', 'must be a positive integer');
  if (!Number.isInteger(tries) || tries <= 0) invalid('resolverTries', 'must be a positive integer');
  const resolver = new Resolver({ timeout, tries });
  if (options.servers !== undefined) {
    try {
      resolver.setServers([...options.servers]);
    } catch (err) {
      throw new CairnError(
        'INVALID_CONFIG',
        `dns discovery: servers ${JSON.stringify(options.servers)} rejected`,
        {
          cause: err,
          details: { field: 'servers' },
        },
      );
    }
  }
  return resolver;
}
