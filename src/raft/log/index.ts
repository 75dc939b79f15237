/**
 * The durable raft log: segment files of checksummed records with group commit
 * ({@link SegmentLogStore}), over a small file interface ({@link LogFiles}) with a real
 * implementation ({@link NodeLogFiles}) and a simulated one (`SimFiles` in `cairn/sim`).
 *
 * @packageDocumentation
 */
export { crc32c } from './crc32c.js';
export { FILE_NAME, type LogFile, type LogFiles } from './files.js';
export { DEFAULT_LIMITS as LOG_LIMITS, type LogLimits } from './limits.js';
export { NodeLogFiles } from './node-files.js';
export { SegmentLogStore, type SegmentLogStoreOptions } from './segment-log.js';
