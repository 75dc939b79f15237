/**
 * Linearizability checking: Wing and Gong's search with Lowe's optimizations (just-in-time
 * linearization, memoized (linearized set, state) pairs) and P-compositionality (one search per
 * partition), a history recorder, and a model of etcd's KV operations.
 *
 * @packageDocumentation
 */
export { type CheckOptions, type CheckResult, checkHistory, type Violation } from './check.js';
export { HistoryRecorder, type HistoryRecorderOptions, type Operation } from './history.js';
export {
  type KvCompare,
  type KvInput,
  type KvOutput,
  type KvState,
  kvModel,
  REVISION_UNKNOWN,
} from './kv-model.js';
export { DEFAULT_LIMITS, type LincheckLimits, lincheckLimits } from './limits.js';
export { type Model, UNKNOWN, type Unknown } from './model.js';
export { formatOperation, formatViolation } from './report.js';
