import { Counter } from 'prom-client';
import type { Logger, Metrics } from '../core/index.js';

/** Why a transport dropped a packet, a frame or a connection. */
export type DropReason =
  | 'packet_too_large'
  | 'packet_send_error'
  | 'handler_error'
  | 'no_handler'
  | 'frame_too_large'
  | 'bad_hello'
  | 'hello_timeout'
  | 'max_streams'
  | 'max_streams_per_host'
  | 'dial_limit'
  | 'first_frame_timeout'
  | 'frame_timeout'
  | 'idle_timeout'
  | 'frame_budget'
  | 'decrypt_failed'
  | 'closed';

/** Every {@link DropReason}, for registering metric labels. */
export const DROP_REASONS: readonly DropReason[] = [
  'packet_too_large',
  'packet_send_error',
  'handler_error',
  'no_handler',
  'frame_too_large',
  'bad_hello',
  'hello_timeout',
  'max_streams',
  'max_streams_per_host',
  'dial_limit',
  'first_frame_timeout',
  'frame_timeout',
  'idle_timeout',
  'frame_budget',
  'decrypt_failed',
  'closed',
];

/**
 * Plain-number counters of one transport.
 *
 * The hot path increments fields of this object (one add, no label hashing); prom-client reads
 * them only when `/metrics` is scraped, through collect callbacks registered by {@link register}.
 * Tests read the fields directly.
 */
export class TransportStats {
  packetsSent = 0;
  packetsReceived = 0;
  packetBytesSent = 0;
  packetBytesReceived = 0;
  framesSent = 0;
  framesReceived = 0;
  frameBytesSent = 0;
  frameBytesReceived = 0;
  streamsOpened = 0;
  streamsClosed = 0;
  /** Drops by reason; every reason is present (0 until it happens). */
  readonly dropped: Record<DropReason, number> = Object.fromEntries(
    DROP_REASONS.map((r) => [r, 0]),
  ) as Record<DropReason, number>;

  /** Counts one drop. */
  drop(reason: DropReason, count = 1): void {
    this.dropped[reason] += count;
  }

  /**
   * Exposes these counters on a node's registry as `<prefix>_*_total`. When the names are taken
   * already (a second transport on one registry), logs a warning and does not register: a
   * registry cannot hold two series with one name and the same labels.
   *
   * @param metrics - the node's registry
   * @param prefix - metric name prefix; default `cairn_transport`
   */
  register(metrics: Metrics, logger: Logger, prefix = 'cairn_transport'): void {
    if (metrics.registry.getSingleMetric(`${prefix}_dropped_total`) !== undefined) {
      logger.warn({ prefix }, 'transport metrics already registered on this registry; not registering again');
      return;
    }
    const stats = this;
    const simple: Array<[string, string, () => number]> = [
      ['packets_sent_total', 'UDP packets sent', () => stats.packetsSent],
      [
        'packets_received_total',
        'UDP packets received and handed to the handler',
        () => stats.packetsReceived,
      ],
      ['packet_bytes_sent_total', 'UDP payload bytes sent', () => stats.packetBytesSent],
      ['packet_bytes_received_total', 'UDP payload bytes received', () => stats.packetBytesReceived],
      ['frames_sent_total', 'Stream frames queued for sending', () => stats.framesSent],
      ['frames_received_total', 'Stream frames received', () => stats.framesReceived],
      ['frame_bytes_sent_total', 'Stream frame payload bytes sent', () => stats.frameBytesSent],
      ['frame_bytes_received_total', 'Stream frame payload bytes received', () => stats.frameBytesReceived],
      ['streams_opened_total', 'Streams opened (inbound and outbound)', () => stats.streamsOpened],
      ['streams_closed_total', 'Streams closed', () => stats.streamsClosed],
    ];
    for (const [suffix, help, read] of simple) {
      new Counter({
        name: `${prefix}_${suffix}`,
        help,
        registers: [metrics.registry],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    }
    new Counter({
      name: `${prefix}_dropped_total`,
      help: 'Packets, frames or connections dropped, by reason',
      labelNames: ['reason'],
      registers: [metrics.registry],
      collect() {
        this.reset();
        for (const reason of DROP_REASONS) this.inc({ reason }, stats.dropped[reason]);
      },
    });
  }
}
