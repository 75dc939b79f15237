/**
 * `cairn/kv`: the partitioned store.
 *
 * @packageDocumentation
 */
export * from './errors.js';
// kv-store: hybrid clock, ring, partitioner, ring adverts
export {
  DEFAULT_MAX_CLOCK_OFFSET_MS,
  HybridClock,
  type HybridClockOptions,
  isVersion,
  MAX_LOGICAL,
  nodeTag,
} from './hlc.js';
export { ADVERT_LIMITS, decodeRingAdvert, encodeRingAdvert, RING_STATE_PREFIX } from './ring/advert.js';
export {
  inTokenRange,
  isToken,
  isTokenRange,
  isWholeRing,
  MAX_TOKEN,
  MIN_TOKEN,
  RING_SIZE,
  rangeWidth,
  readToken,
  tokenBytes,
  tokenOf,
  writeToken,
} from './ring/partitioner.js';
export { RING_LIMITS, Ring, type RingLimits, randomTokens } from './ring/ring.js';
export * from './types.js';
