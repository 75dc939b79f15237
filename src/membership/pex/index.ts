/**
 * Peer sampling (PeX): the gossip-based peer sampling service of Jelasity, Voulgaris,
 * Guerraoui, Kermarrec and van Steen (ACM TOCS 2007), push-pull view exchange with healing (H)
 * and swapping (S). A pure core ({@link PexCore}), a driver over any Transport's packets
 * ({@link PexNode}), the wire messages, config presets and limits. See DESIGN.md.
 *
 * @packageDocumentation
 */
export {
  DEFAULT_PEX_CONFIG,
  lanPexConfig,
  type PeerSelection,
  type PexConfig,
  testPexConfig,
  validatePexConfig,
} from './config.js';
export {
  PexCore,
  type PexCoreOptions,
  type PexCounters,
  type PexEffects,
  type PexInput,
  type PexSend,
} from './core.js';
export { PexNode, type PexNodeCounters, type PexNodeOptions } from './driver.js';
export { DEFAULT_LIMITS, type PexLimits } from './limits.js';
export {
  decodePexMessage,
  descriptorWireBytes,
  encodePexMessage,
  isPexAddress,
  MAX_EXCHANGE_ID,
  MESSAGE_OVERHEAD_BYTES,
  type PexDescriptor,
  type PexMessage,
  type PexPull,
  type PexPush,
  pexMessageValidator,
} from './messages.js';
