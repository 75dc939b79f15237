import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, isIP, type Server, type Socket } from 'node:net';
import {
  CairnError,
  type Clock,
  describeError,
  type Logger,
  type Metrics,
  silentLogger,
  slabBytes,
  systemClock,
  type TimerHandle,
  withLimits,
} from '../../core/index.js';
import { formatAddress, type HostPort, parseAddress, tryParseAddress } from '../address.js';
import { DEFAULT_INBOUND_LIMITS, DEFAULT_LIMITS, type InboundLimits, NET_DEFAULTS } from '../limits.js';
import { RejectLog } from '../reject-log.js';
import { type DropReason, TransportStats } from '../stats.js';
import type {
  Address,
  DialOptions,
  PacketHandler,
  Stream,
  StreamHandler,
  Transport,
  TransportLimits,
} from '../types.js';
import { encodeFrame, type FrameBudget, FrameDecoder } from './frame-decoder.js';
import { decodeHello, encodeHello } from './hello.js';
import { type Accepted, NetStream, type NetStreamContext } from './net-stream.js';

/** Deadlines are checked this often per shortest deadline: one fires at most a quarter late. */
const SWEEPS_PER_DEADLINE = 4;

/** Options for {@link NetTransport.create}. */
export interface NetTransportOptions {
  /** IP address to bind, e.g. `127.0.0.1` or `::1` (an IP literal, not a name). */
  host: string;
  /** Port for both TCP and UDP; 0 picks a free port for both. */
  port: number;
  /** Address peers should use to reach us (behind NAT); default: the bound `host:port`. */
  advertiseAddress?: string;
  /** Overrides of {@link DEFAULT_LIMITS}. */
  limits?: Partial<TransportLimits>;
  /** Overrides of {@link DEFAULT_INBOUND_LIMITS}: slots, deadlines and memory peers may use. */
  inbound?: Partial<InboundLimits>;
  /** Largest UDP payload in bytes; default 1400 (1..65507). */
  mtu?: number;
  /** Default dial timeout in ms; default 10 000. */
  dialTimeoutMs?: number;
  /** How long an inbound connection may take to send its hello, in ms; default 10 000. */
  helloTimeoutMs?: number;
  /** How long a clean close may wait for the peer's FIN before destroying, in ms; default 10 000. */
  closeTimeoutMs?: number;
  /** Logger; default silent. */
  logger?: Logger;
  /** Registry for the `cairn_transport_*` counters; default none. */
  metrics?: Metrics;
  /** Clock for timeouts; default the system clock. */
  clock?: Clock;
}

/**
 * The real transport: UDP packets and TCP streams on one port.
 *
 * Every TCP connection starts with a hello frame from the dialer carrying its advertised address;
 * after that, each frame is `u32be length || payload`. See `DESIGN.md` for the failure semantics.
 *
 * Connecting peers are bounded by {@link InboundLimits} (`options.inbound`): inbound connections
 * take at most their share of `maxStreams` and `maxStreamsPerHost` per source IP; an accepted
 * stream must send its first whole frame in time, then stay below `idleTimeoutMs` between frames;
 * every frame must complete in time once its header arrived; an accepted stream's frames are at
 * most `unprovenMaxFrameBytes` until a handler took its first; frames in flight share one budget.
 *
 * @example
 * ```ts
 * const t = await NetTransport.create({ host: '127.0.0.1', port: 0 });
 * t.onStream((s) => s.onFrame((f) => s.send(f))); // echo
 * const s = await other.dial(t.localAddress);
 * ```
 */
export class NetTransport implements Transport {
  readonly localAddress: Address;
  /** The address actually bound (differs from `localAddress` when an advertise address is set). */
  readonly boundAddress: Address;
  readonly mtu: number;
  readonly limits: TransportLimits;
  /** What connecting peers may spend: slots, deadlines, frame sizes and buffers. */
  readonly inbound: InboundLimits;
  /** Counters (also exported to `metrics` when given). */
  readonly stats = new TransportStats();
  private readonly server: Server;
  private readonly udp: UdpSocket;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly dialTimeoutMs: number;
  private readonly helloTimeoutMs: number;
  private readonly streamContext: NetStreamContext;
  private readonly helloFrame: Uint8Array;
  private readonly streams = new Set<NetStream>();
  private readonly handshaking = new Set<Socket>();
  private readonly dials = new Set<(err: Error) => void>();
  private readonly addressCache = new Map<string, HostPort>();
  /** Inbound connections (handshaking or open streams), in total and by source IP. */
  private inboundCount = 0;
  private readonly inboundByHost = new Map<string, number>();
  /** Bytes of buffers for frames still arriving, over every stream. */
  private partialBytes = 0;
  private readonly budget: FrameBudget = {
    take: (bytes) => {
      if (this.partialBytes + bytes > this.inbound.maxPartialFrameBytes) return false;
      this.partialBytes += bytes;
      return true;
    },
    give: (bytes) => {
      this.partialBytes -= bytes;
    },
  };
  private readonly rejects: RejectLog;
  private readonly sweepIntervalMs: number;
  private sweepTimer: TimerHandle | undefined;
  private packetHandler: PacketHandler | undefined;
  private streamHandler: StreamHandler | undefined;
  private closed = false;

  private constructor(options: NetTransportOptions, server: Server, udp: UdpSocket, port: number) {
    this.server = server;
    this.udp = udp;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger();
    this.limits = withLimits<Record<keyof TransportLimits, number>>(DEFAULT_LIMITS, options.limits);
    this.inbound = withLimits<Record<keyof InboundLimits, number>>(DEFAULT_INBOUND_LIMITS, options.inbound);
    this.rejects = new RejectLog(
      this.logger,
      this.clock,
      NET_DEFAULTS.rejectLogIntervalMs,
      'rejecting an inbound connection or stream',
    );
    const { firstFrameTimeoutMs, frameTimeoutMs, idleTimeoutMs } = this.inbound;
    this.sweepIntervalMs = Math.min(firstFrameTimeoutMs, frameTimeoutMs, idleTimeoutMs) / SWEEPS_PER_DEADLINE;
    this.mtu = options.mtu ?? NET_DEFAULTS.mtu;
    this.dialTimeoutMs = options.dialTimeoutMs ?? NET_DEFAULTS.dialTimeoutMs;
    this.helloTimeoutMs = options.helloTimeoutMs ?? NET_DEFAULTS.helloTimeoutMs;
    this.boundAddress = formatAddress(options.host, port);
    this.localAddress = options.advertiseAddress ?? this.boundAddress;
    this.helloFrame = encodeFrame(encodeHello(this.localAddress));
    this.streamContext = {
      limits: this.limits,
      clock: this.clock,
      logger: this.logger,
      stats: this.stats,
      closeTimeoutMs: options.closeTimeoutMs ?? NET_DEFAULTS.closeTimeoutMs,
      inbound: this.inbound,
      budget: this.budget,
      rejects: this.rejects,
      onClosed: (s) => {
        this.streams.delete(s);
        if (s.sourceHost !== undefined) this.releaseInbound(s.sourceHost);
      },
    };
    this.scheduleSweep();
    if (options.metrics !== undefined) this.stats.register(options.metrics, this.logger);
    server.on('connection', (socket) => this.accept(socket));
    server.on('error', (err) => this.logger.error({ err: describeError(err) }, 'TCP listener error'));
    udp.on('message', (msg, rinfo) => this.receivePacket(msg, formatAddress(rinfo.address, rinfo.port)));
    udp.on('error', (err) => this.logger.error({ err: describeError(err) }, 'UDP socket error'));
  }

  /**
   * Binds TCP and UDP on `host:port` and starts listening.
   *
   * With port 0, TCP binds an ephemeral port first and UDP then binds the same number; when that
   * UDP port is taken, both are released and the pair is tried again (up to 16 times).
   * Rejects with `INVALID_CONFIG` for bad options and `IO_ERROR` when the port cannot be bound.
   */
  static async create(options: NetTransportOptions): Promise<NetTransport> {
    validateOptions(options);
    const attempts = options.port === 0 ? NET_DEFAULTS.bindAttempts : 1;
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const server = createServer({ noDelay: true, pauseOnConnect: false });
      let port: number;
      try {
        port = await listen(server, options.host, options.port);
      } catch (err) {
        throw new CairnError(
          'IO_ERROR',
          `cannot listen on TCP ${formatAddress(options.host, options.port)}`,
          { cause: err },
        );
      }
      const udp = createSocket({ type: isIP(options.host) === 6 ? 'udp6' : 'udp4' });
      try {
        await bindUdp(udp, options.host, port);
        return new NetTransport(options, server, udp, port);
      } catch (err) {
        lastError = err;
        await new Promise<void>((resolve) => server.close(() => resolve()));
        udp.close();
      }
    }
    throw new CairnError(
      'IO_ERROR',
      `cannot bind UDP next to TCP on ${options.host} after ${attempts} attempt(s)`,
      {
        cause: lastError,
      },
    );
  }

  sendPacket(to: Address, data: Uint8Array): void {
    if (this.closed) throw new CairnError('TRANSPORT_CLOSED', 'transport is closed');
    if (data.length > this.mtu) {
      throw new CairnError(
        'TRANSPORT_PACKET_TOO_LARGE',
        `packet of ${data.length} bytes is over the MTU of ${this.mtu}`,
        {
          details: { length: data.length, mtu: this.mtu },
        },
      );
    }
    const target = this.resolve(to);
    this.stats.packetsSent++;
    this.stats.packetBytesSent += data.length;
    // A copy: the caller may reuse `data` once this returns (see Transport.sendPacket), and the
    // socket holds the array until the datagram is sent.
    const copy = slabBytes(data.length);
    copy.set(data);
    this.udp.send(copy, target.port, target.host, (err) => {
      if (err) this.stats.drop('packet_send_error');
    });
  }

  onPacket(handler: PacketHandler): void {
    this.packetHandler = handler;
  }

  onStream(handler: StreamHandler): void {
    this.streamHandler = handler;
  }

  dial(to: Address, options: DialOptions = {}): Promise<Stream> {
    if (this.closed) return Promise.reject(new CairnError('TRANSPORT_CLOSED', 'transport is closed'));
    let target: HostPort;
    try {
      target = this.resolve(to);
    } catch (err) {
      return Promise.reject(err);
    }
    if (options.signal?.aborted)
      return Promise.reject(new CairnError('CANCELLED', `dial to ${to} was cancelled`));
    if (this.openCount() >= this.limits.maxStreams) {
      this.stats.drop('dial_limit');
      return Promise.reject(
        new CairnError(
          'LIMIT_EXCEEDED',
          `cannot dial ${to}: ${this.openCount()} streams open, limit maxStreams=${this.limits.maxStreams}`,
        ),
      );
    }
    return new Promise<Stream>((resolve, reject) => {
      const socket = connect({ host: target.host, port: target.port, noDelay: true });
      const timeoutMs = options.timeoutMs ?? this.dialTimeoutMs;
      let done = false;
      const settle = (err: Error | undefined): void => {
        if (done) return;
        done = true;
        this.clock.cancel(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.dials.delete(settle);
        socket.removeListener('error', onError);
        if (err !== undefined) {
          socket.destroy();
          reject(err);
          return;
        }
        socket.write(this.helloFrame);
        const stream = new NetStream(socket, to, this.streamContext);
        this.streams.add(stream);
        resolve(stream);
      };
      const onAbort = () => settle(new CairnError('CANCELLED', `dial to ${to} was cancelled`));
      const onError = (err: Error) =>
        settle(
          new CairnError('TRANSPORT_UNREACHABLE', `cannot connect to ${to}: ${describeError(err)}`, {
            cause: err,
          }),
        );
      const timer = this.clock.setTimer(timeoutMs, () =>
        settle(new CairnError('TIMEOUT', `dial to ${to} timed out after ${timeoutMs} ms`)),
      );
      options.signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', onError);
      socket.once('connect', () => settle(undefined));
      this.dials.add(settle);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const dialErr = new CairnError('TRANSPORT_CLOSED', 'transport closed while dialing');
    for (const settle of [...this.dials]) settle(dialErr);
    if (this.sweepTimer !== undefined) this.clock.cancel(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const socket of [...this.handshaking]) socket.destroy();
    this.handshaking.clear();
    const closing = [...this.streams].map((s) => {
      s.close();
      return s.whenClosed();
    });
    await Promise.all(closing);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await new Promise<void>((resolve) => this.udp.close(() => resolve()));
    this.rejects.close();
  }

  /** Streams open plus connections handshaking, inbound only (tests and diagnostics). */
  get inboundStreams(): number {
    return this.inboundCount;
  }

  /** Bytes held in buffers of frames still arriving (tests and diagnostics). */
  get partialFrameBytes(): number {
    return this.partialBytes;
  }

  /** Checks every stream's deadlines, then comes back (see `NetStream.sweep`). */
  private scheduleSweep(): void {
    this.sweepTimer = this.clock.setTimer(this.sweepIntervalMs, () => {
      if (this.closed) return;
      const now = this.clock.now();
      for (const stream of [...this.streams]) stream.sweep(now);
      this.scheduleSweep();
    });
  }

  /** Why an inbound connection from `host` cannot have a slot now, or undefined when it can. */
  private refuseInbound(host: string): DropReason | undefined {
    if (this.closed) return 'closed';
    const inboundMax = Math.min(this.inbound.maxInboundStreams, this.limits.maxStreams);
    if (this.openCount() >= this.limits.maxStreams || this.inboundCount >= inboundMax) return 'max_streams';
    if ((this.inboundByHost.get(host) ?? 0) >= this.inbound.maxStreamsPerHost) return 'max_streams_per_host';
    return undefined;
  }

  private holdInbound(host: string): void {
    this.inboundCount++;
    this.inboundByHost.set(host, (this.inboundByHost.get(host) ?? 0) + 1);
  }

  private releaseInbound(host: string): void {
    this.inboundCount--;
    const left = (this.inboundByHost.get(host) ?? 1) - 1;
    if (left === 0) this.inboundByHost.delete(host);
    else this.inboundByHost.set(host, left);
  }

  /** Number of open streams plus connections still handshaking. */
  private openCount(): number {
    return this.streams.size + this.handshaking.size + this.dials.size;
  }

  private resolve(to: Address): HostPort {
    let target = this.addressCache.get(to);
    if (target === undefined) {
      target = parseAddress(to);
      // Bounded cache: cleared rather than evicted one by one, parsing is cheap to redo.
      if (this.addressCache.size >= 4096) this.addressCache.clear();
      this.addressCache.set(to, target);
    }
    return target;
  }

  private receivePacket(data: Buffer, from: Address): void {
    if (this.closed) return;
    if (data.length > this.mtu) {
      this.stats.drop('packet_too_large');
      return;
    }
    this.stats.packetsReceived++;
    this.stats.packetBytesReceived += data.length;
    const handler = this.packetHandler;
    if (handler === undefined) {
      this.stats.drop('no_handler');
      return;
    }
    try {
      handler(from, data);
    } catch (err) {
      this.stats.drop('handler_error');
      this.logger.error({ from, err: describeError(err) }, 'packet handler threw; packet dropped');
    }
  }

  /** An inbound connection: wait for its hello, then hand a stream to the handler. */
  private accept(socket: Socket): void {
    // Keyed by IP, not by the hello's address: the hello is a claim, the source address is not.
    const host = socket.remoteAddress ?? '';
    const refused = this.refuseInbound(host);
    if (refused !== undefined) {
      this.stats.drop(refused);
      if (refused !== 'closed') this.rejects.note(refused, { peer: `${host}:${socket.remotePort}` });
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    this.handshaking.add(socket);
    this.holdInbound(host);
    // Until cleanup hands the slot to the stream (or gives it back), this connection holds it.
    let holding = true;
    const decoder = new FrameDecoder(NET_DEFAULTS.maxHelloBytes, this.budget);
    const cut = (reason: 'bad_hello' | 'hello_timeout' | 'frame_too_large', detail: string) => {
      cleanup(false);
      this.stats.drop(reason);
      this.rejects.note(reason, { peer: `${host}:${socket.remotePort}`, detail });
      socket.destroy();
    };
    const onData = (chunk: Buffer) => {
      let hello: Uint8Array | undefined;
      let used: number;
      try {
        used = decoder.push(chunk, (frame) => {
          hello = frame;
          return false;
        });
      } catch (err) {
        cut('frame_too_large', describeError(err));
        return;
      }
      if (hello === undefined) return;
      const remote = decodeHello(hello);
      if (remote === undefined) {
        cut('bad_hello', 'hello frame is not a version-1 hello with a valid address');
        return;
      }
      cleanup(true);
      this.open(socket, remote, { decoder, sourceHost: host }, chunk.subarray(used));
    };
    const onGone = () => cleanup(false);
    const cleanup = (toStream: boolean) => {
      this.clock.cancel(timer);
      if (holding && !toStream) {
        this.releaseInbound(host);
        // A hello cut off half way gives its buffer back to the budget.
        decoder.release();
      }
      holding = false;
      this.handshaking.delete(socket);
      socket.removeListener('data', onData);
      socket.removeListener('error', onGone);
      socket.removeListener('close', onGone);
    };
    const timer = this.clock.setTimer(this.helloTimeoutMs, () =>
      cut('hello_timeout', `no hello within ${this.helloTimeoutMs} ms`),
    );
    socket.on('data', onData);
    socket.on('error', onGone);
    socket.on('close', onGone);
  }

  private open(socket: Socket, remote: Address, accepted: Accepted, rest: Uint8Array): void {
    const stream = new NetStream(socket, remote, this.streamContext, accepted);
    this.streams.add(stream);
    const handler = this.streamHandler;
    if (handler === undefined) {
      this.stats.drop('no_handler');
      stream.destroy(new CairnError('TRANSPORT_CLOSED', 'no stream handler is set'));
      return;
    }
    try {
      handler(stream);
    } catch (err) {
      this.stats.drop('handler_error');
      this.logger.error({ peer: remote, err: describeError(err) }, 'stream handler threw; destroying stream');
      stream.destroy(
        new CairnError('INTERNAL', `stream handler threw: ${describeError(err)}`, { cause: err }),
      );
      return;
    }
    stream.ingest(rest);
  }
}

function validateOptions(options: NetTransportOptions): void {
  if (isIP(options.host) === 0) {
    throw new CairnError('INVALID_CONFIG', `host must be an IP address, got "${options.host}"`);
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new CairnError('INVALID_CONFIG', `port must be an integer 0..65535, got ${options.port}`);
  }
  if (
    options.mtu !== undefined &&
    (!Number.isInteger(options.mtu) || options.mtu < 1 || options.mtu > 65507)
  ) {
    throw new CairnError('INVALID_CONFIG', `mtu must be an integer 1..65507, got ${options.mtu}`);
  }
  if (options.advertiseAddress !== undefined && tryParseAddress(options.advertiseAddress) === undefined) {
    throw new CairnError(
      'INVALID_CONFIG',
      `advertiseAddress "${options.advertiseAddress}" is not a host:port address`,
    );
  }
  for (const key of ['dialTimeoutMs', 'helloTimeoutMs', 'closeTimeoutMs'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      throw new CairnError(
        'INVALID_CONFIG',
        `${key} must be a positive number of milliseconds, got ${value}`,
      );
    }
  }
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.removeListener('error', reject);
      const addr = server.address();
      if (addr === null || typeof addr === 'string') reject(new Error('listener has no TCP address'));
      else resolve(addr.port);
    });
  });
}

function bindUdp(udp: UdpSocket, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    udp.once('error', reject);
    udp.bind({ address: host, port, exclusive: true }, () => {
      udp.removeListener('error', reject);
      resolve();
    });
  });
}
