import makeMdns from 'multicast-dns';
import { CairnError, type Clock, describeError, type Logger, type TimerHandle } from '../../core/index.js';
import { addressOf, isIpOf } from './address.js';
import { ProviderBase } from './base.js';
import type { DiscoveryLimits } from './limits.js';
import { abortable, closedError } from './types.js';

/** A resource record as `multicast-dns` (dns-packet) represents it. */
export interface MdnsRecord {
  name: string;
  type: string;
  ttl?: number;
  data: unknown;
}

/** A question as `multicast-dns` represents it. */
export interface MdnsQuestion {
  name: string;
  type: string;
}

/**
 * The part of a `multicast-dns` instance that {@link MdnsDiscovery} uses; tests inject an object of
 * this shape. Events: `query` and `response` with a decoded packet, `error` and `warning` with an
 * Error. The provider owns the socket: it destroys it on close.
 */
export interface MdnsSocket {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  query(packet: { questions: MdnsQuestion[] }): void;
  respond(
    packet: { answers: MdnsRecord[]; additionals?: MdnsRecord[] },
    callback?: (err: Error | null) => void,
  ): void;
  destroy(callback?: () => void): void;
}

/** Socket options passed to `multicast-dns` (see its README). */
export interface MdnsSocketOptions {
  /** Multicast group; default `224.0.0.251`. */
  ip?: string;
  /** Address to bind; default {@link MdnsDiscoveryOptions.interface}. Bind the group address to receive only its traffic. */
  bind?: string;
  /** Multicast TTL; default 255 (1 keeps packets on the local link). */
  ttl?: number;
  /** Receive our own packets; default true. */
  loopback?: boolean;
  /** `SO_REUSEADDR`; default true, so several nodes on one host share the port. */
  reuseAddr?: boolean;
}

/** Options of {@link MdnsDiscovery}. */
export interface MdnsDiscoveryOptions {
  /** The cluster's service label (letters, digits, hyphens; 1-63): the query name is `<service>._cairn._udp.local`. */
  service: string;
  /** The clock for the query timer and record expiry. */
  clock: Clock;
  /** The local node's membership address to announce; without it the provider only browses. */
  advertise?: { host: string; port: number };
  /** mDNS UDP port; default 5353. Tests use another port to stay apart from a system responder. */
  port?: number;
  /** IPv4 address of the interface to send and join the group on (e.g. `127.0.0.1`); default all. */
  interface?: string;
  /** Further `multicast-dns` options. */
  mdns?: MdnsSocketOptions;
  /** An mDNS socket to use instead of creating one (tests); the provider takes ownership. */
  socket?: MdnsSocket;
  /** Interval between queries, in ms; lower finds new nodes sooner with more multicast traffic. Default 10000. */
  queryIntervalMs?: number;
  /** TTL of the records we announce, in seconds: how long others remember us without hearing again. Default 120 (RFC 6762 for host records). */
  recordTtlSeconds?: number;
  /** How long `discover()` waits for a first answer when it knows no peer, in ms; 0 to not wait. Default 1000. */
  answerWaitMs?: number;
  /** Logger; default silent. */
  logger?: Logger;
  /** Overrides of the discovery `DEFAULT_LIMITS`. */
  limits?: Partial<DiscoveryLimits>;
}

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const ANSWERED_TYPES = new Set(['SRV', 'ANY', 'PTR']);

function invalid(field: string, message: string): never {
  throw new CairnError('INVALID_CONFIG', `mdns discovery: ${field} ${message}`, { details: { field } });
}

function positiveOption(
  field: string,
  value: number | undefined,
  fallback: number,
  allowZero = false,
): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0))
    invalid(field, `must be ${allowZero ? '>= 0' : '> 0'}`);
  return v;
}

function records(x: unknown): unknown[] {
  return Array.isArray(x) ? x : [];
}

/**
 * Seeds from multicast DNS on the local link (`multicast-dns`).
 *
 * Names: the query name is `<service>._cairn._udp.local`. A node that advertises answers a query
 * for it (type SRV, PTR or ANY) with one SRV record of that name (priority 0, weight 0, its port,
 * target `<host-with-dashes>-<port>.<service>._cairn._udp.local`) and an A or AAAA record for that
 * target; when the advertised host is a DNS name, the SRV target is that name and no address
 * record is sent. It also announces these records when it starts and says goodbye (TTL 0) when it
 * closes.
 *
 * Contract (beyond {@link DiscoveryProvider}'s):
 * - Peers are collected from every response packet: an SRV record of the query name whose target
 *   has an A/AAAA record in the same packet (or is a non-`.local` DNS name). Each is remembered
 *   until its TTL (capped at `maxMdnsTtlSeconds`) runs out; TTL 0 forgets it at once. The local
 *   node's own address is never returned.
 * - At most `maxMdnsPeers` peers are remembered; a new peer beyond that is rejected and counted
 *   (`overLimit`), known peers keep being refreshed.
 * - Malformed packets and records are counted (`malformed`) and ignored; socket errors are logged
 *   and counted (`failures`). Nothing from the network throws.
 * - `start()` opens the socket, announces, queries, and queries again every `queryIntervalMs`.
 *   A node must be started to answer others; `discover()` starts it too, and when no peer is known
 *   it queries and waits up to `answerWaitMs` for a first answer.
 *
 * @example
 * ```ts
 * const mdns = new MdnsDiscovery({ service: 'prod', clock: systemClock, advertise: { host: '10.0.0.5', port: 7946 } });
 * mdns.start();
 * const seeds = await mdns.discover();
 * ```
 */
export class MdnsDiscovery extends ProviderBase {
  readonly name: string;
  /** The query name, `<service>._cairn._udp.local`. */
  readonly serviceName: string;
  private readonly options: MdnsDiscoveryOptions;
  private readonly queryIntervalMs: number;
  private readonly recordTtlSeconds: number;
  private readonly answerWaitMs: number;
  private readonly self: string | undefined;
  private readonly ownRecords: { answers: MdnsRecord[]; additionals: MdnsRecord[] } | undefined;
  /** Peer address -> expiry time on the clock. */
  private readonly peers = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private socket: MdnsSocket | undefined;
  private ready_: Promise<void> | undefined;
  private queryTimer: TimerHandle | undefined;

  /** @throws CairnError `INVALID_CONFIG` naming the bad option */
  constructor(options: MdnsDiscoveryOptions) {
    super(options);
    if (typeof options.service !== 'string' || !LABEL.test(options.service)) {
      invalid('service', `"${String(options.service)}" must be 1-63 letters, digits or hyphens`);
    }
    if (
      options.port !== undefined &&
      (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535)
    ) {
      invalid('port', 'must be 1-65535');
    }
    this.options = options;
    this.queryIntervalMs = positiveOption('queryIntervalMs', options.queryIntervalMs, 10_000);
    this.recordTtlSeconds = positiveOption('recordTtlSeconds', options.recordTtlSeconds, 120);
    this.answerWaitMs = positiveOption('answerWaitMs', options.answerWaitMs, 1000, true);
    this.serviceName = `${options.service}._cairn._udp.local`;
    this.name = `mdns(${this.serviceName})`;
    if (options.advertise !== undefined) {
      const { host, port } = options.advertise;
      const self = addressOf(host, port);
      if (self === undefined)
        invalid('advertise', `${String(host)}:${String(port)} is not a valid host and port`);
      this.self = self;
      this.ownRecords = this.recordsFor(host, port);
    }
  }

  /** Opens the socket, announces the local node, queries, and starts the periodic query. */
  protected begin(): void {
    const socket = this.options.socket ?? this.createSocket();
    this.socket = socket;
    this.ready_ =
      this.options.socket !== undefined
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            socket.on('ready', () => resolve());
            socket.on('error', () => resolve());
          });
    socket.on('query', (packet: unknown) => this.guard(() => this.onQuery(packet)));
    socket.on('response', (packet: unknown) => this.guard(() => this.onResponse(packet)));
    socket.on('error', (err: unknown) => this.onSocketError(err));
    socket.on('warning', (err: unknown) => this.onSocketError(err));
    this.announce(this.recordTtlSeconds);
    this.sendQuery();
    this.schedule();
  }

  /**
   * Starts the provider and resolves once its socket is bound (at once for an injected socket, or
   * after a bind error, which is logged and counted). Useful before expecting answers from others.
   */
  ready(): Promise<void> {
    this.start();
    return this.ready_ ?? Promise.resolve();
  }

  /**
   * The peers whose records have not expired. When none is known, queries and waits up to
   * `answerWaitMs` (on the clock) for the first answer.
   */
  async discover(signal?: AbortSignal): Promise<string[]> {
    if (this.closed) throw closedError(this.name);
    this.start();
    this.prune();
    if (this.peers.size === 0 && this.answerWaitMs > 0) {
      this.sendQuery();
      await abortable(this.waitForPeer(), signal, `${this.name} discovery`);
      if (this.closed) throw closedError(this.name);
    }
    return [...this.peers.keys()];
  }

  /**
   * Stops the query timer, says goodbye (TTL 0) when advertising, then closes the socket. The
   * counters' `refreshes` count accepted peer records.
   */
  protected override release(): void {
    if (this.queryTimer !== undefined) this.clock.cancel(this.queryTimer);
    this.queryTimer = undefined;
    for (const wake of this.waiters) wake();
    this.waiters.clear();
    const socket = this.socket;
    this.socket = undefined;
    if (socket === undefined) return;
    if (this.ownRecords === undefined) {
      socket.destroy();
      return;
    }
    try {
      socket.respond(this.withTtl(0), () => socket.destroy());
    } catch {
      socket.destroy();
    }
  }

  private createSocket(): MdnsSocket {
    const o = this.options;
    const opts: Record<string, unknown> = { ...o.mdns };
    if (o.port !== undefined) opts.port = o.port;
    if (o.interface !== undefined) opts.interface = o.interface;
    return makeMdns(opts) as unknown as MdnsSocket;
  }

  private recordsFor(host: string, port: number): { answers: MdnsRecord[]; additionals: MdnsRecord[] } {
    const bare = host.startsWith('[') ? host.slice(1, -1) : host;
    const family = isIpOf(bare, 4) ? 4 : isIpOf(bare, 6) ? 6 : 0;
    if (family === 0) {
      return {
        answers: [
          { name: this.serviceName, type: 'SRV', data: { priority: 0, weight: 0, port, target: bare } },
        ],
        additionals: [],
      };
    }
    const label = `${bare.toLowerCase().replace(/[^a-z0-9]/g, '-')}-${port}`;
    const target = `${label}.${this.serviceName}`;
    return {
      answers: [{ name: this.serviceName, type: 'SRV', data: { priority: 0, weight: 0, port, target } }],
      additionals: [{ name: target, type: family === 4 ? 'A' : 'AAAA', data: bare }],
    };
  }

  private withTtl(ttl: number): { answers: MdnsRecord[]; additionals: MdnsRecord[] } {
    const own = this.ownRecords!;
    return {
      answers: own.answers.map((r) => ({ ...r, ttl })),
      additionals: own.additionals.map((r) => ({ ...r, ttl })),
    };
  }

  private announce(ttl: number): void {
    if (this.ownRecords === undefined || this.socket === undefined) return;
    this.socket.respond(this.withTtl(ttl));
  }

  private sendQuery(): void {
    this.socket?.query({ questions: [{ name: this.serviceName, type: 'SRV' }] });
  }

  private schedule(): void {
    this.queryTimer = this.clock.setTimer(this.queryIntervalMs, () => {
      this.queryTimer = undefined;
      if (this.closed) return;
      this.prune();
      this.guard(() => this.sendQuery());
      this.schedule();
    });
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.counters.malformed++;
      this.logger.debug({ provider: this.name, err: describeError(err) }, 'mdns packet ignored');
    }
  }

  private onSocketError(err: unknown): void {
    // dns-packet decode errors carry no syscall; socket errors (bind, membership, send) do.
    if ((err as { syscall?: unknown } | null)?.syscall === undefined) {
      this.counters.malformed++;
      this.logger.debug({ provider: this.name, err: describeError(err) }, 'mdns packet undecodable');
    } else {
      this.counters.failures++;
      this.logger.warn({ provider: this.name, err: describeError(err) }, 'mdns socket error');
    }
  }

  private onQuery(packet: unknown): void {
    if (this.ownRecords === undefined || this.closed) return;
    const questions = records((packet as { questions?: unknown } | null)?.questions);
    const asked = questions.some((q) => {
      const { name, type } = (q ?? {}) as { name?: unknown; type?: unknown };
      return (
        typeof name === 'string' &&
        name.toLowerCase() === this.serviceName &&
        ANSWERED_TYPES.has(String(type))
      );
    });
    if (asked) this.announce(this.recordTtlSeconds);
  }

  private onResponse(packet: unknown): void {
    if (this.closed) return;
    if (typeof packet !== 'object' || packet === null) {
      this.counters.malformed++;
      return;
    }
    const p = packet as { answers?: unknown; additionals?: unknown };
    const all = [...records(p.answers), ...records(p.additionals)];
    const hosts = new Map<string, string>();
    for (const r of all) {
      const { name, type, data } = (r ?? {}) as Partial<MdnsRecord>;
      if (typeof name !== 'string') continue;
      if ((type === 'A' && isIpOf(data, 4)) || (type === 'AAAA' && isIpOf(data, 6)))
        hosts.set(name.toLowerCase(), data);
    }
    let changed = false;
    for (const r of all) {
      const rec = (r ?? {}) as Partial<MdnsRecord>;
      if (rec.type !== 'SRV' || typeof rec.name !== 'string' || rec.name.toLowerCase() !== this.serviceName)
        continue;
      const address = this.peerAddress(rec, hosts);
      const ttl = rec.ttl;
      if (address === undefined || typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0) {
        this.counters.malformed++;
        continue;
      }
      if (address === this.self) continue;
      changed = this.upsert(address, ttl) || changed;
    }
    if (changed) this.changed();
  }

  private peerAddress(rec: Partial<MdnsRecord>, hosts: Map<string, string>): string | undefined {
    const data = rec.data as { port?: unknown; target?: unknown } | undefined;
    if (typeof data !== 'object' || data === null || typeof data.target !== 'string') return undefined;
    const target = data.target.toLowerCase().replace(/\.$/, '');
    const ip = hosts.get(target);
    if (ip !== undefined) return typeof data.port === 'number' ? addressOf(ip, data.port) : undefined;
    if (target.endsWith('.local')) return undefined;
    return addressOf(target, data.port);
  }

  /** Records or forgets one peer; returns true when the set of addresses changed. */
  private upsert(address: string, ttl: number): boolean {
    const known = this.peers.has(address);
    if (ttl === 0) {
      this.peers.delete(address);
      return known;
    }
    if (!known && this.peers.size >= this.limits.maxMdnsPeers) {
      this.prune();
      if (this.peers.size >= this.limits.maxMdnsPeers) {
        this.counters.overLimit++;
        this.logger.warn(
          { provider: this.name, peer: address, limit: this.limits.maxMdnsPeers },
          'mdns peer rejected: over the limit maxMdnsPeers',
        );
        return false;
      }
    }
    const seconds = Math.min(ttl, this.limits.maxMdnsTtlSeconds);
    this.peers.set(address, this.clock.now() + seconds * 1000);
    this.counters.refreshes++;
    return !known;
  }

  /** Drops expired peers, announcing the change. */
  private prune(): void {
    const now = this.clock.now();
    let changed = false;
    for (const [address, expires] of this.peers) {
      if (expires <= now) {
        this.peers.delete(address);
        changed = true;
      }
    }
    if (changed) this.listeners.emit([...this.peers.keys()]);
  }

  private changed(): void {
    this.listeners.emit([...this.peers.keys()]);
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  private waitForPeer(): Promise<void> {
    return new Promise<void>((resolve) => {
      const handle = this.clock.setTimer(this.answerWaitMs, () => {
        this.waiters.delete(wake);
        resolve();
      });
      const wake = () => {
        this.clock.cancel(handle);
        resolve();
      };
      this.waiters.add(wake);
    });
  }
}
