import {
  CairnError,
  type Clock,
  describeError,
  recycleBytes,
  type TimerHandle,
  takeBytes,
} from '../core/index.js';
import { TransportStats } from '../transport/stats.js';
import type {
  Address,
  DialOptions,
  PacketHandler,
  Stream,
  StreamHandler,
  Transport,
  TransportLimits,
} from '../transport/types.js';
import { EventKind, type EventSink, SimEvent } from './events.js';
import type { SimNetwork } from './network.js';
import { SimStreamEnd } from './stream.js';

/** @internal Construction parameters of a {@link SimTransport}. */
export interface SimTransportInit {
  readonly id: number;
  readonly address: Address;
  readonly host: string;
  readonly node: number;
  readonly inc: number;
  readonly clock: Clock;
  readonly mtu: number;
  readonly dialTimeoutMs: number;
  readonly limits: TransportLimits;
}

/** A dial in progress. */
class PendingDial {
  settled = false;
  timer: TimerHandle | undefined;
  onAbort: (() => void) | undefined;

  constructor(
    readonly to: Address,
    readonly resolve: (stream: Stream) => void,
    readonly reject: (err: Error) => void,
    readonly signal: AbortSignal | undefined,
  ) {}
}

/** What a connect event carries. */
interface ConnectRequest {
  readonly dial: PendingDial;
  readonly dialer: SimTransport;
}

/** What an established event carries. */
interface Established {
  readonly dial: PendingDial;
  readonly end: SimStreamEnd;
}

/**
 * A node's endpoint on the simulated network; implements the transport brick's `Transport`.
 *
 * Contract: as `Transport`. Sending a packet never throws for a network condition (an unbound
 * address, loss or a partition only count a drop); it throws `TRANSPORT_PACKET_TOO_LARGE` over the
 * MTU and `TRANSPORT_CLOSED` after `close()`. A dial is refused with `TRANSPORT_UNREACHABLE` when
 * nothing is bound at the address, times out with `TIMEOUT` when a partition swallows the
 * connection attempt, rejects with `CANCELLED` on abort. Connecting costs one latency each way.
 * A crashed transport (its node crashed) silently ignores its zombie callers.
 */
export class SimTransport implements Transport, EventSink {
  readonly localAddress: Address;
  readonly mtu: number;
  readonly limits: TransportLimits;
  /** Per-transport counters, in the transport brick's shape. */
  readonly stats = new TransportStats();
  /** @internal */
  readonly id: number;
  /** @internal Partition identity: `node:<name>` or `addr:<address>`. */
  readonly host: string;
  /** @internal Owning node index, or -1. */
  readonly node: number;
  /** @internal Owning node's incarnation. */
  readonly inc: number;
  /** @internal The owner's clock. */
  readonly clock: Clock;
  /** @internal Packets in flight towards this transport. */
  inFlight = 0;
  /** @internal Open stream ends of this transport. */
  readonly streams = new Set<SimStreamEnd>();
  private readonly dialTimeoutMs: number;
  private state: 'open' | 'closed' | 'crashed' = 'open';
  private packetHandler: PacketHandler | undefined;
  private streamHandler: StreamHandler | undefined;
  private readonly dials = new Set<PendingDial>();

  /** @internal Use `SimNetwork.transport` or a node context's `transport()`. */
  constructor(
    readonly network: SimNetwork,
    init: SimTransportInit,
  ) {
    this.id = init.id;
    this.localAddress = init.address;
    this.host = init.host;
    this.node = init.node;
    this.inc = init.inc;
    this.clock = init.clock;
    this.mtu = init.mtu;
    this.dialTimeoutMs = init.dialTimeoutMs;
    this.limits = init.limits;
  }

  /** True until closed or crashed. */
  get open(): boolean {
    return this.state === 'open';
  }

  // ---------------------------------------------------------------- packets

  sendPacket(to: Address, data: Uint8Array): void {
    const net = this.network;
    if (this.state !== 'open') {
      if (this.state === 'crashed') {
        net.stats.dropped.crashed++;
        return;
      }
      throw new CairnError('TRANSPORT_CLOSED', `transport ${this.localAddress} is closed`);
    }
    if (data.length > this.mtu) {
      this.stats.drop('packet_too_large');
      throw new CairnError(
        'TRANSPORT_PACKET_TOO_LARGE',
        `packet of ${data.length} bytes is over the MTU of ${this.mtu}`,
        {
          details: { length: data.length, mtu: this.mtu },
        },
      );
    }
    const stats = net.stats;
    stats.packetsSent++;
    stats.packetBytesSent += data.length;
    this.stats.packetsSent++;
    this.stats.packetBytesSent += data.length;
    const dst = net.lookup(to);
    if (dst === undefined) {
      stats.dropped.unbound++;
      return;
    }
    if (net.partitioned && net.blocked(this.host, dst.host)) {
      stats.dropped.partition++;
      return;
    }
    const faults = net.packetFaults(this.host, dst.host);
    if (faults.loss > 0 && net.rng.chance(faults.loss)) {
      stats.dropped.loss++;
      return;
    }
    const copies = faults.duplicate > 0 && net.rng.chance(faults.duplicate) ? 2 : 1;
    if (copies === 2) stats.packetsDuplicated++;
    const maxInFlight = net.sim.limits.maxInFlightPacketsPerTransport;
    for (let i = 0; i < copies; i++) {
      if (dst.inFlight >= maxInFlight) {
        stats.dropped.queue_full++;
        continue;
      }
      const ev = new SimEvent();
      ev.at = net.sim.now + net.latency(this.host, dst.host);
      ev.kind = EventKind.packet;
      ev.node = dst.node;
      ev.inc = dst.inc;
      ev.sink = dst;
      ev.from = this.id;
      ev.to = dst.id;
      // A copy (the sender may reuse its array), recycled once delivered (see deliverPacket).
      const copy = takeBytes(data.length);
      copy.set(data);
      ev.data = copy;
      ev.aux = this.localAddress;
      dst.inFlight++;
      net.sim.enqueue(ev);
    }
  }

  onPacket(handler: PacketHandler): void {
    this.packetHandler = handler;
  }

  // ---------------------------------------------------------------- streams

  dial(to: Address, options: DialOptions = {}): Promise<Stream> {
    if (this.state !== 'open') {
      return Promise.reject(new CairnError('TRANSPORT_CLOSED', `transport ${this.localAddress} is closed`));
    }
    const signal = options.signal;
    if (signal?.aborted)
      return Promise.reject(new CairnError('CANCELLED', `dial to ${to} was cancelled before it started`));
    if (this.streams.size + this.dials.size >= this.limits.maxStreams) {
      this.stats.drop('max_streams');
      return Promise.reject(
        new CairnError(
          'LIMIT_EXCEEDED',
          `transport ${this.localAddress} has ${this.streams.size} streams, maxStreams=${this.limits.maxStreams}`,
        ),
      );
    }
    return new Promise<Stream>((resolve, reject) => {
      const dial = new PendingDial(to, resolve, reject, signal);
      this.dials.add(dial);
      const timeoutMs = options.timeoutMs ?? this.dialTimeoutMs;
      dial.timer = this.clock.setTimer(timeoutMs, () => {
        dial.timer = undefined;
        this.network.stats.dialsTimedOut++;
        this.failDial(dial, new CairnError('TIMEOUT', `dial to ${to} timed out after ${timeoutMs} ms`));
      });
      if (signal !== undefined) {
        dial.onAbort = () => this.failDial(dial, new CairnError('CANCELLED', `dial to ${to} was cancelled`));
        signal.addEventListener('abort', dial.onAbort, { once: true });
      }
      this.sendConnect(dial);
    });
  }

  onStream(handler: StreamHandler): void {
    this.streamHandler = handler;
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closed';
    this.network.unbind(this);
    for (const dial of [...this.dials]) {
      this.failDial(
        dial,
        new CairnError('TRANSPORT_CLOSED', `transport ${this.localAddress} closed while dialing ${dial.to}`),
      );
    }
    for (const end of [...this.streams]) {
      end.destroy(new CairnError('TRANSPORT_CLOSED', `transport ${this.localAddress} was closed`));
    }
  }

  /** @internal The owner crashed: no handler of this transport runs again. */
  crash(): void {
    if (this.state === 'crashed') return;
    this.state = 'crashed';
    this.network.unbind(this);
    for (const dial of this.dials) {
      if (dial.timer !== undefined) this.clock.cancel(dial.timer);
      dial.settled = true;
    }
    this.dials.clear();
    for (const end of [...this.streams]) end.vanish();
    this.streams.clear();
  }

  /** @internal Breaks every open stream whose path is cut by a partition. */
  breakCutStreams(): void {
    for (const end of this.streams) end.breakIfCut();
  }

  // ---------------------------------------------------------------- events

  handle(ev: SimEvent): void {
    switch (ev.kind) {
      case EventKind.packet:
        this.deliverPacket(ev);
        return;
      case EventKind.connect:
        this.accept(ev.aux as ConnectRequest, ev);
        return;
      case EventKind.established:
        this.established(ev.aux as Established);
        return;
      case EventKind.refused: {
        const dial = ev.aux as PendingDial;
        this.network.stats.dialsRefused++;
        this.failDial(
          dial,
          new CairnError('TRANSPORT_UNREACHABLE', `nothing accepts connections at ${dial.to}`),
        );
        return;
      }
      default:
        throw new CairnError('INTERNAL', `transport got an event of kind ${ev.kind}`);
    }
  }

  discard(ev: SimEvent): void {
    if (ev.kind === EventKind.packet) {
      this.inFlight--;
      this.network.stats.dropped.crashed++;
    } else if (ev.kind === EventKind.established) {
      // The dialer crashed before the acceptance arrived: the listener's end is reset.
      (ev.aux as Established).end.vanish();
    }
  }

  describe(ev: SimEvent): string {
    const name = this.network.sim.nodeName(this.node);
    const at = ev.at.toFixed(3);
    switch (ev.kind) {
      case EventKind.packet:
        return `${at} packet ${String(ev.aux)} -> ${this.localAddress} (${name}) len=${ev.data?.length ?? 0}`;
      case EventKind.connect:
        return `${at} connect ${(ev.aux as ConnectRequest).dialer.localAddress} -> ${this.localAddress} (${name})`;
      case EventKind.established:
        return `${at} established ${this.localAddress} (${name}) -> ${(ev.aux as Established).dial.to}`;
      default:
        return `${at} refused ${this.localAddress} (${name}) -> ${(ev.aux as PendingDial).to}`;
    }
  }

  private deliverPacket(ev: SimEvent): void {
    this.inFlight--;
    const stats = this.network.stats;
    if (this.state !== 'open') {
      stats.dropped.closed++;
      return;
    }
    const handler = this.packetHandler;
    if (handler === undefined) {
      stats.dropped.no_handler++;
      this.stats.drop('no_handler');
      return;
    }
    const data = ev.data!;
    stats.packetsDelivered++;
    this.stats.packetsReceived++;
    this.stats.packetBytesReceived += data.length;
    try {
      handler(ev.aux as Address, data);
    } catch (err) {
      stats.dropped.handler_error++;
      this.stats.drop('handler_error');
      this.network.sim.logger.error(
        { address: this.localAddress, err: describeError(err) },
        'packet handler threw',
      );
    } finally {
      // The packet's bytes are the handler's for the call only (see PacketHandler): the copy made
      // at send is poisoned and reused, so a receiver that kept a view fails its tests.
      ev.data = null;
      recycleBytes(data);
    }
  }

  private sendConnect(dial: PendingDial): void {
    const net = this.network;
    const dst = net.lookup(dial.to);
    if (dst === undefined) {
      // Refused: the answer comes back after one round trip.
      const rtt = 2 * net.latency(this.host, `addr:${dial.to}`);
      this.post(EventKind.refused, this, net.sim.now + rtt, dial);
      return;
    }
    if (net.partitioned && (net.blocked(this.host, dst.host) || net.blocked(dst.host, this.host))) {
      net.stats.dropped.partition++;
      return; // the attempt is lost; the dial times out
    }
    const request: ConnectRequest = { dial, dialer: this };
    const ev = dst.post(EventKind.connect, dst, net.sim.now + net.latency(this.host, dst.host), request);
    ev.from = this.id;
    ev.to = dst.id;
  }

  /** Runs at the listener when a connection attempt arrives. */
  private accept(request: ConnectRequest, ev: SimEvent): void {
    const net = this.network;
    const dialer = request.dialer;
    const back = net.sim.now + net.latency(this.host, dialer.host);
    if (!dialer.open || request.dial.settled) return; // nobody waits for the answer
    if (net.partitioned && (net.blocked(this.host, dialer.host) || net.blocked(dialer.host, this.host))) {
      net.stats.dropped.partition++;
      return;
    }
    const handler = this.streamHandler;
    if (this.state !== 'open' || handler === undefined || this.streams.size >= this.limits.maxStreams) {
      if (this.streams.size >= this.limits.maxStreams) this.stats.drop('max_streams');
      dialer.post(EventKind.refused, dialer, back, request.dial);
      return;
    }
    const local = new SimStreamEnd(this, dialer.localAddress, back);
    const remote = new SimStreamEnd(dialer, this.localAddress, back);
    local.peer = remote;
    remote.peer = local;
    this.streams.add(local);
    this.stats.streamsOpened++;
    const established: Established = { dial: request.dial, end: remote };
    const reply = dialer.post(EventKind.established, dialer, back, established);
    reply.from = ev.to;
    reply.to = ev.from;
    try {
      handler(local);
    } catch (err) {
      this.stats.drop('handler_error');
      net.sim.logger.error({ address: this.localAddress, err: describeError(err) }, 'stream handler threw');
      local.destroy(
        new CairnError('INTERNAL', `stream handler threw: ${describeError(err)}`, { cause: err }),
      );
    }
  }

  /** Runs at the dialer when the listener's acceptance arrives. */
  private established(est: Established): void {
    const { dial, end } = est;
    if (dial.settled || this.state !== 'open') {
      end.destroy(new CairnError('TRANSPORT_CLOSED', `dial to ${dial.to} was abandoned`));
      return;
    }
    this.streams.add(end);
    this.stats.streamsOpened++;
    this.network.stats.streamsOpened++;
    this.settle(dial);
    dial.resolve(end);
  }

  private failDial(dial: PendingDial, err: Error): void {
    if (dial.settled) return;
    this.settle(dial);
    dial.reject(err);
  }

  private settle(dial: PendingDial): void {
    dial.settled = true;
    this.dials.delete(dial);
    if (dial.timer !== undefined) this.clock.cancel(dial.timer);
    dial.timer = undefined;
    if (dial.onAbort !== undefined) dial.signal?.removeEventListener('abort', dial.onAbort);
  }

  /** @internal Queues an event for `sink` owned by this transport's node. */
  post(kind: number, sink: EventSink, at: number, aux: unknown): SimEvent {
    const ev = new SimEvent();
    ev.at = at;
    ev.kind = kind;
    ev.node = this.node;
    ev.inc = this.inc;
    ev.sink = sink;
    ev.aux = aux;
    return this.network.sim.enqueue(ev);
  }
}
