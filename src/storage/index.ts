/**
 * `cairn/storage`: durable implementations of core's `Storage`. Today LevelDB through
 * `classic-level`, the state machine's storage under the consistent store.
 *
 * @packageDocumentation
 */
export { DEFAULT_LIMITS, type LevelLimits, LevelStorage, type LevelStorageOptions } from './level.js';
