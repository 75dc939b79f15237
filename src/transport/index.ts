/**
 * `cairn/transport`: the Transport interface (unreliable packets and reliable framed streams),
 * the net implementation (UDP + TCP), keyring sealing for any transport, and a stream pool with
 * reconnect. The simulated implementation lives in `cairn/sim`.
 *
 * @packageDocumentation
 */
export {
  formatAddress,
  type HostPort,
  MAX_ADDRESS_LENGTH,
  parseAddress,
  tryParseAddress,
} from './address.js';
export {
  DEFAULT_INBOUND_LIMITS,
  DEFAULT_LIMITS,
  FRAME_COPY_MAX_BYTES,
  type InboundLimits,
  NET_DEFAULTS,
} from './limits.js';
export { type MuxOptions, type MuxStats, TransportMux } from './mux.js';
export { encodeFrame, FRAME_HEADER_BYTES, type FrameBudget, FrameDecoder } from './net/frame-decoder.js';
export { NetStream } from './net/net-stream.js';
export { NetTransport, type NetTransportOptions } from './net/net-transport.js';
export {
  POOL_LIMITS,
  type PoolGetOptions,
  type PoolLimits,
  StreamPool,
  type StreamPoolOptions,
} from './pool.js';
export { RejectLog } from './reject-log.js';
export { type SealedStats, type SealedTransport, type SealOptions, sealTransport } from './sealed.js';
export { DROP_REASONS, type DropReason, TransportStats } from './stats.js';
export type {
  Address,
  CloseHandler,
  DialOptions,
  PacketHandler,
  Stream,
  StreamHandler,
  Transport,
  TransportLimits,
} from './types.js';
