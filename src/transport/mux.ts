import { CairnError, describeError, type Logger, silentLogger } from '../core/index.js';
import type {
  Address,
  DialOptions,
  PacketHandler,
  Stream,
  StreamHandler,
  Transport,
  TransportLimits,
} from './types.js';

/**
 * Several protocols on one transport.
 *
 * A node has one gossip address, and membership, peer sampling and the rpc channel all speak on
 * it; but a {@link Transport} has a single packet handler and a single stream handler.
 * {@link TransportMux} splits one transport into channels, each a full `Transport` of its own, so
 * every driver written against the interface runs on a channel unchanged.
 *
 * Wire format: every packet starts with its channel's one-byte protocol id; every stream starts with
 * one frame holding just that byte. Both are stripped before the channel sees them, so a channel's
 * `mtu` is the inner one minus one byte.
 *
 * Contract: a packet or stream for a protocol nobody opened is dropped and counted; so is an empty
 * packet. An inbound stream whose first frame is not one protocol byte is destroyed. Ordering,
 * close and backpressure are the inner transport's. Closing a channel detaches it (its streams are
 * closed, later packets for it are dropped); closing the mux closes the inner transport.
 */

/** Counts of input the mux refused. */
export interface MuxStats {
  /** Packets that were empty or named a protocol with no open channel. */
  packetsDropped: number;
  /** Inbound streams with a bad first frame, or for a protocol with no open channel. */
  streamsRefused: number;
}

/** Options for {@link TransportMux}. */
export interface MuxOptions {
  /** Logger for refused input; default silent. */
  logger?: Logger;
}

/** Splits one transport into channels by a one-byte protocol id. */
export class TransportMux {
  /** What was refused so far. */
  readonly stats: MuxStats = { packetsDropped: 0, streamsRefused: 0 };
  private readonly channels = new Map<number, MuxChannel>();
  private readonly logger: Logger;

  /**
   * @param inner - the transport to share; the mux takes over its packet and stream handlers
   * @param options - a logger for refused input
   * @example
   * ```ts
   * const mux = new TransportMux(await NetTransport.create({ host: '127.0.0.1', port: 7946 }));
   * const gossip = mux.channel(1);   // membership
   * const rpc = mux.channel(2);      // request/response
   * ```
   */
  constructor(
    readonly inner: Transport,
    options: MuxOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger();
    inner.onPacket((from, data) => this.routePacket(from, data));
    inner.onStream((stream) => this.routeStream(stream));
  }

  /**
   * Opens the channel for `protocol` (an integer 0-255, unique per mux).
   *
   * @throws CairnError `INVALID_ARGUMENT` for a bad id or one already open
   */
  channel(protocol: number): Transport {
    if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) {
      throw new CairnError('INVALID_ARGUMENT', `a mux protocol id is an integer 0-255, got ${protocol}`);
    }
    if (this.channels.has(protocol)) {
      throw new CairnError('INVALID_ARGUMENT', `mux protocol ${protocol} is already open`);
    }
    const channel = new MuxChannel(this.inner, protocol, () => this.channels.delete(protocol));
    this.channels.set(protocol, channel);
    return channel;
  }

  /** Closes every channel and the inner transport. Idempotent. */
  async close(): Promise<void> {
    for (const channel of [...this.channels.values()]) await channel.close();
    await this.inner.close();
  }

  private routePacket(from: Address, data: Uint8Array): void {
    const channel = data.length > 0 ? this.channels.get(data[0]!) : undefined;
    if (channel === undefined) {
      this.stats.packetsDropped++;
      return;
    }
    channel.deliverPacket(from, data.subarray(1));
  }

  private routeStream(stream: Stream): void {
    stream.onFrame((frame) => {
      const channel = frame.length === 1 ? this.channels.get(frame[0]!) : undefined;
      if (channel === undefined) {
        this.stats.streamsRefused++;
        this.logger.debug({ peer: stream.remoteAddress, bytes: frame.length }, 'mux refused a stream');
        stream.destroy(
          new CairnError(
            'INVALID_ARGUMENT',
            `stream from ${stream.remoteAddress} named no open mux protocol`,
          ),
        );
        return;
      }
      // From here on the channel's handler owns the stream: it replaces this one via onFrame.
      stream.onFrame(() => {});
      channel.deliverStream(stream);
    });
  }
}

/** Tracked streams below which closed ones are not pruned. */
const PRUNE_MIN = 4;

class MuxChannel implements Transport {
  readonly localAddress: Address;
  readonly mtu: number;
  readonly limits: TransportLimits;
  private packetHandler: PacketHandler | undefined;
  private streamHandler: StreamHandler | undefined;
  private readonly streams = new Set<Stream>();
  /** Size of {@link streams} at which closed streams are next pruned (see `track`). */
  private pruneAt = PRUNE_MIN;
  private closed = false;
  private readonly header: Uint8Array;
  /** The protocol byte and a packet, written and sent in one call (see sendPacket). */
  private readonly scratch: Uint8Array;

  constructor(
    private readonly inner: Transport,
    readonly protocol: number,
    private readonly detach: () => void,
  ) {
    this.localAddress = inner.localAddress;
    this.mtu = inner.mtu - 1;
    this.limits = inner.limits;
    this.header = Uint8Array.of(protocol);
    this.scratch = new Uint8Array(inner.mtu);
  }

  sendPacket(to: Address, data: Uint8Array): void {
    if (this.closed) throw new CairnError('TRANSPORT_CLOSED', `mux channel ${this.protocol} is closed`);
    if (data.length > this.mtu) {
      throw new CairnError(
        'TRANSPORT_PACKET_TOO_LARGE',
        `packet of ${data.length} bytes is over the mux channel's mtu of ${this.mtu}`,
      );
    }
    // Into one array reused for every packet: the inner transport keeps nothing of it once
    // `sendPacket` returns (see Transport.sendPacket), so no packet allocates here.
    const packet = this.scratch.subarray(0, data.length + 1);
    packet[0] = this.protocol;
    packet.set(data, 1);
    this.inner.sendPacket(to, packet);
  }

  onPacket(handler: PacketHandler): void {
    this.packetHandler = handler;
  }

  async dial(to: Address, options?: DialOptions): Promise<Stream> {
    if (this.closed) throw new CairnError('TRANSPORT_CLOSED', `mux channel ${this.protocol} is closed`);
    const stream = await this.inner.dial(to, options);
    stream.send(this.header);
    this.track(stream);
    return stream;
  }

  onStream(handler: StreamHandler): void {
    this.streamHandler = handler;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.detach();
    for (const stream of this.streams) stream.close();
    this.streams.clear();
  }

  deliverPacket(from: Address, data: Uint8Array): void {
    const handler = this.packetHandler;
    if (handler === undefined || this.closed) return;
    handler(from, data);
  }

  deliverStream(stream: Stream): void {
    const handler = this.streamHandler;
    if (handler === undefined || this.closed) {
      stream.destroy(new CairnError('TRANSPORT_CLOSED', `mux channel ${this.protocol} takes no streams`));
      return;
    }
    this.track(stream);
    try {
      handler(stream);
    } catch (err) {
      stream.destroy(
        new CairnError('INTERNAL', `stream handler threw: ${describeError(err)}`, { cause: err }),
      );
    }
  }

  private track(stream: Stream): void {
    this.streams.add(stream);
    // The stream's owner sets its own close handler; tracking must not take that slot, so closed
    // streams are pruned here, lazily. Pruning only at `maxStreams` kept up to 1,024 finished
    // streams per channel, each with its handlers and what they held (a push-pull's summary and
    // records: with the handlers now dropped on close too, 15% of the heap at 400 simulated nodes).
    // Pruning when the set has doubled since the last prune keeps at most twice the open streams
    // (or PRUNE_MIN), at a cost that is constant per tracked stream.
    if (this.streams.size >= this.pruneAt) {
      for (const s of this.streams) if (!s.open) this.streams.delete(s);
      this.pruneAt = Math.max(PRUNE_MIN, 2 * this.streams.size);
    }
  }

  /** Streams tracked (open, or closed and not yet pruned); for tests. */
  get trackedStreams(): number {
    return this.streams.size;
  }
}
