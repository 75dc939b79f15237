/**
 * `cairn/core`: the ground every brick stands on. Clock, Rng, assertions, typed errors, limits,
 * codec with validation, logs, metrics, bytes, hashes and the storage interface.
 *
 * @packageDocumentation
 */
export { assert, assertNever } from './assert.js';
export {
  bytesEqual,
  concatBytes,
  fromHex,
  fromUtf8,
  readU32BE,
  slabBytes,
  slabCopy,
  toHex,
  utf8,
} from './bytes.js';
export { CallSignal } from './call-signal.js';
export { type Clock, SystemClock, sleep, systemClock, type TimerHandle } from './clock.js';
export { decode, decodeUnchecked, encode, msgpackValueEnd, tryDecode } from './codec.js';
export { type DeadlineEntry, DeadlineQueue } from './deadline-queue.js';
export { type Deadlined, FifoDeadlines, type FifoDeadlinesOptions } from './deadlines.js';
export { type Deferred, deferred } from './deferred.js';
export {
  CairnError,
  type CairnErrorOptions,
  describeError,
  ERROR_CODES,
  type ErrorCode,
  isCairnError,
  isErrorCode,
} from './errors.js';
export { Fnv64, fnv1a32, sha256 } from './hash.js';
export { type CoreLimits, checkLimit, DEFAULT_LIMITS, withLimits } from './limits.js';
export { isLoaned, loanStats, POISON_BYTE, recycleBytes, takeBytes } from './loan.js';
export { createLogger, type Logger, type LoggerOptions, silentLogger } from './log.js';
export { ManualClock } from './manual-clock.js';
export { Metrics } from './metrics.js';
export { MinHeap } from './min-heap.js';
export {
  MSGPACK_ARRAY,
  MSGPACK_BIN,
  MSGPACK_MAP,
  type MsgpackHeaderCodes,
  msgpackHeaderBytes,
  writeMsgpackHeader,
} from './msgpack-header.js';
export { Rng, type Seed } from './rng.js';
export { type BatchOp, compareBytes, inRange, type KeyRange, type Storage } from './storage.js';
export { fail, type Infer, type ShapeType, type Validator, v } from './validate.js';
