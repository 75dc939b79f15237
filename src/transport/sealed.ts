import { Counter } from 'prom-client';
import type { Clock, Logger, Metrics } from '../core/index.js';
import { assert, CairnError, describeError, silentLogger, systemClock } from '../core/index.js';
import type { Keyring } from '../security/keyring.js';
import { NET_DEFAULTS } from './limits.js';
import { RejectLog } from './reject-log.js';
import type {
  Address,
  CloseHandler,
  DialOptions,
  PacketHandler,
  Stream,
  StreamHandler,
  Transport,
  TransportLimits,
} from './types.js';

/** Options for {@link sealTransport}. */
export interface SealOptions {
  /** Logger for dropped input; default silent. */
  logger?: Logger;
  /** Registry for `cairn_transport_sealed_dropped_total{channel}`; default none. */
  metrics?: Metrics;
  /** Times the interval of the rejected-frame log summary; default the system clock. */
  clock?: Clock;
  /** Called for every packet or frame that failed to open (tests and diagnostics). */
  onDrop?: (channel: 'packet' | 'frame', peer: Address) => void;
}

/** Counts of input a sealed transport refused. */
export interface SealedStats {
  /** Packets that did not open (wrong key or label, tampered, garbage). */
  packetsDropped: number;
  /** Frames that did not open; each one also destroyed its stream. */
  framesDropped: number;
}

/** A transport whose packets and frames are sealed with a keyring. */
export interface SealedTransport extends Transport {
  /** The transport underneath. */
  readonly inner: Transport;
  /** What was refused so far. */
  readonly stats: SealedStats;
}

/**
 * Wraps any transport so that every packet and every stream frame is sealed with `keyring`
 * (AES-256-GCM under the primary key, the cluster label as additional data).
 *
 * The wrapped transport's `mtu` and `limits.maxFrameBytes` are the inner ones minus the keyring's
 * overhead, so a caller that respects them never makes the inner transport reject a message.
 *
 * Contract: a packet that fails to open is dropped and counted (packets are lossy anyway). A frame
 * that fails to open destroys its stream with `DECRYPT_FAILED`: an ordered stream cannot skip a
 * frame. Everything else (ordering, close, backpressure) is the inner transport's. Stream-level
 * metadata (the hello of the net transport, `remoteAddress`) is not sealed.
 *
 * @param inner - the transport to wrap (net or simulated); the sealed transport takes over its handlers
 * @param keyring - the cluster's keyring; both ends need a common key and the same label
 * @param options - logger, metrics and a drop hook; all optional
 * @example
 * ```ts
 * const t = sealTransport(await NetTransport.create({ host: '127.0.0.1', port: 0 }), keyring);
 * ```
 */
export function sealTransport(
  inner: Transport,
  keyring: Keyring,
  options: SealOptions = {},
): SealedTransport {
  return new Sealed(inner, keyring, options);
}

class Sealed implements SealedTransport {
  readonly inner: Transport;
  readonly mtu: number;
  readonly limits: TransportLimits;
  readonly stats: SealedStats = { packetsDropped: 0, framesDropped: 0 };
  private readonly keyring: Keyring;
  private readonly logger: Logger;
  private readonly rejects: RejectLog;
  private readonly onDropHook: SealOptions['onDrop'];

  constructor(inner: Transport, keyring: Keyring, options: SealOptions) {
    this.inner = inner;
    this.keyring = keyring;
    this.logger = options.logger ?? silentLogger();
    this.rejects = new RejectLog(
      this.logger,
      options.clock ?? systemClock,
      NET_DEFAULTS.rejectLogIntervalMs,
      'a frame did not open; destroying the stream',
    );
    this.onDropHook = options.onDrop;
    // The overhead is measured rather than imported: AES-GCM preserves length, so sealing nothing
    // yields exactly the header and tag, whatever the keyring's format version.
    const overhead = keyring.seal(new Uint8Array(0), 'packet').length;
    assert(inner.mtu > overhead, `inner MTU ${inner.mtu} leaves no room for the ${overhead}-byte seal`);
    this.mtu = inner.mtu - overhead;
    this.limits = Object.freeze({ ...inner.limits, maxFrameBytes: inner.limits.maxFrameBytes - overhead });
    if (options.metrics !== undefined) registerMetrics(options.metrics, this.stats);
  }

  get localAddress(): Address {
    return this.inner.localAddress;
  }

  sendPacket(to: Address, data: Uint8Array): void {
    if (data.length > this.mtu) {
      throw new CairnError(
        'TRANSPORT_PACKET_TOO_LARGE',
        `packet of ${data.length} bytes is over the sealed MTU of ${this.mtu}`,
        {
          details: { length: data.length, mtu: this.mtu },
        },
      );
    }
    this.inner.sendPacket(to, this.keyring.seal(data, 'packet'));
  }

  onPacket(handler: PacketHandler): void {
    this.inner.onPacket((from, sealed) => {
      let plain: Uint8Array;
      try {
        plain = this.keyring.open(sealed, 'packet');
      } catch (err) {
        this.stats.packetsDropped++;
        this.logger.debug({ from, err: describeError(err) }, 'dropping a packet that does not open');
        this.onDropHook?.('packet', from);
        return;
      }
      handler(from, plain);
    });
  }

  async dial(to: Address, options?: DialOptions): Promise<Stream> {
    return this.wrap(await this.inner.dial(to, options));
  }

  onStream(handler: StreamHandler): void {
    this.inner.onStream((stream) => handler(this.wrap(stream)));
  }

  async close(): Promise<void> {
    await this.inner.close();
    this.rejects.close();
  }

  private wrap(stream: Stream): Stream {
    return new SealedStream(stream, this.keyring, this.limits.maxFrameBytes, (peer, err) => {
      this.stats.framesDropped++;
      this.rejects.note('decrypt_failed', { peer, err: describeError(err) });
      this.onDropHook?.('frame', peer);
    });
  }
}

class SealedStream implements Stream {
  constructor(
    private readonly inner: Stream,
    private readonly keyring: Keyring,
    private readonly maxFrameBytes: number,
    private readonly onReject: (peer: Address, err: unknown) => void,
  ) {}

  get remoteAddress(): Address {
    return this.inner.remoteAddress;
  }

  get open(): boolean {
    return this.inner.open;
  }

  get bufferedBytes(): number {
    return this.inner.bufferedBytes;
  }

  send(frame: Uint8Array): boolean {
    return this.inner.send(this.seal(frame));
  }

  write(frame: Uint8Array): Promise<void> {
    try {
      return this.inner.write(this.seal(frame));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.inner.onFrame((sealed) => {
      let plain: Uint8Array;
      try {
        plain = this.keyring.open(sealed, 'frame');
      } catch (err) {
        this.onReject(this.inner.remoteAddress, err);
        this.inner.destroy(
          new CairnError(
            'DECRYPT_FAILED',
            `a frame from ${this.inner.remoteAddress} did not open (wrong key or label, or tampered)`,
            {
              cause: err,
            },
          ),
        );
        return;
      }
      handler(plain);
    });
  }

  onDrain(handler: () => void): void {
    this.inner.onDrain(handler);
  }

  onClose(handler: CloseHandler): void {
    this.inner.onClose(handler);
  }

  close(): void {
    this.inner.close();
  }

  destroy(error?: Error): void {
    this.inner.destroy(error);
  }

  /** Checks state and size first, so errors name the caller's frame and not the sealed one. */
  private seal(frame: Uint8Array): Uint8Array {
    if (!this.inner.open)
      throw new CairnError('TRANSPORT_CLOSED', `stream to ${this.inner.remoteAddress} is closed`);
    if (frame.length > this.maxFrameBytes) {
      throw new CairnError(
        'TRANSPORT_FRAME_TOO_LARGE',
        `frame of ${frame.length} bytes is over the sealed maxFrameBytes=${this.maxFrameBytes}`,
        { details: { length: frame.length, max: this.maxFrameBytes } },
      );
    }
    return this.keyring.seal(frame, 'frame');
  }
}

function registerMetrics(metrics: Metrics, stats: SealedStats): void {
  const name = 'cairn_transport_sealed_dropped_total';
  if (metrics.registry.getSingleMetric(name) !== undefined) return;
  new Counter({
    name,
    help: 'Sealed packets and frames that did not open (wrong key or label, tampered, garbage)',
    labelNames: ['channel'],
    registers: [metrics.registry],
    collect() {
      this.reset();
      this.inc({ channel: 'packet' }, stats.packetsDropped);
      this.inc({ channel: 'frame' }, stats.framesDropped);
    },
  });
}
