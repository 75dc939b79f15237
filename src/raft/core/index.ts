/**
 * The pure Raft core: what the driver (`../node`) and the transcript tests use. The brick's public
 * surface is `src/raft/index.ts` (owned by the driver); this file gathers the core's exports.
 */

export {
  bootstrapState,
  decodeConfChange,
  encodeConfChange,
  MAX_CONF_CHANGE_CONTEXT_BYTES,
} from './conf-change.js';
export { DEFAULT_LIMITS, type RaftCoreConfig, type RaftCoreLimits } from './config.js';
export { type MessageFields, makeMessage } from './message.js';
export { checkMessage, type DropReason } from './message-check.js';
export type { ProgressState } from './progress.js';
export { type ProgressStatus, RaftCore, type RaftStats, type RaftStatus } from './raft-core.js';
